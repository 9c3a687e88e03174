//! The architectures robustdx knows, by name, with their default configurations.

use super::probe::{NoProbe, Probe};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{
    AttnVgg, AttnVggConfig, DenseNet, DenseNetConfig, InceptionV3, InceptionV3Config, ResNet18,
    ResNet18Config, SmallCnn, SmallCnnConfig, attn_vgg, densenet, inception, resnet,
};
use crate::{Error, Result};

/// What the registry says about an architecture before any weights exist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchitectureInfo {
    pub name: &'static str,
    /// The input side the architecture was designed for (torchvision's, for the paper's models).
    pub input_size: usize,
    /// Width (first-layer channels) of the full model.
    pub full_width: usize,
    /// A narrow width that trains on a CPU in seconds.
    pub tiny_width: usize,
    /// An input side for the tiny variant (at least the architecture's minimum).
    pub tiny_size: usize,
    /// Multi-label head (sigmoid / BCE) by default, as CheXNet's DenseNet-121.
    pub multi_label: bool,
    pub about: &'static str,
}

/// Registered architectures.
pub const ARCHITECTURES: &[ArchitectureInfo] = &[
    ArchitectureInfo {
        name: "small-cnn",
        input_size: 64,
        full_width: 32,
        tiny_width: 8,
        tiny_size: 64,
        multi_label: false,
        about: "4 conv blocks and a linear head: quick runs and the browser",
    },
    ArchitectureInfo {
        name: "resnet-18",
        input_size: 224,
        full_width: 64,
        tiny_width: 8,
        tiny_size: 64,
        multi_label: false,
        about: "torchvision ResNet-18",
    },
    ArchitectureInfo {
        name: "attn-vgg",
        input_size: 224,
        full_width: 64,
        tiny_width: 8,
        tiny_size: 64,
        multi_label: false,
        about: "VGG-16-BN with two attention gates (IPMI 2019; the seed's melanoma model)",
    },
    ArchitectureInfo {
        name: "inception-v3",
        input_size: 299,
        full_width: 32,
        tiny_width: 4,
        tiny_size: 96,
        multi_label: false,
        about: "torchvision Inception-v3 (the seed's retinopathy grader)",
    },
    ArchitectureInfo {
        name: "densenet-121",
        input_size: 224,
        full_width: 64,
        tiny_width: 8,
        tiny_size: 64,
        multi_label: true,
        about: "torchvision DenseNet-121 with a sigmoid head (CheXNet; the seed's chest model)",
    },
];

/// The registry entry of `name`, or an error listing the known names.
pub fn architecture(name: &str) -> Result<&'static ArchitectureInfo> {
    ARCHITECTURES
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| {
            let known: Vec<_> = ARCHITECTURES.iter().map(|a| a.name).collect();
            Error::invalid(format!(
                "unknown model '{name}' (known: {})",
                known.join(", ")
            ))
        })
}

/// Size and width choices a user may override when creating a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    pub channels: usize,
    pub classes: usize,
    /// Width of the first layer; `None` takes the architecture's full width.
    pub width: Option<usize>,
}

/// The serialisable description of a network: which architecture, with which settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum ArchitectureConfig {
    #[serde(rename = "small-cnn")]
    SmallCnn(SmallCnnConfig),
    #[serde(rename = "resnet-18")]
    ResNet18(ResNet18Config),
    #[serde(rename = "attn-vgg")]
    AttnVgg(AttnVggConfig),
    #[serde(rename = "inception-v3")]
    InceptionV3(InceptionV3Config),
    #[serde(rename = "densenet-121")]
    DenseNet121(DenseNetConfig),
}

/// The weights of any registered architecture.
// Inception's many small modules make its variant large; a model holds one network and moves
// it rarely, so boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    SmallCnn(SmallCnn),
    ResNet18(ResNet18),
    AttnVgg(AttnVgg),
    InceptionV3(InceptionV3),
    DenseNet121(DenseNet),
}

