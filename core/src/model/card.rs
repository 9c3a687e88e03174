//! A model's own record: what it is, what it expects, what it predicts, what it was trained on.
//! It travels inside the model file, so a model is never used with the wrong preprocessing.

use serde::{Deserialize, Serialize};

use super::ArchitectureConfig;
use crate::TaskKind;
use crate::data::Image;
use crate::train::{ClassificationLoss, Schedule, Selection, TrainingRecipe};

/// The input a model expects. Pixels in [0, 1] go in; the model normalises with `mean` / `std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// 1 (gray) or 3 (RGB); images of other channel counts are converted.
    pub channels: usize,
    /// Input height in pixels; images are resampled to it.
    pub height: usize,
    /// Input width in pixels; images are resampled to it.
    pub width: usize,
    /// Per-channel mean subtracted from [0, 1] pixels before the network.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation the centred pixels are divided by (> 0).
    pub std: Vec<f32>,
}

impl InputSpec {
    /// The spec is one a model can be built and fed with: 1 or 3 channels, a mean and a
    /// positive std per channel, a size within the images' pixel cap ([`MAX_SIDE`] a side,
    /// [`MAX_PIXELS`] in all).
    ///
    /// [`MAX_SIDE`]: crate::data::MAX_SIDE
    /// [`MAX_PIXELS`]: crate::data::MAX_PIXELS
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: String| Err(crate::Error::invalid(format!("its input spec: {what}")));
        if self.channels != 1 && self.channels != 3 {
            return bad(format!("{} channels (1 or 3)", self.channels));
        }
        if self.mean.len() != self.channels || self.std.len() != self.channels {
            return bad(format!(
                "{} mean and {} std values for {} channels",
                self.mean.len(),
                self.std.len(),
                self.channels
            ));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return bad(format!(
                "mean {:?} / std {:?} (finite, std > 0)",
                self.mean, self.std
            ));
        }
        // The images' own cap: a model's input is an image the loader makes at this size.
        let (width, height) = (self.width as u64, self.height as u64);
        if width == 0 || height == 0 || !crate::data::image::within_pixel_cap(width, height) {
            return bad(format!(
                "{}×{} pixels (from 1 pixel to {})",
                self.width,
                self.height,
                crate::data::image::pixel_cap_text()
            ));
        }
        Ok(())
    }

    /// ImageNet statistics for RGB (what torchvision models expect), a neutral 0.5 / 0.25 for
    /// grayscale.
    pub fn with_default_stats(channels: usize, size: usize) -> Self {
        let (mean, std) = if channels == 3 {
            (vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225])
        } else {
            (vec![0.5; channels], vec![0.25; channels])
        };
        Self {
            channels,
            height: size,
            width: size,
            mean,
            std,
        }
    }
}

impl InputSpec {
    /// Values of one input image: channels × height × width.
    pub fn values(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// `image` brought to this input: channels converted, resampled only if its size differs.
    pub fn prepare(&self, image: Image) -> Image {
        image
            .with_channels(self.channels)
            .resized(self.height, self.width)
    }
}

/// The epoch model selection kept, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedEpoch {
    /// The rule that chose it (last epoch, best clean or best robust score).
    pub by: Selection,
    /// 1-based.
    pub epoch: usize,
    /// Its validation score (accuracy; macro AUC for multi-label tasks).
    pub score: f64,
}

/// How and on what a model was trained. A model written before the recipe was recorded reads as
/// clean cross-entropy training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// The data set as the user named it.
    pub data: String,
    /// Images in the training split.
    pub train_samples: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// The optimiser's name (`adam`, `sgd`).
    pub optimizer: String,
    /// The initial learning rate.
    pub learning_rate: f64,
    /// The seed of initialisation, shuffling and augmentation.
    pub seed: u64,
    /// Mean training loss of the last epoch.
    pub final_loss: Option<f64>,
    /// The objective and recipe (flattened: the card's JSON keeps one level).
    #[serde(flatten)]
    pub recipe: TrainingRecipe,
    /// The epoch kept by model selection (absent: the last).
    #[serde(default)]
    pub selected: Option<SelectedEpoch>,
}

impl TrainingSummary {
    /// The defense's registry name (`clean` for clean training and older models).
    pub fn defense_name(&self) -> &str {
        &self.recipe.defense.defense
    }

    /// One line on how the model was trained, for listings, reports and the page.
    pub fn describe(&self) -> String {
        let r = &self.recipe;
        let defense = r.defense.describe();
        let mut text = format!(
            "{defense}; {} epochs of {} ({} images), {} lr {}",
            self.epochs, self.data, self.train_samples, self.optimizer, self.learning_rate
        );
        if r.nesterov {
            text += " nesterov";
        }
        if r.weight_decay > 0.0 {
            text += &format!(" wd {}", r.weight_decay);
        }
        if let Schedule::Step { every, factor } = r.schedule {
            text += &format!(", ×{factor} every {every} epochs");
        }
        if let loss @ ClassificationLoss::Focal { .. } = r.loss {
            text += &format!(", {}", loss.describe());
        }
        if r.augment {
            text += ", augmented";
        }
        if r.balance {
            text += ", class-balanced";
        }
        if r.devices > 1 {
            text += &format!(", data-parallel on {} devices", r.devices);
        }
        if let Some(start) = &r.fine_tuned_from {
            text += &format!(", fine-tuned from {}", &start[..start.len().min(12)]);
        }
        if let Some(s) = &self.selected {
            text += &format!(
                ", kept epoch {} by {} ({:.3})",
                s.epoch,
                s.by.describe(),
                s.score
            );
        }
        text
    }
}

/// Everything about a model except its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Which architecture, at which width, channels and classes.
    pub architecture: ArchitectureConfig,
    /// Input size and normalisation the network expects.
    pub input: InputSpec,
    /// Single-label (binary, multi-class) or multi-label, which decides the head's activation and
    /// loss.
    pub task: TaskKind,
    /// Class names (single-label) or finding names (multi-label), in logit order.
    pub class_names: Vec<String>,
    /// How it was trained; `None` for a fresh or imported model.
    pub training: Option<TrainingSummary>,
}

impl ModelCard {
    /// Width of the logits: the class (or finding) count.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}
