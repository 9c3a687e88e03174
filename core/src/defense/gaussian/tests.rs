//! Gaussian augmentation against its loss worked out by hand, its noise (keyed by the image, of
//! spread σ, unclipped), its settings, and training runs whose model cards carry σ.

use burn::Tensor;
use burn::tensor::TensorData;
use serde_json::{Map, Value, json};

use super::*;
use crate::TaskKind;
use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use crate::data::{Batch, batch_targets};
use crate::defense::{CleanTraining, DEFENSES};
use crate::model::{Classifier, DiagnosticModel, ModelCard};
use crate::test_support::{cpu, seeded_small_cnn};
use crate::train::{ClassificationLoss, TrainConfig, Trainer, TrainingRecipe};

fn host<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().try_to_vec().unwrap()
}

fn gaussian(sigma: f64) -> GaussianAugmentation {
    GaussianAugmentation::new(GaussianSettings { sigma }).unwrap()
}

fn spec(settings: Value) -> Result<DefenseSpec> {
    DefenseSpec::new(ENTRY.info.name, settings.as_object().unwrap())
}

fn derm(n: usize) -> crate::data::DataSplits {
    synthetic::open(
        SyntheticKind::Derm,
        &SyntheticConfig {
            n,
            test: 0,
            size: 16,
            seed: 3,
        },
    )
}

/// Four synthetic dermoscopy images with their targets, and a small CNN being trained.
fn derm_batch() -> (DiagnosticModel, Batch) {
    let splits = derm(4);
    let train = splits.train.as_ref();
    let model = seeded_small_cnn(train.info(), 16, 4, 5).trainable(&cpu());
    let samples = (0..4).map(|i| train.get(i).unwrap()).collect();
    let batch = batch_targets(samples, TaskKind::Binary, 2, &cpu()).unwrap();
    (model, batch)
}

/// `defense`'s loss on `batch` under `keys`.
fn loss_of(
    defense: &dyn Defense,
    model: &DiagnosticModel,
    batch: &Batch,
    keys: &SampleKeys,
) -> f64 {
    let device = cpu();
    let loss = defense
        .loss(&TrainingBatch {
            model,
            device: &device,
            images: batch.images.clone(),
            targets: batch.targets.clone(),
            labels: &batch.labels,
            keys,
            batch_key: 0,
            loss: ClassificationLoss::CrossEntropy,
            attacked: Default::default(),
        })
        .unwrap();
    f64::from(loss.without_autodiff().into_scalar::<f32>())
}

#[test]
fn the_loss_is_the_cross_entropy_on_the_noisy_images_by_hand() {
    let (model, batch) = derm_batch();
    let keys = SampleKeys::new(7, vec![3, 0, 9, 4]);
    let sigma = 0.25;
    let got = loss_of(&gaussian(sigma), &model, &batch, &keys);

    // x + σ·z with z the keys' standard normals on the augmentation stream, added on the host
    // and not clipped; then the same network and the cross-entropy in f64.
    let dims = batch.images.dims();
    let [_, c, h, w] = dims;
    let z = host(keys.normal(AUGMENTATION_NOISE, [c, h, w], &cpu()));
    let noisy: Vec<f32> = host(batch.images.clone())
        .iter()
        .zip(&z)
        .map(|(x, z)| x + sigma as f32 * z)
        .collect();
    let noisy = Tensor::<4>::from_data(TensorData::new(noisy, dims), &cpu());
    let logits = host(model.logits(noisy.autodiff()).without_autodiff());
    let targets = host(batch.targets.clone());
    let want = (0..4)
        .map(|i| {
            let row: Vec<f64> = logits[2 * i..2 * i + 2].iter().map(|&v| v.into()).collect();
            let log_sum_exp = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            let y = usize::from(targets[2 * i + 1] == 1.0);
            log_sum_exp - row[y]
        })
        .sum::<f64>()
        / 4.0;
    assert!((got - want).abs() < 1e-5, "loss {got}, by hand {want}");

    // The noise mattered: the clean loss is another number.
    let clean = loss_of(&CleanTraining, &model, &batch, &keys);
    assert!((got - clean).abs() > 1e-3, "noisy {got}, clean {clean}");
}

#[test]
fn a_tiny_sigma_is_clean_training_and_the_keys_decide_the_noise() {
    let (model, batch) = derm_batch();
    let keys = SampleKeys::sequential(1, 4);
    let clean = loss_of(&CleanTraining, &model, &batch, &keys);
    let tiny = loss_of(&gaussian(1e-6), &model, &batch, &keys);
    assert!((tiny - clean).abs() < 1e-4, "σ = 1e-6: {tiny}, clean {clean}");

    let defense = gaussian(0.25);
    let once = loss_of(&defense, &model, &batch, &keys);
    assert_eq!(once, loss_of(&defense, &model, &batch, &keys));
    for other in [SampleKeys::sequential(2, 4), SampleKeys::new(1, vec![4, 5, 6, 7])] {
        let moved = loss_of(&defense, &model, &batch, &other);
        assert!((moved - once).abs() > 1e-4, "{other:?}: {moved} vs {once}");
    }
}

#[test]
fn an_images_noise_is_the_same_in_any_batch() {
    let (_, batch) = derm_batch();
    let defense = gaussian(0.25);
    let whole = host(defense.noisy(batch.images.clone(), &SampleKeys::new(5, vec![10, 11, 12, 13])));
    let third = batch.images.clone().narrow(0, 2, 1);
    let alone = host(defense.noisy(third, &SampleKeys::new(5, vec![12])));
    let per_image = alone.len();
    assert_eq!(&whole[2 * per_image..3 * per_image], &alone[..]);
    assert_ne!(&whole[..per_image], &whole[per_image..2 * per_image]);
}

