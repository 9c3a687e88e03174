//! Spatter (ImageNet-C's liquid layer, ImageNet-P's sequence): drops of pale-turquoise water —
//! N(0.65, 0.27) noise blurred (σ 3.7 px), below 0.69 dry — shaded by the distance to their edges
//! (Canny, Euclidean distance transform, histogram equalisation, an emboss kernel), and running
//! down the image: each frame convolves the layer's columns with [0.05, 0.1, 0.15, 0.7] once more.
//! The water is made at the seed's 224 px and resized to the image.
//!
//! imageproc does the image processing; its Canny smooths first (σ 1.4) where OpenCV's does not,
//! so the drops' shading differs from the seed's in detail, not in kind.

use image::{GrayImage, Luma};
use imageproc::contrast::equalize_histogram;
use imageproc::distance_transform::euclidean_squared_distance_transform;
use imageproc::edges::canny;
use imageproc::filter::{box_filter, filter_clamped, separable_filter_equal};
use imageproc::kernel::Kernel;
use rand_distr::{Distribution, Normal};

use super::gaussian_blur::gaussian_kernel;
use super::planes::{Plane, reference_size, resize_plane};
use super::{Perturbation, Schedule, SequenceKey};
use crate::data::Image;

pub struct Spatter;

pub static SPATTER: Spatter = Spatter;

const LAYER: u64 = u64::MAX;
/// The water's colour, RGB.
const WATER: [f32; 3] = [175.0 / 255.0, 238.0 / 255.0, 238.0 / 255.0];
/// np.convolve(column, [0.05, 0.1, 0.15, 0.7], 'same'): out[y] = Σ k[j]·in[y + 1 − j].
const DRIP: [f32; 4] = [0.05, 0.1, 0.15, 0.7];
const EMBOSS: [f32; 9] = [-2.0, -1.0, 0.0, -1.0, 1.0, 1.0, 0.0, 1.0, 2.0];

impl Spatter {
    /// The wet areas of `key`'s sequence at frame 0.
    pub(crate) fn layer(&self, w: u32, h: u32, key: SequenceKey) -> Plane {
        let mut rng = key.rng(self.name(), LAYER);
        let normal = Normal::new(0.65f32, 0.27).expect("finite σ");
        let noise = Plane::from_fn(w, h, |_, _| Luma([normal.sample(&mut rng)]));
        let blurred = separable_filter_equal(&noise, &gaussian_kernel(3.7, 4.0));
        Plane::from_fn(w, h, |x, y| {
            let v = blurred.get_pixel(x, y)[0];
            Luma([if v < 0.69 { 0.0 } else { v }])
        })
    }

    /// The layer one frame later: every column run down once.
    pub(crate) fn drip(layer: &Plane) -> Plane {
        let (w, h) = (layer.width() as usize, layer.height() as usize);
        let src = layer.as_raw();
        let mut out = vec![0.0f32; src.len()];
        for (j, k) in DRIP.iter().enumerate() {
            // Row y takes k·row(y + 1 − j), where that row exists.
            for y in 0..h {
                let Some(sy) = (y + 1).checked_sub(j).filter(|&sy| sy < h) else {
                    continue;
                };
                let (dst, row) = (&mut out[y * w..(y + 1) * w], &src[sy * w..(sy + 1) * w]);
                for (d, v) in dst.iter_mut().zip(row) {
                    *d += k * v;
                }
            }
        }
        Plane::from_raw(w as u32, h as u32, out).expect("same size")
    }

    /// `image` under the water of `layer`.
    fn wet(image: &Image, layer: &Plane) -> Image {
        let (w, h) = (image.width as u32, image.height as u32);
        let water = resize_plane(&Self::water(layer), w, h).into_raw();
        let plane = (w * h) as usize;
        let gray_water = 0.299 * WATER[0] + 0.587 * WATER[1] + 0.114 * WATER[2];
        let mut out = image.clone();
        for (c, channel) in out.pixels.chunks_mut(plane).enumerate() {
            let colour = if image.channels == 3 {
                WATER[c]
            } else {
                gray_water
            };
            for (v, wet) in channel.iter_mut().zip(&water) {
                *v = (*v + wet * colour).clamp(0.0, 1.0);
            }
        }
        out
    }

    /// How much water lies on each pixel (0 to 0.6), shaded by the distance to the drops' edges.
    fn water(layer: &Plane) -> Plane {
        let (w, h) = layer.dimensions();
        let level = GrayImage::from_fn(w, h, |x, y| {
            Luma([(layer.get_pixel(x, y)[0] * 255.0).clamp(0.0, 255.0) as u8])
        });
        let edges = canny(&level, 50.0, 150.0);
        let squared = euclidean_squared_distance_transform(&edges);
        // Distance to the nearest edge, cut at 20 px (no edge at all: 20 everywhere).
        let distance = Plane::from_fn(w, h, |x, y| {
            Luma([(squared.get_pixel(x, y)[0].sqrt() as f32).min(20.0)])
        });
        let smooth = separable_filter_equal(&distance, &[1.0 / 3.0; 3]);
        let shade = GrayImage::from_fn(w, h, |x, y| Luma([smooth.get_pixel(x, y)[0] as u8]));
        let shade = equalize_histogram(&shade);
        let shade: GrayImage = filter_clamped(&shade, Kernel::new(&EMBOSS, 3, 3));
        let shade = box_filter(&shade, 1, 1);
        let wet: Vec<f32> = level
            .pixels()
            .zip(shade.pixels())
            .map(|(l, s)| l[0] as f32 * s[0] as f32)
            .collect();
        let most = wet.iter().copied().fold(0.0f32, f32::max);
        let scale = if most == 0.0 { 0.0 } else { 0.6 / most };
        Plane::from_raw(w, h, wet.into_iter().map(|m| m * scale).collect()).expect("same size")
    }
}

impl Perturbation for Spatter {
    fn name(&self) -> &'static str {
        "spatter"
    }

    fn about(&self) -> &'static str {
        "water drops on the lens, running down one step a frame"
    }

    /// 1: frames of the seed's centre crop of the image at 256/224 of the model's size ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        Schedule::linear(0.0, 1.0, "# drip steps")
    }

    fn frame(&self, image: &Image, frame: usize, key: SequenceKey) -> Image {
        let (rw, rh) = reference_size(image);
        let mut layer = self.layer(rw, rh, key);
        for _ in 0..frame {
            layer = Self::drip(&layer);
        }
        Self::wet(image, &layer)
    }

    /// The frames in one pass: each frame's layer is the previous one run down once more.
    fn sequence(&self, image: &Image, frames: usize, key: SequenceKey) -> Vec<Image> {
        let (rw, rh) = reference_size(image);
        let mut layer = self.layer(rw, rh, key);
        let mut out = Vec::with_capacity(frames);
        for i in 0..frames {
            if i > 0 {
                layer = Self::drip(&layer);
            }
            out.push(Self::wet(image, &layer));
        }
        out
    }
}
