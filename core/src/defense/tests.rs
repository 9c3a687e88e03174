//! The defenses' losses against numbers worked out by hand, their gradients against finite
//! differences, MPAdvT's draws, and the point of it all: a defended model resists PGD.

use burn::Tensor;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::TensorData;
use serde_json::{Map, json};

use super::*;
use crate::attack::{Attack, Convention, ProjectedGradientDescent};
use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use crate::data::{Dataset, batch_targets};
use crate::model::Classifier;
use crate::robustness::evaluate_attack;
use crate::test_support::{LeftRight, cpu, seeded_small_cnn, trained_left_right};
use crate::train::{TrainConfig, Trainer, TrainingRecipe};
use crate::{TaskKind, train::ClassificationLoss};

fn t(values: &[f64], rows: usize) -> Tensor<2> {
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let cols = values.len() / rows;
    Tensor::from_data(TensorData::new(values, [rows, cols]), &cpu())
}

fn scalar(x: Tensor<1>) -> f64 {
    f64::from(x.into_scalar::<f32>())
}

const CE: ClassificationLoss = ClassificationLoss::CrossEntropy;
const LN2: f64 = std::f64::consts::LN_2;

/// Two single-label samples over three classes, worked through by hand below.
fn single_label_case() -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    // Row 0 (y = 0): p = (1/4, 1/2, 1/4), p' = (1/4, 1/4, 1/2).
    // Row 1 (y = 1): p = (1/3, 1/3, 1/3), p' = (3/5, 1/5, 1/5).
    let clean = t(&[0.0, LN2, 0.0, 0.0, 0.0, 0.0], 2);
    let adversarial = t(&[0.0, 0.0, LN2, 3f64.ln(), 0.0, 0.0], 2);
    let targets = t(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 2);
    (clean, adversarial, targets)
}

/// KL(p ‖ q) of two discrete distributions.
fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(p, q)| p * (p / q).ln()).sum()
}

fn bernoulli_kl(p: f64, q: f64) -> f64 {
    kl(&[p, 1.0 - p], &[q, 1.0 - q])
}

#[test]
fn mart_by_hand() {
    let (clean, adversarial, targets) = single_label_case();
    let got = scalar(Mart::objective(
        TaskKind::MultiClass,
        CE,
        6.0,
        clean,
        adversarial,
        targets,
    ));
    // CE on x', the boosted term on the strongest wrong class of x', and β·KL·(1 − p_y(x)).
    let row0 = -(0.25f64).ln() - (1.0001 - 0.5f64).ln()
        + 6.0 * kl(&[0.25, 0.5, 0.25], &[0.25, 0.25, 0.5]) * (1.000_000_1 - 0.25);
    let row1 = -(0.2f64).ln() - (1.0001 - 0.6f64).ln()
        + 6.0 * kl(&[1. / 3., 1. / 3., 1. / 3.], &[0.6, 0.2, 0.2]) * (1.000_000_1 - 1. / 3.);
    let want = (row0 + row1) / 2.0;
    assert!((got - want).abs() < 2e-5, "MART {got} vs {want}");
    // Row 0's divergence, by hand: ½ ln 2 − ¼ ln 2.
    assert!((kl(&[0.25, 0.5, 0.25], &[0.25, 0.25, 0.5]) - 0.25 * LN2).abs() < 1e-12);
}

#[test]
fn trades_by_hand() {
    let (clean, adversarial, targets) = single_label_case();
    let got = scalar(Trades::objective(
        TaskKind::MultiClass,
        CE,
        6.0,
        clean,
        adversarial,
        targets,
    ));
    // CE on the clean images plus β·KL(p(x) ‖ p(x')).
    let row0 = -(0.25f64).ln() + 6.0 * kl(&[0.25, 0.5, 0.25], &[0.25, 0.25, 0.5]);
    let row1 = -(1.0f64 / 3.0).ln() + 6.0 * kl(&[1. / 3., 1. / 3., 1. / 3.], &[0.6, 0.2, 0.2]);
    let want = (row0 + row1) / 2.0;
    assert!((got - want).abs() < 2e-5, "TRADES {got} vs {want}");
}

