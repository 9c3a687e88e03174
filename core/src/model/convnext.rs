//! ConvNeXt-Tiny (Liu et al. 2022) with torchvision's structure and parameter names: a 4x4
//! patchify stem, four stages of 3, 3, 9 and 3 blocks (7x7 depthwise convolution, layer norm,
//! an inverted MLP with GELU, a learned per-channel layer scale, a residual) with a layer norm and
//! a 2x2 strided convolution between stages, global pooling, layer norm, one linear head.
//!
//! Stochastic depth (torchvision's `stochastic_depth_prob`) is identity in evaluation, as in
//! torchvision, and left out of training here, as Inception's dropout is: robustdx trainers
//! regularise with data.

use super::architecture::{
    Architecture, ArchitectureInfo, WeightShapes, burn_config_and_module, plain_forward_and_torch_names,
};
use super::layers::{conv, split_index};
use super::convolution::conv2d;
use super::probe::Probe;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};

/// torchvision's layer norm epsilon throughout ConvNeXt.
const EPSILON: f64 = 1e-6;
/// torchvision's initial layer scale: each block starts close to the identity.
const LAYER_SCALE_INIT: f32 = 1e-6;

/// Configuration of [`ConvNeXt`]; the defaults are ConvNeXt-Tiny.
#[derive(Config, Debug, PartialEq)]
pub struct ConvNeXtConfig {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Channels of the first stage (96 for Tiny); each later stage doubles them.
    #[config(default = 96)]
    pub width: usize,
    /// Blocks per stage (3, 3, 9, 3 for Tiny; 3, 3, 27, 3 for Small and Base).
    #[config(default = "vec![3, 3, 9, 3]")]
    pub depths: Vec<usize>,
}

/// torchvision's `LayerNorm2d`: layer norm over the channels of every position.
fn channel_norm(norm: &LayerNorm, x: Tensor<4>) -> Tensor<4> {
    norm.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
}

fn layer_norm(channels: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(channels)
        .with_epsilon(EPSILON)
        .init(device)
}

/// torchvision's `CNBlock`.
#[derive(Module, Debug)]
struct Block {
    depthwise: Conv2d,
    norm: LayerNorm,
    expand: Linear,
    project: Linear,
    /// Per-channel scale of the residual branch, `[channels, 1, 1]`.
    layer_scale: Param<Tensor<3>>,
}

