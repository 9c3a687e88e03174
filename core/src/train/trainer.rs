use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::TrainConfig;
use super::evaluate::check_compatible;
use crate::data::{BatchLoader, Dataset, batch_targets};
use crate::model::{Classifier, DiagnosticModel, TrainingSummary};
use crate::{Error, Result, task};

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    pub mean_loss: f64,
    pub samples: usize,
}

/// Progress inside an epoch, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct BatchProgress {
    pub batch: usize,
    pub batches: usize,
    pub samples: usize,
    /// Loss of this batch.
    pub loss: f64,
}

/// A model being trained, with its optimiser state and history: everything a checkpoint holds.
pub struct Trainer {
    pub config: TrainConfig,
    pub(crate) model: DiagnosticModel,
    pub(crate) optimizer: ModuleOptimizer,
    /// Completed epochs.
    pub epoch: usize,
    pub history: Vec<EpochStats>,
    pub(crate) data_name: String,
}

impl Trainer {
    /// Starts training `model` (moved onto the autodiff version of `device`) on data `data_name`.
    pub fn new(
        model: DiagnosticModel,
        config: TrainConfig,
        data_name: &str,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            optimizer: config.optimizer(),
            model: model.trainable(device),
            config,
            epoch: 0,
            history: Vec::new(),
            data_name: data_name.to_string(),
        })
    }

    pub fn is_finished(&self) -> bool {
        self.epoch >= self.config.epochs
    }

    /// The data set the run trains on, as named when it started.
    pub fn data_name(&self) -> &str {
        &self.data_name
    }

    pub fn model(&self) -> &DiagnosticModel {
        &self.model
    }

    /// One pass over `data` in a seeded random order.
    pub fn train_epoch(
        &mut self,
        data: &dyn Dataset,
        on_batch: &mut dyn FnMut(BatchProgress),
    ) -> Result<EpochStats> {
        check_compatible(&self.model, data)?;
        let device = self.model_device();
        let card = self.model.card.clone();
        let loader = BatchLoader::new(
            data,
            self.config.batch_size,
            &card.input,
            Some(self.config.shuffle_seed(self.epoch)),
        );
        let batches = loader.num_batches();
        let (mut loss_sum, mut samples) = (0.0, 0);
        for (index, prepared) in loader.enumerate() {
            let batch = batch_targets(prepared?, card.task, card.num_classes(), &device)?;
            let rows = batch.labels.len();
            let loss = task::loss(card.task, self.model.logits(batch.images), batch.targets);
            let grads = GradientsParams::from_grads(loss.backward(), &self.model.network);
            let value = f64::from(loss.into_scalar::<f32>());
            if !value.is_finite() {
                return Err(Error::invalid(format!(
                    "training diverged (loss {value}) in epoch {}, batch {}: lower --lr",
                    self.epoch + 1,
                    index + 1
                )));
            }
            // Modules hold reference-counted tensor handles: the clone copies no weights.
            let network = self.model.network.clone();
            let progress =
                (self.epoch * batches + index) as f64 / (self.config.epochs * batches) as f64;
            let lr = self.config.learning_rate_at(progress);
            self.model.network = self.optimizer.step(lr, network, grads);
            loss_sum += value * rows as f64;
            samples += rows;
            on_batch(BatchProgress {
                batch: index + 1,
                batches,
                samples,
                loss: value,
            });
        }
        self.epoch += 1;
        let stats = EpochStats {
            epoch: self.epoch,
            mean_loss: loss_sum / samples.max(1) as f64,
            samples,
        };
        self.history.push(stats.clone());
        Ok(stats)
    }

    fn model_device(&self) -> Device {
        use burn::module::Module;
        self.model
            .network
            .devices()
            .into_iter()
            .next()
            .expect("a model has parameters")
    }

    /// The trained model, back on the plain (inference) device, with its training summary.
    pub fn finish(&self, train_samples: usize) -> DiagnosticModel {
        let mut model = self.model.valid();
        model.card.training = Some(TrainingSummary {
            data: self.data_name.clone(),
            train_samples,
            epochs: self.epoch,
            batch_size: self.config.batch_size,
            optimizer: self.config.optimizer.to_string(),
            learning_rate: self.config.learning_rate,
            seed: self.config.seed,
            final_loss: self.history.last().map(|s| s.mean_loss),
        });
        model
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Tolerance;

    use super::*;
    use crate::metrics;
    use crate::test_support::{LeftRight, cpu, seeded_small_cnn};
    use crate::train::{TrainConfig, predict};

    fn trainer(epochs: usize) -> Trainer {
        let data = LeftRight::new(64, 16);
        let model = seeded_small_cnn(&data.info, 16, 4, 11);
        let config = TrainConfig {
            epochs,
            batch_size: 16,
            ..TrainConfig::default()
        };
        Trainer::new(model, config, &data.info.name, &cpu()).unwrap()
    }

    #[test]
    fn loss_decreases_and_the_model_learns() {
        let data = LeftRight::new(64, 16);
        let mut trainer = trainer(4);
        let mut first_batches = Vec::new();
        while !trainer.is_finished() {
            trainer
                .train_epoch(&data, &mut |p| {
                    if first_batches.len() < 2 {
                        first_batches.push(p.loss)
                    }
                })
                .unwrap();
        }
        let last = trainer.history.last().unwrap().mean_loss;
        assert!(
            last < 0.5 * first_batches[0],
            "loss {first_batches:?} -> {last}"
        );
        let model = trainer.finish(data.len());
        let m = metrics::evaluate(&predict(&model, &data, 32, &cpu(), &mut |_, _| {}).unwrap())
            .unwrap();
        assert!(m.accuracy >= 0.9, "accuracy {}", m.accuracy);
        assert_eq!(model.card.training.as_ref().unwrap().epochs, 4);
    }

    #[test]
    fn resuming_from_a_checkpoint_reproduces_an_uninterrupted_run() {
        let data = LeftRight::new(32, 16);
        let mut straight = trainer(2);
        straight.train_epoch(&data, &mut |_| {}).unwrap();
        straight.train_epoch(&data, &mut |_| {}).unwrap();

        let mut interrupted = trainer(2);
        interrupted.train_epoch(&data, &mut |_| {}).unwrap();
        let bytes = interrupted.checkpoint().unwrap();
        drop(interrupted);
        let mut resumed = Trainer::resume(&bytes, "run.ckpt", &cpu()).unwrap();
        assert_eq!(resumed.epoch, 1);
        resumed.train_epoch(&data, &mut |_| {}).unwrap();

        assert_eq!(resumed.history, straight.history);
        let (a, b) = (straight.finish(32), resumed.finish(32));
        let x = crate::data::images_to_tensor(&[&data.get(0).unwrap().image], &cpu());
        a.logits(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&b.logits(x).into_data(), Tolerance::absolute(1e-6));
    }

    #[test]
    fn a_trained_model_survives_save_and_load() {
        let data = LeftRight::new(32, 16);
        let mut trainer = trainer(1);
        trainer.train_epoch(&data, &mut |_| {}).unwrap();
        let model = trainer.finish(32);
        let loaded =
            DiagnosticModel::from_bytes(&model.to_bytes().unwrap(), "m.bpk", &cpu()).unwrap();
        let x = crate::data::images_to_tensor(&[&data.get(1).unwrap().image], &cpu());
        model
            .logits(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&loaded.logits(x).into_data(), Tolerance::absolute(1e-6));
    }

    #[test]
    fn a_truncated_checkpoint_is_a_clear_error() {
        let bytes = trainer(1).checkpoint().unwrap();
        let err = Trainer::resume(&bytes[..bytes.len() / 2], "cut.ckpt", &cpu())
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("cut.ckpt") && err.to_string().contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn same_seed_same_weights() {
        let data = LeftRight::new(16, 16);
        let (mut a, mut b) = (trainer(1), trainer(1));
        a.train_epoch(&data, &mut |_| {}).unwrap();
        b.train_epoch(&data, &mut |_| {}).unwrap();
        assert_eq!(a.history, b.history);
    }
}

/// Every registered architecture, at its tiny size, through training and evaluation on each
/// task kind (binary RGB, multi-class RGB, multi-label grayscale).
#[cfg(test)]
mod every_architecture {
    use super::*;
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::metrics;
    use crate::model::ARCHITECTURES;
    use crate::test_support::{cpu, rng_lock};
    use crate::train::{TrainConfig, predict};

    #[test]
    fn trains_and_evaluates_on_every_task_kind() {
        let device = cpu();
        for kind in SyntheticKind::ALL {
            for arch in ARCHITECTURES {
                let config = SyntheticConfig {
                    n: 8,
                    test: 4,
                    size: arch.tiny_size,
                    seed: 1,
                };
                let splits = synthetic::open(kind, &config);
                let (train, test) = (splits.train.as_ref(), splits.test.as_ref());
                let model = {
                    let _rng = rng_lock();
                    device.seed(5);
                    DiagnosticModel::create(
                        arch.name,
                        train.info(),
                        arch.tiny_size,
                        Some(arch.tiny_width),
                        &device,
                    )
                    .unwrap()
                };
                let before = model.to_bytes().unwrap();
                let config = TrainConfig {
                    epochs: 1,
                    batch_size: 4,
                    ..TrainConfig::default()
                };
                let mut trainer = Trainer::new(model, config, &train.info().name, &device).unwrap();
                let stats = trainer.train_epoch(train, &mut |_| {}).unwrap();
                let what = format!("{} on {}", arch.name, kind.name());
                assert!(
                    stats.mean_loss.is_finite(),
                    "{what}: loss {}",
                    stats.mean_loss
                );
                let model = trainer.finish(train.len());
                assert_ne!(
                    model.to_bytes().unwrap(),
                    before,
                    "{what}: weights did not move"
                );

                let predictions = predict(&model, test, 4, &device, &mut |_, _| {}).unwrap();
                for row in &predictions.probs {
                    assert!(
                        row.iter().all(|p| (0.0..=1.0).contains(p)),
                        "{what}: {row:?}"
                    );
                    if !kind.task().is_multi_label() {
                        let sum: f32 = row.iter().sum();
                        assert!(
                            (sum - 1.0).abs() < 1e-4,
                            "{what}: probabilities sum to {sum}"
                        );
                    }
                }
                let m = metrics::evaluate(&predictions).unwrap();
                assert_eq!(m.per_class.len(), kind.class_names().len(), "{what}");
            }
        }
    }
}
