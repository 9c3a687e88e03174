//! `robustdx analyze --json`: what an attack does inside a model.

use serde::{Deserialize, Serialize};

use super::schema::{DataSummary, ModelSummary, SCHEMA_VERSION, ToolInfo, parse_versioned};
use crate::Result;
use crate::analysis::AnalysisFindings;
use crate::attack::AttackSpec;

/// `robustdx analyze --json`: the model, data and attack, and what the analyses found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    /// [`SCHEMA_VERSION`](super::SCHEMA_VERSION) when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// The model analysed.
    pub model: ModelSummary,
    /// The data it was analysed on.
    pub data: DataSummary,
    /// The attack the adversarial images come from.
    pub attack: AttackSpec,
    /// Keys the attack's random draws per image.
    pub seed: u64,
    /// The analyses' numbers (flattened: one level of JSON keys).
    #[serde(flatten)]
    pub findings: AnalysisFindings,
}

impl AnalysisReport {
    /// A report of this build's schema version.
    pub fn new(
        model: ModelSummary,
        data: DataSummary,
        attack: AttackSpec,
        seed: u64,
        findings: AnalysisFindings,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            model,
            data,
            attack,
            seed,
            findings,
        }
    }

    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        parse_versioned(text, file, "analysis")
    }
}
