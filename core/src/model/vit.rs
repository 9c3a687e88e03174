//! ViT-B/16 (Dosovitskiy et al. 2021) with torchvision's structure and parameter names: 16x16
//! patches embedded by a strided convolution, a class token, learned position embeddings, 12
//! pre-norm encoder blocks (multi-head self-attention and a GELU MLP, each with a residual), a
//! final layer norm, one linear head on the class token.
//!
//! The position embedding is learned for one patch grid, so a ViT takes one input size: the one
//! it was made (or imported) for. The attention heads are not in a state dict's shapes; ViT-B,
//! -L and -H all use 64 channels a head, and so does robustdx. Dropout is identity in
//! evaluation, as in torchvision, and left out of training here, as Inception's dropout is.

use super::architecture::{
    Architecture, ArchitectureInfo, WeightShapes, burn_config_and_module, plain_forward_and_torch_names,
};
use super::layers::split_index;
use super::convolution::conv2d;
use super::probe::Probe;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Distribution, Tensor};

/// Channels of one attention head in every ViT of the paper.
const HEAD_CHANNELS: usize = 64;
/// torchvision's layer norm epsilon throughout the ViT.
const EPSILON: f64 = 1e-6;

/// Configuration of [`VisionTransformer`]; the defaults are ViT-B/16.
#[derive(Config, Debug, PartialEq)]
pub struct VisionTransformerConfig {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Token channels (768 for ViT-B).
    #[config(default = 768)]
    pub hidden: usize,
    /// Encoder blocks (12).
    #[config(default = 12)]
    pub layers: usize,
    /// Attention heads (12).
    #[config(default = 12)]
    pub heads: usize,
    /// Hidden channels of each block's MLP (3072).
    #[config(default = 3072)]
    pub mlp: usize,
    /// Side of a patch (16).
    #[config(default = 16)]
    pub patch: usize,
    /// Side of the input the position embedding is made for (224).
    #[config(default = 224)]
    pub image_size: usize,
}

impl VisionTransformerConfig {
    /// Patches along each side.
    fn grid(&self) -> usize {
        self.image_size / self.patch
    }
}

fn layer_norm(channels: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(channels)
        .with_epsilon(EPSILON)
        .init(device)
}

/// torchvision's `nn.MultiheadAttention` as the ViT uses it (queries, keys and values from the
/// same tokens): one packed input projection, kept in PyTorch's `[3·hidden, hidden]` layout.
#[derive(Module, Debug)]
struct SelfAttention {
    in_proj_weight: Param<Tensor<2>>,
    in_proj_bias: Param<Tensor<1>>,
    out_proj: Linear,
    heads: usize,
}

impl SelfAttention {
    fn new(hidden: usize, heads: usize, device: &Device) -> Self {
        // PyTorch's init: Xavier-uniform weights, zero biases.
        let bound = (6.0 / (hidden + 3 * hidden) as f64).sqrt();
        Self {
            in_proj_weight: Param::from_tensor(Tensor::random(
                [3 * hidden, hidden],
                Distribution::Uniform(-bound, bound),
                device,
            )),
            in_proj_bias: Param::from_tensor(Tensor::zeros([3 * hidden], device)),
            out_proj: LinearConfig::new(hidden, hidden).init(device),
            heads,
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, tokens, hidden] = x.dims();
        let head = hidden / self.heads;
        let packed = x.reshape([batch * tokens, hidden]).matmul(self.in_proj_weight.val().transpose())
            + self.in_proj_bias.val().unsqueeze::<2>();
        let packed = packed.reshape([batch, tokens, 3 * hidden]);
        // [batch, heads, tokens, head] for the queries (i = 0), keys (1) and values (2).
        let part = |i: usize| {
            packed
                .clone()
                .slice([0..batch, 0..tokens, i * hidden..(i + 1) * hidden])
                .reshape([batch, tokens, self.heads, head])
                .swap_dims(1, 2)
        };
        let (queries, keys, values) = (part(0), part(1), part(2));
        let scores = queries.matmul(keys.swap_dims(2, 3)) / (head as f64).sqrt();
        let mixed = softmax(scores, 3).matmul(values);
        self.out_proj
            .forward(mixed.swap_dims(1, 2).reshape([batch, tokens, hidden]))
    }
}

/// torchvision's `EncoderBlock`: pre-norm attention and MLP, each added to its input.
#[derive(Module, Debug)]
struct EncoderBlock {
    ln_1: LayerNorm,
    self_attention: SelfAttention,
    ln_2: LayerNorm,
    mlp_1: Linear,
    mlp_2: Linear,
}