/// One multi-label sample with two findings: the first present, the second absent.
/// p = (1/2, 4/5) on x, p' = (1/4, 1/2) on x'.
fn multi_label_case() -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let clean = t(&[0.0, 4f64.ln()], 1);
    let adversarial = t(&[(1.0f64 / 3.0).ln(), 0.0], 1);
    let targets = t(&[1.0, 0.0], 1);
    (clean, adversarial, targets)
}

#[test]
fn multi_label_mart_by_hand() {
    let (clean, adversarial, targets) = multi_label_case();
    let got = scalar(Mart::objective(
        TaskKind::MultiLabel,
        CE,
        6.0,
        clean,
        adversarial,
        targets,
    ));
    let bce = (-(0.25f64).ln() - (0.5f64).ln()) / 2.0;
    // The wrong state on x': absent for finding 0 (1 − 1/4), present for finding 1 (1/2).
    let boosted = (-(1.0001 - 0.75f64).ln() - (1.0001 - 0.5f64).ln()) / 2.0;
    // The true state on x: present for finding 0 (1/2), absent for finding 1 (1 − 4/5).
    let robust = (bernoulli_kl(0.5, 0.25) * (1.000_000_1 - 0.5)
        + bernoulli_kl(0.8, 0.5) * (1.000_000_1 - 0.2))
        / 2.0;
    let want = bce + boosted + 6.0 * robust;
    assert!(
        (got - want).abs() < 2e-5,
        "multi-label MART {got} vs {want}"
    );
}

#[test]
fn multi_label_trades_by_hand() {
    let (clean, adversarial, targets) = multi_label_case();
    let got = scalar(Trades::objective(
        TaskKind::MultiLabel,
        CE,
        6.0,
        clean,
        adversarial,
        targets,
    ));
    let bce = (-(0.5f64).ln() - (0.2f64).ln()) / 2.0;
    let want = bce + 6.0 * (bernoulli_kl(0.5, 0.25) + bernoulli_kl(0.8, 0.5)) / 2.0;
    assert!(
        (got - want).abs() < 2e-5,
        "multi-label TRADES {got} vs {want}"
    );
}

type Objective =
    fn(TaskKind, ClassificationLoss, f32, Tensor<2>, Tensor<2>, Tensor<2>) -> Tensor<1>;

/// The loss's gradient with respect to both logit tensors against central differences.
fn check_logit_gradients(name: &str, objective: Objective, kind: TaskKind, case: [Tensor<2>; 3]) {
    let [clean, adversarial, targets] = case;
    let focal = ClassificationLoss::Focal { gamma: 2.0 };
    for loss in [CE, focal] {
        let value =
            |c: Tensor<2>, a: Tensor<2>| scalar(objective(kind, loss, 6.0, c, a, targets.clone()));
        let (c, a) = (
            clean.clone().autodiff().require_grad(),
            adversarial.clone().autodiff().require_grad(),
        );
        let grads = objective(
            kind,
            loss,
            6.0,
            c.clone(),
            a.clone(),
            targets.clone().autodiff(),
        )
        .backward();
        for (which, point, grad) in [
            ("clean", &clean, c.grad(&grads).unwrap()),
            ("adversarial", &adversarial, a.grad(&grads).unwrap()),
        ] {
            let grad: Vec<f32> = grad.into_data().try_to_vec().unwrap();
            let values: Vec<f32> = point.clone().into_data().try_to_vec().unwrap();
            let dims = point.dims();
            for i in 0..values.len() {
                let h = 1e-2f32;
                let shifted = |d: f32| {
                    let mut v = values.clone();
                    v[i] += d;
                    Tensor::<2>::from_data(TensorData::new(v, dims), &cpu())
                };
                let (up, down) = match which {
                    "clean" => (
                        value(shifted(h), adversarial.clone()),
                        value(shifted(-h), adversarial.clone()),
                    ),
                    _ => (
                        value(clean.clone(), shifted(h)),
                        value(clean.clone(), shifted(-h)),
                    ),
                };
                let numeric = (up - down) / (2.0 * f64::from(h));
                let analytic = f64::from(grad[i]);
                assert!(
                    (numeric - analytic).abs() < 2e-3 + 0.02 * analytic.abs(),
                    "{name} ({}), ∂/∂{which}[{i}]: autodiff {analytic}, finite differences {numeric}",
                    loss.describe()
                );
            }
        }
    }
}

