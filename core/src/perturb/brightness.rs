//! Brightness: the HSV value channel shifted by (i − 15) / 50, clipped to [0, 1], hue and
//! saturation kept (skimage's `rgb2hsv` / `hsv2rgb`, as the seed). A gray image is its own value.

use super::planes::map_pixels;
use super::{Perturbation, Schedule, SequenceKey};
use crate::data::Image;

pub struct Brightness;

pub static BRIGHTNESS: Brightness = Brightness;

/// (h, s, v), h in [0, 1), as skimage's `rgb2hsv`.
pub(crate) fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let v = r.max(g).max(b);
    let delta = v - r.min(g).min(b);
    if delta == 0.0 {
        return (0.0, 0.0, v);
    }
    let s = delta / v;
    let sector = if r == v {
        (g - b) / delta
    } else if g == v {
        2.0 + (b - r) / delta
    } else {
        4.0 + (r - g) / delta
    };
    ((sector / 6.0).rem_euclid(1.0), s, v)
}

/// (r, g, b), as skimage's `hsv2rgb`.
pub(crate) fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let sector = (h * 6.0).floor();
    let f = h * 6.0 - sector;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - f * s), v * (1.0 - (1.0 - f) * s));
    match (sector as i64).rem_euclid(6) {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// `image` with its HSV value shifted by `shift`.
pub(crate) fn shift_value(image: &Image, shift: f32) -> Image {
    if image.channels == 1 {
        return map_pixels(image, |v| v + shift);
    }
    let plane = image.height * image.width;
    let mut out = image.clone();
    for i in 0..plane {
        let (h, s, v) = rgb_to_hsv(
            image.pixels[i],
            image.pixels[plane + i],
            image.pixels[2 * plane + i],
        );
        let (r, g, b) = hsv_to_rgb(h, s, (v + shift).clamp(0.0, 1.0));
        out.pixels[i] = r.clamp(0.0, 1.0);
        out.pixels[plane + i] = g.clamp(0.0, 1.0);
        out.pixels[2 * plane + i] = b.clamp(0.0, 1.0);
    }
    out
}

impl Perturbation for Brightness {
    fn name(&self) -> &'static str {
        "brightness"
    }

    fn about(&self) -> &'static str {
        "HSV value + (i − 15) / 50"
    }

    /// 1: frames of the seed's centre crop of the image at 256/224 of the model's size ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        Schedule::linear(-0.30, 0.02, "HSV value + (#)")
    }

    fn frame(&self, image: &Image, frame: usize, _key: SequenceKey) -> Image {
        let shift = self.schedule().at(frame).expect("every frame shifts");
        shift_value(image, shift as f32)
    }
}
