//! APGD-T (Croce & Hein, ICML 2020; fra31/auto-attack `APGDAttack_targeted`, torchattacks
//! `APGDT`): APGD climbing the targeted DLR score towards one wrong class at a time — the
//! runner-up of the clean logits first, then the third, up to `target_classes` of them — each
//! run on the images no earlier target broke. Aiming at a class finds fooling points an
//! untargeted loss walks past, which is why AutoAttack's standard suite runs it second. The goal
//! is still untargeted from the user's view: any wrong decision counts.
//!
//! Where the reference stops: a binary model has one other class, which is the one target (the
//! score falls back to the logit margin); a model with fewer than `target_classes + 1` classes
//! gets all of its other classes, never an error; a multi-label model's targets are findings to
//! flip, the ones the model is least sure of (smallest |logit|) first, as AutoAttack takes the
//! most likely wrong classes first. Golden test: `tests/fixtures/attacks/make_apgdt_golden.py`.

use burn::Tensor;
use burn::tensor::{Bool, Int, TensorData};
use serde::{Deserialize, Serialize};

use super::apgd::{ApgdLoss, AutoProjectedGradientDescent};
use super::budget::where_images;
use super::registry::{AttackEntry, AttackInfo};
use super::{Attack, AttackedModel, Budget, Goal, Objective, SampleKeys, Stream};
use crate::registry::canonical_settings;
use crate::{Error, Label, Result, TaskKind};

/// APGD-T, ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ApgdTargeted {
    /// The threat model (pixel space, as APGD).
    pub budget: Budget,
    /// N, the iterations of each run.
    pub steps: usize,
    /// Runs per target, each from its own random start.
    pub restarts: usize,
    /// How many targets at most (AutoAttack: 9); fewer where the model has fewer other classes.
    pub target_classes: usize,
}

/// APGD-T's own settings in an [`AttackSpec`](super::AttackSpec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApgdTargetedSettings {
    /// N, the iterations of each run (100 in AutoAttack).
    pub steps: usize,
    /// Runs per target from different random starts (1 in AutoAttack).
    pub restarts: usize,
    /// Targets at most: the runner-up classes (or findings) aimed at in turn (9 in AutoAttack).
    pub target_classes: usize,
}

impl Default for ApgdTargetedSettings {
    fn default() -> Self {
        Self {
            steps: 100,
            restarts: 1,
            target_classes: 9,
        }
    }
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "apgd-t",
        about: "APGD-T: APGD on the targeted DLR loss towards each runner-up class in turn, on the images still standing (Croce & Hein 2020); min(target_classes, classes − 1) targets, so binary models get the one other class (logit margin), multi-label ones the findings nearest to flipping",
        fixed_goal: None,
        revision: 0,
        stepwise: false,
        targeted: false,
        gradient_free: false,
        randomised: true,
        needs_generator: false,
        dominates: None,
        on_page: true,
        canonical: canonical_settings::<ApgdTargetedSettings>,
    },
    build: |spec, _| {
        if spec.goal != Goal::Untargeted {
            return Err(Error::invalid(
                "APGD-T picks its own targets (the runner-up classes); for a chosen class use pgd \
                 with --target",
            ));
        }
        let s: ApgdTargetedSettings = spec.settings_as()?;
        let attack = ApgdTargeted {
            budget: spec.budget(),
            steps: s.steps,
            restarts: s.restarts,
            target_classes: s.target_classes,
        };
        attack.validate()?;
        Ok(Box::new(attack))
    },
};

/// The first random-start stream of APGD-T: the run at target `t`, restart `r` draws from
/// `(TARGET_STREAMS + t) << 32 | r`, clear of APGD's own streams (its restart numbers).
const TARGET_STREAMS: Stream = 1000;

/// Whether each run drops the images an earlier run broke, as the reference does (a read of
/// the `[batch]` fooled flags before each run). WebGPU allows no blocking read, so in the
/// browser every run covers the whole batch and keeps its results for the images still
/// standing: the same numbers (each image's run is its own), more work.
const DROP_BROKEN: bool = !cfg!(target_arch = "wasm32");

