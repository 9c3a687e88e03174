//! Percentile bootstrap intervals of the headline scores: resample the images with replacement,
//! score each resample with the same [`evaluate`](super::evaluate), and read the interval off
//! the scores' quantiles (NumPy's default linear interpolation). The resamples are keyed by
//! (seed, resample), so the same seed gives the same interval. A score a resample cannot have
//! (an AUC with one class missing) is left out of that score's quantiles, and the number kept
//! is recorded.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Metrics, Predictions, evaluate};
use crate::{Error, Result};

/// An interval of one score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The lower end.
    pub low: f64,
    /// The upper end.
    pub high: f64,
    /// Resamples that had this score (fewer than asked when some could not: an AUC needs both
    /// classes).
    pub resamples: usize,
}

/// Bootstrap intervals of a [`Metrics`]' headline scores; a score the task lacks is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricIntervals {
    /// The intervals' coverage (0.95: from the 2.5th to the 97.5th percentile).
    pub level: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// Keys the resampling.
    pub seed: u64,
    /// See [`Metrics::accuracy`].
    pub accuracy: Interval,
    /// See [`Metrics::auc_macro`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc_macro: Option<Interval>,
    /// See [`Metrics::sensitivity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Interval>,
    /// See [`Metrics::specificity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specificity: Option<Interval>,
    /// See [`Metrics::balanced_accuracy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balanced_accuracy: Option<Interval>,
    /// See [`Metrics::exact_match`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_match: Option<Interval>,
}

impl MetricIntervals {
    /// One line per score the task has: "accuracy [0.874, 0.945]", after a line naming the
    /// level and resamples.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{:.0} % bootstrap intervals ({} resamples of the images, seed {}):\n",
            100.0 * self.level,
            self.resamples,
            self.seed
        );
        for (name, interval) in [
            ("accuracy", Some(self.accuracy)),
            ("exact match", self.exact_match),
            ("balanced accuracy", self.balanced_accuracy),
            ("AUC (macro)", self.auc_macro),
            ("sensitivity", self.sensitivity),
            ("specificity", self.specificity),
        ] {
            if let Some(i) = interval {
                out.push_str(&format!("  {name:<18} [{:.3}, {:.3}]", i.low, i.high));
                if i.resamples < self.resamples {
                    out.push_str(&format!(" ({} resamples had it)", i.resamples));
                }
                out.push('\n');
            }
        }
        out
    }
}

/// The most resamples asked for: beyond this the interval does not change, only the wait.
pub const MAX_RESAMPLES: usize = 100_000;

/// The `q` quantile (0 ≤ q ≤ 1) of `values`, sorted in place, interpolated linearly between
/// order statistics (NumPy's `percentile` default); `None` for no values.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let position = q * (values.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    Some(values[below] + weight * (values[above] - values[below]))
}

