//! GAP: the budget scaling, universal mode, training against a small classifier, the file format.

use burn::Tensor;
use burn::tensor::Distribution;

use super::tests::accuracy;
use super::*;
use crate::Label;
use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use crate::model::DiagnosticModel;
use crate::test_support::{
    LeftRight, cpu, left_right_batch, rewrite_burnpack, rng_lock, seeded_small_cnn,
    trained_left_right,
};

const SIDE: usize = 16;

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn resnet(width: usize) -> GeneratorConfig {
    GeneratorConfig::Resnet(ResnetGeneratorConfig {
        width,
        blocks: 1,
        ..ResnetGeneratorConfig::new(3, [SIDE, SIDE])
    })
}

fn unet(depth: usize) -> GeneratorConfig {
    GeneratorConfig::Unet(UnetGeneratorConfig {
        width: 4,
        depth,
        ..UnetGeneratorConfig::new(3, [SIDE, SIDE])
    })
}

/// An untrained attack around a fresh generator (draws from the random stream: hold the lock).
fn fresh(
    generator: GeneratorConfig,
    universal: bool,
    eps: f32,
) -> GenerativeAdversarialPerturbation {
    let device = cpu();
    GenerativeAdversarialPerturbation {
        generator: match universal {
            true => generator.init_universal(5, &device),
            false => generator.init(&device),
        },
        card: GapCard {
            generator,
            eps,
            universal,
            channels: 3,
            height: SIDE,
            width: SIDE,
            model_architecture: "small-cnn".into(),
            model_classes: vec!["right".into(), "left".into()],
            trained_on: "nothing".into(),
            epochs: 0,
        },
        budget: Budget::linf(eps),
    }
}

/// A generator trained against `model` for one epoch on 16 LeftRight images (hold the lock).
fn trained(
    model: &DiagnosticModel,
    generator: GeneratorConfig,
    universal: bool,
) -> GenerativeAdversarialPerturbation {
    let settings = GapSettings {
        universal,
        epochs: 1,
        batch_size: 8,
        seed: 9,
        ..GapSettings::new(generator, 0.1)
    };
    let data = LeftRight::new(16, SIDE);
    train_generator(model, &data, &settings, &cpu(), &mut |_| {}).unwrap()
}

#[test]
fn every_plane_of_the_perturbation_has_linf_norm_eps_and_pixels_stay_in_range() {
    let model = AttackedModel::new(trained_left_right(), &cpu());
    let _rng = rng_lock();
    let device = cpu();
    device.seed(1);
    let images = Tensor::<4>::random([3, 3, SIDE, SIDE], Distribution::Uniform(0.0, 1.0), &device);
    let labels = vec![Label::Class(0); 3];
    let clean = values(images.clone());
    for eps in [2.0 / 255.0, 0.15] {
        for generator in [resnet(4), unet(2), unet(4)] {
            for universal in [false, true] {
                let what = format!("{} universal={universal} ε={eps}", generator.name());
                let attack = fresh(generator, universal, eps);
                let delta = values(attack.perturbation(images.clone()).unwrap());
                for (plane, pixels) in delta.chunks(SIDE * SIDE).enumerate() {
                    let peak = pixels.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    assert!((peak - eps).abs() <= 1e-6, "{what}, plane {plane}: {peak}");
                }
                let adversarial = values(
                    attack
                        .perturb(
                            &model,
                            images.clone(),
                            &labels,
                            &SampleKeys::sequential(0, labels.len()),
                        )
                        .unwrap(),
                );
                for (a, c) in adversarial.iter().zip(&clean) {
                    assert!((0.0..=1.0).contains(a), "{what}: pixel {a}");
                    assert!((a - c).abs() <= eps + 1e-6, "{what}: moved {}", a - c);
                }
            }
        }
    }
}

#[test]
fn a_universal_generator_gives_every_image_the_same_perturbation() {
    let _rng = rng_lock();
    let device = cpu();
    device.seed(2);
    let images = Tensor::<4>::random([3, 3, SIDE, SIDE], Distribution::Uniform(0.0, 1.0), &device);
    let per_image = 3 * SIDE * SIDE;
    for generator in [resnet(4), unet(3)] {
        let universal = values(
            fresh(generator, true, 0.1)
                .perturbation(images.clone())
                .unwrap(),
        );
        let first = &universal[..per_image];
        for image in universal.chunks(per_image).skip(1) {
            assert_eq!(image, first, "{}", generator.name());
        }
        let dependent = values(
            fresh(generator, false, 0.1)
                .perturbation(images.clone())
                .unwrap(),
        );
        assert_ne!(
            &dependent[..per_image],
            &dependent[per_image..2 * per_image]
        );
    }
}

