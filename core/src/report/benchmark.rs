//! `robustdx benchmark`'s result: per perturbation kind, the Flip Probability, the scores on the
//! last frame and every image's per-frame probabilities (so FP can be recomputed, at another
//! threshold or variant, and shards merged).

use serde::{Deserialize, Serialize};

use super::schema::{
    DataSummary, ModelSummary, SCHEMA_VERSION, SinglePrediction, ToolInfo, parse_versioned,
};
use crate::Result;
use crate::metrics::Metrics;
use crate::perturb::{FlipVariant, Perturbation, Reference, SequenceRecord};
use crate::robustness::Subject;

/// Everything that decides one kind's numbers; `--resume` reuses a kind only when all match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchmarkIdentity {
    /// The kind's name (`gaussian_noise`, `rotate`, …).
    pub perturbation: String,
    /// The kind's [revision](crate::registry::Entry::revision) when it ran (absent in files:
    /// 0): bumped when its frames change, so that older results are recomputed.
    #[serde(default, skip_serializing_if = "crate::registry::is_first_revision")]
    pub revision: u32,
    /// Frames per sequence, frame 0 included.
    pub frames: usize,
    /// The model, the data and the seed that keys every random draw of the sequences (with each
    /// image's index); flattened, the keys files have always had.
    #[serde(flatten)]
    pub subject: Subject,
}

impl BenchmarkIdentity {
    /// The identity of `kind`'s sequences of `frames` frames on `subject`, at the kind's current
    /// revision.
    pub fn new(kind: &dyn Perturbation, frames: usize, subject: Subject) -> Self {
        Self {
            perturbation: kind.name().into(),
            revision: kind.revision(),
            frames,
            subject,
        }
    }

    /// What differs between `self` (recorded) and `now`, in words.
    pub fn differences(&self, now: &Self) -> Vec<String> {
        let mut out = Vec::new();
        if self.revision != now.revision {
            out.push(format!(
                "revision of {} {} → {}",
                self.perturbation, self.revision, now.revision
            ));
        }
        if self.frames != now.frames {
            out.push(format!("frames {} → {}", self.frames, now.frames));
        }
        out.extend(self.subject.differences(&now.subject));
        out
    }
}

/// One perturbation kind over the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindResult {
    /// The kind's name (`gaussian_noise`, `rotate`, …).
    pub perturbation: String,
    /// What flips count against (the clean first frame for the noises).
    pub reference: Reference,
    /// What made these numbers: a resumed benchmark reuses the kind only when it matches.
    pub identity: BenchmarkIdentity,
    /// The robustdx version that computed these numbers (a reused kind keeps its own); absent
    /// in files written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustdx_version: Option<String>,
    /// Flip Probability in [0, 1] (multi-label: per label, averaged).
    pub flip_probability: f64,
    /// The seed's variant: equal to `flip_probability` for single-label models; multi-label:
    /// first-frame reference, summed over frames, in [0, frames − 1].
    #[serde(alias = "flip_probability_seed")]
    pub flip_probability_paper: f64,
    /// Accuracy, AUC … on the last frame.
    pub last_frame: Metrics,
    /// Every image's sequence, in index order.
    pub records: Vec<SequenceRecord>,
}

impl KindResult {
    /// The Flip Probability as `variant` counts it.
    pub fn flip_probability(&self, variant: FlipVariant) -> f64 {
        match variant {
            FlipVariant::Normalized => self.flip_probability,
            FlipVariant::Paper => self.flip_probability_paper,
        }
    }
}

/// `robustdx benchmark --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkReport {
    /// [`SCHEMA_VERSION`](super::SCHEMA_VERSION) when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// The model under test.
    pub model: ModelSummary,
    /// The data it was run on.
    pub data: DataSummary,
    /// Frames per sequence, frame 0 included.
    pub frames: usize,
    /// Keys every random draw of the sequences (with each image's index).
    pub seed: u64,
    /// Which Flip Probability the table and report lead with.
    pub fp_variant: FlipVariant,
    /// One per kind, in the registry's order.
    pub results: Vec<KindResult>,
}

impl BenchmarkReport {
    /// An empty report of this build's schema version; kinds are pushed as they finish.
    pub fn new(
        model: ModelSummary,
        data: DataSummary,
        frames: usize,
        seed: u64,
        fp_variant: FlipVariant,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            model,
            data,
            frames,
            seed,
            fp_variant,
            results: Vec::new(),
        }
    }

    /// The mean Flip Probability over the kinds run (the `fp_variant`'s).
    pub fn mean_flip_probability(&self) -> f64 {
        if self.results.is_empty() {
            return 0.0;
        }
        self.results
            .iter()
            .map(|r| r.flip_probability(self.fp_variant))
            .sum::<f64>()
            / self.results.len() as f64
    }

    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        parse_versioned(text, file, "benchmark")
    }

    /// One row per kind, for spreadsheets.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "perturbation,reference,frames,flip_probability,flip_probability_paper,last_frame_accuracy,last_frame_auc_macro,samples\n",
        );
        for r in &self.results {
            out.push_str(&format!(
                "{},{},{},{:.6},{:.6},{:.6},{},{}\n",
                r.perturbation,
                r.reference.name(),
                self.frames,
                r.flip_probability,
                r.flip_probability_paper,
                r.last_frame.accuracy,
                r.last_frame
                    .auc_macro
                    .map(|a| format!("{a:.6}"))
                    .unwrap_or_default(),
                r.last_frame.samples
            ));
        }
        out
    }
}

/// One image's sequence under one kind: what `robustdx benchmark --image --json` writes and what
/// the page's perturbation view shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSequenceReport {
    /// [`SCHEMA_VERSION`](super::SCHEMA_VERSION) when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// Where it ran: `webgpu` or `cpu` in a browser, `wgpu` or `cpu` natively.
    pub backend: String,
    /// The model file as the user named it.
    pub model: String,
    /// The image file as the user named it.
    pub image: String,
    /// The kind's name (`gaussian_noise`, `rotate`, …).
    pub perturbation: String,
    /// What flips are counted against.
    pub reference: Reference,
    /// Keys the sequence's draws (the image is image 0 of its own run).
    pub seed: u64,
    /// Class (or finding) names, the order of each frame's probabilities.
    pub class_names: Vec<String>,
    /// The decision and probabilities on each frame, frame 0 first.
    pub frames: Vec<SinglePrediction>,
    /// Frames after the first whose decision differs from their reference frame's.
    pub flips: usize,
    /// This one sequence's Flip Probability (normalised).
    pub flip_probability: f64,
}

impl ImageSequenceReport {
    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        parse_versioned(text, file, "image sequence")
    }
}
