//! ResNet-18 (He et al. 2016) with torchvision's structure and parameter names, for quick runs
//! and the browser: a 7x7 stem, four stages of two basic blocks, global pooling, one linear head.

use super::architecture::{
    Architecture, ArchitectureInfo, WeightShapes, burn_config_and_module, plain_forward_and_torch_names,
};
use super::probe::Probe;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::layers::{batch_norm, conv, conv_norm, fold_batch_norm};

/// Configuration of [`ResNet18`].
#[derive(Config, Debug, PartialEq)]
pub struct ResNet18Config {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Channels of the stem and the first stage (64 in torchvision); stages double it.
    #[config(default = 64)]
    pub width: usize,
}

/// The strided 1x1 projection of a residual block's shortcut where the shape changes
/// (torchvision's `downsample` `Sequential`: convolution, batch norm).
#[derive(Module, Debug)]
pub(super) struct Downsample {
    conv: Conv2d,
    bn: Option<BatchNorm>,
}

impl Downsample {
    /// The projection from `input` to `output` channels at `stride`, or none where the
    /// shortcut keeps the shape.
    pub(super) fn where_needed(
        input: usize,
        output: usize,
        stride: usize,
        device: &Device,
    ) -> Option<Self> {
        (stride != 1 || input != output).then(|| Self {
            conv: conv([input, output], [1, 1], stride, [0, 0], false, device),
            bn: Some(batch_norm(output, 1e-5, device)),
        })
    }

    /// The shortcut of a block: `x` itself, or its projection.
    pub(super) fn shortcut(this: &Option<Self>, x: Tensor<4>) -> Tensor<4> {
        match this {
            Some(d) => conv_norm(&d.conv, &d.bn, x),
            None => x,
        }
    }

    pub(super) fn fold_batch_norm(this: &mut Option<Self>) {
        if let Some(d) = this {
            fold_batch_norm(&mut d.conv, &mut d.bn);
        }
    }
}

/// ResNet-18's block: two 3x3 convolutions and the shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: Option<BatchNorm>,
    conv2: Conv2d,
    bn2: Option<BatchNorm>,
    /// A strided 1x1 projection where the shape changes.
    downsample: Option<Downsample>,
}

impl BasicBlock {
    fn new(input: usize, output: usize, stride: usize, device: &Device) -> Self {
        let downsample = Downsample::where_needed(input, output, stride, device);
        Self {
            conv1: conv([input, output], [3, 3], stride, [1, 1], false, device),
            bn1: Some(batch_norm(output, 1e-5, device)),
            conv2: conv([output, output], [3, 3], 1, [1, 1], false, device),
            bn2: Some(batch_norm(output, 1e-5, device)),
            downsample,
        }
    }

}

impl ResidualBlock for BasicBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = Downsample::shortcut(&self.downsample, x.clone());
        let y = relu(conv_norm(&self.conv1, &self.bn1, x));
        relu(conv_norm(&self.conv2, &self.bn2, y) + identity)
    }

    fn fold_batch_norm(&mut self) {
        fold_batch_norm(&mut self.conv1, &mut self.bn1);
        fold_batch_norm(&mut self.conv2, &mut self.bn2);
        Downsample::fold_batch_norm(&mut self.downsample);
    }
}

/// A block of a ResNet stage (ResNet-18's [`BasicBlock`], ResNet-50's bottleneck): the rest of
/// the network is the same around either.
pub trait ResidualBlock {
    /// The block's output, shortcut added.
    fn forward(&self, x: Tensor<4>) -> Tensor<4>;
    /// Batch norm folded into the convolutions before it.
    fn fold_batch_norm(&mut self);
}

