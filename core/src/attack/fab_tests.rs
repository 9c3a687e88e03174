//! FAB-T on the three task kinds, its settings, its targets and its independence of the batch.
//! The projections have their hand-computed cases in `fab_projection.rs`; the agreement with
//! torchattacks is `tests/torch_attacks/fab.rs`.

use std::ops::Range;

use serde_json::{Map, json};

use super::fab::target_order;
use super::{Attack, AttackSpec, Budget, Convention, FastAdaptiveBoundary, Goal, Norm, SampleKeys};
use crate::data::Dataset;
use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use crate::metrics;
use crate::model::DiagnosticModel;
use crate::robustness::ImageRecord;
use crate::test_support::attack_on_cpu;
use crate::test_support::{cpu, seeded_small_cnn};
use crate::train::predict;

/// A small-cnn trained briefly on synthetic `kind` data, and its test split. An untrained one
/// gives nearly the same logits for every image, so no boundary is near enough to find.
fn small_model(kind: SyntheticKind) -> (DiagnosticModel, std::sync::Arc<dyn Dataset>) {
    use crate::train::{TrainConfig, Trainer};
    let config = SyntheticConfig {
        n: 48,
        test: 23,
        size: 32,
        seed: 9,
    };
    let splits = synthetic::open(kind, &config);
    let model = seeded_small_cnn(splits.train.info(), 32, 4, 2);
    let train = TrainConfig {
        // The chest task needs longer before any image has every finding right (the only
        // images FAB attacks).
        epochs: if kind == SyntheticKind::Chest { 16 } else { 4 },
        batch_size: 16,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, train, kind.name(), &cpu()).unwrap();
    while !trainer.is_finished() {
        trainer
            .train_epoch(splits.train.as_ref(), &mut |_| {})
            .unwrap();
    }
    (trainer.finish(splits.train.len()), splits.test)
}

fn fab(
    norm: Norm,
    eps: f32,
    steps: usize,
    restarts: usize,
    target_classes: usize,
) -> FastAdaptiveBoundary {
    FastAdaptiveBoundary {
        budget: Budget {
            norm,
            eps,
            convention: Convention::Pixel,
        },
        steps,
        restarts,
        target_classes,
    }
}

fn records(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    range: Range<usize>,
    attack: &dyn Attack,
    batch: usize,
) -> Vec<ImageRecord> {
    attack_on_cpu(model, data, range, attack, 5, batch).records
}

