//! ResNet-50 (He et al. 2016) with torchvision's structure and parameter names: the stem of
//! ResNet-18, four stages of 3, 4, 6 and 3 bottleneck blocks (torchvision's "v1.5": the stride
//! sits on the 3x3 convolution), global pooling, one linear head. The backbone of most medical
//! imaging papers since 2016, and what `torch.save(resnet50(...).state_dict())` holds.

use super::architecture::{
    Architecture, ArchitectureInfo, ForwardOutput, WeightShapes, burn_config_and_module,
};
use super::layers::{batch_norm, conv, conv_norm, fold_batch_norm};
use super::probe::Probe;
use super::resnet::Downsample;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
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
struct Bottleneck {
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
#[derive(Module, Debug)]
pub struct ResNet50 {
    conv1: Conv2d,
    bn1: Option<BatchNorm>,
    maxpool: MaxPool2d,
    layer1: Vec<Bottleneck>,
    layer2: Vec<Bottleneck>,
    layer3: Vec<Bottleneck>,
    layer4: Vec<Bottleneck>,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

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
        let (layer1, layer2, layer3, layer4) = (stage(0), stage(1), stage(2), stage(3));
        ResNet50 {
            conv1: conv([self.channels, w], [7, 7], 2, [3, 3], false, device),
            bn1: Some(batch_norm(w, 1e-5, device)),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(EXPANSION * 8 * w, self.classes).init(device),
        }
    }

    /// Five stride-2 steps: smaller inputs would vanish.
    pub fn min_input_size(&self) -> usize {
        32
    }
}

impl ResNet50 {
    /// Batch norm folded into each convolution (an inference copy).
    pub fn fold_batch_norm(&mut self) {
        fold_batch_norm(&mut self.conv1, &mut self.bn1);
        for layer in [
            &mut self.layer1,
            &mut self.layer2,
            &mut self.layer3,
            &mut self.layer4,
        ] {
            layer.iter_mut().for_each(Bottleneck::fold_batch_norm);
        }
    }

    /// `x` is already normalised. Returns (logits, penultimate feature). Stages: `layer1` to
    /// `layer4`; the Grad-CAM layer: `layer4`.
    pub fn forward(&self, x: Tensor<4>, probe: &mut dyn Probe) -> (Tensor<2>, Tensor<2>) {
        let mut x = self
            .maxpool
            .forward(relu(conv_norm(&self.conv1, &self.bn1, x)));
        for (i, layer) in [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .enumerate()
        {
            x = layer.iter().fold(x, |x, block| block.forward(x));
            probe.stage(i, &x);
        }
        let x = probe.cam_layer(x);
        let feature: Tensor<2> = self.avgpool.forward(x).flatten(1, 3);
        (self.fc.forward(feature.clone()), feature)
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

    fn forward(network: &ResNet50, x: Tensor<4>, probe: &mut dyn Probe) -> ForwardOutput {
        let (logits, feature) = network.forward(x, probe);
        (logits, Vec::new(), feature)
    }

    fn torch_name(path: &str) -> String {
        super::resnet::torch_name(path)
    }

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
