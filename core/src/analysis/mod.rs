//! What an attack does inside a model: where it looks (Grad-CAM), how far each stage's features
//! move, how well its features still separate the classes, and whether it keeps findings'
//! co-occurrence.

mod discriminability;
mod feature_shift;
mod grad_cam;
mod label_correlation;
mod registry;
mod run;
pub mod tsne;

#[cfg(test)]
mod tests;

pub use discriminability::{fisher_ratio, silhouette};
pub use feature_shift::{StageShift, feature_shift};
pub use grad_cam::{CamTarget, cam_from, grad_cam, grad_cam_at_layer};
pub use label_correlation::{LabelCorrelation, correlation_matrix, matrix_distance};
pub use registry::{ANALYSES, AnalysisEntry};
pub use run::{
    AnalysisFindings, AnalysisIdentity, AnalysisRecord, Analyzer, CamExample, Separation,
    ShownImages, analyze, findings,
};
pub use tsne::TsneMap;
