//! GAP, Generative Adversarial Perturbations (Poursaeed et al., CVPR 2018), as the seed study
//! used it: a generator network learns, against one frozen classifier, to make perturbations that
//! fool it, so that attacking an image is one forward pass instead of an optimisation. Pixel-space
//! L∞ only: every (image, channel) plane of the perturbation is scaled to exactly ε. The loss
//! pulls single-label predictions towards the class the clean image makes least likely, and
//! multi-label predictions towards every label flipped.
//!
//! A trained generator is saved like a model: a burnpack whose metadata carries a [`GapCard`].
//! Training lives in `gap_train.rs`.

use burn::Tensor;
use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::generator::{Generator, GeneratorConfig, scale_to_budget};
use super::registry::{AttackEntry, AttackInfo};
use super::{Attack, AttackedModel, Budget, Convention, Goal, Norm, SampleKeys};
use crate::model::{check_all_finite, model_error};
use crate::registry::canonical_settings;
use crate::{Error, Label, Result};

/// Version of the card layout inside generator files; bumped on incompatible changes.
pub const GAP_FILE_VERSION: u32 = 1;
const CARD_KEY: &str = "robustdx.gap";
const VERSION_KEY: &str = "robustdx.gap_file_version";
/// The key of a model file's card: a file that has it is a model, not a generator.
const MODEL_CARD_KEY: &str = "robustdx.card";

/// Everything about a trained generator except its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapCard {
    /// The generator's architecture and sizes, to rebuild it before its weights load.
    pub generator: GeneratorConfig,
    /// The ε (pixel units, L∞) it was trained at; attacks may scale to another.
    pub eps: f32,
    /// One perturbation for every image (from the stored noise) rather than one per image.
    pub universal: bool,
    /// Channels of the images it takes and perturbs.
    pub channels: usize,
    /// Height in pixels of the images it takes.
    pub height: usize,
    /// Width in pixels of the images it takes.
    pub width: usize,
    /// The classifier it was trained to fool: architecture name and class names.
    pub model_architecture: String,
    /// The classifier's class names, in logit order.
    pub model_classes: Vec<String>,
    /// The data set it was trained on, as the user named it.
    pub trained_on: String,
    /// Training epochs run (provenance; not needed to attack).
    pub epochs: usize,
}

impl GapCard {
    /// The card's fields agree with each other and with its generator.
    fn check(&self) -> Result<()> {
        self.generator.validate()?;
        let [h, w] = self.generator.input_size();
        let generator_shape = [self.generator.channels(), h, w];
        let shape = [self.channels, self.height, self.width];
        if generator_shape != shape {
            return Err(Error::invalid(format!(
                "the card's {} images do not match its {} generator's {}",
                shape_text(shape),
                self.generator.name(),
                shape_text(generator_shape)
            )));
        }
        if !(self.eps.is_finite() && self.eps > 0.0 && self.eps <= 1.0) {
            return Err(Error::invalid(format!(
                "ε = {} is outside (0, 1]",
                self.eps
            )));
        }
        Ok(())
    }
}

pub(super) fn shape_text([c, h, w]: [usize; 3]) -> String {
    format!("{c}x{h}x{w}")
}

/// GAP's own settings in an [`AttackSpec`](super::AttackSpec): which generator, by name and
/// content, so a retrained generator is a different attack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GapAttackSettings {
    /// The generator file as the user named it.
    pub generator: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "gap",
        about: "GAP: a trained generator's perturbation, scaled to ε (Poursaeed et al. 2018)",
        fixed_goal: Some(Goal::LeastLikely),
        revision: 0,
        stepwise: false,
        targeted: false,
        gradient_free: true,
        randomised: false,
        needs_generator: true,
        dominates: None,
        on_page: true,
        canonical: canonical_settings::<GapAttackSettings>,
    },
    build: |spec, context| {
        let generator = context.generator.ok_or_else(|| {
            Error::invalid("gap needs a trained generator (robustdx gap train; --generator FILE)")
        })?;
        // The generator's output is normalised to its L∞ norm, so one generator serves every ε.
        let gap = GenerativeAdversarialPerturbation {
            budget: spec.budget(),
            ..generator.clone()
        };
        gap.check_budget()?;
        Ok(Box::new(gap))
    },
};

/// The GAP attack: a trained generator and the budget its perturbations are scaled to.
#[derive(Debug, Clone)]
pub struct GenerativeAdversarialPerturbation {
    /// An inference copy, on the device the attacked images are on.
    pub generator: Generator,
    /// Where the generator came from and what it was trained against.
    pub card: GapCard,
    /// Pixel-space L∞; ε starts at the training ε.
    pub budget: Budget,
}

