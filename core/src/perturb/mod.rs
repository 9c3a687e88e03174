//! The Robust-Benchmark (after ImageNet-P, as the seed study ran it): for each image a sequence of
//! frames of a growing everyday perturbation, and the [Flip Probability](FlipProbability) of a
//! model's decisions along it.
//!
//! Each kind is one [`Perturbation`] in [`PERTURBATIONS`]: a seeded, pure function (image, frame
//! index, key) → image of the same size with pixels in [0, 1], with its frame schedule as data.
//! Frames are made on the fly, never stored as video, in the seed's pipeline ([`model_frames`]):
//! from the image at 256/224 of the model's size, changed in the kind's [`Field`], cropped to the
//! model's size at the centre. Lengths that say where content goes (shifts, motion streaks, snow,
//! drops) are the seed's at its 224-pixel crop (256-pixel surround) and scale with the image, so
//! a 64-pixel image sees the same motion relative to its size; the Gaussian blur's sub-pixel σ
//! stays in the model's own pixels, as the seed's models (224-pixel inputs) saw it.

mod benchmark;
mod field;
mod flip;
mod planes;
mod registry;
mod single_image;

// The one list of kinds, in the seed's order: adding one is its file and a line here.
registry::declare_perturbations!(
    noise: [GAUSSIAN_NOISE, SHOT_NOISE, SPECKLE_NOISE],
    motion_blur: [MOTION_BLUR],
    zoom_blur: [ZOOM_BLUR],
    gaussian_blur: [GAUSSIAN_BLUR],
    snow: [SNOW],
    spatter: [SPATTER],
    brightness: [BRIGHTNESS],
    geometric: [TRANSLATE, ROTATE, TILT, SCALE, SHEAR, SHEAR_LEGACY];
    test: throwaway: [CONTRAST]
);

#[cfg(test)]
mod tests;

pub use benchmark::{RobustBenchmark, SequenceRecord, kind_result};
pub use field::{Field, SURROUND_SIDE, model_frames, surround_size};
pub use flip::{FlipProbability, FlipVariant};
pub use registry::{perturbation, perturbations};
pub use single_image::image_sequence;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::Image;

/// The longest sequence a run takes (ImageNet-P's are 31 frames long).
pub const MAX_FRAMES: usize = 31;

/// The side length the seed's pixel amounts are given for (ImageNet-P's centre crop).
pub const REFERENCE_SIDE: f64 = 224.0;

/// Against which frame a sequence's decisions count as flips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reference {
    /// The clean first frame (the noises: every frame is a fresh draw around the same image).
    First,
    /// The frame before (everything that moves along the sequence).
    Previous,
}

impl Reference {
    /// The frame that frame `i` (≥ 1) is compared with.
    pub fn frame_for(self, i: usize) -> usize {
        match self {
            Reference::First => 0,
            Reference::Previous => i.saturating_sub(1),
        }
    }

    /// "first" or "previous", for tables.
    pub fn name(self) -> &'static str {
        match self {
            Reference::First => "first",
            Reference::Previous => "previous",
        }
    }
}

/// A frame's strength: `at_zero + per_frame · i` for frame `i` from `first_frame` on; earlier
/// frames are the clean image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The strength at frame 0 (the intercept).
    pub at_zero: f64,
    /// How much stronger each frame is than the last.
    pub per_frame: f64,
    /// The first perturbed frame (1 for the noises, whose frame 0 is clean).
    pub first_frame: usize,
    /// How listings show it: `#` stands for the value ("σ = # px", "turn (#)°").
    pub shown: &'static str,
}

impl Schedule {
    /// `at_zero + per_frame · i` from frame 0; `shown` as in [`Schedule::shown`].
    pub const fn linear(at_zero: f64, per_frame: f64, shown: &'static str) -> Self {
        Self {
            at_zero,
            per_frame,
            first_frame: 0,
            shown,
        }
    }

    /// A fixed strength from frame 1 on, frame 0 clean.
    pub const fn after_clean(value: f64, shown: &'static str) -> Self {
        Self {
            at_zero: value,
            per_frame: 0.0,
            first_frame: 1,
            shown,
        }
    }

