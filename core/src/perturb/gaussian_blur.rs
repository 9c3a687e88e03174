//! Gaussian blur with a growing σ (skimage's `gaussian(…, truncate=6)`: the kernel reaches 6 σ,
//! edges repeat the border pixel, as its `mode='nearest'`). σ is in the model's input pixels, as
//! the seed's models saw it: scaled down to a 64-pixel image, its σ of 0.25–0.57 px would blur
//! nothing.

use imageproc::filter::separable_filter_equal;

use super::planes::map_planes;
use super::{Perturbation, Schedule, SequenceKey};
use crate::data::Image;

/// How far the kernel reaches, in σ.
const TRUNCATE: f64 = 6.0;

pub struct GaussianBlur;

pub static GAUSSIAN_BLUR: GaussianBlur = GaussianBlur;

/// The normalised 1-D kernel of scipy's `gaussian_filter1d`: radius ⌊truncate·σ + ½⌋.
pub(crate) fn gaussian_kernel(sigma: f64, truncate: f64) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5).floor() as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / total) as f32).collect()
}

/// `image` blurred with σ (in its own pixels).
pub(crate) fn blur(image: &Image, sigma: f64) -> Image {
    let kernel = gaussian_kernel(sigma, TRUNCATE);
    map_planes(image, |p| separable_filter_equal(p, &kernel))
}

impl Perturbation for GaussianBlur {
    fn name(&self) -> &'static str {
        "gaussian_blur"
    }

    fn about(&self) -> &'static str {
        "Gaussian blur, σ growing from 0.25 px by 0.035 px a frame"
    }

    /// 1: frames of the seed's centre crop of the image at 256/224 of the model's size ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        Schedule::linear(0.25, 0.035, "σ = # px")
    }

    fn frame(&self, image: &Image, frame: usize, _key: SequenceKey) -> Image {
        let sigma = self.schedule().at(frame).expect("every frame is blurred");
        blur(image, sigma)
    }
}