#[test]
fn loss_gradients_match_finite_differences() {
    let (c, a, y) = single_label_case();
    check_logit_gradients(
        "MART",
        Mart::objective,
        TaskKind::MultiClass,
        [c.clone(), a.clone(), y.clone()],
    );
    check_logit_gradients("TRADES", Trades::objective, TaskKind::MultiClass, [c, a, y]);
    let (c, a, y) = multi_label_case();
    check_logit_gradients(
        "multi-label MART",
        Mart::objective,
        TaskKind::MultiLabel,
        [c.clone(), a.clone(), y.clone()],
    );
    check_logit_gradients(
        "multi-label TRADES",
        Trades::objective,
        TaskKind::MultiLabel,
        [c, a, y],
    );
}

type LossOfModel<'a> = Box<dyn Fn(&crate::model::DiagnosticModel) -> Tensor<1> + 'a>;

/// ‖g‖² over a module's parameters.
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.sum += f64::from(g.powi_scalar(2).sum().into_scalar::<f32>());
        }
    }
}

/// On a tiny model, the change of each defense's loss along its own weight gradient matches
/// the gradient's squared norm: what the optimiser is told is the slope the loss has.
#[test]
fn weight_gradients_match_finite_differences_on_a_tiny_model() {
    let data = LeftRight::new(8, 16);
    let model = seeded_small_cnn(&data.info, 16, 4, 3).trainable(&cpu());
    let samples = (0..8).map(|i| data.get(i).unwrap()).collect();
    let batch = batch_targets(samples, TaskKind::Binary, 2, &cpu()).unwrap();
    // A fixed x', as the references detach it from the weights.
    let adversarial =
        (batch.images.clone() + batch.images.clone().mul_scalar(0.05).sin()).clamp(0.0, 1.0);
    let kind = TaskKind::Binary;
    let objectives: Vec<(&str, LossOfModel)> = vec![
        (
            "PGD-AT / MPAdvT (CE on x')",
            Box::new(|m: &crate::model::DiagnosticModel| {
                CE.mean(
                    kind,
                    m.logits(adversarial.clone().autodiff()),
                    batch.targets.clone().autodiff(),
                )
            }),
        ),
        (
            "MART",
            Box::new(|m: &crate::model::DiagnosticModel| {
                Mart::objective(
                    kind,
                    CE,
                    6.0,
                    m.logits(batch.images.clone().autodiff()),
                    m.logits(adversarial.clone().autodiff()),
                    batch.targets.clone().autodiff(),
                )
            }),
        ),
        (
            "TRADES, focal",
            Box::new(|m: &crate::model::DiagnosticModel| {
                Trades::objective(
                    kind,
                    ClassificationLoss::Focal { gamma: 2.0 },
                    6.0,
                    m.logits(batch.images.clone().autodiff()),
                    m.logits(adversarial.clone().autodiff()),
                    batch.targets.clone().autodiff(),
                )
            }),
        ),
    ];
    for (name, objective) in objectives {
        let gradients =
            || GradientsParams::from_grads(objective(&model).backward(), &model.network);
        let mut norm = SquaredNorm {
            grads: &gradients(),
            sum: 0.0,
        };
        model.network.visit(&mut norm);
        let squared = norm.sum;
        assert!(squared > 0.0, "{name}: no gradient");
        // θ ∓ h·g/‖g‖ by a plain SGD step; the central difference estimates ‖g‖.
        let mut best = f64::INFINITY;
        for h in [1e-4, 3e-4, 1e-3] {
            let step = |lr: f64| {
                let mut sgd = SgdConfig::new().init();
                let mut moved = model.clone();
                moved.network = sgd.step(lr, model.network.clone(), gradients());
                scalar(objective(&moved))
            };
            let scale = h / squared.sqrt();
            let numeric = (step(-scale) - step(scale)) / (2.0 * h);
            best = best.min((numeric - squared.sqrt()).abs() / squared.sqrt());
        }
        assert!(
            best < 0.03,
            "{name}: slope along the gradient off by {:.1} %",
            100.0 * best
        );
    }
}

