//! Robustness evaluation: a model's scores on a data set under an attack, and what the attack did
//! to each image (fooled it or not, how far it moved it).

mod evaluate;
mod outcome;
mod single_image;

pub use evaluate::{Example, evaluate_attack};
pub use outcome::{Decision, decision, finding_names};
pub use single_image::{
    AttackName, MAX_STEPS, SingleImageOutcome, SingleImageSettings, StepProgress,
    attack_single_image,
};

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
    pub mean_l2: f64,
}
