//! The card's tables as cells, head first: one function per table, so the HTML card and the
//! page show the same numbers with the same rounding, and a column is added in one place.

use super::document::RobustnessCard;
use crate::metrics::Interval;

/// A table: its head and its rows of cells.
pub type CardTable = (Vec<String>, Vec<Vec<String>>);

fn head(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// "0.912", or "–" for a score the task has not.
pub fn score_cell(value: Option<f64>) -> String {
    value.map_or("–".into(), |v| format!("{v:.3}"))
}

/// "0.912 [0.874, 0.945]".
fn with_interval(value: f64, interval: Option<Interval>) -> String {
    match interval {
        Some(i) => format!("{value:.3} [{:.3}, {:.3}]", i.low, i.high),
        None => format!("{value:.3}"),
    }
}

/// The clean scores the task has, each with its bootstrap interval.
pub fn clean_table(card: &RobustnessCard) -> CardTable {
    let m = &card.clean.metrics;
    let i = &card.clean.intervals;
    let scores = [
        ("accuracy", Some(m.accuracy), Some(i.accuracy)),
        ("exact match", m.exact_match, i.exact_match),
        (
            "balanced accuracy",
            m.balanced_accuracy,
            i.balanced_accuracy,
        ),
        ("AUC (macro)", m.auc_macro, i.auc_macro),
        ("sensitivity", m.sensitivity, i.sensitivity),
        ("specificity", m.specificity, i.specificity),
    ];
    let rows = scores
        .into_iter()
        .filter_map(|(name, value, interval)| {
            value.map(|v| vec![name.to_string(), with_interval(v, interval)])
        })
        .collect();
    let value = format!("value [{:.0} % bootstrap interval]", 100.0 * i.level);
    (head(&["score", &value]), rows)
}

/// AUC per class or finding, for the tasks where one number hides them (multi-label, or more
/// than two classes); `None` for a binary model.
pub fn per_class_table(card: &RobustnessCard) -> Option<CardTable> {
    let m = &card.clean.metrics;
    (card.model.task.is_multi_label() || m.per_class.len() > 2).then(|| {
        let rows = m
            .per_class
            .iter()
            .map(|c| vec![c.name.clone(), score_cell(c.auc)])
            .collect();
        (head(&["class / finding", "AUC"]), rows)
    })
}

/// One row per attack and budget of the sweep.
pub fn attack_table(card: &RobustnessCard) -> CardTable {
    let accuracy = if card.model.task.is_multi_label() {
        "exact match"
    } else {
        "accuracy"
    };
    let rows = card
        .attacks
        .result
        .results
        .iter()
        .map(|r| {
            vec![
                r.attack.clone(),
                r.eps.to_string(),
                format!("{:.3}", r.metrics.robust_accuracy()),
                score_cell(r.metrics.adversarial.auc_macro),
                format!("{:.3}", r.metrics.fooling_rate),
                format!("{:.2}", r.metrics.mean_linf * 255.0),
            ]
        })
        .collect();
    let names = [
        "attack",
        "ε × 255",
        accuracy,
        "AUC",
        "fooling rate",
        "mean ‖δ‖∞ × 255",
    ];
    (head(&names), rows)
}

/// One row per everyday perturbation kind, then their mean.
pub fn benchmark_table(card: &RobustnessCard) -> CardTable {
    let report = &card.benchmark.result;
    let mut rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|r| {
            vec![
                r.perturbation.clone(),
                format!("{:.4}", r.flip_probability(report.fp_variant)),
                format!("{:.3}", r.last_frame.accuracy),
            ]
        })
        .collect();
    rows.push(vec![
        "mean".into(),
        format!("{:.4}", report.mean_flip_probability()),
        String::new(),
    ]);
    (
        head(&["perturbation", "Flip Probability", "last-frame accuracy"]),
        rows,
    )
}

/// How far each stage's features move under the attack.
pub fn feature_shift_table(card: &RobustnessCard) -> CardTable {
    let rows = card
        .inside
        .result
        .findings
        .feature_shift
        .iter()
        .map(|s| vec![s.stage.to_string(), format!("{:.4}", s.relative_l2)])
        .collect();
    (
        head(&["stage", "feature shift ‖A(x′) − A(x)‖ / ‖A(x)‖"]),
        rows,
    )
}

/// How well the classes stay apart in feature space, clean and attacked.
pub fn separation_table(card: &RobustnessCard) -> CardTable {
    let findings = &card.inside.result.findings;
    let rows = [
        ("clean", &findings.clean),
        ("attacked", &findings.adversarial),
    ]
    .into_iter()
    .map(|(name, s)| {
        vec![
            name.to_string(),
            format!("{:.3}", s.accuracy),
            score_cell(s.silhouette),
            score_cell(s.fisher_ratio),
        ]
    })
    .collect();
    (head(&["", "accuracy", "silhouette", "Fisher ratio"]), rows)
}

