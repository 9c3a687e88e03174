use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig, momentum::MomentumConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which optimiser updates the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adam,
    /// SGD with momentum 0.9 (no dampening, as PyTorch).
    Sgd,
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "adam" => Ok(OptimizerKind::Adam),
            "sgd" => Ok(OptimizerKind::Sgd),
            other => Err(Error::invalid(format!(
                "unknown optimizer '{other}' (adam or sgd)"
            ))),
        }
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Sgd => "sgd",
        })
    }
}

/// Hyper-parameters of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate (see [`TrainConfig::learning_rate_at`]).
    pub learning_rate: f64,
    pub optimizer: OptimizerKind,
    /// Seeds the weight initialisation and the shuffle of every epoch.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 32,
            learning_rate: 2e-3,
            optimizer: OptimizerKind::Adam,
            seed: 0,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::invalid(
                "--epochs and --batch-size must be at least 1",
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::invalid(format!(
                "--lr must be a positive number, got {}",
                self.learning_rate
            )));
        }
        Ok(())
    }

    pub(crate) fn optimizer(&self) -> ModuleOptimizer {
        match self.optimizer {
            OptimizerKind::Adam => AdamConfig::new().init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(Some(
                    MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
                ))
                .init(),
        }
    }

    /// Learning rate at `progress` in [0, 1] of the whole run: cosine decay from the peak to 0,
    /// so the last epochs settle instead of bouncing between minima.
    pub fn learning_rate_at(&self, progress: f64) -> f64 {
        0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos())
    }

    /// Shuffle seed of epoch `epoch`: a different order each epoch, the same for a given seed.
    pub(crate) fn shuffle_seed(&self, epoch: usize) -> u64 {
        self.seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(epoch as u64 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_starts_at_the_peak_and_ends_at_zero() {
        let config = TrainConfig::default();
        assert_eq!(config.learning_rate_at(0.0), config.learning_rate);
        assert!((config.learning_rate_at(0.5) - config.learning_rate / 2.0).abs() < 1e-12);
        assert!(config.learning_rate_at(1.0).abs() < 1e-12);
        assert!(config.learning_rate_at(0.3) > config.learning_rate_at(0.6));
    }

    #[test]
    fn bad_hyper_parameters_are_rejected() {
        for bad in [
            TrainConfig {
                epochs: 0,
                ..TrainConfig::default()
            },
            TrainConfig {
                batch_size: 0,
                ..TrainConfig::default()
            },
            TrainConfig {
                learning_rate: f64::NAN,
                ..TrainConfig::default()
            },
            TrainConfig {
                learning_rate: -1.0,
                ..TrainConfig::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert_ne!(
            TrainConfig::default().shuffle_seed(0),
            TrainConfig::default().shuffle_seed(1)
        );
    }
}
