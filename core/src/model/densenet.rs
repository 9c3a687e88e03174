//! DenseNet-121 (Huang et al. 2017) with torchvision's structure and parameter names; CheXNet's
//! backbone for the 14 chest findings. Each layer sees the concatenation of all earlier maps.

use super::architecture::{
    Architecture, ArchitectureInfo, WeightShapes, burn_config_and_module, plain_forward_and_torch_names,
};
use super::convolution::conv2d;
use super::probe::Probe;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d,
    MaxPool2dConfig,
};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::layers::{batch_norm, conv, conv_norm, fold_batch_norm, split_index};

/// Configuration of [`DenseNet`]; the defaults are DenseNet-121.
#[derive(Config, Debug, PartialEq)]
pub struct DenseNetConfig {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Channels of the stem (`num_init_features`, 64).
    #[config(default = 64)]
    pub init_features: usize,
    /// Channels each dense layer adds (32).
    #[config(default = 32)]
    pub growth_rate: usize,
    /// Bottleneck width as a multiple of the growth rate (4).
    #[config(default = 4)]
    pub bn_size: usize,
    /// Dense layers per block (6, 12, 24, 16 for DenseNet-121).
    #[config(default = "vec![6, 12, 24, 16]")]
    pub block_config: Vec<usize>,
}

#[derive(Module, Debug)]
struct DenseLayer {
    norm1: BatchNorm,
    conv1: Conv2d,
    /// Follows `conv1` (after it, before the ReLU): `None` once folded into it.
    norm2: Option<BatchNorm>,
    conv2: Conv2d,
}

impl DenseLayer {
    fn new(input: usize, growth: usize, bn_size: usize, device: &Device) -> Self {
        let bottleneck = bn_size * growth;
        Self {
            norm1: batch_norm(input, 1e-5, device),
            conv1: conv([input, bottleneck], [1, 1], 1, [0, 0], false, device),
            norm2: Some(batch_norm(bottleneck, 1e-5, device)),
            conv2: conv([bottleneck, growth], [3, 3], 1, [1, 1], false, device),
        }
    }

    /// The `growth` new channels.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = conv_norm(&self.conv1, &self.norm2, relu(self.norm1.forward(x)));
        conv2d(&self.conv2, relu(y))
    }
}

#[derive(Module, Debug)]
struct DenseBlock {
    layers: Vec<DenseLayer>,
}

impl DenseBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.layers.iter().fold(x, |x, layer| {
            let new = layer.forward(x.clone());
            Tensor::cat(vec![x, new], 1)
        })
    }
}

#[derive(Module, Debug)]
struct Transition {
    norm: BatchNorm,
    conv: Conv2d,
    pool: AvgPool2d,
}

impl Transition {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool
            .forward(conv2d(&self.conv, relu(self.norm.forward(x))))
    }
}

#[derive(Module, Debug)]
struct Features {
    conv0: Conv2d,
    norm0: Option<BatchNorm>,
    pool0: MaxPool2d,
    blocks: Vec<DenseBlock>,
    transitions: Vec<Transition>,
    norm5: BatchNorm,
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct DenseNet {
    features: Features,
    pool: AdaptiveAvgPool2d,
    classifier: Linear,
}

impl DenseNetConfig {
    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> DenseNet {
        let mut width = self.init_features;
        let mut blocks = Vec::new();
        let mut transitions = Vec::new();
        for (i, &layers) in self.block_config.iter().enumerate() {
            let layers = (0..layers)
                .map(|j| {
                    DenseLayer::new(
                        width + j * self.growth_rate,
                        self.growth_rate,
                        self.bn_size,
                        device,
                    )
                })
                .collect();
            blocks.push(DenseBlock { layers });
            width += self.block_config[i] * self.growth_rate;
            if i + 1 < self.block_config.len() {
                transitions.push(Transition {
                    norm: batch_norm(width, 1e-5, device),
                    conv: conv([width, width / 2], [1, 1], 1, [0, 0], false, device),
                    pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
                });
                width /= 2;
            }
        }
        let features = Features {
            conv0: conv(
                [self.channels, self.init_features],
                [7, 7],
                2,
                [3, 3],
                false,
                device,
            ),
            norm0: Some(batch_norm(self.init_features, 1e-5, device)),
            pool0: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            blocks,
            transitions,
            norm5: batch_norm(width, 1e-5, device),
        };
        DenseNet {
            features,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            classifier: LinearConfig::new(width, self.classes).init(device),
        }
    }

