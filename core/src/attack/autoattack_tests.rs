//! AutoAttack as a suite: members run in turn on the images still standing, the first break is
//! kept, the table adds up, and neither batches nor shards change a record.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{AttackContext, AttackSpec, Convention, Goal, Norm};
use crate::data::Dataset;
use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use crate::model::DiagnosticModel;
use crate::robustness::Shard;
use crate::test_support::attack_on_cpu;
use crate::test_support::{LeftRight, seeded_small_cnn, trained_left_right};

fn settings(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn spec(attack: &str, eps: f32, given: Value) -> AttackSpec {
    AttackSpec::new(
        attack,
        eps,
        Norm::Linf,
        Convention::Pixel,
        Goal::Untargeted,
        &settings(given),
    )
    .unwrap()
}

fn small(kind: SyntheticKind) -> (DiagnosticModel, Arc<dyn Dataset>) {
    let config = SyntheticConfig {
        n: 4,
        test: 23,
        size: 32,
        seed: 5,
    };
    let splits = synthetic::open(kind, &config);
    (seeded_small_cnn(splits.test.info(), 32, 4, 3), splits.test)
}

/// A custom suite of FGSM then PGD: an image FGSM breaks is credited to FGSM, and PGD only ever
/// sees the images FGSM left; the table's last robust accuracy is the suite's accuracy, and the
/// suite is never weaker than its first member alone (same keys, same points).
#[test]
fn members_run_in_turn_and_the_first_break_counts() {
    let model = trained_left_right();
    let data = LeftRight::new(23, 16);
    let test: &dyn Dataset = &data;
    let eps = 24.0;
    let suite = spec(
        "autoattack",
        eps,
        json!({"version": "custom", "attacks": "fgsm,pgd:steps=5"}),
    );
    let run = |spec: &AttackSpec, batch: usize, range: std::ops::Range<usize>| {
        let attack = spec.build(&AttackContext::default()).unwrap();
        attack_on_cpu(model, test, range, attack.as_ref(), 7, batch)
    };
    let all = 0..test.len();
    let whole = run(&suite, 32, all.clone());
    let fgsm = run(&spec("fgsm", eps, json!({})), 32, all.clone());
    let table = &whole.metrics.contributions;
    assert_eq!(
        table.iter().map(|c| c.attack.as_str()).collect::<Vec<_>>(),
        ["fgsm", "pgd:steps=5"]
    );
    let correct_before = |r: &crate::robustness::ImageRecord| {
        crate::robustness::decision(model.card.task, &r.clean_probs)
            == crate::robustness::Decision::from(&r.label)
    };
    for (suite_record, fgsm_record) in whole.records.iter().zip(&fgsm.records) {
        let fgsm_breaks = correct_before(fgsm_record)
            && crate::robustness::decision(model.card.task, &fgsm_record.adversarial_probs)
                != crate::robustness::Decision::from(&fgsm_record.label);
        assert_eq!(
            suite_record.broken_by.as_deref() == Some("fgsm"),
            fgsm_breaks,
            "image {}",
            suite_record.index
        );
        if suite_record.broken_by.is_none() && !correct_before(suite_record) {
            // Wrong from the start: not attacked, its clean pixels kept.
            assert_eq!(suite_record.linf, 0.0);
        }
    }
    let broken: usize = table.iter().map(|c| c.broken).sum();
    let labelled = whole
        .records
        .iter()
        .filter(|r| r.broken_by.is_some())
        .count();
    assert_eq!(broken, labelled);
    assert!(labelled > 0, "the budget breaks some images");
    assert!(
        table[1].broken > 0 && table[0].robust_accuracy > 0.0,
        "PGD adds breaks to FGSM's, and some images stand: {table:?}"
    );
    let last = table.last().unwrap().robust_accuracy;
    assert!((last - whole.metrics.adversarial.accuracy).abs() < 1e-12);
    assert!(whole.metrics.adversarial.accuracy <= fgsm.metrics.adversarial.accuracy);

    // Batches of 1 and 7, and three shards, give the same records.
    for batch in [1, 7] {
        assert_eq!(
            run(&suite, batch, all.clone()).records,
            whole.records,
            "batch {batch}"
        );
    }
    let mut sharded = vec![];
    for index in 0..3 {
        let shard = Shard { index, count: 3 };
        sharded.extend(run(&suite, 5, shard.range(test.len())).records);
    }
    assert_eq!(sharded, whole.records);
}

/// Binary, multi-class and multi-label models all run a suite (APGD-CE's multi-label form is
/// summed BCE), within budget, with a table whose rows add up.
#[test]
fn a_suite_runs_on_every_task_kind() {
    for kind in SyntheticKind::ALL {
        let (model, test) = small(kind);
        let test = test.as_ref();
        let suite = spec(
            "autoattack",
            4.0,
            json!({"version": "custom", "attacks": "apgd:steps=4,pgd:steps=3"}),
        );
        let attack = suite.build(&AttackContext::default()).unwrap();
        let run = attack_on_cpu(&model, test, 0..test.len(), attack.as_ref(), 1, 8);
        assert!(
            run.records.iter().all(|r| r.linf <= 4.0 / 255.0 + 1e-6),
            "{}",
            kind.name()
        );
        let table = &run.metrics.contributions;
        assert_eq!(table.len(), 2, "{}", kind.name());
        assert!(table[0].robust_accuracy >= table[1].robust_accuracy);
        // Robust accuracy is exact match for multi-label (no finding may flip).
        assert!(
            (table[1].robust_accuracy - run.metrics.robust_accuracy()).abs() < 1e-12,
            "{}",
            kind.name()
        );
        assert_eq!(
            run.metrics.finding_accuracy.is_some(),
            kind == SyntheticKind::Chest,
            "per-finding robust accuracy for multi-label only"
        );
    }
}

/// The canonical settings spell every member setting out, so a spec written short equals one
/// written long; members must exist, be self-contained and appear once.
#[test]
fn member_lists_are_checked_and_spelled_out() {
    let short = spec(
        "autoattack",
        8.0,
        json!({"version": "custom", "attacks": "apgd"}),
    );
    let long = spec(
        "autoattack",
        8.0,
        json!({"version": "custom", "attacks": short.settings["attacks"].clone()}),
    );
    assert_eq!(short, long);
    let text = short.settings["attacks"].as_str().unwrap();
    assert!(
        text.starts_with("apgd:") && text.contains("steps=100"),
        "{text}"
    );
    let error = |given: Value| {
        AttackSpec::new(
            "autoattack",
            8.0,
            Norm::Linf,
            Convention::Pixel,
            Goal::Untargeted,
            &settings(given),
        )
        .unwrap_err()
        .to_string()
    };
    assert!(error(json!({"version": "custom"})).contains("needs attacks="));
    assert!(error(json!({"version": "custom", "attacks": "apgd,apgd"})).contains("twice"));
    assert!(error(json!({"version": "custom", "attacks": "gap"})).contains("cannot be a member"));
    assert!(error(json!({"version": "custom", "attacks": "nonsense"})).contains("nonsense"));
    assert!(error(json!({"version": "custom", "attacks": "apgd:stepz=3"})).contains("stepz"));
    assert!(
        error(json!({"version": "standard", "attacks": "apgd"})).contains("version=custom"),
        "a version's list is not edited in place"
    );
}
