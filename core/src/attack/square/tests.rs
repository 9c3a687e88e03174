use std::ops::Range;

use burn::Tensor;
use burn::tensor::TensorData;
use serde_json::{Map, Value, json};

use super::*;
use crate::attack::{AttackContext, AttackSpec};
use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use crate::data::{BatchLoader, Dataset, Image, images_to_tensor};
use crate::model::{Classifier, DiagnosticModel};
use crate::test_support::attack_on_cpu;
use crate::test_support::{LeftRight, cpu, seeded_small_cnn, trained_left_right};

fn l2(eps: f32, queries: usize) -> SquareAttack {
    SquareAttack {
        budget: Budget {
            norm: Norm::L2,
            eps,
            convention: Convention::Pixel,
        },
        ..SquareAttack::linf(eps, queries)
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

/// On 5 000 queries the reference's clock runs 2 ticks per query: p = 0.8 up to query 5
/// (clock 10), 0.4 from query 6 (clock 12) to 25 (clock 50), and so on, halving after clock
/// 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 down to 0.8/512. At 64 × 64 that makes
/// windows of √(p · 4096) rounded: 57, 40, 29, 20, 14, 10, 7, 5, 4, 3 (L∞); L2 takes the next
/// odd side of at least 3: 57, 41, 29, 21, 15, 11, 7, 5, 5, 3.
#[test]
fn p_schedule_and_window_sides_follow_the_reference() {
    let linf = SquareAttack::linf(8.0 / 255.0, 5000);
    let last_of_each = [5, 25, 100, 250, 500, 1000, 2000, 3000, 4000, 4999];
    for (k, &query) in last_of_each.iter().enumerate() {
        let p = 0.8 / f64::from(1u32 << k);
        assert_eq!(linf.p_selection(query), p, "query {query}");
        if k < 9 {
            assert_eq!(linf.p_selection(query + 1), p / 2.0, "query {}", query + 1);
        }
    }
    assert_eq!(linf.p_selection(0), 0.8);
    let dims = [3, 64, 64];
    let sides = |attack: &SquareAttack| -> Vec<usize> {
        last_of_each
            .iter()
            .map(|&q| attack.window_side(q, dims))
            .collect()
    };
    assert_eq!(sides(&linf), [57, 40, 29, 20, 14, 10, 7, 5, 4, 3]);
    assert_eq!(sides(&l2(0.5, 5000)), [57, 41, 29, 21, 15, 11, 7, 5, 5, 3]);
    // √(p·h·w) = 2.5 exactly (p = 0.5/512, 80 × 80): Python's round gives 2, not 3.
    let half = SquareAttack {
        p_init: 0.5,
        ..SquareAttack::linf(0.1, 100)
    };
    assert_eq!(half.window_side(99, [3, 80, 80]), 2);
    // On 300 queries the clock runs faster: p halves after query 0 (clock 0 → 33 > 10).
    let short = SquareAttack::linf(0.1, 300);
    assert_eq!(short.p_selection(0), 0.8);
    assert_eq!(short.p_selection(1), 0.4);
    // Never wider than the image.
    assert_eq!(linf.window_side(0, [1, 4, 40]), 4);
}

/// A linear "model" written by hand: binary logits (0, s(x)) with s(x) = Σ w·(x − ½) + b, w a
/// fixed pattern of ±1 over 3 × 8 × 8 pixels — zero on the last row and column, which a window
/// never reaches (as in the reference, its corner is drawn below h − s) — so the L∞ ball's best
/// corner is x = ½ + ε·sign(w), where s rises by ε·Σ|w| = 14.7.
struct Linear {
    weights: Vec<f32>,
    bias: f32,
}

const SIDE: usize = 8;
const EPS: f32 = 0.1;

impl Linear {
    fn new(bias: f32) -> Self {
        let weights = (0..3 * SIDE * SIDE)
            .map(|i| {
                let (row, column) = ((i / SIDE) % SIDE, i % SIDE);
                if row == SIDE - 1 || column == SIDE - 1 {
                    0.0
                } else if (i * 7919 + i / 5) % 13 < 6 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        Self { weights, bias }
    }

    /// s at the best corner minus s at the clean image.
    fn reach(&self) -> f32 {
        EPS * self.weights.iter().map(|w| w.abs()).sum::<f32>()
    }

    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let [b, _, _, _] = x.dims();
        let device = x.device();
        let w = Tensor::<4>::from_data(
            TensorData::new(self.weights.clone(), [1, 3, SIDE, SIDE]),
            &device,
        )
        .expand([b, 3, SIDE, SIDE]);
        let s = (x.sub_scalar(0.5) * w)
            .sum_dims(&[1, 2, 3])
            .reshape([b, 1])
            .add_scalar(self.bias);
        Tensor::cat(vec![Tensor::zeros([b, 1], &device), s], 1)
    }

    fn search(&self, attack: &SquareAttack, task: TaskKind, labels: &[Label]) -> SquareOutcome {
        let device = cpu();
        let x = Tensor::<4>::full([labels.len(), 3, SIDE, SIDE], 0.5, &device);
        let keys = SampleKeys::sequential(5, labels.len());
        let classes = if task.is_multi_label() { 3 } else { 2 };
        let multi_label = |x: Tensor<4>| {
            // Findings (s, 20, −20) against the truth (absent, present, absent): the first is
            // the least sure, so the smallest finding margin is its own.
            let [b, _, _, _] = x.dims();
            let s = self.logits(x).narrow(1, 1, 1);
            let fixed = Tensor::<2>::from_data(
                TensorData::new([20.0f32, -20.0].repeat(b), [b, 2]),
                &s.device(),
            );
            Tensor::cat(vec![s, fixed], 1)
        };
        let binary = |x: Tensor<4>| self.logits(x);
        let logits_of: &dyn Fn(Tensor<4>) -> Tensor<2> = if task.is_multi_label() {
            &multi_label
        } else {
            &binary
        };
        attack
            .search(logits_of, task, classes, x, labels, &keys)
            .unwrap()
    }
}

/// Only the exact corner flips the hand-made model (b puts it 0.1 past the boundary, and every
/// value left off the corner costs 0.2), and Square finds it: every weighted value at ½ ± ε
/// with w's sign, the image broken before its 5 000 queries run out.
#[test]
fn linf_search_finds_the_one_flipping_corner_of_a_linear_model() {
    let model = Linear::new(-Linear::new(0.0).reach() + 0.1);
    let attack = SquareAttack::linf(EPS, 5000);
    let outcome = model.search(&attack, TaskKind::Binary, &[Label::Class(0)]);
    assert_eq!(outcome.broken, [true]);
    let queries = outcome.queries[0];
    assert!((2..=5001).contains(&queries), "{queries}");
    let adversarial = values(outcome.images);
    for (i, (&a, &w)) in adversarial.iter().zip(&model.weights).enumerate() {
        if w != 0.0 {
            // ½ − ε reached from ½ + ε as (½ + ε) − 2ε, then clipped: one f32 step off.
            let corner = 0.5 + EPS * w;
            assert!((a - corner).abs() < 1e-6, "value {i}: {a} with weight {w}");
        }
        assert!((a - 0.5).abs() <= EPS + 1e-7);
    }
    eprintln!("corner found after {queries} queries");
}

/// With the boundary 0.1 beyond the best corner no query breaks the image: every run spends
/// its whole budget (the start and 300 queries, twice with two restarts), yet the point returned
/// is far nearer the boundary than the clean image and stays in the ball.
#[test]
fn an_unbreakable_image_spends_every_query_and_keeps_its_best_point() {
    let model = Linear::new(-Linear::new(0.0).reach() - 0.1);
    let attack = SquareAttack {
        restarts: 2,
        ..SquareAttack::linf(EPS, 300)
    };
    let outcome = model.search(&attack, TaskKind::Binary, &[Label::Class(0)]);
    assert_eq!((outcome.broken, outcome.queries), (vec![false], vec![602]));
    let adversarial = values(outcome.images.clone());
    assert!(adversarial.iter().all(|a| (a - 0.5).abs() <= EPS + 1e-7));
    let s = values(model.logits(outcome.images))[1];
    let clean = model.bias;
    assert!(s > clean + 0.5 * model.reach(), "s {s}, clean {clean}");
}

/// Multi-label: the image breaks when any finding flips; here only finding 0 can (its logit is
/// s(x), the others are fixed and right), with the boundary a fifth of the way to the best L∞
/// corner (0.1 · 147 = 14.7; the L2 ball of radius 1 reaches at most ‖w‖ = 12.1).
#[test]
fn multi_label_images_break_when_one_finding_flips() {
    let model = Linear::new(-0.2 * Linear::new(0.0).reach());
    let truth = Label::Findings(vec![false, true, false]);
    for attack in [SquareAttack::linf(EPS, 500), l2(1.0, 500)] {
        let outcome = model.search(&attack, TaskKind::MultiLabel, std::slice::from_ref(&truth));
        assert_eq!(outcome.broken, [true], "{:?}", attack.budget.norm);
        assert!(outcome.queries[0] <= 501);
        let s = values(model.logits(outcome.images))[1];
        assert!(s >= 0.0, "{s}");
    }
}

/// Images the model already gets wrong cost no query and come back unchanged; the search
/// never makes an image right that was wrong.
#[test]
fn images_wrong_at_the_start_are_not_queried() {
    let model = Linear::new(1.0);
    let attack = SquareAttack::linf(EPS, 50);
    let outcome = model.search(
        &attack,
        TaskKind::Binary,
        &[Label::Class(0), Label::Class(1)],
    );
    // s = 1 > 0: class 1 is the decision, so image 0 (truth 0) is wrong from the start, and
    // image 1 (truth 1) is right.
    assert!(outcome.broken[0]);
    assert_eq!(outcome.queries[0], 0);
    assert!(outcome.queries[1] >= 1);
    let adversarial = values(outcome.images);
    assert!(adversarial[..3 * SIDE * SIDE].iter().all(|&a| a == 0.5));
}

/// A synthetic test split whose odd images carry the untrained model's own decisions as their
/// labels (so the model gets them right and the attack has something to break) and whose even
/// images keep their own (mostly wrong for it, and never queried).
struct HalfOwnDecisions {
    data: std::sync::Arc<dyn Dataset>,
    labels: Vec<Label>,
}

impl Dataset for HalfOwnDecisions {
    fn info(&self) -> &crate::data::DatasetInfo {
        self.data.info()
    }

    fn len(&self) -> usize {
        self.data.len()
    }

    fn get(&self, index: usize) -> Result<crate::data::Sample> {
        let mut sample = self.data.get(index)?;
        sample.label = self.labels[index].clone();
        Ok(sample)
    }
}

fn small_model(kind: SyntheticKind) -> (DiagnosticModel, HalfOwnDecisions) {
    let config = SyntheticConfig {
        n: 4,
        test: 23,
        size: 32,
        seed: 9,
    };
    let data = synthetic::open(kind, &config).test;
    let model = seeded_small_cnn(data.info(), 32, 4, 2);
    let (images, truth) = batch(data.as_ref(), &model, 0..data.len());
    let logits = values(model.logits(images));
    let classes = model.card.num_classes();
    let labels = logits
        .chunks(classes)
        .zip(truth)
        .enumerate()
        .map(|(i, (z, truth))| match (i % 2, kind) {
            (0, _) => truth,
            (_, SyntheticKind::Chest) => Label::Findings(z.iter().map(|&v| v > 0.0).collect()),
            _ => Label::Class(crate::metrics::argmax(z)),
        })
        .collect();
    (model, HalfOwnDecisions { data, labels })
}

fn batch(
    data: &dyn Dataset,
    model: &DiagnosticModel,
    range: Range<usize>,
) -> (Tensor<4>, Vec<Label>) {
    let samples = BatchLoader::new(data, range.len(), &model.card.input, None)
        .only(range)
        .next()
        .unwrap()
        .unwrap();
    let images: Vec<&Image> = samples.iter().map(|s| &s.image).collect();
    let labels = samples.iter().map(|s| s.label.clone()).collect();
    (images_to_tensor(&images, &cpu()), labels)
}

/// On every task kind (binary derm, 4-grade fundus, multi-label chest; untrained models the
/// search rarely breaks) and on the trained left-right model (which it does break), L∞ and L2:
/// the adversarial images stay in the ε-ball and in [0, 1]; an image costs at most the start
/// and its queries, none if the model was wrong from the start (and such an image stays
/// wrong); only a broken image stops early; and "broken" is exactly what the model says of the
/// returned image.
#[test]
fn square_stays_in_its_budget_on_every_task_kind() {
    let device = cpu();
    let mut cases: Vec<(String, DiagnosticModel, Tensor<4>, Vec<Label>)> = SyntheticKind::ALL
        .into_iter()
        .map(|kind| {
            let (model, test) = small_model(kind);
            let (images, labels) = batch(&test, &model, 0..12);
            (kind.name().to_string(), model, images, labels)
        })
        .collect();
    let left_right = trained_left_right().clone();
    let (images, labels) = batch(&LeftRight::new(12, 16), &left_right, 0..12);
    cases.push(("left-right".into(), left_right, images, labels));
    let mut broken_somewhere = 0;
    for (name, model, images, labels) in cases {
        let attacked = AttackedModel::new(&model, &device);
        let truth = Goal::Untargeted
            .targets(
                &labels,
                model.card.task,
                model.card.num_classes(),
                None,
                &device,
            )
            .unwrap();
        let margins = |x: Tensor<4>| {
            values(Objective::margin(truth.clone()).per_sample(model.card.task, attacked.logits(x)))
        };
        let clean_margins = margins(images.clone());
        for attack in [SquareAttack::linf(16.0 / 255.0, 60), l2(1.0, 60)] {
            let name = format!("{name} {:?}", attack.budget.norm);
            let keys = SampleKeys::sequential(1, labels.len());
            let outcome = attack
                .search(
                    &|x| attacked.logits(x),
                    model.card.task,
                    model.card.num_classes(),
                    images.clone(),
                    &labels,
                    &keys,
                )
                .unwrap();
            let delta = outcome.images.clone() - images.clone();
            let [b, _, _, _] = delta.dims();
            let flat: Tensor<2> = delta.reshape([b as i32, -1]);
            let sizes = match attack.budget.norm {
                Norm::Linf => values(flat.abs().max_dim(1)),
                Norm::L2 => values(flat.powi_scalar(2).sum_dim(1).sqrt()),
            };
            let eps = attack.budget.eps;
            assert!(
                sizes.iter().all(|&s| s <= eps * (1.0 + 1e-5)),
                "{name}: {sizes:?}"
            );
            assert!(
                sizes.iter().any(|&s| s > 0.5 * eps),
                "{name}: nothing moved"
            );
            let pixels = values(outcome.images.clone());
            assert!(pixels.iter().all(|p| (0.0..=1.0).contains(p)), "{name}");
            let after = margins(outcome.images.clone());
            for i in 0..b {
                let wrong_at_start = clean_margins[i] >= 0.0;
                let queries = outcome.queries[i];
                if wrong_at_start {
                    assert_eq!((queries, outcome.broken[i]), (0, true), "{name} image {i}");
                    assert_eq!(sizes[i], 0.0, "{name} image {i}");
                } else {
                    assert!((1..=61).contains(&queries), "{name} image {i}: {queries}");
                    broken_somewhere += usize::from(outcome.broken[i]);
                }
                assert_eq!(outcome.broken[i], after[i] >= 0.0, "{name} image {i}");
                assert!(
                    outcome.broken[i] || queries == 61,
                    "{name} image {i}: {queries}"
                );
            }
        }
    }
    assert!(
        broken_somewhere > 0,
        "no image broken: the broken path went untested"
    );
}

/// Batches of 1, 7 and 32 and three shards give every image the same record, queries
/// included, bit for bit (each image's windows come from its own keyed stream, and images
/// leave the search as they break), on the trained binary model (L∞ and L2, some images broken
/// after varying numbers of queries) and on the multi-label chest task; another seed draws
/// other windows.
#[test]
fn records_do_not_depend_on_batch_size_or_shard() {
    let (chest_model, chest) = small_model(SyntheticKind::Chest);
    let left_right = LeftRight::new(23, 16);
    let cases: [(&DiagnosticModel, &dyn Dataset, SquareAttack); 3] = [
        (
            trained_left_right(),
            &left_right,
            SquareAttack::linf(16.0 / 255.0, 100),
        ),
        (trained_left_right(), &left_right, l2(1.0, 100)),
        (&chest_model, &chest, l2(1.0, 30)),
    ];
    for (model, test, attack) in cases {
        let name = format!("{} {:?}", test.info().name, attack.budget.norm);
        let run = |range: Range<usize>, batch: usize, seed: u64| {
            attack_on_cpu(model, test, range, &attack, seed, batch).records
        };
        let whole = run(0..test.len(), 32, 11);
        let spent: Vec<u32> = whole.iter().map(|r| r.queries.unwrap()).collect();
        eprintln!("{name}: queries {spent:?}");
        assert!(spent.iter().any(|&q| q > 1), "{name}: {spent:?}");
        for batch in [1, 7] {
            assert_eq!(run(0..test.len(), batch, 11), whole, "{name} batch {batch}");
        }
        let mut sharded = vec![];
        for index in 0..3 {
            let shard = crate::robustness::Shard { index, count: 3 };
            sharded.extend(run(shard.range(test.len()), 5, 11));
        }
        assert_eq!(sharded, whole, "{name}");
        assert_ne!(
            run(0..test.len(), 32, 12),
            whole,
            "{name}: the seed keys the windows"
        );
    }
}

fn spec(settings: Value) -> Result<AttackSpec> {
    let settings: Map<String, Value> = settings.as_object().cloned().unwrap_or_default();
    AttackSpec::new(
        "square",
        8.0,
        Norm::Linf,
        Convention::Pixel,
        Goal::Untargeted,
        &settings,
    )
}

/// The registry entry: defaults filled in, and every setting out of range a clear error (at
/// the spec for unknown names and types, at build for values), never a panic.
#[test]
fn settings_out_of_range_are_errors() {
    let defaults = spec(json!({})).unwrap();
    assert_eq!(
        Value::Object(defaults.settings.clone()),
        json!({"queries": 5000, "p_init": 0.8, "restarts": 1, "loss": "margin"})
    );
    let attack = defaults.build(&AttackContext::default()).unwrap();
    assert_eq!(attack.name(), "square");
    let built = |s: Value| {
        spec(s)
            .and_then(|s| s.build(&AttackContext::default()).map(|_| ()))
            .unwrap_err()
            .to_string()
    };
    assert!(built(json!({"p_init": 0.0})).contains("p_init"));
    assert!(built(json!({"p_init": 1.5})).contains("(0, 1]"));
    assert!(built(json!({"queries": 0})).contains("at least 1 query"));
    assert!(built(json!({"restarts": 0})).contains("1 restart"));
    let e = built(json!({"queries": 60000, "restarts": 2}));
    assert!(e.contains("100000"), "{e}");
    assert!(built(json!({"loss": "hinge"})).contains("bad setting"));
    assert!(built(json!({"n_queries": 10})).contains("no setting 'n_queries'"));
    spec(json!({"loss": "ce", "queries": 100_000}))
        .unwrap()
        .build(&AttackContext::default())
        .unwrap();
    let targeted = AttackSpec::new(
        "square",
        8.0,
        Norm::Linf,
        Convention::Pixel,
        Goal::LeastLikely,
        &Map::new(),
    );
    assert!(targeted.unwrap_err().to_string().contains("untargeted"));
    let paper = AttackSpec::new(
        "square",
        8.0,
        Norm::Linf,
        Convention::Paper,
        Goal::Untargeted,
        &Map::new(),
    )
    .unwrap();
    let e = paper
        .build(&AttackContext::default())
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("pixel space"), "{e}");
    let info = crate::attack::attack_info("square").unwrap();
    assert!(info.gradient_free && info.randomised && !info.targeted);
}

/// The asynchronous search (what a browser's WebGPU backend must await) is the same search:
/// the same images, queries and verdicts as the blocking one.
#[test]
fn the_awaited_search_is_the_blocking_one() {
    let model = Linear::new(-0.2 * Linear::new(0.0).reach());
    let attack = l2(1.0, 200);
    let labels = [Label::Class(0), Label::Class(1), Label::Class(0)];
    let x = Tensor::<4>::full([3, 3, SIDE, SIDE], 0.5, &cpu());
    let keys = SampleKeys::sequential(2, 3);
    let logits = |x: Tensor<4>| model.logits(x);
    let blocking = attack
        .search(&logits, TaskKind::Binary, 2, x.clone(), &labels, &keys)
        .unwrap();
    let awaited = futures_lite::future::block_on(attack.search_async(
        &logits,
        TaskKind::Binary,
        2,
        x,
        &labels,
        &keys,
    ))
    .unwrap();
    assert_eq!(blocking.broken, awaited.broken);
    assert_eq!(blocking.queries, awaited.queries);
    assert_eq!(values(blocking.images), values(awaited.images));
    assert_eq!(
        blocking.broken,
        [true, true, true],
        "{:?}",
        blocking.queries
    );
}
