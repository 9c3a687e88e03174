//! Feature shift: how far an attack moves each stage's activations — per image ‖A(x′) − A(x)‖₂ /
//! ‖A(x)‖₂ at every stage the architecture shows (AttnVGG blocks 1–5, ResNet `layer1`–`layer4`,
//! …), averaged over images. The seed study read the growth of this distance over depth as the
//! attack's effect building up inside the model.

use burn::Tensor;

use crate::model::{DiagnosticModel, Probe};
use crate::{Result, readback};

/// This analysis in the [registry](super::ANALYSES).
pub(super) const ENTRY: super::AnalysisEntry = super::AnalysisEntry {
    name: "feature-shift",
    about: "per stage, the mean relative L2 shift of the activations under the attack",
    revision: 0,
};

/// One stage's mean relative shift.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageShift {
    /// 1-based, in depth order.
    pub stage: usize,
    /// Mean over images of ‖A(x′) − A(x)‖₂ / ‖A(x)‖₂ for this stage's activation A.
    pub relative_l2: f64,
}

/// Keeps every stage's activation.
#[derive(Default)]
pub(crate) struct Stages(pub(crate) Vec<Tensor<4>>);

impl Probe for Stages {
    fn stage(&mut self, _index: usize, x: &Tensor<4>) {
        self.0.push(x.clone());
    }
}

fn stages(model: &DiagnosticModel, images: Tensor<4>) -> Vec<Tensor<4>> {
    let mut probe = Stages::default();
    model.valid().forward_probed(images, &mut probe);
    probe.0
}

/// Per-image L2 norm over channels and positions: `[batch]`.
fn norms(x: Tensor<4>) -> Tensor<1> {
    let [batch, ..] = x.dims();
    x.powi_scalar(2)
        .reshape([batch as i32, -1])
        .sum_dim(1)
        .sqrt()
        .reshape([batch])
}

/// The mean relative shift of every stage between `clean` and `adversarial` (the same images,
/// `[batch, channels, height, width]` pixels).
pub async fn feature_shift(
    model: &DiagnosticModel,
    clean: Tensor<4>,
    adversarial: Tensor<4>,
) -> Result<Vec<StageShift>> {
    stage_shifts(stages(model, clean), stages(model, adversarial)).await
}

/// The mean relative shift of every stage from the activations `before` to `after` (one tensor
/// per stage, from [`Stages`]).
async fn stage_shifts(before: Vec<Tensor<4>>, after: Vec<Tensor<4>>) -> Result<Vec<StageShift>> {
    Ok(stage_ratios(before, after)
        .await?
        .iter()
        .enumerate()
        .map(|(i, values)| StageShift {
            stage: i + 1,
            relative_l2: values.iter().map(|&v| v as f64).sum::<f64>() / values.len().max(1) as f64,
        })
        .collect())
}

/// Per stage, every image's relative shift ‖A(x′) − A(x)‖₂ / ‖A(x)‖₂ from `before` to `after`.
pub(crate) async fn stage_ratios(
    before: Vec<Tensor<4>>,
    after: Vec<Tensor<4>>,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(before.len());
    for (c, a) in before.into_iter().zip(after) {
        let ratio = norms(a - c.clone()) / norms(c).clamp_min(1e-12);
        out.push(readback::floats(ratio).await?);
    }
    Ok(out)
}