    /// The strength at frame `i` (`None`: the clean image).
    pub fn at(&self, i: usize) -> Option<f64> {
        (i >= self.first_frame).then_some(self.at_zero + self.per_frame * i as f64)
    }

    /// "σ = 0.25 + 0.035·i px", "turn (i − 15)°", for listings and reports.
    pub fn describe(&self) -> String {
        let fmt = |v: f64| {
            let text = format!("{v:.4}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            text.replace('-', "−")
        };
        let value = match (self.at_zero, self.per_frame) {
            (a, 0.0) => fmt(a),
            (0.0, p) => format!("{}·i", fmt(p)),
            (a, 1.0) => format!("i {} {}", sign(a), fmt(a.abs())),
            (a, p) => format!(
                "{} {} {}·i",
                fmt(a),
                if p < 0.0 { "−" } else { "+" },
                fmt(p.abs())
            ),
        };
        let clean = if self.first_frame > 0 {
            format!(" from frame {} (frame 0 clean)", self.first_frame)
        } else {
            String::new()
        };
        format!("{}{clean}", self.shown.replace('#', &value))
    }
}

fn sign(v: f64) -> &'static str {
    if v < 0.0 { "−" } else { "+" }
}

/// Whose sequence a frame belongs to: the run's seed and the image's index in its split. Every
/// random draw of a sequence is keyed by it (and the kind and frame), so an image gets the same
/// frames in any batch, shard or backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceKey {
    /// The run's seed.
    pub seed: u64,
    /// The image's index in its split.
    pub image: u64,
}

impl SequenceKey {
    /// The key of image `image` in a run with `seed`.
    pub fn new(seed: u64, image: u64) -> Self {
        Self { seed, image }
    }

    /// The generator for `stream` (a frame index, or a per-sequence layer) of kind `kind`.
    pub(crate) fn rng(&self, kind: &str, stream: u64) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&self.image.to_le_bytes());
        key[16..24].copy_from_slice(&stream.to_le_bytes());
        // The kind's name, folded into the last eight bytes: kinds draw independently.
        let mut tag = *b"perturb!";
        for (i, b) in kind.bytes().enumerate() {
            tag[i % 8] = tag[i % 8].rotate_left(3) ^ b;
        }
        key[24..].copy_from_slice(&tag);
        ChaCha8Rng::from_seed(key)
    }
}

/// One kind of perturbation sequence.
pub trait Perturbation: Sync {
    /// As the command line and records name it (`gaussian_noise`, `rotate`, …).
    fn name(&self) -> &'static str;
    /// One line for listings.
    fn about(&self) -> &'static str;
    /// Raised when the kind's frames change for the same image, key and frame index (a fixed
    /// bug, another formula), so that benchmark results of the old frames are recomputed rather
    /// than reused; part of every result's identity.
    fn revision(&self) -> u32 {
        0
    }
    /// How the strength grows along the sequence.
    fn schedule(&self) -> Schedule;
    /// What flips are counted against.
    fn reference(&self) -> Reference {
        Reference::Previous
    }
    /// Which image it changes: the model's centre crop, or the surround cropped after.
    fn field(&self) -> Field {
        Field::Crop
    }
    /// Whether a benchmark that names no kinds runs it (the seed's 14 do; a variant kept for
    /// comparison runs only when named).
    fn by_default(&self) -> bool {
        true
    }
    /// Frame `frame` of `image`'s sequence: the same size, pixels in [0, 1].
    fn frame(&self, image: &Image, frame: usize, key: SequenceKey) -> Image;

    /// Frames `0..frames`.
    fn sequence(&self, image: &Image, frames: usize, key: SequenceKey) -> Vec<Image> {
        (0..frames).map(|i| self.frame(image, i, key)).collect()
    }
}

/// How much a length given at the seed's 224-pixel crop is at this crop's size.
pub(crate) fn pixel_scale(image: &Image) -> f64 {
    image.height.min(image.width) as f64 / REFERENCE_SIDE
}
