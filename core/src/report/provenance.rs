//! Where a result came from, in words: the rows the HTML report and the page's viewer show above
//! a sweep's table, so a reader can tell which model file, data and seed made the numbers.

use super::{AttackReport, AttackResult};
use crate::attack::{attack_info, short_name};

/// (label, value) rows describing `record`'s identity.
pub fn provenance(record: &AttackReport) -> Vec<(&'static str, String)> {
    let first = record.results.iter().find_map(|r| r.identity.as_ref());
    let mut rows = vec![
        (
            "model",
            format!("{} ({})", record.model.file, record.model.architecture),
        ),
        (
            "trained",
            record
                .model
                .training
                .as_ref()
                .map_or("not recorded (imported or untrained)".into(), |t| {
                    t.describe()
                }),
        ),
        (
            "model sha256",
            record
                .model
                .sha256
                .clone()
                .unwrap_or_else(|| "not recorded (written before result identities)".into()),
        ),
        (
            "data",
            first.map_or(record.data.name.clone(), |i| i.subject.data.clone()),
        ),
        (
            "split",
            format!("{}, {} images", record.data.split, record.data.samples),
        ),
    ];
    if let Some(text) = record.data.skipped_text() {
        rows.push(("left out", text));
    }
    if let Some(id) = first {
        rows.push((
            "data fingerprint",
            id.subject
                .data_fingerprint
                .clone()
                .unwrap_or_else(|| "not recorded (written before data fingerprints)".into()),
        ));
        rows.push(("seed", id.subject.seed.to_string()));
    }
    if let Some(shard) = record.data.shard {
        rows.push((
            "shard",
            format!("{shard} (merge the shards with robustdx merge)"),
        ));
    }
    if let Some(file) = &record.records_file {
        rows.push(("per-image records", file.clone()));
    }
    rows.push((
        "written by",
        format!(
            "{} {} (result schema {})",
            record.tool.name, record.tool.version, record.schema_version
        ),
    ));
    rows
}

/// A result's settings that differ from its attack's defaults, plus its norm and goal when they
/// are not the usual L∞ and untargeted: "steps=20, L2".
pub fn settings_text(result: &AttackResult) -> String {
    let Some(id) = &result.identity else {
        return String::new();
    };
    let spec = &id.attack;
    let mut parts = spec.changed_settings();
    if spec.norm != crate::attack::Norm::Linf {
        parts.push(format!("{:?}", spec.norm));
    }
    if spec.convention != crate::attack::Convention::Pixel {
        parts.push(format!("{:?} convention", spec.convention).to_lowercase());
    }
    if spec.goal != crate::attack::Goal::Untargeted {
        parts.push(format!("goal {:?}", spec.goal).to_lowercase());
    }
    parts.join(", ")
}

/// One line per sanity check of `record`: its warnings, or that it passed, or why it did not
/// apply. `true` marks a warning. Empty for files written before the checks existed.
pub fn sanity_summary(record: &AttackReport) -> Vec<(bool, String)> {
    use crate::robustness::SanityCheck;
    let mut lines = Vec::new();
    for check in &record.sanity_checks {
        let flags: Vec<&str> = record
            .sanity
            .iter()
            .filter(|f| f.check == *check)
            .map(|f| f.message.as_str())
            .collect();
        if !flags.is_empty() {
            lines.extend(flags.into_iter().map(|m| (true, m.to_string())));
            continue;
        }
        let text = match check {
            SanityCheck::ProbabilityOutputs => {
                "outputs are logits, not probabilities: passed".to_string()
            }
            SanityCheck::ZeroGradients => "input gradients are non-zero: passed".to_string(),
            SanityCheck::NonDeterministic => "repeated forward passes agree: passed".to_string(),
            SanityCheck::GradientFreeStronger => {
                use crate::robustness::gradient_free;
                let measured = record.results.iter().any(|r| {
                    gradient_free(&r.attack)
                        || (r.metrics.contributions.iter()).any(|c| gradient_free(c.member()))
                });
                if measured {
                    "gradient-free attacks did no better than gradient attacks: passed".to_string()
                } else {
                    "gradient-free vs gradient attacks: not applicable (no gradient-free attack \
                     such as Square ran)"
                        .to_string()
                }
            }
            SanityCheck::WeakerAttackStronger => {
                // The first pair the registry ranks (stronger, weaker) measured at one ε.
                let compared = record.results.iter().find_map(|stronger| {
                    let weaker = attack_info(&stronger.attack).ok()?.dominates?;
                    let measured = stronger.eps > 0.0
                        && record
                            .results
                            .iter()
                            .any(|r| r.attack == weaker && r.eps == stronger.eps);
                    measured.then(|| (short_name(&stronger.attack), short_name(weaker)))
                });
                match compared {
                    Some((stronger, weaker)) => {
                        format!("{stronger} at least as strong as {weaker} at every ε: passed")
                    }
                    None => "stronger vs weaker attack: not applicable (no pair the registry \
                             ranks at the same ε)"
                        .to_string(),
                }
            }
        };
        lines.push((false, text));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robustness::summarize;

    #[test]
    fn version_1_files_still_read_and_say_what_they_lack() {
        let text = include_str!("../../../web/tests/fixtures/schema-1-sweep.json");
        let old = AttackReport::from_json(text, "old.json").unwrap();
        assert_eq!(old.schema_version, 1);
        assert!(
            old.results
                .iter()
                .all(|r| r.identity.is_none() && r.records.is_empty())
        );
        let rows = provenance(&old);
        assert!(
            rows.iter().any(|(_, v)| v.contains("not recorded")),
            "{rows:?}"
        );
        assert!(sanity_summary(&old).is_empty());
        assert_eq!(settings_text(&old.results[5]), "");
    }

    /// The page's example, written by `robustdx attack`: every cell's metrics are its records'
    /// summary, exactly, after the round trip through JSON.
    #[test]
    fn a_written_sweep_reproduces_its_metrics_from_its_records() {
        let text = include_str!("../../../web/assets/reports/small-cnn-derm.json");
        let record = AttackReport::from_json(text, "example.json").unwrap();
        assert_eq!(record.results.len(), 15);
        for r in &record.results {
            assert_eq!(r.records.len(), record.data.samples);
            let goal = r.identity.as_ref().unwrap().attack.goal;
            let again = summarize(
                record.model.task,
                &record.model.class_names,
                goal,
                &[],
                &r.records,
            )
            .unwrap();
            assert_eq!(again, r.metrics, "{} ε={}", r.attack, r.eps);
        }
        let fingerprint_row = |record: &AttackReport| {
            provenance(record)
                .into_iter()
                .find(|(label, _)| *label == "data fingerprint")
                .map(|(_, value)| value)
        };
        assert_eq!(
            fingerprint_row(&record).as_deref(),
            Some("not recorded (written before data fingerprints)")
        );
        let mut fingerprinted = record.clone();
        for r in &mut fingerprinted.results {
            r.identity.as_mut().unwrap().subject.data_fingerprint = Some("5d0e".repeat(16));
        }
        assert_eq!(fingerprint_row(&fingerprinted), Some("5d0e".repeat(16)));
        let checks = sanity_summary(&record);
        assert_eq!(checks.len(), 4);
        assert!(checks[3].1.contains("not applicable"), "{checks:?}");
        assert!(record.model.sha256.as_ref().is_some_and(|h| h.len() == 64));
    }
}
