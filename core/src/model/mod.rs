//! Diagnostic models: the [`Classifier`] trait, the architectures behind it, and the saved-model
//! format that carries each model's own preprocessing record (its [`ModelCard`]).

mod card;
mod classifier;
mod diagnostic;
mod file;
mod registry;
mod small_cnn;

pub use card::{InputSpec, ModelCard, TrainingSummary};
pub use classifier::{Classifier, ClassifierOutput};
pub use diagnostic::DiagnosticModel;
pub use file::{MODEL_FILE_VERSION, read_card};
pub use registry::{ARCHITECTURES, ArchitectureConfig, ModelOptions, Network};
pub use small_cnn::{SmallCnn, SmallCnnConfig};
