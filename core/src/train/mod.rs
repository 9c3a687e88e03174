//! Training: a plain epoch loop (burn-train's `Learner` does not run in wasm, and the defenses
//! need their own inner loops anyway), resumable through checkpoints.

mod checkpoint;
mod config;
mod evaluate;
mod trainer;

pub use config::{OptimizerKind, TrainConfig};
pub(crate) use evaluate::check_compatible;
pub use evaluate::predict;
pub use trainer::{BatchProgress, EpochStats, Trainer};