impl Block {
    fn new(dim: usize, device: &Device) -> Self {
        Self {
            depthwise: Conv2dConfig::new([dim, dim], [7, 7])
                .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                .with_groups(dim)
                .init(device),
            norm: layer_norm(dim, device),
            expand: LinearConfig::new(dim, 4 * dim).init(device),
            project: LinearConfig::new(4 * dim, dim).init(device),
            layer_scale: Param::from_tensor(Tensor::full([dim, 1, 1], LAYER_SCALE_INIT, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // The MLP runs channels-last, as torchvision's permutes do.
        let y = conv2d(&self.depthwise, x.clone()).permute([0, 2, 3, 1]);
        let y = self.project.forward(gelu(self.expand.forward(self.norm.forward(y))));
        let y = y.permute([0, 3, 1, 2]);
        x + y * self.layer_scale.val().unsqueeze::<4>()
    }
}

/// The layer norm and 2x2 strided convolution between two stages.
#[derive(Module, Debug)]
struct Downsample {
    norm: LayerNorm,
    conv: Conv2d,
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct ConvNeXt {
    stem: Conv2d,
    stem_norm: LayerNorm,
    stages: Vec<Vec<Block>>,
    /// `downsamples[i]` leads from stage `i` to stage `i + 1`.
    downsamples: Vec<Downsample>,
    head_norm: LayerNorm,
    head: Linear,
}

impl ConvNeXtConfig {
    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> ConvNeXt {
        let dim = |stage: usize| self.width << stage;
        let last = self.depths.len() - 1;
        ConvNeXt {
            stem: conv([self.channels, dim(0)], [4, 4], 4, [0, 0], true, device),
            stem_norm: layer_norm(dim(0), device),
            stages: (0..=last)
                .map(|s| (0..self.depths[s]).map(|_| Block::new(dim(s), device)).collect())
                .collect(),
            downsamples: (0..last)
                .map(|s| Downsample {
                    norm: layer_norm(dim(s), device),
                    conv: conv([dim(s), dim(s + 1)], [2, 2], 2, [0, 0], true, device),
                })
                .collect(),
            head_norm: layer_norm(dim(last), device),
            head: LinearConfig::new(dim(last), self.classes).init(device),
        }
    }

    /// The stem's stride 4 and a stride 2 per later stage.
    pub fn min_input_size(&self) -> usize {
        4 << (self.depths.len() - 1)
    }
}

impl ConvNeXt {
    /// No batch norm to fold: layer norm has no running statistics.
    pub fn fold_batch_norm(&mut self) {}

    /// `x` is already normalised. Returns (logits, penultimate feature). Stages: the four
    /// stages' outputs; the Grad-CAM layer: the last stage (torchvision's `features[-1]`).
    pub fn forward(&self, x: Tensor<4>, probe: &mut dyn Probe) -> (Tensor<2>, Tensor<2>) {
        let mut x = channel_norm(&self.stem_norm, conv2d(&self.stem, x));
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                let down = &self.downsamples[i - 1];
                x = conv2d(&down.conv, channel_norm(&down.norm, x));
            }
            x = stage.iter().fold(x, |x, block| block.forward(x));
            probe.stage(i, &x);
        }
        let x = probe.cam_layer(x);
        let [batch, channels, ..] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2);
        let feature: Tensor<2> = channel_norm(&self.head_norm, pooled).reshape([batch, channels]);
        (self.head.forward(feature.clone()), feature)
    }
}

/// torchvision's name for the parameter at `path`: its `features` `Sequential` numbers the stem
/// 0, stage `i` `2i + 1` and the downsample after it `2i + 2`; a block's layers are
/// `block.{0, 2, 3, 5}` (the permutes and the GELU hold the other places).
pub(crate) fn torch_name(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("stem.") {
        return format!("features.0.0.{rest}");
    }
    if let Some(rest) = path.strip_prefix("stem_norm.") {
        return format!("features.0.1.{rest}");
    }
    if let Some((stage, rest)) = split_index(path, "stages.")
        && let Some((block, rest)) = rest.split_once('.')
    {
        let prefix = format!("features.{}.{block}", 2 * stage + 1);
        for (ours, theirs) in [
            ("depthwise.", "block.0."),
            ("norm.", "block.2."),
            ("expand.", "block.3."),
            ("project.", "block.5."),
        ] {
            if let Some(param) = rest.strip_prefix(ours) {
                return format!("{prefix}.{theirs}{param}");
            }
        }
        return format!("{prefix}.{rest}");
    }
    if let Some((down, rest)) = split_index(path, "downsamples.") {
        let rest = rest.replacen("norm.", "0.", 1).replacen("conv.", "1.", 1);
        return format!("features.{}.{rest}", 2 * down + 2);
    }
    if let Some(rest) = path.strip_prefix("head_norm.") {
        return format!("classifier.0.{rest}");
    }
    if let Some(rest) = path.strip_prefix("head.") {
        return format!("classifier.2.{rest}");
    }
    path.to_string()
}

/// ConvNeXt in the architecture registry.
pub struct ConvNeXtTinyArchitecture;

impl Architecture for ConvNeXtTinyArchitecture {
    burn_config_and_module!(ConvNeXtConfig, ConvNeXt);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "convnext-tiny",
        input_size: 224,
        full_width: 96,
        tiny_width: 8,
        tiny_size: 64,
        width_step: 1,
        multi_label: false,
        about: "torchvision ConvNeXt-Tiny (layer norm, 7x7 depthwise, GELU)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> ConvNeXtConfig {
        ConvNeXtConfig::new(channels, classes).with_width(width)
    }

    plain_forward_and_torch_names!(ConvNeXt);

    fn infer_config(weights: &WeightShapes) -> crate::Result<ConvNeXtConfig> {
        let ends = weights.ends("features.0.0.weight", "classifier.2.weight")?;
        // Stage i is features.{2i + 1}: count its blocks.
        let depths: Vec<usize> = (0..4)
            .map(|stage| weights.count(&format!("features.{}.", 2 * stage + 1), 0))
            .collect();
        if depths.contains(&0) {
            return Err(crate::Error::invalid(format!(
                "a ConvNeXt state dict has four stages of blocks (features.1, .3, .5, .7); \
                 this one has {depths:?} blocks"
            )));
        }
        Ok(ConvNeXtConfig::new(ends.channels, ends.classes)
            .with_width(ends.width)
            .with_depths(depths))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::layers::learnable_parameters;
    use crate::test_support::{cpu, rng_lock};

    #[test]
    fn full_width_has_torchvision_parameter_count() {
        let _rng = rng_lock();
        // torchvision.models.convnext_tiny(): 28,589,128 parameters.
        assert_eq!(
            learnable_parameters(&ConvNeXtConfig::new(3, 1000).init(&cpu())),
            28_589_128
        );
    }

    #[test]
    fn names_follow_torchvision() {
        for (ours, theirs) in [
            ("stem.weight", "features.0.0.weight"),
            ("stem_norm.bias", "features.0.1.bias"),
            ("stages.0.2.depthwise.weight", "features.1.2.block.0.weight"),
            ("stages.2.8.norm.weight", "features.5.8.block.2.weight"),
            ("stages.3.0.expand.bias", "features.7.0.block.3.bias"),
            ("stages.1.1.project.weight", "features.3.1.block.5.weight"),
            ("stages.1.1.layer_scale", "features.3.1.layer_scale"),
            ("downsamples.0.norm.weight", "features.2.0.weight"),
            ("downsamples.2.conv.bias", "features.6.1.bias"),
            ("head_norm.weight", "classifier.0.weight"),
            ("head.bias", "classifier.2.bias"),
        ] {
            assert_eq!(torch_name(ours), theirs);
        }
    }
}
