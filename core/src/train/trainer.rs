use burn::Tensor;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data_parallel;
use super::evaluate::check_compatible;
use super::{Selection, TrainConfig, predict};
use crate::attack::{ProjectedGradientDescent, SampleKeys};
use crate::data::{Augmentation, BatchLoader, Dataset, balanced_order, batch_targets, draw_keys};
use crate::defense::TrainingBatch;
use crate::metrics::{self, Metrics};
use crate::model::{DiagnosticModel, SelectedEpoch, TrainingSummary};
use crate::robustness::evaluate_attack;
use crate::{Error, Label, Result};

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss per image over the epoch.
    pub mean_loss: f64,
    /// Images trained on (with class balancing, drawn with replacement).
    pub samples: usize,
    /// The model-selection score on the validation split, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<f64>,
}

/// Batches between two reads of the training loss. A read waits for the device to finish
/// everything queued (on a GPU, the next batches' work queues behind this one's instead); the
/// sum stays on the device between reads.
pub const LOSS_READ_EVERY: usize = 8;

/// Progress inside an epoch, after each batch, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct BatchProgress {
    /// 1-based, within the epoch.
    pub batch: usize,
    /// Batches in the epoch.
    pub batches: usize,
    /// Images trained on so far in the epoch.
    pub samples: usize,
    /// Mean loss per image over the batches since the last read of the loss (at most
    /// [`LOSS_READ_EVERY`], ending with this one).
    pub loss: f64,
}

/// The best epoch so far by the selection score, and its weights.
#[derive(Clone)]
pub struct BestEpoch {
    /// 1-based.
    pub epoch: usize,
    /// Its validation score (accuracy; macro AUC for multi-label tasks), higher is better.
    pub score: f64,
    pub(crate) model: DiagnosticModel,
}

