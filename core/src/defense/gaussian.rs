//! Gaussian data augmentation (Cohen, Rosenfeld & Kolter 2019, as in locuslab/smoothing's
//! `train.py`): the classification loss on x + σ·N(0, I). It trains the base classifier of
//! randomized smoothing, which is certified under the same noise: a clean-trained model is
//! rarely right under it, so its smoothed version certifies little.
//!
//! As the reference, the noisy image is not clipped to [0, 1], and the noise is added to the
//! pixels, before the model's own normalisation. Each image's noise is keyed by the image
//! (this epoch's seed, its index), so it is the same in any batch.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch};
use crate::attack::{SampleKeys, Stream, canonical_settings};
use crate::{Error, Result};

/// The draw stream of the augmentation noise, apart from PGD's random starts (streams 0, 1, …)
/// and MART's and TRADES' Gaussian start (`1 << 20`).
pub const AUGMENTATION_NOISE: Stream = 2 << 20;

// The largest σ accepted is the certification's: a model is trained at the σ it is certified at.
use crate::certify::MAX_SIGMA;

/// Gaussian augmentation's settings in a [`DefenseSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianSettings {
    /// Standard deviation of the noise in pixel units of [0, 1] images (the reference's
    /// `--noise_sd`: 0.12, 0.25, 0.5 or 1.0); the σ the model is then smoothed at.
    pub sigma: f64,
}

impl Default for GaussianSettings {
    fn default() -> Self {
        Self { sigma: 0.25 }
    }
}

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "gaussian",
        aliases: &["gaussian-augmentation"],
        about: "Gaussian augmentation (Cohen et al. 2019): the loss on x + σ·N(0, I), the base model of randomized smoothing",
        revision: 0,
        adversarial: false,
        canonical: canonical_settings::<GaussianSettings>,
    },
    build: |spec: &DefenseSpec| Ok(Box::new(GaussianAugmentation::new(spec.settings_as()?)?)),
};

/// Gaussian augmentation, ready to run.
#[derive(Debug)]
pub struct GaussianAugmentation {
    sigma: f32,
}

impl GaussianAugmentation {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// Gaussian augmentation at `settings.sigma`; an error unless 0 < σ ≤ [`MAX_SIGMA`].
    pub fn new(settings: GaussianSettings) -> Result<Self> {
        let sigma = settings.sigma;
        if !(sigma.is_finite() && sigma > 0.0 && sigma <= MAX_SIGMA) {
            return Err(Error::invalid(format!(
                "sigma must be > 0 and ≤ {MAX_SIGMA} (the noise's standard deviation in [0, 1] pixel units), got {sigma}"
            )));
        }
        Ok(Self {
            sigma: sigma as f32,
        })
    }

    /// `images` plus σ times each image's keyed standard normal noise, unclipped.
    pub fn noisy(&self, images: Tensor<4>, keys: &SampleKeys) -> Tensor<4> {
        let [_, c, h, w] = images.dims();
        let noise = keys.normal(AUGMENTATION_NOISE, [c, h, w], &images.device());
        images + noise.mul_scalar(self.sigma)
    }
}

impl Defense for GaussianAugmentation {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        None
    }

    fn smoothing_sigma(&self) -> Option<f32> {
        Some(self.sigma)
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        Ok(batch.classification_loss(self.noisy(batch.images.clone(), batch.keys)))
    }
}

#[cfg(test)]
mod tests;
