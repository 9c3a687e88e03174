//! FAB-T (Croce & Hein, ICML 2020, "Minimally distorted adversarial examples with a fast
//! adaptive boundary attack"), the targeted form AutoAttack's standard suite runs. FAB looks for
//! the nearest wrong decision rather than the highest loss: each step linearises the boundary
//! between the truth and a target class (`z_t − z_y = 0`), projects both the current point and
//! the clean image onto it within the pixel box ([`fab_projection`](super::fab_projection)),
//! and moves to a mix of the two that leans towards the clean image (α ≤ 0.1), overshooting by
//! η = 1.05; once a point is wrong, it steps back towards the clean image by β = 0.9, so the
//! run homes in on a small perturbation. An image counts as broken only when the smallest
//! wrong point found is within ε. The targets are the runner-up classes of the clean image,
//! second-highest logit first. The loop follows fra31/auto-attack's `FABAttack_PT` (and
//! torchattacks 3.5.1's `FAB` with `multi_targeted=True`, the same code) operation for
//! operation; golden test: `tests/fixtures/attacks/make_fab_golden.py`.
//!
//! Medical task kinds: a binary task has one target, the other class. Multi-label: the target
//! is a finding to flip, the least confident first (smallest |logit|), and its boundary is that
//! finding's logit crossing 0 ([`Loss::TargetMargin`](super::Loss::TargetMargin)).

use burn::Tensor;
use burn::tensor::{Bool, Int, TensorData};
use serde::{Deserialize, Serialize};

use super::budget::{l2_norms, row_indices, where_images};
use super::fab_projection::{projection_l2, projection_linf, sum_rows};
use super::registry::{AttackEntry, AttackInfo};
use super::{Attack, AttackedModel, Budget, Convention, Goal, Norm, Objective, SampleKeys, Stream};
use crate::registry::canonical_settings;
use crate::{Error, Label, Result, task};

/// FAB-T, ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FastAdaptiveBoundary {
    /// The threat model: FAB minimises the distance, ε decides which images count as broken.
    pub budget: Budget,
    /// Iterations per target and restart (100 in AutoAttack).
    pub steps: usize,
    /// Runs per target; the first starts at the clean image, the others at a random point
    /// within ε/2.
    pub restarts: usize,
    /// How many runner-up classes (findings) to aim at, at most; clamped to what the task has.
    pub target_classes: usize,
}

/// FAB-T's own settings in an [`AttackSpec`](super::AttackSpec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FabSettings {
    /// Iterations per target and restart (100 in AutoAttack).
    pub steps: usize,
    /// Runs per target (1 in AutoAttack's standard suite).
    pub restarts: usize,
    /// Runner-up classes to aim at (9 in AutoAttack), clamped to the classes − 1 there are.
    pub target_classes: usize,
}

impl Default for FabSettings {
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
        name: "fab-t",
        about: "FAB-T: minimal perturbation towards each runner-up class, kept if within ε \
                (Croce & Hein 2020; binary: the other class; multi-label: each finding flipped)",
        fixed_goal: None,
        revision: 0,
        stepwise: false,
        targeted: false,
        gradient_free: false,
        randomised: true,
        needs_generator: false,
        dominates: None,
        // Its projections sort, and burn's wgpu backend sorts through a blocking read, which a
        // browser's WebGPU refuses.
        on_page: false,
        canonical: canonical_settings::<FabSettings>,
    },
    build: |spec, _| {
        if spec.goal != Goal::Untargeted {
            return Err(Error::invalid(
                "FAB-T aims at every runner-up class in turn to find any wrong decision: its goal \
                 is untargeted",
            ));
        }
        let s: FabSettings = spec.settings_as()?;
        let attack = FastAdaptiveBoundary {
            budget: spec.budget(),
            steps: s.steps,
            restarts: s.restarts,
            target_classes: s.target_classes,
        };
        attack.validate()?;
        Ok(Box::new(attack))
    },
};

/// The largest weight of the clean image's projection in a step.
const ALPHA_MAX: f32 = 0.1;
/// Overshoot past the linearised boundary.
const ETA: f32 = 1.05;
/// Once wrong, the point moves back to this share of its distance from the clean image.
const BETA: f32 = 0.9;
/// The reference's floor under a projection's length.
const LENGTH_FLOOR: f32 = 1e-8;
/// "No wrong point yet", the reference's 1e10.
const NONE_FOUND: f32 = 1e10;
/// The most restarts: the random starts' streams are `START_STREAMS + target · restarts +
/// restart`, so this keeps FAB's streams apart from each other for any class count.
const MAX_RESTARTS: usize = 100;
/// Where FAB's random-start streams begin (APGD's restarts use 0, 1, …).
const START_STREAMS: Stream = 0xFAB_0000;

impl FastAdaptiveBoundary {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// AutoAttack's FAB-T at `budget`: 100 steps, one run, 9 targets.
    pub fn new(budget: Budget) -> Self {
        let s = FabSettings::default();
        Self {
            budget,
            steps: s.steps,
            restarts: s.restarts,
            target_classes: s.target_classes,
        }
    }