#[test]
fn mpadvt_draws_half_adversarial_batches_over_the_seed_ranges() {
    let mpadvt =
        MixedPerturbationTraining::new(MpadvtSettings::default(), Convention::Pixel).unwrap();
    let n = 4000;
    let draws: Vec<MpadvtDraw> = (0..n).map(|k| mpadvt.draw(k * 7919 + 1)).collect();
    let adversarial: Vec<(f64, usize)> = draws
        .iter()
        .filter_map(|d| match *d {
            MpadvtDraw::Adversarial { eps, steps } => Some((eps, steps)),
            MpadvtDraw::Clean => None,
        })
        .collect();
    let share = adversarial.len() as f64 / n as f64;
    assert!(
        (share - 0.5).abs() < 0.03,
        "share of adversarial batches {share}"
    );
    // ε ~ U(0.01, 0.04) in pixels = U(2.55, 10.2) in 1/255.
    assert!(adversarial.iter().all(|&(e, _)| (2.55..10.2).contains(&e)));
    let mean = adversarial.iter().map(|&(e, _)| e).sum::<f64>() / adversarial.len() as f64;
    assert!((mean - 6.375).abs() < 0.2, "mean ε {mean}");
    let low = adversarial.iter().filter(|&&(e, _)| e < 4.4625).count() as f64;
    assert!(
        (low / adversarial.len() as f64 - 0.25).abs() < 0.04,
        "lowest quarter {low}"
    );
    for steps in 1..=9 {
        let count = adversarial.iter().filter(|&&(_, s)| s == steps).count() as f64;
        let share = count / adversarial.len() as f64;
        assert!((share - 1.0 / 9.0).abs() < 0.03, "{steps} steps: {share}");
    }
    assert_eq!(mpadvt.draw(42), mpadvt.draw(42));
}

fn spec(name: &str, settings: serde_json::Value) -> DefenseSpec {
    DefenseSpec::new(name, settings.as_object().unwrap()).unwrap()
}

/// Every defense trains every task kind: a finite loss, weights that move.
#[test]
fn every_defense_trains_binary_and_multi_label_models() {
    for kind in [SyntheticKind::Derm, SyntheticKind::Chest] {
        let config = SyntheticConfig {
            n: 8,
            test: 4,
            size: 16,
            seed: 2,
        };
        let splits = synthetic::open(kind, &config);
        let train = splits.train.as_ref();
        for entry in DEFENSES {
            // Short inner attacks, whichever settings the defense has.
            let defaults = entry.defaults();
            let quick = [
                ("eps", json!(4.0)),
                ("steps", json!(2)),
                ("probability", json!(1.0)),
                ("steps_max", json!(2)),
            ];
            let settings: serde_json::Map<_, _> = quick
                .into_iter()
                .filter(|(key, _)| defaults.contains_key(*key))
                .map(|(key, value)| (key.to_string(), value))
                .collect();
            let settings = serde_json::Value::Object(settings);
            let model = seeded_small_cnn(train.info(), 16, 4, 1);
            let before = model.to_bytes().unwrap();
            let config = TrainConfig {
                epochs: 1,
                batch_size: 4,
                recipe: TrainingRecipe {
                    defense: spec(entry.name, settings),
                    ..TrainingRecipe::default()
                },
                ..TrainConfig::default()
            };
            let mut trainer = Trainer::new(model, config, &train.info().name, &cpu()).unwrap();
            let stats = trainer.train_epoch(train, &mut |_| {}).unwrap();
            let what = format!("{} on {}", entry.name, kind.name());
            assert!(
                stats.mean_loss.is_finite() && stats.mean_loss > 0.0,
                "{what}: {stats:?}"
            );
            let model = trainer.finish(train.len());
            assert_ne!(
                model.to_bytes().unwrap(),
                before,
                "{what}: weights did not move"
            );
            let card = model.card.training.unwrap();
            assert_eq!(card.defense_name(), entry.name, "{what}");
        }
    }
}