#[test]
fn generators_keep_the_image_shape_and_reject_sides_they_cannot_halve() {
    let _rng = rng_lock();
    let device = cpu();
    for depth in 1..=4 {
        let config = GeneratorConfig::Unet(UnetGeneratorConfig {
            width: 2,
            depth,
            ..UnetGeneratorConfig::new(1, [16, 32])
        });
        config.validate().unwrap();
        let x = Tensor::<4>::random([2, 1, 16, 32], Distribution::Default, &device);
        assert_eq!(
            config.init(&device).forward(x).dims(),
            [2, 1, 16, 32],
            "depth {depth}"
        );
    }
    let config = GeneratorConfig::Resnet(ResnetGeneratorConfig::new(1, [12, 20])).with_width(2);
    let x = Tensor::<4>::random([2, 1, 12, 20], Distribution::Default, &device);
    assert_eq!(config.init(&device).forward(x).dims(), [2, 1, 12, 20]);

    let err = GeneratorConfig::from_name("resnet", 3, [18, 18])
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("divisible by 4"), "{err}");
    let err = GeneratorConfig::Unet(UnetGeneratorConfig::new(3, [20, 20]))
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("divisible by 8"), "{err}");
    assert!(GeneratorConfig::from_name("vae", 3, [16, 16]).is_err());
}

#[test]
fn zero_eps_returns_the_clean_images_and_other_budgets_are_refused() {
    let model = AttackedModel::new(trained_left_right(), &cpu());
    let _rng = rng_lock();
    let (images, labels) = left_right_batch(2);
    let attack = fresh(resnet(4), false, 0.0);
    assert_eq!(
        values(
            attack
                .perturb(
                    &model,
                    images.clone(),
                    &labels,
                    &SampleKeys::sequential(0, labels.len())
                )
                .unwrap()
        ),
        values(images.clone())
    );
    let l2 = GenerativeAdversarialPerturbation {
        budget: Budget {
            norm: Norm::L2,
            eps: 1.0,
            convention: Convention::Pixel,
        },
        ..fresh(resnet(4), false, 0.1)
    };
    assert!(
        l2.perturb(
            &model,
            images.clone(),
            &labels,
            &SampleKeys::sequential(0, labels.len())
        )
        .is_err()
    );
    let smaller = Tensor::<4>::zeros([2, 3, 8, 8], &cpu());
    assert!(fresh(resnet(4), false, 0.1).perturbation(smaller).is_err());
    // A generator made for a model of other classes is refused, naming both.
    let mut other = fresh(resnet(4), false, 0.1);
    other.card.model_classes = vec!["benign".into(), "malignant".into()];
    let err = other
        .perturb(
            &model,
            images,
            &labels,
            &SampleKeys::sequential(0, labels.len()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("benign, malignant") && err.contains("right, left"),
        "{err}"
    );
}

#[test]
fn a_trained_generator_fools_the_classifier() {
    let model = trained_left_right();
    let attacked = AttackedModel::new(model, &cpu());
    let _rng = rng_lock();
    let data = LeftRight::new(64, SIDE);
    let settings = GapSettings {
        epochs: 2,
        batch_size: 4,
        // Far above GAP's 2e-4: 32 steps instead of GAP's thousands.
        learning_rate: 5e-3,
        seed: 3,
        ..GapSettings::new(resnet(8), 0.15)
    };
    let mut losses = Vec::new();
    let attack = train_generator(model, &data, &settings, &cpu(), &mut |p| {
        losses.push(p.loss)
    })
    .unwrap();
    assert_eq!(losses.len(), 2 * 16);
    let (images, labels) = left_right_batch(64);
    let clean = accuracy(&attacked, images.clone(), &labels);
    assert!(clean >= 0.9, "clean accuracy {clean}");
    let adversarial = attack
        .perturb(
            &attacked,
            images,
            &labels,
            &SampleKeys::sequential(0, labels.len()),
        )
        .unwrap();
    let fooled = accuracy(&attacked, adversarial, &labels);
    assert!(
        clean - fooled >= 0.3,
        "accuracy {clean} clean, {fooled} under GAP; losses {losses:?}"
    );
    assert_eq!(attack.card.trained_on, data.info.name);
    assert_eq!(attack.card.model_architecture, "small-cnn");
}

#[test]
fn multi_label_training_runs_on_the_flip_every_label_loss() {
    let config = SyntheticConfig {
        n: 8,
        test: 2,
        size: 32,
        seed: 1,
    };
    let splits = synthetic::open(SyntheticKind::Chest, &config);
    let train = splits.train.as_ref();
    let model = seeded_small_cnn(train.info(), 32, 4, 2);
    let _rng = rng_lock();
    let channels = train.info().channels;
    let settings = GapSettings {
        epochs: 1,
        batch_size: 4,
        ..GapSettings::new(
            GeneratorConfig::from_name("unet", channels, [32, 32])
                .unwrap()
                .with_width(4),
            0.05,
        )
    };
    let mut losses = Vec::new();
    let attack = train_generator(&model, train, &settings, &cpu(), &mut |p| {
        losses.push(p.loss)
    })
    .unwrap();
    assert_eq!(losses.len(), 2);
    assert!(
        losses.iter().all(|l| l.is_finite() && *l > 0.0),
        "{losses:?}"
    );
    assert_eq!(attack.card.channels, channels);

    let wrong_size = GapSettings {
        generator: GeneratorConfig::from_name("unet", channels, [16, 16]).unwrap(),
        ..settings
    };
    let err = train_generator(&model, train, &wrong_size, &cpu(), &mut |_| {})
        .err()
        .unwrap();
    assert!(err.to_string().contains("takes"), "{err}");
}

#[test]
fn save_then_load_gives_identical_perturbations() {
    let model = trained_left_right();
    let _rng = rng_lock();
    let (images, _) = left_right_batch(4);
    for (generator, universal) in [(resnet(4), false), (unet(2), true), (unet(3), false)] {
        let attack = trained(model, generator, universal);
        let bytes = attack.to_bytes().unwrap();
        let loaded =
            GenerativeAdversarialPerturbation::from_bytes(&bytes, "g.bpk", &cpu()).unwrap();
        assert_eq!(loaded.card, attack.card);
        assert_eq!(loaded.budget, attack.budget);
        assert_eq!(loaded.generator.is_universal(), universal);
        assert_eq!(read_gap_card(&bytes, "g.bpk").unwrap(), attack.card);
        assert_eq!(
            values(loaded.perturbation(images.clone()).unwrap()),
            values(attack.perturbation(images.clone()).unwrap()),
            "{} universal={universal}",
            generator.name()
        );
    }
}

/// The card of `bytes` with `field` set to `value`.
fn with_card_field(bytes: Vec<u8>, field: &str, value: serde_json::Value) -> Vec<u8> {
    rewrite_burnpack(
        bytes,
        |metadata| {
            let card = metadata.get_mut("robustdx.gap").unwrap();
            let mut json: serde_json::Value = serde_json::from_str(card).unwrap();
            json[field] = value;
            *card = json.to_string();
        },
        false,
    )
}

fn load_error(bytes: &[u8], file: &str) -> String {
    let err = GenerativeAdversarialPerturbation::from_bytes(bytes, file, &cpu()).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with(&format!("{file}:")), "{text}");
    text
}

