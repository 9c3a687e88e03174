//! A throwaway defense that only the core's tests register: Gaussian noise augmentation (Cohen
//! et al. 2019 train the base classifier of randomized smoothing so). It proves that a defense is
//! one file and one line — the registry-parametrised tests train it with nothing else written.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch};
use crate::attack::canonical_settings;
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoiseSettings {
    /// Standard deviation of the noise, in 1/255 pixel units.
    pub sigma: f32,
}

impl Default for NoiseSettings {
    fn default() -> Self {
        Self { sigma: 64.0 }
    }
}

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "gaussian-augmentation",
        aliases: &[],
        about: "Gaussian augmentation: the loss on images plus N(0, σ²) noise (Cohen et al. 2019)",
        revision: 0,
        adversarial: false,
        canonical: canonical_settings::<NoiseSettings>,
    },
    build: |spec: &DefenseSpec| {
        let settings: NoiseSettings = spec.settings_as()?;
        if !(settings.sigma.is_finite() && settings.sigma >= 0.0) {
            return Err(Error::invalid(format!(
                "sigma must be a number ≥ 0, got {}",
                settings.sigma
            )));
        }
        Ok(Box::new(GaussianAugmentation {
            sigma: settings.sigma / 255.0,
        }))
    },
};

struct GaussianAugmentation {
    sigma: f32,
}

impl Defense for GaussianAugmentation {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        None
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        let [_, c, h, w] = batch.images.dims();
        let noise = batch.keys.normal(0, [c, h, w], batch.device);
        Ok(batch.classification_loss(batch.images.clone() + noise.mul_scalar(self.sigma)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DEFENSES, DefenseSpec};

    #[test]
    fn a_new_defense_is_registered_by_its_one_line() {
        assert!(DEFENSES.names().contains(&"gaussian-augmentation"));
        let spec = DefenseSpec::new("gaussian_augmentation", &serde_json::Map::new()).unwrap();
        assert_eq!(spec.describe(), "gaussian-augmentation sigma=64.0");
        let bad = serde_json::json!({"sigma": -1.0});
        assert!(DefenseSpec::new("gaussian-augmentation", bad.as_object().unwrap()).is_err());
    }
}
