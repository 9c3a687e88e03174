//! The card's sentences on hand-made scores, and the leaderboard's grouping and ranking on the
//! shipped zoo's cards with their numbers changed by hand.

use super::leaderboard::Leaderboard;
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

/// A shipped card: the Gaussian-trained derm model's, quick level.
fn shipped() -> RobustnessCard {
    let text = include_str!("../../../web/assets/cards/small-cnn-derm-gaussian.json");
    RobustnessCard::from_json(text, "small-cnn-derm-gaussian.json").unwrap()
}

/// `card` as another model whose AutoAttack robust accuracy at every budget is `robust` and
/// clean accuracy `clean`.
fn variant(card: &RobustnessCard, name: &str, robust: f64, clean: f64) -> RobustnessCard {
    let mut card = card.clone();
    card.model.file = name.into();
    card.model.sha256 = Some(format!("sha of {name}"));
    card.clean.metrics.accuracy = clean;
    for result in &mut card.attacks.result.results {
        if result.eps > 0.0 {
            result.metrics.adversarial.accuracy = robust;
        }
    }
    card
}

#[test]
fn a_card_reads_back_and_other_files_are_refused_by_name() {
    let card = shipped();
    assert_eq!(card.level, Level::Quick);
    let again = RobustnessCard::from_json(&card.to_json(), "again.json").unwrap();
    assert_eq!(again, card);
    let sweep = include_str!("../../../web/assets/reports/small-cnn-derm-autoattack.json");
    let err = RobustnessCard::from_json(sweep, "sweep.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sweep.json") && err.contains("not a robustness card"),
        "{err}"
    );
    let newer = card.to_json().replace(
        &format!("\"schema_version\": {CARD_SCHEMA_VERSION}"),
        "\"schema_version\": 99",
    );
    let err = RobustnessCard::from_json(&newer, "new.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("version 99"), "{err}");
}

#[test]
fn the_leaderboard_ranks_by_robust_accuracy_then_clean_accuracy() {
    let base = shipped();
    let cards: Vec<(String, RobustnessCard)> = [
        ("a", 0.30, 0.90),
        ("b", 0.60, 0.70),
        ("c", 0.30, 0.95),
        ("d", 0.10, 0.99),
    ]
    .iter()
    .map(|&(name, robust, clean)| (format!("{name}.json"), variant(&base, name, robust, clean)))
    .collect();
    let board = Leaderboard::new(&cards).unwrap();
    assert_eq!(board.groups.len(), 1);
    let group = &board.groups[0];
    assert_eq!(group.ranked_at, Some(4.0));
    let order: Vec<&str> = group.rows.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(order, ["b", "c", "a", "d"]);
    let (head, rows) = group.table();
    assert_eq!(head[..2], ["rank", "model"]);
    let column = head.iter().position(|h| h == "AA ε=4/255").unwrap();
    assert_eq!(rows[0][column], "0.600");
    assert_eq!(rows[3][0], "4");
    // The certification's column names its σ.
    let certified = head.iter().position(|h| h == "cert. r=0.25").unwrap();
    assert!(
        rows[0][certified].ends_with("(σ 0.25)"),
        "{}",
        rows[0][certified]
    );
}

#[test]
fn cards_of_other_images_levels_or_batteries_are_never_ranked_together() {
    let base = shipped();
    let mut other_data = variant(&base, "other data", 0.9, 0.9);
    other_data.provenance.data_fingerprint = "another split".into();
    let mut other_level = variant(&base, "standard", 0.9, 0.9);
    other_level.level = Level::Standard;
    let mut other_battery = variant(&base, "older battery", 0.9, 0.9);
    other_battery.battery_revision = 0;
    let cards: Vec<(String, RobustnessCard)> = [base, other_data, other_level, other_battery]
        .into_iter()
        .enumerate()
        .map(|(i, c)| (format!("{i}.json"), c))
        .collect();
    let board = Leaderboard::new(&cards).unwrap();
    assert_eq!(board.groups.len(), 4);
    assert!(board.groups.iter().all(|g| g.rows.len() == 1));
    // The same model file twice in one group would be ranked against itself.
    let twice = [cards[0].clone(), ("copy.json".into(), cards[0].1.clone())];
    let err = Leaderboard::new(&twice).unwrap_err().to_string();
    assert!(err.contains("0.json") && err.contains("copy.json"), "{err}");
}

#[test]
fn a_budget_some_card_lacks_is_not_ranked_on() {
    let base = shipped();
    let mut partial = variant(&base, "partial", 0.9, 0.5);
    partial.attacks.result.results.retain(|r| r.eps != 4.0);
    let full = variant(&base, "full", 0.2, 0.9);
    let cards = [("p.json".into(), partial), ("f.json".into(), full)];
    let board = Leaderboard::new(&cards).unwrap();
    let group = &board.groups[0];
    assert_eq!(group.ranked_at, Some(1.0));
    assert_eq!(group.rows[0].model, "partial");
    let (_, rows) = group.table();
    let missing = rows[0].iter().filter(|c| *c == "–").count();
    assert_eq!(missing, 1, "{:?}", rows[0]);
}

#[test]
fn a_card_draws_its_four_charts_and_without_a_certification_three() {
    let card = shipped();
    let charts = card_charts(&card).unwrap();
    for svg in [&charts.attacks, &charts.benchmark] {
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{svg}"
        );
    }
    assert!(charts.attacks.contains("autoattack"));
    assert!(charts.benchmark.contains("gaussian_noise"));
    assert!(
        charts
            .certification
            .as_deref()
            .unwrap()
            .contains("σ = 0.25")
    );
    let cams = charts.cams.unwrap();
    assert_eq!(cams.matches("<image ").count(), 2 * card.cams.images.len());
    let mut uncertified = card;
    uncertified.certification = None;
    uncertified.cams.images.clear();
    let charts = card_charts(&uncertified).unwrap();
    assert!(charts.certification.is_none() && charts.cams.is_none());
}