/// What APGD-T found, per image.
#[derive(Debug, Clone)]
pub struct ApgdTargetedOutcome {
    /// The first fooling point found; where none was, the highest-score point of the runs
    /// towards the first target (the clean image where the model was already wrong).
    pub adversarial: Tensor<4>,
    /// Whether the model gets the image wrong at `adversarial` (already at the clean image, or
    /// at a run's fooling point).
    pub fooled: Tensor<1, Bool>,
    /// Which target's run broke the image, as a place in the order of
    /// [`target_order`](ApgdTargeted::target_order) (0: the runner-up class, the reference's
    /// rank 2); −1 where no run did.
    pub broken_at_target: Tensor<1, Int>,
}

impl ApgdTargeted {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// L∞ APGD-T at `eps` (pixel units) over `steps` iterations, one run per target, nine
    /// targets at most.
    pub fn linf(eps: f32, steps: usize) -> Self {
        Self {
            budget: Budget::linf(eps),
            steps,
            restarts: 1,
            target_classes: 9,
        }
    }

    /// APGD's checks (pixel space, steps within the cap), and at least one run and one target.
    pub fn validate(&self) -> Result<()> {
        self.apgd().validate()?;
        if self.restarts == 0 || self.target_classes == 0 {
            return Err(Error::invalid(
                "APGD-T needs at least 1 restart and 1 target class",
            ));
        }
        Ok(())
    }

    /// The single APGD run each target gets.
    fn apgd(&self) -> AutoProjectedGradientDescent {
        AutoProjectedGradientDescent {
            budget: self.budget,
            steps: self.steps,
            restarts: 1,
            loss: ApgdLoss::Dlr,
            eot: 1,
        }
    }

    /// How many targets a model of `task` with `classes` outputs gets: `target_classes`, at most
    /// every other class (single-label) or every finding (multi-label).
    pub fn target_count(&self, task: TaskKind, classes: usize) -> usize {
        let available = if task.is_multi_label() {
            classes
        } else {
            classes.saturating_sub(1)
        };
        self.target_classes.min(available)
    }

    /// `[batch, count]`: the targets of each image, in the order they are aimed at. Single-label:
    /// the classes by clean logit from the second highest down (the reference's
    /// `sort(logits)[:, -r]`, r = 2, 3, …). Multi-label: the findings by |logit| from the
    /// smallest up, the flips the model finds most likely first.
    pub fn target_order(task: TaskKind, clean_logits: Tensor<2>, count: usize) -> Tensor<2, Int> {
        if task.is_multi_label() {
            clean_logits.abs().argsort(1).narrow(1, 0, count)
        } else {
            clean_logits.argsort_descending(1).narrow(1, 1, count)
        }
    }

    /// APGD-T with each run's start supplied by `start(target, restart, rows, images)`: `rows`
    /// are the batch rows the run covers, `images` their clean images. [`perturb`](Attack::perturb)
    /// draws keyed random starts; the golden test hands in the reference's.
    pub fn attack_from(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        start: impl FnMut(usize, usize, &[usize], &Tensor<4>) -> Result<Tensor<4>>,
    ) -> Result<ApgdTargetedOutcome> {
        self.attack_with(model, images, labels, DROP_BROKEN, start)
    }

    /// APGD's random starts, keyed by image, target and restart (`keys` name the batch's
    /// images): the starts [`perturb`](Attack::perturb) runs from.
    fn keyed_starts(
        &self,
        keys: &SampleKeys,
    ) -> impl FnMut(usize, usize, &[usize], &Tensor<4>) -> Result<Tensor<4>> {
        let apgd = self.apgd();
        move |target, restart, rows, x| {
            let keys = SampleKeys::new(keys.seed, rows.iter().map(|&i| keys.indices[i]).collect());
            let stream = ((TARGET_STREAMS + target as Stream) << 32) | restart as Stream;
            Ok(apgd.random_start(x, &keys, stream))
        }
    }

