//! Single-label tasks (binary and multi-class): the argmax decision, the confusion matrix and the
//! one-vs-rest scores that follow from it.

use super::{ClassMetrics, Metrics, Predictions, mean, roc_auc, scores_of, share};
use crate::TaskKind;

/// Index of the largest probability; the first one among equals, 0 for an empty row.
pub fn argmax(probs: &[f32]) -> usize {
    probs
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f32)>, (k, &p)| match best {
            Some((_, best_p)) if best_p >= p => best,
            _ => Some((k, p)),
        })
        .map_or(0, |(k, _)| k)
}

/// Counts of (truth, prediction) pairs: `matrix[truth][predicted]`.
///
/// # Panics
/// When the slices differ in length or an index is not below `classes`.
pub fn confusion_matrix(truth: &[usize], predicted: &[usize], classes: usize) -> Vec<Vec<usize>> {
    assert_eq!(
        truth.len(),
        predicted.len(),
        "confusion_matrix: one prediction per truth"
    );
    let mut matrix = vec![vec![0; classes]; classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        matrix[t][p] += 1;
    }
    matrix
}

/// Scores already validated predictions; `truth` holds each image's class index.
pub(super) fn evaluate(predictions: &Predictions, truth: &[usize]) -> Metrics {
    let classes = predictions.class_names.len();
    let samples = truth.len();
    let predicted: Vec<usize> = predictions.probs.iter().map(|row| argmax(row)).collect();
    let confusion = confusion_matrix(truth, &predicted, classes);

    let per_class: Vec<ClassMetrics> = predictions
        .class_names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let support: usize = confusion[k].iter().sum();
            let predicted_k: usize = confusion.iter().map(|row| row[k]).sum();
            let true_positives = confusion[k][k];
            let negatives = samples - support;
            let true_negatives = negatives - (predicted_k - true_positives);
            let is_k: Vec<bool> = truth.iter().map(|&t| t == k).collect();
            ClassMetrics {
                name: name.clone(),
                auc: roc_auc(&scores_of(&predictions.probs, k), &is_k),
                sensitivity: share(true_positives, support),
                specificity: share(true_negatives, negatives),
                support,
            }
        })
        .collect();

    let correct: usize = (0..classes).map(|k| confusion[k][k]).sum();
    let binary = predictions.task == TaskKind::Binary;
    // Binary: class 1 is "the finding" (melanoma); its one-vs-rest specificity is class 0's recall.
    let positive_class = binary.then(|| &per_class[1]);
    Metrics {
        task: predictions.task,
        samples,
        accuracy: correct as f64 / samples as f64,
        exact_match: None,
        balanced_accuracy: mean(per_class.iter().filter_map(|c| c.sensitivity)),
        auc_macro: match positive_class {
            Some(class) => class.auc,
            None => mean(per_class.iter().filter_map(|c| c.auc)),
        },
        sensitivity: positive_class.and_then(|c| c.sensitivity),
        specificity: positive_class.and_then(|c| c.specificity),
        per_class,
        confusion: Some(confusion),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Label;
    use crate::metrics::evaluate;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    fn predictions(task: TaskKind, probs: Vec<Vec<f32>>, labels: &[usize]) -> Predictions {
        Predictions {
            task,
            class_names: (0..probs[0].len()).map(|k| format!("c{k}")).collect(),
            probs,
            labels: labels.iter().map(|&c| Label::Class(c)).collect(),
        }
    }

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[0.1, 0.7, 0.2]), 1);
        assert_eq!(argmax(&[0.4, 0.4, 0.2]), 0);
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn binary_sensitivity_and_specificity_from_a_hand_made_confusion() {
        // Four melanomas (class 1): three caught (TP = 3), one missed at p1 = 0.3 (FN = 1).
        // Six benign (class 0): four cleared (TN = 4), two flagged at p1 = 0.7 and 0.55 (FP = 2).
        let p1_positive = [0.9f32, 0.8, 0.6, 0.3];
        let p1_negative = [0.1f32, 0.2, 0.4, 0.45, 0.7, 0.55];
        let mut probs = Vec::new();
        let mut labels = Vec::new();
        for (&p1, class) in p1_positive
            .iter()
            .map(|p| (p, 1))
            .chain(p1_negative.iter().map(|p| (p, 0)))
        {
            probs.push(vec![1.0 - p1, p1]);
            labels.push(class);
        }
        let m = evaluate(&predictions(TaskKind::Binary, probs, &labels)).unwrap();

        assert_eq!(m.confusion, Some(vec![vec![4, 2], vec![1, 3]]));
        assert_eq!(m.samples, 10);
        assert!(close(Some(m.accuracy), 0.7));
        assert!(close(m.sensitivity, 3.0 / 4.0));
        assert!(close(m.specificity, 4.0 / 6.0));
        assert!(close(m.balanced_accuracy, (3.0 / 4.0 + 4.0 / 6.0) / 2.0));
        // AUC of class 1 by pairs: 0.9 and 0.8 beat all six negatives (12); 0.6 beats all but 0.7
        // (5); 0.3 beats 0.1 and 0.2 (2). 19 of 4·6 = 24 pairs.
        assert!(close(m.auc_macro, 19.0 / 24.0));
        assert!(close(m.per_class[1].auc, 19.0 / 24.0));
        assert_eq!(m.exact_match, None);

        let benign = &m.per_class[0];
        assert_eq!(benign.support, 6);
        assert!(close(benign.sensitivity, 4.0 / 6.0));
        assert!(close(benign.specificity, 3.0 / 4.0));
        assert_eq!(m.per_class[1].support, 4);
    }

    #[test]
    fn multi_class_confusion_and_balanced_accuracy() {
        // (truth, prediction): (0,0) (0,0) (0,1) (1,1) (1,2) (2,2) (2,2) (2,0). The predicted class
        // gets 0.6, the others 0.2.
        let pairs = [
            (0, 0),
            (0, 0),
            (0, 1),
            (1, 1),
            (1, 2),
            (2, 2),
            (2, 2),
            (2, 0),
        ];
        let probs = pairs
            .iter()
            .map(|&(_, pred)| (0..3).map(|k| if k == pred { 0.6 } else { 0.2 }).collect())
            .collect();
        let truth: Vec<usize> = pairs.iter().map(|&(t, _)| t).collect();
        let m = evaluate(&predictions(TaskKind::MultiClass, probs, &truth)).unwrap();

        assert_eq!(
            m.confusion,
            Some(vec![vec![2, 1, 0], vec![0, 1, 1], vec![1, 0, 2]])
        );
        assert!(close(Some(m.accuracy), 5.0 / 8.0));
        // Recalls 2/3, 1/2, 2/3.
        assert!(close(
            m.balanced_accuracy,
            (2.0 / 3.0 + 1.0 / 2.0 + 2.0 / 3.0) / 3.0
        ));
        assert!(close(m.per_class[1].sensitivity, 0.5));
        // Class 1's negatives: 6 images, one of them (a class 0) predicted 1.
        assert!(close(m.per_class[1].specificity, 5.0 / 6.0));
        assert_eq!(
            m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
            [3, 2, 3]
        );
        // AUC of class 0: positives score 0.6, 0.6, 0.2; negatives 0.2 ×4 and 0.6 (the (2,0)).
        // Each 0.6 positive: 4 wins + 1 tie = 4.5; the 0.2 positive: 4 ties = 2. 11 of 15 pairs.
        assert!(close(m.per_class[0].auc, 11.0 / 15.0));
        let per_class_mean = m.per_class.iter().filter_map(|c| c.auc).sum::<f64>() / 3.0;
        assert!(close(m.auc_macro, per_class_mean));
        assert_eq!((m.sensitivity, m.specificity), (None, None));
    }

    #[test]
    fn absent_class_has_no_auc_or_recall_and_is_left_out_of_the_means() {
        // Class 2 never occurs in the truth.
        let probs = vec![
            vec![0.7, 0.2, 0.1],
            vec![0.2, 0.5, 0.3],
            vec![0.3, 0.3, 0.4],
            vec![0.6, 0.3, 0.1],
        ];
        let m = evaluate(&predictions(TaskKind::MultiClass, probs, &[0, 1, 1, 0])).unwrap();
        let absent = &m.per_class[2];
        assert_eq!(
            (absent.auc, absent.sensitivity, absent.support),
            (None, None, 0)
        );
        // Class 2 was predicted once (image 2) among 4 negatives.
        assert!(close(absent.specificity, 3.0 / 4.0));
        // Recalls: class 0 2/2, class 1 1/2.
        assert!(close(m.balanced_accuracy, 0.75));
        // Class 0 AUC: positives 0.7, 0.6 beat negatives 0.2, 0.3: 1. Class 1: positives 0.5, 0.3
        // vs negatives 0.2, 0.3: 0.5 wins twice, 0.3 wins once and ties once: 3.5/4.
        assert!(close(m.per_class[0].auc, 1.0));
        assert!(close(m.per_class[1].auc, 0.875));
        assert!(close(m.auc_macro, (1.0 + 0.875) / 2.0));
    }
}
