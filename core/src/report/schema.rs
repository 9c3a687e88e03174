//! The versioned JSON result schema. A reader checks `schema_version` first and refuses files
//! from a newer robustdx instead of misreading them.

use serde::{Deserialize, Serialize};

use crate::data::SkippedFile;
use crate::metrics::Metrics;
use crate::model::{InputSpec, ModelCard, TrainingSummary};
use crate::robustness::{
    ImageRecord, ResultIdentity, RobustnessMetrics, SanityCheck, SanityFlag, Shard,
    SingleImageSettings,
};
use crate::{Error, Result, TaskKind};

/// Version of the result files written by this build. Version 2 added result identities,
/// per-image records, shards and sanity flags; version 1 files still read (without them).
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest version this build reads.
pub const OLDEST_READABLE_SCHEMA: u32 = 1;

/// Which program wrote a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// `robustdx`.
    pub name: String,
    /// The crate version that wrote the record.
    pub version: String,
}

impl ToolInfo {
    /// This build of robustdx.
    pub fn this() -> Self {
        Self {
            name: "robustdx".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The model a record is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// The model file, as the user named it.
    pub file: String,
    /// SHA-256 of the file's bytes (absent in version 1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The architecture's registry name (`small-cnn`, `resnet-18`, …).
    pub architecture: String,
    /// Single-label or multi-label, which decides how the metrics read.
    pub task: TaskKind,
    /// Class (or finding) names, in logit order.
    pub class_names: Vec<String>,
    /// Input size and normalisation.
    pub input: InputSpec,
    /// How the model was trained; `None` for a fresh or imported model.
    pub training: Option<TrainingSummary>,
}

impl ModelSummary {
    /// The summary of the model in `file` (its hash left for the caller, who has the bytes).
    pub fn new(file: &str, card: &ModelCard) -> Self {
        Self {
            file: file.into(),
            sha256: None,
            architecture: card.architecture.name().into(),
            task: card.task,
            class_names: card.class_names.clone(),
            input: card.input.clone(),
            training: card.training.clone(),
        }
    }
}

/// The data a record was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// The data set as the user named it.
    pub name: String,
    /// `train` or `test`.
    pub split: String,
    /// Images in the split (all of them, also for a shard).
    pub samples: usize,
    /// The part of the split this file covers; absent for the whole split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Images of the split left out because they could not be read (`--skip-unreadable`), each
    /// with its error; absent when none were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedFile>,
}

impl DataSummary {
    /// The images left out as unreadable, in words for a report ("2 unreadable image(s): a.png:
    /// …; b.dcm: …"); `None` when none were.
    pub fn skipped_text(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let errors: Vec<&str> = self.skipped.iter().map(|s| s.error.as_str()).collect();
        Some(format!(
            "{} unreadable image(s) left out (--skip-unreadable): {}",
            errors.len(),
            errors.join("; ")
        ))
    }
}

/// `robustdx predict`: one image's probabilities under a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePrediction {
    /// The image file as the user named it.
    pub image: String,
    /// The most probable class (single-label), or the findings above 0.5 (multi-label).
    pub predicted: Vec<String>,
    /// Per class or finding, in the model's order.
    pub probabilities: Vec<ClassProbability>,
}

/// One class's (or finding's) probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassProbability {
    /// The class or finding name.
    pub class: String,
    /// Softmax (single-label) or sigmoid (multi-label) output, in [0, 1].
    pub probability: f32,
}

impl ImagePrediction {
    /// The prediction for `image` from `probs`, the model's probabilities in the card's class
    /// order.
    pub fn new(image: &str, card: &ModelCard, probs: &[f32]) -> Self {
        let predicted = if card.task.is_multi_label() {
            card.class_names
                .iter()
                .zip(probs)
                .filter(|(_, p)| **p > 0.5)
                .map(|(c, _)| c.clone())
                .collect()
        } else {
            let best = probs
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            vec![card.class_names[best].clone()]
        };
        Self {
            image: image.into(),
            predicted,
            probabilities: card
                .class_names
                .iter()
                .zip(probs)
                .map(|(class, &probability)| ClassProbability {
                    class: class.clone(),
                    probability,
                })
                .collect(),
        }
    }
}

