//! MAAdvT, the seed study's misclassification-aware adversarial training: MART (Wang et al.
//! 2020), as in YisenWang/MART and the seed's `mart.py`.
//!
//! Single-label, with x' from K steps of α·sign(∇ CE) starting at x + 0.001·N(0, 1):
//! `CE(f(x'), y) − log(1.0001 − max_{k≠y} p_k(x')) + β · KL(p(x) ‖ p(x')) · (1 − p_y(x))`, each
//! term a batch mean. The boosted term pushes the strongest wrong class down on the adversarial
//! image; the KL term keeps the prediction stable, weighted toward samples the model still gets
//! wrong.
//!
//! Multi-label is robustdx's own (the seed has none): each label is a two-class problem, so per
//! label `BCE(x') − log(1.0001 − p_wrong(x')) + β · KL(Bern(p) ‖ Bern(p')) · (1 − p_true(x))`,
//! where p_wrong is the probability of the label's wrong state (p' if absent, 1 − p' if present)
//! and p_true that of its true state; the terms are averaged over labels, as BCE is.

use burn::Tensor;
use burn::tensor::activation::{sigmoid, softmax};
use serde::{Deserialize, Serialize};

use super::divergence::kl_terms;
use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch, inner};
use crate::attack::{Convention, canonical_settings};
use crate::{Result, TaskKind};

/// MART's settings in a [`DefenseSpec`]; the defaults are the seed study's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MartSettings {
    /// L∞ radius, 1/255 units (pixels; normalised values in the paper convention, where the
    /// seed's 0.031 is [`SEED_EPS`]).
    pub eps: f64,
    /// K.
    pub steps: usize,
    /// α in 1/255 units (the seed's 0.007 = 1.785/255).
    pub step_size: f64,
    /// β, the weight of the KL term (6 in the seed and in MART's paper).
    pub beta: f64,
}

/// The seed's MART ε, 0.031 in normalised units, in the 1/255 units settings take: what
/// `compare defenses --convention paper` trains MART (and the other ε-trained defenses) at.
pub const SEED_EPS: f64 = 0.031 * 255.0;

impl Default for MartSettings {
    fn default() -> Self {
        Self {
            eps: 8.0,
            steps: 4,
            step_size: 1.785,
            beta: 6.0,
        }
    }
}

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "mart",
        aliases: &[],
        about: "MAAdvT = MART (Wang et al. 2020): boosted adversarial CE plus β·KL weighted by 1 − p_true",
        revision: 0,
        adversarial: true,
        canonical: canonical_settings::<MartSettings>,
    },
    build: |spec: &DefenseSpec| Ok(Box::new(Mart::new(spec.settings_as()?, spec.convention)?)),
};

/// MART training, ready to run: the settings and the inner attack they make.
pub struct Mart {
    settings: MartSettings,
    attack: inner::GaussianStartPgd,
}

impl Mart {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// MART with `settings` in 1/255 units of `convention`; an error if they make no valid inner
    /// attack (ε, steps, step size).
    pub fn new(settings: MartSettings, convention: Convention) -> Result<Self> {
        let attack = inner::GaussianStartPgd::new(
            settings.eps,
            settings.steps,
            settings.step_size,
            settings.beta,
            convention,
        )?;
        Ok(Self { settings, attack })
    }

    /// MART's loss from the clean and adversarial logits (gradients flow through both) and the
    /// one-hot / multi-hot targets: `[1]`.
    pub fn objective(
        kind: TaskKind,
        loss: crate::train::ClassificationLoss,
        beta: f32,
        clean: Tensor<2>,
        adversarial: Tensor<2>,
        targets: Tensor<2>,
    ) -> Tensor<1> {
        let classification = loss.per_sample(kind, adversarial.clone(), targets.clone());
        let kl = kl_terms(kind, clean.clone(), adversarial.clone());
        let boosted_and_robust = if kind.is_multi_label() {
            // +1 for a present finding, −1 for an absent one: σ(sign·logit) is the probability
            // of the label's true state, σ(−sign·logit) that of its wrong state.
            let sign = targets.mul_scalar(2.0).add_scalar(-1.0);
            let wrong = sigmoid(adversarial.mul(sign.clone()).neg());
            let truth = sigmoid(clean.mul(sign));
            let boosted = boosted(wrong);
            let robust = kl * truth.neg().add_scalar(1.000_000_1);
            (boosted + robust.mul_scalar(beta)).mean_dim(1)
        } else {
            let (p_clean, p_adv) = (softmax(clean, 1), softmax(adversarial, 1));
            // The true class sinks below every probability, so the max is over k ≠ y.
            let wrong = (p_adv - targets.clone().mul_scalar(2.0)).max_dim(1);
            let truth = (p_clean * targets).sum_dim(1);
            let robust = kl.sum_dim(1) * truth.neg().add_scalar(1.000_000_1);
            boosted(wrong) + robust.mul_scalar(beta)
        };
        let [batch, _] = boosted_and_robust.dims();
        (classification + boosted_and_robust.reshape([batch])).mean()
    }
}

/// `−log(1.0001 − p + 1e-12)`: large when the wrong answer is likely.
fn boosted(p_wrong: Tensor<2>) -> Tensor<2> {
    p_wrong.neg().add_scalar(1.0001 + 1e-12).log().neg()
}

impl Defense for Mart {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        Some(self.settings.eps as f32)
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        let (clean, adversarial) = self.attack.logits(batch, batch.targets.clone())?;
        Ok(Self::objective(
            batch.model.card.task,
            batch.loss,
            self.settings.beta as f32,
            clean,
            adversarial,
            batch.targets.clone().autodiff(),
        ))
    }
}
