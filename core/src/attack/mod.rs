//! Adversarial attacks. Each attack is one type implementing [`Attack`]; they all work in pixel
//! space (images in [0, 1]) against an [`AttackedModel`], whose input gradients they follow.

mod attacked;
mod budget;
mod fab_projection;
mod gap_train;
mod generator;
mod goal;
mod objective;
mod registry;
mod sample_draws;

// The one list of attacks: adding one is its file (with an `ENTRY`) and its name here.
registry::attacks!(fgsm, pgd, apgd, apgd_targeted, fab, square, autoattack, gap; test: throwaway);

pub use crate::registry::{
    NoSettings, Settings, applicable, canonical_settings, describe_settings, typed_settings,
};
pub use apgd::{ApgdLoss, ApgdOutcome, ApgdSettings, AutoProjectedGradientDescent};
pub use apgd_targeted::{ApgdTargeted, ApgdTargetedOutcome, ApgdTargetedSettings};
pub use attacked::AttackedModel;
pub use autoattack::{AutoAttack, AutoAttackSettings, Version};
pub use budget::{Budget, Convention, Norm, Region};
pub use fab::{FabSettings, FastAdaptiveBoundary};
pub use fgsm::FastGradientSignMethod;
pub use gap::{
    GAP_FILE_VERSION, GapAttackSettings, GapCard, GenerativeAdversarialPerturbation, read_gap_card,
};
pub use gap_train::{GapProgress, GapSettings, train_generator};
pub use generator::{
    Generator, GeneratorConfig, ResnetGenerator, ResnetGeneratorConfig, UnetGenerator,
    UnetGeneratorConfig, scale_to_budget,
};
pub use goal::Goal;
pub use objective::{Loss, Objective};
pub use pgd::{PgdRun, PgdSettings, ProjectedGradientDescent};
pub use registry::{
    AttackContext, AttackEntry, AttackInfo, AttackSpec, MAX_ATTACK_STEPS, attack_entry,
    attack_info, short_name,
};
pub use sample_draws::{SampleKeys, Stream};
pub use square::{MAX_SQUARE_QUERIES, SquareAttack, SquareLoss, SquareOutcome, SquareSettings};

/// The attack commands and the page start with: PGD, the field's standard first attack.
pub const DEFAULT_ATTACK: &str = ProjectedGradientDescent::NAME;

use burn::Tensor;

use crate::{Label, Result};

/// An attack: adversarial versions of a batch of images.
pub trait Attack {
    /// Short name for tables and file names (`fgsm`, `pgd`, `gap`).
    fn name(&self) -> &'static str;

    /// What the attack aims for (scores its success).
    fn goal(&self) -> Goal;

    /// Adversarial images (same shape, pixels in range, within the budget) for `images`, whose
    /// ground truth is `labels`; `keys` names the images, so random draws follow the image, not
    /// the batch.
    fn perturb(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Tensor<4>>;

    /// [`perturb`](Self::perturb), with what the attack knows about each image besides its
    /// adversarial version (which suite member broke it, how many queries it took).
    fn perturb_detailed(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Perturbed> {
        Ok(Perturbed::images(
            self.perturb(model, images, labels, keys)?,
        ))
    }

    /// [`perturb_detailed`](Self::perturb_detailed) for callers that must not block on a read of
    /// the device (a browser's WebGPU, where a blocking read panics). Attacks that read values
    /// back while they run (Square, after every query) await them here; the others run as they
    /// always do.
    fn perturb_detailed_async<'a>(
        &'a self,
        model: &'a AttackedModel,
        images: Tensor<4>,
        labels: &'a [Label],
        keys: &'a SampleKeys,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Perturbed>> + 'a>> {
        Box::pin(std::future::ready(
            self.perturb_detailed(model, images, labels, keys),
        ))
    }

    /// A suite's attacks in running order (empty for a single attack): the rows of its
    /// contribution table.
    fn members(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Adversarial images and, where the attack tracks them, per-image facts for the records.
#[derive(Debug, Clone)]
pub struct Perturbed {
    /// The adversarial images.
    pub images: Tensor<4>,
    /// A suite's member that broke each image first (none where it stands).
    pub broken_by: Option<Vec<Option<String>>>,
    /// The model queries a score-only attack spent on each image.
    pub queries: Option<Vec<u32>>,
}

impl Perturbed {
    /// Just the images.
    pub fn images(images: Tensor<4>) -> Self {
        Self {
            images,
            broken_by: None,
            queries: None,
        }
    }
}

#[cfg(test)]
mod autoattack_tests;
#[cfg(test)]
mod fab_tests;
#[cfg(test)]
mod gap_tests;
#[cfg(test)]
mod tests;
