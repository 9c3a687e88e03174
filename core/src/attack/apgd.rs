//! APGD-CE (Croce & Hein, ICML 2020, "Reliable evaluation of adversarial robustness with an
//! ensemble of diverse parameter-free attacks"): PGD with momentum whose step size starts at 2ε
//! and halves, per image, at checkpoints where the loss stopped rising, restarting from that
//! image's best point. No step size to tune, so a "robust" model cannot hide behind a badly
//! chosen one. The loop follows torchattacks' `APGD.attack_single_run` operation for operation
//! (golden test: `tests/fixtures/attacks/make_apgd_golden.py`), entirely on the device: no host
//! read inside the loop. It climbs any [`Objective`]: cross-entropy (APGD-CE), DLR (AutoAttack's
//! APGD-DLR, `loss=dlr`), and the targeted DLR that [APGD-T](super::apgd_targeted) aims with.
//! For randomised models, `eot` averages several gradients at each point (expectation over
//! transformation, Athalye et al. 2018), as the reference's `eot_iter`.

use burn::Tensor;
use burn::tensor::Bool;
use serde::{Deserialize, Serialize};

use super::budget::{l2_norms, where_images};
use super::registry::{AttackEntry, AttackInfo};
use super::{Attack, AttackedModel, Budget, Convention, Goal, Norm, Objective, SampleKeys};
use crate::registry::canonical_settings;
use crate::{Error, Label, Result, TaskKind};

/// APGD, ready to run: the budget, how many iterations and restarts it spends, the score it
/// climbs and how many gradients it averages at each point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoProjectedGradientDescent {
    /// The threat model; APGD runs in pixel space only ([`Convention::Pixel`]).
    pub budget: Budget,
    /// N, the iteration budget the checkpoints are laid out over (100 in AutoAttack).
    pub steps: usize,
    /// Independent runs from different random starts; an image keeps a fooling point from any
    /// run, else its highest-loss point.
    pub restarts: usize,
    /// The score climbed against the truth.
    pub loss: ApgdLoss,
    /// Forward and backward passes whose scores and gradients are averaged at each point (1: a
    /// deterministic model needs no more).
    pub eot: usize,
}

/// The score APGD climbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApgdLoss {
    /// The task's loss: cross-entropy, or binary cross-entropy for multi-label tasks (APGD-CE).
    #[default]
    Ce,
    /// The difference of logits ratio (AutoAttack's APGD-DLR; the logit margin for binary
    /// tasks, the smallest finding margin for multi-label ones: see [`Objective`]).
    Dlr,
}

/// The most forward and backward passes one APGD run may spend (steps × eot): AutoAttack's
/// `rand` version spends 100 × 20.
const MAX_GRADIENT_PASSES: usize = super::MAX_ATTACK_STEPS;

/// APGD's own settings in an [`AttackSpec`](super::AttackSpec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApgdSettings {
    /// N, the iteration budget the checkpoints are laid out over (100 in AutoAttack).
    pub steps: usize,
    /// Independent runs from different random starts (1: a single run).
    pub restarts: usize,
    /// `ce` (the task's loss: APGD-CE) or `dlr` (APGD-DLR, AutoAttack's `rand` version).
    pub loss: ApgdLoss,
    /// Gradients averaged at each point, for randomised models (AutoAttack's `rand`: 20).
    pub eot: usize,
}

impl Default for ApgdSettings {
    fn default() -> Self {
        Self {
            steps: 100,
            restarts: 1,
            loss: ApgdLoss::Ce,
            eot: 1,
        }
    }
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "apgd",
        about: "APGD-CE: step-size-free PGD with momentum and restarts from the best point (Croce & Hein 2020); loss=dlr climbs DLR (APGD-DLR), eot=n averages n gradients for randomised models",
        fixed_goal: None,
        // 1: the settings gained `loss` and `eot`, so a result stored before them (whose spec
        // lacks the two keys) is recomputed with a reason rather than silently never matching.
        revision: 1,
        stepwise: false,
        targeted: false,
        gradient_free: false,
        randomised: true,
        needs_generator: false,
        // Croce & Hein: a PGD that does not reach APGD-CE's loss is a bug or luck.
        dominates: Some(super::pgd::ENTRY.info.name),
        on_page: true,
        canonical: canonical_settings::<ApgdSettings>,
    },
    build: |spec, _| {
        if spec.goal != Goal::Untargeted {
            return Err(Error::invalid(
                "APGD-CE is untargeted here (a targeted attack: pgd with --target / --least-likely)",
            ));
        }
        let s: ApgdSettings = spec.settings_as()?;
        let attack = AutoProjectedGradientDescent {
            budget: spec.budget(),
            steps: s.steps,
            restarts: s.restarts,
            loss: s.loss,
            eot: s.eot,
        };
        attack.validate()?;
        Ok(Box::new(attack))
    },
};

