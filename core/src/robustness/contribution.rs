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