impl EncoderBlock {
    /// With `cam_grid`, the probe's Grad-CAM layer is the normalised patch tokens the attention
    /// reads, as a `[batch, hidden, grid, grid]` map (pytorch-grad-cam's `reshape_transform`
    /// for ViTs).
    fn forward(&self, x: Tensor<3>, probe: &mut dyn Probe, cam_grid: Option<usize>) -> Tensor<3> {
        let mut y = self.ln_1.forward(x.clone());
        if let Some(grid) = cam_grid {
            let [batch, tokens, hidden] = y.dims();
            let class = y.clone().slice([0..batch, 0..1, 0..hidden]);
            let patches = y.slice([0..batch, 1..tokens, 0..hidden]);
            let map = probe.cam_layer(patches_to_map(patches, grid));
            y = Tensor::cat(vec![class, map_to_patches(map)], 1);
        }
        let x = x + self.self_attention.forward(y);
        let y = self.mlp_2.forward(gelu(self.mlp_1.forward(self.ln_2.forward(x.clone()))));
        x + y
    }
}

/// Patch tokens `[batch, grid², hidden]` as a map `[batch, hidden, grid, grid]` (row-major, as
/// the convolution laid them out).
fn patches_to_map(patches: Tensor<3>, grid: usize) -> Tensor<4> {
    let [batch, _, hidden] = patches.dims();
    patches.swap_dims(1, 2).reshape([batch, hidden, grid, grid])
}

fn map_to_patches(map: Tensor<4>) -> Tensor<3> {
    let [batch, hidden, rows, columns] = map.dims();
    map.reshape([batch, hidden, rows * columns]).swap_dims(1, 2)
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct VisionTransformer {
    conv_proj: Conv2d,
    class_token: Param<Tensor<3>>,
    pos_embedding: Param<Tensor<3>>,
    layers: Vec<EncoderBlock>,
    ln: LayerNorm,
    head: Linear,
    grid: usize,
}

impl VisionTransformerConfig {
    /// Fresh weights on `device`, drawn from its random stream.
    pub fn init(&self, device: &Device) -> VisionTransformer {
        let (hidden, grid) = (self.hidden, self.grid());
        VisionTransformer {
            conv_proj: Conv2dConfig::new([self.channels, hidden], [self.patch, self.patch])
                .with_stride([self.patch, self.patch])
                .init(device),
            class_token: Param::from_tensor(Tensor::zeros([1, 1, hidden], device)),
            // torchvision's init: N(0, 0.02²).
            pos_embedding: Param::from_tensor(Tensor::random(
                [1, grid * grid + 1, hidden],
                Distribution::Normal(0.0, 0.02),
                device,
            )),
            layers: (0..self.layers)
                .map(|_| EncoderBlock {
                    ln_1: layer_norm(hidden, device),
                    self_attention: SelfAttention::new(hidden, self.heads, device),
                    ln_2: layer_norm(hidden, device),
                    mlp_1: LinearConfig::new(hidden, self.mlp).init(device),
                    mlp_2: LinearConfig::new(self.mlp, hidden).init(device),
                })
                .collect(),
            ln: layer_norm(hidden, device),
            head: LinearConfig::new(hidden, self.classes).init(device),
            grid,
        }
    }

    /// The one size the position embedding fits.
    pub fn min_input_size(&self) -> usize {
        self.grid() * self.patch
    }
}

impl VisionTransformer {
    /// No batch norm to fold: layer norm has no running statistics.
    pub fn fold_batch_norm(&mut self) {}

    /// `x` is already normalised. Returns (logits, penultimate feature: the class token after
    /// the final layer norm). Stages: each block's patch tokens as a map; the Grad-CAM layer:
    /// the last block's `ln_1` output, as a map.
    pub fn forward(&self, x: Tensor<4>, probe: &mut dyn Probe) -> (Tensor<2>, Tensor<2>) {
        let patches = map_to_patches(conv2d(&self.conv_proj, x));
        let [batch, tokens, hidden] = patches.dims();
        let class = self.class_token.val().expand([batch, 1, hidden]);
        let mut x = Tensor::cat(vec![class, patches], 1) + self.pos_embedding.val();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, probe, (i == last).then_some(self.grid));
            let patches = x.clone().slice([0..batch, 1..tokens + 1, 0..hidden]);
            probe.stage(i, &patches_to_map(patches, self.grid));
        }
        let feature = self
            .ln
            .forward(x)
            .slice([0..batch, 0..1, 0..hidden])
            .reshape([batch, hidden]);
        (self.head.forward(feature.clone()), feature)
    }
}

/// torchvision's name for the parameter at `path`: the blocks, the position embedding and the
/// final norm live in its `encoder`, the blocks are named `encoder_layer_{i}`, the MLP is a
/// `Sequential` (linear at 0 and 3) and the head sits in `heads`.
pub(crate) fn torch_name(path: &str) -> String {
    if let Some((layer, rest)) = split_index(path, "layers.") {
        let rest = rest
            .replacen("mlp_1.", "mlp.0.", 1)
            .replacen("mlp_2.", "mlp.3.", 1);
        return format!("encoder.layers.encoder_layer_{layer}.{rest}");
    }
    if path == "pos_embedding" || path.starts_with("ln.") {
        return format!("encoder.{path}");
    }
    if let Some(rest) = path.strip_prefix("head.") {
        return format!("heads.head.{rest}");
    }
    path.to_string()
}