#[test]
fn the_noise_has_spread_sigma_and_is_not_clipped() {
    let (_, batch) = derm_batch();
    let clean = host(batch.images.clone());
    for sigma in [0.12, 0.5] {
        let noisy = host(gaussian(sigma).noisy(batch.images.clone(), &SampleKeys::sequential(3, 4)));
        let noise: Vec<f64> = noisy.iter().zip(&clean).map(|(y, x)| f64::from(y - x)).collect();
        // 3 072 draws: the mean within 4 standard errors of 0, the spread within 5 % of σ.
        let n = noise.len() as f64;
        let mean = noise.iter().sum::<f64>() / n;
        let std = (noise.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 4.0 * sigma / n.sqrt(), "σ = {sigma}: mean {mean}");
        assert!((std / sigma - 1.0).abs() < 0.05, "σ = {sigma}: spread {std}");
        // As the reference, no clipping: values leave [0, 1] on both sides.
        assert!(noisy.iter().any(|&v| v < 0.0), "σ = {sigma}: nothing below 0");
        assert!(noisy.iter().any(|&v| v > 1.0), "σ = {sigma}: nothing above 1");
    }
}

#[test]
fn sigma_must_be_positive_finite_and_at_most_four() {
    for bad in [json!({"sigma": 0.0}), json!({"sigma": -0.25}), json!({"sigma": 5.0})] {
        let err = spec(bad.clone()).unwrap_err().to_string();
        assert!(err.contains("gaussian") && err.contains("sigma"), "{bad}: {err}");
    }
    for bad in [f64::NAN, f64::INFINITY] {
        let err = GaussianAugmentation::new(GaussianSettings { sigma: bad })
            .unwrap_err()
            .to_string();
        assert!(err.contains("sigma") && err.contains(&bad.to_string()), "{err}");
    }
    let err = spec(json!({"sigma": "wide"})).unwrap_err().to_string();
    assert!(err.contains("gaussian"), "{err}");
    let err = spec(json!({"eps": 8.0})).unwrap_err().to_string();
    assert!(err.contains("gaussian") && err.contains("'eps'") && err.contains("sigma"), "{err}");

    assert_eq!(spec(json!({"sigma": 4.0})).unwrap().describe(), "gaussian sigma=4.0");
    let default = DefenseSpec::new("gaussian-augmentation", &Map::new()).unwrap();
    assert_eq!(default.describe(), "gaussian sigma=0.25");
}

/// Certification reads the σ to smooth at off the spec, whichever defense it is: gaussian
/// augmentation's own, and none for every defense that does not train for smoothing.
#[test]
fn only_gaussian_augmentation_has_a_smoothing_sigma() {
    for entry in DEFENSES.iter() {
        let spec = DefenseSpec::new(entry.name, &Map::new()).unwrap();
        let want = (entry.name == ENTRY.info.name).then_some(0.25);
        assert_eq!(spec.smoothing_sigma().unwrap(), want, "{}", entry.name);
    }
    assert_eq!(
        spec(json!({"sigma": 0.5})).unwrap().smoothing_sigma().unwrap(),
        Some(0.5)
    );
    let unknown: DefenseSpec =
        serde_json::from_value(json!({"defense": "smoothing-2030", "settings": {}})).unwrap();
    let err = unknown.smoothing_sigma().unwrap_err().to_string();
    assert!(err.contains("smoothing-2030"), "{err}");
}

/// A short run on synthetic dermoscopy: the loss falls, a checkpoint resumes to the same numbers
/// (the noise is keyed, not drawn from the device's stream), and the card records σ.
#[test]
fn gaussian_training_learns_resumes_and_records_sigma() {
    let splits = derm(32);
    let train = splits.train.as_ref();
    let defense = spec(json!({"sigma": 0.12})).unwrap();
    let trainer = || {
        let config = TrainConfig {
            epochs: 10,
            batch_size: 8,
            learning_rate: 3e-3,
            recipe: TrainingRecipe {
                defense: defense.clone(),
                ..TrainingRecipe::default()
            },
            ..TrainConfig::default()
        };
        let model = seeded_small_cnn(train.info(), 16, 4, 1);
        Trainer::new(model, config, &train.info().name, &cpu()).unwrap()
    };
    let mut straight = trainer();
    let mut losses = Vec::new();
    while !straight.is_finished() {
        losses.push(straight.train_epoch(train, &mut |_| {}).unwrap().mean_loss);
    }
    // 32 images make a noisy curve: the last three epochs against the first.
    let late = losses[7..].iter().sum::<f64>() / 3.0;
    assert!(late < 0.8 * losses[0], "losses {losses:?}");

    let mut interrupted = trainer();
    interrupted.train_epoch(train, &mut |_| {}).unwrap();
    let bytes = interrupted.checkpoint().unwrap();
    let mut resumed = Trainer::resume(&bytes, "gaussian.ckpt", &cpu()).unwrap();
    resumed.train_epoch(train, &mut |_| {}).unwrap();
    let two: Vec<f64> = resumed.history.iter().map(|e| e.mean_loss).collect();
    assert_eq!(two, losses[..2], "resumed {two:?}, straight {losses:?}");

    let card = straight.finish(train.len()).card;
    let read: ModelCard = serde_json::from_str(&serde_json::to_string(&card).unwrap()).unwrap();
    let training = read.training.unwrap();
    assert_eq!(training.recipe.defense, defense);
    assert_eq!(training.recipe.defense.smoothing_sigma().unwrap(), Some(0.12));
    assert!(
        training.describe().starts_with("gaussian sigma=0.12; 10 epochs"),
        "{}",
        training.describe()
    );
}
