//! `robustdx certify`'s result: per noise level σ, every image's votes and certificate, and the
//! certified accuracy at the report's radii (what Cohen et al.'s tables show), recomputed from
//! the records whenever they change, so shards merge and the radii can be asked for anew.

use serde::{Deserialize, Serialize};

use super::schema::{DataSummary, ModelSummary, SCHEMA_VERSION, ToolInfo, parse_versioned};
use crate::Result;
use crate::certify::{CertificateRecord, CertifySettings};
use crate::robustness::Subject;

/// Everything that decides one noise level's records; `--resume` reuses it only when all match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifyIdentity {
    /// The noise level (pixel units of [0, 1] images).
    pub sigma: f64,
    /// Selection copies per image.
    pub n0: u64,
    /// Estimation copies per image.
    pub n: u64,
    /// The failure probability.
    pub alpha: f64,
    /// [`CERTIFY_REVISION`](crate::certify::CERTIFY_REVISION) when it ran (absent: 0): raised
    /// when the same settings would give other records.
    #[serde(default, skip_serializing_if = "crate::registry::is_first_revision")]
    pub revision: u32,
    /// The model, the data and the seed that keys every image's noise.
    #[serde(flatten)]
    pub subject: Subject,
}

impl CertifyIdentity {
    /// The identity of certifying at `sigma` with `settings` on `subject`, at this build's
    /// revision.
    pub fn new(sigma: f64, settings: &CertifySettings, subject: Subject) -> Self {
        Self {
            sigma,
            n0: settings.n0,
            n: settings.n,
            alpha: settings.alpha,
            revision: crate::certify::CERTIFY_REVISION,
            subject,
        }
    }

    /// The settings it was run with.
    pub fn settings(&self) -> CertifySettings {
        CertifySettings {
            n0: self.n0,
            n: self.n,
            alpha: self.alpha,
        }
    }

    /// What differs between `self` (recorded) and `now`, in words.
    pub fn differences(&self, now: &Self) -> Vec<String> {
        let mut out = Vec::new();
        if self.revision != now.revision {
            out.push(format!(
                "revision of certify {} → {}",
                self.revision, now.revision
            ));
        }
        if self.n0 != now.n0 {
            out.push(format!("n0 {} → {}", self.n0, now.n0));
        }
        if self.n != now.n {
            out.push(format!("n {} → {}", self.n, now.n));
        }
        if self.alpha != now.alpha {
            out.push(format!("alpha {} → {}", self.alpha, now.alpha));
        }
        out.extend(self.subject.differences(&now.subject));
        out
    }
}

/// The share of images certified correct at one radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedAt {
    /// L2 radius, pixel units of [0, 1] images.
    pub radius: f64,
    /// Images whose smoothed decision is correct and certified at least this far, of all.
    pub accuracy: f64,
}

/// One noise level over the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigmaResult {
    /// The noise level.
    pub sigma: f64,
    /// What made these records: a resumed run reuses the level only when it matches.
    pub identity: CertifyIdentity,
    /// The robustdx version that computed the records (a reused level keeps its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustdx_version: Option<String>,
    /// Certified accuracy at each of the report's radii (radius 0: the smoothed classifier's
    /// accuracy, abstentions counted wrong).
    pub certified_accuracy: Vec<CertifiedAt>,
    /// Share of images the smoothed classifier abstains on.
    pub abstained: f64,
    /// Multi-label: per finding, certified accuracy of that finding alone at each radius.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_certified_accuracy: Option<Vec<Vec<f64>>>,
    /// Every image's votes and certificate, in index order.
    pub records: Vec<CertificateRecord>,
}

/// `robustdx certify --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifyReport {
    /// [`SCHEMA_VERSION`] when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// The base model.
    pub model: ModelSummary,
    /// The data it was certified on.
    pub data: DataSummary,
    /// Selection copies per image.
    pub n0: u64,
    /// Estimation copies per image.
    pub n: u64,
    /// The failure probability of each image's certificate.
    pub alpha: f64,
    /// Keys every image's noise (with the image's index).
    pub seed: u64,
    /// The radii the tables report certified accuracy at.
    pub radii: Vec<f64>,
    /// One per noise level, in the order asked.
    pub results: Vec<SigmaResult>,
}

impl CertifyReport {
    /// An empty report of this build's schema version; noise levels are pushed as they finish.
    pub fn new(
        model: ModelSummary,
        data: DataSummary,
        settings: &CertifySettings,
        seed: u64,
        radii: Vec<f64>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            model,
            data,
            n0: settings.n0,
            n: settings.n,
            alpha: settings.alpha,
            seed,
            radii,
            results: Vec::new(),
        }
    }

    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        parse_versioned(text, file, "certify")
    }

    /// The largest radius this report's n can certify at `sigma`: a multi-label model's findings
    /// share α, which lowers the largest radius of each.
    pub fn largest_radius(&self, sigma: f64) -> f64 {
        let heads = match self.model.task.is_multi_label() {
            true => self.model.class_names.len(),
            false => 1,
        };
        let alpha = crate::certify::alpha_per_head(self.alpha, heads);
        crate::certify::max_certifiable_radius(sigma, self.n, alpha)
    }

    /// The table the terminal, the HTML report and the page's viewer show: the header and one row
    /// per noise level — σ, the share abstained, the largest radius n copies can certify, and the
    /// certified accuracy at each radius.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut head: Vec<String> = vec!["σ".into(), "abstains".into(), "largest possible".into()];
        head.extend(self.radii.iter().map(|r| format!("r = {r}")));
        let rows = self
            .results
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.sigma.to_string(),
                    format!("{:.1} %", 100.0 * r.abstained),
                    format!("{:.3}", self.largest_radius(r.sigma)),
                ];
                row.extend(
                    r.certified_accuracy
                        .iter()
                        .map(|at| format!("{:.3}", at.accuracy)),
                );
                row
            })
            .collect();
        (head, rows)
    }

    /// Certified accuracy per noise level and radius, for spreadsheets: one row per (σ, radius).
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("sigma,radius,certified_accuracy,abstained,n0,n,alpha,samples\n");
        for r in &self.results {
            for at in &r.certified_accuracy {
                out.push_str(&format!(
                    "{},{},{:.6},{:.6},{},{},{},{}\n",
                    r.sigma,
                    at.radius,
                    at.accuracy,
                    r.abstained,
                    self.n0,
                    self.n,
                    self.alpha,
                    r.records.len()
                ));
            }
        }
        out
    }
}
