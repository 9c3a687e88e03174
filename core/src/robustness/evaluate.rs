//! Runs an attack over a data set and scores the result.

use burn::Tensor;
use burn::tensor::Device;

use super::RobustnessMetrics;
use super::outcome::{Decision, OutcomeCounts, decision};
use crate::attack::{Attack, AttackedModel, Goal};
use crate::data::{BatchLoader, Dataset, Image};
use crate::metrics::{self, Predictions};
use crate::model::DiagnosticModel;
use crate::task::rows;
use crate::train::check_compatible;
use crate::{Error, Label, Result};

/// One image before and after the attack, for reports.
#[derive(Debug, Clone)]
pub struct Example {
    pub index: usize,
    pub label: Label,
    pub clean: Image,
    pub adversarial: Image,
    pub clean_probs: Vec<f32>,
    pub adversarial_probs: Vec<f32>,
}

fn images(t: Tensor<4>) -> Result<Vec<Image>> {
    let dims = t.dims();
    let values: Vec<f32> = t
        .into_data()
        .try_to_vec()
        .map_err(|e| Error::invalid(format!("cannot read images: {e:?}")))?;
    Ok(crate::readback::split_images(&values, dims))
}

/// Each image's ‖δ‖∞ and ‖δ‖₂.
fn delta_norms(delta: Tensor<4>) -> Result<(Vec<f32>, Vec<f32>)> {
    let [b, _, _, _] = delta.dims();
    let flat: Tensor<2> = delta.reshape([b as i32, -1]);
    let read = |t: Tensor<2>| -> Result<Vec<f32>> {
        t.into_data()
            .try_to_vec()
            .map_err(|e| Error::invalid(format!("cannot read perturbations: {e:?}")))
    };
    let linf = read(flat.clone().abs().max_dim(1))?;
    let l2 = read(flat.powi_scalar(2).sum_dim(1).sqrt())?;
    Ok((linf, l2))
}

/// Attacks every image of `data` (in order, `batch_size` at a time) and scores the adversarial
/// predictions. Keeps the first `keep_examples` images for reports. `on_batch(done, total)`
/// reports progress.
pub fn evaluate_attack(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    attack: &dyn Attack,
    batch_size: usize,
    keep_examples: usize,
    device: &Device,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<(RobustnessMetrics, Vec<Example>)> {
    check_compatible(model, data)?;
    let attacked = AttackedModel::new(model, device);
    let card = &model.card;
    let (task, classes) = (card.task, card.num_classes());
    let mut probs = Vec::with_capacity(data.len());
    let mut labels = Vec::with_capacity(data.len());
    let mut counts = OutcomeCounts::default();
    let (mut linf, mut l2) = (0.0f64, 0.0f64);
    let mut examples = Vec::new();
    for samples in BatchLoader::new(data, batch_size, &card.input, None) {
        let samples = samples?;
        let refs: Vec<&Image> = samples.iter().map(|s| &s.image).collect();
        let clean = crate::data::images_to_tensor(&refs, device);
        let batch_labels: Vec<Label> = samples.iter().map(|s| s.label.clone()).collect();
        let clean_logits = attacked.logits(clean.clone());
        let adversarial = attack.perturb(&attacked, clean.clone(), &batch_labels)?;
        let adversarial_logits = attacked.logits(adversarial.clone());

        let targets = match attack.goal() {
            Goal::Untargeted => None,
            goal => Some(rows(goal.targets(
                &batch_labels,
                task,
                classes,
                Some(clean_logits.clone()),
                device,
            )?)?),
        };
        let (linf_b, l2_b) = delta_norms(adversarial.clone() - clean.clone())?;
        linf += linf_b.iter().map(|&v| v as f64).sum::<f64>();
        l2 += l2_b.iter().map(|&v| v as f64).sum::<f64>();

        let clean_probs = rows(crate::task::probabilities(task, clean_logits))?;
        let adversarial_probs = rows(crate::task::probabilities(task, adversarial_logits))?;
        for (i, label) in batch_labels.iter().enumerate() {
            let target = targets.as_ref().map(|t| match task.is_multi_label() {
                true => Decision::Findings(t[i].iter().map(|&v| v > 0.5).collect()),
                false => Decision::Class(crate::metrics::argmax(&t[i])),
            });
            counts.add(
                &decision(task, &clean_probs[i]),
                &decision(task, &adversarial_probs[i]),
                label,
                target.as_ref(),
            );
        }
        if examples.len() < keep_examples {
            let take = (keep_examples - examples.len()).min(samples.len());
            let (clean_images, adversarial_images) = (images(clean)?, images(adversarial)?);
            for i in 0..take {
                examples.push(Example {
                    index: labels.len() + i,
                    label: batch_labels[i].clone(),
                    clean: clean_images[i].clone(),
                    adversarial: adversarial_images[i].clone(),
                    clean_probs: clean_probs[i].clone(),
                    adversarial_probs: adversarial_probs[i].clone(),
                });
            }
        }
        probs.extend(adversarial_probs);
        labels.extend(batch_labels);
        on_batch(labels.len(), data.len());
    }
    let n = labels.len().max(1) as f64;
    let adversarial = metrics::evaluate(&Predictions {
        task,
        class_names: card.class_names.clone(),
        probs,
        labels,
    })?;
    let metrics = RobustnessMetrics {
        adversarial,
        fooling_rate: counts.fooling_rate(),
        success_rate: counts.success_rate(attack.goal()),
        mean_linf: linf / n,
        mean_l2: l2 / n,
    };
    Ok((metrics, examples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::ProjectedGradientDescent;
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::test_support::{cpu, rng_lock};
    use crate::train::predict;

    /// At ε = 0 the "attack" is the clean model: the same scores, nothing fooled, δ = 0 — on
    /// every task kind. At ε > 0, δ stays within budget and the scores are still well formed.
    #[test]
    fn clean_budget_reproduces_clean_scores_on_every_task_kind() {
        let device = cpu();
        for kind in SyntheticKind::ALL {
            let config = SyntheticConfig {
                n: 4,
                test: 12,
                size: 32,
                seed: 3,
            };
            let splits = synthetic::open(kind, &config);
            let test = splits.test.as_ref();
            let model = {
                let _rng = rng_lock();
                device.seed(1);
                DiagnosticModel::create("small-cnn", test.info(), 32, Some(4), &device).unwrap()
            };
            let clean =
                metrics::evaluate(&predict(&model, test, 5, &device, &mut |_, _| {}).unwrap())
                    .unwrap();
            let none = ProjectedGradientDescent::linf(0.0, 3);
            let (at_zero, examples) =
                evaluate_attack(&model, test, &none, 5, 2, &device, &mut |_, _| {}).unwrap();
            assert_eq!(at_zero.adversarial, clean, "{}", kind.name());
            assert_eq!(
                (at_zero.fooling_rate, at_zero.mean_linf, at_zero.mean_l2),
                (0.0, 0.0, 0.0)
            );
            assert_eq!(examples.len(), 2);

            let _rng = rng_lock();
            let eps = 8.0 / 255.0;
            let pgd = ProjectedGradientDescent::linf(eps, 3);
            let (attacked, _) =
                evaluate_attack(&model, test, &pgd, 5, 0, &device, &mut |_, _| {}).unwrap();
            assert!(attacked.mean_linf <= eps as f64 + 1e-6, "{}", kind.name());
            assert!(attacked.mean_linf > 0.0);
            assert!((0.0..=1.0).contains(&attacked.fooling_rate));
            assert_eq!(attacked.adversarial.samples, 12);
        }
    }
}
