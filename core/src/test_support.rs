//! Small fixtures shared by the crate's unit tests.

use std::sync::{Mutex, MutexGuard};

use burn::tensor::Device;

use crate::data::{Dataset, DatasetInfo, Image, Sample};
use crate::model::DiagnosticModel;
use crate::{Label, Result, TaskKind};

/// The CPU backend every unit test runs on.
pub fn cpu() -> Device {
    Device::flex()
}

/// The device's random stream is global and tests run in parallel: every test that draws from
/// it (initialising a model, a random input) holds this lock, so a seeded test gets the numbers
/// its seed promises.
pub fn rng_lock() -> MutexGuard<'static, ()> {
    static RNG: Mutex<()> = Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh small-cnn for `data`, initialised from `seed`.
pub fn seeded_small_cnn(
    data: &DatasetInfo,
    size: usize,
    width: usize,
    seed: u64,
) -> DiagnosticModel {
    let _guard = rng_lock();
    let device = cpu();
    device.seed(seed);
    DiagnosticModel::create("small-cnn", data, size, Some(width), &device).unwrap()
}

/// `attack` over the images `range` of `data` on the CPU, `batch` at a time with the draws of
/// `seed`, keeping no examples and showing no progress: what the attack tests compare.
pub fn attack_on_cpu(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    range: std::ops::Range<usize>,
    attack: &dyn crate::attack::Attack,
    seed: u64,
    batch: usize,
) -> crate::robustness::AttackEvaluation {
    crate::robustness::evaluate_attack(
        model,
        data,
        range,
        attack,
        seed,
        batch,
        0,
        &cpu(),
        &mut |_, _| {},
    )
    .unwrap()
}

/// A tiny learnable task: class 1 images are bright on the left, class 0 on the right, with a
/// deterministic texture so that no two images are alike.
pub struct LeftRight {
    pub info: DatasetInfo,
    pub n: usize,
    pub size: usize,
}

impl LeftRight {
    pub fn new(n: usize, size: usize) -> Self {
        Self {
            info: DatasetInfo {
                name: format!("left-right:{n}"),
                task: TaskKind::Binary,
                class_names: vec!["right".into(), "left".into()],
                channels: 3,
            },
            n,
            size,
        }
    }
}

impl Dataset for LeftRight {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.n
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let class = index % 2;
        let s = self.size;
        let mut pixels = Vec::with_capacity(3 * s * s);
        for c in 0..3 {
            for y in 0..s {
                for x in 0..s {
                    let left = x < s / 2;
                    let bright = if class == 1 { left } else { !left };
                    let texture = ((x * 7 + y * 13 + index * 31 + c * 5) % 17) as f32 / 17.0;
                    pixels.push(if bright {
                        0.6 + 0.3 * texture
                    } else {
                        0.1 + 0.3 * texture
                    });
                }
            }
        }
        Ok(Sample {
            image: Image::new(3, s, s, pixels),
            label: Label::Class(class),
        })
    }
}

/// A small-cnn trained on [`LeftRight`] (16-pixel images) until it is right on nearly every
/// image: what the attack tests attack. Trained once per test process.
pub fn trained_left_right() -> &'static DiagnosticModel {
    static MODEL: std::sync::OnceLock<DiagnosticModel> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| train_left_right(16, 4))
}

/// The same at 32 pixels: its last block keeps a 2 × 2 map, so a map can tell left from right.
pub fn trained_left_right_32() -> &'static DiagnosticModel {
    static MODEL: std::sync::OnceLock<DiagnosticModel> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| train_left_right(32, 12))
}

fn train_left_right(size: usize, epochs: usize) -> DiagnosticModel {
    use crate::train::{TrainConfig, Trainer};
    let data = LeftRight::new(64, size);
    let model = seeded_small_cnn(&data.info, size, 4, 11);
    let config = TrainConfig {
        epochs,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, config, &data.info.name, &cpu()).unwrap();
    while !trainer.is_finished() {
        trainer.train_epoch(&data, &mut |_| {}).unwrap();
    }
    trainer.finish(data.len())
}

/// The first `n` images of [`LeftRight`] as a batch, with their labels.
pub fn left_right_batch(n: usize) -> (burn::Tensor<4>, Vec<Label>) {
    let data = LeftRight::new(n, 16);
    let samples: Vec<Sample> = (0..n).map(|i| data.get(i).unwrap()).collect();
    let images: Vec<&Image> = samples.iter().map(|s| &s.image).collect();
    let tensor = crate::data::images_to_tensor(&images, &cpu());
    (tensor, samples.iter().map(|s| s.label.clone()).collect())
}

/// A burnpack file's `bytes` with its metadata edited and, if `poison`, a NaN in its first float tensor.
pub fn rewrite_burnpack(
    bytes: Vec<u8>,
    edit: impl FnOnce(&mut std::collections::BTreeMap<String, String>),
    poison: bool,
) -> Vec<u8> {
    let reader = burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).unwrap();
    let mut metadata = reader.metadata().clone();
    edit(&mut metadata);
    let mut poisoned = !poison;
    let tensors = reader
        .into_tensors()
        .unwrap()
        .into_iter()
        .map(|t| {
            let (name, dtype, shape, id, data) = t.into_parts().unwrap();
            let mut data = data.to_vec();
            if dtype == burn::tensor::DType::F32 && !poisoned {
                data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
                poisoned = true;
            }
            burn_pack::Tensor::new(
                name,
                dtype,
                shape,
                id,
                burn::tensor::Bytes::from_bytes_vec(data),
            )
        })
        .collect();
    let mut writer = burn_pack::Writer::new(tensors);
    for (k, v) in &metadata {
        writer = writer.with_metadata(k, v);
    }
    writer.into_bytes().unwrap().to_vec()
}

/// A test input side for architecture `name` at its tiny width: 32 pixels, or the least it
/// takes.
pub(crate) fn tiny_side(name: &str) -> usize {
    use crate::model::{ArchitectureConfig, ModelOptions, architecture};
    let info = architecture(name).unwrap();
    let options = ModelOptions {
        channels: 3,
        classes: 2,
        width: Some(info.tiny_width),
        input_size: info.tiny_size,
    };
    let config = ArchitectureConfig::from_name(name, &options).unwrap();
    config.min_input_size().max(32)
}

/// What a run told its shell, for tests of resumable runs: each unit's plan, the progress calls
/// and how many times the report was written.
pub struct Recorded<R: crate::run::RunReport> {
    pub plans: Vec<crate::run::Plan<R::Unit>>,
    pub progress: usize,
    pub written: usize,
}

impl<R: crate::run::RunReport> Default for Recorded<R> {
    fn default() -> Self {
        Self {
            plans: Vec::new(),
            progress: 0,
            written: 0,
        }
    }
}

impl<R: crate::run::RunReport> crate::run::Events<R> for Recorded<R> {
    fn unit_start(&mut self, _: &str, plan: &crate::run::Plan<R::Unit>) {
        self.plans.push(plan.clone());
    }
    fn progress(&mut self, _: usize, _: usize) {
        self.progress += 1;
    }
    fn unit_done(&mut self, _: &R) -> Result<()> {
        self.written += 1;
        Ok(())
    }
}

/// A recorded subject for tests of resumable runs: a made-up model hash and data fingerprint,
/// the test split of `data`, and `seed`.
pub fn subject(data: &str, seed: u64) -> crate::robustness::Subject {
    crate::robustness::Subject {
        model_sha256: "ab".repeat(32),
        data: data.into(),
        data_fingerprint: Some("cd".repeat(32)),
        split: "test".into(),
        seed,
    }
}
