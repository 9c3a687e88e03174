//! What an architecture is to robustdx: one type implementing [`Architecture`] — its description,
//! its configuration and weights, the forward pass every analysis probes, batch-norm folding for
//! inference copies, and the torchvision names and shapes PyTorch interchange needs. The registry
//! (`model/registry.rs`) turns the list of them into [`ArchitectureConfig`](super::ArchitectureConfig)
//! and [`Network`](super::Network), so nothing else names an architecture.

use std::collections::BTreeMap;
use std::fmt::Debug;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::probe::Probe;
use crate::registry::Entry;
use crate::{Error, Result};

/// What the registry says about an architecture before any weights exist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchitectureInfo {
    /// The registry name users type and model cards store (`small-cnn`, `resnet-18`, …).
    pub name: &'static str,
    /// The input side the architecture was designed for (torchvision's, for the paper's models).
    pub input_size: usize,
    /// Width (first-layer channels) of the full model.
    pub full_width: usize,
    /// A narrow width that trains on a CPU in seconds.
    pub tiny_width: usize,
    /// An input side for the tiny variant (at least the architecture's minimum).
    pub tiny_size: usize,
    /// Widths must be multiples of this (the narrowest layer is a fixed fraction of the width).
    pub width_step: usize,
    /// Multi-label head (sigmoid / BCE) by default, as CheXNet's DenseNet-121.
    pub multi_label: bool,
    /// One line for listings and help texts.
    pub about: &'static str,
}

impl Entry for ArchitectureInfo {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
}

/// Size and width choices a user may override when creating a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Input channels: 1 (gray) or 3 (RGB).
    pub channels: usize,
    /// Logits of the head: classes (single-label) or findings (multi-label).
    pub classes: usize,
    /// Width of the first layer; `None` takes the architecture's full width.
    pub width: Option<usize>,
    /// Side of the square input the model will take (only a ViT's position embedding depends
    /// on it).
    pub input_size: usize,
}

/// The forward pass's results: logits, attention maps (empty for architectures without gates)
/// and the penultimate feature.
pub type ForwardOutput = (Tensor<2>, Vec<Tensor<4>>, Tensor<2>);

/// One architecture. Implemented by a unit type in the architecture's file; registered by one
/// line in `model/mod.rs`.
pub trait Architecture {
    /// The serialisable description (burn's `#[derive(Config)]`).
    type Config: Clone + Debug + PartialEq + Serialize + DeserializeOwned;
    /// The weights (burn's `#[derive(Module)]`).
    type Network: Module + Debug;

    /// The registry's description of this architecture.
    const INFO: ArchitectureInfo;

    /// The configuration for `channels` inputs, `classes` outputs at first-layer `width` (a
    /// positive multiple of [`ArchitectureInfo::width_step`]).
    fn config(channels: usize, classes: usize, width: usize) -> Self::Config;
    /// Input channels of `config`.
    fn channels(config: &Self::Config) -> usize;
    /// Output logits of `config`.
    fn classes(config: &Self::Config) -> usize;
    /// The smallest input side the network's downsampling leaves a non-empty map for.
    fn min_input_size(config: &Self::Config) -> usize;
    /// `config` made for inputs of `size` pixels a side. Convolutional networks take any size
    /// above their minimum and keep `config`; a ViT's position embedding is made for one grid.
    fn for_input_size(config: Self::Config, _size: usize) -> Self::Config {
        config
    }
    /// The one input side the network takes, where it takes only one (a ViT's).
    fn fixed_input_size(_config: &Self::Config) -> Option<usize> {
        None
    }
    /// Fresh weights (initialised from the device's random stream).
    fn init(config: &Self::Config, device: &Device) -> Self::Network;
    /// `x` is already normalised; the stages and the Grad-CAM layer are shown to `probe`.
    fn forward(network: &Self::Network, x: Tensor<4>, probe: &mut dyn Probe) -> ForwardOutput;
    /// Folds batch norm into the convolutions before it (the same function, for inference).
    fn fold_batch_norm(network: &mut Self::Network);
    /// The torchvision name of the parameter at `path` (already in PyTorch's parameter names).
    fn torch_name(path: &str) -> String;
    /// Reads the configuration (width, classes, channels, depth) off a state dict's shapes.
    fn infer_config(weights: &WeightShapes) -> Result<Self::Config>;
}