#[test]
fn files_that_are_not_sound_generators_are_clear_errors() {
    let model = trained_left_right();
    let model_file = model.to_bytes().unwrap();
    let _rng = rng_lock();
    let good = trained(model, resnet(4), false).to_bytes().unwrap();

    let text = load_error(b"PK\x03\x04 not a generator", "junk.bpk");
    assert!(text.contains("not a robustdx GAP generator file"), "{text}");

    let text = load_error(&model_file, "model.bpk");
    assert!(
        text.contains("a robustdx model file, not a GAP generator"),
        "{text}"
    );

    let text = load_error(
        &with_card_field(good.clone(), "channels", 1.into()),
        "c.bpk",
    );
    assert!(text.contains("do not match"), "{text}");

    let text = load_error(
        &with_card_field(good.clone(), "eps", (-0.5).into()),
        "e.bpk",
    );
    assert!(text.contains("ε"), "{text}");

    let garbled = rewrite_burnpack(
        good.clone(),
        |m| {
            m.insert("robustdx.gap".into(), "{ not json".into());
        },
        false,
    );
    let text = load_error(&garbled, "j.bpk");
    assert!(text.contains("unreadable GAP card"), "{text}");

    let text = load_error(
        &with_card_field(good.clone(), "universal", true.into()),
        "u.bpk",
    );
    assert!(text.contains("weights do not match"), "{text}");

    let text = load_error(&rewrite_burnpack(good, |_| {}, true), "nan.bpk");
    assert!(text.contains("NaN"), "{text}");
}
