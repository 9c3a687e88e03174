//! ResNet-50 (He et al. 2016) with torchvision's structure and parameter names: the stem of
//! ResNet-18, four stages of 3, 4, 6 and 3 bottleneck blocks (torchvision's "v1.5": the stride
//! sits on the 3x3 convolution), global pooling, one linear head. The backbone of most medical
//! imaging papers since 2016, and what `torch.save(resnet50(...).state_dict())` holds.

use super::architecture::{
    Architecture, ArchitectureInfo, WeightShapes, burn_config_and_module, plain_forward_and_torch_names,
};
use super::layers::{batch_norm, conv, conv_norm, fold_batch_norm};
use super::resnet::{Downsample, ResNet, ResidualBlock, torch_name};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::BatchNorm;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A bottleneck's output has this many times its inner channels.
const EXPANSION: usize = 4;
/// Blocks per stage.
const DEPTHS: [usize; 4] = [3, 4, 6, 3];

/// Configuration of [`ResNet50`].
#[derive(Config, Debug, PartialEq)]
pub struct ResNet50Config {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Channels of the stem and the first stage's 3x3 convolutions (64 in torchvision); stages
    /// double it and each block's output is four times it.
    #[config(default = 64)]
    pub width: usize,
}

/// 1x1 down to `inner` channels, 3x3 at the block's stride, 1x1 up to `4·inner`, plus the
/// shortcut.
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: Conv2d,
    bn1: Option<BatchNorm>,
    conv2: Conv2d,
    bn2: Option<BatchNorm>,
    conv3: Conv2d,
    bn3: Option<BatchNorm>,
    downsample: Option<Downsample>,
}

impl Bottleneck {
    fn new(input: usize, inner: usize, stride: usize, device: &Device) -> Self {
        let output = EXPANSION * inner;
        Self {
            conv1: conv([input, inner], [1, 1], 1, [0, 0], false, device),
            bn1: Some(batch_norm(inner, 1e-5, device)),
            conv2: conv([inner, inner], [3, 3], stride, [1, 1], false, device),
            bn2: Some(batch_norm(inner, 1e-5, device)),
            conv3: conv([inner, output], [1, 1], 1, [0, 0], false, device),
            bn3: Some(batch_norm(output, 1e-5, device)),
            downsample: Downsample::where_needed(input, output, stride, device),
        }
    }
}

impl ResidualBlock for Bottleneck {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = Downsample::shortcut(&self.downsample, x.clone());
        let y = relu(conv_norm(&self.conv1, &self.bn1, x));
        let y = relu(conv_norm(&self.conv2, &self.bn2, y));
        relu(conv_norm(&self.conv3, &self.bn3, y) + identity)
    }

    fn fold_batch_norm(&mut self) {
        fold_batch_norm(&mut self.conv1, &mut self.bn1);
        fold_batch_norm(&mut self.conv2, &mut self.bn2);
        fold_batch_norm(&mut self.conv3, &mut self.bn3);
        Downsample::fold_batch_norm(&mut self.downsample);
    }
}

/// See the module docs.
pub type ResNet50 = ResNet<Bottleneck>;

impl ResNet50Config {
    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> ResNet50 {
        let w = self.width;
        let mut input = w;
        let mut stage = |index: usize| -> Vec<Bottleneck> {
            let inner = w << index;
            let stride = if index == 0 { 1 } else { 2 };
            (0..DEPTHS[index])
                .map(|b| {
                    let block =
                        Bottleneck::new(input, inner, if b == 0 { stride } else { 1 }, device);
                    input = EXPANSION * inner;
                    block
                })
                .collect()
        };
        let stages = [stage(0), stage(1), stage(2), stage(3)];
        ResNet::assemble(
            (self.channels, w),
            stages,
            (EXPANSION * 8 * w, self.classes),
            device,
        )
    }

    /// Five stride-2 steps: smaller inputs would vanish.
    pub fn min_input_size(&self) -> usize {
        32
    }
}

/// ResNet50 in the architecture registry.
pub struct ResNet50Architecture;

impl Architecture for ResNet50Architecture {
    burn_config_and_module!(ResNet50Config, ResNet50);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "resnet-50",
        input_size: 224,
        full_width: 64,
        tiny_width: 4,
        tiny_size: 64,
        width_step: 1,
        multi_label: false,
        about: "torchvision ResNet-50 (bottleneck blocks)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> ResNet50Config {
        ResNet50Config::new(channels, classes).with_width(width)
    }

    plain_forward_and_torch_names!(ResNet50);

    fn infer_config(weights: &WeightShapes) -> crate::Result<ResNet50Config> {
        let ends = weights.ends("conv1.weight", "fc.weight")?;
        // A ResNet-18 state dict has the same stem and head; its blocks have no conv3.
        weights.dims("layer1.0.conv3.weight", 4)?;
        Ok(ResNet50Config::new(ends.channels, ends.classes).with_width(ends.width))
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
        // torchvision.models.resnet50(): 25,557,032 parameters.
        assert_eq!(
            learnable_parameters(&ResNet50Config::new(3, 1000).init(&cpu())),
            25_557_032
        );
    }
}
