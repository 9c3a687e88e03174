//! Runs an attack over a data set and scores the result.

use burn::Tensor;
use burn::tensor::Device;

use std::ops::Range;

use super::RobustnessMetrics;
use super::outcome::decision;
use super::record::{ImageRecord, summarize};
use crate::attack::{Attack, AttackedModel, Goal, SampleKeys};
use crate::data::{BatchLoader, Dataset, Image};
use crate::model::DiagnosticModel;
use crate::task::rows;
use crate::train::check_compatible;
use crate::{Error, Label, Result};

/// One image before and after the attack, for reports.
#[derive(Debug, Clone)]
pub struct Example {
    /// Position in the evaluated split.
    pub index: usize,
    /// Its ground truth.
    pub label: Label,
    /// The image as the model saw it (its channels and size).
    pub clean: Image,
    /// The attacked image, pixels in [0, 1].
    pub adversarial: Image,
    /// The model's probabilities on the clean image.
    pub clean_probs: Vec<f32>,
    /// The model's probabilities on the attacked image.
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

/// What one attack did over (part of) a split.
#[derive(Debug, Clone)]
pub struct AttackEvaluation {
    /// The scores, computed from `records`.
    pub metrics: RobustnessMetrics,
    /// One per image, in index order.
    pub records: Vec<ImageRecord>,
    /// The first few images, for reports.
    pub examples: Vec<Example>,
}

/// Attacks the images `range` of `data` (in order, `batch_size` at a time; every image's random
/// draws keyed by `seed` and its index, so batches and shards do not change them), records what
/// happened to each, and scores the records. Keeps the first `keep_examples` images for
/// reports. `on_batch(done, total)` reports progress.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_attack(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    range: Range<usize>,
    attack: &dyn Attack,
    seed: u64,
    batch_size: usize,
    keep_examples: usize,
    device: &Device,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<AttackEvaluation> {
    check_compatible(model, data)?;
    let attacked = AttackedModel::new(model, device);
    let card = &model.card;
    let (task, classes) = (card.task, card.num_classes());
    let range = range.start.min(data.len())..range.end.min(data.len());
    let total = range.len();
    let mut records: Vec<ImageRecord> = Vec::with_capacity(total);
    let mut examples = Vec::new();
    let mut next = range.start;
    for samples in BatchLoader::new(data, batch_size, &card.input, None).only(range) {
        let samples = samples?;
        let indices: Vec<usize> = (next..next + samples.len()).collect();
        next += samples.len();
        let refs: Vec<&Image> = samples.iter().map(|s| &s.image).collect();
        let clean = crate::data::images_to_tensor(&refs, device);
        let batch_labels: Vec<Label> = samples.iter().map(|s| s.label.clone()).collect();
        let keys = SampleKeys::new(seed, indices.iter().map(|&i| i as u64).collect());
        let clean_logits = attacked.logits(clean.clone());
        let perturbed = attack.perturb_detailed(&attacked, clean.clone(), &batch_labels, &keys)?;
        let adversarial = perturbed.images;
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
        let (linf, l2) = delta_norms(adversarial.clone() - clean.clone())?;
        let clean_probs = rows(crate::task::probabilities(task, clean_logits))?;
        let adversarial_probs = rows(crate::task::probabilities(task, adversarial_logits))?;
        if examples.len() < keep_examples {
            let take = (keep_examples - examples.len()).min(samples.len());
            let (clean_images, adversarial_images) = (images(clean)?, images(adversarial)?);
            for i in 0..take {
                examples.push(Example {
                    index: indices[i],
                    label: batch_labels[i].clone(),
                    clean: clean_images[i].clone(),
                    adversarial: adversarial_images[i].clone(),
                    clean_probs: clean_probs[i].clone(),
                    adversarial_probs: adversarial_probs[i].clone(),
                });
            }
        }
        for (i, label) in batch_labels.into_iter().enumerate() {
            let target = targets.as_ref().map(|t| match task.is_multi_label() {
                true => Label::Findings(t[i].iter().map(|&v| v > 0.5).collect()),
                false => Label::Class(crate::metrics::argmax(&t[i])),
            });
            records.push(ImageRecord {
                index: indices[i],
                id: data.id(indices[i]),
                label,
                fooled: decision(task, &clean_probs[i]) != decision(task, &adversarial_probs[i]),
                clean_probs: clean_probs[i].clone(),
                adversarial_probs: adversarial_probs[i].clone(),
                target,
                linf: linf[i],
                l2: l2[i],
                broken_by: perturbed.broken_by.as_ref().and_then(|b| b[i].clone()),
                queries: perturbed.queries.as_ref().map(|q| q[i]),
            });
        }
        on_batch(records.len(), total);
    }
    let members = attack.members();
    let metrics = summarize(task, &card.class_names, attack.goal(), &members, &records)?;
    Ok(AttackEvaluation {
        metrics,
        records,
        examples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::{AutoProjectedGradientDescent, ProjectedGradientDescent};
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::metrics;
    use crate::test_support::{cpu, rng_lock, seeded_small_cnn};
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
            let model = seeded_small_cnn(test.info(), 32, 4, 1);
            let clean =
                metrics::evaluate(&predict(&model, test, 5, &device, &mut |_, _| {}).unwrap())
                    .unwrap();
            let none = ProjectedGradientDescent::linf(0.0, 3);
            let all = 0..test.len();
            let run = evaluate_attack(
                &model,
                test,
                all.clone(),
                &none,
                0,
                5,
                2,
                &device,
                &mut |_, _| {},
            )
            .unwrap();
            let (at_zero, examples) = (run.metrics, run.examples);
            assert_eq!(at_zero.adversarial, clean, "{}", kind.name());
            assert_eq!(
                (at_zero.fooling_rate, at_zero.mean_linf, at_zero.mean_l2),
                (0.0, 0.0, 0.0)
            );
            assert_eq!(examples.len(), 2);

            let _rng = rng_lock();
            let eps = 8.0 / 255.0;
            let pgd = ProjectedGradientDescent::linf(eps, 3);
            let attacked =
                evaluate_attack(&model, test, all, &pgd, 0, 5, 0, &device, &mut |_, _| {})
                    .unwrap()
                    .metrics;
            assert!(attacked.mean_linf <= eps as f64 + 1e-6, "{}", kind.name());
            assert!(attacked.mean_linf > 0.0);
            assert!((0.0..=1.0).contains(&attacked.fooling_rate));
            assert_eq!(attacked.adversarial.samples, 12);
        }
    }

    fn small_model(kind: SyntheticKind) -> (DiagnosticModel, std::sync::Arc<dyn Dataset>) {
        let config = SyntheticConfig {
            n: 4,
            test: 23,
            size: 32,
            seed: 9,
        };
        let splits = synthetic::open(kind, &config);
        let model = seeded_small_cnn(splits.test.info(), 32, 4, 2);
        (model, splits.test)
    }

    /// PGD with a random start: batches of 1, 7 and 32, and three shards, give every image the
    /// same record, bit for bit (the draws are keyed by seed and image).
    #[test]
    fn records_do_not_depend_on_batch_size_or_shard() {
        let device = cpu();
        let (model, test) = small_model(SyntheticKind::Derm);
        let test = test.as_ref();
        let pgd = ProjectedGradientDescent::linf(8.0 / 255.0, 3);
        let run = |range: Range<usize>, batch: usize| {
            evaluate_attack(
                &model,
                test,
                range,
                &pgd,
                11,
                batch,
                0,
                &device,
                &mut |_, _| {},
            )
            .unwrap()
        };
        let whole = run(0..test.len(), 32);
        assert_eq!(whole.records.len(), 23);
        assert!(whole.records.iter().any(|r| r.linf > 0.0));
        for batch in [1, 7] {
            assert_eq!(
                run(0..test.len(), batch).records,
                whole.records,
                "batch {batch}"
            );
        }
        let mut sharded = vec![];
        for index in 0..3 {
            let shard = super::super::Shard { index, count: 3 };
            sharded.extend(run(shard.range(test.len()), 5).records);
        }
        assert_eq!(sharded, whole.records);
        let other_seed = evaluate_attack(
            &model,
            test,
            0..test.len(),
            &pgd,
            12,
            32,
            0,
            &device,
            &mut |_, _| {},
        )
        .unwrap();
        assert_ne!(
            other_seed.records, whole.records,
            "the seed keys the random start"
        );
        // The metrics are the records' summary.
        let again = summarize(
            model.card.task,
            &model.card.class_names,
            Goal::Untargeted,
            &[],
            &whole.records,
        )
        .unwrap();
        assert_eq!(again, whole.metrics);
    }

    /// APGD (CE for single-label, BCE for multi-label) on every task kind stays in its budget
    /// and does not leave the model more accurate than it was.
    #[test]
    fn apgd_runs_on_every_task_kind() {
        let device = cpu();
        for kind in SyntheticKind::ALL {
            let (model, test) = small_model(kind);
            let test = test.as_ref();
            let eps = 8.0 / 255.0;
            let apgd = AutoProjectedGradientDescent::linf(eps, 8);
            let run = evaluate_attack(
                &model,
                test,
                0..test.len(),
                &apgd,
                0,
                8,
                0,
                &device,
                &mut |_, _| {},
            )
            .unwrap();
            let clean =
                metrics::evaluate(&predict(&model, test, 8, &device, &mut |_, _| {}).unwrap())
                    .unwrap();
            assert!(
                run.records.iter().all(|r| r.linf <= eps + 1e-6),
                "{}",
                kind.name()
            );
            assert!(
                run.metrics.adversarial.accuracy <= clean.accuracy,
                "{}",
                kind.name()
            );
        }
    }
}
