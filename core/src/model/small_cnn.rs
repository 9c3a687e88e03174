//! A small VGG-style CNN for quick runs, tests and the browser: `blocks` x (3x3 conv, batch norm,
//! ReLU, 2x2 max-pool), global average pooling, one linear head.

use super::layers::{conv_norm, fold_batch_norm};
use super::architecture::{
    Architecture, ArchitectureInfo, ForwardOutput, WeightShapes, burn_config_and_module,
};
use super::probe::Probe;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Configuration of [`SmallCnn`].
#[derive(Config, Debug, PartialEq)]
pub struct SmallCnnConfig {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Channels of the first block; each of the next two blocks doubles it.
    #[config(default = 32)]
    pub width: usize,
    /// Number of conv blocks (each halves the resolution).
    #[config(default = 4)]
    pub blocks: usize,
}

#[derive(Module, Debug)]
struct ConvBlock {
    conv: Conv2d,
    /// `None` once folded into `conv`.
    norm: Option<BatchNorm>,
    pool: MaxPool2d,
}

impl ConvBlock {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([input, output], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(device),
            norm: Some(BatchNormConfig::new(output).init(device)),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool
            .forward(relu(conv_norm(&self.conv, &self.norm, x)))
    }
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct SmallCnn {
    blocks: Vec<ConvBlock>,
    pool: AdaptiveAvgPool2d,
    head: Linear,
}

impl SmallCnnConfig {
    /// Channels after block `i`.
    fn block_width(&self, i: usize) -> usize {
        self.width << i.min(2)
    }

    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> SmallCnn {
        let mut input = self.channels;
        let blocks = (0..self.blocks)
            .map(|i| {
                let block = ConvBlock::new(input, self.block_width(i), device);
                input = self.block_width(i);
                block
            })
            .collect();
        SmallCnn {
            blocks,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            head: LinearConfig::new(input, self.classes).init(device),
        }
    }

    /// Smallest input side the network accepts (each block halves it).
    pub fn min_input_size(&self) -> usize {
        1 << self.blocks
    }
}

impl SmallCnn {
    /// Batch norm folded into each convolution (an inference copy; see
    /// [`super::layers::fold_batch_norm`]).
    pub fn fold_batch_norm(&mut self) {
        for block in &mut self.blocks {
            fold_batch_norm(&mut block.conv, &mut block.norm);
        }
    }

    /// `x` is already normalised. Returns (logits, penultimate feature). Stages: the blocks;
    /// the Grad-CAM layer: the last block.
    pub fn forward(&self, x: Tensor<4>, probe: &mut dyn Probe) -> (Tensor<2>, Tensor<2>) {
        let mut x = x;
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            probe.stage(i, &x);
        }
        let x = probe.cam_layer(x);
        let feature: Tensor<2> = self.pool.forward(x).flatten(1, 3);
        (self.head.forward(feature.clone()), feature)
    }
}

/// SmallCnn in the architecture registry.
pub struct SmallCnnArchitecture;

impl Architecture for SmallCnnArchitecture {
    burn_config_and_module!(SmallCnnConfig, SmallCnn);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "small-cnn",
        input_size: 64,
        full_width: 32,
        tiny_width: 8,
        tiny_size: 64,
        width_step: 1,
        multi_label: false,
        about: "4 conv blocks and a linear head: quick runs and the browser",
    };

    fn config(channels: usize, classes: usize, width: usize) -> SmallCnnConfig {
        SmallCnnConfig::new(channels, classes).with_width(width)
    }

    fn forward(network: &SmallCnn, x: Tensor<4>, probe: &mut dyn Probe) -> ForwardOutput {
        let (logits, feature) = network.forward(x, probe);
        (logits, Vec::new(), feature)
    }

    fn torch_name(path: &str) -> String {
        path.to_string()
    }

    fn infer_config(weights: &WeightShapes) -> crate::Result<SmallCnnConfig> {
        let ends = weights.ends("blocks.0.conv.weight", "head.weight")?;
        Ok(SmallCnnConfig::new(ends.channels, ends.classes)
            .with_width(ends.width)
            .with_blocks(weights.count("blocks.", 0)))
    }
}
