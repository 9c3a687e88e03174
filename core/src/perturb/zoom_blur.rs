//! Zoom blur: frame i is the mean of the surround zoomed by 1, 1.004, …, 1 + 0.004·i about its
//! centre (bilinear, torchvision's `affine` as the seed called it), as a camera moving in during
//! the exposure; the seed crops each zoom, robustdx the mean, which is the same.

use image::Luma;
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};

use super::field::Field;
use super::geometric::about_centre;
use super::planes::{Plane, from_planes, planes};
use super::{Perturbation, Schedule, SequenceKey};
use crate::data::Image;

pub struct ZoomBlur;

pub static ZOOM_BLUR: ZoomBlur = ZoomBlur;

impl Perturbation for ZoomBlur {
    fn name(&self) -> &'static str {
        "zoom_blur"
    }

    fn about(&self) -> &'static str {
        "mean of zooms 1 + 0.004·j for j ≤ i"
    }

    /// 1: the seed's surround (the image at 256/224 of the model's size) warped, then cropped
    /// at the centre ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        Schedule::linear(1.0, 0.004, "zooms up to ×(#)")
    }

    fn field(&self) -> Field {
        Field::Surround
    }

    fn frame(&self, image: &Image, frame: usize, key: SequenceKey) -> Image {
        self.sequence(image, frame + 1, key)
            .pop()
            .expect("one frame at least")
    }

    /// The frames in one pass: a running sum of the zooms, divided by their count.
    fn sequence(&self, image: &Image, frames: usize, _key: SequenceKey) -> Vec<Image> {
        let channels = planes(image);
        let (w, h) = channels[0].dimensions();
        let mut sums: Vec<Vec<f32>> = channels.iter().map(|p| p.as_raw().clone()).collect();
        let mut out = Vec::with_capacity(frames);
        for j in 0..frames {
            if j > 0 {
                let zoom = 1.0 + 0.004 * j as f32;
                let projection = about_centre(w, h, Projection::scale(zoom, zoom));
                for (sum, plane) in sums.iter_mut().zip(&channels) {
                    let zoomed = warp(
                        plane,
                        projection,
                        Interpolation::Bilinear,
                        Border::Constant(Luma([0.0])),
                    );
                    for (s, z) in sum.iter_mut().zip(zoomed.as_raw()) {
                        *s += z;
                    }
                }
            }
            let n = (j + 1) as f32;
            out.push(from_planes(
                sums.iter()
                    .map(|s| {
                        Plane::from_raw(w, h, s.iter().map(|v| v / n).collect()).expect("same size")
                    })
                    .collect(),
            ));
        }
        out
    }
}