/// Percentile bootstrap intervals at `level` from `resamples` resamples keyed by `seed`.
pub fn bootstrap(
    predictions: &Predictions,
    resamples: usize,
    level: f64,
    seed: u64,
) -> Result<MetricIntervals> {
    if !(1..=MAX_RESAMPLES).contains(&resamples) {
        return Err(Error::invalid(format!(
            "--bootstrap {resamples}: resamples must be 1 to {MAX_RESAMPLES}"
        )));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::invalid(format!(
            "--ci-level {level}: the coverage must lie strictly between 0 and 1"
        )));
    }
    let n = predictions.probs.len();
    if n == 0 {
        return Err(Error::invalid("no images to resample"));
    }
    let mut scores: Vec<Metrics> = Vec::with_capacity(resamples);
    for r in 0..resamples {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(r as u64).to_le_bytes());
        key[16..].copy_from_slice(b"robustdxbootstrp");
        let mut rng = ChaCha8Rng::from_seed(key);
        let picks: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
        let resample = Predictions {
            task: predictions.task,
            class_names: predictions.class_names.clone(),
            probs: picks
                .iter()
                .map(|&i| predictions.probs[i].clone())
                .collect(),
            labels: picks
                .iter()
                .map(|&i| predictions.labels[i].clone())
                .collect(),
        };
        scores.push(evaluate(&resample)?);
    }
    let tail = (1.0 - level) / 2.0;
    let interval = |score: &dyn Fn(&Metrics) -> Option<f64>| {
        let mut values: Vec<f64> = scores.iter().filter_map(score).collect();
        let low = quantile(&mut values, tail)?;
        let high = quantile(&mut values, 1.0 - tail)?;
        Some(Interval {
            low,
            high,
            resamples: values.len(),
        })
    };
    Ok(MetricIntervals {
        level,
        resamples,
        seed,
        accuracy: interval(&|m| Some(m.accuracy)).expect("every resample has an accuracy"),
        auc_macro: interval(&|m| m.auc_macro),
        sensitivity: interval(&|m| m.sensitivity),
        specificity: interval(&|m| m.specificity),
        balanced_accuracy: interval(&|m| m.balanced_accuracy),
        exact_match: interval(&|m| m.exact_match),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Label, TaskKind};

    /// `n` binary images, the first `correct` of them decided right (alternating classes).
    fn binary(n: usize, correct: usize) -> Predictions {
        let labels: Vec<Label> = (0..n).map(|i| Label::Class(i % 2)).collect();
        let probs = (0..n)
            .map(|i| {
                let right = i < correct;
                let p1 = if (i % 2 == 1) == right {
                    0.6 + 0.3 * (i as f32 / n as f32)
                } else {
                    0.3
                };
                vec![1.0 - p1, p1]
            })
            .collect();
        Predictions {
            task: TaskKind::Binary,
            class_names: vec!["benign".into(), "malignant".into()],
            probs,
            labels,
        }
    }

    #[test]
    fn quantiles_interpolate_as_numpy() {
        // numpy.percentile([1, 2, 3, 4, 5], [2.5, 97.5]) = [1.1, 4.9].
        let mut v = vec![5.0, 3.0, 1.0, 4.0, 2.0];
        assert!((quantile(&mut v, 0.025).unwrap() - 1.1).abs() < 1e-12);
        assert!((quantile(&mut v, 0.975).unwrap() - 4.9).abs() < 1e-12);
        assert_eq!(quantile(&mut [7.0], 0.3), Some(7.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn a_perfect_model_has_a_point_interval() {
        let intervals = bootstrap(&binary(40, 40), 200, 0.95, 0).unwrap();
        assert_eq!(
            (intervals.accuracy.low, intervals.accuracy.high),
            (1.0, 1.0)
        );
        assert_eq!(intervals.accuracy.resamples, 200);
    }

    #[test]
    fn the_accuracy_interval_matches_the_binomial_spread() {
        // 320 of 400 right: the normal approximation's 95 % half-width is 1.96·√(0.8·0.2/400).
        let predictions = binary(400, 320);
        let point = evaluate(&predictions).unwrap().accuracy;
        assert!((point - 0.8).abs() < 1e-12);
        let intervals = bootstrap(&predictions, 2_000, 0.95, 1).unwrap();
        let half = 1.96 * (0.8f64 * 0.2 / 400.0).sqrt();
        let a = intervals.accuracy;
        assert!(a.low < point && point < a.high, "{a:?}");
        assert!((a.low - (point - half)).abs() < 0.01, "{a:?} vs ±{half}");
        assert!((a.high - (point + half)).abs() < 0.01, "{a:?} vs ±{half}");
        let auc = intervals.auc_macro.unwrap();
        assert!(auc.low <= auc.high && auc.high <= 1.0);
        assert!(intervals.sensitivity.is_some() && intervals.specificity.is_some());
        // Four times the images, half the width.
        let wide = a.high - a.low;
        let more = bootstrap(&binary(1_600, 1_280), 2_000, 0.95, 1)
            .unwrap()
            .accuracy;
        let ratio = (more.high - more.low) / wide;
        assert!((ratio - 0.5).abs() < 0.1, "{ratio}");
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let predictions = binary(60, 45);
        let a = bootstrap(&predictions, 300, 0.9, 7).unwrap();
        assert_eq!(a, bootstrap(&predictions, 300, 0.9, 7).unwrap());
        assert_ne!(a, bootstrap(&predictions, 300, 0.9, 8).unwrap());
        // A narrower coverage is a narrower interval.
        let b = bootstrap(&predictions, 300, 0.5, 7).unwrap();
        assert!(b.accuracy.high - b.accuracy.low < a.accuracy.high - a.accuracy.low);
    }

    #[test]
    fn an_auc_a_resample_cannot_have_is_left_out_and_counted() {
        // Two images, one per class: about half the resamples miss a class.
        let intervals = bootstrap(&binary(2, 2), 400, 0.95, 0).unwrap();
        let auc = intervals.auc_macro.unwrap();
        assert!(auc.resamples < 400 && auc.resamples > 100, "{auc:?}");
    }

    #[test]
    fn bad_settings_are_refused() {
        let predictions = binary(10, 5);
        assert!(
            bootstrap(&predictions, 0, 0.95, 0)
                .unwrap_err()
                .to_string()
                .contains("--bootstrap 0")
        );
        for level in [0.0, 1.0, f64::NAN] {
            assert!(
                bootstrap(&predictions, 10, level, 0)
                    .unwrap_err()
                    .to_string()
                    .contains("--ci-level")
            );
        }
    }
}