/// The point of a defense: trained with the same seed and budget, the PGD-AT model keeps far
/// more of its accuracy under PGD than the clean one.
#[test]
fn a_defended_model_resists_pgd_that_breaks_the_clean_one() {
    let data = LeftRight::new(64, 16);
    let eps = 0.03;
    let defended = {
        let model = seeded_small_cnn(&data.info, 16, 4, 11);
        let config = TrainConfig {
            epochs: 4,
            batch_size: 16,
            recipe: TrainingRecipe {
                defense: spec("pgd-at", json!({"eps": eps * 255.0, "steps": 5})),
                ..TrainingRecipe::default()
            },
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(model, config, &data.info.name, &cpu()).unwrap();
        while !trainer.is_finished() {
            trainer.train_epoch(&data, &mut |_| {}).unwrap();
        }
        trainer.finish(data.len())
    };
    let test = LeftRight::new(32, 16);
    let robust = |model: &crate::model::DiagnosticModel, eps: f32| {
        let attack = ProjectedGradientDescent::linf(eps, 10);
        evaluate_attack(
            model,
            &test,
            0..32,
            &attack,
            0,
            32,
            0,
            &cpu(),
            &mut |_, _| {},
        )
        .unwrap()
        .metrics
        .adversarial
        .accuracy
    };
    let clean_model = trained_left_right();
    let (clean_then, defended_then) = (robust(clean_model, 0.0), robust(&defended, 0.0));
    let (clean_now, defended_now) = (
        robust(clean_model, eps as f32),
        robust(&defended, eps as f32),
    );
    assert!(
        defended_then >= 0.9 && defended_now >= clean_now + 0.3,
        "clean model {clean_then} → {clean_now}, PGD-AT model {defended_then} → {defended_now} under PGD-10 at ε = {eps}"
    );
}

#[test]
fn unknown_settings_name_the_defense() {
    let err = DefenseSpec::new("pgd-at", &Map::from_iter([("beta".to_string(), json!(6))]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("pgd-at") && err.contains("beta"), "{err}");
}

/// The reference code's MART and TRADES (PyTorch, float64; `tests/fixtures/defenses/`): the
/// same loss and the same gradient with respect to both logit tensors.
#[test]
fn mart_and_trades_equal_the_pytorch_reference() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/defenses/defense_golden.json"
    );
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let matrix = |value: &serde_json::Value| -> (Vec<f64>, usize) {
        let rows = value.as_array().unwrap();
        let values = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
            .collect();
        (values, rows.len())
    };
    let (clean, batch) = matrix(&golden["clean_logits"]);
    let (adversarial, _) = matrix(&golden["adversarial_logits"]);
    let classes = clean.len() / batch;
    let mut one_hot = vec![0.0; batch * classes];
    for (i, y) in golden["labels"].as_array().unwrap().iter().enumerate() {
        one_hot[i * classes + y.as_u64().unwrap() as usize] = 1.0;
    }
    let beta = golden["beta"].as_f64().unwrap() as f32;
    for (name, objective) in [
        ("mart", Mart::objective as Objective),
        ("trades", Trades::objective as Objective),
    ] {
        let c = t(&clean, batch).autodiff().require_grad();
        let a = t(&adversarial, batch).autodiff().require_grad();
        let loss = objective(
            TaskKind::MultiClass,
            CE,
            beta,
            c.clone(),
            a.clone(),
            t(&one_hot, batch).autodiff(),
        );
        let grads = loss.backward();
        let value = scalar(loss.without_autodiff());
        let want = golden[name]["loss"].as_f64().unwrap();
        assert!(
            (value - want).abs() < 1e-5 * want.abs().max(1.0),
            "{name}: {value} vs PyTorch {want}"
        );
        for (which, x) in [("grad_clean", c), ("grad_adversarial", a)] {
            let got: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
            let (want, _) = matrix(&golden[name][which]);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(*g) - w).abs() < 1e-5,
                    "{name} {which}[{i}]: {g} vs PyTorch {w}"
                );
            }
        }
    }
}

