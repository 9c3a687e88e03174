//! Label correlation (multi-label): how findings go together in the ground truth, in the clean
//! decisions and in the adversarial ones. An attack that breaks a model's sense of which findings
//! co-occur moves its matrix away from the ground truth's.

use serde::{Deserialize, Serialize};

/// This analysis in the [registry](super::ANALYSES).
pub(super) const ENTRY: super::AnalysisEntry = super::AnalysisEntry {
    name: "label-correlation",
    about: "multi-label: the findings' correlation in the truth, the clean and the adversarial decisions",
    revision: 0,
};

/// The finding-by-finding Pearson correlation of 0/1 columns (the phi coefficient), rows of
/// `flags` being images. A finding that never varies correlates 0 with the others (1 with
/// itself).
pub fn correlation_matrix(flags: &[Vec<bool>]) -> Vec<Vec<f64>> {
    let labels = flags.first().map_or(0, Vec::len);
    let n = flags.len().max(1) as f64;
    let column = |k: usize| flags.iter().map(move |f| f[k] as u8 as f64);
    let means: Vec<f64> = (0..labels).map(|k| column(k).sum::<f64>() / n).collect();
    let mut out = vec![vec![0.0; labels]; labels];
    for a in 0..labels {
        for b in 0..labels {
            if a == b {
                out[a][b] = 1.0;
                continue;
            }
            let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
            for (x, y) in column(a).zip(column(b)) {
                let (dx, dy) = (x - means[a], y - means[b]);
                cov += dx * dy;
                va += dx * dx;
                vb += dy * dy;
            }
            out[a][b] = if va > 0.0 && vb > 0.0 {
                cov / (va * vb).sqrt()
            } else {
                0.0
            };
        }
    }
    out
}

/// The Frobenius distance ‖A − B‖_F of two matrices of one size.
pub fn matrix_distance(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(ra, rb)| ra.iter().zip(rb).map(|(x, y)| (x - y).powi(2)))
        .sum::<f64>()
        .sqrt()
}

/// The three matrices of a multi-label evaluation and how far the predictions' are from the
/// ground truth's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCorrelation {
    /// Finding-by-finding correlation of the ground truth.
    pub truth: Vec<Vec<f64>>,
    /// Of the decisions on the clean images.
    pub clean: Vec<Vec<f64>>,
    /// Of the decisions on the adversarial images.
    pub adversarial: Vec<Vec<f64>>,
    /// Frobenius distance of `clean` from `truth`.
    pub clean_distance: f64,
    /// Frobenius distance of `adversarial` from `truth`: larger than `clean_distance` when the
    /// attack broke which findings go together.
    pub adversarial_distance: f64,
}

impl LabelCorrelation {
    /// From per-image finding flags: ground truth, clean decisions, adversarial decisions.
    pub fn new(truth: &[Vec<bool>], clean: &[Vec<bool>], adversarial: &[Vec<bool>]) -> Self {
        let (t, c, a) = (
            correlation_matrix(truth),
            correlation_matrix(clean),
            correlation_matrix(adversarial),
        );
        Self {
            clean_distance: matrix_distance(&c, &t),
            adversarial_distance: matrix_distance(&a, &t),
            truth: t,
            clean: c,
            adversarial: a,
        }
    }
}
