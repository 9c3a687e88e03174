//! Multi-label tasks: each label decided on its own at a fixed threshold, scored one by one.

use super::{ClassMetrics, Metrics, Predictions, mean, roc_auc, scores_of, share};

/// A label counts as predicted when its sigmoid output reaches this value (logit ≥ 0).
pub const MULTI_LABEL_THRESHOLD: f32 = 0.5;

/// The predicted label set of one image.
pub fn predicted_findings(probs: &[f32]) -> Vec<bool> {
    probs.iter().map(|&p| p >= MULTI_LABEL_THRESHOLD).collect()
}

/// Scores already validated predictions; `truth` holds each image's finding flags.
pub(super) fn evaluate(predictions: &Predictions, truth: &[&[bool]]) -> Metrics {
    let samples = truth.len();
    let labels = predictions.class_names.len();
    let decided: Vec<Vec<bool>> = predictions
        .probs
        .iter()
        .map(|row| predicted_findings(row))
        .collect();

    let per_class = predictions
        .class_names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let column: Vec<bool> = truth.iter().map(|flags| flags[k]).collect();
            let (mut true_positives, mut true_negatives) = (0, 0);
            for (&actual, flags) in column.iter().zip(&decided) {
                match (actual, flags[k]) {
                    (true, true) => true_positives += 1,
                    (false, false) => true_negatives += 1,
                    _ => {}
                }
            }
            let support = column.iter().filter(|&&t| t).count();
            ClassMetrics {
                name: name.clone(),
                auc: roc_auc(&scores_of(&predictions.probs, k), &column),
                sensitivity: share(true_positives, support),
                specificity: share(true_negatives, samples - support),
                support,
            }
        })
        .collect::<Vec<_>>();

    let right_pairs: usize = truth
        .iter()
        .zip(&decided)
        .map(|(actual, guess)| actual.iter().zip(guess).filter(|(a, g)| a == g).count())
        .sum();
    let exact = truth
        .iter()
        .zip(&decided)
        .filter(|(actual, guess)| **actual == guess.as_slice())
        .count();
    Metrics {
        task: predictions.task,
        samples,
        accuracy: right_pairs as f64 / (samples * labels) as f64,
        exact_match: share(exact, samples),
        balanced_accuracy: None,
        auc_macro: mean(per_class.iter().filter_map(|c| c.auc)),
        sensitivity: None,
        specificity: None,
        per_class,
        confusion: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::evaluate;
    use crate::{Label, TaskKind};

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn threshold_is_inclusive() {
        assert_eq!(predicted_findings(&[0.49, 0.5, 0.51]), [false, true, true]);
    }

    #[test]
    fn per_label_auc_macro_and_accuracies() {
        // Three labels; the third never occurs, so its AUC is undefined.
        //   image  probabilities       truth        decided (≥ 0.5)  right
        //   0      0.9  0.2  0.1       T  F  F      T  F  F          3 (exact)
        //   1      0.6  0.7  0.3       F  T  F      T  T  F          2
        //   2      0.3  0.4  0.6       T  T  F      F  F  T          0
        //   3      0.1  0.4  0.2       F  F  F      F  F  F          3 (exact)
        let probs = vec![
            vec![0.9, 0.2, 0.1],
            vec![0.6, 0.7, 0.3],
            vec![0.3, 0.4, 0.6],
            vec![0.1, 0.4, 0.2],
        ];
        let truth = [
            [true, false, false],
            [false, true, false],
            [true, true, false],
            [false, false, false],
        ];
        let predictions = Predictions {
            task: TaskKind::MultiLabel,
            class_names: vec!["effusion".into(), "mass".into(), "hernia".into()],
            probs,
            labels: truth.iter().map(|t| Label::Findings(t.to_vec())).collect(),
        };
        let m = evaluate(&predictions).unwrap();

        assert_eq!(m.samples, 4);
        assert!(close(Some(m.accuracy), 8.0 / 12.0));
        assert!(close(m.exact_match, 0.5));
        // Label 0: positives 0.9, 0.3 vs negatives 0.6, 0.1: 0.9 wins twice, 0.3 once: 3/4.
        assert!(close(m.per_class[0].auc, 0.75));
        // Label 1: positives 0.7, 0.4 vs negatives 0.2, 0.4: 0.7 wins twice, 0.4 wins once and
        // ties once: 3.5/4.
        assert!(close(m.per_class[1].auc, 0.875));
        assert_eq!(m.per_class[2].auc, None);
        assert!(close(m.auc_macro, (0.75 + 0.875) / 2.0));

        // Label 0: positives 0 (caught), 2 (missed); negatives 1 (flagged), 3 (cleared).
        assert!(close(m.per_class[0].sensitivity, 0.5));
        assert!(close(m.per_class[0].specificity, 0.5));
        // Label 1: positives 1 (caught), 2 (missed at 0.4); negatives 0, 3 both cleared.
        assert!(close(m.per_class[1].sensitivity, 0.5));
        assert!(close(m.per_class[1].specificity, 1.0));
        // Label 2: no positives; image 2 flagged among four negatives.
        assert_eq!(m.per_class[2].sensitivity, None);
        assert!(close(m.per_class[2].specificity, 0.75));
        assert_eq!(
            m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
            [2, 2, 0]
        );

        assert_eq!(m.balanced_accuracy, None);
        assert_eq!((m.sensitivity, m.specificity), (None, None));
        assert_eq!(m.confusion, None);
    }
}