/// The seed's ISIC normalisation, which puts its budgets in normalised units.
const SEED_MEAN: [f32; 3] = [0.7012, 0.5517, 0.4875];
const SEED_STD: [f32; 3] = [0.0942, 0.1331, 0.1521];

/// A synthetic dermoscopy batch of 4 and a small CNN normalised as the seed's ISIC models are.
fn seed_normalised_batch() -> (crate::model::DiagnosticModel, Tensor<4>, Vec<crate::Label>) {
    let splits = synthetic::open(
        SyntheticKind::Derm,
        &SyntheticConfig {
            n: 4,
            test: 0,
            size: 16,
            seed: 3,
        },
    );
    let train = splits.train.as_ref();
    let mut model = seeded_small_cnn(train.info(), 16, 4, 5);
    model.card.input.mean = SEED_MEAN.to_vec();
    model.card.input.std = SEED_STD.to_vec();
    let samples: Vec<_> = (0..4).map(|i| train.get(i).unwrap()).collect();
    let images: Vec<_> = samples.iter().map(|s| &s.image).collect();
    let images = crate::data::images_to_tensor(&images, &cpu());
    let labels = samples.iter().map(|s| s.label.clone()).collect();
    (model, images, labels)
}

/// Per channel, the largest |δ| of `adversarial − clean`.
fn largest_change_per_channel(clean: &Tensor<4>, adversarial: Tensor<4>) -> Vec<f32> {
    let [b, c, h, w] = clean.dims();
    let delta: Vec<f32> = (adversarial - clean.clone())
        .into_data()
        .try_to_vec()
        .unwrap();
    (0..c)
        .map(|ch| {
            (0..b)
                .flat_map(|i| {
                    let start = (i * c + ch) * h * w;
                    delta[start..start + h * w].to_vec()
                })
                .fold(0.0f32, |m, d| m.max(d.abs()))
        })
        .collect()
}

/// `--convention paper`: the inner attack's ε is in normalised units, so in pixels it is ε·std
/// per channel — the seed's MART ε (0.031) is 0.75/255 in the red channel, not 8/255.
#[test]
fn the_paper_conventions_inner_attack_moves_pixels_by_eps_times_std() {
    let (model, images, labels) = seed_normalised_batch();
    let attacked = crate::attack::AttackedModel::new(&model, &cpu());
    let keys = crate::attack::SampleKeys::sequential(0, 4);
    for (convention, bound) in [
        (Convention::Pixel, [SEED_EPS as f32 / 255.0; 3]),
        (
            Convention::Paper,
            SEED_STD.map(|s| (SEED_EPS / 255.0) as f32 * s),
        ),
    ] {
        let attack = inner::pgd(SEED_EPS, 6, None, true, convention).unwrap();
        let adversarial = attack
            .perturb(&attacked, images.clone(), &labels, &keys)
            .unwrap();
        let moved = largest_change_per_channel(&images, adversarial);
        for (ch, (m, b)) in moved.iter().zip(bound).enumerate() {
            // A random start and six steps of ε/4 reach the edge of the box somewhere.
            assert!(
                *m <= b * (1.0 + 1e-5) && *m >= b * 0.999,
                "{convention:?} channel {ch}: moved {m}, budget {b}"
            );
        }
    }
    // 0.031 normalised in the red channel: 0.745/255 in pixels.
    assert!((SEED_EPS * f64::from(SEED_STD[0]) - 0.745).abs() < 1e-3);
}

