//! A throwaway attack that only the core's tests register: uniform noise in the ε-ball, keyed by
//! image. It proves that an attack is one file and one line — the registry-parametrised tests
//! (listing, settings, specs, sweeps, the page's form) pick it up with nothing else written.

use burn::Tensor;
use serde::{Deserialize, Serialize};

use super::registry::{AttackEntry, AttackInfo};
use super::{Attack, AttackedModel, Budget, Goal, SampleKeys, canonical_settings};
use crate::{Label, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UniformNoiseSettings {
    /// Which of an image's noise streams to draw.
    pub stream: u64,
}

impl Default for UniformNoiseSettings {
    fn default() -> Self {
        Self { stream: 7 }
    }
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "uniform-noise",
        about: "Uniform noise: a random point of the ε-ball (a baseline no attack should lose to)",
        revision: 0,
        fixed_goal: Some(Goal::Untargeted),
        needs_generator: false,
        stepwise: false,
        targeted: false,
        gradient_free: true,
        randomised: true,
        dominates: None,
        on_page: true,
        canonical: canonical_settings::<UniformNoiseSettings>,
    },
    build: |spec, _| {
        let settings: UniformNoiseSettings = spec.settings_as()?;
        Ok(Box::new(UniformNoise {
            budget: spec.budget(),
            stream: settings.stream,
        }))
    },
};

struct UniformNoise {
    budget: Budget,
    stream: u64,
}

impl Attack for UniformNoise {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn goal(&self) -> Goal {
        Goal::Untargeted
    }

    fn perturb(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        _labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Tensor<4>> {
        self.budget.validate()?;
        let [_, c, h, w] = images.dims();
        let eps = self.budget.eps;
        let noise = keys.uniform(self.stream, [c, h, w], -eps, eps, &images.device());
        let region = self.budget.region(&images, &model.model().card.input);
        Ok(region.project(&images, images.clone() + noise))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ATTACKS, AttackContext, AttackSpec, Convention, Norm};
    use crate::registry::Entry;

    #[test]
    fn a_new_attack_is_registered_by_its_one_line() {
        let entry = ATTACKS.get("uniform-noise").unwrap();
        assert_eq!(entry.name(), "uniform-noise");
        let spec = AttackSpec::new(
            "uniform-noise",
            8.0,
            Norm::Linf,
            Convention::Pixel,
            super::Goal::LeastLikely,
            &serde_json::Map::new(),
        )
        .unwrap();
        // Its fixed goal wins over the one asked for; its defaults are filled in.
        assert_eq!(spec.goal, super::Goal::Untargeted);
        assert_eq!(spec.settings["stream"], 7);
        let attack = spec.build(&AttackContext::default()).unwrap();
        assert_eq!(attack.name(), "uniform-noise");
    }
}
