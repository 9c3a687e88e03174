//! The architectures robustdx knows, by name, with their default configurations.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{SmallCnn, SmallCnnConfig};
use crate::{Error, Result};

/// Registered architecture names.
pub const ARCHITECTURES: &[&str] = &["small-cnn"];

/// Size and width choices a user may override when creating a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    pub channels: usize,
    pub classes: usize,
    /// Width of the first layer; `None` takes the architecture's default.
    pub width: Option<usize>,
}

/// The serialisable description of a network: which architecture, with which settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum ArchitectureConfig {
    SmallCnn(SmallCnnConfig),
}

/// The weights of any registered architecture.
#[derive(Module, Debug)]
pub enum Network {
    SmallCnn(SmallCnn),
}

impl ArchitectureConfig {
    /// The default configuration of architecture `name`.
    pub fn from_name(name: &str, options: &ModelOptions) -> Result<Self> {
        match name {
            "small-cnn" => {
                let mut config = SmallCnnConfig::new(options.channels, options.classes);
                if let Some(width) = options.width {
                    config.width = width;
                }
                Ok(ArchitectureConfig::SmallCnn(config))
            }
            other => Err(Error::invalid(format!(
                "unknown model '{other}' (known: {})",
                ARCHITECTURES.join(", ")
            ))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ArchitectureConfig::SmallCnn(_) => "small-cnn",
        }
    }

    /// Checks that an input of `size` x `size` pixels fits the architecture.
    pub fn check_input_size(&self, size: usize) -> Result<()> {
        let min = match self {
            ArchitectureConfig::SmallCnn(c) => c.min_input_size(),
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
            ArchitectureConfig::SmallCnn(c) => Network::SmallCnn(c.init(device)),
        }
    }
}

impl Network {
    /// `x` is already normalised. Returns (logits, attention maps, penultimate feature).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Vec<Tensor<4>>, Tensor<2>) {
        match self {
            Network::SmallCnn(net) => {
                let (logits, feature) = net.forward(x);
                (logits, Vec::new(), feature)
            }
        }
    }
}