/// MART's and TRADES' start, x + 0.001·N(0, 1), is drawn in the convention's units too: in
/// the paper convention its spread in pixels is 0.001·std per channel.
#[test]
fn the_gaussian_start_is_in_the_conventions_units() {
    let (model, images, _) = seed_normalised_batch();
    let keys = crate::attack::SampleKeys::sequential(0, 4);
    let spread = |convention| -> Vec<f64> {
        let start = inner::gaussian_start(&images, &keys, convention, &model.card.input);
        let [b, c, h, w] = images.dims();
        let noise: Vec<f32> = (start - images.clone()).into_data().try_to_vec().unwrap();
        (0..c)
            .map(|ch| {
                let values: Vec<f64> = (0..b)
                    .flat_map(|i| {
                        let at = (i * c + ch) * h * w;
                        noise[at..at + h * w].iter().map(|&v| f64::from(v))
                    })
                    .collect();
                let n = values.len() as f64;
                (values.iter().map(|v| v * v).sum::<f64>() / n).sqrt()
            })
            .collect()
    };
    for (ch, (pixel, paper)) in spread(Convention::Pixel)
        .iter()
        .zip(spread(Convention::Paper))
        .enumerate()
    {
        // 1 024 draws per channel: the spread is within 10 % of its value.
        assert!(
            (pixel / 1e-3 - 1.0).abs() < 0.1,
            "pixel channel {ch}: {pixel}"
        );
        let want = 1e-3 * f64::from(SEED_STD[ch]);
        assert!(
            (paper / want - 1.0).abs() < 0.1,
            "paper channel {ch}: {paper} vs {want}"
        );
    }
}

/// Each adversarial defense trains in the paper convention and its model card says so; clean
/// training, which has no inner attack, refuses the convention; a card written before the
/// convention existed reads as pixel units.
#[test]
fn the_card_records_the_convention_a_defense_trained_in() {
    let splits = synthetic::open(
        SyntheticKind::Derm,
        &SyntheticConfig {
            n: 8,
            test: 0,
            size: 16,
            seed: 2,
        },
    );
    let train = splits.train.as_ref();
    for entry in DEFENSES.iter().filter(|e| e.adversarial) {
        let quick: Map<_, _> = [("steps", json!(2)), ("steps_max", json!(2))]
            .into_iter()
            .filter(|(key, _)| entry.defaults().contains_key(*key))
            .map(|(key, value)| (key.to_string(), value))
            .collect();
        let defense = DefenseSpec::in_convention(entry.name, Convention::Paper, &quick).unwrap();
        assert!(
            defense
                .describe()
                .ends_with("(normalised units, the seed's paper convention)"),
            "{}",
            defense.describe()
        );
        let config = TrainConfig {
            epochs: 1,
            batch_size: 4,
            recipe: TrainingRecipe {
                defense: defense.clone(),
                ..TrainingRecipe::default()
            },
            ..TrainConfig::default()
        };
        let model = seeded_small_cnn(train.info(), 16, 4, 1);
        let mut trainer = Trainer::new(model, config, &train.info().name, &cpu()).unwrap();
        let stats = trainer.train_epoch(train, &mut |_| {}).unwrap();
        assert!(stats.mean_loss.is_finite(), "{}: {stats:?}", entry.name);
        let card = trainer.finish(train.len()).card;
        let read: crate::model::ModelCard =
            serde_json::from_str(&serde_json::to_string(&card).unwrap()).unwrap();
        let recorded = &read.training.unwrap().recipe.defense;
        assert_eq!(recorded.convention, Convention::Paper, "{}", entry.name);
        assert_eq!(recorded, &defense);
    }
    let err = DefenseSpec::in_convention("clean", Convention::Paper, &Map::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("clean") && err.contains("inner attack"),
        "{err}"
    );
    let pixel = DefenseSpec::new("mart", &Map::new()).unwrap();
    let written = serde_json::to_value(&pixel).unwrap();
    assert!(written.get("convention").is_none(), "{written}");
    let old: DefenseSpec =
        serde_json::from_value(json!({"defense": "mart", "settings": pixel.settings.clone()}))
            .unwrap();
    assert_eq!(old.convention, Convention::Pixel);
    assert_eq!(old, pixel);
}
