//! The perturbation generators of GAP (Poursaeed et al. 2018): image-to-image networks whose raw
//! output, squashed and scaled to the budget by [`scale_to_budget`], is the perturbation. The two
//! shapes the paper uses — CycleGAN's ResNet generator and pix2pix's U-Net — at narrow widths, so
//! they train on a CPU. In universal mode the generator's only input is a fixed noise image kept
//! in the module (not trained, but saved and loaded with the weights), so it makes one
//! perturbation for every image.

use burn::Tensor;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::{Device, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::conv2d;
use crate::{Error, Result};

fn default_width() -> usize {
    16
}

fn default_blocks() -> usize {
    3
}

fn default_depth() -> usize {
    3
}

/// CycleGAN's ResNet generator: 7x7 stem, two stride-2 convolutions down, `blocks` residual
/// blocks, two transposed convolutions up, 7x7 convolution out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResnetGeneratorConfig {
    /// Image channels in and perturbation channels out.
    pub channels: usize,
    /// `[height, width]` of the images (and of the universal noise image).
    pub input_size: [usize; 2],
    /// Channels of the stem; each downsampling doubles it.
    #[serde(default = "default_width")]
    pub width: usize,
    /// Residual blocks at the bottleneck.
    #[serde(default = "default_blocks")]
    pub blocks: usize,
}

impl ResnetGeneratorConfig {
    /// The generator for `channels`-channel images of `input_size` with GAP's narrow defaults
    /// (width 16, 3 blocks).
    pub fn new(channels: usize, input_size: [usize; 2]) -> Self {
        Self {
            channels,
            input_size,
            width: default_width(),
            blocks: default_blocks(),
        }
    }
}

/// pix2pix's U-Net: `depth` levels of stride-2 convolution down, mirrored transposed convolutions
/// up, each joined to the same level's way down by a skip connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnetGeneratorConfig {
    /// Image channels in and perturbation channels out.
    pub channels: usize,
    /// `[height, width]` of the images (and of the universal noise image).
    pub input_size: [usize; 2],
    /// Channels of the first level; each deeper level doubles it, up to 8x.
    #[serde(default = "default_width")]
    pub width: usize,
    /// Stride-2 levels; the image sides must be divisible by 2^depth.
    #[serde(default = "default_depth")]
    pub depth: usize,
}

impl UnetGeneratorConfig {
    /// The generator for `channels`-channel images of `input_size` with GAP's narrow defaults
    /// (width 16, depth 3).
    pub fn new(channels: usize, input_size: [usize; 2]) -> Self {
        Self {
            channels,
            input_size,
            width: default_width(),
            depth: default_depth(),
        }
    }

    /// Channels after level `i` on the way down.
    fn level_width(&self, i: usize) -> usize {
        self.width << i.min(3)
    }
}

/// The serialisable description of a generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum GeneratorConfig {
    /// pix2pix's U-Net.
    #[serde(rename = "unet")]
    Unet(UnetGeneratorConfig),
    /// CycleGAN's ResNet generator.
    #[serde(rename = "resnet")]
    Resnet(ResnetGeneratorConfig),
}