/// A model being trained, with its optimiser state and history: everything a checkpoint holds.
pub struct Trainer {
    /// The run's settings; the recipe part is fixed for the run (see `train/resume.rs`).
    pub config: TrainConfig,
    pub(crate) model: DiagnosticModel,
    pub(crate) optimizer: ModuleOptimizer,
    /// Completed epochs.
    pub epoch: usize,
    /// One entry per completed epoch.
    pub history: Vec<EpochStats>,
    pub(crate) data_name: String,
    pub(crate) best: Option<BestEpoch>,
    /// The plain device (the model lives on its autodiff version).
    device: Device,
    /// The plain device of each replica, one per part of a batch (the recipe's `devices`); the
    /// first is `device`.
    devices: Vec<Device>,
    /// Labels of the training split, read once for class balancing.
    labels: Option<Vec<Label>>,
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
        let devices = vec![device.clone(); config.recipe.devices];
        Ok(Self {
            optimizer: config.optimizer(),
            model: model.trainable(device),
            config,
            epoch: 0,
            history: Vec::new(),
            data_name: data_name.to_string(),
            best: None,
            device: device.clone(),
            devices,
            labels: None,
        })
    }

    /// Puts the recipe's replicas on `devices` (one GPU each), the first being the trainer's
    /// own; until then they all share the trainer's device, each part on a thread of its own
    /// (what one CPU device does).
    pub fn place_replicas(&mut self, devices: Vec<Device>) -> Result<()> {
        let wanted = self.config.recipe.devices;
        if devices.len() != wanted {
            return Err(Error::invalid(format!(
                "the run trains on {wanted} devices, {} were given",
                devices.len()
            )));
        }
        if devices.first() != Some(&self.device) {
            return Err(Error::invalid(
                "the first device of a data-parallel run is the one its model lives on",
            ));
        }
        self.devices = devices;
        Ok(())
    }

    /// Whether every epoch of the config has run.
    pub fn is_finished(&self) -> bool {
        self.epoch >= self.config.epochs
    }

    /// The data set the run trains on, as named when it started.
    pub fn data_name(&self) -> &str {
        &self.data_name
    }

    /// The model in training (autodiff weights, training-mode batch norm).
    pub fn model(&self) -> &DiagnosticModel {
        &self.model
    }

    /// The best epoch so far by the selection score.
    pub fn best(&self) -> Option<&BestEpoch> {
        self.best.as_ref()
    }

    /// The order of epoch `epoch`'s samples: a seeded shuffle, or a class-balanced draw.
    fn epoch_order(&mut self, data: &dyn Dataset) -> Result<Vec<usize>> {
        let seed = self.config.shuffle_seed(self.epoch);
        if !self.config.recipe.balance {
            let mut order: Vec<usize> = (0..data.len()).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            return Ok(order);
        }
        if self.labels.as_ref().map(Vec::len) != Some(data.len()) {
            self.labels = Some(
                (0..data.len())
                    .map(|i| data.label(i))
                    .collect::<Result<_>>()?,
            );
        }
        balanced_order(self.labels.as_deref().unwrap_or_default(), seed)
    }

    /// One pass over `data` in a seeded order, each batch's loss from the run's defense.
    pub fn train_epoch(
        &mut self,
        data: &dyn Dataset,
        on_batch: &mut dyn FnMut(BatchProgress),
    ) -> Result<EpochStats> {
        check_compatible(&self.model, data)?;
        let defense = self.config.recipe.defense.build()?;
        let card = self.model.card.clone();
        let order = self.epoch_order(data)?;
        // Keys of this epoch's random draws: per image (starts, augmentation) and per batch.
        let epoch_seed = self.config.shuffle_seed(self.epoch);
        let augmentation = self.config.recipe.augment.then_some(Augmentation {
            seed: self.config.seed,
            epoch: self.epoch as u64,
        });
        let batch_size = self.config.batch_size;
        let keys = draw_keys(&order, data.len());
        let loader = BatchLoader::new(data, batch_size, &card.input, None)
            .with_order(order)
            .augmented(augmentation);
        let batches = loader.num_batches();
        let (mut loss_sum, mut samples) = (0.0, 0);
        // The summed loss × images of the batches not read yet, their images and first batch.
        let mut unread: Option<(Tensor<1>, usize, usize)> = None;
        let mut shown = f64::NAN;
        for (index, prepared) in loader.enumerate() {
            let batch = batch_targets(prepared?, card.task, card.num_classes(), &self.device)?;
            let rows = batch.labels.len();
            // Keyed by image (a repeat drawn by class balancing by its own key): batch-size
            // independent, and each draw of an image gets its own random start.
            let first = index * batch_size;
            let keys = SampleKeys::new(epoch_seed, keys[first..first + rows].to_vec());
            let batch = TrainingBatch {
                model: &self.model,
                device: &self.device,
                images: batch.images,
                targets: batch.targets,
                labels: &batch.labels,
                keys: &keys,
                batch_key: epoch_seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
                loss: self.config.recipe.loss,
                attacked: Default::default(),
            };
            let (loss, grads) = match self.devices.as_slice() {
                [_] => {
                    let loss = defense.loss(&batch)?;
                    let grads = GradientsParams::from_grads(loss.backward(), &self.model.network);
                    (loss.detach().without_autodiff(), grads)
                }
                devices => {
                    let step = data_parallel::step(&batch, &self.config.recipe.defense, devices)?;
                    drop(batch);
                    self.model.network = step.statistics.apply(self.model.network.clone());
                    (step.loss, step.grads)
                }
            };
            let weighted = loss.mul_scalar(rows as f32);
            unread = Some(match unread.take() {
                Some((sum, n, first)) => (sum + weighted, n + rows, first),
                None => (weighted, rows, index),
            });
            if (index + 1) % LOSS_READ_EVERY == 0 || index + 1 == batches {
                let (sum, n, first) = unread.take().expect("this batch's loss is unread");
                let sum = f64::from(sum.into_scalar::<f32>());
                if !sum.is_finite() {
                    return Err(Error::invalid(format!(
                        "training diverged (loss {sum}) in epoch {}, batches {}–{}: lower --lr",
                        self.epoch + 1,
                        first + 1,
                        index + 1
                    )));
                }
                loss_sum += sum;
                shown = sum / n as f64;
            }
            // Modules hold reference-counted tensor handles: the clone copies no weights.
            let network = self.model.network.clone();
            let progress =
                (self.epoch * batches + index) as f64 / (self.config.epochs * batches) as f64;
            let lr = self.config.learning_rate_at(progress);
            self.model.network = self.optimizer.step(lr, network, grads);
            samples += rows;
            on_batch(BatchProgress {
                batch: index + 1,
                batches,
                samples,
                loss: shown,
            });
        }
        self.epoch += 1;
        let stats = EpochStats {
            epoch: self.epoch,
            mean_loss: loss_sum / samples.max(1) as f64,
            samples,
            validation: None,
        };
        self.history.push(stats.clone());
        Ok(stats)
    }

    /// Scores the model as it is now on `validation` by the run's selection rule, records the
    /// score in the last epoch's stats and keeps these weights if they are the best so far.
    /// `None` when the run keeps its last epoch. `on_batch(done, total)` reports progress.
    pub fn select(
        &mut self,
        validation: &dyn Dataset,
        on_batch: &mut dyn FnMut(usize, usize),
    ) -> Result<Option<f64>> {
        if self.config.select == Selection::Last {
            return Ok(None);
        }
        let model = self.model.valid();
        let metrics = match self.config.select {
            Selection::Last => unreachable!("returned above"),
            Selection::Clean => {
                metrics::evaluate(&predict(&model, validation, 64, &self.device, on_batch)?)?
            }
            Selection::Robust {
                eps,
                steps,
                convention,
            } => {
                let mut attack = ProjectedGradientDescent::linf(eps / 255.0, steps);
                attack.budget.convention = convention;
                let range = 0..validation.len();
                evaluate_attack(
                    &model,
                    validation,
                    range,
                    &attack,
                    self.config.seed,
                    64,
                    0,
                    &self.device,
                    on_batch,
                )?
                .metrics
                .adversarial
            }
        };
        let score = selection_score(&metrics);
        if let Some(last) = self.history.last_mut() {
            last.validation = Some(score);
        }
        if self.best.as_ref().is_none_or(|b| score > b.score) {
            self.best = Some(BestEpoch {
                epoch: self.epoch,
                score,
                model,
            });
        }
        Ok(Some(score))
    }

    /// The model as trained so far, back on the plain (inference) device, with its training
    /// summary.
    pub fn finish(&self, train_samples: usize) -> DiagnosticModel {
        self.summarised(self.model.valid(), train_samples, None)
    }

    /// The model the run keeps: the best epoch's by the selection score, else the last.
    pub fn selected(&self, train_samples: usize) -> DiagnosticModel {
        match &self.best {
            Some(best) => self.summarised(
                best.model.clone(),
                train_samples,
                Some(SelectedEpoch {
                    by: self.config.select,
                    epoch: best.epoch,
                    score: best.score,
                }),
            ),
            None => self.finish(train_samples),
        }
    }

    fn summarised(
        &self,
        mut model: DiagnosticModel,
        train_samples: usize,
        selected: Option<SelectedEpoch>,
    ) -> DiagnosticModel {
        let c = &self.config;
        model.card.training = Some(TrainingSummary {
            data: self.data_name.clone(),
            train_samples,
            epochs: self.epoch,
            batch_size: c.batch_size,
            optimizer: c.optimizer.to_string(),
            learning_rate: c.learning_rate,
            seed: c.seed,
            final_loss: self.history.last().map(|s| s.mean_loss),
            recipe: c.recipe.clone(),
            selected,
        });
        model
    }
}