    /// [`attack_from`](Self::attack_from), each run on the images still standing
    /// (`drop_broken`) or on the whole batch.
    fn attack_with(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        drop_broken: bool,
        mut start: impl FnMut(usize, usize, &[usize], &Tensor<4>) -> Result<Tensor<4>>,
    ) -> Result<ApgdTargetedOutcome> {
        self.validate()?;
        let apgd = self.apgd();
        let [batch, _, _, _] = images.dims();
        let device = images.device();
        let (task, classes) = (model.task(), model.classes());
        let truth = Goal::Untargeted.targets(labels, task, classes, None, &device)?;
        let clean_logits = model.logits(images.clone());
        let count = self.target_count(task, classes);
        let order = Self::target_order(task, clean_logits.clone(), count);
        let mut fooled =
            super::apgd::decided_correctly(task, clean_logits, truth.clone()).bool_not();
        let mut broken_at_target = Tensor::<1, Int>::full([batch], -1, &device);
        let mut adversarial = images.clone();
        // The highest first-target score each image reached, and where (for the images no
        // target breaks: the first target is the wrong class the model leans to most).
        let mut strongest = images.clone();
        let mut strongest_score = Tensor::<1>::full([batch], f32::NEG_INFINITY, &device);

        for target in 0..count {
            for restart in 0..self.restarts {
                let rows: Vec<usize> = if drop_broken {
                    let fooled: Vec<bool> = fooled.clone().into_data().iter::<bool>().collect();
                    (0..batch).filter(|&i| !fooled[i]).collect()
                } else {
                    (0..batch).collect()
                };
                if rows.is_empty() {
                    break;
                }
                let selected = Tensor::<1, Int>::from_data(
                    TensorData::new(rows.iter().map(|&i| i as i64).collect(), [rows.len()]),
                    &device,
                );
                let x = images.clone().select(0, selected.clone());
                let aim = order
                    .clone()
                    .select(0, selected.clone())
                    .narrow(1, target, 1)
                    .reshape([rows.len()])
                    .one_hot::<2>(classes)
                    .float();
                let objective =
                    Objective::dlr_targeted(truth.clone().select(0, selected.clone()), aim);
                let from = start(target, restart, &rows, &x)?;
                let run = apgd.run_from(model, x, &objective, from)?;

                // Back to batch rows: batch row `rows[j]` takes the run's row j.
                let mut place = vec![0i64; batch];
                let mut in_run = vec![false; batch];
                for (j, &i) in rows.iter().enumerate() {
                    place[i] = j as i64;
                    in_run[i] = true;
                }
                let place = Tensor::<1, Int>::from_data(TensorData::new(place, [batch]), &device);
                let in_run =
                    Tensor::<1, Bool>::from_data(TensorData::new(in_run, [batch]), &device);
                let standing = in_run.bool_and(fooled.clone().bool_not());
                let newly = standing
                    .clone()
                    .bool_and(run.fooled.int().select(0, place.clone()).equal_elem(1));
                adversarial = where_images(
                    &newly,
                    run.best_adversarial.select(0, place.clone()),
                    adversarial,
                );
                broken_at_target = broken_at_target.mask_fill(newly.clone(), target as i64);
                if target == 0 {
                    let score = run.best_loss.select(0, place.clone());
                    let stronger =
                        standing.bool_and(score.clone().greater(strongest_score.clone()));
                    strongest =
                        where_images(&stronger, run.best_loss_point.select(0, place), strongest);
                    strongest_score = strongest_score.mask_where(stronger, score);
                }
                fooled = fooled.bool_or(newly);
            }
        }
        let broken = broken_at_target.clone().greater_equal_elem(0);
        Ok(ApgdTargetedOutcome {
            adversarial: where_images(&broken, adversarial, strongest),
            fooled,
            broken_at_target,
        })
    }
}

