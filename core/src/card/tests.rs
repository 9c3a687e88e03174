//! The card's sentences on hand-made scores, and the leaderboard's grouping and ranking on the
//! shipped zoo's cards with their numbers changed by hand.

use super::*;
use crate::metrics::{self, Predictions};
use crate::{Label, TaskKind};

/// Four binary images: malignant called malignant (0.9), malignant missed (0.3), benign right
/// twice (0.2, 0.4): accuracy 3/4, sensitivity 1/2, specificity 1, AUC 3/4 (of the four
/// malignant–benign pairs, three are ordered right: 0.9 beats both, 0.3 beats 0.2 only).
fn binary() -> Predictions {
    Predictions {
        task: TaskKind::Binary,
        class_names: vec!["benign".into(), "malignant".into()],
        probs: [0.9f32, 0.3, 0.2, 0.4]
            .iter()
            .map(|&p| vec![1.0 - p, p])
            .collect(),
        labels: [1, 1, 0, 0].map(Label::Class).to_vec(),
    }
}

#[test]
fn the_clean_sentence_says_each_score_with_its_interval() {
    let predictions = binary();
    let scores = metrics::evaluate(&predictions).unwrap();
    assert_eq!(scores.accuracy, 0.75);
    assert_eq!(scores.auc_macro, Some(0.75));
    let intervals = metrics::bootstrap(&predictions, 200, 0.95, 0).unwrap();
    let sentence = clean_verdict(&scores, &intervals);
    let i = intervals.accuracy;
    assert!(
        sentence.starts_with(&format!(
            "On 4 clean test images: accuracy 0.75 (95 % interval {:.2}–{:.2}), AUC 0.75",
            i.low, i.high
        )),
        "{sentence}"
    );
    assert!(
        sentence.contains("sensitivity 0.50 (95 % interval")
            && sentence.contains("specificity 1.00 (95 % interval"),
        "{sentence}"
    );
}

#[test]
fn a_multi_label_clean_sentence_names_the_exact_match() {
    let predictions = Predictions {
        task: TaskKind::MultiLabel,
        class_names: vec!["effusion".into(), "nodule".into()],
        probs: vec![vec![0.9, 0.1], vec![0.8, 0.7], vec![0.1, 0.2]],
        labels: vec![
            Label::Findings(vec![true, false]),
            Label::Findings(vec![true, false]),
            Label::Findings(vec![false, false]),
        ],
    };
    let scores = metrics::evaluate(&predictions).unwrap();
    let intervals = metrics::bootstrap(&predictions, 100, 0.9, 1).unwrap();
    let sentence = clean_verdict(&scores, &intervals);
    // Two of three images have every finding right; five of six labels are right.
    assert!(
        sentence.contains("accuracy 0.83 (90 % interval"),
        "{sentence}"
    );
    assert!(
        sentence.contains("every finding right on 0.67 (90 % interval"),
        "{sentence}"
    );
    assert!(!sentence.contains("sensitivity"), "{sentence}");
}
