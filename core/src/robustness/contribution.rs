//! What each member of an attack suite (AutoAttack) added: the images it broke that the earlier
//! members left standing, and the robust accuracy after it — the table AutoAttack's log prints,
//! computed from the per-image records so shards merge into the same table.

use serde::{Deserialize, Serialize};

use super::outcome::decision;
use super::record::ImageRecord;
use crate::TaskKind;
use crate::robustness::Decision;

/// One member of a suite, in the order the suite ran them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The member's registry name.
    pub attack: String,
    /// Images it broke first (correct before it, wrong after).
    pub broken: usize,
    /// Share of all images still correct after it and every member before it.
    pub robust_accuracy: f64,
}

/// The table for `members` (in their running order) from `records`; empty when the attack is not
/// a suite. An image counts as broken by the member its record names; the clean accuracy is the
/// start the broken images are taken from.
pub fn contributions(
    task: TaskKind,
    members: &[String],
    records: &[ImageRecord],
) -> Vec<Contribution> {
    if members.is_empty() {
        return Vec::new();
    }
    let n = records.len().max(1) as f64;
    let mut standing = records
        .iter()
        .filter(|r| decision(task, &r.clean_probs) == Decision::from(&r.label))
        .count();
    members
        .iter()
        .map(|member| {
            let broken = records
                .iter()
                .filter(|r| r.broken_by.as_deref() == Some(member.as_str()))
                .count();
            standing = standing.saturating_sub(broken);
            Contribution {
                attack: member.clone(),
                broken,
                robust_accuracy: standing as f64 / n,
            }
        })
        .collect()
}

/// Multi-label: per finding, the share of images whose adversarial decision of that finding is
/// the truth (`None` for single-label tasks).
pub fn finding_accuracy(task: TaskKind, records: &[ImageRecord]) -> Option<Vec<f64>> {
    if !task.is_multi_label() || records.is_empty() {
        return None;
    }
    let findings = records[0].adversarial_probs.len();
    let mut right = vec![0usize; findings];
    for r in records {
        if let (Decision::Findings(decided), crate::Label::Findings(truth)) =
            (decision(task, &r.adversarial_probs), &r.label)
        {
            for (k, (d, t)) in decided.iter().zip(truth).enumerate() {
                right[k] += usize::from(d == t);
            }
        }
    }
    Some(
        right
            .iter()
            .map(|&k| k as f64 / records.len() as f64)
            .collect(),
    )
}

impl Contribution {
    /// The member's registry name: its label up to the first colon (the changed settings follow).
    pub fn member(&self) -> &str {
        self.attack.split(':').next().unwrap_or_default()
    }

    /// The member as tables name it: its short name ("APGD-T") and the settings that differ
    /// from its defaults ("APGD-CE loss=dlr eot=20").
    pub fn display_name(&self) -> String {
        let name = crate::attack::short_name(self.member());
        std::iter::once(name)
            .chain(self.attack.split(':').skip(1).map(str::to_string))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl super::RobustnessMetrics {
    /// The share of images still decided correctly: accuracy, or for multi-label exact match
    /// (an image stands only if no finding flipped) — what AutoAttack calls robust accuracy.
    pub fn robust_accuracy(&self) -> f64 {
        let m = &self.adversarial;
        m.exact_match
            .filter(|_| m.task.is_multi_label())
            .unwrap_or(m.accuracy)
    }

    /// A suite's starting point, the clean (exact-match) accuracy of the images it attacked:
    /// the robust accuracy after its first member plus what that member broke.
    pub fn accuracy_before_suite(&self) -> Option<f64> {
        let first = self.contributions.first()?;
        let samples = self.adversarial.samples.max(1) as f64;
        Some(first.robust_accuracy + first.broken as f64 / samples)
    }
}

/// AutoAttack's log as a table: the clean accuracy, then each member with the images it broke
/// and the robust accuracy after it; for multi-label, each finding's robust accuracy after the
/// whole suite. Empty for a single attack.
pub fn contribution_text(metrics: &super::RobustnessMetrics, finding_names: &[String]) -> String {
    let table = &metrics.contributions;
    let Some(first) = table.first() else {
        return String::new();
    };
    let clean = metrics
        .accuracy_before_suite()
        .unwrap_or(first.robust_accuracy);
    let width = table
        .iter()
        .map(|c| c.display_name().chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = format!(
        "{:<width$} {:>6} {:>16}\n",
        "attack", "broke", "robust accuracy"
    );
    out.push_str(&format!("{:<width$} {:>6} {:>16.3}\n", "clean", "", clean));
    for c in table {
        out.push_str(&format!(
            "{:<width$} {:>6} {:>16.3}\n",
            c.display_name(),
            c.broken,
            c.robust_accuracy
        ));
    }
    if let Some(per_finding) = &metrics.finding_accuracy {
        let rows: Vec<String> = per_finding
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let name = finding_names
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| k.to_string());
                format!("{name} {a:.3}")
            })
            .collect();
        out.push_str(&format!(
            "robust accuracy per finding (no finding may flip for the rows above): {}\n",
            rows.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Label;

    fn record(
        index: usize,
        label: Label,
        clean: Vec<f32>,
        adv: Vec<f32>,
        by: Option<&str>,
    ) -> ImageRecord {
        ImageRecord {
            index,
            id: index.to_string(),
            label,
            clean_probs: clean,
            adversarial_probs: adv,
            target: None,
            linf: 0.0,
            l2: 0.0,
            fooled: by.is_some(),
            broken_by: by.map(str::to_string),
            queries: None,
        }
    }

    /// Four images, three right at the start: one broken by APGD, one by Square, one standing.
    /// Robust accuracy goes 0.75 → 0.5 → 0.25, and a member that broke nothing still has its row.
    #[test]
    fn the_table_counts_breaks_in_running_order() {
        let c = |k: usize| Label::Class(k);
        let records = [
            record(0, c(0), vec![0.9, 0.1], vec![0.4, 0.6], Some("apgd")),
            record(1, c(1), vec![0.2, 0.8], vec![0.6, 0.4], Some("square")),
            record(2, c(1), vec![0.3, 0.7], vec![0.3, 0.7], None),
            record(3, c(0), vec![0.2, 0.8], vec![0.2, 0.8], None),
        ];
        let members = ["apgd", "fab-t", "square"].map(String::from);
        let table = contributions(TaskKind::Binary, &members, &records);
        let rows: Vec<(usize, f64)> = table
            .iter()
            .map(|c| (c.broken, c.robust_accuracy))
            .collect();
        assert_eq!(rows, [(1, 0.5), (0, 0.5), (1, 0.25)]);
        assert!(contributions(TaskKind::Binary, &[], &records).is_empty());
    }

    /// Multi-label: per finding, the share of images whose attacked decision is the truth.
    #[test]
    fn findings_are_scored_one_by_one() {
        let f = |v: [bool; 2]| Label::Findings(v.to_vec());
        let records = [
            record(
                0,
                f([true, false]),
                vec![0.9, 0.1],
                vec![0.9, 0.8],
                Some("apgd"),
            ),
            record(1, f([false, false]), vec![0.1, 0.1], vec![0.1, 0.2], None),
        ];
        assert_eq!(
            finding_accuracy(TaskKind::MultiLabel, &records),
            Some(vec![1.0, 0.5])
        );
        assert_eq!(finding_accuracy(TaskKind::Binary, &records[..0]), None);
    }
}