impl ArchitectureConfig {
    /// The configuration of architecture `name` at the requested width.
    pub fn from_name(name: &str, options: &ModelOptions) -> Result<Self> {
        let info = architecture(name)?;
        let width = options.width.unwrap_or(info.full_width);
        // Each architecture's narrowest layer is a fixed fraction of the width.
        let step = match name {
            "inception-v3" | "densenet-121" => 2,
            _ => 1,
        };
        if width == 0 || !width.is_multiple_of(step) {
            return Err(Error::invalid(format!(
                "{name}: width must be a positive multiple of {step}, got {width}"
            )));
        }
        let (channels, classes) = (options.channels, options.classes);
        Ok(match name {
            "small-cnn" => Self::SmallCnn(SmallCnnConfig::new(channels, classes).with_width(width)),
            "resnet-18" => Self::ResNet18(ResNet18Config::new(channels, classes).with_width(width)),
            "attn-vgg" => Self::AttnVgg(AttnVggConfig::new(channels, classes).with_width(width)),
            "inception-v3" => {
                Self::InceptionV3(InceptionV3Config::new(channels, classes).with_width(width))
            }
            _ => Self::DenseNet121(
                DenseNetConfig::new(channels, classes)
                    .with_init_features(width)
                    .with_growth_rate(width / 2),
            ),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::SmallCnn(_) => "small-cnn",
            Self::ResNet18(_) => "resnet-18",
            Self::AttnVgg(_) => "attn-vgg",
            Self::InceptionV3(_) => "inception-v3",
            Self::DenseNet121(_) => "densenet-121",
        }
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        match self {
            Self::SmallCnn(c) => c.channels,
            Self::ResNet18(c) => c.channels,
            Self::AttnVgg(c) => c.channels,
            Self::InceptionV3(c) => c.channels,
            Self::DenseNet121(c) => c.channels,
        }
    }

    /// Output logits.
    pub fn classes(&self) -> usize {
        match self {
            Self::SmallCnn(c) => c.classes,
            Self::ResNet18(c) => c.classes,
            Self::AttnVgg(c) => c.classes,
            Self::InceptionV3(c) => c.classes,
            Self::DenseNet121(c) => c.classes,
        }
    }

    /// Checks that an input of `size` x `size` pixels fits the architecture.
    pub fn check_input_size(&self, size: usize) -> Result<()> {
        let min = match self {
            Self::SmallCnn(c) => c.min_input_size(),
            Self::ResNet18(c) => c.min_input_size(),
            Self::AttnVgg(c) => c.min_input_size(),
            Self::InceptionV3(c) => c.min_input_size(),
            Self::DenseNet121(c) => c.min_input_size(),
        };
        if size < min {
            return Err(Error::invalid(format!(
                "{} needs images of at least {min}x{min} pixels, got {size}x{size}",
                self.name()
            )));
        }
        Ok(())
    }

    /// Fresh weights (initialised from the device's random stream).
    pub fn init(&self, device: &Device) -> Network {
        match self {
            Self::SmallCnn(c) => Network::SmallCnn(c.init(device)),
            Self::ResNet18(c) => Network::ResNet18(c.init(device)),
            Self::AttnVgg(c) => Network::AttnVgg(c.init(device)),
            Self::InceptionV3(c) => Network::InceptionV3(c.init(device)),
            Self::DenseNet121(c) => Network::DenseNet121(c.init(device)),
        }
    }

    /// The PyTorch (torchvision) name of the parameter at `path` in our module, where `path`
    /// already uses PyTorch's parameter names (`weight` / `bias` for batch norm).
    pub fn torch_name(&self, path: &str) -> String {
        match self {
            Self::SmallCnn(_) => path.to_string(),
            Self::ResNet18(_) => resnet::torch_name(path),
            Self::AttnVgg(_) => attn_vgg::torch_name(path),
            Self::InceptionV3(_) => inception::torch_name(path),
            Self::DenseNet121(_) => densenet::torch_name(path),
        }
    }
}

impl Network {
    /// `x` is already normalised. Returns (logits, attention maps, penultimate feature).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Vec<Tensor<4>>, Tensor<2>) {
        self.forward_probed(x, &mut NoProbe)
    }

    /// [`forward`](Self::forward), showing the stages and the Grad-CAM layer to `probe`.
    pub fn forward_probed(
        &self,
        x: Tensor<4>,
        probe: &mut dyn Probe,
    ) -> (Tensor<2>, Vec<Tensor<4>>, Tensor<2>) {
        let plain = |(logits, feature)| (logits, Vec::new(), feature);
        match self {
            Network::SmallCnn(net) => plain(net.forward(x, probe)),
            Network::ResNet18(net) => plain(net.forward(x, probe)),
            Network::AttnVgg(net) => net.forward(x, probe),
            Network::InceptionV3(net) => plain(net.forward(x, probe)),
            Network::DenseNet121(net) => plain(net.forward(x, probe)),
        }
    }

