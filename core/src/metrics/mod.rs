//! How well a classifier does on a data set: accuracy, per-class and macro ROC AUC, sensitivity and
//! specificity, confusion matrix.
//!
//! Everything here works on plain probabilities (one row per image), so the same code scores clean
//! and adversarial runs, natively and in the browser. Decisions follow the task: the argmax class
//! for single-label tasks, each label at [`MULTI_LABEL_THRESHOLD`] for multi-label ones. AUC is
//! always computed on the probabilities, never on the decisions.

mod auc;
mod bootstrap;
mod confusion;
mod multi_label;
mod table;

pub use auc::roc_auc;
pub use bootstrap::{Interval, MAX_RESAMPLES, MetricIntervals, bootstrap, quantile};
pub use confusion::{argmax, confusion_matrix};
pub use multi_label::{MULTI_LABEL_THRESHOLD, predicted_findings};

use serde::{Deserialize, Serialize};

use crate::{Error, Label, Result, TaskKind};

/// Model outputs on a data set: one row of probabilities per image (softmax for single-label,
/// per-label sigmoid for multi-label) and the ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    /// Decides how rows are scored (argmax or per-label threshold).
    pub task: TaskKind,
    /// Class (or finding) names, in column order.
    pub class_names: Vec<String>,
    /// One row per image, one probability per class (or finding).
    pub probs: Vec<Vec<f32>>,
    /// The ground truth, one per row.
    pub labels: Vec<Label>,
}

/// One class (single-label, one-vs-rest) or one label (multi-label).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The class (or finding) name.
    pub name: String,
    /// None when the class is absent from, or the only class of, the ground truth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    /// Recall of the class; None without positives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<f64>,
    /// Recall of the rest; None without negatives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specificity: Option<f64>,
    /// Number of positives in the ground truth.
    pub support: usize,
}

/// Scores of one model on one data set (clean, or under one attack and budget).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The task the scores are for (which fields are present depends on it).
    pub task: TaskKind,
    /// Images scored.
    pub samples: usize,
    /// Single-label: share of argmax == label; multi-label: share of (image, label) pairs right at
    /// threshold 0.5.
    pub accuracy: f64,
    /// Multi-label only: share of images whose whole label set is right (subset accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_match: Option<f64>,
    /// Single-label only: mean recall over the classes present in the ground truth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balanced_accuracy: Option<f64>,
    /// Mean of the defined per-class AUCs; binary: the AUC of class 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc_macro: Option<f64>,
    /// Binary only: recall of class 1 (argmax decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<f64>,
    /// Binary only: recall of class 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specificity: Option<f64>,
    /// One-vs-rest per class (single-label) or per label (multi-label).
    pub per_class: Vec<ClassMetrics>,
    /// Single-label only: rows are the truth, columns the prediction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusion: Option<Vec<Vec<usize>>>,
}

