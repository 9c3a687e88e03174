//! Clean training: the classification loss on the images as they are.

use burn::Tensor;

use super::registry::{DefenseEntry, DefenseInfo, DefenseSpec};
use super::{Defense, TrainingBatch};
use crate::Result;
use crate::attack::{NoSettings, canonical_settings};

pub(super) const ENTRY: DefenseEntry = DefenseEntry {
    info: DefenseInfo {
        name: "clean",
        aliases: &["none"],
        revision: 0,
        adversarial: false,
        about: "clean training: the classification loss on the unperturbed images",
        canonical: canonical_settings::<NoSettings>,
    },
    build: |_: &DefenseSpec| Ok(Box::new(CleanTraining)),
};

/// Clean training: the classification loss on the unperturbed batch, no inner attack.
pub struct CleanTraining;

impl CleanTraining {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;
}

impl Defense for CleanTraining {
    fn name(&self) -> &'static str {
        ENTRY.info.name
    }

    fn training_eps(&self) -> Option<f32> {
        None
    }

    fn loss(&self, batch: &TrainingBatch) -> Result<Tensor<1>> {
        Ok(batch.classification_loss(batch.images.clone()))
    }
}
