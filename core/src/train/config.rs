use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig, momentum::MomentumConfig};
use serde::{Deserialize, Serialize};

use super::ClassificationLoss;
use crate::attack::Convention;
use crate::defense::DefenseSpec;
use crate::{Error, Result};

/// Which optimiser updates the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (β₁ 0.9, β₂ 0.999), the default: forgiving of the learning rate.
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

/// How the learning rate falls over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Schedule {
    /// Cosine decay from the peak to 0 over the whole run.
    #[default]
    Cosine,
    /// The peak times `factor` after every `every` epochs (the seed's SGD: ×0.1 every 10).
    Step {
        /// Epochs between two decays (≥ 1).
        every: usize,
        /// What each decay multiplies the rate by, in (0, 1].
        factor: f64,
    },
}

/// Which epoch's weights become the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Selection {
    /// The last epoch's.
    #[default]
    Last,
    /// The best validation score on clean images (accuracy; macro AUC for multi-label tasks).
    Clean,
    /// The best validation score under L∞ PGD at `eps` (1/255 units) with `steps` steps.
    Robust {
        /// ε of the validation attack, 1/255 units of `convention`.
        eps: f32,
        /// Steps of the validation PGD.
        steps: usize,
        /// Pixel units, or the seed's normalised ones (it selected its MPAdvT models under PGD
        /// in normalised units). Absent in files written before it existed: pixels.
        #[serde(default = "pixel", skip_serializing_if = "is_pixel")]
        convention: Convention,
    },
}

fn pixel() -> Convention {
    Convention::Pixel
}

fn is_pixel(convention: &Convention) -> bool {
    *convention == Convention::Pixel
}

impl Selection {
    /// The rule in words, for model cards and listings.
    pub fn describe(&self) -> String {
        match self {
            Selection::Last => "last epoch".into(),
            Selection::Clean => "clean validation score".into(),
            Selection::Robust {
                eps,
                steps,
                convention: Convention::Pixel,
            } => format!("validation score under PGD-{steps} at ε={eps}/255"),
            Selection::Robust {
                eps,
                steps,
                convention: Convention::Paper,
            } => format!("validation score under PGD-{steps} at ε={eps}/255 (normalised units)"),
        }
    }
}

/// How the weights are fitted besides epochs, batch size and learning rate: the objective and the
/// recipe real data needs. A model card records it as the run had it. Every field has a default,
/// so cards and checkpoints written before it read as clean cross-entropy training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecipe {
    /// The training objective.
    #[serde(default)]
    pub defense: DefenseSpec,
    /// The classification term.
    #[serde(default)]
    pub loss: ClassificationLoss,
    /// How the learning rate falls from its peak over the run.
    #[serde(default)]
    pub schedule: Schedule,
    /// L2 penalty added to the gradients (PyTorch's `weight_decay`).
    #[serde(default)]
    pub weight_decay: f64,
    /// Nesterov momentum (SGD).
    #[serde(default)]
    pub nesterov: bool,
    /// Random resized crops, flips and 90° rotations of the training images.
    #[serde(default)]
    pub augment: bool,
    /// Class-balanced sampling: each epoch draws as many images as the split holds, with
    /// replacement, each class equally likely.
    #[serde(default)]
    pub balance: bool,
    /// SHA-256 of the model file the run started from (`train --init`: fine-tuning an imported
    /// or earlier model); absent for a model trained from fresh weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tuned_from: Option<String>,
    /// Data parallelism: each batch cut into this many parts, one per device, their gradients
    /// summed (`train/data_parallel.rs`). Part of the recipe because batch norm normalises each
    /// part by its own statistics, which can change the numbers. Absent (in every file written
    /// before it existed, and for one device): 1.
    #[serde(default = "one_device", skip_serializing_if = "is_one_device")]
    pub devices: usize,
}

fn one_device() -> usize {
    1
}

fn is_one_device(devices: &usize) -> bool {
    *devices == 1
}

impl Default for TrainingRecipe {
    fn default() -> Self {
        Self {
            defense: DefenseSpec::default(),
            loss: ClassificationLoss::default(),
            schedule: Schedule::default(),
            weight_decay: 0.0,
            nesterov: false,
            augment: false,
            balance: false,
            fine_tuned_from: None,
            devices: one_device(),
        }
    }
}

/// Hyper-parameters of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training split (≥ 1).
    pub epochs: usize,
    /// Images per optimiser step (≥ 1).
    pub batch_size: usize,
    /// Peak learning rate (see [`TrainConfig::learning_rate_at`]).
    pub learning_rate: f64,
    /// Adam or SGD with momentum.
    pub optimizer: OptimizerKind,
    /// Seeds the weight initialisation, the shuffle, augmentation and the defenses' draws.
    pub seed: u64,
    /// Objective, loss, schedule and sampling (flattened: one level of JSON keys).
    #[serde(flatten)]
    pub recipe: TrainingRecipe,
    /// Which epoch's weights become the model (default: the last).
    #[serde(default)]
    pub select: Selection,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 32,
            learning_rate: 2e-3,
            optimizer: OptimizerKind::Adam,
            seed: 0,
            recipe: TrainingRecipe::default(),
            select: Selection::Last,
        }
    }
}