/// The parts of an [`Architecture`] impl that every burn config / module pair here has alike:
/// the config's `channels`, `classes`, `min_input_size()` and `init(device)`, the network's
/// `fold_batch_norm()`.
macro_rules! burn_config_and_module {
    ($config:ty, $network:ty) => {
        type Config = $config;
        type Network = $network;

        fn channels(config: &$config) -> usize {
            config.channels
        }

        fn classes(config: &$config) -> usize {
            config.classes
        }

        fn min_input_size(config: &$config) -> usize {
            config.min_input_size()
        }

        fn init(config: &$config, device: &Device) -> $network {
            config.init(device)
        }

        fn fold_batch_norm(network: &mut $network) {
            network.fold_batch_norm();
        }
    };
}
pub(super) use burn_config_and_module;

/// `forward` and `torch_name` of an [`Architecture`] impl whose network has no attention maps
/// (its `forward(x, probe)` gives logits and feature) and whose module has a `torch_name(path)`.
macro_rules! plain_forward_and_torch_names {
    ($network:ty) => {
        fn forward(
            network: &$network,
            x: Tensor<4>,
            probe: &mut dyn $crate::model::Probe,
        ) -> $crate::model::ForwardOutput {
            let (logits, feature) = network.forward(x, probe);
            (logits, Vec::new(), feature)
        }

        fn torch_name(path: &str) -> String {
            torch_name(path)
        }
    };
}
pub(super) use plain_forward_and_torch_names;

/// The tensor shapes of a PyTorch state dict, as an architecture reads its configuration off
/// them: every shape is checked before it is indexed, and errors name the file.
pub struct WeightShapes<'a> {
    shapes: BTreeMap<String, Vec<usize>>,
    architecture: &'a str,
    source: &'a str,
}

/// Width, input channels and classes, read off the first convolution and the head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ends {
    /// Output channels of the first convolution.
    pub width: usize,
    /// Input channels of the first convolution.
    pub channels: usize,
    /// Output features of the head: the class count.
    pub classes: usize,
}

impl<'a> WeightShapes<'a> {
    /// `shapes` of the file `source`, which should hold an `architecture` state dict.
    pub fn new(
        shapes: BTreeMap<String, Vec<usize>>,
        architecture: &'a str,
        source: &'a str,
    ) -> Self {
        Self {
            shapes,
            architecture,
            source,
        }
    }

    fn error(&self, reason: String) -> Error {
        super::model_error(self.source, reason)
    }

    /// Whether the state dict has a tensor named `key` (optional layers, architecture variants).
    pub fn contains(&self, key: &str) -> bool {
        self.shapes.contains_key(key)
    }

    /// The shape of `key`, which must have `rank` non-zero dimensions (4 for a convolution's
    /// weight, 2 for a linear one's).
    pub fn dims(&self, key: &str, rank: usize) -> Result<&[usize]> {
        let shape = self.shapes.get(key).ok_or_else(|| {
            self.error(format!(
                "no tensor '{key}': is this a {} state dict?",
                self.architecture
            ))
        })?;
        if shape.len() != rank || shape.contains(&0) {
            return Err(self.error(format!(
                "{key} has shape {shape:?}; a {} weight has {rank} non-zero dimensions",
                if rank == 4 { "convolution" } else { "linear" }
            )));
        }
        Ok(shape)
    }

    /// How many of `prefix{from}.`, `prefix{from + 1}.`, … name some tensor, in a row.
    pub fn count(&self, prefix: &str, from: usize) -> usize {
        (from..)
            .take_while(|i| {
                let start = format!("{prefix}{i}.");
                self.shapes.keys().any(|k| k.starts_with(&start))
            })
            .count()
    }

    /// Width and channels from the convolution weight `first`, classes from the linear weight
    /// `head`; robustdx models take gray or RGB images.
    pub fn ends(&self, first: &str, head: &str) -> Result<Ends> {
        let (first, classes) = (self.dims(first, 4)?, self.dims(head, 2)?[0]);
        let (width, channels) = (first[0], first[1]);
        if channels != 1 && channels != 3 {
            return Err(self.error(format!(
                "its first convolution takes {channels} channels; robustdx models take 1 (gray) or 3 (RGB)"
            )));
        }
        Ok(Ends {
            width,
            channels,
            classes,
        })
    }
}