/// `robustdx predict --json`: the model and each image's prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictReport {
    /// [`SCHEMA_VERSION`] when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// The model that predicted.
    pub model: ModelSummary,
    /// One per image, in the order given.
    pub predictions: Vec<ImagePrediction>,
}

impl PredictReport {
    /// A report of this build's schema version.
    pub fn new(model: ModelSummary, predictions: Vec<ImagePrediction>) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            model,
            predictions,
        }
    }
}

/// `robustdx eval`: a model's clean performance on a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// [`SCHEMA_VERSION`] when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// The model evaluated.
    pub model: ModelSummary,
    /// The data it was evaluated on.
    pub data: DataSummary,
    /// Its clean scores.
    pub metrics: Metrics,
    /// Bootstrap intervals of the headline scores (absent in files written before them, and with
    /// `--bootstrap 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<crate::metrics::MetricIntervals>,
    /// Where the per-image records were written (`--records`), if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_file: Option<String>,
}

impl EvalReport {
    /// A report of this build's schema version, with no intervals and no records file.
    pub fn new(model: ModelSummary, data: DataSummary, metrics: Metrics) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            model,
            data,
            metrics,
            intervals: None,
            records_file: None,
        }
    }

    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        parse_versioned(text, file, "eval")
    }
}

/// Parses a result record of kind `what`, refusing other schema versions.
pub(crate) fn parse_versioned<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
    what: &str,
) -> Result<T> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::format(file, format!("not JSON: {e}")))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if (u64::from(OLDEST_READABLE_SCHEMA)..=u64::from(SCHEMA_VERSION)).contains(&v) => {
        }
        Some(v) => {
            return Err(Error::format(
                file,
                format!(
                    "result schema version {v}; this robustdx reads versions \
                     {OLDEST_READABLE_SCHEMA} to {SCHEMA_VERSION} (a newer robustdx wrote it?)"
                ),
            ));
        }
        None => {
            return Err(Error::format(
                file,
                "no schema_version: not a robustdx result file",
            ));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| Error::format(file, format!("not a robustdx {what} record: {e}")))
}

/// One attack at one budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackResult {
    /// `fgsm`, `pgd`, `gap`.
    pub attack: String,
    /// ε in 1/255 pixel units (0 = clean).
    pub eps: f32,
    /// The attack's own settings (as in `identity.attack.settings`).
    pub settings: serde_json::Value,
    /// Everything that made this result; a resumed sweep reuses it only when all of it matches.
    /// Absent in version 1 files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ResultIdentity>,
    /// The robustdx version that computed these numbers (a reused cell keeps its own); absent
    /// in files written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustdx_version: Option<String>,
    /// Computed from `records` (when there are any).
    pub metrics: RobustnessMetrics,
    /// What the attack did to each image, in index order.
    #[serde(default)]
    pub records: Vec<ImageRecord>,
}

/// `robustdx attack`: a model's scores on a data set under attacks and budgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackReport {
    /// [`SCHEMA_VERSION`] when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// The model attacked.
    pub model: ModelSummary,
    /// The data it was attacked on.
    pub data: DataSummary,
    /// One per (attack, ε) cell, clean (ε = 0) included, in sweep order.
    pub results: Vec<AttackResult>,
    /// Which sanity checks ran (absent in version 1 files) and what they flagged.
    #[serde(default)]
    pub sanity_checks: Vec<SanityCheck>,
    /// What the checks flagged (empty: nothing suspicious).
    #[serde(default)]
    pub sanity: Vec<SanityFlag>,
    /// Where the per-image records were also exported (`--records`), if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_file: Option<String>,
}

