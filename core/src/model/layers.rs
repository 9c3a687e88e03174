//! The few layer shapes the torchvision architectures are built from, so each architecture file
//! says only how they connect.

use super::convolution::conv2d;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A 2-d convolution with torchvision's explicit padding (PyTorch pads symmetrically).
pub(crate) fn conv(
    channels: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, kernel)
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding[0], padding[1], padding[0], padding[1],
        ))
        .with_bias(bias)
        .init(device)
}

/// Batch norm with PyTorch's defaults (momentum 0.1) and the given epsilon.
pub(crate) fn batch_norm(channels: usize, epsilon: f64, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(epsilon)
        .init(device)
}

/// `norm(conv(x))`, or `conv(x)` once the norm is folded into the convolution.
pub(crate) fn conv_norm(conv: &Conv2d, norm: &Option<BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    let y = conv2d(conv, x);
    match norm {
        Some(norm) => norm.forward(y),
        None => y,
    }
}

/// Folds an inference-mode batch norm into the convolution it follows, so a frozen copy runs one
/// convolution with a bias where it ran a convolution and four element-wise passes (and their
/// four backward passes under attack). With σ = √(running var + ε):
/// `w' = w·γ/σ` per output channel and `b' = (b − running mean)·γ/σ + β`.
/// Only for inference: the folded layer has no batch statistics to train.
pub(crate) fn fold_batch_norm(conv: &mut Conv2d, norm: &mut Option<BatchNorm>) {
    let Some(bn) = norm.take() else {
        return;
    };
    let weight = conv.weight.val();
    let [out, ..] = weight.dims();
    let device = weight.device();
    let scale = bn.gamma.val() / bn.running_var.value().add_scalar(bn.epsilon).sqrt();
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([out], &device),
    };
    let bias = (bias - bn.running_mean.value()) * scale.clone() + bn.beta.val();
    conv.weight = Param::from_tensor(weight * scale.reshape([out, 1, 1, 1]));
    conv.bias = Some(Param::from_tensor(bias));
}

/// Convolution without bias, batch norm, ReLU: torchvision's `BasicConv2d` (field names `conv`,
/// `bn`), the unit of Inception-v3 and of the VGG trunk (where the conv has a bias).
#[derive(Module, Debug)]
pub(crate) struct ConvBnRelu {
    pub conv: Conv2d,
    /// `None` once folded into `conv` ([`fold_batch_norm`]).
    pub bn: Option<BatchNorm>,
}

impl ConvBnRelu {
    pub fn new(conv: Conv2d, epsilon: f64, device: &Device) -> Self {
        let channels = conv.weight.dims()[0];
        Self {
            conv,
            bn: Some(batch_norm(channels, epsilon, device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(conv_norm(&self.conv, &self.bn, x))
    }

    pub fn fold_batch_norm(&mut self) {
        fold_batch_norm(&mut self.conv, &mut self.bn);
    }
}

/// The index that follows `prefix` in `path` (`"layers.3.conv"`, `"layers."` → 3), and the rest.
pub(crate) fn split_index<'a>(path: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let rest = path.strip_prefix(prefix)?;
    let (index, rest) = rest.split_once('.')?;
    Some((index.parse().ok()?, rest))
}

/// Learnable parameters, as PyTorch counts them: batch norm's running statistics are state, not
/// parameters (burn's `num_params` counts them too).
pub(crate) fn learnable_parameters<M: burn::store::ModuleSnapshot>(module: &M) -> usize {
    module
        .collect(None, None, false)
        .iter()
        .filter(|t| !t.name.ends_with("running_mean") && !t.name.ends_with("running_var"))
        .map(|t| t.shape.num_elements())
        .sum()
}
