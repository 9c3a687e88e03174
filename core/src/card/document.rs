//! `card.json`: the robustness card as a versioned document. Each part holds the result of the
//! run that made it (its cells' identities included) with the per-image records left out, the
//! part's sentences, and the command that reproduces it; the card holds what they share.

use serde::{Deserialize, Serialize};

use super::battery::Level;
use super::cam_strip::CamThumbnail;
use crate::metrics::{MetricIntervals, Metrics};
use crate::report::{
    AnalysisReport, AttackReport, BenchmarkReport, CertifyReport, DataSummary, ModelSummary,
    ToolInfo,
};
use crate::robustness::SanityFlag;
use crate::{Error, Result};

/// What a card file says it is, so that another robustdx result is refused by name.
pub const CARD_KIND: &str = "robustness-card";
/// Version of the card files this build writes and reads.
pub const CARD_SCHEMA_VERSION: u32 = 1;

/// One model's robustness card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessCard {
    /// [`CARD_KIND`].
    pub kind: String,
    /// [`CARD_SCHEMA_VERSION`] when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// The battery's level: cards compare only at equal levels.
    pub level: Level,
    /// The battery's revision ([`BATTERY_REVISION`](super::BATTERY_REVISION) when made).
    pub battery_revision: u32,
    /// The model (its file's hash and training recipe included).
    pub model: ModelSummary,
    /// The images every part was measured on.
    pub data: DataSummary,
    /// Where, when and with what it was made.
    pub provenance: Provenance,
    /// Clean scores with bootstrap intervals.
    pub clean: CleanPart,
    /// The attack sweep: AutoAttack (and at `standard`, FGSM and PGD; GAP with a generator).
    pub attacks: CardPart<AttackReport>,
    /// The Robust-Benchmark: Flip Probability per kind.
    pub benchmark: CardPart<BenchmarkReport>,
    /// Certified accuracy at fixed radii; absent (with the reason in `not_run`) for a model
    /// not trained for smoothing when no σ was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification: Option<CardPart<CertifyReport>>,
    /// What the attack does inside: feature shift, separation, Grad-CAM before and after.
    pub inside: CardPart<AnalysisReport>,
    /// Grad-CAM before and after on the first images, as thumbnails, with their overlap.
    pub cams: CamPart,
    /// Every sanity flag the parts raised (empty: nothing suspicious).
    pub sanity: Vec<SanityFlag>,
    /// The parts the level has that this card lacks, each with why.
    #[serde(default)]
    pub not_run: Vec<String>,
}

/// Where, when and with what a card was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// SHA-256 of the test images read (the fingerprint of the split, or of its sample).
    pub data_fingerprint: String,
    /// The backend that computed it (`cpu`, `wgpu`, `webgpu`).
    pub backend: String,
    /// When the card was assembled (UTC, RFC 3339).
    pub created: String,
}

/// The clean scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanPart {
    /// Accuracy, AUC, sensitivity / specificity or per-finding AUC.
    pub metrics: Metrics,
    /// Bootstrap intervals of the headline scores.
    pub intervals: MetricIntervals,
    /// In words.
    pub verdict: String,
}

/// One part of a card: the run's result (without per-image records), what it means in words,
/// and the command that reproduces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardPart<R> {
    /// The run's result file as the separate command writes it, per-image records left out
    /// (kept beside the card, in the run's own file).
    pub result: R,
    /// One sentence per result, in words a clinician reads.
    pub verdicts: Vec<String>,
    /// The `robustdx` command line that computes this part alone.
    pub command: String,
}

/// Grad-CAM before and after, shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CamPart {
    /// One per shown image.
    pub images: Vec<CamThumbnail>,
    /// Mean over the shown images of the overlap of the clean and adversarial maps' hottest
    /// fifth (intersection over union).
    pub mean_overlap: Option<f64>,
}

impl RobustnessCard {
    /// Pretty-printed JSON, the form card files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("cards serialise")
    }

    /// Parses a card, checking its kind and schema version first; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::format(file, format!("not JSON: {e}")))?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(CARD_KIND) {
            return Err(Error::format(
                file,
                "not a robustness card (robustdx card writes card.json)",
            ));
        }
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(CARD_SCHEMA_VERSION) => {}
            other => {
                return Err(Error::format(
                    file,
                    format!(
                        "card schema version {}; this robustdx reads version {CARD_SCHEMA_VERSION}",
                        other.map_or("missing".into(), |v| v.to_string())
                    ),
                ));
            }
        }
        serde_json::from_value(value)
            .map_err(|e| Error::format(file, format!("not a robustness card: {e}")))
    }

    /// What the card's comparability rests on: the data read, the level and the battery.
    /// Cards with equal keys may be ranked side by side.
    pub fn comparable_key(&self) -> (String, Level, u32) {
        (
            self.provenance.data_fingerprint.clone(),
            self.level,
            self.battery_revision,
        )
    }

    /// The defense the model was trained with (`clean` for an untrained or imported one).
    pub fn defense(&self) -> String {
        self.model
            .training
            .as_ref()
            .map_or("none (imported or untrained)".into(), |t| {
                t.recipe.defense.defense.clone()
            })
    }
}