    /// The same function with batch norm folded into the convolutions before it, for
    /// inference copies (no batch statistics left to train).
    pub fn fold_batch_norm(mut self) -> Self {
        match &mut self {
            Network::SmallCnn(net) => net.fold_batch_norm(),
            Network::ResNet18(net) => net.fold_batch_norm(),
            Network::AttnVgg(net) => net.fold_batch_norm(),
            Network::InceptionV3(net) => net.fold_batch_norm(),
            Network::DenseNet121(net) => net.fold_batch_norm(),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
    use burn::tensor::Distribution;

    use super::*;
    use crate::test_support::{cpu, rng_lock};

    fn tiny(name: &str, classes: usize) -> ArchitectureConfig {
        let info = architecture(name).unwrap();
        let options = ModelOptions {
            channels: 3,
            classes,
            width: Some(info.tiny_width),
        };
        ArchitectureConfig::from_name(name, &options).unwrap()
    }

    #[test]
    fn every_architecture_gives_logits_features_and_its_attention_maps() {
        let _rng = rng_lock();
        let device = cpu();
        for info in ARCHITECTURES {
            let size = if info.name == "inception-v3" { 75 } else { 32 };
            let config = tiny(info.name, 3);
            config.check_input_size(size).unwrap();
            let x = Tensor::<4>::random([2, 3, size, size], Distribution::Default, &device);
            let (logits, attention, feature) = config.init(&device).forward(x);
            assert_eq!(logits.dims(), [2, 3], "{}", info.name);
            assert_eq!(feature.dims()[0], 2, "{}", info.name);
            let maps: Vec<_> = attention.iter().map(|a| a.dims()).collect();
            if info.name == "attn-vgg" {
                // pool3 and pool4 of a 32-pixel input: 4x4 and 2x2.
                assert_eq!(maps, vec![[2, 1, 4, 4], [2, 1, 2, 2]]);
                assert_eq!(feature.dims()[1], 20 * info.tiny_width);
            } else {
                assert!(maps.is_empty(), "{}", info.name);
            }
        }
    }

    /// Scales and shifts every 1-d parameter (batch norm's γ and β, biases) away from its
    /// initial value, so folding meets γ ≠ 1 and β ≠ 0.
    struct Jitter;

    impl burn::module::ModuleMapper for Jitter {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            if D != 1 {
                return param;
            }
            param.map(|t| {
                let scale = Tensor::random_like(&t, Distribution::Uniform(0.5, 1.5));
                let shift = Tensor::random_like(&t, Distribution::Uniform(-0.3, 0.3));
                t * scale + shift
            })
        }
    }

    #[test]
    fn folding_batch_norm_keeps_every_architectures_function_and_input_gradient() {
        use burn::module::Module;
        let _rng = rng_lock();
        let device = cpu();
        device.seed(11);
        for info in ARCHITECTURES {
            let size = if info.name == "inception-v3" { 75 } else { 32 };
            let mut network = tiny(info.name, 3).init(&device).map(&mut Jitter);
            // Running statistics away from (0, 1): three training-mode batches.
            let ad = device.clone().autodiff();
            let trained = network.clone().to_device(&ad).train();
            for _ in 0..3 {
                let x = Tensor::<4>::random([4, 3, size, size], Distribution::Default, &ad);
                let _ = trained.forward(x.mul_scalar(2.0).sub_scalar(0.5));
            }
            network = trained.valid();
            let folded = network.clone().fold_batch_norm();
            assert!(
                folded.num_params() < network.num_params(),
                "{}: nothing was folded",
                info.name
            );
            let x = Tensor::<4>::random([2, 3, size, size], Distribution::Default, &device);
            let (expected, _, _) = network.forward(x.clone());
            let (actual, _, _) = folded.forward(x.clone());
            let scale = expected.clone().abs().max().into_scalar::<f32>().max(1.0);
            actual.into_data().assert_approx_eq::<f32>(
                &expected.into_data(),
                burn::tensor::Tolerance::absolute(2e-5 * scale),
            );
            // The input gradient an attack follows, through both.
            let gradient = |net: &Network| {
                let net = net.clone().to_device(&ad).freeze();
                let x = x.clone().autodiff().require_grad();
                let (logits, _, _) = net.forward(x.clone());
                let grads = logits.sum().backward();
                x.grad(&grads).unwrap()
            };
            let (g, g_folded) = (gradient(&network), gradient(&folded));
            let scale = g.clone().abs().max().into_scalar::<f32>().max(1e-3);
            g_folded.into_data().assert_approx_eq::<f32>(
                &g.into_data(),
                burn::tensor::Tolerance::absolute(1e-4 * scale),
            );
        }
    }

    #[test]
    fn torch_names_are_distinct_and_include_the_head() {
        let _rng = rng_lock();
        let heads = [
            ("small-cnn", "head.weight"),
            ("resnet-18", "fc.weight"),
            ("attn-vgg", "cls.weight"),
            ("inception-v3", "fc.weight"),
            ("densenet-121", "classifier.weight"),
        ];
        for (name, head) in heads {
            let config = tiny(name, 2);
            let tensors =
                config
                    .init(&cpu())
                    .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
            let names: HashSet<String> =
                tensors.iter().map(|t| config.torch_name(&t.name)).collect();
            assert_eq!(
                names.len(),
                tensors.len(),
                "{name}: two parameters share a name"
            );
            assert!(names.contains(head), "{name}: no {head}");
        }
    }

    #[test]
    fn unknown_names_and_bad_widths_are_errors() {
        let options = ModelOptions {
            channels: 3,
            classes: 2,
            width: Some(5),
        };
        let err = ArchitectureConfig::from_name("vgg-19", &options).unwrap_err();
        assert!(err.to_string().contains("attn-vgg"), "{err}");
        let err = ArchitectureConfig::from_name("inception-v3", &options).unwrap_err();
        assert!(err.to_string().contains("multiple of 2"), "{err}");
        let err = tiny("resnet-18", 2).check_input_size(16).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
    }
}
