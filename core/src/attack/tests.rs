//! Invariants and behaviour of the attacks on a small trained model.

use burn::Tensor;
use burn::tensor::Distribution;

use super::*;
use crate::test_support::{cpu, left_right_batch, rng_lock, trained_left_right};
use crate::{Label, task};

fn attacked() -> AttackedModel {
    AttackedModel::new(trained_left_right(), &cpu())
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn mean_loss(model: &AttackedModel, images: Tensor<4>, labels: &[Label]) -> f32 {
    let targets = task::targets_tensor(labels, model.task(), model.classes(), &cpu()).unwrap();
    task::per_sample_loss(model.task(), model.logits(images), targets)
        .mean()
        .into_scalar()
}

/// Share of images decided as their label (single-label).
pub(super) fn accuracy(model: &AttackedModel, images: Tensor<4>, labels: &[Label]) -> f32 {
    let predicted = model.logits(images).argmax(1).into_data();
    let hits = predicted
        .iter::<i64>()
        .zip(labels)
        .filter(|(p, l)| Some(*p as usize) == l.class())
        .count();
    hits as f32 / labels.len() as f32
}

/// Largest |δ| and largest per-sample L2 norm of δ, and whether every pixel is in [lo, hi].
fn check_within(clean: &Tensor<4>, adv: &Tensor<4>, norm: Norm, eps: f32) {
    let [b, _, _, _] = clean.dims();
    let (c, a) = (values(clean.clone()), values(adv.clone()));
    assert!(
        a.iter().all(|p| (0.0..=1.0).contains(p)),
        "a pixel left [0, 1]"
    );
    let per = c.len() / b;
    for s in 0..b {
        let d: Vec<f32> = (0..per).map(|i| a[s * per + i] - c[s * per + i]).collect();
        let size = match norm {
            Norm::Linf => d.iter().fold(0.0f32, |m, v| m.max(v.abs())),
            Norm::L2 => d.iter().map(|v| v * v).sum::<f32>().sqrt(),
        };
        assert!(
            size <= eps * (1.0 + 1e-5) + 1e-7,
            "{norm:?} |δ| = {size} > ε = {eps}"
        );
    }
}

#[test]
fn projection_keeps_every_point_in_the_ball_and_the_pixel_range() {
    let input = &trained_left_right().card.input;
    let _rng = rng_lock();
    let device = cpu();
    for (norm, eps) in [
        (Norm::Linf, 0.0),
        (Norm::Linf, 2.0 / 255.0),
        (Norm::Linf, 0.3),
        (Norm::L2, 0.5),
        (Norm::L2, 3.0),
    ] {
        for seed in 0..5 {
            device.seed(seed);
            let clean = Tensor::<4>::random([3, 3, 8, 8], Distribution::Uniform(0.0, 1.0), &device);
            let wild = Tensor::<4>::random([3, 3, 8, 8], Distribution::Uniform(-2.0, 3.0), &device);
            let budget = Budget {
                norm,
                eps,
                convention: Convention::Pixel,
            };
            let region = budget.region(&clean, input);
            check_within(&clean, &region.project(&clean, wild), norm, eps);
            check_within(
                &clean,
                &region.random_start(&clean, &SampleKeys::sequential(seed, 3), 0),
                norm,
                eps,
            );
        }
    }
}

#[test]
fn projection_leaves_points_inside_the_region_alone() {
    let input = &trained_left_right().card.input;
    let _rng = rng_lock();
    let clean = Tensor::<4>::random([2, 3, 8, 8], Distribution::Uniform(0.2, 0.8), &cpu());
    let inside = clean.clone()
        + Tensor::<4>::random([2, 3, 8, 8], Distribution::Uniform(-0.05, 0.05), &cpu());
    let region = Budget::linf(0.1).region(&clean, input);
    assert_eq!(
        values(region.project(&clean, inside.clone())),
        values(inside)
    );
}

#[test]
fn the_paper_convention_measures_eps_in_normalised_units_and_clips_to_the_batch_range() {
    let model = trained_left_right();
    let input = &model.card.input;
    let (clean, _) = left_right_batch(4);
    let budget = Budget {
        norm: Norm::Linf,
        eps: 0.5,
        convention: Convention::Paper,
    };
    let region = budget.region(&clean, input);
    let far = clean.clone().add_scalar(10.0);
    let moved = values(region.project(&clean, far) - clean.clone());
    let plane = 16 * 16;
    for c in 0..3 {
        // Every pixel moved up by ε·std of its channel, or less where the batch maximum caps it.
        let most = moved[c * plane..(c + 1) * plane]
            .iter()
            .fold(0.0f32, |m, v| m.max(*v));
        assert!(
            (most - 0.5 * input.std[c]).abs() < 1e-5,
            "channel {c}: {most}"
        );
    }
    assert!(
        Budget {
            norm: Norm::L2,
            eps: 1.0,
            convention: Convention::Paper
        }
        .validate()
        .is_err()
    );
}

#[test]
fn input_gradient_matches_finite_differences() {
    let model = attacked();
    let _rng = rng_lock();
    let (images, labels) = left_right_batch(2);
    let targets = task::targets_tensor(&labels, model.task(), 2, &cpu()).unwrap();
    let (_, gradient) = model
        .loss_and_gradient(images.clone(), targets.clone())
        .unwrap();
    let [_, c, h, w] = images.dims();
    let loss = |x: Tensor<4>| -> f32 {
        let logits = model.logits(x);
        task::per_sample_loss(model.task(), logits, targets.clone())
            .sum()
            .into_scalar()
    };
    // Along the gradient itself (a wrong scale shows at once) and along unit directions from the
    // host's keyed generator (a wrong direction shows there). A central difference across a ReLU
    // or max-pool kink is off by the kink, not by a wrong gradient: of three step sizes the best
    // must agree, within 2 % along the gradient and 5 % along the small random projections.
    let unit = |t: Tensor<4>| t.clone() / t.powi_scalar(2).sum().sqrt().into_scalar::<f32>();
    let mut directions = vec![(unit(gradient.clone()), 2e-2)];
    for seed in 0..4 {
        let v = SampleKeys::sequential(100 + seed, 2).normal(0, [c, h, w], &cpu());
        directions.push((unit(v), 5e-2));
    }
    for (v, tolerance) in directions {
        let analytic: f32 = (gradient.clone() * v.clone()).sum().into_scalar();
        let numeric = |h: f32| {
            (loss(images.clone() + v.clone().mul_scalar(h))
                - loss(images.clone() - v.clone().mul_scalar(h)))
                / (2.0 * h)
        };
        let estimates: Vec<f32> = [1e-3, 3e-3, 1e-2].map(numeric).to_vec();
        let error = estimates
            .iter()
            .map(|n| (analytic - n).abs() / analytic.abs().max(1e-4))
            .fold(f32::INFINITY, f32::min);
        assert!(
            error < tolerance,
            "directional derivative {analytic} vs finite differences {estimates:?}"
        );
    }
}

#[test]
fn fgsm_raises_the_loss_within_its_budget() {
    let model = attacked();
    let (images, labels) = left_right_batch(16);
    let eps = 8.0 / 255.0;
    let attack = FastGradientSignMethod {
        budget: Budget::linf(eps),
        goal: Goal::Untargeted,
    };
    let adv = attack
        .perturb(
            &model,
            images.clone(),
            &labels,
            &SampleKeys::sequential(0, labels.len()),
        )
        .unwrap();
    check_within(&images, &adv, Norm::Linf, eps);
    assert!(mean_loss(&model, adv, &labels) > mean_loss(&model, images.clone(), &labels));
    let clean = FastGradientSignMethod {
        budget: Budget::linf(0.0),
        goal: Goal::Untargeted,
    };
    assert_eq!(
        values(
            clean
                .perturb(
                    &model,
                    images.clone(),
                    &labels,
                    &SampleKeys::sequential(0, labels.len())
                )
                .unwrap()
        ),
        values(images)
    );
}

#[test]
fn pgd_collapses_accuracy_and_more_steps_are_at_least_as_strong() {
    let model = attacked();
    let _rng = rng_lock();
    let (images, labels) = left_right_batch(16);
    assert!(accuracy(&model, images.clone(), &labels) >= 0.9);
    let eps = 0.15;
    let run = |steps| {
        let attack = ProjectedGradientDescent {
            random_start: false,
            step_size: eps / 4.0,
            ..ProjectedGradientDescent::linf(eps, steps)
        };
        attack
            .perturb(
                &model,
                images.clone(),
                &labels,
                &SampleKeys::sequential(0, labels.len()),
            )
            .unwrap()
    };
    let (short, long) = (run(3), run(12));
    check_within(&images, &long, Norm::Linf, eps);
    let (loss_short, loss_long) = (
        mean_loss(&model, short, &labels),
        mean_loss(&model, long.clone(), &labels),
    );
    assert!(
        loss_long >= loss_short - 1e-4,
        "12 steps {loss_long} < 3 steps {loss_short}"
    );
    assert!(loss_short > mean_loss(&model, images.clone(), &labels));
    let fooled = accuracy(&model, long, &labels);
    assert!(fooled <= 0.25, "accuracy under PGD {fooled}");
}

#[test]
fn l2_pgd_with_restarts_stays_within_its_ball() {
    let model = attacked();
    let _rng = rng_lock();
    let (images, labels) = left_right_batch(8);
    let attack = ProjectedGradientDescent {
        budget: Budget {
            norm: Norm::L2,
            eps: 1.0,
            convention: Convention::Pixel,
        },
        step_size: 0.25,
        steps: 5,
        random_start: true,
        restarts: 3,
        goal: Goal::Untargeted,
    };
    let adv = attack
        .perturb(
            &model,
            images.clone(),
            &labels,
            &SampleKeys::sequential(0, labels.len()),
        )
        .unwrap();
    check_within(&images, &adv, Norm::L2, 1.0);
    assert!(mean_loss(&model, adv, &labels) > mean_loss(&model, images, &labels));
    let bad = ProjectedGradientDescent {
        random_start: false,
        ..attack
    };
    assert!(
        bad.perturb(
            &model,
            left_right_batch(2).0,
            &labels[..2],
            &SampleKeys::sequential(0, 2)
        )
        .is_err()
    );
}

#[test]
fn targeted_pgd_hits_its_target() {
    let model = attacked();
    let _rng = rng_lock();
    let (images, labels) = left_right_batch(16);
    for target in [0usize, 1] {
        let attack = ProjectedGradientDescent {
            goal: Goal::Class(target),
            ..ProjectedGradientDescent::linf(0.2, 10)
        };
        let adv = attack
            .perturb(
                &model,
                images.clone(),
                &labels,
                &SampleKeys::sequential(0, labels.len()),
            )
            .unwrap();
        let all_target = vec![Label::Class(target); labels.len()];
        assert!(accuracy(&model, adv, &all_target) >= 0.9, "target {target}");
    }
    let least = ProjectedGradientDescent {
        goal: Goal::LeastLikely,
        ..ProjectedGradientDescent::linf(0.2, 10)
    };
    let adv = least
        .perturb(
            &model,
            images,
            &labels,
            &SampleKeys::sequential(0, labels.len()),
        )
        .unwrap();
    // With two classes the least likely class is the other one.
    assert!(accuracy(&model, adv, &labels) <= 0.1);
    let wrong = ProjectedGradientDescent {
        goal: Goal::Class(5),
        ..ProjectedGradientDescent::linf(0.2, 1)
    };
    assert!(
        wrong
            .perturb(
                &model,
                left_right_batch(2).0,
                &labels[..2],
                &SampleKeys::sequential(0, 2)
            )
            .is_err()
    );
}

#[test]
fn pgd_steps_one_at_a_time_and_reports_the_loss() {
    let model = attacked();
    let _rng = rng_lock();
    let (images, labels) = left_right_batch(4);
    let attack = ProjectedGradientDescent {
        random_start: false,
        ..ProjectedGradientDescent::linf(0.1, 4)
    };
    let mut run = attack
        .start(
            &model,
            images.clone(),
            &labels,
            &SampleKeys::sequential(0, labels.len()),
            0,
        )
        .unwrap();
    let mut losses = Vec::new();
    while !run.is_finished() {
        losses.push(run.step().unwrap().mean().into_scalar::<f32>());
    }
    assert_eq!(losses.len(), 4);
    assert!((losses[0] - mean_loss(&model, images.clone(), &labels)).abs() < 1e-5);
    assert!(losses[3] > losses[0]);
    assert_eq!(
        values(run.adversarial()),
        values(
            attack
                .perturb(
                    &model,
                    images,
                    &labels,
                    &SampleKeys::sequential(0, labels.len())
                )
                .unwrap()
        )
    );
}

#[test]
fn eps_out_of_range_is_an_error() {
    for eps in [-1.0, f32::NAN, 2.0] {
        assert!(Budget::linf(eps).validate().is_err(), "{eps}");
    }
}

/// Per-image loss under `images`.
fn losses(model: &AttackedModel, images: Tensor<4>, labels: &[Label]) -> Vec<f32> {
    let targets = task::targets_tensor(labels, model.task(), model.classes(), &cpu()).unwrap();
    task::per_sample_loss(model.task(), model.logits(images), targets)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn apgd_is_at_least_as_strong_as_pgd_10_and_stays_in_its_budget() {
    let model = attacked();
    let (images, labels) = left_right_batch(16);
    let keys = SampleKeys::sequential(3, labels.len());
    for (norm, eps) in [(Norm::Linf, 0.06), (Norm::L2, 1.0)] {
        let budget = Budget {
            norm,
            eps,
            convention: Convention::Pixel,
        };
        let pgd = ProjectedGradientDescent {
            budget,
            step_size: eps / 4.0,
            ..ProjectedGradientDescent::linf(eps, 10)
        };
        let apgd = AutoProjectedGradientDescent {
            budget,
            ..AutoProjectedGradientDescent::linf(eps, 30)
        };
        let by_pgd = pgd.perturb(&model, images.clone(), &labels, &keys).unwrap();
        let by_apgd = apgd
            .perturb(&model, images.clone(), &labels, &keys)
            .unwrap();
        check_within(&images, &by_apgd, norm, eps);
        let (acc_pgd, acc_apgd) = (
            accuracy(&model, by_pgd.clone(), &labels),
            accuracy(&model, by_apgd.clone(), &labels),
        );
        assert!(
            acc_apgd <= acc_pgd,
            "{norm:?}: APGD {acc_apgd} > PGD {acc_pgd}"
        );
        // Where neither fools the model, APGD's point has at least PGD's loss (it keeps each
        // image's best point); it fools every image PGD fools or beats its loss.
        let (l_pgd, l_apgd) = (
            losses(&model, by_pgd, &labels),
            losses(&model, by_apgd, &labels),
        );
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!(
            acc_apgd < acc_pgd || mean(&l_apgd) >= mean(&l_pgd) - 1e-4,
            "{norm:?}"
        );
        assert!(mean(&l_apgd) > mean(&losses(&model, images.clone(), &labels)));
    }
}

#[test]
fn apgd_keeps_the_highest_loss_point_and_halves_its_step() {
    let model = attacked();
    let (images, labels) = left_right_batch(6);
    // A tiny budget the model survives: every image keeps its best (highest-loss) point, and
    // that loss is the one reported.
    let apgd = AutoProjectedGradientDescent::linf(0.002, 12);
    let start = apgd.random_start(&images, &SampleKeys::sequential(0, 6), 0);
    check_within(&images, &start, Norm::Linf, 0.002);
    let outcome = apgd
        .run_from(
            &model,
            images.clone(),
            &apgd.objective(&model, &labels).unwrap(),
            start.clone(),
        )
        .unwrap();
    let best: Vec<f32> = outcome
        .best_loss
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let at_best = losses(&model, outcome.best_loss_point.clone(), &labels);
    let at_start = losses(&model, start, &labels);
    for i in 0..6 {
        assert!(
            (best[i] - at_best[i]).abs() < 1e-5,
            "{i}: {best:?} vs {at_best:?}"
        );
        assert!(best[i] >= at_start[i], "{i}");
    }
    check_within(&images, &outcome.adversarial(), Norm::Linf, 0.002);
    // The same keys give the same start, and the same result.
    let again = apgd.perturb(
        &model,
        images.clone(),
        &labels,
        &SampleKeys::sequential(0, 6),
    );
    let once = apgd.perturb(&model, images, &labels, &SampleKeys::sequential(0, 6));
    assert_eq!(values(again.unwrap()), values(once.unwrap()));
}

#[test]
fn apgd_refuses_what_it_does_not_do() {
    let model = attacked();
    let (images, labels) = left_right_batch(2);
    let keys = SampleKeys::sequential(0, 2);
    let paper = AutoProjectedGradientDescent {
        budget: Budget {
            convention: Convention::Paper,
            ..Budget::linf(0.1)
        },
        ..AutoProjectedGradientDescent::linf(0.1, 5)
    };
    assert!(
        paper
            .perturb(&model, images.clone(), &labels, &keys)
            .is_err()
    );
    let none = AutoProjectedGradientDescent::linf(0.1, 0);
    assert!(none.perturb(&model, images, &labels, &keys).is_err());
}

/// On the CPU a batch of at least `SPLIT_AT` images runs as two halves on two threads: the
/// logits, losses and input gradients are the two halves' own, bit for bit, and the one-pass
/// numbers to float rounding.
#[cfg(feature = "parallel")]
#[test]
fn a_batch_split_over_two_threads_gives_each_half_its_own_numbers() {
    let model = attacked();
    let (images, labels) = left_right_batch(10);
    let targets = task::targets_tensor(&labels, model.task(), model.classes(), &cpu()).unwrap();
    let (logits, loss, gradient) = model
        .forward_and_gradient(images.clone(), targets.clone())
        .unwrap();
    let half = |start: usize| {
        model
            .forward_and_gradient(
                images.clone().narrow(0, start, 5),
                targets.clone().narrow(0, start, 5),
            )
            .unwrap()
    };
    let ((l1, s1, g1), (l2, s2, g2)) = (half(0), half(5));
    let exact = |a: Vec<f32>, b: Vec<f32>| assert_eq!(a, b);
    let flat = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    exact(flat(logits.clone()), flat(Tensor::cat(vec![l1, l2], 0)));
    exact(
        loss.clone().into_data().try_to_vec::<f32>().unwrap(),
        Tensor::cat(vec![s1, s2], 0)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap(),
    );
    exact(
        values(gradient.clone()),
        values(Tensor::cat(vec![g1, g2], 0)),
    );
    let (one_logits, _, one_gradient) = model
        .one_pass(images, &super::Objective::task(targets))
        .unwrap();
    logits.into_data().assert_approx_eq::<f32>(
        &one_logits.into_data(),
        burn::tensor::Tolerance::absolute(1e-5),
    );
    gradient.into_data().assert_approx_eq::<f32>(
        &one_gradient.into_data(),
        burn::tensor::Tolerance::absolute(1e-5),
    );
}

/// A deterministic model gives the same gradient on every pass, so averaging eot = 3 of them is
/// exactly one pass: the same adversarial images, bit for bit, in L∞ and L2.
#[test]
fn apgd_with_eot_on_a_deterministic_model_is_exactly_one_pass() {
    let model = attacked();
    let (images, labels) = left_right_batch(6);
    let keys = SampleKeys::sequential(4, labels.len());
    for (norm, eps) in [(Norm::Linf, 0.03), (Norm::L2, 0.5)] {
        let once = AutoProjectedGradientDescent {
            budget: Budget {
                norm,
                eps,
                convention: Convention::Pixel,
            },
            ..AutoProjectedGradientDescent::linf(eps, 10)
        };
        let thrice = AutoProjectedGradientDescent { eot: 3, ..once };
        let by_once = once
            .perturb(&model, images.clone(), &labels, &keys)
            .unwrap();
        let by_thrice = thrice
            .perturb(&model, images.clone(), &labels, &keys)
            .unwrap();
        assert_eq!(values(by_once), values(by_thrice), "{norm:?}");
    }
}

/// `loss=dlr` climbs the DLR score (here a binary model's logit margin) instead of the
/// cross-entropy: the run's best score is the score of its best point, above the start's.
#[test]
fn apgd_dlr_climbs_the_dlr_score() {
    let model = attacked();
    let (images, labels) = left_right_batch(6);
    let apgd = AutoProjectedGradientDescent {
        loss: ApgdLoss::Dlr,
        ..AutoProjectedGradientDescent::linf(0.002, 12)
    };
    let objective = apgd.objective(&model, &labels).unwrap();
    assert_eq!(objective.loss, Loss::Dlr);
    let start = apgd.random_start(&images, &SampleKeys::sequential(0, 6), 0);
    let score = |x: Tensor<4>| -> Vec<f32> {
        objective
            .per_sample(model.task(), model.logits(x))
            .into_data()
            .try_to_vec()
            .unwrap()
    };
    let outcome = apgd
        .run_from(&model, images.clone(), &objective, start.clone())
        .unwrap();
    let best: Vec<f32> = outcome.best_loss.into_data().try_to_vec().unwrap();
    let (at_best, at_start) = (score(outcome.best_loss_point), score(start));
    for i in 0..6 {
        assert!((best[i] - at_best[i]).abs() < 1e-5, "{i}");
        assert!(best[i] >= at_start[i], "{i}");
    }
    assert!(best.iter().sum::<f32>() > at_start.iter().sum::<f32>());
}

/// APGD's new settings: defaults that change nothing, `loss` and `eot` taken, bad values refused
/// with a message, never a panic.
#[test]
fn apgd_settings_take_a_loss_and_eot_and_refuse_bad_values() {
    let spec = |settings: serde_json::Value| {
        AttackSpec::untargeted_linf(
            AutoProjectedGradientDescent::NAME,
            4.0,
            settings.as_object().unwrap(),
        )
    };
    let defaults = spec(serde_json::json!({})).unwrap();
    assert_eq!(
        serde_json::Value::Object(defaults.settings.clone()),
        serde_json::json!({"steps": 100, "restarts": 1, "loss": "ce", "eot": 1})
    );
    assert_eq!(defaults.describe(), "apgd ε=4/255");
    let dlr = spec(serde_json::json!({"loss": "dlr", "eot": 20})).unwrap();
    assert_eq!(dlr.describe(), "apgd ε=4/255 eot=20 loss=dlr");
    let built = dlr.build(&AttackContext::default()).unwrap();
    assert_eq!(built.name(), AutoProjectedGradientDescent::NAME);
    let e = spec(serde_json::json!({"loss": "hinge"})).unwrap_err();
    assert!(e.to_string().contains("bad setting"), "{e}");
    for (settings, says) in [
        (serde_json::json!({"eot": 0}), "eot ≥ 1"),
        (serde_json::json!({"eot": 200}), "gradient passes"),
    ] {
        let e = spec(settings.clone())
            .and_then(|s| s.build(&AttackContext::default()).map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{settings}: {e}");
    }
}