impl TrainConfig {
    /// Checks every setting and that the defense spec builds; errors name the command-line option
    /// at fault.
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
        let recipe = &self.recipe;
        if !(recipe.weight_decay.is_finite() && recipe.weight_decay >= 0.0) {
            return Err(Error::invalid(format!(
                "--weight-decay must be ≥ 0, got {}",
                recipe.weight_decay
            )));
        }
        if recipe.devices == 0 {
            return Err(Error::invalid("--devices must be at least 1"));
        }
        if recipe.devices > self.batch_size {
            return Err(Error::invalid(format!(
                "--devices {} would cut a batch of {} images into parts with no image: use at \
                 most {} devices or a --batch-size of at least {}",
                recipe.devices, self.batch_size, self.batch_size, recipe.devices
            )));
        }
        if recipe.nesterov && self.optimizer != OptimizerKind::Sgd {
            return Err(Error::invalid("--nesterov is a setting of --optimizer sgd"));
        }
        if let Schedule::Step { every, factor } = recipe.schedule
            && (every == 0 || !(factor > 0.0 && factor <= 1.0))
        {
            return Err(Error::invalid(format!(
                "step decay needs every ≥ 1 epoch and a factor in (0, 1], got every {every}, factor {factor}"
            )));
        }
        if let Selection::Robust { eps, steps, .. } = self.select
            && (steps == 0 || !(eps.is_finite() && eps > 0.0 && eps <= 255.0))
        {
            return Err(Error::invalid(format!(
                "robust selection needs ε in (0, 255] (1/255 units) and ≥ 1 step, got ε {eps}, {steps} steps"
            )));
        }
        recipe.defense.build()?;
        Ok(())
    }

    pub(crate) fn optimizer(&self) -> ModuleOptimizer {
        let decay = (self.recipe.weight_decay > 0.0)
            .then(|| WeightDecayConfig::new(self.recipe.weight_decay as f32));
        match self.optimizer {
            OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(Some(
                    MomentumConfig::new()
                        .with_momentum(0.9)
                        .with_dampening(0.0)
                        .with_nesterov(self.recipe.nesterov),
                ))
                .with_weight_decay(decay)
                .init(),
        }
    }

    /// Learning rate at `progress` in [0, 1] of the whole run. Cosine: decay from the peak to 0,
    /// so the last epochs settle instead of bouncing between minima. Step: the peak times
    /// `factor` for every `every` epochs completed.
    pub fn learning_rate_at(&self, progress: f64) -> f64 {
        let progress = progress.clamp(0.0, 1.0);
        match self.recipe.schedule {
            Schedule::Cosine => {
                0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            Schedule::Step { every, factor } => {
                // Epochs completed, rounded so that float noise at a boundary counts it done.
                let epoch = (progress * self.epochs as f64 + 1e-9).floor() as usize;
                let epoch = epoch.min(self.epochs.saturating_sub(1));
                self.learning_rate * factor.powi((epoch / every.max(1)) as i32)
            }
        }
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
    fn step_decay_divides_by_ten_every_ten_epochs() {
        let config = TrainConfig {
            epochs: 30,
            learning_rate: 1e-3,
            recipe: TrainingRecipe {
                schedule: Schedule::Step {
                    every: 10,
                    factor: 0.1,
                },
                ..TrainingRecipe::default()
            },
            ..TrainConfig::default()
        };
        let at_epoch = |e: usize, batch: f64| config.learning_rate_at((e as f64 + batch) / 30.0);
        assert_eq!(at_epoch(0, 0.0), 1e-3);
        assert_eq!(at_epoch(9, 0.99), 1e-3);
        assert!((at_epoch(10, 0.0) - 1e-4).abs() < 1e-15);
        assert!((at_epoch(29, 0.5) - 1e-5).abs() < 1e-16);
        assert!((config.learning_rate_at(1.0) - 1e-5).abs() < 1e-16);
    }

    /// Files written before `devices` existed, and one-device runs, have no `devices` key: the
    /// model files of one-device runs stay byte for byte what they were.
    #[test]
    fn one_device_is_what_a_recipe_without_devices_reads_as() {
        let one = TrainingRecipe::default();
        assert_eq!(one.devices, 1);
        let json = serde_json::to_value(&one).unwrap();
        assert!(json.get("devices").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<TrainingRecipe>(json).unwrap(), one);

        let two = TrainingRecipe {
            devices: 2,
            ..TrainingRecipe::default()
        };
        let json = serde_json::to_value(&two).unwrap();
        assert_eq!(json["devices"], 2);
        assert_eq!(serde_json::from_value::<TrainingRecipe>(json).unwrap(), two);
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
            TrainConfig {
                recipe: TrainingRecipe {
                    nesterov: true,
                    ..TrainingRecipe::default()
                },
                ..TrainConfig::default()
            },
            TrainConfig {
                recipe: TrainingRecipe {
                    weight_decay: -1e-4,
                    ..TrainingRecipe::default()
                },
                ..TrainConfig::default()
            },
            TrainConfig {
                recipe: TrainingRecipe {
                    schedule: Schedule::Step {
                        every: 0,
                        factor: 0.1,
                    },
                    ..TrainingRecipe::default()
                },
                ..TrainConfig::default()
            },
            TrainConfig {
                recipe: TrainingRecipe {
                    devices: 0,
                    ..TrainingRecipe::default()
                },
                ..TrainConfig::default()
            },
            TrainConfig {
                batch_size: 4,
                recipe: TrainingRecipe {
                    devices: 5,
                    ..TrainingRecipe::default()
                },
                ..TrainConfig::default()
            },
            TrainConfig {
                select: Selection::Robust {
                    eps: 0.0,
                    steps: 4,
                    convention: Convention::Pixel,
                },
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