impl AttackReport {
    /// An empty report of this build's schema version; results are pushed as cells finish.
    pub fn new(model: ModelSummary, data: DataSummary) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            model,
            data,
            results: Vec::new(),
            sanity_checks: Vec::new(),
            sanity: Vec::new(),
            records_file: None,
        }
    }

    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        parse_versioned(text, file, "attack")
    }

    /// One row per result: the headline numbers, for spreadsheets.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "attack,eps_255,accuracy,balanced_accuracy,exact_match,auc_macro,sensitivity,specificity,fooling_rate,success_rate,mean_linf,mean_l2,samples\n",
        );
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        for r in &self.results {
            let m = &r.metrics;
            let a = &m.adversarial;
            out.push_str(&format!(
                "{},{},{:.6},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{}\n",
                r.attack,
                r.eps,
                a.accuracy,
                opt(a.balanced_accuracy),
                opt(a.exact_match),
                opt(a.auc_macro),
                opt(a.sensitivity),
                opt(a.specificity),
                m.fooling_rate,
                m.success_rate,
                m.mean_linf,
                m.mean_l2,
                a.samples
            ));
        }
        out
    }
}

/// A prediction for one image, named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinglePrediction {
    /// The decision in words: a class name, or the findings above 0.5 ("no finding").
    pub label: String,
    /// Per class or finding, in the model's order.
    pub probs: Vec<f32>,
}

/// One image under one attack: what `robustdx attack --image --json` writes and what the
/// browser's embed mode puts in its result element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SingleImageReport {
    /// [`SCHEMA_VERSION`] when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// Where it ran: `webgpu` or `cpu` in a browser, `wgpu` or `cpu` natively.
    pub backend: String,
    /// The model file as the user named it.
    pub model: String,
    /// The image file as the user named it.
    pub image: String,
    /// The attack, budget and goal it ran with.
    #[serde(flatten)]
    pub settings: SingleImageSettings,
    /// Class (or finding) names, the order of `probs`.
    pub class_names: Vec<String>,
    /// The prediction on the image as it is.
    pub clean: SinglePrediction,
    /// The prediction on the attacked image.
    pub adversarial: SinglePrediction,
    /// The loss against the clean decision at the clean image and after every step.
    pub loss: Vec<f32>,
    /// ‖δ‖∞ in 1/255 units.
    pub linf: f32,
    /// ‖δ‖₂ in pixel units of [0, 1] images at the model's input: the unit of certified radii,
    /// not 1/255 as `linf` (absent in records written before robustdx measured it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2: Option<f32>,
    /// Whether the decision changed.
    pub flipped: bool,
    /// Grad-CAM of the clean and the adversarial image, each explaining its own decision
    /// (absent in records written before robustdx drew them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_cam: Option<GradCamPair>,
    /// The model queries a score-only attack (Square) spent: forward passes, no gradient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries: Option<u32>,
}

/// Two Grad-CAM maps of one image, before and after an attack: row-major, in [0, 1], at the
/// model's input size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradCamPair {
    /// Rows of each map.
    pub height: usize,
    /// Columns of each map.
    pub width: usize,
    /// The map explaining the clean image's decision.
    pub clean: Vec<f32>,
    /// The map explaining the adversarial image's decision.
    pub adversarial: Vec<f32>,
}

impl SingleImageReport {
    /// A report of this build's schema version; `flipped` is read off the two labels, and the
    /// backend, model and image names are left empty for the caller.
    pub fn new(
        settings: SingleImageSettings,
        class_names: Vec<String>,
        clean: SinglePrediction,
        adversarial: SinglePrediction,
        loss: Vec<f32>,
        linf: f32,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            backend: String::new(),
            model: String::new(),
            image: String::new(),
            flipped: clean.label != adversarial.label,
            settings,
            class_names,
            clean,
            adversarial,
            loss,
            linf,
            l2: None,
            grad_cam: None,
            queries: None,
        }
    }

    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        parse_versioned(text, file, "single-image attack")
    }
}
