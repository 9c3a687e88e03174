//! Training: a plain epoch loop (burn-train's `Learner` does not run in wasm, and the defenses
//! need their own inner loops anyway), resumable through checkpoints.

mod checkpoint;
mod config;
mod data_parallel;
mod evaluate;
mod loss;
mod resume;
mod trainer;

pub use config::{OptimizerKind, Schedule, Selection, TrainConfig, TrainingRecipe};
pub use evaluate::{check_compatible, predict};
pub use loss::ClassificationLoss;
pub(crate) use loss::log_sigmoid;
pub use resume::{ContinuedSetting, RecipeChange, ResumeRefusal};
pub use trainer::{BatchProgress, BestEpoch, EpochStats, Trainer, selection_score};
