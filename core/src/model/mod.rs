//! Diagnostic models: the [`Classifier`] trait, the architectures behind it, and the saved-model
//! format that carries each model's own preprocessing record (its [`ModelCard`]).

mod attn_vgg;
mod card;
mod classifier;
mod densenet;
mod diagnostic;
mod file;
mod inception;
mod layers;
mod probe;
mod registry;
mod resnet;
mod small_cnn;
mod torch;

pub use attn_vgg::{AttnVgg, AttnVggConfig};
pub use card::{InputSpec, ModelCard, SelectedEpoch, TrainingSummary};
pub use classifier::{Classifier, ClassifierOutput};
pub use densenet::{DenseNet, DenseNetConfig};
pub use diagnostic::DiagnosticModel;
pub use file::{MODEL_FILE_VERSION, WeightPrecision, read_card};
pub(crate) use file::{check_all_finite, model_error};
pub use inception::{InceptionV3, InceptionV3Config};
pub use probe::{NoProbe, Probe};
pub use registry::{
    ARCHITECTURES, ArchitectureConfig, ArchitectureInfo, ModelOptions, Network, architecture,
};
pub use resnet::{ResNet18, ResNet18Config};
pub use small_cnn::{SmallCnn, SmallCnnConfig};
pub use torch::{ImportOptions, TorchImport, export_safetensors, import_torch, read_safetensors};