/// ViT-B/16 in the architecture registry.
pub struct VitB16Architecture;

impl Architecture for VitB16Architecture {
    burn_config_and_module!(VisionTransformerConfig, VisionTransformer);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "vit-b-16",
        input_size: 224,
        full_width: 768,
        tiny_width: 64,
        tiny_size: 64,
        width_step: HEAD_CHANNELS,
        multi_label: false,
        about: "torchvision ViT-B/16 (one input size: its patch grid's)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> VisionTransformerConfig {
        VisionTransformerConfig::new(channels, classes)
            .with_hidden(width)
            .with_heads(width / HEAD_CHANNELS)
            .with_mlp(4 * width)
    }

    fn for_input_size(config: VisionTransformerConfig, size: usize) -> VisionTransformerConfig {
        config.with_image_size(size)
    }

    fn fixed_input_size(config: &VisionTransformerConfig) -> Option<usize> {
        Some(config.min_input_size())
    }

    plain_forward_and_torch_names!(VisionTransformer);

    fn infer_config(weights: &WeightShapes) -> crate::Result<VisionTransformerConfig> {
        let ends = weights.ends("conv_proj.weight", "heads.head.weight")?;
        let patch = weights.dims("conv_proj.weight", 4)?[2];
        let hidden = ends.width;
        let layers = weights.count("encoder.layers.encoder_layer_", 0);
        let mlp = weights.dims("encoder.layers.encoder_layer_0.mlp.0.weight", 2)?[0];
        let tokens = weights.dims("encoder.pos_embedding", 3)?[1];
        let grid = (1..=tokens).find(|g| g * g + 1 >= tokens).unwrap_or(0);
        if grid * grid + 1 != tokens || !hidden.is_multiple_of(HEAD_CHANNELS) {
            return Err(crate::Error::invalid(format!(
                "encoder.pos_embedding holds {tokens} tokens and the tokens {hidden} channels; \
                 robustdx reads ViTs with a class token and a square patch grid (a square \
                 number plus one tokens) and {HEAD_CHANNELS}-channel attention heads"
            )));
        }
        Ok(VisionTransformerConfig::new(ends.channels, ends.classes)
            .with_hidden(hidden)
            .with_layers(layers)
            .with_heads(hidden / HEAD_CHANNELS)
            .with_mlp(mlp)
            .with_patch(patch)
            .with_image_size(grid * patch))
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
        // torchvision.models.vit_b_16(): 86,567,656 parameters.
        assert_eq!(
            learnable_parameters(&VisionTransformerConfig::new(3, 1000).init(&cpu())),
            86_567_656
        );
    }

    #[test]
    fn names_follow_torchvision() {
        for (ours, theirs) in [
            ("conv_proj.weight", "conv_proj.weight"),
            ("class_token", "class_token"),
            ("pos_embedding", "encoder.pos_embedding"),
            (
                "layers.0.self_attention.in_proj_weight",
                "encoder.layers.encoder_layer_0.self_attention.in_proj_weight",
            ),
            (
                "layers.11.self_attention.out_proj.bias",
                "encoder.layers.encoder_layer_11.self_attention.out_proj.bias",
            ),
            ("layers.3.mlp_1.weight", "encoder.layers.encoder_layer_3.mlp.0.weight"),
            ("layers.3.mlp_2.bias", "encoder.layers.encoder_layer_3.mlp.3.bias"),
            ("layers.2.ln_2.weight", "encoder.layers.encoder_layer_2.ln_2.weight"),
            ("ln.bias", "encoder.ln.bias"),
            ("head.weight", "heads.head.weight"),
        ] {
            assert_eq!(torch_name(ours), theirs);
        }
    }

    #[test]
    fn patch_tokens_and_their_map_are_the_same_grid() {
        // Token n of a 2x3 grid is row n / 3, column n % 3 of the map, in every channel.
        let device = cpu();
        let tokens = Tensor::<3>::from_data(
            burn::tensor::TensorData::new((0..12).map(|v| v as f32).collect(), [1, 6, 2]),
            &device,
        );
        let map = tokens.clone().swap_dims(1, 2).reshape([1, 2, 2, 3]);
        let value = |c: usize, r: usize, k: usize| {
            map.clone()
                .slice([0..1, c..c + 1, r..r + 1, k..k + 1])
                .into_scalar::<f32>()
        };
        assert_eq!(value(1, 1, 2), 11.0); // token 5, channel 1
        assert_eq!(value(0, 0, 1), 2.0); // token 1, channel 0
        assert_eq!(map_to_patches(map).into_data(), tokens.into_data());
    }
}