/// torchvision's ResNet around its blocks `B`: a 7x7 stem, four stages, global pooling, one
/// linear head.
#[derive(Module, Debug)]
pub struct ResNet<B> {
    conv1: Conv2d,
    bn1: Option<BatchNorm>,
    maxpool: MaxPool2d,
    layer1: Vec<B>,
    layer2: Vec<B>,
    layer3: Vec<B>,
    layer4: Vec<B>,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

/// See the module docs.
pub type ResNet18 = ResNet<BasicBlock>;

impl ResNet18Config {
    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> ResNet18 {
        let w = self.width;
        let stage = |input: usize, output: usize, stride: usize| {
            vec![
                BasicBlock::new(input, output, stride, device),
                BasicBlock::new(output, output, 1, device),
            ]
        };
        let stages = [
            stage(w, w, 1),
            stage(w, 2 * w, 2),
            stage(2 * w, 4 * w, 2),
            stage(4 * w, 8 * w, 2),
        ];
        ResNet::assemble((self.channels, w), stages, (8 * w, self.classes), device)
    }

    /// Five stride-2 steps: smaller inputs would vanish.
    pub fn min_input_size(&self) -> usize {
        32
    }
}

impl<B: ResidualBlock> ResNet<B> {
    /// The stem from `channels` to `width` channels, the four `stages`, and the head from
    /// `features` to `classes`.
    pub(super) fn assemble(
        (channels, width): (usize, usize),
        [layer1, layer2, layer3, layer4]: [Vec<B>; 4],
        (features, classes): (usize, usize),
        device: &Device,
    ) -> Self {
        ResNet {
            conv1: conv([channels, width], [7, 7], 2, [3, 3], false, device),
            bn1: Some(batch_norm(width, 1e-5, device)),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(features, classes).init(device),
        }
    }

    /// Batch norm folded into each convolution (an inference copy; see
    /// [`super::layers::fold_batch_norm`]).
    pub fn fold_batch_norm(&mut self) {
        fold_batch_norm(&mut self.conv1, &mut self.bn1);
        for layer in [
            &mut self.layer1,
            &mut self.layer2,
            &mut self.layer3,
            &mut self.layer4,
        ] {
            layer.iter_mut().for_each(B::fold_batch_norm);
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

/// torchvision's name for the parameter at `path` (ours differ only in the downsample pair,
/// which torchvision keeps in a `Sequential`).
pub(crate) fn torch_name(path: &str) -> String {
    let path = path.replace(".downsample.conv.", ".downsample.0.");
    path.replace(".downsample.bn.", ".downsample.1.")
}


/// ResNet18 in the architecture registry.
pub struct ResNet18Architecture;

impl Architecture for ResNet18Architecture {
    burn_config_and_module!(ResNet18Config, ResNet18);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "resnet-18",
        input_size: 224,
        full_width: 64,
        tiny_width: 8,
        tiny_size: 64,
        width_step: 1,
        multi_label: false,
        about: "torchvision ResNet-18",
    };

    fn config(channels: usize, classes: usize, width: usize) -> ResNet18Config {
        ResNet18Config::new(channels, classes).with_width(width)
    }

    plain_forward_and_torch_names!(ResNet18);

    fn infer_config(weights: &WeightShapes) -> crate::Result<ResNet18Config> {
        let ends = weights.ends("conv1.weight", "fc.weight")?;
        Ok(ResNet18Config::new(ends.channels, ends.classes).with_width(ends.width))
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
        // torchvision.models.resnet18(): 11,689,512 parameters.
        assert_eq!(
            learnable_parameters(&ResNet18Config::new(3, 1000).init(&cpu())),
            11_689_512
        );
    }

    #[test]
    fn names_follow_torchvision() {
        assert_eq!(
            torch_name("layer2.0.downsample.conv.weight"),
            "layer2.0.downsample.0.weight"
        );
        assert_eq!(
            torch_name("layer3.0.downsample.bn.running_var"),
            "layer3.0.downsample.1.running_var"
        );
        assert_eq!(torch_name("layer1.1.bn2.weight"), "layer1.1.bn2.weight");
    }
}