/// Scores `predictions` against their ground truth.
///
/// Fails with [`Error::Invalid`] on empty input, ragged or wrongly sized probability rows, NaN or
/// infinite probabilities, labels of the wrong kind or size for the task, and class indices out of
/// range.
pub fn evaluate(predictions: &Predictions) -> Result<Metrics> {
    check_shape(predictions)?;
    let classes = predictions.class_names.len();
    if predictions.task.is_multi_label() {
        let truth = predictions
            .labels
            .iter()
            .enumerate()
            .map(|(image, label)| match label {
                Label::Findings(flags) if flags.len() == classes => Ok(flags.as_slice()),
                Label::Findings(flags) => Err(Error::invalid(format!(
                    "image {image}: {} finding flags for {classes} labels",
                    flags.len()
                ))),
                Label::Class(_) => Err(Error::invalid(format!(
                    "image {image}: a multi-label task needs finding flags, not a class index"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(multi_label::evaluate(predictions, &truth))
    } else {
        let truth = predictions
            .labels
            .iter()
            .enumerate()
            .map(|(image, label)| match label {
                Label::Class(class) if *class < classes => Ok(*class),
                Label::Class(class) => Err(Error::invalid(format!(
                    "image {image}: class index {class} out of range for {classes} classes"
                ))),
                Label::Findings(_) => Err(Error::invalid(format!(
                    "image {image}: a {} task needs a class index, not finding flags",
                    predictions.task
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(confusion::evaluate(predictions, &truth))
    }
}

/// Checks what every task shares: sizes agree and probabilities are numbers.
fn check_shape(predictions: &Predictions) -> Result<()> {
    let classes = predictions.class_names.len();
    let fewest = match predictions.task {
        TaskKind::Binary if classes != 2 => {
            return Err(Error::invalid(format!(
                "a binary task needs 2 classes, got {classes}"
            )));
        }
        TaskKind::Binary | TaskKind::MultiClass => 2,
        TaskKind::MultiLabel => 1,
    };
    if classes < fewest {
        return Err(Error::invalid(format!(
            "a {} task needs at least {fewest} classes, got {classes}",
            predictions.task
        )));
    }
    if predictions.probs.is_empty() {
        return Err(Error::invalid("no predictions to evaluate"));
    }
    if predictions.probs.len() != predictions.labels.len() {
        return Err(Error::invalid(format!(
            "{} probability rows but {} labels",
            predictions.probs.len(),
            predictions.labels.len()
        )));
    }
    for (image, row) in predictions.probs.iter().enumerate() {
        if row.len() != classes {
            return Err(Error::invalid(format!(
                "image {image}: {} probabilities for {classes} classes",
                row.len()
            )));
        }
        if let Some(class) = row.iter().position(|p| !p.is_finite()) {
            return Err(Error::invalid(format!(
                "image {image}: probability of class {class} is {}",
                row[class]
            )));
        }
    }
    Ok(())
}

/// `count / of`, None when `of` is zero.
fn share(count: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| count as f64 / of as f64)
}

/// Mean of `values`, None when there are none.
fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0usize), |(sum, count), v| (sum + v, count + 1));
    (count > 0).then(|| sum / count as f64)
}

/// Column `class` of `probs`, widened for [`roc_auc`].
fn scores_of(probs: &[Vec<f32>], class: usize) -> Vec<f64> {
    probs.iter().map(|row| f64::from(row[class])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|k| format!("c{k}")).collect()
    }

    fn single(task: TaskKind, probs: Vec<Vec<f32>>, labels: &[usize]) -> Predictions {
        Predictions {
            task,
            class_names: names(probs.first().map_or(2, Vec::len)),
            probs,
            labels: labels.iter().map(|&c| Label::Class(c)).collect(),
        }
    }

    fn invalid_message(predictions: &Predictions) -> String {
        match evaluate(predictions) {
            Err(Error::Invalid(message)) => message,
            other => panic!("expected Error::Invalid, got {other:?}"),
        }
    }

    #[test]
    fn rejects_empty_input() {
        let p = single(TaskKind::Binary, vec![], &[]);
        assert!(invalid_message(&p).contains("no predictions"));
    }

    #[test]
    fn rejects_ragged_rows() {
        let p = Predictions {
            task: TaskKind::MultiClass,
            class_names: names(3),
            probs: vec![vec![0.2, 0.3, 0.5], vec![0.5, 0.5]],
            labels: vec![Label::Class(0), Label::Class(1)],
        };
        assert!(invalid_message(&p).contains("image 1"));
    }

    #[test]
    fn rejects_row_and_label_count_mismatch() {
        let p = single(
            TaskKind::Binary,
            vec![vec![0.2, 0.8], vec![0.6, 0.4]],
            &[1, 0, 1],
        );
        assert!(invalid_message(&p).contains("3 labels"));
    }

    #[test]
    fn rejects_nan_and_infinite_probabilities() {
        let p = single(
            TaskKind::Binary,
            vec![vec![0.2, 0.8], vec![f32::NAN, 0.4]],
            &[1, 0],
        );
        assert!(invalid_message(&p).contains("NaN"));
        let p = single(TaskKind::Binary, vec![vec![0.2, f32::INFINITY]], &[1]);
        assert!(invalid_message(&p).contains("image 0"));
    }

    #[test]
    fn rejects_class_index_out_of_range() {
        let p = single(
            TaskKind::Binary,
            vec![vec![0.2, 0.8], vec![0.6, 0.4]],
            &[1, 2],
        );
        assert!(invalid_message(&p).contains("class index 2"));
    }

    #[test]
    fn rejects_labels_of_the_wrong_kind_or_size() {
        let p = Predictions {
            task: TaskKind::Binary,
            class_names: names(2),
            probs: vec![vec![0.2, 0.8]],
            labels: vec![Label::Findings(vec![true, false])],
        };
        assert!(invalid_message(&p).contains("class index"));
        let p = Predictions {
            task: TaskKind::MultiLabel,
            class_names: names(2),
            probs: vec![vec![0.2, 0.8], vec![0.6, 0.4]],
            labels: vec![Label::Findings(vec![true, false]), Label::Class(1)],
        };
        assert!(invalid_message(&p).contains("image 1"));
        let p = Predictions {
            task: TaskKind::MultiLabel,
            class_names: names(2),
            probs: vec![vec![0.2, 0.8]],
            labels: vec![Label::Findings(vec![true, false, true])],
        };
        assert!(invalid_message(&p).contains("3 finding flags"));
    }

    #[test]
    fn rejects_class_counts_that_do_not_fit_the_task() {
        let p = single(TaskKind::Binary, vec![vec![0.2, 0.3, 0.5]], &[1]);
        assert!(invalid_message(&p).contains("2 classes"));
        let p = single(TaskKind::MultiClass, vec![vec![1.0]], &[0]);
        assert!(invalid_message(&p).contains("at least 2"));
    }

    #[test]
    fn json_round_trip_skips_undefined_fields() {
        let p = single(
            TaskKind::Binary,
            vec![vec![0.3, 0.7], vec![0.9, 0.1], vec![0.45, 0.55]],
            &[1, 0, 0],
        );
        let metrics = evaluate(&p).unwrap();
        let json = serde_json::to_string(&metrics).unwrap();
        assert!(!json.contains("exact_match"), "{json}");
        assert!(json.contains("\"task\":\"binary\""), "{json}");
        let back: Metrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, metrics);

        let p = Predictions {
            task: TaskKind::MultiLabel,
            class_names: names(2),
            probs: vec![vec![0.2, 0.8], vec![0.6, 0.4]],
            labels: vec![
                Label::Findings(vec![false, true]),
                Label::Findings(vec![false, false]),
            ],
        };
        let metrics = evaluate(&p).unwrap();
        let json = serde_json::to_string(&metrics).unwrap();
        assert!(!json.contains("confusion"), "{json}");
        let back: Metrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, metrics);
    }

    #[test]
    fn mean_and_share_of_nothing_are_undefined() {
        assert_eq!(mean([]), None);
        assert_eq!(mean([0.5, 1.0]), Some(0.75));
        assert_eq!(share(3, 0), None);
        assert_eq!(share(1, 4), Some(0.25));
    }
}
