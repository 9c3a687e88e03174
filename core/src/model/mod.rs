//! Diagnostic models: the [`Classifier`] trait, the architectures behind it, and the saved-model
//! format that carries each model's own preprocessing record (its [`ModelCard`]).

mod architecture;
mod card;
mod classifier;
mod convolution;
mod diagnostic;
mod file;
mod layers;
mod probe;
mod registry;
mod torch;

// The one list of architectures: adding one is its file (a type implementing `Architecture`)
// and a line here.
registry::architectures!(
    SmallCnn => small_cnn::SmallCnnArchitecture,
    ResNet18 => resnet::ResNet18Architecture,
    AttnVgg => attn_vgg::AttnVggArchitecture,
    InceptionV3 => inception::InceptionV3Architecture,
    DenseNet121 => densenet::DenseNet121Architecture,
    ResNet50 => resnet50::ResNet50Architecture,
    EfficientNetB0 => efficientnet::EfficientNetB0Architecture,
    ConvNeXtTiny => convnext::ConvNeXtTinyArchitecture,
    VitB16 => vit::VitB16Architecture;
    test: Linear => throwaway::LinearArchitecture
);

pub use architecture::{
    Architecture, ArchitectureInfo, Ends, ForwardOutput, ModelOptions, WeightShapes,
};
pub use attn_vgg::{AttnVgg, AttnVggArchitecture, AttnVggConfig};
pub use card::{InputSpec, ModelCard, SelectedEpoch, TrainingSummary};
pub use classifier::{Classifier, ClassifierOutput};
pub use convnext::{ConvNeXt, ConvNeXtConfig, ConvNeXtTinyArchitecture};
pub(crate) use convolution::conv2d;
pub use densenet::{DenseNet, DenseNet121Architecture, DenseNetConfig};
pub use diagnostic::DiagnosticModel;
pub use efficientnet::{EfficientNet, EfficientNetB0Architecture, EfficientNetConfig};
pub use file::{MODEL_FILE_VERSION, WeightPrecision, read_card};
pub(crate) use file::{check_all_finite, model_error};
pub use inception::{InceptionV3, InceptionV3Architecture, InceptionV3Config};
pub use probe::{NoProbe, Probe};
pub use registry::architecture;
pub use resnet::{ResNet18, ResNet18Architecture, ResNet18Config};
pub use resnet50::{ResNet50, ResNet50Architecture, ResNet50Config};
pub use small_cnn::{SmallCnn, SmallCnnArchitecture, SmallCnnConfig};
#[cfg(test)]
pub(crate) use throwaway::affine_model;
pub use torch::{ImportOptions, TorchImport, export_safetensors, import_torch, read_safetensors};
pub use vit::{VisionTransformer, VisionTransformerConfig, VitB16Architecture};