impl GenerativeAdversarialPerturbation {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    fn check_budget(&self) -> Result<()> {
        self.budget.validate()?;
        if self.budget.norm != Norm::Linf || self.budget.convention != Convention::Pixel {
            return Err(Error::invalid(
                "GAP scales its perturbations to a pixel-space L∞ budget only",
            ));
        }
        Ok(())
    }

    /// The perturbation δ `[b, c, h, w]` for `images`, before clipping to the pixel range: each
    /// (image, channel) plane has L∞ norm ε.
    pub fn perturbation(&self, images: Tensor<4>) -> Result<Tensor<4>> {
        self.check_budget()?;
        let [_, c, h, w] = images.dims();
        let expected = [self.card.channels, self.card.height, self.card.width];
        if [c, h, w] != expected {
            return Err(Error::invalid(format!(
                "this GAP generator takes {} images, got {}",
                shape_text(expected),
                shape_text([c, h, w])
            )));
        }
        Ok(scale_to_budget(
            self.generator.forward(images),
            self.budget.eps,
        ))
    }

    /// The generator as a burnpack file, card included.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let card = serde_json::to_string(&self.card).map_err(|e| Error::invalid(e.to_string()))?;
        let mut store = BurnpackStore::from_bytes(None)
            .metadata(CARD_KEY, card)
            .metadata(VERSION_KEY, GAP_FILE_VERSION.to_string());
        let cannot = |e: &dyn std::fmt::Display| {
            Error::invalid(format!("cannot serialise the GAP generator: {e}"))
        };
        self.generator
            .save_into(&mut store)
            .map_err(|e| cannot(&e))?;
        Ok(store.get_bytes().map_err(|e| cannot(&e))?.to_vec())
    }

    /// Loads a generator file onto `device`, its budget at the training ε. `file` names it in
    /// errors.
    pub fn from_bytes(bytes: &[u8], file: &str, device: &Device) -> Result<Self> {
        let card = read_gap_card(bytes, file)?;
        check_all_finite(bytes, file)?;
        let mut generator = match card.universal {
            // The noise drawn here is a placeholder: the file's own noise replaces it.
            true => card.generator.init_universal(0, device),
            false => card.generator.init(device),
        };
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())));
        generator.load_from(&mut store).map_err(|e| {
            model_error(
                file,
                format!(
                    "weights do not match its {} {} generator card: {e}",
                    if card.universal {
                        "universal"
                    } else {
                        "image-dependent"
                    },
                    card.generator.name()
                ),
            )
        })?;
        Ok(Self {
            generator: generator.valid(),
            budget: Budget::linf(card.eps),
            card,
        })
    }
}

/// Reads only the card of a generator file.
pub fn read_gap_card(bytes: &[u8], file: &str) -> Result<GapCard> {
    let reader =
        burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
            model_error(
                file,
                format!("not a robustdx GAP generator file (burnpack): {e}"),
            )
        })?;
    let metadata = reader.metadata();
    let Some(card) = metadata.get(CARD_KEY) else {
        let reason = match metadata.contains_key(MODEL_CARD_KEY) {
            true => "a robustdx model file, not a GAP generator",
            false => "a burnpack file, but without a GAP generator card",
        };
        return Err(model_error(file, reason));
    };
    let version: u32 = metadata
        .get(VERSION_KEY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if version != GAP_FILE_VERSION {
        return Err(model_error(
            file,
            format!("GAP file version {version}, this robustdx reads version {GAP_FILE_VERSION}"),
        ));
    }
    let card: GapCard = serde_json::from_str(card)
        .map_err(|e| model_error(file, format!("unreadable GAP card: {e}")))?;
    card.check()
        .map_err(|e| model_error(file, format!("inconsistent GAP card: {e}")))?;
    Ok(card)
}

impl Attack for GenerativeAdversarialPerturbation {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// GAP is trained towards the least likely class (single-label) or every label flipped.
    fn goal(&self) -> Goal {
        Goal::LeastLikely
    }

    /// The generator's perturbation, added and clipped to [0, 1]. Neither the model nor the
    /// labels are consulted: the generator learnt them in training.
    fn perturb(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        _labels: &[Label],
        _keys: &SampleKeys,
    ) -> Result<Tensor<4>> {
        self.check_budget()?;
        // A generator of another task (other classes) says nothing about this model; one of
        // another architecture with the same classes is a transfer attack, which is allowed.
        let classes = &model.model().card.class_names;
        if *classes != self.card.model_classes {
            return Err(Error::invalid(format!(
                "this GAP generator was trained against a {} model of classes [{}]; the model attacked has classes [{}]",
                self.card.model_architecture,
                self.card.model_classes.join(", "),
                classes.join(", ")
            )));
        }
        if self.budget.eps == 0.0 {
            return Ok(images);
        }
        let delta = self.perturbation(images.clone())?;
        Ok((images + delta).clamp(0.0, 1.0))
    }
}
