//! Result records shared by the native binary and the web page (which can open native files).

mod analysis;
mod benchmark;
mod certify;
mod chart;
mod colour_scale;
mod picture;
mod provenance;
mod schema;
mod verdict;

pub use analysis::AnalysisReport;
pub use benchmark::{BenchmarkIdentity, BenchmarkReport, ImageSequenceReport, KindResult};
pub use certify::{CertifiedAt, CertifyIdentity, CertifyReport, SigmaResult};
pub use chart::{
    certified_accuracy_chart, feature_shift_chart, flip_probability_chart, loss_curve,
    metric_against_eps, models_against_eps, sweep_charts, tsne_chart,
};
pub use colour_scale::ColourScale;
pub use picture::{amplified_perturbation, heatmap_overlay, heatmap_overlay_in, png_data_url};
pub use provenance::{provenance, sanity_summary, settings_text};
pub use verdict::{attack_verdict, certify_verdict};

pub(crate) use schema::parse_versioned;
pub use schema::{
    AttackReport, AttackResult, ClassProbability, DataSummary, EvalReport, GradCamPair,
    ImagePrediction, ModelSummary, OLDEST_READABLE_SCHEMA, PredictReport, SCHEMA_VERSION,
    SingleImageReport, SinglePrediction, ToolInfo,
};
