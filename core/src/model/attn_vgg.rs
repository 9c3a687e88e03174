//! AttnVGG (Yan, Kawahara & Hamarneh, IPMI 2019): the seed study's melanoma model. A VGG-16-BN
//! trunk whose pool3 and pool4 maps are weighed by two attention gates queried by pool5; the
//! global pool5 vector and the two attended vectors feed one linear head.

use super::architecture::{
    Architecture, ArchitectureInfo, ForwardOutput, WeightShapes, burn_config_and_module,
};
use super::convolution::conv2d;
use super::probe::Probe;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use super::layers::{ConvBnRelu, conv, split_index};

/// Convolutions per VGG-16 stage; a 2x2 max-pool ends each stage.
const STAGES: [usize; 5] = [2, 2, 3, 3, 3];

/// Configuration of [`AttnVgg`].
#[derive(Config, Debug, PartialEq)]
pub struct AttnVggConfig {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Channels of the first stage (64 in VGG-16); the stages have 1, 2, 4, 8, 8 times it and
    /// the gates 4 times it (256).
    #[config(default = 64)]
    pub width: usize,
}

/// PyTorch's bilinear interpolation weights (`align_corners=False`) from `input` to `output`
/// samples, as a `[output, input]` matrix.
fn interpolation_matrix(output: usize, input: usize) -> Vec<f32> {
    let scale = input as f32 / output as f32;
    let mut m = vec![0.0; output * input];
    for o in 0..output {
        let source = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (source.floor() as usize).min(input - 1);
        let i1 = (i0 + 1).min(input - 1);
        let w1 = source - i0 as f32;
        m[o * input + i0] += 1.0 - w1;
        m[o * input + i1] += w1;
    }
    m
}

/// Bilinear resize of `x` `[b, c, h, w]` to `size`, as PyTorch's `F.interpolate(...,
/// mode="bilinear", align_corners=False)`. Written as two small matrix products rather than
/// burn's `interpolate`, whose backward pass the GPU backends lack: attacks differentiate
/// through this.
fn upsample_bilinear(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let rows = Tensor::<3>::from_data(
        TensorData::new(interpolation_matrix(size[0], h), [1, size[0], h]),
        &device,
    );
    let cols = Tensor::<3>::from_data(
        TensorData::new(interpolation_matrix(size[1], w), [1, size[1], w]),
        &device,
    );
    let planes: Tensor<3> = x.reshape([b * c, h, w]);
    let tall = rows.expand([b * c, size[0], h]).matmul(planes);
    let out = tall.matmul(cols.swap_dims(1, 2).expand([b * c, w, size[1]]));
    out.reshape([b, c, size[0], size[1]])
}

/// One attention gate: `a = sigmoid(phi(relu(W_l l + up(W_g g))))`, and the attended vector is
/// the spatial mean of `a * l`.
#[derive(Module, Debug)]
struct AttentionGate {
    w_l: Conv2d,
    w_g: Conv2d,
    phi: Conv2d,
}

impl AttentionGate {
    fn new(local: usize, global: usize, hidden: usize, device: &Device) -> Self {
        Self {
            w_l: conv([local, hidden], [1, 1], 1, [0, 0], false, device),
            w_g: conv([global, hidden], [1, 1], 1, [0, 0], false, device),
            phi: conv([hidden, 1], [1, 1], 1, [0, 0], true, device),
        }
    }

