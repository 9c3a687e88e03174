//! The inner maximisation adversarial training shares: the attack registry's PGD, and the
//! Gaussian start of MART and TRADES.

use burn::Tensor;
use burn::tensor::TensorData;
use serde_json::json;

use super::TrainingBatch;
use crate::attack::{AttackSpec, Convention, Goal, Norm, ProjectedGradientDescent, SampleKeys};
use crate::model::InputSpec;
use crate::{Error, Result};

/// The draw stream of the Gaussian start, apart from PGD's random starts (streams 0, 1, …).
const GAUSSIAN_START: u64 = 1 << 20;

/// L∞ PGD at `eps` with `steps` steps of `step_size` (ε/4 when absent), both in 1/255 units of
/// `convention` (pixels, or the seed's normalised values), built through the attack registry so
/// it is the same PGD a sweep (`attack --convention`) runs.
pub(super) fn pgd(
    eps: f64,
    steps: usize,
    step_size: Option<f64>,
    random_start: bool,
    convention: Convention,
) -> Result<ProjectedGradientDescent> {
    if steps == 0 {
        return Err(Error::invalid("the inner attack needs at least 1 step"));
    }
    let settings = json!({"steps": steps, "step_size": step_size, "random_start": random_start});
    let spec = AttackSpec::new(
        ProjectedGradientDescent::NAME,
        eps as f32,
        Norm::Linf,
        convention,
        Goal::Untargeted,
        settings.as_object().expect("an object"),
    )?;
    ProjectedGradientDescent::from_spec(&spec)
}

/// `x + 0.001·N(0, 1)`, each image's noise keyed by the image: where MART's and TRADES' inner
/// attacks start (the references do not clip it; the first projected step does). The 0.001 is in
/// the convention's units: the seed adds it to normalised images, which is 0.001·std per channel
/// in pixels.
pub(super) fn gaussian_start(
    images: &Tensor<4>,
    keys: &SampleKeys,
    convention: Convention,
    input: &InputSpec,
) -> Tensor<4> {
    let [_, c, h, w] = images.dims();
    let device = images.device();
    let noise = keys.normal(GAUSSIAN_START, [c, h, w], &device);
    let noise = match convention {
        Convention::Pixel => noise.mul_scalar(1e-3),
        Convention::Paper => {
            let std: Vec<f32> = input.std.iter().map(|s| s * 1e-3).collect();
            let std = Tensor::<4>::from_data(TensorData::new(std, [1, c, 1, 1]), &device);
            noise * std.expand(images.dims())
        }
    };
    images.clone() + noise
}

/// β weighs the robustness term against the classification term.
pub(super) fn check_beta(beta: f64) -> Result<()> {
    match beta.is_finite() && beta >= 0.0 {
        true => Ok(()),
        false => Err(Error::invalid(format!("beta must be ≥ 0, got {beta}"))),
    }
}

/// The inner maximisation of MART and TRADES: K steps of α·sign from the Gaussian start.
pub(super) struct GaussianStartPgd {
    attack: ProjectedGradientDescent,
    convention: Convention,
}

impl GaussianStartPgd {
    /// At `eps` with `steps` steps of `step_size` (1/255 units of `convention`); `beta` is the
    /// weight of the objective's robustness term, checked here for both.
    pub(super) fn new(
        eps: f64,
        steps: usize,
        step_size: f64,
        beta: f64,
        convention: Convention,
    ) -> Result<Self> {
        check_beta(beta)?;
        Ok(Self {
            attack: pgd(eps, steps, Some(step_size), false, convention)?,
            convention,
        })
    }

    /// The trained model's logits on the clean images and on x′, where x′ climbs the loss
    /// against `targets` (the labels for MART; the clean prediction for TRADES, which makes the
    /// loss the KL up to a constant).
    pub(super) fn logits(
        &self,
        batch: &TrainingBatch,
        targets: Tensor<2>,
    ) -> Result<(Tensor<2>, Tensor<2>)> {
        let input = &batch.model.card.input;
        let start = gaussian_start(&batch.images, batch.keys, self.convention, input);
        let adversarial =
            self.attack
                .climb_from(batch.attacked(), batch.images.clone(), start, targets)?;
        Ok((
            batch.logits(batch.images.clone()),
            batch.logits(adversarial),
        ))
    }
}
