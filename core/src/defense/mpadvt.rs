//! MPAdvT, the seed study's multi-perturbation adversarial training: each batch, with
//! probability ½, is replaced by PGD examples whose budget is itself drawn — ε ~ U(0.01, 0.04)
//! (2.55–10.2 in 1/255 units), 1–9 steps of 1/255 from a random start — and is otherwise trained
//! on clean. The seed drew those numbers in normalised units (the paper convention: 0.24–1.55/255
//! in pixels for its ISIC std); in pixel units, robustdx's default, the same numbers are a budget
//! 4–10 times larger. Training on many budgets at once is
//! what keeps clean accuracy up.

use burn::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch, inner};
use crate::attack::{Attack, Convention, canonical_settings};
use crate::{Error, Result};

/// MPAdvT's settings in a [`DefenseSpec`]; the defaults are the seed study's ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MpadvtSettings {
    /// ε is drawn uniformly from [eps_min, eps_max], 1/255 units of the spec's convention.
    pub eps_min: f64,
    /// Upper end of ε's range, 1/255 units.
    pub eps_max: f64,
    /// The step count is drawn uniformly from steps_min..=steps_max.
    pub steps_min: usize,
    /// Upper end of the step count's range (inclusive).
    pub steps_max: usize,
    /// 1/255 units.
    pub step_size: f64,
    /// Share of batches replaced by adversarial examples.
    pub probability: f64,
}

impl Default for MpadvtSettings {
    fn default() -> Self {
        Self {
            eps_min: 2.55,
            eps_max: 10.2,
            steps_min: 1,
            steps_max: 9,
            step_size: 1.0,
            probability: 0.5,
        }
    }
}

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "mpadvt",
        aliases: &[],
        about: "MPAdvT (the seed study): half the batches become PGD examples at a drawn ε (U(0.01, 0.04)) and step count (1-9)",
        revision: 0,
        adversarial: true,
        canonical: canonical_settings::<MpadvtSettings>,
    },
    build: |spec: &DefenseSpec| {
        Ok(Box::new(MixedPerturbationTraining::new(
            spec.settings_as()?,
            spec.convention,
        )?))
    },
};

/// What one batch gets: clean, or PGD at this budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MpadvtDraw {
    /// Train on the batch as it is.
    Clean,
    /// PGD examples at this budget.
    Adversarial {
        /// ε in 1/255 units of the spec's convention.
        eps: f64,
        /// PGD steps.
        steps: usize,
    },
}

/// MPAdvT training: each batch draws clean or PGD at a random budget ([`MpadvtDraw`]).
pub struct MixedPerturbationTraining {
    settings: MpadvtSettings,
    convention: Convention,
}

impl MixedPerturbationTraining {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// MPAdvT with `settings` in 1/255 units of `convention`; an error for a probability outside
    /// [0, 1], an empty range, or an end of the range that makes no valid PGD.
    pub fn new(settings: MpadvtSettings, convention: Convention) -> Result<Self> {
        let s = &settings;
        if !(0.0..=1.0).contains(&s.probability) {
            return Err(Error::invalid(format!(
                "probability must be in [0, 1], got {}",
                s.probability
            )));
        }
        if !(s.eps_min <= s.eps_max && s.steps_min <= s.steps_max) {
            return Err(Error::invalid(format!(
                "empty range: eps {}..{}, steps {}..={}",
                s.eps_min, s.eps_max, s.steps_min, s.steps_max
            )));
        }
        // Both ends must make a valid attack.
        inner::pgd(s.eps_min, s.steps_min.max(1), Some(s.step_size), true, convention)?;
        inner::pgd(s.eps_max, s.steps_max.max(1), Some(s.step_size), true, convention)?;
        Ok(Self {
            settings,
            convention,
        })
    }

    /// The draw of the batch keyed `batch_key`: the same key always draws the same.
    pub fn draw(&self, batch_key: u64) -> MpadvtDraw {
        let s = &self.settings;
        let mut rng = ChaCha8Rng::seed_from_u64(batch_key);
        if rng.random::<f64>() >= s.probability {
            return MpadvtDraw::Clean;
        }
        let eps = match s.eps_max > s.eps_min {
            true => rng.random_range(s.eps_min..s.eps_max),
            false => s.eps_min,
        };
        MpadvtDraw::Adversarial {
            eps,
            steps: rng.random_range(s.steps_min..=s.steps_max),
        }
    }
}

impl Defense for MixedPerturbationTraining {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        None
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        let images = match self.draw(batch.batch_key) {
            MpadvtDraw::Clean => batch.images.clone(),
            MpadvtDraw::Adversarial { eps, steps } if steps > 0 => {
                inner::pgd(
                    eps,
                    steps,
                    Some(self.settings.step_size),
                    true,
                    self.convention,
                )?
                .perturb(
                    batch.attacked(),
                    batch.images.clone(),
                    batch.labels,
                    batch.keys,
                )?
            }
            MpadvtDraw::Adversarial { .. } => batch.images.clone(),
        };
        Ok(batch.classification_loss(images))
    }
}
