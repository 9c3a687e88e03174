//! A throwaway defense that only the core's tests register: uniform noise augmentation, the loss
//! on images plus U(−a, a) noise per pixel. It proves that a defense is one file and one line —
//! the registry-parametrised tests train it with nothing else written.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch};
use crate::attack::{Stream, canonical_settings};
use crate::{Error, Result};

/// Its draw stream, apart from the registered defenses'.
const UNIFORM_NOISE: Stream = 3 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UniformNoiseSettings {
    /// Half the width of the noise's range, in 1/255 pixel units.
    pub half_width: f32,
}

impl Default for UniformNoiseSettings {
    fn default() -> Self {
        Self { half_width: 16.0 }
    }
}

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "uniform-augmentation",
        aliases: &[],
        about: "uniform augmentation: the loss on images plus U(−a, a) noise",
        revision: 0,
        adversarial: false,
        canonical: canonical_settings::<UniformNoiseSettings>,
    },
    build: |spec: &DefenseSpec| {
        let settings: UniformNoiseSettings = spec.settings_as()?;
        if !(settings.half_width.is_finite() && settings.half_width > 0.0) {
            return Err(Error::invalid(format!(
                "half_width must be a number > 0, got {}",
                settings.half_width
            )));
        }
        Ok(Box::new(UniformAugmentation {
            half_width: settings.half_width / 255.0,
        }))
    },
};

struct UniformAugmentation {
    half_width: f32,
}

impl Defense for UniformAugmentation {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        None
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        let [_, c, h, w] = batch.images.dims();
        let a = self.half_width;
        let noise = batch
            .keys
            .uniform(UNIFORM_NOISE, [c, h, w], -a, a, batch.device);
        Ok(batch.classification_loss(batch.images.clone() + noise))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DEFENSES, DefenseSpec};

    #[test]
    fn a_new_defense_is_registered_by_its_one_line() {
        assert!(DEFENSES.names().contains(&"uniform-augmentation"));
        let spec = DefenseSpec::new("uniform_augmentation", &serde_json::Map::new()).unwrap();
        assert_eq!(spec.describe(), "uniform-augmentation half_width=16.0");
        let bad = serde_json::json!({"half_width": -1.0});
        assert!(DefenseSpec::new("uniform-augmentation", bad.as_object().unwrap()).is_err());
    }
}
