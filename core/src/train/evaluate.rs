use burn::tensor::Device;

use crate::data::{BatchLoader, Dataset, batch_targets};
use crate::metrics::Predictions;
use crate::model::DiagnosticModel;
use crate::{Error, Result};

/// Runs `model` over every sample of `data` (in index order) and collects its probabilities.
/// `on_batch(done, total)` reports progress in samples.
pub fn predict(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    batch_size: usize,
    device: &Device,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<Predictions> {
    check_compatible(model, data)?;
    let card = &model.card;
    let mut probs = Vec::with_capacity(data.len());
    let mut labels = Vec::with_capacity(data.len());
    for samples in BatchLoader::new(data, batch_size, &card.input, None) {
        let batch = batch_targets(samples?, card.task, card.num_classes(), device)?;
        probs.extend(crate::task::rows(model.probabilities(batch.images))?);
        labels.extend(batch.labels);
        on_batch(labels.len(), data.len());
    }
    Ok(Predictions {
        task: card.task,
        class_names: card.class_names.clone(),
        probs,
        labels,
    })
}

/// A model can only be evaluated (or trained further) on data of its own task and classes, in
/// the same order: a head made for other classes would be scored or trained on the wrong targets.
pub fn check_compatible(model: &DiagnosticModel, data: &dyn Dataset) -> Result<()> {
    let (card, info) = (&model.card, data.info());
    if card.task != info.task || card.class_names != info.class_names {
        return Err(Error::invalid(format!(
            "the model predicts {} classes {} but {} holds {} classes {}",
            card.task,
            card.class_names.join(", "),
            info.name,
            info.task,
            info.class_names.join(", ")
        )));
    }
    if data.is_empty() {
        return Err(Error::EmptySplit {
            source_name: info.name.clone(),
            split: "evaluated".into(),
        });
    }
    Ok(())
}
