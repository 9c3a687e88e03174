//! PGD (Madry et al. 2018): repeated gradient steps, each projected back onto the ε-ball around
//! the clean image and the valid pixel range; L∞ or L2, optional random start and restarts.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::budget::where_images;
use super::registry::{AttackEntry, AttackInfo, AttackSpec};
use super::{Attack, AttackedModel, Budget, Goal, Region, SampleKeys};
use crate::registry::canonical_settings;
use crate::{Error, Label, Result};

/// PGD, ready to run: the budget, the step schedule and the restarts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProjectedGradientDescent {
    /// The threat model.
    pub budget: Budget,
    /// In the units of ε.
    pub step_size: f32,
    /// Gradient steps per run.
    pub steps: usize,
    /// Start at a uniformly random point of the ε-ball instead of the clean image.
    pub random_start: bool,
    /// Independent runs from different random starts; each sample keeps its strongest.
    pub restarts: usize,
    /// Untargeted, or towards a class or the least likely one.
    pub goal: Goal,
}

/// PGD's own settings in an [`AttackSpec`](super::AttackSpec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PgdSettings {
    /// Steps per run (10 by default).
    pub steps: usize,
    /// In 1/255 units, like ε; ε/4 when absent.
    pub step_size: Option<f32>,
    /// Independent runs from different random starts; each image keeps its strongest.
    pub restarts: usize,
    /// Start each run at a random point of the ε-ball (Madry et al.); off: from the clean image.
    pub random_start: bool,
}

impl Default for PgdSettings {
    fn default() -> Self {
        Self {
            steps: 10,
            step_size: None,
            restarts: 1,
            random_start: true,
        }
    }
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "pgd",
        about: "PGD: repeated projected gradient steps from a random start (Madry et al. 2018)",
        fixed_goal: None,
        revision: 0,
        stepwise: true,
        targeted: true,
        gradient_free: false,
        randomised: true,
        needs_generator: false,
        dominates: None,
        on_page: true,
        canonical: canonical_settings::<PgdSettings>,
    },
    build: |spec, _| Ok(Box::new(ProjectedGradientDescent::from_spec(spec)?)),
};

impl ProjectedGradientDescent {
    /// Its registry name, for the code that runs PGD itself (the defenses' inner attack).
    pub const NAME: &'static str = ENTRY.info.name;

    /// The PGD a registry spec describes (its step size in 1/255 units, ε/4 when absent).
    pub fn from_spec(spec: &AttackSpec) -> Result<Self> {
        let s: PgdSettings = spec.settings_as()?;
        let budget = spec.budget();
        let attack = Self {
            budget,
            step_size: s.step_size.map_or(budget.eps / 4.0, |a| a / 255.0),
            steps: s.steps,
            random_start: s.random_start,
            restarts: s.restarts,
            goal: spec.goal,
        };
        attack.validate()?;
        Ok(attack)
    }

    /// The common setting: L∞ ε, 10 steps of ε/4, random start, one run.
    pub fn linf(eps: f32, steps: usize) -> Self {
        Self {
            budget: Budget::linf(eps),
            step_size: eps / 4.0,
            steps,
            random_start: true,
            restarts: 1,
            goal: Goal::Untargeted,
        }
    }

    /// Checks the budget and that the step size is finite and ≥ 0 and there is at least one run.
    pub fn validate(&self) -> Result<()> {
        self.budget.validate()?;
        if !self.step_size.is_finite() || self.step_size < 0.0 {
            return Err(Error::invalid(format!(
                "step size must be ≥ 0, got {}",
                self.step_size
            )));
        }
        if self.restarts == 0 {
            return Err(Error::invalid("restarts must be at least 1"));
        }
        super::registry::check_steps(Self::NAME, self.steps as u64)?;
        if self.restarts > 1 && !self.random_start {
            return Err(Error::invalid(
                "restarts without a random start would all be the same run",
            ));
        }
        Ok(())
    }