/// Momentum of the update after the first step.
const MOMENTUM: f32 = 0.75;
/// A checkpoint halves the step when the loss rose in at most this share of the last k steps.
const RHO: f32 = 0.75;
/// torchattacks' guard against dividing by a zero norm.
const NORM_GUARD: f32 = 1e-12;

/// One run's result, per image.
#[derive(Debug, Clone)]
pub struct ApgdOutcome {
    /// The point of highest loss seen.
    pub best_loss_point: Tensor<4>,
    /// The last point the model got wrong (the start point where there was none).
    pub best_adversarial: Tensor<4>,
    /// Whether any point the run visited was decided wrongly.
    pub fooled: Tensor<1, Bool>,
    /// The highest loss seen.
    pub best_loss: Tensor<1>,
    /// `[steps, batch]`: the step size η each iteration used, per image (2ε, halved at the
    /// checkpoints where the image's loss stalled), which the golden test holds against
    /// torchattacks' own history.
    pub step_sizes: Tensor<2>,
}

impl ApgdOutcome {
    /// The point an evaluation uses: the fooling one where there is one, else the strongest.
    pub fn adversarial(&self) -> Tensor<4> {
        where_images(
            &self.fooled,
            self.best_adversarial.clone(),
            self.best_loss_point.clone(),
        )
    }
}

/// Whether each image is decided correctly, from its logits and one-hot / multi-hot targets.
pub(super) fn decided_correctly(
    task: TaskKind,
    logits: Tensor<2>,
    targets: Tensor<2>,
) -> Tensor<1, Bool> {
    let [b, _] = logits.dims();
    if task.is_multi_label() {
        let wrong = logits.greater_elem(0.0).float() - targets;
        wrong.abs().sum_dim(1).reshape([b]).lower_equal_elem(0.5)
    } else {
        logits.argmax(1).equal(targets.argmax(1)).reshape([b])
    }
}

/// The checkpoint schedule of torchattacks: the first after ⌊0.22 N⌋ steps, each next window
/// ⌊0.03 N⌋ shorter, never shorter than ⌊0.06 N⌋ (all at least 1).
fn schedule(steps: usize) -> (usize, usize, usize) {
    let part = |share: f64| ((share * steps as f64) as usize).max(1);
    (part(0.22), part(0.06), part(0.03))
}

impl AutoProjectedGradientDescent {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// Untargeted L∞ APGD-CE at `eps` (pixel units, [0, 1] images) over `steps` iterations, one
    /// run.
    pub fn linf(eps: f32, steps: usize) -> Self {
        Self {
            budget: Budget::linf(eps),
            steps,
            restarts: 1,
            loss: ApgdLoss::Ce,
            eot: 1,
        }
    }

    /// Checks the budget, that it is pixel-space, that there is at least one step, one run and
    /// one gradient per point, and that steps × eot stays within the cap.
    pub fn validate(&self) -> Result<()> {
        self.budget.validate()?;
        if self.budget.convention != Convention::Pixel {
            return Err(Error::invalid(
                "APGD is defined in pixel space (--convention pixel)",
            ));
        }
        if self.steps == 0 || self.restarts == 0 {
            return Err(Error::invalid("APGD needs at least 1 step and 1 restart"));
        }
        if self.eot == 0 {
            return Err(Error::invalid(
                "APGD needs eot ≥ 1 (gradients averaged at each point)",
            ));
        }
        super::registry::check_steps(Self::NAME, self.steps as u64)?;
        if self.steps.saturating_mul(self.eot) > MAX_GRADIENT_PASSES {
            return Err(Error::invalid(format!(
                "{}: {} steps × eot {} is over the cap of {MAX_GRADIENT_PASSES} gradient passes \
                 per run",
                Self::NAME,
                self.steps,
                self.eot
            )));
        }
        Ok(())
    }

    /// The score this APGD climbs against the truth `labels`.
    pub fn objective(&self, model: &AttackedModel, labels: &[Label]) -> Result<Objective> {
        let truth = Goal::Untargeted.targets(
            labels,
            model.task(),
            model.classes(),
            None,
            model.device(),
        )?;
        Ok(match self.loss {
            ApgdLoss::Ce => Objective::task(truth),
            ApgdLoss::Dlr => Objective::dlr(truth),
        })
    }

