//! The architectures robustdx knows: the `architectures!` list (in `model/mod.rs`) makes the
//! registry of their descriptions, the serialisable [`ArchitectureConfig`] and the weights of any
//! of them, [`Network`], whose every `match` the compiler checks for completeness.

use burn::tensor::{Device, Tensor};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::architecture::{ArchitectureInfo, ForwardOutput, ModelOptions};
use super::probe::{NoProbe, Probe};
use super::{ARCHITECTURES, ArchitectureConfig, Network, WeightShapes};
use crate::{Error, Result};

/// Declares the architecture modules and everything made from their list (used once, in
/// `model/mod.rs`): `Variant => module::ArchitectureType`, then, after `test:`, architectures
/// only the core's own tests register.
macro_rules! architectures {
    (
        $($variant:ident => $module:ident::$arch:ident),+ ;
        test: $($test_variant:ident => $test_module:ident::$test_arch:ident),*
    ) => {
        $(mod $module;)+
        $(#[cfg(test)] mod $test_module;)*
        #[cfg(not(test))]
        $crate::model::registry::architectures!(@emit $($variant => $module::$arch),+);
        #[cfg(test)]
        $crate::model::registry::architectures!(
            @emit $($variant => $module::$arch),+ $(, $test_variant => $test_module::$test_arch)*
        );
    };
    (@emit $($variant:ident => $module:ident::$arch:ident),+) => {
        /// Every architecture robustdx can build, in the order listings show them.
        pub static ARCHITECTURES: $crate::registry::Registry<$crate::model::ArchitectureInfo> =
            $crate::registry::Registry::new("model", &[$(
                <$module::$arch as $crate::model::Architecture>::INFO
            ),+]);

        /// The serialisable description of a network: which architecture, with which settings
        /// (in files: the settings with the architecture's `name` beside them).
        #[derive(Debug, Clone, PartialEq)]
        pub enum ArchitectureConfig {
            $(
                #[doc = concat!(
                    "The ", stringify!($variant), " settings (`model/", stringify!($module), ".rs`)."
                )]
                $variant(<$module::$arch as $crate::model::Architecture>::Config)
            ),+
        }

        /// The weights of any registered architecture.
        // Inception's many small modules make its variant large; a model holds one network and
        // moves it rarely, so boxing would buy nothing.
        #[allow(clippy::large_enum_variant)]
        #[derive(burn::module::Module, Debug)]
        pub enum Network {
            $(
                #[doc = concat!(
                    "The ", stringify!($variant), " weights (`model/", stringify!($module), ".rs`)."
                )]
                $variant(<$module::$arch as $crate::model::Architecture>::Network)
            ),+
        }

        impl $crate::model::registry::Architectures for ArchitectureConfig {
            type Network = Network;

            fn build(info: &$crate::model::ArchitectureInfo, options: &$crate::model::ModelOptions, width: usize) -> Self {
                use $crate::model::Architecture;
                $(if info.name == $module::$arch::INFO.name {
                    let config = $module::$arch::config(options.channels, options.classes, width);
                    return Self::$variant($module::$arch::for_input_size(config, options.input_size));
                })+
                unreachable!("{} is registered", info.name)
            }

            fn info(&self) -> &'static $crate::model::ArchitectureInfo {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(_) => &$module::$arch::INFO),+
                }
            }

            fn channels(&self) -> usize {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(c) => $module::$arch::channels(c)),+
                }
            }

            fn classes(&self) -> usize {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(c) => $module::$arch::classes(c)),+
                }
            }

            fn min_input_size(&self) -> usize {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(c) => $module::$arch::min_input_size(c)),+
                }
            }

            fn fixed_input_size(&self) -> Option<usize> {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(c) => $module::$arch::fixed_input_size(c)),+
                }
            }

            fn init(&self, device: &burn::tensor::Device) -> Network {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(c) => Network::$variant($module::$arch::init(c, device))),+
                }
            }

            fn torch_name(&self, path: &str) -> String {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(_) => $module::$arch::torch_name(path)),+
                }
            }

            fn infer(info: &$crate::model::ArchitectureInfo, weights: &$crate::model::WeightShapes) -> $crate::Result<Self> {
                use $crate::model::Architecture;
                $(if info.name == $module::$arch::INFO.name {
                    return $module::$arch::infer_config(weights).map(Self::$variant);
                })+
                unreachable!("{} is registered", info.name)
            }

            fn serialize_tagged<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::Serialize;
                let name = self.info().name;
                match self {
                    $(Self::$variant(config) => {
                        $crate::model::registry::Tagged { name, config }.serialize(serializer)
                    }),+
                }
            }

            fn from_json(info: &$crate::model::ArchitectureInfo, value: serde_json::Value) -> serde_json::Result<Self> {
                use $crate::model::Architecture;
                $(if info.name == $module::$arch::INFO.name {
                    return serde_json::from_value(value).map(Self::$variant);
                })+
                unreachable!("{} is registered", info.name)
            }
        }

        impl $crate::model::registry::Networks for Network {
            fn forward_probed(&self, x: burn::tensor::Tensor<4>, probe: &mut dyn $crate::model::Probe) -> $crate::model::ForwardOutput {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(net) => $module::$arch::forward(net, x, probe)),+
                }
            }

            fn fold_batch_norm_in_place(&mut self) {
                use $crate::model::Architecture;
                match self {
                    $(Self::$variant(net) => $module::$arch::fold_batch_norm(net)),+
                }
            }
        }
    };
}
pub(super) use architectures;

