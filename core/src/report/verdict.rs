//! One sentence per result, in words a clinician reads: what an attack at a budget did to the
//! model's calls, what a certificate guarantees. The terminal, the HTML reports and (with
//! [3.6]) the robustness card say the same sentences.

use super::{AttackReport, AttackResult, CertifyReport, SigmaResult};
use crate::Label;
use crate::robustness::decision;

/// A share as a whole percentage: "40 %".
fn percent(share: f64) -> String {
    format!("{:.0} %", 100.0 * share)
}

/// What `result` (one attack at one ε of `record`) did, in one sentence: the share of correct
/// calls it turned wrong with the accuracy before and after; for a binary model, also how many
/// correct calls of the second class (the finding: "malignant") it flipped; for a multi-label
/// model, the images with a finding changed and the exact match before and after.
pub fn attack_verdict(record: &AttackReport, result: &AttackResult) -> String {
    let task = record.model.task;
    let names = &record.model.class_names;
    let records = &result.records;
    let n = records.len().max(1) as f64;
    let clean = |r: &crate::robustness::ImageRecord| decision(task, &r.clean_probs);
    let attacked = |r: &crate::robustness::ImageRecord| decision(task, &r.adversarial_probs);
    let clean_right = records
        .iter()
        .filter(|r| clean(r).is_correct(&r.label))
        .count();
    let attacked_right = records
        .iter()
        .filter(|r| attacked(r).is_correct(&r.label))
        .count();
    let name = crate::attack::short_name(&result.attack);
    let budget = format!("{name} at ε = {}/255", result.eps);
    if records.is_empty() {
        return format!(
            "{budget}: accuracy {:.2} under attack (the file keeps no per-image records).",
            result.metrics.adversarial.accuracy
        );
    }
    if result.eps == 0.0 {
        return format!(
            "Without attack the model is right on {} of {} images.",
            clean_right,
            records.len()
        );
    }
    let turned = records
        .iter()
        .filter(|r| clean(r).is_correct(&r.label) && !attacked(r).is_correct(&r.label))
        .count();
    let turned_share = turned as f64 / clean_right.max(1) as f64;
    if task.is_multi_label() {
        let changed = records.iter().filter(|r| clean(r) != attacked(r)).count();
        return format!(
            "{budget} changes at least one finding on {} of the images; exact match {:.2} → {:.2}.",
            percent(changed as f64 / n),
            clean_right as f64 / n,
            attacked_right as f64 / n
        );
    }
    let mut sentence = format!(
        "{budget} turns {} of the correct calls wrong ({turned} of {clean_right}; accuracy {:.2} → {:.2})",
        percent(turned_share),
        clean_right as f64 / n,
        attacked_right as f64 / n
    );
    if names.len() == 2 {
        let finding = Label::Class(1);
        let called = records
            .iter()
            .filter(|r| r.label == finding && clean(r).is_correct(&r.label))
            .count();
        let flipped = records
            .iter()
            .filter(|r| {
                r.label == finding
                    && clean(r).is_correct(&r.label)
                    && !attacked(r).is_correct(&r.label)
            })
            .count();
        if called > 0 {
            sentence.push_str(&format!(
                ": {} of the correct {} calls ({flipped} of {called}) become {}",
                percent(flipped as f64 / called as f64),
                names[1],
                names[0]
            ));
        }
    }
    sentence.push('.');
    sentence
}