    /// torchattacks' random start: uniform noise rescaled so its largest entry is ε (L∞), or
    /// Gaussian noise of norm ε (L2), clipped to the pixel range.
    pub fn random_start(&self, images: &Tensor<4>, keys: &SampleKeys, restart: u64) -> Tensor<4> {
        let [b, c, h, w] = images.dims();
        let device = images.device();
        let eps = self.budget.eps;
        let delta = match self.budget.norm {
            Norm::Linf => {
                let t = keys.uniform(restart, [c, h, w], -1.0, 1.0, &device);
                let largest = t
                    .clone()
                    .abs()
                    .reshape([b as i32, -1])
                    .max_dim(1)
                    .reshape([b, 1, 1, 1]);
                t.mul_scalar(eps) / largest
            }
            Norm::L2 => {
                let t = keys.normal(restart, [c, h, w], &device);
                t.clone().mul_scalar(eps) / l2_norms(t).add_scalar(NORM_GUARD)
            }
        };
        (images.clone() + delta).clamp(0.0, 1.0)
    }

    /// Projection onto the ε-ball around `x` and the pixel range, written as torchattacks writes
    /// it (the rounding of the two forms differs).
    fn project(&self, x: &Tensor<4>, point: Tensor<4>, l2_guard: f32) -> Tensor<4> {
        let eps = self.budget.eps;
        match self.budget.norm {
            Norm::Linf => point
                .max_pair(x.clone().sub_scalar(eps))
                .min_pair(x.clone().add_scalar(eps))
                .clamp(0.0, 1.0),
            Norm::L2 => {
                let d = point - x.clone();
                let n = l2_norms(d.clone());
                let scale = n.clone().add_scalar(l2_guard).clamp_max(eps);
                (x.clone() + d / n.add_scalar(NORM_GUARD) * scale).clamp(0.0, 1.0)
            }
        }
    }

    /// The logits, score and input gradient at `point`: one pass, or with [`eot`](Self::eot)
    /// above 1 the mean score and gradient of that many passes (the logits, which decide whether
    /// the point fools the model, of the last, as the reference's loop leaves them). The mean is
    /// taken as offsets from the first pass, so identical passes — a deterministic model —
    /// average to exactly that pass.
    fn score_and_gradient(
        &self,
        model: &AttackedModel,
        point: Tensor<4>,
        objective: &Objective,
    ) -> Result<(Tensor<2>, Tensor<1>, Tensor<4>)> {
        let (mut logits, score, gradient) =
            model.forward_and_gradient_of(point.clone(), objective)?;
        if self.eot == 1 {
            return Ok((logits, score, gradient));
        }
        let mut score_offsets = score.zeros_like();
        let mut gradient_offsets = gradient.zeros_like();
        for _ in 1..self.eot {
            let (pass_logits, pass_score, pass_gradient) =
                model.forward_and_gradient_of(point.clone(), objective)?;
            logits = pass_logits;
            score_offsets = score_offsets + (pass_score - score.clone());
            gradient_offsets = gradient_offsets + (pass_gradient - gradient.clone());
        }
        let n = self.eot as f32;
        Ok((
            logits,
            score + score_offsets.div_scalar(n),
            gradient + gradient_offsets.div_scalar(n),
        ))
    }