impl Attack for ApgdTargeted {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn goal(&self) -> Goal {
        Goal::Untargeted
    }

    fn perturb(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Tensor<4>> {
        self.validate()?;
        if self.budget.eps == 0.0 {
            return Ok(images);
        }
        let outcome = self.attack_from(model, images, labels, self.keyed_starts(keys))?;
        Ok(outcome.adversarial)
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use burn::tensor::TensorData;

    use super::*;
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::data::{BatchLoader, Dataset, images_to_tensor};
    use crate::model::DiagnosticModel;
    use crate::robustness::ImageRecord;
    use crate::test_support::attack_on_cpu;
    use crate::test_support::{cpu, seeded_small_cnn};

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

    /// The whole split as one batch, and its labels.
    fn whole(model: &DiagnosticModel, data: &dyn Dataset) -> (Tensor<4>, Vec<Label>) {
        let samples = BatchLoader::new(data, data.len(), &model.card.input, None)
            .only(0..data.len())
            .next()
            .unwrap()
            .unwrap();
        let images: Vec<_> = samples.iter().map(|s| &s.image).collect();
        let labels = samples.iter().map(|s| s.label.clone()).collect();
        (images_to_tensor(&images, &cpu()), labels)
    }

    /// The model's own clean decisions as labels: every image starts correctly decided, so
    /// every target gets images to run on, even for an untrained multi-label model.
    fn decided_labels(model: &AttackedModel, images: Tensor<4>) -> Vec<Label> {
        let logits = model.logits(images);
        let [batch, classes] = logits.dims();
        let values: Vec<f32> = logits.into_data().iter::<f32>().collect();
        (0..batch)
            .map(|i| {
                let row = &values[i * classes..(i + 1) * classes];
                if model.task().is_multi_label() {
                    Label::Findings(row.iter().map(|&z| z > 0.0).collect())
                } else {
                    let top = (0..classes).fold(0, |t, c| if row[c] > row[t] { c } else { t });
                    Label::Class(top)
                }
            })
            .collect()
    }

    /// Whether the model decides each image wrongly.
    fn fooled(model: &AttackedModel, images: Tensor<4>, labels: &[Label]) -> Vec<bool> {
        let truth = Goal::Untargeted
            .targets(labels, model.task(), model.classes(), None, &cpu())
            .unwrap();
        super::super::apgd::decided_correctly(model.task(), model.logits(images), truth)
            .into_data()
            .iter::<bool>()
            .map(|correct| !correct)
            .collect()
    }

    /// A model, images and labels of each task kind, where APGD-T breaks some images: the
    /// untrained 4-grade and multi-label models on their own decisions (so every image starts
    /// correct), and a trained binary model (an untrained one leans so hard to one class that
    /// nothing breaks).
    fn breakable() -> Vec<(String, AttackedModel, Tensor<4>, Vec<Label>)> {
        let mut cases = vec![];
        for kind in [SyntheticKind::Fundus, SyntheticKind::Chest] {
            let (model, test) = small_model(kind);
            let attacked = AttackedModel::new(&model, &cpu());
            let (images, _) = whole(&model, test.as_ref());
            let labels = decided_labels(&attacked, images.clone());
            cases.push((format!("{kind:?}"), attacked, images, labels));
        }
        let (images, labels) = crate::test_support::left_right_batch(16);
        let binary = AttackedModel::new(crate::test_support::trained_left_right(), &cpu());
        cases.push(("binary".into(), binary, images, labels));
        cases
    }

    /// The outcome's flags on the host: fooled, and the target that broke each image.
    fn flags(outcome: &ApgdTargetedOutcome) -> (Vec<bool>, Vec<Option<usize>>) {
        let fooled = outcome.fooled.clone().into_data().iter::<bool>().collect();
        let broken = outcome.broken_at_target.clone().into_data();
        let broken = broken.iter::<i64>().map(|t| (t >= 0).then_some(t as usize));
        (fooled, broken.collect())
    }

    fn rows(values: &[&[f32]]) -> Tensor<2> {
        let k = values[0].len();
        let flat: Vec<f32> = values.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [values.len(), k]), &cpu())
    }

