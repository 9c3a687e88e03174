//! Training a GAP generator against a frozen classifier (Adam, β₁ = 0.5 as in GAP's code).

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::gap::{GapCard, GenerativeAdversarialPerturbation, shape_text};
use super::generator::{GeneratorConfig, scale_to_budget};
use super::{Budget, Goal};
use crate::data::{BatchLoader, Dataset, batch_targets};
use crate::model::{Classifier, DiagnosticModel};
use crate::train::check_compatible;
use crate::{Error, Result, task};

/// How to train a generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapSettings {
    /// The generator to train (architecture, sizes, width).
    pub generator: GeneratorConfig,
    /// Pixel units, L∞.
    pub eps: f32,
    /// Learn one perturbation for every image instead of one per image.
    pub universal: bool,
    /// Passes over the training data.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// Adam's (β₁ = 0.5, as GAP), constant over the run.
    pub learning_rate: f64,
    /// Seeds the generator's initialisation, the universal noise and the shuffle of every epoch.
    pub seed: u64,
}

impl GapSettings {
    /// GAP's defaults around `generator` and `eps`: image-dependent, 10 epochs, learning rate
    /// 2e-4.
    pub fn new(generator: GeneratorConfig, eps: f32) -> Self {
        Self {
            generator,
            eps,
            universal: false,
            epochs: 10,
            batch_size: 32,
            learning_rate: 2e-4,
            seed: 0,
        }
    }

    /// Checks ε (in (0, 1]), the generator's sizes, and that epochs, batch size and learning rate
    /// are positive.
    pub fn validate(&self) -> Result<()> {
        self.generator.validate()?;
        Budget::linf(self.eps).validate()?;
        if self.eps == 0.0 {
            return Err(Error::invalid(
                "GAP needs ε > 0: at ε = 0 the generator has nothing to learn",
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::invalid(
                "GAP needs at least one epoch and a batch size of at least 1",
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::invalid(format!(
                "the learning rate must be a positive number, got {}",
                self.learning_rate
            )));
        }
        Ok(())
    }

    /// A different order each epoch, the same for a given seed.
    fn shuffle_seed(&self, epoch: usize) -> u64 {
        self.seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(epoch as u64 + 1)
    }
}

/// Progress of generator training, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct GapProgress {
    /// 1-based.
    pub epoch: usize,
    /// Total epochs of the run.
    pub epochs: usize,
    /// 1-based.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
    /// The attack loss of this batch (lower is stronger).
    pub loss: f64,
}

/// Checks that the settings are sound and fit the model and the data.
fn check_setup(model: &DiagnosticModel, data: &dyn Dataset, settings: &GapSettings) -> Result<()> {
    settings.validate()?;
    check_compatible(model, data)?;
    let input = &model.card.input;
    let generator = &settings.generator;
    let [h, w] = generator.input_size();
    let model_shape = [input.channels, input.height, input.width];
    if [generator.channels(), h, w] != model_shape {
        return Err(Error::invalid(format!(
            "the {} generator takes {} images but the {} model takes {}",
            generator.name(),
            shape_text([generator.channels(), h, w]),
            model.card.architecture.name(),
            shape_text(model_shape)
        )));
    }
    Ok(())
}

/// Trains a generator against `model`, which stays frozen (inference batch norm, no weight
/// gradients), on `data`. The generator's initialisation draws from `device`'s random stream,
/// seeded here from the settings. `on_batch` reports every step.
pub fn train_generator(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    settings: &GapSettings,
    device: &Device,
    on_batch: &mut dyn FnMut(GapProgress),
) -> Result<GenerativeAdversarialPerturbation> {
    check_setup(model, data, settings)?;
    let card = &model.card;
    let (kind, classes) = (card.task, card.num_classes());
    let frozen = model.frozen(device);
    let inference = model.valid();

    device.seed(settings.seed);
    let generator = match settings.universal {
        true => settings.generator.init_universal(settings.seed, device),
        false => settings.generator.init(device),
    };
    let mut generator = generator.to_device(&device.clone().autodiff()).train();
    let mut optimizer = AdamConfig::new().with_beta_1(0.5).init();

    for epoch in 0..settings.epochs {
        let loader = BatchLoader::new(
            data,
            settings.batch_size,
            &card.input,
            Some(settings.shuffle_seed(epoch)),
        );
        let batches = loader.num_batches();
        for (index, samples) in loader.enumerate() {
            let batch = batch_targets(samples?, kind, classes, device)?;
            let clean_logits =
                (!kind.is_multi_label()).then(|| inference.logits(batch.images.clone()));
            let targets =
                Goal::LeastLikely.targets(&batch.labels, kind, classes, clean_logits, device)?;
            let images = batch.images.autodiff();
            let delta = scale_to_budget(generator.forward(images.clone()), settings.eps);
            let logits = frozen.logits((images + delta).clamp(0.0, 1.0));
            let loss = task::loss(kind, logits, targets.autodiff());
            let grads = GradientsParams::from_grads(loss.backward(), &generator);
            let value = f64::from(loss.into_scalar::<f32>());
            if !value.is_finite() {
                return Err(Error::invalid(format!(
                    "GAP training diverged (loss {value}) in epoch {}, batch {}: lower the \
                     learning rate",
                    epoch + 1,
                    index + 1
                )));
            }
            generator = optimizer.step(settings.learning_rate, generator, grads);
            on_batch(GapProgress {
                epoch: epoch + 1,
                epochs: settings.epochs,
                batch: index + 1,
                batches,
                loss: value,
            });
        }
    }

    let input = &card.input;
    Ok(GenerativeAdversarialPerturbation {
        generator: generator.valid(),
        card: GapCard {
            generator: settings.generator,
            eps: settings.eps,
            universal: settings.universal,
            channels: input.channels,
            height: input.height,
            width: input.width,
            model_architecture: card.architecture.name().to_string(),
            model_classes: card.class_names.clone(),
            trained_on: data.info().name.clone(),
            epochs: settings.epochs,
        },
        budget: Budget::linf(settings.eps),
    })
}