/// What made the card, as (name, value) pairs.
pub fn provenance_rows(card: &RobustnessCard) -> Vec<(&'static str, String)> {
    let training = card.model.training.as_ref().map_or_else(
        || "none recorded (imported or untrained)".to_string(),
        |t| {
            format!(
                "{} on {} ({} epochs, batch {}, {} lr {}, seed {})",
                t.recipe.defense.defense,
                t.data,
                t.epochs,
                t.batch_size,
                t.optimizer,
                t.learning_rate,
                t.seed
            )
        },
    );
    vec![
        ("model file", card.model.file.clone()),
        (
            "model sha256",
            card.model
                .sha256
                .clone()
                .unwrap_or_else(|| "not recorded".into()),
        ),
        ("training", training),
        (
            "data",
            format!("{} ({} test images)", card.data.name, card.data.samples),
        ),
        ("data fingerprint", card.provenance.data_fingerprint.clone()),
        (
            "level",
            format!(
                "{} (battery revision {})",
                card.level, card.battery_revision
            ),
        ),
        ("backend", card.provenance.backend.clone()),
        ("created", card.provenance.created.clone()),
        ("tool", format!("{} {}", card.tool.name, card.tool.version)),
    ]
}

/// Every verdict of the card in the order the card shows its parts: clean, attacks, everyday
/// changes, certification, inside.
pub fn all_verdicts(card: &RobustnessCard) -> Vec<&str> {
    let mut verdicts = vec![card.clean.verdict.as_str()];
    let parts = [
        Some(&card.attacks.verdicts),
        Some(&card.benchmark.verdicts),
        card.certification.as_ref().map(|c| &c.verdicts),
        Some(&card.inside.verdicts),
    ];
    verdicts.extend(parts.into_iter().flatten().flatten().map(String::as_str));
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Interval;

    /// A shipped card, its numbers then set by hand where a test says what it expects.
    fn shipped() -> RobustnessCard {
        RobustnessCard::from_json(
            include_str!("../../../web/assets/cards/small-cnn-derm-gaussian.json"),
            "small-cnn-derm-gaussian.json",
        )
        .unwrap()
    }

    fn interval(low: f64, high: f64) -> Interval {
        Interval {
            low,
            high,
            resamples: 1000,
        }
    }

    #[test]
    fn the_clean_table_shows_each_score_the_task_has_with_its_interval() {
        let mut card = shipped();
        let (m, i) = (&mut card.clean.metrics, &mut card.clean.intervals);
        m.accuracy = 0.9126;
        i.accuracy = interval(0.8744, 0.9451);
        m.auc_macro = Some(0.5);
        i.auc_macro = None;
        (
            m.sensitivity,
            m.specificity,
            m.balanced_accuracy,
            m.exact_match,
        ) = (None, None, None, None);
        i.level = 0.9;
        let (head, rows) = clean_table(&card);
        assert_eq!(head, ["score", "value [90 % bootstrap interval]"]);
        assert_eq!(
            rows,
            [
                ["accuracy", "0.913 [0.874, 0.945]"],
                ["AUC (macro)", "0.500"]
            ]
        );
        // A binary model's one AUC says it all.
        assert_eq!(per_class_table(&card), None);
    }

    #[test]
    fn an_attack_row_has_the_robust_accuracy_and_the_change_in_pixel_units() {
        let mut card = shipped();
        let results = &mut card.attacks.result.results;
        results.truncate(1);
        let r = &mut results[0];
        r.attack = "pgd".into();
        r.eps = 4.0;
        r.metrics.adversarial.accuracy = 0.25;
        r.metrics.adversarial.auc_macro = None;
        r.metrics.fooling_rate = 0.5;
        r.metrics.mean_linf = 4.0 / 255.0;
        let (head, rows) = attack_table(&card);
        assert_eq!(head.len(), 6);
        assert_eq!(head[2], "accuracy");
        assert_eq!(rows, [["pgd", "4", "0.250", "–", "0.500", "4.00"]]);
    }

    #[test]
    fn the_benchmark_table_ends_with_the_mean_of_its_kinds() {
        let mut card = shipped();
        let report = &mut card.benchmark.result;
        report.results.truncate(2);
        for (r, fp) in report.results.iter_mut().zip([0.1, 0.4]) {
            (r.flip_probability, r.flip_probability_paper) = (fp, fp);
        }
        let (_, rows) = benchmark_table(&card);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][1], "0.1000");
        assert_eq!(rows[2], ["mean", "0.2500", ""]);
    }

    #[test]
    fn the_verdicts_come_in_the_cards_order() {
        let mut card = shipped();
        card.clean.verdict = "clean".into();
        card.attacks.verdicts = vec!["attack 1".into(), "attack 4".into()];
        card.benchmark.verdicts = vec!["everyday".into()];
        card.inside.verdicts = vec!["inside".into()];
        let certification = card.certification.as_mut().expect("a certified card");
        certification.verdicts = vec!["certified".into()];
        assert_eq!(
            all_verdicts(&card),
            [
                "clean",
                "attack 1",
                "attack 4",
                "everyday",
                "certified",
                "inside"
            ]
        );
        card.certification = None;
        assert_eq!(
            all_verdicts(&card),
            ["clean", "attack 1", "attack 4", "everyday", "inside"]
        );
    }

    #[test]
    fn provenance_names_the_model_file_hash_and_level() {
        let card = shipped();
        let rows = provenance_rows(&card);
        let value = |name: &str| rows.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(value("model file"), card.model.file);
        assert_eq!(value("model sha256"), card.model.sha256.clone().unwrap());
        assert_eq!(
            value("level"),
            format!("quick (battery revision {})", card.battery_revision)
        );
    }
}