    /// Checks the budget (pixel space) and that there is at least one step, run and target.
    pub fn validate(&self) -> Result<()> {
        self.budget.validate()?;
        if self.budget.convention != Convention::Pixel {
            return Err(Error::invalid(
                "FAB is defined in pixel space (--convention pixel)",
            ));
        }
        if self.steps == 0 || self.restarts == 0 || self.target_classes == 0 {
            return Err(Error::invalid(
                "FAB-T needs at least 1 step, 1 restart and 1 target class",
            ));
        }
        if self.restarts > MAX_RESTARTS {
            return Err(Error::invalid(format!(
                "FAB-T: {} restarts is over the cap of {MAX_RESTARTS}",
                self.restarts
            )));
        }
        super::registry::check_steps(Self::NAME, self.steps as u64)
    }

    /// How many targets each image gets: `min(target_classes, classes − 1)` for single-label
    /// tasks (1 for binary), `min(target_classes, findings)` for multi-label ones.
    pub fn targets_for(&self, model: &AttackedModel) -> usize {
        let candidates = if model.task().is_multi_label() {
            model.classes()
        } else {
            model.classes() - 1
        };
        self.target_classes.min(candidates)
    }

    /// The size of each image's perturbation in the budget's norm, `[batch]`.
    fn sizes(&self, delta: Tensor<4>) -> Tensor<1> {
        let [b, _, _, _] = delta.dims();
        match self.budget.norm {
            Norm::Linf => delta.abs().reshape([b as i32, -1]).max_dim(1).reshape([b]),
            Norm::L2 => l2_norms(delta).reshape([b]),
        }
    }

    /// The reference's random start: noise scaled to ε/2 in the budget's norm around `x`.
    pub(super) fn random_start(
        &self,
        x: &Tensor<4>,
        keys: &SampleKeys,
        stream: Stream,
    ) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let device = x.device();
        let (noise, length) = match self.budget.norm {
            Norm::Linf => {
                let t = keys.uniform(stream, [c, h, w], -1.0, 1.0, &device);
                let largest = t.clone().abs().reshape([b as i32, -1]).max_dim(1);
                (t, largest.reshape([b, 1, 1, 1]))
            }
            Norm::L2 => {
                let t = keys.normal(stream, [c, h, w], &device);
                (t.clone(), l2_norms(t))
            }
        };
        (x.clone() + (noise.mul_scalar(self.budget.eps) / length).mul_scalar(0.5)).clamp(0.0, 1.0)
    }

    /// One run towards the boundary `objective` linearises, from `start`: each image's
    /// smallest wrong point (the clean image where none was found) and its size
    /// ([`NONE_FOUND`] where none).
    pub fn run_from(
        &self,
        model: &AttackedModel,
        x: &Tensor<4>,
        objective: &Objective,
        start: Tensor<4>,
    ) -> Result<(Tensor<4>, Tensor<1>)> {
        let [b, c, h, w] = x.dims();
        let n = c * h * w;
        let device = x.device();
        let flat = |t: Tensor<4>| t.reshape([b, n]);
        let x0 = flat(x.clone());
        let mut x1 = start;
        let mut best = x.clone();
        let mut best_size = Tensor::<1>::full([b], NONE_FOUND, &device);
        for _ in 0..self.steps {
            let (_, gap, gradient) = model.forward_and_gradient_of(x1.clone(), objective)?;
            let normal = flat(gradient);
            let offset = gap.neg() + sum_rows(normal.clone() * flat(x1.clone()));
            let points = Tensor::cat(vec![flat(x1.clone()), x0.clone()], 0);
            let normals = Tensor::cat(vec![normal.clone(), normal], 0);
            let offsets = Tensor::cat(vec![offset.clone(), offset], 0);
            let steps = match self.budget.norm {
                Norm::Linf => projection_linf(points, normals, offsets),
                Norm::L2 => projection_l2(points, normals, offsets),
            };
            let lengths = match self.budget.norm {
                Norm::Linf => steps.clone().abs().max_dim(1),
                Norm::L2 => steps.clone().powi_scalar(2).sum_dim(1).sqrt(),
            }
            .clamp_min(LENGTH_FLOOR);
            let from_point = lengths.clone().narrow(0, 0, b).reshape([b, 1, 1, 1]);
            let from_clean = lengths.narrow(0, b, b).reshape([b, 1, 1, 1]);
            let alpha = (from_point.clone() / (from_point + from_clean)).clamp(0.0, ALPHA_MAX);
            let to_boundary = |d: Tensor<2>| d.reshape([b, c, h, w]).mul_scalar(ETA);
            let d_point = to_boundary(steps.clone().narrow(0, 0, b));
            let d_clean = to_boundary(steps.narrow(0, b, b));
            x1 = ((x1 + d_point) * alpha.clone().neg().add_scalar(1.0)
                + (x.clone() + d_clean) * alpha)
                .clamp(0.0, 1.0);

            let wrong =
                decided_correctly(model, model.logits(x1.clone()), &objective.truth).bool_not();
            let size = self.sizes(x1.clone() - x.clone());
            let smaller = wrong
                .clone()
                .bool_and(size.clone().lower(best_size.clone()));
            best = where_images(&smaller, x1.clone(), best);
            best_size = best_size.mask_where(smaller, size);
            let back = x.clone() + (x1.clone() - x.clone()).mul_scalar(BETA);
            x1 = where_images(&wrong, back, x1);
        }
        Ok((best, best_size))
    }
}

