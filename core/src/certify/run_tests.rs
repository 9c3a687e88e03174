//! A certification over a split: records independent of batch size and shards, resume by
//! identity, and tables that are what the records say.

use super::*;
use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use crate::report::{CertifyIdentity, CertifyReport, DataSummary, ModelSummary, SigmaResult};
use crate::robustness::Shard;
use crate::run::{Plan, merge};
use crate::test_support::{Recorded, cpu, seeded_small_cnn};

const SETTINGS: CertifySettings = CertifySettings {
    n0: 10,
    n: 60,
    alpha: 0.01,
};

fn identity(sigma: f64, seed: u64) -> CertifyIdentity {
    CertifyIdentity::new(
        sigma,
        &SETTINGS,
        crate::test_support::subject("synth", seed),
    )
}

#[test]
fn records_do_not_depend_on_batching_or_shards_and_resume_matches_identities() {
    let device = cpu();
    for kind in [SyntheticKind::Derm, SyntheticKind::Chest] {
        let splits = synthetic::open(
            kind,
            &SyntheticConfig {
                n: 4,
                test: 5,
                size: 32,
                seed: 2,
            },
        );
        let test = splits.test.as_ref();
        let model = seeded_small_cnn(test.info(), 32, 4, 5);
        let run = |ids: &[CertifyIdentity], previous: &[SigmaResult], copies, shard, radii| {
            let header = CertifyReport::new(
                ModelSummary::new("m.bpk", &model.card),
                DataSummary {
                    name: "synth".into(),
                    split: "test".into(),
                    samples: test.len(),
                    shard,
                    skipped: Vec::new(),
                },
                &SETTINGS,
                0,
                radii,
            );
            let mut events = Recorded::<CertifyReport>::default();
            let report = CertifyRun {
                model: &model,
                data: test,
                shard,
                copies_per_batch: copies,
                device: &device,
            }
            .run(ids, previous, header, &mut events)
            .unwrap();
            (report, events)
        };
        let ids = vec![identity(0.12, 0), identity(0.5, 0)];
        let radii = DEFAULT_RADII.to_vec();
        let (whole, events) = run(&ids, &[], 64, None, radii.clone());
        assert_eq!(events.written, 2);
        let (batched, _) = run(&ids, &[], 7, None, radii.clone());
        assert_eq!(batched.results, whole.results, "{kind:?}");
        let level = &whole.results[0];
        assert_eq!(level.records.len(), 5);
        for record in &level.records {
            assert_eq!(record.selection.copies(), 10);
            assert_eq!(record.estimation.copies(), 60);
            let heads = if kind == SyntheticKind::Chest {
                test.info().class_names.len()
            } else {
                1
            };
            assert_eq!(record.heads.len(), heads);
        }
        // The table is what the records say.
        for at in &level.certified_accuracy {
            let certified = level
                .records
                .iter()
                .filter(|r| r.correct && r.radius.is_some_and(|x| x >= at.radius))
                .count();
            assert_eq!(at.accuracy, certified as f64 / 5.0);
        }
        assert_eq!(
            level.finding_certified_accuracy.is_some(),
            kind == SyntheticKind::Chest
        );
        // Two shards merged are the single run.
        let parts: Vec<_> = (0..2)
            .map(|index| {
                let shard = Some(Shard { index, count: 2 });
                (
                    format!("s{index}.json"),
                    run(&ids, &[], 64, shard, radii.clone()).0,
                )
            })
            .collect();
        let mut merged = merge(parts).unwrap();
        merged.tool = whole.tool.clone();
        assert_eq!(merged, whole);
        // Resumed: the same level is reused, another seed is recomputed, saying why.
        let (resumed, events) = run(
            &[ids[0].clone(), identity(0.5, 1)],
            &whole.results,
            64,
            None,
            radii,
        );
        assert!(matches!(events.plans[0], Plan::Reuse(_)));
        match &events.plans[1] {
            Plan::Run { because: Some(why) } => assert!(why.contains("seed 0 → 1"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(resumed.results[0], whole.results[0]);
        // Other radii: the reused records, the table recomputed.
        let (regrid, events) = run(&ids[..1], &whole.results, 64, None, vec![0.0, 0.1]);
        assert!(matches!(events.plans[0], Plan::Reuse(_)));
        assert_eq!(regrid.results[0].records, whole.results[0].records);
        assert_eq!(regrid.results[0].certified_accuracy.len(), 2);
        assert_eq!(
            regrid.results[0].certified_accuracy[0],
            whole.results[0].certified_accuracy[0]
        );
        let csv = whole.to_csv();
        assert_eq!(csv.lines().count(), 1 + 2 * DEFAULT_RADII.len());
        let back = CertifyReport::from_json(&whole.to_json(), "c.json").unwrap();
        assert_eq!(back, whole);
    }
}

#[test]
fn the_curve_drops_at_each_certified_radius() {
    let record = |radius: Option<f64>, correct| CertificateRecord {
        index: 0,
        id: String::new(),
        label: crate::Label::Class(0),
        selection: Votes {
            heads: vec![vec![1, 0]],
        },
        estimation: Votes {
            heads: vec![vec![1, 0]],
        },
        heads: Vec::new(),
        radius,
        correct,
    };
    let records = [
        record(Some(0.3), true),
        record(Some(0.1), true),
        record(Some(0.9), false),
        record(None, false),
    ];
    let curve = certified_curve(&records);
    let points: Vec<(f64, f64)> = curve.iter().map(|c| (c.radius, c.accuracy)).collect();
    assert_eq!(points, vec![(0.0, 0.5), (0.1, 0.5), (0.3, 0.25)]);
    assert_eq!(certified_accuracy(&records, 0.31), 0.0);
    assert!(check_radii(&[]).is_err());
    assert!(
        check_radii(&[0.0, -1.0])
            .unwrap_err()
            .to_string()
            .contains("-1")
    );
    assert!(check_radii(&[0.0, f64::NAN]).is_err());
}
