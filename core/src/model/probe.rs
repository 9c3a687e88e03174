//! A look inside a forward pass, for the analyses: every architecture shows its stages (the
//! blocks whose activations feature shift compares) to a probe, and hands it the Grad-CAM layer's
//! activation, continuing with what the probe returns (a gradient leaf, for Grad-CAM).

use burn::Tensor;

/// What a forward pass shows of itself (see the module doc); both hooks default to doing nothing.
pub trait Probe {
    /// Stage `index` (0-based, in depth order) produced `x`.
    fn stage(&mut self, _index: usize, _x: &Tensor<4>) {}

    /// The Grad-CAM layer (SPEC: ResNet `layer4`, VGG / AttnVGG the last conv block's output,
    /// DenseNet `norm5`, Inception `Mixed_7c`, small-cnn its last block) produced `x`; the pass
    /// continues with the returned tensor.
    fn cam_layer(&mut self, x: Tensor<4>) -> Tensor<4> {
        x
    }
}

/// Looks at nothing: a plain forward pass.
pub struct NoProbe;

impl Probe for NoProbe {}