/// Out-of-range settings are errors with a message, whether built by hand or from a spec; a
/// targeted goal is refused (FAB-T aims at every runner-up class to find any wrong decision).
#[test]
fn bad_settings_are_errors() {
    let linf = Budget::linf(8.0 / 255.0);
    for bad in [
        fab(Norm::Linf, 0.03, 0, 1, 9),
        fab(Norm::Linf, 0.03, 10, 0, 9),
        fab(Norm::Linf, 0.03, 10, 1, 0),
        fab(Norm::Linf, 0.03, 10, 101, 9),
        fab(Norm::Linf, 0.03, 20_000, 1, 9),
        FastAdaptiveBoundary {
            budget: Budget {
                convention: Convention::Paper,
                ..linf
            },
            ..FastAdaptiveBoundary::new(linf)
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    FastAdaptiveBoundary::new(linf).validate().unwrap();
    let spec = |goal: Goal, settings: serde_json::Value| {
        let settings: Map<String, serde_json::Value> = settings.as_object().unwrap().clone();
        AttackSpec::new("fab-t", 8.0, Norm::Linf, Convention::Pixel, goal, &settings)
    };
    let defaults = spec(Goal::Untargeted, json!({})).unwrap();
    assert_eq!(
        serde_json::Value::Object(defaults.settings.clone()),
        json!({"steps": 100, "restarts": 1, "target_classes": 9})
    );
    assert!(
        spec(Goal::Untargeted, json!({"restarts": 0}))
            .unwrap()
            .build(&Default::default())
            .is_err()
    );
    assert!(spec(Goal::Untargeted, json!({"alpha_max": 0.2})).is_err());
    let e = spec(Goal::LeastLikely, json!({})).unwrap_err().to_string();
    assert!(e.contains("untargeted here"), "{e}");
}

/// Single-label: the classes by falling clean logit, the top one left out: logits
/// (1, 3, −2, 0.5) aim at class 0, then 3, then 2. Multi-label: the findings by rising |logit|,
/// the nearest to flipping first: 3 (0.5), 0 (1), 2 (−2), 1 (3).
#[test]
fn targets_are_the_runner_up_classes_or_the_least_confident_findings() {
    let logits = [1.0, 3.0, -2.0, 0.5];
    assert_eq!(target_order(&logits, false), [0, 3, 2]);
    assert_eq!(target_order(&logits, true), [3, 0, 2, 1]);
}

/// The number of targets clamps to what the task has, never an error: binary has the one other
/// class, the 4-grade task 3 runner-ups, the chest task (6 findings) up to 9 findings → 6. Asking
/// for more targets than there are runs exactly the same attack as asking for all of them (and
/// it breaks images, so the equality is not that of two empty runs).
#[test]
fn target_count_clamps_to_the_task() {
    let device = cpu();
    for (kind, all) in [
        (SyntheticKind::Derm, 1),
        (SyntheticKind::Fundus, 3),
        (SyntheticKind::Chest, 6),
    ] {
        let (model, test) = small_model(kind);
        let attacked = super::AttackedModel::new(&model, &device);
        let nine = fab(Norm::Linf, 8.0 / 255.0, 10, 1, 9);
        assert_eq!(nine.targets_for(&attacked), all, "{}", kind.name());
        assert_eq!(
            fab(Norm::Linf, 0.03, 5, 1, 2).targets_for(&attacked),
            all.min(2)
        );
        let exact = fab(Norm::Linf, 8.0 / 255.0, 10, 1, all);
        let asked_nine = records(&model, test.as_ref(), 0..test.len(), &nine, 23);
        assert!(asked_nine.iter().any(|r| r.linf > 0.0), "{}", kind.name());
        assert_eq!(
            asked_nine,
            records(&model, test.as_ref(), 0..test.len(), &exact, 23),
            "{}",
            kind.name()
        );
    }
}

/// More targets can only break more images: on the 4-grade task, 3 targets break at least
/// what 1 does, image by image (the first target runs the same way in both), and 1 breaks some.
#[test]
fn more_targets_break_at_least_as_many_images() {
    let (model, test) = small_model(SyntheticKind::Fundus);
    let eps = 8.0 / 255.0;
    let one = records(
        &model,
        test.as_ref(),
        0..23,
        &fab(Norm::Linf, eps, 10, 1, 1),
        23,
    );
    let three = records(
        &model,
        test.as_ref(),
        0..23,
        &fab(Norm::Linf, eps, 10, 1, 3),
        23,
    );
    let broken = |r: &[ImageRecord]| r.iter().filter(|r| r.linf > 0.0).count();
    assert!(broken(&one) > 0);
    for (a, b) in one.iter().zip(&three) {
        assert!(a.linf == 0.0 || b.linf > 0.0, "image {}", a.index);
    }
    eprintln!(
        "broken with 1 target: {}, with 3: {}",
        broken(&one),
        broken(&three)
    );
}

/// On every task kind, L∞ and L2: the points stay within ε and the pixel range, and the model
/// ends no more accurate than on the clean images (FAB only ever replaces a correct image by a
/// wrong one within ε); a standing image is returned clean. Every case breaks something, so the
/// checks are not vacuous.
#[test]
fn fab_t_stays_in_budget_on_every_task_kind() {
    let device = cpu();
    for kind in SyntheticKind::ALL {
        let (model, test) = small_model(kind);
        let test = test.as_ref();
        let clean =
            metrics::evaluate(&predict(&model, test, 8, &device, &mut |_, _| {}).unwrap()).unwrap();
        for (norm, eps) in [(Norm::Linf, 8.0 / 255.0), (Norm::L2, 0.5)] {
            let attack = fab(norm, eps, 10, 2, 9);
            let run = attack_on_cpu(&model, test, 0..test.len(), &attack, 0, 8);
            for r in &run.records {
                let size = match norm {
                    Norm::Linf => r.linf,
                    Norm::L2 => r.l2,
                };
                assert!(
                    size <= eps * (1.0 + 1e-5),
                    "{} {norm:?}: {size}",
                    kind.name()
                );
                if !r.fooled {
                    assert_eq!(
                        (r.linf, r.l2),
                        (0.0, 0.0),
                        "{}: a standing image stays clean",
                        kind.name()
                    );
                }
            }
            assert!(
                run.metrics.adversarial.accuracy <= clean.accuracy,
                "{} {norm:?}",
                kind.name()
            );
            let broken = run.records.iter().filter(|r| r.linf > 0.0).count();
            eprintln!("{} {norm:?}: {broken} broken", kind.name());
            assert!(
                broken > 0,
                "{} {norm:?}: nothing broken, the checks above are vacuous",
                kind.name()
            );
        }
    }
}

/// With two restarts (the second from a keyed random start), batches of 1, 7 and 32 and two
/// shards give every image the same record, bit for bit.
#[test]
fn records_do_not_depend_on_batch_size() {
    let (model, test) = small_model(SyntheticKind::Fundus);
    let test = test.as_ref();
    let attack = fab(Norm::Linf, 4.0 / 255.0, 10, 2, 3);
    let whole = records(&model, test, 0..test.len(), &attack, 32);
    assert!(whole.iter().any(|r| r.linf > 0.0));
    for batch in [1, 7] {
        assert_eq!(
            records(&model, test, 0..test.len(), &attack, batch),
            whole,
            "batch {batch}"
        );
    }
    let mut shards = records(&model, test, 0..11, &attack, 4);
    shards.extend(records(&model, test, 11..test.len(), &attack, 4));
    assert_eq!(shards, whole);
}

/// A later restart starts at the reference's random point: ε/2 from the clean image in the
/// budget's norm (uniform noise rescaled to an L∞ length of ε/2; Gaussian noise to an L2 length
/// of ε/2), drawn from the image's own keyed stream, so an image starts at the same point alone
/// or in a batch, and another stream starts elsewhere.
#[test]
fn random_starts_are_half_the_budget_away_and_keyed_by_image() {
    use burn::Tensor;
    let device = cpu();
    let gray = |n: usize| Tensor::<4>::full([n, 3, 8, 8], 0.5, &device);
    let host = |t: Tensor<4>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
    for (norm, eps) in [(Norm::Linf, 0.1), (Norm::L2, 0.4)] {
        let attack = fab(norm, eps, 10, 2, 9);
        let pair = host(attack.random_start(&gray(2), &SampleKeys::new(3, vec![4, 9]), 7));
        let alone = host(attack.random_start(&gray(1), &SampleKeys::new(3, vec![9]), 7));
        assert_eq!(&pair[192..], &alone[..], "{norm:?}");
        let other = host(attack.random_start(&gray(1), &SampleKeys::new(3, vec![9]), 8));
        assert_ne!(alone, other, "{norm:?}");
        let delta: Vec<f32> = alone.iter().map(|p| p - 0.5).collect();
        let size = match norm {
            Norm::Linf => delta.iter().fold(0.0f32, |m, d| m.max(d.abs())),
            Norm::L2 => delta.iter().map(|d| d * d).sum::<f32>().sqrt(),
        };
        assert!((size - eps / 2.0).abs() < 1e-6, "{norm:?}: {size}");
    }
}