    /// The stem and each transition halve the side (plus the stem's pooling).
    pub fn min_input_size(&self) -> usize {
        4 << self.block_config.len().saturating_sub(1)
    }
}

impl DenseNet {
    /// Batch norm folded into the convolutions it follows: the stem's and each dense layer's
    /// bottleneck (an inference copy; see [`super::layers::fold_batch_norm`]). The other norms
    /// come before a convolution, after a concatenation, and stay.
    pub fn fold_batch_norm(&mut self) {
        let f = &mut self.features;
        fold_batch_norm(&mut f.conv0, &mut f.norm0);
        for layer in f.blocks.iter_mut().flat_map(|b| b.layers.iter_mut()) {
            fold_batch_norm(&mut layer.conv1, &mut layer.norm2);
        }
    }

    /// `x` is already normalised. Returns (logits, penultimate feature). Stages: the dense
    /// blocks (with their transitions); the Grad-CAM layer: `norm5` after its ReLU, what the head
    /// pools, with its own gradient. (pytorch-grad-cam's hook on `features[-1]` keeps this
    /// activation on the CPU and the pre-ReLU one on CUDA, both with the pre-ReLU gradient:
    /// `tests/fixtures/torch/make_densenet_hook.py`.)
    pub fn forward(&self, x: Tensor<4>, probe: &mut dyn Probe) -> (Tensor<2>, Tensor<2>) {
        let f = &self.features;
        let mut x = f.pool0.forward(relu(conv_norm(&f.conv0, &f.norm0, x)));
        for (i, block) in f.blocks.iter().enumerate() {
            x = block.forward(x);
            if let Some(transition) = f.transitions.get(i) {
                x = transition.forward(x);
            }
            probe.stage(i, &x);
        }
        let x = probe.cam_layer(relu(f.norm5.forward(x)));
        let feature: Tensor<2> = self.pool.forward(x).flatten(1, 3);
        (self.classifier.forward(feature.clone()), feature)
    }
}

/// torchvision's name for the parameter at `path`: its blocks, layers and transitions are
/// named and counted from 1 (`features.denseblock1.denselayer1.conv1.weight`).
pub(crate) fn torch_name(path: &str) -> String {
    if let Some((block, rest)) = split_index(path, "features.blocks.")
        && let Some((layer, rest)) = split_index(rest, "layers.")
    {
        return format!(
            "features.denseblock{}.denselayer{}.{rest}",
            block + 1,
            layer + 1
        );
    }
    if let Some((transition, rest)) = split_index(path, "features.transitions.") {
        return format!("features.transition{}.{rest}", transition + 1);
    }
    path.to_string()
}


/// DenseNet in the architecture registry.
pub struct DenseNet121Architecture;

impl Architecture for DenseNet121Architecture {
    burn_config_and_module!(DenseNetConfig, DenseNet);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "densenet-121",
        input_size: 224,
        full_width: 64,
        tiny_width: 8,
        tiny_size: 64,
        width_step: 2,
        multi_label: true,
        about: "torchvision DenseNet-121 with a sigmoid head (CheXNet; the seed's chest model)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> DenseNetConfig {
        DenseNetConfig::new(channels, classes)
            .with_init_features(width)
            .with_growth_rate(width / 2)
    }

    plain_forward_and_torch_names!(DenseNet);

    fn infer_config(weights: &WeightShapes) -> crate::Result<DenseNetConfig> {
        let ends = weights.ends("features.conv0.weight", "classifier.weight")?;
        let growth = weights.dims("features.denseblock1.denselayer1.conv2.weight", 4)?[0];
        let bottleneck = weights.dims("features.denseblock1.denselayer1.conv1.weight", 4)?[0];
        let blocks = (1..)
            .map(|b| weights.count(&format!("features.denseblock{b}.denselayer"), 1))
            .take_while(|&layers| layers > 0)
            .collect();
        Ok(DenseNetConfig::new(ends.channels, ends.classes)
            .with_init_features(ends.width)
            .with_growth_rate(growth)
            .with_bn_size(bottleneck / growth.max(1))
            .with_block_config(blocks))
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
        // torchvision.models.densenet121(): 7,978,856 parameters.
        assert_eq!(
            learnable_parameters(&DenseNetConfig::new(3, 1000).init(&cpu())),
            7_978_856
        );
    }

    #[test]
    fn names_count_blocks_and_layers_from_one() {
        assert_eq!(
            torch_name("features.blocks.0.layers.0.norm1.weight"),
            "features.denseblock1.denselayer1.norm1.weight"
        );
        assert_eq!(
            torch_name("features.blocks.3.layers.15.conv2.weight"),
            "features.denseblock4.denselayer16.conv2.weight"
        );
        assert_eq!(
            torch_name("features.transitions.2.conv.weight"),
            "features.transition3.conv.weight"
        );
        assert_eq!(torch_name("features.norm5.bias"), "features.norm5.bias");
    }
}
