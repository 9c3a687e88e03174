//! Snow (ImageNet-C's snow layer, ImageNet-P's sequence): one layer of flakes per sequence —
//! N(0.05, 0.3) noise zoomed ×3, below 0.5 cut to nothing, kept as 8 bits — motion-blurred
//! (radius 14 px, σ 4 px) at an angle turning 4° a frame, laid over the whitened image and again
//! turned 180°. The layer is made at the seed's 224 px and resized to the image.

use image::Luma;
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};
use rand_distr::{Distribution, Normal};

use super::geometric::about_centre;
use super::motion_blur::{motion_blur_plane, motion_kernel};
use super::planes::{Plane, luminance, reference_size, resize_plane};
use super::{Perturbation, Schedule, SequenceKey};
use crate::data::Image;

pub struct Snow;

pub static SNOW: Snow = Snow;

/// The stream of the per-sequence layer (frames use streams 0, 1, …).
const LAYER: u64 = u64::MAX;

impl Snow {
    /// The still flakes of `key`'s sequence on a `w` × `h` image, 8-bit levels in [0, 1].
    pub(crate) fn layer(&self, w: u32, h: u32, key: SequenceKey) -> Plane {
        let mut rng = key.rng(self.name(), LAYER);
        let normal = Normal::new(0.05f32, 0.3).expect("finite σ");
        let noise = Plane::from_fn(w, h, |_, _| Luma([normal.sample(&mut rng)]));
        // clipped_zoom(·, 3): the centre third blown up to the full size.
        let zoomed = warp(
            &noise,
            about_centre(w, h, Projection::scale(3.0, 3.0)),
            Interpolation::Bilinear,
            Border::Replicate,
        );
        Plane::from_fn(w, h, |x, y| {
            let v = zoomed.get_pixel(x, y)[0];
            let v = if v < 0.5 { 0.0 } else { v.min(1.0) };
            // The seed stored the layer as an 8-bit PNG before blurring it.
            Luma([(v * 255.0).floor() / 255.0])
        })
    }
}

impl Perturbation for Snow {
    fn name(&self) -> &'static str {
        "snow"
    }

    fn about(&self) -> &'static str {
        "falling snow: one layer of flakes per image, streaking at an angle turning 4° a frame"
    }

    /// 1: frames of the seed's centre crop of the image at 256/224 of the model's size ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        Schedule::linear(-150.0, 4.0, "flakes streak at (#)°")
    }

    fn frame(&self, image: &Image, frame: usize, key: SequenceKey) -> Image {
        let (w, h) = (image.width as u32, image.height as u32);
        let angle = self.schedule().at(frame).expect("every frame snows");
        let (rw, rh) = reference_size(image);
        let streaks = motion_blur_plane(&self.layer(rw, rh, key), &motion_kernel(14.0, 4.0, angle));
        let streaks = resize_plane(&streaks, w, h);
        let flakes = streaks.as_raw();
        let gray = luminance(image);
        let plane = (w * h) as usize;
        let mut out = image.clone();
        for c in 0..image.channels {
            for i in 0..plane {
                let x = image.pixels[c * plane + i];
                let whitened = 0.85 * x + 0.15 * x.max(gray[i] * 1.5 + 0.5);
                // The layer and the layer turned 180° (flake i and flake plane − 1 − i).
                let snow = flakes[i] + flakes[plane - 1 - i];
                out.pixels[c * plane + i] = (whitened + snow).clamp(0.0, 1.0);
            }
        }
        out
    }
}