    fn order(task: TaskKind, logits: &[&[f32]], count: usize) -> Vec<i64> {
        ApgdTargeted::target_order(task, rows(logits), count)
            .into_data()
            .iter::<i64>()
            .collect()
    }

    /// min(target_classes, classes − 1) targets: a 4-class model 3, a binary one its single
    /// other class, a 10-class one AutoAttack's 9; multi-label: up to 9 findings. Never an error.
    #[test]
    fn target_count_clamps_to_the_classes_there_are() {
        let attack = ApgdTargeted::linf(0.03, 10);
        assert_eq!(attack.target_count(TaskKind::MultiClass, 4), 3);
        assert_eq!(attack.target_count(TaskKind::Binary, 2), 1);
        assert_eq!(attack.target_count(TaskKind::MultiClass, 10), 9);
        assert_eq!(attack.target_count(TaskKind::MultiClass, 100), 9);
        assert_eq!(attack.target_count(TaskKind::MultiLabel, 14), 9);
        assert_eq!(attack.target_count(TaskKind::MultiLabel, 6), 6);
        let two = ApgdTargeted {
            target_classes: 2,
            ..attack
        };
        assert_eq!(two.target_count(TaskKind::MultiClass, 10), 2);
    }

    /// Single-label: the classes by clean logit after the top one — logits (0.1, 3, −1, 2) aim at
    /// 3, then 0, then 2. Multi-label: the findings by |logit|, nearest to flipping first — logits
    /// (2, −0.1, 0.5, −3) flip finding 1, then 2, then 0, then 3.
    #[test]
    fn targets_are_the_runner_ups_and_the_findings_nearest_to_flipping() {
        let classes: &[&[f32]] = &[&[0.1, 3.0, -1.0, 2.0], &[5.0, 4.0, 3.0, 2.0]];
        assert_eq!(order(TaskKind::MultiClass, classes, 3), [3, 0, 2, 1, 2, 3]);
        assert_eq!(order(TaskKind::Binary, &[&[0.4, -0.2]], 1), [1]);
        let findings: &[&[f32]] = &[&[2.0, -0.1, 0.5, -3.0]];
        assert_eq!(order(TaskKind::MultiLabel, findings, 4), [1, 2, 0, 3]);
        assert_eq!(order(TaskKind::MultiLabel, findings, 2), [1, 2]);
    }

