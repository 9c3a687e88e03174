//! TRADES (Zhang et al. 2019), the strong baseline: the classification loss on clean images plus
//! β times the divergence of the prediction on x' from the prediction on x, where x' maximises
//! that divergence (K steps of α·sign from x + 0.001·N(0, 1)). Multi-label: the per-label
//! Bernoulli divergence, averaged over labels.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::divergence::per_sample_kl;
use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch, inner};
use crate::attack::{Convention, canonical_settings};
use crate::{Result, TaskKind, task};

/// TRADES' settings in a [`DefenseSpec`]; the defaults are the reference code's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TradesSettings {
    /// L∞ radius, 1/255 units (the reference's 0.031 ≈ 8/255).
    pub eps: f64,
    /// K, the steps of the KL-maximising inner attack.
    pub steps: usize,
    /// 1/255 units (0.007 = 1.785/255).
    pub step_size: f64,
    /// β, the weight of the divergence against the clean loss (6: the paper's robust end).
    pub beta: f64,
}

impl Default for TradesSettings {
    fn default() -> Self {
        Self {
            eps: 8.0,
            steps: 10,
            step_size: 1.785,
            beta: 6.0,
        }
    }
}

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "trades",
        aliases: &[],
        about: "TRADES (Zhang et al. 2019): clean loss plus β·KL(p(x) ‖ p(x')) at the KL-maximising x'",
        revision: 0,
        adversarial: true,
        canonical: canonical_settings::<TradesSettings>,
    },
    build: |spec: &DefenseSpec| Ok(Box::new(Trades::new(spec.settings_as()?, spec.convention)?)),
};

/// TRADES training, ready to run: the settings and the inner attack they make.
pub struct Trades {
    settings: TradesSettings,
    attack: inner::GaussianStartPgd,
}

impl Trades {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// TRADES with `settings` in 1/255 units of `convention`; an error if they make no valid
    /// inner attack (ε, steps, step size).
    pub fn new(settings: TradesSettings, convention: Convention) -> Result<Self> {
        let attack = inner::GaussianStartPgd::new(
            settings.eps,
            settings.steps,
            settings.step_size,
            settings.beta,
            convention,
        )?;
        Ok(Self { settings, attack })
    }

    /// TRADES' loss from the clean and adversarial logits and the targets: `[1]`.
    pub fn objective(
        kind: TaskKind,
        loss: crate::train::ClassificationLoss,
        beta: f32,
        clean: Tensor<2>,
        adversarial: Tensor<2>,
        targets: Tensor<2>,
    ) -> Tensor<1> {
        let classification = loss.per_sample(kind, clean.clone(), targets);
        (classification + per_sample_kl(kind, clean, adversarial).mul_scalar(beta)).mean()
    }
}

impl Defense for Trades {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        Some(self.settings.eps as f32)
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        let kind = batch.model.card.task;
        // Soft targets: the cross-entropy (BCE) against the clean prediction differs from the
        // KL only by that prediction's entropy, a constant in x', so PGD on it climbs the KL.
        let clean_probs = task::probabilities(kind, batch.attacked().logits(batch.images.clone()));
        let (clean, adversarial) = self.attack.logits(batch, clean_probs)?;
        Ok(Self::objective(
            kind,
            batch.loss,
            self.settings.beta as f32,
            clean,
            adversarial,
            batch.targets.clone().autodiff(),
        ))
    }
}