/// The dispatch the `architectures!` list generates for [`ArchitectureConfig`], each method one
/// exhaustive `match` (the public, documented methods are on the type).
#[doc(hidden)]
pub trait Architectures: Sized {
    type Network;
    fn build(info: &ArchitectureInfo, options: &ModelOptions, width: usize) -> Self;
    fn info(&self) -> &'static ArchitectureInfo;
    fn channels(&self) -> usize;
    fn classes(&self) -> usize;
    fn min_input_size(&self) -> usize;
    fn fixed_input_size(&self) -> Option<usize>;
    fn init(&self, device: &Device) -> Self::Network;
    fn torch_name(&self, path: &str) -> String;
    fn infer(info: &ArchitectureInfo, weights: &WeightShapes) -> Result<Self>;
    fn serialize_tagged<S: Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error>;
    fn from_json(info: &ArchitectureInfo, value: serde_json::Value) -> serde_json::Result<Self>;
}

/// The dispatch the `architectures!` list generates for [`Network`].
#[doc(hidden)]
pub trait Networks {
    fn forward_probed(&self, x: Tensor<4>, probe: &mut dyn Probe) -> ForwardOutput;
    fn fold_batch_norm_in_place(&mut self);
}

/// The registry entry of `name`, or an error listing the known names.
pub fn architecture(name: &str) -> Result<&'static ArchitectureInfo> {
    ARCHITECTURES.get(name)
}

impl ArchitectureConfig {
    /// The configuration of architecture `name` at the requested width.
    pub fn from_name(name: &str, options: &ModelOptions) -> Result<Self> {
        let info = architecture(name)?;
        let width = options.width.unwrap_or(info.full_width);
        let step = info.width_step;
        if width == 0 || !width.is_multiple_of(step) {
            return Err(Error::invalid(format!(
                "{}: width must be a positive multiple of {step}, got {width}",
                info.name
            )));
        }
        Ok(<Self as Architectures>::build(info, options, width))
    }

    /// The configuration a PyTorch state dict of architecture `info` holds, read off its shapes.
    pub fn from_weights(info: &ArchitectureInfo, weights: &WeightShapes) -> Result<Self> {
        <Self as Architectures>::infer(info, weights)
    }