    /// The runs go target by target, each on the images no earlier run broke (never an image the
    /// model already gets wrong), and an image's break is credited to the first target that
    /// fooled it; on every task kind the points stay in the ε-ball and the pixel range.
    #[test]
    fn runs_aim_target_by_target_at_the_images_still_standing_on_every_task_kind() {
        let eps = 8.0 / 255.0;
        for kind in SyntheticKind::ALL {
            let (model, test) = small_model(kind);
            let attacked = AttackedModel::new(&model, &cpu());
            let (images, _) = whole(&model, test.as_ref());
            // Every image decided as labelled but the first, which the model already gets
            // wrong.
            let mut labels = decided_labels(&attacked, images.clone());
            labels[0] = match &labels[0] {
                Label::Class(c) => Label::Class((c + 1) % model.card.num_classes()),
                Label::Findings(f) => Label::Findings(
                    f.iter()
                        .enumerate()
                        .map(|(k, &on)| on != (k == 0))
                        .collect(),
                ),
            };
            let attack = ApgdTargeted::linf(eps, 6);
            let count = attack.target_count(model.card.task, model.card.num_classes());
            let clean_correct: Vec<bool> = fooled(&attacked, images.clone(), &labels)
                .into_iter()
                .map(|wrong| !wrong)
                .collect();
            assert_eq!(clean_correct.iter().filter(|&&c| !c).count(), 1);
            let keys = SampleKeys::sequential(5, labels.len());
            let mut runs: Vec<(usize, Vec<usize>)> = vec![];
            let outcome = attack
                .attack_from(
                    &attacked,
                    images.clone(),
                    &labels,
                    |target, restart, rows, x| {
                        assert_eq!(restart, 0);
                        runs.push((target, rows.to_vec()));
                        let keys =
                            SampleKeys::new(5, rows.iter().map(|&i| keys.indices[i]).collect());
                        Ok(attack.apgd().random_start(x, &keys, target as u64))
                    },
                )
                .unwrap();
            assert!(!runs.is_empty(), "{kind:?}: no image to attack");
            assert_eq!(runs[0].0, 0);
            for pair in runs.windows(2) {
                let ((t0, rows0), (t1, rows1)) = (&pair[0], &pair[1]);
                assert_eq!(*t1, t0 + 1, "{kind:?}: one run per target, in order");
                assert!(rows1.iter().all(|r| rows0.contains(r)), "{kind:?}");
            }
            assert!(runs.len() <= count);
            let (fooled_at_end, broken_at_target) = flags(&outcome);
            for (i, &correct) in clean_correct.iter().enumerate() {
                assert_eq!(runs[0].1.contains(&i), correct, "{kind:?} image {i}");
                if let Some(target) = broken_at_target[i] {
                    assert!(fooled_at_end[i]);
                    let (_, rows) = &runs[target];
                    assert!(rows.contains(&i), "{kind:?} image {i}");
                    if let Some((_, next)) = runs.get(target + 1) {
                        assert!(!next.contains(&i), "{kind:?} image {i} attacked again");
                    }
                }
                assert_eq!(fooled_at_end[i], !correct || broken_at_target[i].is_some());
            }
            let (clean, adversarial) = (
                images.into_data().try_to_vec::<f32>().unwrap(),
                outcome.adversarial.into_data().try_to_vec::<f32>().unwrap(),
            );
            assert!(
                adversarial.iter().all(|p| (0.0..=1.0).contains(p)),
                "{kind:?}"
            );
            let largest = clean
                .iter()
                .zip(&adversarial)
                .fold(0.0f32, |m, (c, a)| m.max((a - c).abs()));
            assert!(largest <= eps * (1.0 + 1e-5), "{kind:?}: |δ|∞ {largest}");
        }
    }

    /// Without host reads (the browser's way), every run covers the whole batch and keeps its
    /// results for the images still standing: the same points, flags and ranks as dropping the
    /// broken images, bit for bit.
    #[test]
    fn runs_over_the_whole_batch_give_what_dropping_the_broken_images_gives() {
        for (kind, attacked, images, labels) in breakable() {
            let keys = SampleKeys::sequential(3, labels.len());
            let attack = ApgdTargeted {
                restarts: 2,
                ..ApgdTargeted::linf(32.0 / 255.0, 10)
            };
            let run = |drop_broken| {
                attack
                    .attack_with(
                        &attacked,
                        images.clone(),
                        &labels,
                        drop_broken,
                        attack.keyed_starts(&keys),
                    )
                    .unwrap()
            };
            let (dropping, whole_batch) = (run(true), run(false));
            let read = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(flags(&dropping), flags(&whole_batch), "{kind:?}");
            assert!(flags(&dropping).1.iter().any(Option::is_some), "{kind:?}");
            assert_eq!(
                read(dropping.adversarial),
                read(whole_batch.adversarial),
                "{kind:?}"
            );
        }
    }

    fn evaluate(
        model: &DiagnosticModel,
        data: &dyn Dataset,
        attack: &ApgdTargeted,
        range: Range<usize>,
        batch: usize,
    ) -> Vec<ImageRecord> {
        attack_on_cpu(model, data, range, attack, 3, batch).records
    }