    /// One run from `start` (a point of the region), ascending `objective`, whose truth rows
    /// decide which points fool the model.
    pub fn run_from(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        objective: &Objective,
        start: Tensor<4>,
    ) -> Result<ApgdOutcome> {
        self.validate()?;
        let x = images;
        let targets = objective.truth.clone();
        let [b, _, _, _] = x.dims();
        let device = x.device();
        let (first_check, shortest, shrink) = schedule(self.steps);

        let mut x_adv = start;
        let (logits, loss, mut grad) = self.score_and_gradient(model, x_adv.clone(), objective)?;
        let mut correct = decided_correctly(model.task(), logits, targets.clone());
        let mut x_best = x_adv.clone();
        let mut x_best_adv = x_adv.clone();
        let mut grad_best = grad.clone();
        let mut loss_best = loss;
        let zeros = Tensor::<1>::zeros([b], &device);
        // Each step's loss and step size, grown as the steps are taken (never sized by `steps`
        // up front).
        let mut loss_steps: Vec<Tensor<1>> = Vec::new();
        let mut step_sizes: Vec<Tensor<1>> = Vec::new();

        let mut step_size = Tensor::<4>::full([b, 1, 1, 1], 2.0 * self.budget.eps, &device);
        let mut x_adv_old = x_adv.clone();
        let mut k = first_check;
        let mut since_check = 0;
        let mut loss_best_last_check = loss_best.clone();
        let mut reduced_last_check = Tensor::<1, Bool>::full([b], true, &device);

        for i in 0..self.steps {
            let grad2 = x_adv.clone() - x_adv_old;
            x_adv_old = x_adv.clone();
            let a = if i > 0 { MOMENTUM } else { 1.0 };
            step_sizes.push(step_size.clone().reshape([b]));
            // (η·g) / (‖g‖ + guard) in that order: the rounding of torchattacks' step.
            let step = match self.budget.norm {
                Norm::Linf => step_size.clone() * grad.sign(),
                Norm::L2 => {
                    step_size.clone() * grad.clone() / l2_norms(grad).add_scalar(NORM_GUARD)
                }
            };
            let x1 = self.project(&x, x_adv.clone() + step, 0.0);
            let x1 = x_adv.clone() + (x1 - x_adv.clone()).mul_scalar(a) + grad2.mul_scalar(1.0 - a);
            x_adv = self.project(&x, x1, NORM_GUARD);

            let (logits, loss, new_grad) =
                self.score_and_gradient(model, x_adv.clone(), objective)?;
            grad = new_grad;
            let now_correct = decided_correctly(model.task(), logits, targets.clone());
            correct = correct.bool_and(now_correct.clone());
            x_best_adv = where_images(&now_correct.bool_not(), x_adv.clone(), x_best_adv);

            let improved = loss.clone().greater(loss_best.clone());
            x_best = where_images(&improved, x_adv.clone(), x_best);
            grad_best = where_images(&improved, grad.clone(), grad_best);
            loss_best = loss_best.mask_where(improved, loss.clone());
            loss_steps.push(loss);

            since_check += 1;
            if since_check == k {
                // How often the loss rose over the last k steps. Like torchattacks (numpy's
                // index -1 into its N zero rows), the first window compares step 0 with the last
                // row: zero while no step has filled it.
                let at = |j: isize| {
                    loss_steps
                        .get(j.rem_euclid(self.steps as isize) as usize)
                        .cloned()
                        .unwrap_or_else(|| zeros.clone())
                };
                let mut rises = Tensor::<1>::zeros([b], &device);
                for back in 0..k as isize {
                    let j = i as isize - back;
                    rises = rises + at(j).greater(at(j - 1)).float();
                }
                let oscillating = rises.lower_equal_elem(k as f32 * RHO);
                let stalled = reduced_last_check
                    .bool_not()
                    .bool_and(loss_best_last_check.greater_equal(loss_best.clone()));
                let halve = oscillating.bool_or(stalled);
                reduced_last_check = halve.clone();
                loss_best_last_check = loss_best.clone();
                let halve4 = halve.clone().reshape([b, 1, 1, 1]);
                step_size = step_size
                    .clone()
                    .mask_where(halve4, step_size.div_scalar(2.0));
                x_adv = where_images(&halve, x_best.clone(), x_adv);
                grad = where_images(&halve, grad_best.clone(), grad);
                since_check = 0;
                k = k.saturating_sub(shrink).max(shortest);
            }
        }
        Ok(ApgdOutcome {
            best_loss_point: x_best,
            best_adversarial: x_best_adv,
            fooled: correct.bool_not(),
            best_loss: loss_best,
            step_sizes: Tensor::stack(step_sizes, 0),
        })
    }
}

impl Attack for AutoProjectedGradientDescent {
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
        let objective = self.objective(model, labels)?;
        let mut kept: Option<ApgdOutcome> = None;
        for restart in 0..self.restarts as u64 {
            let start = self.random_start(&images, keys, restart);
            let run = self.run_from(model, images.clone(), &objective, start)?;
            kept = Some(match kept {
                None => run,
                Some(kept) => {
                    // A new fooling point beats none; otherwise the higher loss wins.
                    let newly_fooled = kept.fooled.clone().bool_not().bool_and(run.fooled.clone());
                    let stronger = kept
                        .fooled
                        .clone()
                        .bool_or(run.fooled.clone())
                        .bool_not()
                        .bool_and(run.best_loss.clone().greater(kept.best_loss.clone()));
                    let take = newly_fooled.bool_or(stronger);
                    ApgdOutcome {
                        best_loss_point: where_images(
                            &take,
                            run.best_loss_point,
                            kept.best_loss_point,
                        ),
                        best_adversarial: where_images(
                            &take,
                            run.best_adversarial,
                            kept.best_adversarial,
                        ),
                        fooled: kept.fooled.bool_or(run.fooled),
                        step_sizes: kept.step_sizes.mask_where(
                            take.clone().reshape([1, -1]).expand(run.step_sizes.dims()),
                            run.step_sizes,
                        ),
                        best_loss: kept.best_loss.mask_where(take, run.best_loss),
                    }
                }
            });
        }
        Ok(kept.expect("at least one restart").adversarial())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_the_papers_schedule() {
        // N = 100: windows of 22, 19, 16, 13, 10, 7, 6, 6 steps → checks after steps
        // 21, 40, 56, 69, 79, 86, 92, 98 (zero-based), as in Croce & Hein.
        let (first, shortest, shrink) = schedule(100);
        let (mut k, mut at, mut checks) = (first, 0, vec![]);
        while at + k <= 100 {
            at += k;
            checks.push(at - 1);
            k = k.saturating_sub(shrink).max(shortest);
        }
        assert_eq!(checks, [21, 40, 56, 69, 79, 86, 92, 98]);
        assert_eq!(schedule(20), (4, 1, 1));
    }
}
