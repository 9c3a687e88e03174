//! FGSM (Goodfellow et al. 2015): one step of size ε along the sign of the input gradient.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::registry::{AttackEntry, AttackInfo};
use super::{Attack, AttackedModel, Budget, Goal, SampleKeys};
use crate::registry::NoSettings;
use crate::registry::canonical_settings;
use crate::{Label, Result};

/// FGSM, ready to run: one signed-gradient step of size ε.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FastGradientSignMethod {
    /// The threat model; the single step is ε long in its norm.
    pub budget: Budget,
    /// Untargeted, or towards a class or the least likely one.
    pub goal: Goal,
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "fgsm",
        about: "FGSM: one step of ε along the sign of the gradient (Goodfellow et al. 2015)",
        fixed_goal: None,
        revision: 0,
        stepwise: false,
        targeted: true,
        gradient_free: false,
        randomised: false,
        needs_generator: false,
        dominates: None,
        on_page: true,
        canonical: canonical_settings::<NoSettings>,
    },
    build: |spec, _| {
        Ok(Box::new(FastGradientSignMethod {
            budget: spec.budget(),
            goal: spec.goal,
        }))
    },
};

impl FastGradientSignMethod {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;
}

impl Attack for FastGradientSignMethod {
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
        _keys: &SampleKeys,
    ) -> Result<Tensor<4>> {
        self.budget.validate()?;
        if self.budget.eps == 0.0 {
            return Ok(images);
        }
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
        let (_, gradient) = model.loss_and_gradient(images.clone(), targets)?;
        let step = region.steepest_step(
            gradient,
            self.budget.eps,
            self.budget.eps,
            self.goal.direction(),
        );
        Ok(region.project(&images, images.clone() + step))
    }
}
