//! Per-image records: what an attack did to each image. Every robustness metric is computed from
//! them, by one function, whether they come from one run or from merged shards.

use serde::{Deserialize, Serialize};

use super::RobustnessMetrics;
use super::contribution::{contributions, finding_accuracy};
use super::outcome::{Decision, OutcomeCounts, decision};
use crate::attack::Goal;
use crate::metrics::{self, Predictions};
use crate::{Label, Result, TaskKind};

/// One image under one attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Position in the evaluated split (the whole split, also in a shard).
    pub index: usize,
    /// Its file, or its index for generated images.
    pub id: String,
    /// Its ground truth.
    pub label: Label,
    /// The model's probabilities on the clean image.
    pub clean_probs: Vec<f32>,
    /// The model's probabilities on the attacked image.
    pub adversarial_probs: Vec<f32>,
    /// What a targeted attack aimed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Label>,
    /// ‖δ‖∞ and ‖δ‖₂ in pixel units ([0, 1] images).
    pub linf: f32,
    /// See `linf`.
    pub l2: f32,
    /// The attack changed the decision (any label, for multi-label).
    pub fooled: bool,
    /// For a suite (AutoAttack): the member that broke the image first; none while it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_by: Option<String>,
    /// For a score-only attack (Square): the model queries it spent on the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries: Option<u32>,
}

/// The scores a set of records implies; records in index order give the same sums whatever
/// batches or shards made them. `members` lists a suite's attacks in running order (empty for a
/// single attack): their contribution table is part of the scores.
pub fn summarize(
    task: TaskKind,
    class_names: &[String],
    goal: Goal,
    members: &[String],
    records: &[ImageRecord],
) -> Result<RobustnessMetrics> {
    let mut counts = OutcomeCounts::default();
    let (mut linf, mut l2) = (0.0f64, 0.0f64);
    for r in records {
        let target = r.target.as_ref().map(Decision::from);
        counts.add(
            &decision(task, &r.clean_probs),
            &decision(task, &r.adversarial_probs),
            &r.label,
            target.as_ref(),
        );
        linf += r.linf as f64;
        l2 += r.l2 as f64;
    }
    let n = records.len().max(1) as f64;
    let adversarial = metrics::evaluate(&Predictions {
        task,
        class_names: class_names.to_vec(),
        probs: records
            .iter()
            .map(|r| r.adversarial_probs.clone())
            .collect(),
        labels: records.iter().map(|r| r.label.clone()).collect(),
    })?;
    Ok(RobustnessMetrics {
        adversarial,
        fooling_rate: counts.fooling_rate(),
        success_rate: counts.success_rate(goal),
        mean_linf: linf / n,
        mean_l2: l2 / n,
        contributions: contributions(task, members, records),
        finding_accuracy: finding_accuracy(task, records),
    })
}

fn label_text(label: &Label) -> String {
    match label {
        Label::Class(c) => c.to_string(),
        Label::Findings(f) => f
            .iter()
            .map(|&on| if on { "1" } else { "0" })
            .collect::<Vec<_>>()
            .join(";"),
    }
}