    /// A 4-class model (3 targets, runs on ever fewer images): batches of 1, 7 and 32 and two
    /// shards give every image the same record, bit for bit.
    #[test]
    fn records_do_not_depend_on_batch_size_or_shard() {
        let (model, test) = small_model(SyntheticKind::Fundus);
        let test = test.as_ref();
        let attack = ApgdTargeted::linf(8.0 / 255.0, 5);
        assert_eq!(
            attack.target_count(model.card.task, model.card.num_classes()),
            3
        );
        let whole = evaluate(&model, test, &attack, 0..test.len(), 32);
        assert!(whole.iter().any(|r| r.linf > 0.0));
        for batch in [1, 7] {
            assert_eq!(
                evaluate(&model, test, &attack, 0..test.len(), batch),
                whole,
                "batch {batch}"
            );
        }
        let mut sharded = evaluate(&model, test, &attack, 0..10, 4);
        sharded.extend(evaluate(&model, test, &attack, 10..test.len(), 6));
        assert_eq!(sharded, whole);
    }

    /// The first target's run is the same with or without the later ones (same keyed start), so
    /// APGD-T breaks every image its runner-up run alone breaks, on every task kind; on a binary
    /// model, whose one target is the other class, the two are the same attack.
    #[test]
    fn breaks_every_image_its_first_target_alone_breaks() {
        for (kind, attacked, images, labels) in breakable() {
            let keys = SampleKeys::sequential(3, labels.len());
            let all = ApgdTargeted::linf(32.0 / 255.0, 10);
            let first_only = ApgdTargeted {
                target_classes: 1,
                ..all
            };
            let by_all = all
                .perturb(&attacked, images.clone(), &labels, &keys)
                .unwrap();
            let by_first = first_only
                .perturb(&attacked, images.clone(), &labels, &keys)
                .unwrap();
            let (fooled_all, fooled_first) = (
                fooled(&attacked, by_all.clone(), &labels),
                fooled(&attacked, by_first.clone(), &labels),
            );
            for (i, (a, f)) in fooled_all.iter().zip(&fooled_first).enumerate() {
                assert!(*a || !*f, "{kind:?} image {i}");
            }
            let count = |v: &[bool]| v.iter().filter(|&&f| f).count();
            assert!(
                count(&fooled_first) > 0,
                "{kind:?}: the first target breaks some image"
            );
            assert!(count(&fooled_all) >= count(&fooled_first));
            if attacked.task() == TaskKind::Binary {
                let read = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
                assert_eq!(read(by_all), read(by_first), "binary: one target");
            }
        }
    }

    /// Settings: AutoAttack's defaults; out-of-range values are errors, not panics.
    #[test]
    fn settings_default_to_autoattacks_and_refuse_zero() {
        let spec = |settings: serde_json::Value| {
            super::super::AttackSpec::untargeted_linf(
                ApgdTargeted::NAME,
                4.0,
                settings.as_object().unwrap(),
            )
        };
        assert_eq!(
            serde_json::Value::Object(spec(serde_json::json!({})).unwrap().settings),
            serde_json::json!({"steps": 100, "restarts": 1, "target_classes": 9})
        );
        let context = super::super::AttackContext::default();
        for bad in [
            serde_json::json!({"target_classes": 0}),
            serde_json::json!({"restarts": 0}),
            serde_json::json!({"steps": 0}),
        ] {
            let e = spec(bad.clone())
                .and_then(|s| s.build(&context).map(|_| ()))
                .unwrap_err();
            assert!(e.to_string().contains("at least 1"), "{bad}: {e}");
        }
        assert!(spec(serde_json::json!({"targets": 3})).is_err());
        let e = super::super::AttackSpec::new(
            ApgdTargeted::NAME,
            4.0,
            super::super::Norm::Linf,
            super::super::Convention::Pixel,
            Goal::Class(1),
            &serde_json::Map::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("untargeted here"), "{e}");
    }
}
