//! EfficientNet-B0 (Tan & Le 2019) with torchvision's structure and parameter names: a strided
//! 3x3 stem, seven stages of mobile inverted bottlenecks (MBConv: a 1x1 expansion, a depthwise
//! convolution, squeeze-and-excitation, a 1x1 projection, a residual where the shape is kept),
//! a 1x1 convolution to four times the last stage's channels, global pooling, one linear head.
//! SiLU throughout.
//!
//! Stochastic depth and the head's dropout are identity in evaluation, as in torchvision, and
//! left out of training here, as Inception's dropout is: robustdx trainers regularise with data.

use super::architecture::{
    Architecture, ArchitectureInfo, WeightShapes, burn_config_and_module, plain_forward_and_torch_names,
};
use super::layers::{batch_norm, conv_norm, fold_batch_norm, split_index};
use super::convolution::conv2d;
use super::probe::Probe;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::{Device, Tensor};

/// B0's stages: (expansion ratio, depthwise kernel, first block's stride, output channels at
/// width 1, blocks) — torchvision's `_efficientnet_conf("efficientnet_b0")`.
const B0_STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
];
/// The stem's channels at width 1.
const B0_STEM: usize = 32;

/// torchvision's `_make_divisible(value, 8)`: the nearest multiple of 8, at least 8, never
/// more than 10 % below `value`.
fn make_divisible(value: f64) -> usize {
    let rounded = (((value + 4.0) as usize) / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * value {
        rounded + 8
    } else {
        rounded
    }
}

/// Configuration of [`EfficientNet`]; the channel counts are stored as torchvision rounds them.
#[derive(Config, Debug, PartialEq)]
pub struct EfficientNetConfig {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// The stem's output channels (32 for B0).
    pub stem: usize,
    /// Each stage's output channels (16, 24, 40, 80, 112, 192, 320 for B0).
    pub stage_channels: Vec<usize>,
    /// Blocks per stage (1, 2, 2, 3, 3, 4, 1 for B0).
    pub depths: Vec<usize>,
    /// Channels of the 1x1 convolution before pooling (1280 for B0).
    pub top: usize,
}

impl EfficientNetConfig {
    /// B0 at width multiplier `width / 32`, rounded as torchvision's `width_mult` rounds.
    fn b0(channels: usize, classes: usize, width: usize) -> Self {
        let multiplier = width as f64 / B0_STEM as f64;
        let scaled = |c: usize| make_divisible(c as f64 * multiplier);
        let stage_channels: Vec<usize> = B0_STAGES.iter().map(|s| scaled(s.3)).collect();
        Self {
            channels,
            classes,
            stem: scaled(B0_STEM),
            top: 4 * stage_channels[6],
            stage_channels,
            depths: B0_STAGES.iter().map(|s| s.4).collect(),
        }
    }
}

/// torchvision's `Conv2dNormActivation`: a convolution without bias, then batch norm (the
/// activation is applied by the caller).
#[derive(Module, Debug)]
struct ConvNorm {
    conv: Conv2d,
    /// `None` once folded into `conv`.
    bn: Option<BatchNorm>,
}

impl ConvNorm {
    fn new(channels: [usize; 2], kernel: usize, stride: usize, groups: usize, device: &Device) -> Self {
        let pad = (kernel - 1) / 2;
        Self {
            conv: Conv2dConfig::new(channels, [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_groups(groups)
                .with_bias(false)
                .init(device),
            bn: Some(batch_norm(channels[1], 1e-5, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_norm(&self.conv, &self.bn, x)
    }

    fn fold_batch_norm(&mut self) {
        fold_batch_norm(&mut self.conv, &mut self.bn);
    }
}

/// Squeeze-and-excitation: a per-channel gate from the pooled map.
#[derive(Module, Debug)]
struct SqueezeExcitation {
    fc1: Conv2d,
    fc2: Conv2d,
}

impl SqueezeExcitation {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pooled = x.clone().mean_dim(3).mean_dim(2);
        let gate = sigmoid(conv2d(&self.fc2, silu(conv2d(&self.fc1, pooled))));
        x * gate
    }
}

/// A mobile inverted bottleneck (torchvision's `MBConv`).
#[derive(Module, Debug)]
struct MbConv {
    /// Absent where the expansion ratio is 1 (the first stage).
    expand: Option<ConvNorm>,
    depthwise: ConvNorm,
    se: SqueezeExcitation,
    project: ConvNorm,
}

impl MbConv {
    fn new(
        input: usize,
        output: usize,
        (ratio, kernel, stride): (usize, usize, usize),
        device: &Device,
    ) -> Self {
        let expanded = make_divisible((input * ratio) as f64);
        let squeeze = (input / 4).max(1);
        let pointwise = |channels: [usize; 2]| {
            Conv2dConfig::new(channels, [1, 1]).init(device)
        };
        Self {
            expand: (expanded != input).then(|| ConvNorm::new([input, expanded], 1, 1, 1, device)),
            depthwise: ConvNorm::new([expanded, expanded], kernel, stride, expanded, device),
            se: SqueezeExcitation {
                fc1: pointwise([expanded, squeeze]),
                fc2: pointwise([squeeze, expanded]),
            },
            project: ConvNorm::new([expanded, output], 1, 1, 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = x.clone();
        if let Some(expand) = &self.expand {
            y = silu(expand.forward(y));
        }
        let y = self.se.forward(silu(self.depthwise.forward(y)));
        let y = self.project.forward(y);
        // torchvision adds the input where the stride is 1 and the channels are kept: exactly
        // where the shape is unchanged.
        if y.dims() == x.dims() { y + x } else { y }
    }

    fn fold_batch_norm(&mut self) {
        if let Some(expand) = &mut self.expand {
            expand.fold_batch_norm();
        }
        self.depthwise.fold_batch_norm();
        self.project.fold_batch_norm();
    }
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct EfficientNet {
    stem: ConvNorm,
    stages: Vec<Vec<MbConv>>,
    top: ConvNorm,
    classifier: Linear,
}

impl EfficientNetConfig {
    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> EfficientNet {
        let mut input = self.stem;
        let stages = B0_STAGES
            .iter()
            .zip(&self.stage_channels)
            .zip(&self.depths)
            .map(|((&(ratio, kernel, stride, ..), &output), &depth)| {
                (0..depth)
                    .map(|b| {
                        let stride = if b == 0 { stride } else { 1 };
                        let block = MbConv::new(input, output, (ratio, kernel, stride), device);
                        input = output;
                        block
                    })
                    .collect()
            })
            .collect();
        EfficientNet {
            stem: ConvNorm::new([self.channels, self.stem], 3, 2, 1, device),
            stages,
            top: ConvNorm::new([input, self.top], 1, 1, 1, device),
            classifier: LinearConfig::new(self.top, self.classes).init(device),
        }
    }

    /// Five stride-2 steps: smaller inputs would vanish.
    pub fn min_input_size(&self) -> usize {
        32
    }
}

impl EfficientNet {
    /// Batch norm folded into each convolution (an inference copy).
    pub fn fold_batch_norm(&mut self) {
        self.stem.fold_batch_norm();
        self.stages
            .iter_mut()
            .flatten()
            .for_each(MbConv::fold_batch_norm);
        self.top.fold_batch_norm();
    }

    /// `x` is already normalised. Returns (logits, penultimate feature). Stages: the seven
    /// stages' outputs; the Grad-CAM layer: the 1x1 convolution before pooling, after its SiLU
    /// (torchvision's `features[-1]`).
    pub fn forward(&self, x: Tensor<4>, probe: &mut dyn Probe) -> (Tensor<2>, Tensor<2>) {
        let mut x = silu(self.stem.forward(x));
        for (i, stage) in self.stages.iter().enumerate() {
            x = stage.iter().fold(x, |x, block| block.forward(x));
            probe.stage(i, &x);
        }
        let x = probe.cam_layer(silu(self.top.forward(x)));
        let feature: Tensor<2> = x.mean_dim(3).mean_dim(2).flatten(1, 3);
        (self.classifier.forward(feature.clone()), feature)
    }
}

/// torchvision's name for the parameter at `path`. Its `features` `Sequential` numbers the stem
/// 0, stage `i` `i + 1` and the top convolution 8; a block's `block` `Sequential` numbers its
/// layers in order, so they shift by one where the expansion is present (every stage but the
/// first, whose ratio is 1); `Conv2dNormActivation` holds the convolution at 0 and the norm at 1.
pub(crate) fn torch_name(path: &str) -> String {
    let unit = |rest: &str| rest.replacen("conv.", "0.", 1).replacen("bn.", "1.", 1);
    if let Some(rest) = path.strip_prefix("stem.") {
        return format!("features.0.{}", unit(rest));
    }
    if let Some(rest) = path.strip_prefix("top.") {
        return format!("features.{}.{}", B0_STAGES.len() + 1, unit(rest));
    }
    if let Some(rest) = path.strip_prefix("classifier.") {
        return format!("classifier.1.{rest}");
    }
    if let Some((stage, rest)) = split_index(path, "stages.")
        && let Some((block, rest)) = rest.split_once('.')
    {
        let shift = usize::from(B0_STAGES[stage.min(B0_STAGES.len() - 1)].0 != 1);
        let layer = |index: usize, rest: &str| {
            format!("features.{}.{block}.block.{}.{rest}", stage + 1, index + shift)
        };
        if let Some(rest) = rest.strip_prefix("expand.") {
            return format!("features.{}.{block}.block.0.{}", stage + 1, unit(rest));
        }
        if let Some(rest) = rest.strip_prefix("depthwise.") {
            return layer(0, &unit(rest));
        }
        if let Some(rest) = rest.strip_prefix("se.") {
            return layer(1, rest);
        }
        if let Some(rest) = rest.strip_prefix("project.") {
            return layer(2, &unit(rest));
        }
    }
    path.to_string()
}

/// EfficientNet-B0 in the architecture registry.
pub struct EfficientNetB0Architecture;

impl Architecture for EfficientNetB0Architecture {
    burn_config_and_module!(EfficientNetConfig, EfficientNet);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "efficientnet-b0",
        input_size: 224,
        full_width: 32,
        tiny_width: 8,
        tiny_size: 64,
        width_step: 8,
        multi_label: false,
        about: "torchvision EfficientNet-B0 (MBConv, squeeze-and-excitation, SiLU)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> EfficientNetConfig {
        EfficientNetConfig::b0(channels, classes, width)
    }

    plain_forward_and_torch_names!(EfficientNet);

    fn infer_config(weights: &WeightShapes) -> crate::Result<EfficientNetConfig> {
        let top_key = format!("features.{}.0.weight", B0_STAGES.len() + 1);
        let ends = weights.ends("features.0.0.weight", "classifier.1.weight")?;
        let top = weights.dims(&top_key, 4)?[0];
        let mut stage_channels = Vec::new();
        let mut depths = Vec::new();
        for (stage, &(ratio, ..)) in B0_STAGES.iter().enumerate() {
            let prefix = format!("features.{}.", stage + 1);
            depths.push(weights.count(&prefix, 0));
            // The projection is the block's last layer: 2 without the expansion, 3 with it.
            let project = format!("{prefix}0.block.{}.0.weight", 2 + usize::from(ratio != 1));
            stage_channels.push(weights.dims(&project, 4)?[0]);
        }
        Ok(EfficientNetConfig {
            channels: ends.channels,
            classes: ends.classes,
            stem: ends.width,
            stage_channels,
            depths,
            top,
        })
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
        // torchvision.models.efficientnet_b0(): 5,288,548 parameters.
        let b0 = EfficientNetConfig::b0(3, 1000, 32);
        assert_eq!(b0.stage_channels, [16, 24, 40, 80, 112, 192, 320]);
        assert_eq!(b0.top, 1280);
        assert_eq!(learnable_parameters(&b0.init(&cpu())), 5_288_548);
    }

    #[test]
    fn channels_round_as_torchvision_rounds_them() {
        // width_mult 0.25: 32·¼ = 8; 24·¼ = 6 → 8; 40·¼ = 10 → 8 is more than 10 % low → 16.
        let quarter = EfficientNetConfig::b0(3, 2, 8);
        assert_eq!(quarter.stem, 8);
        assert_eq!(quarter.stage_channels, [8, 8, 16, 24, 32, 48, 80]);
        assert_eq!(quarter.top, 320);
        assert_eq!(make_divisible(115.2), 112);
        assert_eq!(make_divisible(3.0), 8);
    }

    #[test]
    fn names_follow_torchvision() {
        for (ours, theirs) in [
            ("stem.conv.weight", "features.0.0.weight"),
            ("stem.bn.running_var", "features.0.1.running_var"),
            ("stages.0.0.depthwise.conv.weight", "features.1.0.block.0.0.weight"),
            ("stages.0.0.se.fc1.bias", "features.1.0.block.1.fc1.bias"),
            ("stages.0.0.project.bn.weight", "features.1.0.block.2.1.weight"),
            ("stages.1.1.expand.conv.weight", "features.2.1.block.0.0.weight"),
            ("stages.1.1.depthwise.bn.bias", "features.2.1.block.1.1.bias"),
            ("stages.5.3.se.fc2.weight", "features.6.3.block.2.fc2.weight"),
            ("stages.6.0.project.conv.weight", "features.7.0.block.3.0.weight"),
            ("top.conv.weight", "features.8.0.weight"),
            ("classifier.weight", "classifier.1.weight"),
        ] {
            assert_eq!(torch_name(ours), theirs);
        }
    }
}