fn probs_text(probs: &[f32]) -> String {
    probs
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// One line per record, each tagged with the cell it belongs to (`attack`, `eps`).
pub fn records_json_lines(cells: &[(&str, f32, &[ImageRecord])]) -> String {
    let mut out = String::new();
    for (attack, eps, records) in cells {
        for r in *records {
            let mut value = serde_json::to_value(r).expect("records serialise");
            value["attack"] = (*attack).into();
            value["eps"] = (*eps).into();
            out.push_str(&value.to_string());
            out.push('\n');
        }
    }
    out
}

/// The same as CSV: multi-valued cells (probabilities, finding flags) joined by `;`.
pub fn records_csv(cells: &[(&str, f32, &[ImageRecord])]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "attack",
        "eps_255",
        "index",
        "id",
        "label",
        "target",
        "clean_probs",
        "adversarial_probs",
        "linf",
        "l2",
        "fooled",
        "broken_by",
        "queries",
    ];
    writer.write_record(header).expect("writes to memory");
    for (attack, eps, records) in cells {
        for r in *records {
            writer
                .write_record([
                    attack.to_string(),
                    eps.to_string(),
                    r.index.to_string(),
                    r.id.clone(),
                    label_text(&r.label),
                    r.target.as_ref().map(label_text).unwrap_or_default(),
                    probs_text(&r.clean_probs),
                    probs_text(&r.adversarial_probs),
                    r.linf.to_string(),
                    r.l2.to_string(),
                    r.fooled.to_string(),
                    r.broken_by.clone().unwrap_or_default(),
                    r.queries.map(|q| q.to_string()).unwrap_or_default(),
                ])
                .expect("writes to memory");
        }
    }
    String::from_utf8(writer.into_inner().expect("in memory")).expect("UTF-8 fields")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: usize, label: usize, clean: [f32; 2], adv: [f32; 2]) -> ImageRecord {
        ImageRecord {
            index,
            id: format!("img{index}.png"),
            label: Label::Class(label),
            clean_probs: clean.to_vec(),
            adversarial_probs: adv.to_vec(),
            target: None,
            linf: 0.01 * index as f32,
            l2: 0.1,
            fooled: decision(TaskKind::Binary, &clean) != decision(TaskKind::Binary, &adv),
            broken_by: None,
            queries: None,
        }
    }

    #[test]
    fn metrics_from_hand_made_records() {
        let names = vec!["benign".to_string(), "malignant".to_string()];
        let records = vec![
            record(0, 0, [0.9, 0.1], [0.4, 0.6]),   // correct → fooled
            record(1, 1, [0.2, 0.8], [0.3, 0.7]),   // correct → still correct
            record(2, 1, [0.7, 0.3], [0.8, 0.2]),   // wrong → still wrong, not changed
            record(3, 0, [0.6, 0.4], [0.45, 0.55]), // correct → fooled
        ];
        let m = summarize(TaskKind::Binary, &names, Goal::Untargeted, &[], &records).unwrap();
        assert_eq!(m.adversarial.accuracy, 0.25);
        assert_eq!(m.fooling_rate, 0.5);
        assert!((m.success_rate - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.mean_linf - 0.015).abs() < 1e-9);
        // Order does not matter for the scores.
        let mut reversed = records.clone();
        reversed.reverse();
        let r = summarize(TaskKind::Binary, &names, Goal::Untargeted, &[], &reversed).unwrap();
        assert_eq!(r.adversarial.accuracy, m.adversarial.accuracy);
        assert_eq!(r.adversarial.auc_macro, m.adversarial.auc_macro);
    }

    #[test]
    fn records_export_as_json_lines_and_csv() {
        let records = [record(0, 1, [0.9, 0.1], [0.4, 0.6])];
        let lines = records_json_lines(&[("pgd", 8.0, &records)]);
        let value: serde_json::Value = serde_json::from_str(lines.trim()).unwrap();
        assert_eq!(value["attack"], "pgd");
        assert_eq!(value["id"], "img0.png");
        let back: ImageRecord = serde_json::from_value(value).unwrap();
        assert_eq!(back, records[0]);
        let csv = records_csv(&[("pgd", 8.0, &records)]);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows.len(), 2);
        assert!(
            rows[0].ends_with(",fooled,broken_by,queries"),
            "{}",
            rows[0]
        );
        // A suite member's break and a score-only attack's queries travel in both formats.
        let mut suite = records[0].clone();
        suite.broken_by = Some("square".into());
        suite.queries = Some(42);
        let line = records_json_lines(&[("autoattack", 8.0, std::slice::from_ref(&suite))]);
        let back: ImageRecord = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(back, suite);
        let csv = records_csv(&[("autoattack", 8.0, std::slice::from_ref(&suite))]);
        assert!(csv.lines().nth(1).unwrap().ends_with(",square,42"), "{csv}");
        assert!(
            rows[1].starts_with("pgd,8,0,img0.png,1,,0.9;0.1,0.4;0.6,"),
            "{}",
            rows[1]
        );
    }
}
