//! Defenses: training objectives plugged into the one trainer (same loop, checkpoints, resume).
//! Each is one type implementing [`Defense`]: given a batch and the model being trained, the loss
//! to minimise. The inner maximisations are the attack registry's PGD, run against a frozen copy
//! of the current weights with batch norm on its running statistics (the references switch to
//! `model.eval()` for the attack), so the attack does not disturb the statistics it trains.

mod divergence;
mod inner;
mod registry;

// The one list of defenses: adding one is its file (with an `ENTRY`) and its name here.
registry::defenses!(clean, pgd_at, mpadvt, mart, trades, gaussian; test: throwaway);

pub use clean::CleanTraining;
pub use divergence::kl_terms;
pub use gaussian::{AUGMENTATION_NOISE, GaussianAugmentation, GaussianSettings};
pub use mart::{Mart, MartSettings, SEED_EPS};
pub use mpadvt::{MixedPerturbationTraining, MpadvtDraw, MpadvtSettings};
pub use pgd_at::{PgdAdversarialTraining, PgdAtSettings};
pub use registry::{DefenseEntry, DefenseInfo, DefenseSpec, defense_entry, defense_info};
pub use trades::{Trades, TradesSettings};

use std::cell::OnceCell;

use burn::Tensor;
use burn::tensor::Device;

use crate::attack::{AttackedModel, SampleKeys};
use crate::model::DiagnosticModel;
use crate::train::ClassificationLoss;
use crate::{Label, Result};

/// One training batch, as a defense sees it.
pub struct TrainingBatch<'a> {
    /// The model being trained: autodiff weights, batch norm in training mode.
    pub model: &'a DiagnosticModel,
    /// The plain device the batch lives on.
    pub device: &'a Device,
    /// `[batch, channels, height, width]`, pixels in [0, 1], on the plain device.
    pub images: Tensor<4>,
    /// One-hot / multi-hot `[batch, classes]`, on the plain device.
    pub targets: Tensor<2>,
    /// The ground truth of each image, in batch order.
    pub labels: &'a [Label],
    /// Keys of the images (the run's seed for this epoch, each image's index; a repeat drawn by
    /// class balancing has a key of its own): random starts follow the image, not the batch.
    pub keys: &'a SampleKeys,
    /// Key of the batch itself, for per-batch draws (MPAdvT).
    pub batch_key: u64,
    /// The classification term (cross-entropy or focal).
    pub loss: ClassificationLoss,
    /// The frozen copy, made when a defense first asks (clean training never does).
    pub(crate) attacked: OnceCell<AttackedModel>,
}

impl TrainingBatch<'_> {
    /// The current weights frozen, for the inner maximisation.
    pub fn attacked(&self) -> &AttackedModel {
        self.attacked
            .get_or_init(|| AttackedModel::new(&self.model.valid(), self.device))
    }

    /// Logits of the trained model (gradients reach its weights) for plain-device `images`.
    pub fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        use crate::model::Classifier;
        self.model.logits(images.autodiff())
    }

    /// The classification loss of the trained model on `images`, batch mean `[1]`.
    pub fn classification_loss(&self, images: Tensor<4>) -> Tensor<1> {
        let logits = self.logits(images);
        self.loss.mean(
            self.model.card.task,
            logits,
            self.targets.clone().autodiff(),
        )
    }
}

/// A training objective.
pub trait Defense {
    /// The registry name (`clean`, `pgd-at`, …).
    fn name(&self) -> &'static str;

    /// The ε (1/255 units) the model is hardened at, if the defense has one: what robust model
    /// selection attacks with unless told otherwise.
    fn training_eps(&self) -> Option<f32>;

    /// The noise level (σ in [0, 1] pixel units) the model was trained to be smoothed at, if the
    /// defense trains for randomized smoothing: what certification smooths with unless told
    /// otherwise.
    fn smoothing_sigma(&self) -> Option<f32> {
        None
    }

    /// The loss of one batch, on the autodiff device, ready for `backward`.
    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>>;
}

#[cfg(test)]
mod tests;
