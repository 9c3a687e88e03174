//! Grad-CAM (Selvaraju et al.; jacobgil/pytorch-grad-cam's `GradCAM`): the Grad-CAM layer's
//! channels A_k weighted by the spatial mean of ∂y_c/∂A_k for the explained logit y_c,
//! cam = ReLU(Σ_k w_k A_k), min-max normalised per image (with the reference's 1e-7), resized to
//! the input. The layer's activation is made a gradient leaf by a [`Probe`], so the map is exact
//! for every architecture, on any backend, with asynchronous reads only.

use burn::Tensor;
use burn::tensor::{Device, Int};

use crate::data::Image;
use crate::model::{DiagnosticModel, Probe};
use crate::{Error, Result, readback};

/// This analysis in the [registry](super::ANALYSES).
pub(super) const ENTRY: super::AnalysisEntry = super::AnalysisEntry {
    name: "grad-cam",
    about: "Grad-CAM before and after the attack for the first shown images",
    revision: 0,
};

/// Which output a map explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CamTarget {
    /// Each image's decision: the most probable class, or the most probable finding.
    Predicted,
    /// This class (single-label) or finding (multi-label) for every image.
    Class(usize),
}

/// Makes the Grad-CAM layer's activation a leaf whose gradient the backward pass keeps.
#[derive(Default)]
struct LeafAtCamLayer {
    leaf: Option<Tensor<4>>,
}

impl Probe for LeafAtCamLayer {
    fn cam_layer(&mut self, x: Tensor<4>) -> Tensor<4> {
        let leaf = x.detach().require_grad();
        self.leaf = Some(leaf.clone());
        leaf
    }
}

/// The maps `[batch, 1, h, w]` (at the layer's size, before normalising) from the layer's
/// activation and the gradient of the explained logits with respect to it.
pub fn cam_from(activation: Tensor<4>, gradient: Tensor<4>) -> Tensor<4> {
    let weights = gradient.mean_dim(3).mean_dim(2);
    burn::tensor::activation::relu((weights * activation).sum_dim(1))
}

/// Grad-CAM of `images` (`[batch, channels, height, width]` pixels in [0, 1], on `device`) for
/// `target`: one single-channel map per image in [0, 1], at the input's size, and the class each
/// map explains.
pub async fn grad_cam(
    model: &DiagnosticModel,
    images: Tensor<4>,
    target: CamTarget,
    device: &Device,
) -> Result<(Vec<Image>, Vec<usize>)> {
    let [_, _, height, width] = images.dims();
    let (maps, explained) = grad_cam_at_layer(model, images, target, device).await?;
    let resized = maps.into_iter().map(|m| m.resized(height, width)).collect();
    Ok((resized, explained))
}

/// The same maps at the Grad-CAM layer's own size, before the resize (what the PyTorch reference
/// is compared with).
pub async fn grad_cam_at_layer(
    model: &DiagnosticModel,
    images: Tensor<4>,
    target: CamTarget,
    device: &Device,
) -> Result<(Vec<Image>, Vec<usize>)> {
    let [batch, ..] = images.dims();
    let classes = model.card.class_names.len();
    if let CamTarget::Class(c) = target
        && c >= classes
    {
        return Err(Error::invalid(format!(
            "class {c}: the model has {classes} classes (0 to {})",
            classes - 1
        )));
    }
    let frozen = model.frozen(device);
    let mut probe = LeafAtCamLayer::default();
    let logits = frozen.forward_probed(images.autodiff(), &mut probe).logits;
    let explained: Vec<usize> = match target {
        CamTarget::Class(c) => vec![c; batch],
        // The most probable class or finding is the largest logit either way.
        CamTarget::Predicted => readback::floats(logits.clone().without_autodiff())
            .await?
            .chunks(classes)
            .map(crate::metrics::argmax)
            .collect(),
    };
    let index = Tensor::<2, Int>::from_data(
        burn::tensor::TensorData::new(
            explained.iter().map(|&c| c as i64).collect::<Vec<_>>(),
            [batch, 1],
        ),
        &logits.device(),
    );
    let score = logits.gather(1, index).sum();
    let grads = score.backward();
    let leaf = probe
        .leaf
        .ok_or_else(|| Error::invalid("the model showed no Grad-CAM layer"))?;
    let gradient = leaf.grad(&grads).ok_or_else(|| {
        Error::invalid("the explained logit does not depend on the Grad-CAM layer")
    })?;
    let maps = cam_from(leaf.without_autodiff(), gradient);
    let [_, _, h, w] = maps.dims();
    let values = readback::floats(maps).await?;
    let maps = values
        .chunks(h * w)
        .map(|m| {
            // The reference: subtract the minimum, divide by (1e-7 + the new maximum).
            let low = m.iter().copied().fold(f32::INFINITY, f32::min);
            let high = m.iter().map(|v| v - low).fold(0.0f32, f32::max);
            let scaled = m.iter().map(|v| (v - low) / (1e-7 + high)).collect();
            Image::new(1, h, w, scaled)
        })
        .collect();
    Ok((maps, explained))
}
