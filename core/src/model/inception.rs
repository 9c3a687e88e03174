//! Inception-v3 (Szegedy et al. 2016) with torchvision's structure and parameter names: the
//! seed study's diabetic-retinopathy grader, at 299x299. Every channel count scales with
//! `width / 32`, so a narrow copy trains on a CPU.

use super::architecture::{
    Architecture, ArchitectureInfo, WeightShapes, burn_config_and_module, plain_forward_and_torch_names,
};
use super::probe::Probe;
use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d,
    MaxPool2dConfig,
};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::layers::{ConvBnRelu, conv};

/// Configuration of [`InceptionV3`].
#[derive(Config, Debug, PartialEq)]
pub struct InceptionV3Config {
    /// Input channels (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Output logits.
    pub classes: usize,
    /// Channels of the first conv (32 in torchvision); all others scale with it. Even, so every
    /// scaled count (all multiples of 16 at full width) stays whole.
    #[config(default = 32)]
    pub width: usize,
    /// Keep the auxiliary classifier after Mixed_6e (torchvision's `aux_logits`). Its weights
    /// import and export; it only regularises training, so inference never runs it.
    #[config(default = false)]
    pub aux: bool,
}

/// torchvision's `BasicConv2d`: conv (no bias), batch norm (eps 0.001), ReLU.
fn basic(
    input: usize,
    output: usize,
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    device: &Device,
) -> ConvBnRelu {
    ConvBnRelu::new(
        conv([input, output], kernel, stride, padding, false, device),
        1e-3,
        device,
    )
}

