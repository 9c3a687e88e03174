//! One image's sequence under one kind, with the model's decision on every frame: the page's
//! perturbation view and `robustdx benchmark --image`. Frames are keyed as image 0 of a run with
//! the given seed, so the benchmark of a one-image data set records the same frames.

use burn::tensor::Device;

use super::{FlipProbability, FlipVariant, Perturbation, SequenceKey, model_frames};
use crate::data::{Image, images_to_tensor};
use crate::model::DiagnosticModel;
use crate::report::{ImageSequenceReport, SCHEMA_VERSION, SinglePrediction, ToolInfo};
use crate::robustness::decision;
use crate::{Error, Result, readback};

/// The frames of `image` under `kind` (as the model sees them) and what the model decides on
/// each. `backend`, `model_name` and `image_name` go into the record.
pub async fn image_sequence(
    model: &DiagnosticModel,
    image: Image,
    kind: &dyn Perturbation,
    frames: usize,
    seed: u64,
    device: &Device,
) -> Result<(Vec<Image>, ImageSequenceReport)> {
    if !(2..=super::MAX_FRAMES).contains(&frames) {
        return Err(Error::invalid(format!(
            "{frames} frames: a sequence has 2 to {} frames",
            super::MAX_FRAMES
        )));
    }
    let card = &model.card;
    let shown = model_frames(&card.input, image, kind, frames, SequenceKey::new(seed, 0));
    let refs: Vec<&Image> = shown.iter().collect();
    let probs = model.valid().probabilities(images_to_tensor(&refs, device));
    let classes = card.class_names.len().max(1);
    let probs: Vec<Vec<f32>> = readback::floats(probs)
        .await?
        .chunks(classes)
        .map(<[f32]>::to_vec)
        .collect();
    let decisions: Vec<_> = probs.iter().map(|p| decision(card.task, p)).collect();
    let fp = FlipProbability::new(kind.reference(), FlipVariant::Normalized);
    let report = ImageSequenceReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo::this(),
        backend: String::new(),
        model: String::new(),
        image: String::new(),
        perturbation: kind.name().into(),
        reference: kind.reference(),
        seed,
        class_names: card.class_names.clone(),
        flips: fp.changed_frames(&decisions),
        flip_probability: fp.sequence(&decisions),
        frames: probs
            .into_iter()
            .zip(&decisions)
            .map(|(probs, d)| SinglePrediction {
                label: d.describe(&card.class_names),
                probs,
            })
            .collect(),
    };
    Ok((shown, report))
}
