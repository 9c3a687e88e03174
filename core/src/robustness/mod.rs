//! Robustness evaluation: a model's scores on a data set under an attack, and what the attack did
//! to each image (fooled it or not, how far it moved it).

mod cells;
mod contribution;
mod evaluate;
mod identity;
mod outcome;
mod record;
mod sanity;
mod single_image;
mod sweep;

pub use contribution::{Contribution, contribution_text, contributions, finding_accuracy};
pub use evaluate::{AttackEvaluation, Example, evaluate_attack};
pub(crate) use identity::attack_differences;
pub use identity::{ResultIdentity, Shard, Subject, lower_hex, sha256_hex};
pub use outcome::{Decision, decision, finding_names};
pub use record::{ImageRecord, records_csv, records_json_lines, summarize};
pub(crate) use sanity::gradient_free;
pub use sanity::{
    SANITY_CHECKS, SANITY_IMAGES, SanityCheck, SanityFlag, check_attacks, check_model,
};
pub use single_image::{
    FIXED_SETTINGS, MAX_STEPS, SingleImageOutcome, SingleImageSettings, StepProgress,
    attack_single_image, open_settings,
};
pub use sweep::{CellExamples, Sweep};

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;

/// Scores under one attack at one budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessMetrics {
    /// Accuracy, AUC, sensitivity / specificity … on the adversarial images.
    #[serde(flatten)]
    pub adversarial: Metrics,
    /// Share of images whose decision changed (any label, for multi-label).
    pub fooling_rate: f64,
    /// Untargeted: share of the correctly classified images that the attack made wrong.
    /// Targeted: share of images now decided as the target.
    pub success_rate: f64,
    /// Mean over images of ‖δ‖∞ and ‖δ‖₂, in pixel units ([0, 1] images).
    pub mean_linf: f64,
    /// See `mean_linf`.
    pub mean_l2: f64,
    /// A suite's members in running order: what each broke, and the robust accuracy after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributions: Vec<Contribution>,
    /// Multi-label: each finding's accuracy on the attacked images (robust accuracy per finding;
    /// `accuracy` is then the exact-match one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_accuracy: Option<Vec<f64>>,
}