    /// Returns (attention map `[n, 1, h, w]`, attended vector `[n, local channels]`).
    fn forward(&self, local: Tensor<4>, global: Tensor<4>) -> (Tensor<4>, Tensor<2>) {
        let [_, _, h, w] = local.dims();
        // The 1x1 conv commutes with bilinear up-sampling, so it runs on the small map first.
        let query = upsample_bilinear(conv2d(&self.w_g, global), [h, w]);
        let attention = sigmoid(conv2d(
            &self.phi,
            relu(conv2d(&self.w_l, local.clone()) + query),
        ));
        let attended = (attention.clone() * local)
            .mean_dim(3)
            .mean_dim(2)
            .flatten(1, 3);
        (attention, attended)
    }
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct AttnVgg {
    /// The 13 conv-BN-ReLU units of VGG-16-BN, in order.
    features: Vec<ConvBnRelu>,
    pool: MaxPool2d,
    attn1: AttentionGate,
    attn2: AttentionGate,
    global_pool: AdaptiveAvgPool2d,
    cls: Linear,
}

impl AttnVggConfig {
    fn stage_width(&self, stage: usize) -> usize {
        self.width << stage.min(3)
    }

    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> AttnVgg {
        let mut features = Vec::new();
        let mut input = self.channels;
        for (stage, &convs) in STAGES.iter().enumerate() {
            let output = self.stage_width(stage);
            for _ in 0..convs {
                let c = conv([input, output], [3, 3], 1, [1, 1], true, device);
                features.push(ConvBnRelu::new(c, 1e-5, device));
                input = output;
            }
        }
        let (w, hidden) = (self.width, 4 * self.width);
        AttnVgg {
            features,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            attn1: AttentionGate::new(4 * w, 8 * w, hidden, device),
            attn2: AttentionGate::new(8 * w, 8 * w, hidden, device),
            global_pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            cls: LinearConfig::new(8 * w + 4 * w + 8 * w, self.classes).init(device),
        }
    }

    /// Five 2x2 pools.
    pub fn min_input_size(&self) -> usize {
        32
    }
}

impl AttnVgg {
    /// Batch norm folded into each convolution of the trunk (an inference copy; see
    /// [`super::layers::fold_batch_norm`]).
    pub fn fold_batch_norm(&mut self) {
        self.features
            .iter_mut()
            .for_each(ConvBnRelu::fold_batch_norm);
    }

    /// `x` is already normalised. Returns (logits, [pool3 attention, pool4 attention], the
    /// 1280-d feature at full width). Stages: blocks 1 to 5 (each pooled); the Grad-CAM layer:
    /// block 5's output (`features[-1]` of the seed's trunk), which the gates and the head read.
    pub fn forward(
        &self,
        x: Tensor<4>,
        probe: &mut dyn Probe,
    ) -> (Tensor<2>, Vec<Tensor<4>>, Tensor<2>) {
        let mut pools = Vec::with_capacity(STAGES.len());
        let mut units = self.features.iter();
        let mut x = x;
        for (i, &convs) in STAGES.iter().enumerate() {
            x = units
                .by_ref()
                .take(convs)
                .fold(x, |x, unit| unit.forward(x));
            x = self.pool.forward(x);
            probe.stage(i, &x);
            pools.push(x.clone());
        }
        let pool5 = probe.cam_layer(x);
        let (a1, g1) = self.attn1.forward(pools[2].clone(), pool5.clone());
        let (a2, g2) = self.attn2.forward(pools[3].clone(), pool5.clone());
        let g: Tensor<2> = self.global_pool.forward(pool5).flatten(1, 3);
        let feature = Tensor::cat(vec![g, g1, g2], 1);
        (self.cls.forward(feature.clone()), vec![a1, a2], feature)
    }
}

/// The seed code's name for the parameter at `path`: the trunk is torchvision's `vgg16_bn`
/// `features` Sequential, where conv, BN, ReLU and pools each take an index; the gates name
/// their convs `W_l`, `W_g`, `phi`.
pub(crate) fn torch_name(path: &str) -> String {
    if let Some((unit, rest)) = split_index(path, "features.") {
        let stage = STAGES
            .iter()
            .scan(0, |end, &n| {
                *end += n;
                Some(*end)
            })
            .position(|end| unit < end)
            .unwrap_or(STAGES.len());
        // Three modules (conv, BN, ReLU) per unit, plus one pool per finished stage.
        let conv_index = 3 * unit + stage;
        return match rest.split_once('.') {
            Some(("conv", p)) => format!("features.{conv_index}.{p}"),
            Some(("bn", p)) => format!("features.{}.{p}", conv_index + 1),
            _ => path.to_string(),
        };
    }
    path.replace(".w_l.", ".W_l.").replace(".w_g.", ".W_g.")
}


/// AttnVgg in the architecture registry.
pub struct AttnVggArchitecture;

impl Architecture for AttnVggArchitecture {
    burn_config_and_module!(AttnVggConfig, AttnVgg);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "attn-vgg",
        input_size: 224,
        full_width: 64,
        tiny_width: 8,
        tiny_size: 64,
        width_step: 1,
        multi_label: false,
        about: "VGG-16-BN with two attention gates (IPMI 2019; the seed's melanoma model)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> AttnVggConfig {
        AttnVggConfig::new(channels, classes).with_width(width)
    }