/// What model selection maximises: accuracy for single-label tasks, macro AUC for multi-label
/// ones (accuracy at 0.5 rewards predicting "absent" everywhere on rare findings).
pub fn selection_score(metrics: &Metrics) -> f64 {
    match metrics.task.is_multi_label() {
        true => metrics.auc_macro.unwrap_or(metrics.accuracy),
        false => metrics.accuracy,
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Tolerance;

    use super::*;
    use crate::attack::Convention;
    use crate::model::Classifier;
    use crate::test_support::{LeftRight, cpu, seeded_small_cnn};
    use crate::train::{TrainConfig, TrainingRecipe, predict};

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
        // Four batches an epoch: the loss is read once, after the last (LOSS_READ_EVERY = 8).
        let mut read = Vec::new();
        while !trainer.is_finished() {
            trainer
                .train_epoch(&data, &mut |p| {
                    assert_eq!(p.loss.is_finite(), p.batch == p.batches, "{}", p.batch);
                    if p.loss.is_finite() {
                        read.push(p.loss)
                    }
                })
                .unwrap();
        }
        let history: Vec<f64> = trainer.history.iter().map(|e| e.mean_loss).collect();
        // What progress showed is each epoch's mean, as the history has it.
        assert_eq!(read.len(), history.len());
        for (shown, mean) in read.iter().zip(&history) {
            assert!((shown - mean).abs() < 1e-9, "{shown} vs {mean}");
        }
        assert!(
            history[history.len() - 1] < 0.5 * history[0],
            "loss {history:?}"
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

    /// Model selection, augmentation and class balancing all survive an interruption: the
    /// resumed run has the same history, keeps the same best epoch and writes the same model.
    #[test]
    fn selection_augmentation_and_balance_resume_exactly() {
        let (data, validation) = (LeftRight::new(32, 16), LeftRight::new(12, 16));
        let config = TrainConfig {
            epochs: 3,
            batch_size: 16,
            recipe: TrainingRecipe {
                augment: true,
                balance: true,
                ..TrainingRecipe::default()
            },
            select: Selection::Clean,
            ..TrainConfig::default()
        };
        let fresh = || {
            let model = seeded_small_cnn(&data.info, 16, 4, 11);
            Trainer::new(model, config.clone(), &data.info.name, &cpu()).unwrap()
        };
        let epoch = |t: &mut Trainer| {
            t.train_epoch(&data, &mut |_| {}).unwrap();
            t.select(&validation, &mut |_, _| {}).unwrap().unwrap()
        };
        let mut straight = fresh();
        let scores: Vec<f64> = (0..3).map(|_| epoch(&mut straight)).collect();

        let mut interrupted = fresh();
        epoch(&mut interrupted);
        epoch(&mut interrupted);
        let bytes = interrupted.checkpoint().unwrap();
        let mut resumed = Trainer::resume(&bytes, "run.ckpt", &cpu()).unwrap();
        assert_eq!(
            resumed.best().map(|b| b.epoch),
            interrupted.best().map(|b| b.epoch)
        );
        epoch(&mut resumed);

        assert_eq!(resumed.history, straight.history);
        let best = straight.best().unwrap();
        let top = scores.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(best.score, top);
        assert_eq!(
            scores[best.epoch - 1],
            top,
            "the first epoch with the top score"
        );
        let (a, b) = (straight.selected(32), resumed.selected(32));
        let x = crate::data::images_to_tensor(&[&data.get(3).unwrap().image], &cpu());
        a.logits(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&b.logits(x).into_data(), Tolerance::absolute(1e-6));
        let kept = a.card.training.unwrap().selected.unwrap();
        assert_eq!((kept.epoch, kept.score), (best.epoch, best.score));
        // Another seed augments and samples differently.
        let mut other = {
            let model = seeded_small_cnn(&data.info, 16, 4, 11);
            let config = TrainConfig {
                seed: 1,
                ..config.clone()
            };
            Trainer::new(model, config, &data.info.name, &cpu()).unwrap()
        };
        epoch(&mut other);
        assert_ne!(other.history[0].mean_loss, straight.history[0].mean_loss);
    }

    /// Robust selection scores under PGD: never above the clean score of the same weights.
    #[test]
    fn robust_selection_scores_under_attack() {
        let (data, validation) = (LeftRight::new(16, 16), LeftRight::new(12, 16));
        let score = |select| {
            let model = seeded_small_cnn(&data.info, 16, 4, 11);
            let config = TrainConfig {
                epochs: 1,
                batch_size: 16,
                select,
                ..TrainConfig::default()
            };
            let mut t = Trainer::new(model, config, &data.info.name, &cpu()).unwrap();
            t.train_epoch(&data, &mut |_| {}).unwrap();
            t.select(&validation, &mut |_, _| {}).unwrap().unwrap()
        };
        let clean = score(Selection::Clean);
        for convention in [Convention::Pixel, Convention::Paper] {
            let robust = score(Selection::Robust {
                eps: 32.0,
                steps: 3,
                convention,
            });
            assert!(
                robust <= clean,
                "{convention:?}: robust {robust} > clean {clean}"
            );
        }
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