fn avg_pool_3x3() -> AvgPool2d {
    AvgPool2dConfig::new([3, 3])
        .with_strides([1, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_count_include_pad(true)
        .init()
}

fn max_pool_3x3_s2() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init()
}

/// Scales torchvision's channel counts.
#[derive(Clone, Copy)]
struct Widths(usize);

impl Widths {
    fn c(self, full: usize) -> usize {
        full * self.0 / 32
    }
}

#[derive(Module, Debug)]
struct InceptionA {
    branch1x1: ConvBnRelu,
    branch5x5_1: ConvBnRelu,
    branch5x5_2: ConvBnRelu,
    branch3x3dbl_1: ConvBnRelu,
    branch3x3dbl_2: ConvBnRelu,
    branch3x3dbl_3: ConvBnRelu,
    branch_pool: ConvBnRelu,
    pool: AvgPool2d,
}

impl InceptionA {
    fn new(input: usize, pool_features: usize, w: Widths, d: &Device) -> Self {
        Self {
            branch1x1: basic(input, w.c(64), [1, 1], 1, [0, 0], d),
            branch5x5_1: basic(input, w.c(48), [1, 1], 1, [0, 0], d),
            branch5x5_2: basic(w.c(48), w.c(64), [5, 5], 1, [2, 2], d),
            branch3x3dbl_1: basic(input, w.c(64), [1, 1], 1, [0, 0], d),
            branch3x3dbl_2: basic(w.c(64), w.c(96), [3, 3], 1, [1, 1], d),
            branch3x3dbl_3: basic(w.c(96), w.c(96), [3, 3], 1, [1, 1], d),
            branch_pool: basic(input, pool_features, [1, 1], 1, [0, 0], d),
            pool: avg_pool_3x3(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_1.forward(x.clone());
        let b3 = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(b3));
        let bp = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(vec![b1, b5, b3, bp], 1)
    }
}

#[derive(Module, Debug)]
struct InceptionB {
    branch3x3: ConvBnRelu,
    branch3x3dbl_1: ConvBnRelu,
    branch3x3dbl_2: ConvBnRelu,
    branch3x3dbl_3: ConvBnRelu,
    pool: MaxPool2d,
}

impl InceptionB {
    fn new(input: usize, w: Widths, d: &Device) -> Self {
        Self {
            branch3x3: basic(input, w.c(384), [3, 3], 2, [0, 0], d),
            branch3x3dbl_1: basic(input, w.c(64), [1, 1], 1, [0, 0], d),
            branch3x3dbl_2: basic(w.c(64), w.c(96), [3, 3], 1, [1, 1], d),
            branch3x3dbl_3: basic(w.c(96), w.c(96), [3, 3], 2, [0, 0], d),
            pool: max_pool_3x3_s2(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.branch3x3.forward(x.clone());
        let bd = self.branch3x3dbl_1.forward(x.clone());
        let bd = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(bd));
        Tensor::cat(vec![b3, bd, self.pool.forward(x)], 1)
    }
}

#[derive(Module, Debug)]
struct InceptionC {
    branch1x1: ConvBnRelu,
    branch7x7_1: ConvBnRelu,
    branch7x7_2: ConvBnRelu,
    branch7x7_3: ConvBnRelu,
    branch7x7dbl_1: ConvBnRelu,
    branch7x7dbl_2: ConvBnRelu,
    branch7x7dbl_3: ConvBnRelu,
    branch7x7dbl_4: ConvBnRelu,
    branch7x7dbl_5: ConvBnRelu,
    branch_pool: ConvBnRelu,
    pool: AvgPool2d,
}

impl InceptionC {
    fn new(input: usize, c7: usize, w: Widths, d: &Device) -> Self {
        let out = w.c(192);
        let (row, col) = (([1, 7], [0, 3]), ([7, 1], [3, 0]));
        Self {
            branch1x1: basic(input, out, [1, 1], 1, [0, 0], d),
            branch7x7_1: basic(input, c7, [1, 1], 1, [0, 0], d),
            branch7x7_2: basic(c7, c7, row.0, 1, row.1, d),
            branch7x7_3: basic(c7, out, col.0, 1, col.1, d),
            branch7x7dbl_1: basic(input, c7, [1, 1], 1, [0, 0], d),
            branch7x7dbl_2: basic(c7, c7, col.0, 1, col.1, d),
            branch7x7dbl_3: basic(c7, c7, row.0, 1, row.1, d),
            branch7x7dbl_4: basic(c7, c7, col.0, 1, col.1, d),
            branch7x7dbl_5: basic(c7, out, row.0, 1, row.1, d),
            branch_pool: basic(input, out, [1, 1], 1, [0, 0], d),
            pool: avg_pool_3x3(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b7 = [&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3]
            .iter()
            .fold(x.clone(), |y, c| c.forward(y));
        let bd = [
            &self.branch7x7dbl_1,
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ]
        .iter()
        .fold(x.clone(), |y, c| c.forward(y));
        let bp = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(vec![b1, b7, bd, bp], 1)
    }
}

#[derive(Module, Debug)]
struct InceptionD {
    branch3x3_1: ConvBnRelu,
    branch3x3_2: ConvBnRelu,
    branch7x7x3_1: ConvBnRelu,
    branch7x7x3_2: ConvBnRelu,
    branch7x7x3_3: ConvBnRelu,
    branch7x7x3_4: ConvBnRelu,
    pool: MaxPool2d,
}

impl InceptionD {
    fn new(input: usize, w: Widths, d: &Device) -> Self {
        Self {
            branch3x3_1: basic(input, w.c(192), [1, 1], 1, [0, 0], d),
            branch3x3_2: basic(w.c(192), w.c(320), [3, 3], 2, [0, 0], d),
            branch7x7x3_1: basic(input, w.c(192), [1, 1], 1, [0, 0], d),
            branch7x7x3_2: basic(w.c(192), w.c(192), [1, 7], 1, [0, 3], d),
            branch7x7x3_3: basic(w.c(192), w.c(192), [7, 1], 1, [3, 0], d),
            branch7x7x3_4: basic(w.c(192), w.c(192), [3, 3], 2, [0, 0], d),
            pool: max_pool_3x3_s2(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let b7 = [
            &self.branch7x7x3_1,
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ]
        .iter()
        .fold(x.clone(), |y, c| c.forward(y));
        Tensor::cat(vec![b3, b7, self.pool.forward(x)], 1)
    }
}

#[derive(Module, Debug)]
struct InceptionE {
    branch1x1: ConvBnRelu,
    branch3x3_1: ConvBnRelu,
    branch3x3_2a: ConvBnRelu,
    branch3x3_2b: ConvBnRelu,
    branch3x3dbl_1: ConvBnRelu,
    branch3x3dbl_2: ConvBnRelu,
    branch3x3dbl_3a: ConvBnRelu,
    branch3x3dbl_3b: ConvBnRelu,
    branch_pool: ConvBnRelu,
    pool: AvgPool2d,
}

impl InceptionE {
    fn new(input: usize, w: Widths, d: &Device) -> Self {
        let c384 = w.c(384);
        Self {
            branch1x1: basic(input, w.c(320), [1, 1], 1, [0, 0], d),
            branch3x3_1: basic(input, c384, [1, 1], 1, [0, 0], d),
            branch3x3_2a: basic(c384, c384, [1, 3], 1, [0, 1], d),
            branch3x3_2b: basic(c384, c384, [3, 1], 1, [1, 0], d),
            branch3x3dbl_1: basic(input, w.c(448), [1, 1], 1, [0, 0], d),
            branch3x3dbl_2: basic(w.c(448), c384, [3, 3], 1, [1, 1], d),
            branch3x3dbl_3a: basic(c384, c384, [1, 3], 1, [0, 1], d),
            branch3x3dbl_3b: basic(c384, c384, [3, 1], 1, [1, 0], d),
            branch_pool: basic(input, w.c(192), [1, 1], 1, [0, 0], d),
            pool: avg_pool_3x3(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b3 = self.branch3x3_1.forward(x.clone());
        let b3 = Tensor::cat(
            vec![
                self.branch3x3_2a.forward(b3.clone()),
                self.branch3x3_2b.forward(b3),
            ],
            1,
        );
        let bd = self
            .branch3x3dbl_2
            .forward(self.branch3x3dbl_1.forward(x.clone()));
        let bd = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.forward(bd.clone()),
                self.branch3x3dbl_3b.forward(bd),
            ],
            1,
        );
        let bp = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(vec![b1, b3, bd, bp], 1)
    }
}

/// torchvision's `InceptionAux`: a second head on Mixed_6e for the auxiliary training loss.
#[derive(Module, Debug)]
struct InceptionAux {
    conv0: ConvBnRelu,
    conv1: ConvBnRelu,
    fc: Linear,
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct InceptionV3 {
    conv2d_1a_3x3: ConvBnRelu,
    conv2d_2a_3x3: ConvBnRelu,
    conv2d_2b_3x3: ConvBnRelu,
    conv2d_3b_1x1: ConvBnRelu,
    conv2d_4a_3x3: ConvBnRelu,
    mixed_5b: InceptionA,
    mixed_5c: InceptionA,
    mixed_5d: InceptionA,
    mixed_6a: InceptionB,
    mixed_6b: InceptionC,
    mixed_6c: InceptionC,
    mixed_6d: InceptionC,
    mixed_6e: InceptionC,
    aux_logits: Option<InceptionAux>,
    mixed_7a: InceptionD,
    mixed_7b: InceptionE,
    mixed_7c: InceptionE,
    pool: MaxPool2d,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl InceptionV3Config {
    /// Fresh weights on `d`, drawn from its random stream.
    pub fn init(&self, d: &Device) -> InceptionV3 {
        let w = Widths(self.width);
        let aux_logits = self.aux.then(|| InceptionAux {
            conv0: basic(w.c(768), w.c(128), [1, 1], 1, [0, 0], d),
            conv1: basic(w.c(128), w.c(768), [5, 5], 1, [0, 0], d),
            fc: LinearConfig::new(w.c(768), self.classes).init(d),
        });
        InceptionV3 {
            conv2d_1a_3x3: basic(self.channels, w.c(32), [3, 3], 2, [0, 0], d),
            conv2d_2a_3x3: basic(w.c(32), w.c(32), [3, 3], 1, [0, 0], d),
            conv2d_2b_3x3: basic(w.c(32), w.c(64), [3, 3], 1, [1, 1], d),
            conv2d_3b_1x1: basic(w.c(64), w.c(80), [1, 1], 1, [0, 0], d),
            conv2d_4a_3x3: basic(w.c(80), w.c(192), [3, 3], 1, [0, 0], d),
            mixed_5b: InceptionA::new(w.c(192), w.c(32), w, d),
            mixed_5c: InceptionA::new(w.c(256), w.c(64), w, d),
            mixed_5d: InceptionA::new(w.c(288), w.c(64), w, d),
            mixed_6a: InceptionB::new(w.c(288), w, d),
            mixed_6b: InceptionC::new(w.c(768), w.c(128), w, d),
            mixed_6c: InceptionC::new(w.c(768), w.c(160), w, d),
            mixed_6d: InceptionC::new(w.c(768), w.c(160), w, d),
            mixed_6e: InceptionC::new(w.c(768), w.c(192), w, d),
            aux_logits,
            mixed_7a: InceptionD::new(w.c(768), w, d),
            mixed_7b: InceptionE::new(w.c(1280), w, d),
            mixed_7c: InceptionE::new(w.c(2048), w, d),
            pool: max_pool_3x3_s2(),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(w.c(2048), self.classes).init(d),
        }
    }

    /// The stride-2 convs and pools without padding need at least 75 pixels.
    pub fn min_input_size(&self) -> usize {
        75
    }
}

impl InceptionV3 {
    /// `x` is already normalised. Returns (logits, penultimate feature). Stages: the stem,
    /// `Mixed_5d`, `Mixed_6e`, `Mixed_7c`; the Grad-CAM layer: `Mixed_7c`.
    pub fn forward(&self, x: Tensor<4>, probe: &mut dyn Probe) -> (Tensor<2>, Tensor<2>) {
        let x = self.conv2d_1a_3x3.forward(x);
        let x = self.conv2d_2a_3x3.forward(x);
        let x = self.pool.forward(self.conv2d_2b_3x3.forward(x));
        let x = self.conv2d_3b_1x1.forward(x);
        let x = self.pool.forward(self.conv2d_4a_3x3.forward(x));
        probe.stage(0, &x);
        let x = self.mixed_5b.forward(x);
        let x = self.mixed_5c.forward(x);
        let x = self.mixed_5d.forward(x);
        probe.stage(1, &x);
        let x = self.mixed_6a.forward(x);
        let x = self.mixed_6b.forward(x);
        let x = self.mixed_6c.forward(x);
        let x = self.mixed_6d.forward(x);
        let x = self.mixed_6e.forward(x);
        probe.stage(2, &x);
        let x = self.mixed_7a.forward(x);
        let x = self.mixed_7b.forward(x);
        let x = self.mixed_7c.forward(x);
        probe.stage(3, &x);
        let x = probe.cam_layer(x);
        // Dropout (p = 0.5 in torchvision) is left out: the trainer regularises with data.
        let feature: Tensor<2> = self.avgpool.forward(x).flatten(1, 3);
        (self.fc.forward(feature.clone()), feature)
    }
}

/// torchvision's name for the parameter at `path`: its top-level blocks are CamelCase
/// (`Conv2d_1a_3x3`, `Mixed_5b`, `AuxLogits`).
pub(crate) fn torch_name(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("conv2d_") {
        format!("Conv2d_{rest}")
    } else if let Some(rest) = path.strip_prefix("mixed_") {
        format!("Mixed_{rest}")
    } else if let Some(rest) = path.strip_prefix("aux_logits.") {
        format!("AuxLogits.{rest}")
    } else {
        path.to_string()
    }
}

/// A block's `fold_batch_norm`: each listed unit's batch norm folded into its convolution (an
/// inference copy; see [`super::layers::fold_batch_norm`]).
macro_rules! fold_units {
    ($block:ty: $($unit:ident),+ $(,)?) => {
        impl $block {
            fn fold_batch_norm(&mut self) {
                $(self.$unit.fold_batch_norm();)+
            }
        }
    };
}

fold_units!(InceptionA: branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branch_pool);
fold_units!(InceptionB: branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3);
fold_units!(InceptionC: branch1x1, branch7x7_1, branch7x7_2, branch7x7_3, branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool);
fold_units!(InceptionD: branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4);
fold_units!(InceptionE: branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branch_pool);
fold_units!(InceptionAux: conv0, conv1);

impl InceptionV3 {
    /// Batch norm folded into every convolution (an inference copy; see
    /// [`super::layers::fold_batch_norm`]).
    pub fn fold_batch_norm(&mut self) {
        self.conv2d_1a_3x3.fold_batch_norm();
        self.conv2d_2a_3x3.fold_batch_norm();
        self.conv2d_2b_3x3.fold_batch_norm();
        self.conv2d_3b_1x1.fold_batch_norm();
        self.conv2d_4a_3x3.fold_batch_norm();
        self.mixed_5b.fold_batch_norm();
        self.mixed_5c.fold_batch_norm();
        self.mixed_5d.fold_batch_norm();
        self.mixed_6a.fold_batch_norm();
        self.mixed_6b.fold_batch_norm();
        self.mixed_6c.fold_batch_norm();
        self.mixed_6d.fold_batch_norm();
        self.mixed_6e.fold_batch_norm();
        self.mixed_7a.fold_batch_norm();
        self.mixed_7b.fold_batch_norm();
        self.mixed_7c.fold_batch_norm();
        if let Some(aux) = &mut self.aux_logits {
            aux.fold_batch_norm();
        }
    }
}


/// InceptionV3 in the architecture registry.
pub struct InceptionV3Architecture;

impl Architecture for InceptionV3Architecture {
    burn_config_and_module!(InceptionV3Config, InceptionV3);

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "inception-v3",
        input_size: 299,
        full_width: 32,
        tiny_width: 4,
        tiny_size: 96,
        width_step: 2,
        multi_label: false,
        about: "torchvision Inception-v3 (the seed's retinopathy grader)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> InceptionV3Config {
        InceptionV3Config::new(channels, classes).with_width(width)
    }

    plain_forward_and_torch_names!(InceptionV3);

    fn infer_config(weights: &WeightShapes) -> crate::Result<InceptionV3Config> {
        let ends = weights.ends("Conv2d_1a_3x3.conv.weight", "fc.weight")?;
        Ok(InceptionV3Config::new(ends.channels, ends.classes)
            .with_width(ends.width)
            .with_aux(weights.contains("AuxLogits.fc.weight")))
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
        // torchvision.models.inception_v3(): 27,161,264 parameters with the auxiliary head,
        // 23,834,568 without it.
        let config = InceptionV3Config::new(3, 1000);
        assert_eq!(learnable_parameters(&config.init(&cpu())), 23_834_568);
        assert_eq!(
            learnable_parameters(&config.with_aux(true).init(&cpu())),
            27_161_264
        );
    }

    #[test]
    fn names_follow_torchvision() {
        assert_eq!(
            torch_name("conv2d_1a_3x3.conv.weight"),
            "Conv2d_1a_3x3.conv.weight"
        );
        assert_eq!(
            torch_name("mixed_7c.branch3x3dbl_3b.bn.running_mean"),
            "Mixed_7c.branch3x3dbl_3b.bn.running_mean"
        );
        assert_eq!(torch_name("aux_logits.fc.weight"), "AuxLogits.fc.weight");
        assert_eq!(torch_name("fc.bias"), "fc.bias");
    }
}