    fn forward(network: &AttnVgg, x: Tensor<4>, probe: &mut dyn Probe) -> ForwardOutput {
        network.forward(x, probe)
    }

    fn torch_name(path: &str) -> String {
        torch_name(path)
    }

    fn infer_config(weights: &WeightShapes) -> crate::Result<AttnVggConfig> {
        let ends = weights.ends("features.0.weight", "cls.weight")?;
        Ok(AttnVggConfig::new(ends.channels, ends.classes).with_width(ends.width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::layers::learnable_parameters;
    use crate::test_support::{cpu, rng_lock};

    #[test]
    fn full_width_trunk_has_vgg16_bn_parameter_count() {
        let _rng = rng_lock();
        let net = AttnVggConfig::new(3, 2).init(&cpu());
        // torchvision.models.vgg16_bn().features: 14,723,136 parameters.
        assert_eq!(learnable_parameters(&net.features), 14_723_136);
        // Gates: 1x1 convs 256->256 / 512->256 (local), 512->256 (global), 256->1 (+ bias).
        let gates = (256 * 256 + 512 * 256 + 257) + (512 * 256 + 512 * 256 + 257);
        assert_eq!(
            learnable_parameters(&net.attn1) + learnable_parameters(&net.attn2),
            gates
        );
        // The head reads the 1280-d feature.
        assert_eq!(learnable_parameters(&net.cls), 1280 * 2 + 2);
    }

    #[test]
    fn trunk_names_follow_vgg16_bn_sequential_indices() {
        // features: conv 0, bn 1, relu 2, conv 3, bn 4, relu 5, pool 6, conv 7, ...
        assert_eq!(torch_name("features.0.conv.weight"), "features.0.weight");
        assert_eq!(torch_name("features.1.bn.bias"), "features.4.bias");
        assert_eq!(torch_name("features.2.conv.bias"), "features.7.bias");
        assert_eq!(
            torch_name("features.12.bn.running_var"),
            "features.41.running_var"
        );
        assert_eq!(torch_name("attn2.w_g.weight"), "attn2.W_g.weight");
        assert_eq!(torch_name("cls.weight"), "cls.weight");
    }
}

#[cfg(test)]
mod upsampling {
    use burn::tensor::module::interpolate;
    use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
    use burn::tensor::{Distribution, Tensor};

    use super::upsample_bilinear;
    use crate::test_support::{cpu, rng_lock};

    #[test]
    fn matches_burns_bilinear_interpolation_at_every_factor() {
        let _rng = rng_lock();
        for (input, output) in [
            ([2, 2], [8, 8]),
            ([4, 4], [8, 8]),
            ([3, 5], [7, 16]),
            ([7, 7], [7, 7]),
        ] {
            let x = Tensor::<4>::random([2, 3, input[0], input[1]], Distribution::Default, &cpu());
            let ours = upsample_bilinear(x.clone(), output);
            let reference = interpolate(
                x,
                InterpolateOptions::new(InterpolateMode::Bilinear)
                    .with_align_corners(false)
                    .with_output_size(output),
            );
            let diff: f32 = (ours - reference).abs().max().into_scalar();
            assert!(diff < 1e-5, "{input:?} -> {output:?}: differs by {diff}");
        }
    }
}