/// What one noise level's certificates guarantee, in one sentence: the share decided correctly,
/// the share certified at the report's smallest positive radius, the limit of n and the
/// abstentions.
pub fn certify_verdict(report: &CertifyReport, result: &SigmaResult) -> String {
    let at = |radius: f64| crate::certify::certified_accuracy(&result.records, radius);
    let radius = report
        .radii
        .iter()
        .copied()
        .find(|&r| r > 0.0)
        .unwrap_or(0.0);
    let largest = report.largest_radius(result.sigma);
    format!(
        "Smoothed at σ = {}, {} of the images are decided correctly and {} provably keep that \
         decision under any change of L2 size up to {radius}; with n = {} no image can be \
         certified past {largest:.2}; {} abstain.",
        result.sigma,
        percent(at(0.0)),
        percent(at(radius)),
        report.n,
        percent(result.abstained)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certify::{CertificateRecord, CertifySettings, Votes, sigma_result};
    use crate::report::{CertifyIdentity, DataSummary};
    use crate::robustness::ImageRecord;

    /// The page's example sweep with its first PGD cell's records replaced by four images of
    /// known outcome: labels malignant, malignant, benign, benign; the clean model right on the
    /// first three; the attack flips the first (to benign) and the third (to malignant).
    fn hand_made() -> (AttackReport, usize) {
        let text = include_str!("../../../web/assets/reports/small-cnn-derm.json");
        let mut record = AttackReport::from_json(text, "example").unwrap();
        let cell = record
            .results
            .iter()
            .position(|r| r.attack == "pgd" && r.eps > 0.0)
            .unwrap();
        let image = |index, label, clean: f32, attacked: f32| ImageRecord {
            index,
            id: index.to_string(),
            label: Label::Class(label),
            clean_probs: vec![1.0 - clean, clean],
            adversarial_probs: vec![1.0 - attacked, attacked],
            target: None,
            linf: 0.0,
            l2: 0.0,
            fooled: false,
            broken_by: None,
            queries: None,
        };
        record.results[cell].records = vec![
            image(0, 1, 0.9, 0.2),
            image(1, 1, 0.8, 0.7),
            image(2, 0, 0.1, 0.6),
            image(3, 0, 0.7, 0.9),
        ];
        (record, cell)
    }

    #[test]
    fn an_attack_is_told_as_the_calls_it_turned() {
        let (record, cell) = hand_made();
        let eps = record.results[cell].eps;
        assert_eq!(
            attack_verdict(&record, &record.results[cell]),
            format!(
                "PGD at ε = {eps}/255 turns 67 % of the correct calls wrong (2 of 3; accuracy \
                 0.75 → 0.25): 50 % of the correct malignant calls (1 of 2) become benign."
            )
        );
        let mut clean = record.results[cell].clone();
        clean.eps = 0.0;
        assert_eq!(
            attack_verdict(&record, &clean),
            "Without attack the model is right on 3 of 4 images."
        );
    }

    #[test]
    fn a_multi_label_attack_is_told_as_changed_findings() {
        let (mut record, cell) = hand_made();
        record.model.task = crate::TaskKind::MultiLabel;
        // Two findings; the attack changes the calls on the first and third image, the fourth
        // was wrong before and after.
        let cases = [
            ([true, false], [0.9, 0.1], [0.2, 0.1]),
            ([true, false], [0.8, 0.2], [0.7, 0.3]),
            ([false, false], [0.1, 0.1], [0.1, 0.6]),
            ([false, false], [0.7, 0.1], [0.9, 0.1]),
        ];
        for (r, (truth, clean, attacked)) in record.results[cell].records.iter_mut().zip(cases) {
            r.label = Label::Findings(truth.to_vec());
            r.clean_probs = clean.to_vec();
            r.adversarial_probs = attacked.to_vec();
        }
        let eps = record.results[cell].eps;
        assert_eq!(
            attack_verdict(&record, &record.results[cell]),
            format!(
                "PGD at ε = {eps}/255 changes at least one finding on 50 % of the images; exact \
                 match 0.75 → 0.25."
            )
        );
    }

    #[test]
    fn a_certification_is_told_as_its_guarantee() {
        let (attack, _) = hand_made();
        let data = DataSummary {
            name: "synth-derm".into(),
            split: "test".into(),
            samples: 4,
            shard: None,
            skipped: Vec::new(),
        };
        let settings = CertifySettings::default();
        let mut report = CertifyReport::new(attack.model, data, &settings, 0, vec![0.0, 0.25]);
        let record = |radius: Option<f64>, correct| CertificateRecord {
            index: 0,
            id: String::new(),
            label: Label::Class(1),
            selection: Votes {
                heads: vec![vec![0, 1]],
            },
            estimation: Votes {
                heads: vec![vec![0, 1]],
            },
            heads: Vec::new(),
            radius,
            correct,
        };
        let records = vec![
            record(Some(0.3), true),
            record(Some(0.1), true),
            record(Some(0.5), false),
            record(None, false),
        ];
        let identity =
            CertifyIdentity::new(0.25, &settings, crate::robustness::Subject::unrecorded());
        let result = sigma_result(identity, records, &report.radii);
        report.results.push(result.clone());
        assert_eq!(
            certify_verdict(&report, &result),
            "Smoothed at σ = 0.25, 50 % of the images are decided correctly and 25 % provably keep \
             that decision under any change of L2 size up to 0.25; with n = 100000 no image can be \
             certified past 0.95; 25 % abstain."
        );
    }
}