    /// The registry entry.
    pub fn info(&self) -> &'static ArchitectureInfo {
        <Self as Architectures>::info(self)
    }

    /// The registry name (`small-cnn`, `resnet-18`, …).
    pub fn name(&self) -> &'static str {
        self.info().name
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        <Self as Architectures>::channels(self)
    }

    /// Output logits.
    pub fn classes(&self) -> usize {
        <Self as Architectures>::classes(self)
    }

    /// Checks that an input `size` pixels a side (height or width) fits the architecture.
    pub fn check_input_size(&self, size: usize) -> Result<()> {
        if let Some(fixed) = self.fixed_input_size()
            && size != fixed
        {
            return Err(Error::invalid(format!(
                "this {} takes {fixed}x{fixed} images only (its position embedding is made for \
                 that patch grid), got a side of {size}",
                self.name()
            )));
        }
        let min = <Self as Architectures>::min_input_size(self);
        if size < min {
            return Err(Error::invalid(format!(
                "{} needs images of at least {min}x{min} pixels, got {size}x{size}",
                self.name()
            )));
        }
        Ok(())
    }

    /// The smallest input side the architecture takes.
    pub fn min_input_size(&self) -> usize {
        <Self as Architectures>::min_input_size(self)
    }

    /// The one input side the architecture takes, where it takes only one (a ViT's).
    pub fn fixed_input_size(&self) -> Option<usize> {
        <Self as Architectures>::fixed_input_size(self)
    }

    /// Fresh weights (initialised from the device's random stream).
    pub fn init(&self, device: &Device) -> Network {
        <Self as Architectures>::init(self, device)
    }

    /// The PyTorch (torchvision) name of the parameter at `path` in our module, where `path`
    /// already uses PyTorch's parameter names (`weight` / `bias` for batch norm).
    pub fn torch_name(&self, path: &str) -> String {
        <Self as Architectures>::torch_name(self, path)
    }
}

/// A config as files hold it: the architecture's name, then its settings.
#[doc(hidden)]
#[derive(Serialize)]
pub struct Tagged<'a, C> {
    pub name: &'static str,
    #[serde(flatten)]
    pub config: &'a C,
}

impl Serialize for ArchitectureConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.serialize_tagged(serializer)
    }
}

impl<'de> Deserialize<'de> for ArchitectureConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let mut settings = serde_json::Map::deserialize(deserializer)?;
        let name = match settings.remove("name") {
            Some(serde_json::Value::String(name)) => name,
            _ => return Err(D::Error::missing_field("name")),
        };
        let info = architecture(&name).map_err(D::Error::custom)?;
        Self::from_json(info, serde_json::Value::Object(settings)).map_err(D::Error::custom)
    }
}

impl Network {
    /// `x` is already normalised. Returns (logits, attention maps, penultimate feature).
    pub fn forward(&self, x: Tensor<4>) -> ForwardOutput {
        self.forward_probed(x, &mut NoProbe)
    }

    /// [`forward`](Self::forward), showing the stages and the Grad-CAM layer to `probe`.
    pub fn forward_probed(&self, x: Tensor<4>, probe: &mut dyn Probe) -> ForwardOutput {
        <Self as Networks>::forward_probed(self, x, probe)
    }

    /// The same function with batch norm folded into the convolutions before it, for
    /// inference copies (no batch statistics left to train).
    pub fn fold_batch_norm(mut self) -> Self {
        self.fold_batch_norm_in_place();
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
            input_size: info.tiny_size,
        };
        ArchitectureConfig::from_name(name, &options).unwrap()
    }

    #[test]
    fn every_architecture_gives_logits_features_and_its_attention_maps() {
        let _rng = rng_lock();
        let device = cpu();
        for info in ARCHITECTURES {
            let size = crate::test_support::tiny_side(info.name);
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
            let size = crate::test_support::tiny_side(info.name);
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
            // Layer-norm networks (ConvNeXt, ViT) have nothing to fold.
            let has_batch_norm = network
                .collect(None, None, false)
                .iter()
                .any(|t| t.name.ends_with("running_mean"));
            assert_eq!(
                folded.num_params() < network.num_params(),
                has_batch_norm,
                "{}: folded {} of {} parameters",
                info.name,
                network.num_params() - folded.num_params(),
                network.num_params()
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
            ("resnet-50", "fc.weight"),
            ("efficientnet-b0", "classifier.1.weight"),
            ("convnext-tiny", "classifier.2.weight"),
            ("vit-b-16", "heads.head.weight"),
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
            input_size: 64,
        };
        let err = ArchitectureConfig::from_name("vgg-19", &options).unwrap_err();
        assert!(err.to_string().contains("attn-vgg"), "{err}");
        let err = ArchitectureConfig::from_name("inception-v3", &options).unwrap_err();
        assert!(err.to_string().contains("multiple of 2"), "{err}");
        let err = tiny("resnet-18", 2).check_input_size(16).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
    }
}