impl GeneratorConfig {
    /// The names [`GeneratorConfig::from_name`] accepts (`--generator-arch`).
    pub const NAMES: &'static [&'static str] = &["resnet", "unet"];

    /// The generator `name` with its default width, blocks and depth.
    pub fn from_name(name: &str, channels: usize, input_size: [usize; 2]) -> Result<Self> {
        match name {
            "resnet" => Ok(Self::Resnet(ResnetGeneratorConfig::new(
                channels, input_size,
            ))),
            "unet" => Ok(Self::Unet(UnetGeneratorConfig::new(channels, input_size))),
            other => Err(Error::invalid(format!(
                "unknown GAP generator '{other}' (known: {})",
                Self::NAMES.join(", ")
            ))),
        }
    }

    /// `resnet` or `unet`, as in [`GeneratorConfig::NAMES`].
    pub fn name(&self) -> &'static str {
        match self {
            Self::Unet(_) => "unet",
            Self::Resnet(_) => "resnet",
        }
    }

    /// Channels of the images it takes and the perturbations it makes.
    pub fn channels(&self) -> usize {
        match self {
            Self::Unet(c) => c.channels,
            Self::Resnet(c) => c.channels,
        }
    }

    /// `[height, width]` of the images the generator takes.
    pub fn input_size(&self) -> [usize; 2] {
        match self {
            Self::Unet(c) => c.input_size,
            Self::Resnet(c) => c.input_size,
        }
    }

    /// Channels of the first layer; deeper layers multiply it.
    pub fn width(&self) -> usize {
        match self {
            Self::Unet(c) => c.width,
            Self::Resnet(c) => c.width,
        }
    }

    /// The same generator at another base width (wider learns more, trains slower).
    pub fn with_width(self, width: usize) -> Self {
        match self {
            Self::Unet(c) => Self::Unet(UnetGeneratorConfig { width, ..c }),
            Self::Resnet(c) => Self::Resnet(ResnetGeneratorConfig { width, ..c }),
        }
    }

    /// Checks the sizes: every stride-2 step must halve the image exactly, so that the way up
    /// ends at the input's shape.
    pub fn validate(&self) -> Result<()> {
        let name = self.name();
        if self.channels() == 0 || self.width() == 0 {
            return Err(Error::invalid(format!(
                "the {name} generator needs at least one channel and a width of at least 1"
            )));
        }
        let (step, why) = match self {
            Self::Resnet(_) => (4, "it downsamples twice".to_string()),
            Self::Unet(c) if c.depth == 0 || c.depth > 10 => {
                return Err(Error::invalid(format!(
                    "a U-Net generator needs 1 to 10 levels, got {}",
                    c.depth
                )));
            }
            Self::Unet(c) => (1 << c.depth, format!("it has {} levels", c.depth)),
        };
        let [h, w] = self.input_size();
        if h == 0 || w == 0 || !h.is_multiple_of(step) || !w.is_multiple_of(step) {
            return Err(Error::invalid(format!(
                "the {name} generator needs image sides divisible by {step} ({why}), got {h}x{w}"
            )));
        }
        Ok(())
    }

    /// A fresh image-dependent generator (weights drawn from the device's random stream).
    pub fn init(&self, device: &Device) -> Generator {
        Generator {
            network: self.init_network(device),
            noise: None,
        }
    }

    /// A fresh universal generator, whose fixed input is a uniform [0, 1) noise image drawn from
    /// `seed` (as GAP draws its universal input once).
    pub fn init_universal(&self, seed: u64, device: &Device) -> Generator {
        let [h, w] = self.input_size();
        let c = self.channels();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let values: Vec<f32> = (0..c * h * w).map(|_| rng.random::<f32>()).collect();
        let noise = Param::from_data(TensorData::new(values, [1, c, h, w]), device);
        Generator {
            network: self.init_network(device),
            noise: Some(noise.set_require_grad(false)),
        }
    }

    fn init_network(&self, device: &Device) -> Network {
        match self {
            Self::Unet(c) => Network::Unet(c.init(device)),
            Self::Resnet(c) => Network::Resnet(c.init(device)),
        }
    }
}

/// A perturbation generator, image-dependent or universal.
#[derive(Module, Debug)]
pub struct Generator {
    network: Network,
    /// Universal mode: the fixed input `[1, c, h, w]`; a constant, never trained.
    noise: Option<Param<Tensor<4>>>,
}

#[derive(Module, Debug)]
// The ResNet generator's blocks make its variant larger; a generator holds one and moves it
// rarely.
#[allow(clippy::large_enum_variant)]
enum Network {
    Unet(UnetGenerator),
    Resnet(ResnetGenerator),
}

impl Generator {
    /// Whether it makes one perturbation for every image (see the module doc).
    pub fn is_universal(&self) -> bool {
        self.noise.is_some()
    }

    /// The raw (unscaled) perturbation `[b, c, h, w]` of `images` `[b, c, h, w]` in [0, 1]. A
    /// universal generator ignores the images' content and gives every image the same one.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        match &self.noise {
            None => self.network.forward(images),
            Some(noise) => self.network.forward(noise.val()).expand(images.dims()),
        }
    }
}

impl Network {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Network::Unet(net) => net.forward(x),
            Network::Resnet(net) => net.forward(x),
        }
    }
}

/// GAP's scaling: squash with tanh, then divide each (image, channel) plane by its own largest
/// magnitude and multiply by `eps`, so that every plane's L∞ norm is exactly ε. As in GAP's code,
/// the largest magnitude is a constant for the gradient.
pub fn scale_to_budget(raw: Tensor<4>, eps: f32) -> Tensor<4> {
    let squashed = raw.tanh();
    let peak = squashed
        .clone()
        .abs()
        .max_dims(&[2, 3])
        .clamp_min(1e-12)
        .detach();
    (squashed / peak).mul_scalar(eps)
}

/// Convolution with the same zero padding on every side.
fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(bias)
        .init(device)
}

/// A transposed convolution that exactly doubles the image sides.
fn up_conv(
    channels: [usize; 2],
    kernel: usize,
    padding: usize,
    device: &Device,
) -> ConvTranspose2d {
    // Output side: (s - 1) * 2 - 2 * padding + kernel + padding_out = 2 s.
    let padding_out = 2 + 2 * padding - kernel;
    ConvTranspose2dConfig::new(channels, [kernel, kernel])
        .with_stride([2, 2])
        .with_padding([padding, padding])
        .with_padding_out([padding_out, padding_out])
        .with_bias(false)
        .init(device)
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// Convolution (no bias: batch norm follows), batch norm, ReLU.
#[derive(Module, Debug)]
struct ConvNormRelu {
    conv: Conv2d,
    norm: BatchNorm,
}

impl ConvNormRelu {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.norm.forward(conv2d(&self.conv, x)))
    }
}

