//! Flip Probability: how often a model changes its mind along a perturbation sequence.
//!
//! Single-label (ImageNet-P's `test.py`, the seed's `Benchmark/test.py`): per sequence, the share
//! of frames 2..n whose predicted class differs from the reference frame's — the clean first frame
//! for the noises, the previous frame otherwise — averaged over sequences.
//!
//! Multi-label (each label decided at 0.5): the same per label, averaged over labels, so FP stays
//! in [0, 1]. The seed's own multi-label number (`Benchmark/test0.py`, ChestX-ray) is available as
//! [`FlipVariant::Paper`]: always against the first frame, flips summed over labels and frames and
//! divided by the number of labels only, so it runs from 0 to n − 1. For single-label models both
//! variants are the same number.

use serde::{Deserialize, Serialize};

use super::Reference;
use crate::robustness::Decision;

/// Which multi-label Flip Probability to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlipVariant {
    /// Per label, averaged over labels and frames: in [0, 1].
    #[default]
    Normalized,
    /// The paper's ChestX-ray number (the seed study's): first-frame reference, summed over
    /// frames, in [0, n − 1]. `seed` is its older spelling.
    #[serde(alias = "seed")]
    Paper,
}

impl std::str::FromStr for FlipVariant {
    type Err = crate::Error;

    fn from_str(text: &str) -> crate::Result<Self> {
        match text {
            "normalized" | "normalised" => Ok(Self::Normalized),
            "paper" | "seed" => Ok(Self::Paper),
            other => Err(crate::Error::invalid(format!(
                "--fp-variant {other}: expected normalized or paper"
            ))),
        }
    }
}

/// The Flip Probability of a set of sequences' decisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlipProbability {
    /// What each frame's decision is compared with: the first frame or the one before.
    pub reference: Reference,
    /// How flips are counted: the normalised share, or the seed study's per-label sum.
    pub variant: FlipVariant,
}

/// Decision units that can flip: the class, or each label.
fn units(d: &Decision) -> Vec<i64> {
    match d {
        Decision::Class(c) => vec![*c as i64],
        Decision::Findings(f) => f.iter().map(|&on| on as i64).collect(),
    }
}

impl FlipProbability {
    /// The Flip Probability against `reference`, counted as `variant` says.
    pub fn new(reference: Reference, variant: FlipVariant) -> Self {
        Self { reference, variant }
    }

    /// One sequence's flips: a share in [0, 1] (normalised), or the seed's per-label sum.
    pub fn sequence(&self, frames: &[Decision]) -> f64 {
        if frames.len() < 2 {
            return 0.0;
        }
        // The seed's variant changes only how multi-label sequences count: against the first
        // frame, summed over frames. A single-label sequence keeps ImageNet-P's reference.
        let multi_label_seed =
            self.variant == FlipVariant::Paper && matches!(frames[0], Decision::Findings(_));
        let reference = if multi_label_seed {
            Reference::First
        } else {
            self.reference
        };
        let frames: Vec<Vec<i64>> = frames.iter().map(units).collect();
        let labels = frames[0].len().max(1);
        let mut flips = 0usize;
        for i in 1..frames.len() {
            let against = &frames[reference.frame_for(i)];
            flips += frames[i]
                .iter()
                .zip(against)
                .filter(|(a, b)| a != b)
                .count();
        }
        if multi_label_seed {
            flips as f64 / labels as f64
        } else {
            flips as f64 / (labels * (frames.len() - 1)) as f64
        }
    }

    /// How many frames after the first decide otherwise than their reference (any label): the
    /// flips a person counts along one sequence.
    pub fn changed_frames(&self, frames: &[Decision]) -> usize {
        (1..frames.len())
            .filter(|&i| self.flipped(frames, i))
            .count()
    }

    /// Whether frame `i` decides otherwise than its reference frame (never frame 0).
    pub fn flipped(&self, frames: &[Decision], i: usize) -> bool {
        i > 0 && frames[i] != frames[self.reference.frame_for(i)]
    }

    /// The mean over sequences (0 for none).
    pub fn over(&self, sequences: &[Vec<Decision>]) -> f64 {
        if sequences.is_empty() {
            return 0.0;
        }
        sequences.iter().map(|s| self.sequence(s)).sum::<f64>() / sequences.len() as f64
    }
}