/// Whether each image is decided as its truth says: the top class (single-label), every
/// finding on the right side of 0 (multi-label).
fn decided_correctly(
    model: &AttackedModel,
    logits: Tensor<2>,
    truth: &Tensor<2>,
) -> Tensor<1, Bool> {
    let [b, _] = logits.dims();
    if model.task().is_multi_label() {
        let wrong = logits.greater_elem(0.0).float() - truth.clone();
        wrong.abs().sum_dim(1).reshape([b]).lower_equal_elem(0.5)
    } else {
        logits.argmax(1).equal(truth.clone().argmax(1)).reshape([b])
    }
}

/// Each image's targets in the order FAB-T takes them, from its clean logits: the classes by
/// falling logit without the top one (single-label), the findings by rising |logit|
/// (multi-label: the nearest to flipping first).
pub(super) fn target_order(logits: &[f32], multi_label: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    if multi_label {
        order.sort_by(|&a, &b| logits[a].abs().total_cmp(&logits[b].abs()));
    } else {
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        order.remove(0);
    }
    order
}

/// A `[batch]` flag vector on the host (read as numbers, which every backend stores alike).
fn flags(t: Tensor<1, Bool>) -> Result<Vec<bool>> {
    let values: Vec<f32> = t
        .float()
        .into_data()
        .try_to_vec()
        .map_err(|e| Error::invalid(format!("cannot read a tensor back: {e:?}")))?;
    Ok(values.into_iter().map(|v| v > 0.5).collect())
}

/// The rows `rows` of a `[batch, …]` tensor.
fn rows_of<const D: usize>(t: &Tensor<D>, rows: &[usize]) -> Tensor<D> {
    t.clone().select(0, row_indices(rows, &t.device()))
}

impl Attack for FastAdaptiveBoundary {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn goal(&self) -> Goal {
        Goal::Untargeted
    }

    /// For each target rank, then each restart, one run on the images still standing: an image
    /// leaves once a run finds a wrong point within ε, which is then its adversarial version;
    /// the others (and those the model already gets wrong) stay the clean image. The
    /// standing set is read once per run, never inside a run's iterations.
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
        let [batch, _, _, _] = images.dims();
        let device = images.device();
        let (task_kind, classes) = (model.task(), model.classes());
        let truth = Goal::Untargeted.targets(labels, task_kind, classes, None, &device)?;
        let clean_logits = model.logits(images.clone());
        let correct = decided_correctly(model, clean_logits.clone(), &truth);
        let mut standing = flags(correct)?;
        let clean_logits = task::rows(clean_logits)?;
        let orders: Vec<Vec<usize>> = clean_logits
            .iter()
            .map(|z| target_order(z, task_kind.is_multi_label()))
            .collect();
        let mut adversarial = images.clone();
        for rank in 0..self.targets_for(model) {
            for restart in 0..self.restarts {
                let rows: Vec<usize> = (0..batch).filter(|&i| standing[i]).collect();
                if rows.is_empty() {
                    return Ok(adversarial);
                }
                let x = rows_of(&images, &rows);
                let mut target = vec![0.0f32; rows.len() * classes];
                for (row, &i) in rows.iter().enumerate() {
                    target[row * classes + orders[i][rank]] = 1.0;
                }
                let target =
                    Tensor::from_data(TensorData::new(target, [rows.len(), classes]), &device);
                let objective = Objective::target_margin(rows_of(&truth, &rows), target);
                let start = if restart == 0 {
                    x.clone()
                } else {
                    let subset =
                        SampleKeys::new(keys.seed, rows.iter().map(|&i| keys.indices[i]).collect());
                    let stream = START_STREAMS + (rank * self.restarts + restart) as Stream;
                    self.random_start(&x, &subset, stream)
                };
                let (found, _) = self.run_from(model, &x, &objective, start)?;
                // Broken: decided wrongly at a point within ε (the reference re-checks both).
                let wrong = decided_correctly(model, model.logits(found.clone()), &objective.truth)
                    .bool_not();
                let within = self
                    .sizes(found.clone() - x)
                    .lower_equal_elem(self.budget.eps);
                let broken = flags(wrong.bool_and(within))?;
                // Each image from the batch so far or from this run's points behind it.
                let mut pick: Vec<i64> = (0..batch as i64).collect();
                for (row, &i) in rows.iter().enumerate() {
                    if broken[row] {
                        standing[i] = false;
                        pick[i] = (batch + row) as i64;
                    }
                }
                let pick = Tensor::<1, Int>::from_data(TensorData::new(pick, [batch]), &device);
                adversarial = Tensor::cat(vec![adversarial, found], 0).select(0, pick);
            }
        }
        Ok(adversarial)
    }
}
