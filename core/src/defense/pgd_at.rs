//! PGD adversarial training (Madry et al. 2018): every batch is replaced by its PGD examples,
//! and the classification loss is taken on those alone.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch, inner};
use crate::Result;
use crate::attack::{Attack, Convention, ProjectedGradientDescent, canonical_settings};

/// PGD-AT's settings in a [`DefenseSpec`]; by default ε = 8/255, 10 steps of ε/4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PgdAtSettings {
    /// L∞ radius, 1/255 units (pixels, or normalised values in the paper convention).
    pub eps: f64,
    /// PGD steps per batch (each costs a forward and a backward pass).
    pub steps: usize,
    /// 1/255 units; ε/4 when absent.
    pub step_size: Option<f64>,
}

impl Default for PgdAtSettings {
    fn default() -> Self {
        Self {
            eps: 8.0,
            steps: 10,
            step_size: None,
        }
    }
}

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "pgd-at",
        aliases: &[],
        about: "PGD-AT (Madry et al. 2018): train on PGD examples (random start) at ε",
        revision: 0,
        adversarial: true,
        canonical: canonical_settings::<PgdAtSettings>,
    },
    build: |spec: &DefenseSpec| {
        Ok(Box::new(PgdAdversarialTraining::new(
            spec.settings_as()?,
            spec.convention,
        )?))
    },
};

/// PGD adversarial training, ready to run: the settings and the PGD they make.
pub struct PgdAdversarialTraining {
    settings: PgdAtSettings,
    attack: ProjectedGradientDescent,
}

impl PgdAdversarialTraining {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// PGD-AT with `settings` in 1/255 units of `convention`; an error if they make no valid PGD.
    pub fn new(settings: PgdAtSettings, convention: Convention) -> Result<Self> {
        let attack = inner::pgd(
            settings.eps,
            settings.steps,
            settings.step_size,
            true,
            convention,
        )?;
        Ok(Self { settings, attack })
    }
}

impl Defense for PgdAdversarialTraining {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        Some(self.settings.eps as f32)
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        let adversarial = self.attack.perturb(
            batch.attacked(),
            batch.images.clone(),
            batch.labels,
            batch.keys,
        )?;
        Ok(batch.classification_loss(adversarial))
    }
}