/// Transposed convolution, batch norm, ReLU: one step up.
#[derive(Module, Debug)]
struct UpNormRelu {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

impl UpNormRelu {
    fn new(channels: [usize; 2], kernel: usize, padding: usize, device: &Device) -> Self {
        Self {
            conv: up_conv(channels, kernel, padding, device),
            norm: batch_norm(channels[1], device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.norm.forward(self.conv.forward(x)))
    }
}

#[derive(Module, Debug)]
struct ResidualBlock {
    conv1: Conv2d,
    norm1: BatchNorm,
    conv2: Conv2d,
    norm2: BatchNorm,
}

impl ResidualBlock {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            conv1: conv([channels, channels], 3, 1, 1, false, device),
            norm1: batch_norm(channels, device),
            conv2: conv([channels, channels], 3, 1, 1, false, device),
            norm2: batch_norm(channels, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.norm1.forward(conv2d(&self.conv1, x.clone())));
        x + self.norm2.forward(conv2d(&self.conv2, y))
    }
}

/// See [`ResnetGeneratorConfig`]. CycleGAN pads by reflection; zero padding here.
#[derive(Module, Debug)]
pub struct ResnetGenerator {
    stem: ConvNormRelu,
    down: Vec<ConvNormRelu>,
    blocks: Vec<ResidualBlock>,
    up: Vec<UpNormRelu>,
    head: Conv2d,
}

impl ResnetGeneratorConfig {
    /// A freshly initialised generator on `device`.
    pub fn init(&self, device: &Device) -> ResnetGenerator {
        let w = self.width;
        let down = |input: usize, output: usize| ConvNormRelu {
            conv: conv([input, output], 3, 2, 1, false, device),
            norm: batch_norm(output, device),
        };
        ResnetGenerator {
            stem: ConvNormRelu {
                conv: conv([self.channels, w], 7, 1, 3, false, device),
                norm: batch_norm(w, device),
            },
            down: vec![down(w, 2 * w), down(2 * w, 4 * w)],
            blocks: (0..self.blocks)
                .map(|_| ResidualBlock::new(4 * w, device))
                .collect(),
            up: vec![
                UpNormRelu::new([4 * w, 2 * w], 3, 1, device),
                UpNormRelu::new([2 * w, w], 3, 1, device),
            ],
            head: conv([w, self.channels], 7, 1, 3, true, device),
        }
    }
}

impl ResnetGenerator {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.stem.forward(x);
        let x = self.down.iter().fold(x, |x, step| step.forward(x));
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        let x = self.up.iter().fold(x, |x, step| step.forward(x));
        conv2d(&self.head, x)
    }
}

/// Stride-2 convolution (4x4, as pix2pix), batch norm, LeakyReLU(0.2): one level down.
#[derive(Module, Debug)]
struct DownLevel {
    conv: Conv2d,
    norm: BatchNorm,
}

impl DownLevel {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        leaky_relu(self.norm.forward(conv2d(&self.conv, x)), 0.2)
    }
}

/// See [`UnetGeneratorConfig`].
#[derive(Module, Debug)]
pub struct UnetGenerator {
    /// Shallowest level first.
    down: Vec<DownLevel>,
    /// Deepest level first.
    up: Vec<UpNormRelu>,
    head: Conv2d,
}

impl UnetGeneratorConfig {
    /// A freshly initialised generator on `device`.
    pub fn init(&self, device: &Device) -> UnetGenerator {
        let depth = self.depth;
        let down = (0..depth)
            .map(|i| {
                let input = if i == 0 {
                    self.channels
                } else {
                    self.level_width(i - 1)
                };
                DownLevel {
                    conv: conv([input, self.level_width(i)], 4, 2, 1, false, device),
                    norm: batch_norm(self.level_width(i), device),
                }
            })
            .collect();
        let up = (0..depth)
            .rev()
            .map(|i| {
                // The deepest level takes the bottleneck alone; the others, the level below's
                // output joined to this level's skip.
                let input = if i == depth - 1 {
                    self.level_width(i)
                } else {
                    2 * self.level_width(i)
                };
                let output = self.level_width(i.saturating_sub(1));
                UpNormRelu::new([input, output], 4, 1, device)
            })
            .collect();
        UnetGenerator {
            down,
            up,
            head: conv([self.width, self.channels], 3, 1, 1, true, device),
        }
    }
}

impl UnetGenerator {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut skips = Vec::with_capacity(self.down.len());
        let mut x = x;
        for level in &self.down {
            x = level.forward(x);
            skips.push(x.clone());
        }
        // The deepest output is the bottleneck itself, not a skip.
        skips.pop();
        for level in &self.up {
            x = level.forward(x);
            if let Some(skip) = skips.pop() {
                x = Tensor::cat(vec![x, skip], 1);
            }
        }
        conv2d(&self.head, x)
    }
}