    /// A run that the caller advances one step at a time (the browser animates it). `restart`
    /// picks the random start's stream: run r of an image starts at the same point everywhere.
    pub fn start<'a>(
        &self,
        model: &'a AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
        restart: u64,
    ) -> Result<PgdRun<'a>> {
        self.validate()?;
        let region = self.budget.region(&images, &model.model().card.input);
        let clean_logits = self
            .goal
            .is_targeted()
            .then(|| model.logits(images.clone()));
        let targets = self.goal.targets(
            labels,
            model.task(),
            model.classes(),
            clean_logits,
            &images.device(),
        )?;
        let adversarial = match self.random_start && self.budget.eps > 0.0 {
            true => region.random_start(&images, keys, restart),
            false => images.clone(),
        };
        Ok(PgdRun {
            attack: *self,
            model,
            clean: images,
            targets,
            region,
            adversarial,
            step: 0,
        })
    }

    /// A run from `start` (already near `images`) that climbs the loss against `targets`, which
    /// may be soft: probabilities as targets make the loss a divergence from them, the inner
    /// maximisation of TRADES. What defenses with their own starting point use.
    pub fn start_at<'a>(
        &self,
        model: &'a AttackedModel,
        images: Tensor<4>,
        start: Tensor<4>,
        targets: Tensor<2>,
    ) -> Result<PgdRun<'a>> {
        self.validate()?;
        Ok(PgdRun {
            attack: *self,
            model,
            region: self.budget.region(&images, &model.model().card.input),
            clean: images,
            targets,
            adversarial: start,
            step: 0,
        })
    }

    /// Every step of [`ProjectedGradientDescent::start_at`]'s run: the final images.
    pub fn climb_from(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        start: Tensor<4>,
        targets: Tensor<2>,
    ) -> Result<Tensor<4>> {
        let mut run = self.start_at(model, images, start, targets)?;
        while !run.is_finished() {
            run.step()?;
        }
        Ok(run.adversarial())
    }
}

/// One PGD run in progress.
pub struct PgdRun<'a> {
    attack: ProjectedGradientDescent,
    model: &'a AttackedModel,
    clean: Tensor<4>,
    targets: Tensor<2>,
    region: Region,
    adversarial: Tensor<4>,
    step: usize,
}

impl PgdRun<'_> {
    /// Whether every step has been taken.
    pub fn is_finished(&self) -> bool {
        self.step >= self.attack.steps
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.step
    }

    /// Takes one step; returns each sample's loss at the point the step started from, left on
    /// the device: reading it back is the caller's choice (a sweep never does; the browser
    /// reads it asynchronously to draw the loss curve).
    pub fn step(&mut self) -> Result<Tensor<1>> {
        Ok(self.step_with_logits()?.1)
    }

    /// [`PgdRun::step`], also returning the logits at the point the step started from: the
    /// model's view of the previous iterate, which a caller showing every iterate would
    /// otherwise pay a forward pass of its own for.
    pub fn step_with_logits(&mut self) -> Result<(Tensor<2>, Tensor<1>)> {
        let (logits, loss, gradient) = self
            .model
            .forward_and_gradient(self.adversarial.clone(), self.targets.clone())?;
        let a = &self.attack;
        let next = self.region.update(
            &self.clean,
            self.adversarial.clone(),
            gradient,
            a.step_size,
            a.budget.eps,
            a.goal.direction(),
        );
        self.adversarial = next;
        self.step += 1;
        Ok((logits, loss))
    }

    /// The current adversarial images.
    pub fn adversarial(&self) -> Tensor<4> {
        self.adversarial.clone()
    }

    /// Each sample's loss against the targets at the current images.
    pub fn final_losses(&self) -> Result<Tensor<1>> {
        let logits = self.model.logits(self.adversarial.clone());
        Ok(crate::task::per_sample_loss(
            self.model.task(),
            logits,
            self.targets.clone(),
        ))
    }
}

impl Attack for ProjectedGradientDescent {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn goal(&self) -> Goal {
        self.goal
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
        let mut best: Option<(Tensor<4>, Tensor<1>)> = None;
        for restart in 0..self.restarts {
            let mut run = self.start(model, images.clone(), labels, keys, restart as u64)?;
            while !run.is_finished() {
                run.step()?;
            }
            if self.restarts == 1 {
                // Nothing to compare with: the score would cost a forward pass for nothing.
                return Ok(run.adversarial());
            }
            // The attack's objective, signed so that larger is stronger.
            let score = run.final_losses()?.mul_scalar(self.goal.direction());
            let adversarial = run.adversarial();
            best = Some(match best {
                None => (adversarial, score),
                Some((kept, kept_score)) => {
                    let better = score.clone().greater(kept_score.clone());
                    (
                        where_images(&better, adversarial, kept),
                        kept_score.mask_where(better, score),
                    )
                }
            });
        }
        Ok(best.expect("at least one restart").0)
    }
}
