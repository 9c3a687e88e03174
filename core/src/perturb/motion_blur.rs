//! Motion blur as ImageMagick's `MotionBlurImage` makes it (the seed called it through Wand): a
//! one-sided Gaussian along a line at an angle, edges repeating the border pixel. The angle turns
//! 4° a frame; radius 10 px and σ 3 px at 224 px.

use super::planes::{Plane, map_planes};
use super::{Perturbation, Schedule, SequenceKey, pixel_scale};
use crate::data::Image;

pub struct MotionBlur;

pub static MOTION_BLUR: MotionBlur = MotionBlur;

/// Taps of ImageMagick's motion-blur kernel: (weight, dx, dy). Width 2⌈radius⌉ + 1, weights
/// exp(−i²/2σ²) normalised, tap i at (⌈i·cos a − ½⌉, ⌈i·sin a − ½⌉).
pub(crate) fn motion_kernel(radius: f64, sigma: f64, angle_degrees: f64) -> Vec<(f32, i64, i64)> {
    let width = 2 * radius.ceil() as i64 + 1;
    let weights: Vec<f64> = (0..width)
        .map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let (sin, cos) = angle_degrees.to_radians().sin_cos();
    (0..width)
        .map(|i| {
            let dx = (i as f64 * cos - 0.5).ceil() as i64;
            let dy = (i as f64 * sin - 0.5).ceil() as i64;
            ((weights[i as usize] / total) as f32, dx, dy)
        })
        .collect()
}

/// One channel motion-blurred by `kernel`.
pub(crate) fn motion_blur_plane(plane: &Plane, kernel: &[(f32, i64, i64)]) -> Plane {
    let (w, h) = (plane.width() as i64, plane.height() as i64);
    let src = plane.as_raw();
    let mut out = vec![0.0f32; src.len()];
    for &(weight, dx, dy) in kernel {
        for y in 0..h {
            let sy = (y + dy).clamp(0, h - 1);
            let row = &src[(sy * w) as usize..((sy + 1) * w) as usize];
            let dst = &mut out[(y * w) as usize..((y + 1) * w) as usize];
            for (x, d) in dst.iter_mut().enumerate() {
                *d += weight * row[(x as i64 + dx).clamp(0, w - 1) as usize];
            }
        }
    }
    Plane::from_raw(plane.width(), plane.height(), out).expect("same size")
}

impl Perturbation for MotionBlur {
    fn name(&self) -> &'static str {
        "motion_blur"
    }

    fn about(&self) -> &'static str {
        "motion blur (radius 10 px, σ 3 px at 224 px), the direction turning 4° a frame"
    }

    /// 1: frames of the seed's centre crop of the image at 256/224 of the model's size ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        Schedule::linear(-120.0, 4.0, "streak at (#)°")
    }

    fn frame(&self, image: &Image, frame: usize, _key: SequenceKey) -> Image {
        let angle = self.schedule().at(frame).expect("every frame is blurred");
        let scale = pixel_scale(image);
        let kernel = motion_kernel(10.0 * scale, 3.0 * scale, angle);
        map_planes(image, |p| motion_blur_plane(p, &kernel))
    }
}
