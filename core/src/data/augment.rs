//! Training-time augmentation: a random resized crop, horizontal and vertical flips and a
//! rotation by a multiple of 90°, the geometry a dermoscopy, fundus or slide image has no
//! preferred orientation in. The draws are keyed by (seed, epoch, image), with a key of its own
//! for each repeat of an image in one epoch (class-balanced sampling), so they do not depend on the
//! batch an image lands in, and every draw of an image gets its own view.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Image;

/// Share of the image area a crop keeps, and the range of its aspect ratio (width / height).
const CROP_AREA: (f64, f64) = (0.5, 1.0);
const CROP_RATIO: (f64, f64) = (3.0 / 4.0, 4.0 / 3.0);

/// The augmentation of one epoch of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augmentation {
    /// The run's seed; with the epoch and image it keys every draw.
    pub seed: u64,
    /// 0-based; each epoch draws new views of the same image.
    pub epoch: u64,
}

/// What was drawn for one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AugmentDraw {
    /// Crop rectangle: top, left, height, width (in the source image).
    pub crop: (usize, usize, usize, usize),
    /// Mirror left to right.
    pub flip_horizontal: bool,
    /// Mirror top to bottom.
    pub flip_vertical: bool,
    /// Quarter turns counter-clockwise, 0-3.
    pub quarter_turns: u8,
}

impl Augmentation {
    fn rng(&self, index: u64) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&self.epoch.to_le_bytes());
        key[16..24].copy_from_slice(&index.to_le_bytes());
        key[24..].copy_from_slice(b"augment!");
        ChaCha8Rng::from_seed(key)
    }

    /// The draws for the image keyed `key` (see [`draw_keys`](super::draw_keys)), a `height` x
    /// `width` source.
    pub fn draw(&self, key: u64, height: usize, width: usize) -> AugmentDraw {
        let mut rng = self.rng(key);
        let area = (height * width) as f64;
        // torchvision's RandomResizedCrop: up to ten tries at a crop that fits, else the whole
        // image.
        let mut crop = (0, 0, height, width);
        for _ in 0..10 {
            let share = rng.random_range(CROP_AREA.0..=CROP_AREA.1);
            let ratio = rng
                .random_range(CROP_RATIO.0.ln()..=CROP_RATIO.1.ln())
                .exp();
            let w = (area * share * ratio).sqrt().round() as usize;
            let h = (area * share / ratio).sqrt().round() as usize;
            if (1..=width).contains(&w) && (1..=height).contains(&h) {
                crop = (
                    rng.random_range(0..=height - h),
                    rng.random_range(0..=width - w),
                    h,
                    w,
                );
                break;
            }
        }
        AugmentDraw {
            crop,
            flip_horizontal: rng.random(),
            flip_vertical: rng.random(),
            quarter_turns: rng.random_range(0..4),
        }
    }

    /// The image keyed `key` augmented (at its crop's size: the model input's resize follows).
    pub fn apply(&self, image: Image, key: u64) -> Image {
        let draw = self.draw(key, image.height, image.width);
        draw.apply(&image)
    }
}

impl AugmentDraw {
    /// The crop, flips and turns applied to `image`, in that order; the crop is not resized (the
    /// loader brings images to the model's size).
    pub fn apply(&self, image: &Image) -> Image {
        let (top, left, h, w) = self.crop;
        // Output size after the turns.
        let (out_h, out_w) = match self.quarter_turns % 2 {
            0 => (h, w),
            _ => (w, h),
        };
        let mut pixels = Vec::with_capacity(image.channels * out_h * out_w);
        for c in 0..image.channels {
            for y in 0..out_h {
                for x in 0..out_w {
                    // Undo the rotation, then the flips, to find the source pixel in the crop.
                    let (mut sy, mut sx) = match self.quarter_turns % 4 {
                        0 => (y, x),
                        1 => (x, out_h - 1 - y),
                        2 => (out_h - 1 - y, out_w - 1 - x),
                        _ => (out_w - 1 - x, y),
                    };
                    if self.flip_vertical {
                        sy = h - 1 - sy;
                    }
                    if self.flip_horizontal {
                        sx = w - 1 - sx;
                    }
                    pixels.push(image.at(c, top + sy, left + sx));
                }
            }
        }
        Image::new(image.channels, out_h, out_w, pixels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(h: usize, w: usize) -> Image {
        Image::new(1, h, w, (0..h * w).map(|v| v as f32).collect())
    }

    fn draw(turns: u8, fh: bool, fv: bool, crop: (usize, usize, usize, usize)) -> AugmentDraw {
        AugmentDraw {
            crop,
            flip_horizontal: fh,
            flip_vertical: fv,
            quarter_turns: turns,
        }
    }

    #[test]
    fn flips_rotations_and_crops_by_hand() {
        // 0 1 2
        // 3 4 5
        let image = numbered(2, 3);
        let full = (0, 0, 2, 3);
        assert_eq!(draw(0, false, false, full).apply(&image), image);
        assert_eq!(
            draw(0, true, false, full).apply(&image).pixels,
            [2., 1., 0., 5., 4., 3.]
        );
        assert_eq!(
            draw(0, false, true, full).apply(&image).pixels,
            [3., 4., 5., 0., 1., 2.]
        );
        // A quarter turn counter-clockwise: the right column becomes the top row.
        let turned = draw(1, false, false, full).apply(&image);
        assert_eq!((turned.height, turned.width), (3, 2));
        assert_eq!(turned.pixels, [2., 5., 1., 4., 0., 3.]);
        assert_eq!(
            draw(2, false, false, full).apply(&image).pixels,
            [5., 4., 3., 2., 1., 0.]
        );
        // Four quarter turns are none.
        let mut x = image.clone();
        for _ in 0..4 {
            x = draw(1, false, false, (0, 0, x.height, x.width)).apply(&x);
        }
        assert_eq!(x, image);
        assert_eq!(
            draw(0, false, false, (1, 1, 1, 2)).apply(&image).pixels,
            [4., 5.]
        );
    }

    #[test]
    fn draws_are_keyed_by_image_and_cover_the_options() {
        let aug = Augmentation { seed: 3, epoch: 1 };
        assert_eq!(aug.draw(7, 64, 64), aug.draw(7, 64, 64));
        let draws: Vec<_> = (0..400).map(|i| aug.draw(i, 64, 48)).collect();
        assert_ne!(draws[0], draws[1]);
        let share = |f: &dyn Fn(&AugmentDraw) -> bool| {
            draws.iter().filter(|d| f(d)).count() as f64 / draws.len() as f64
        };
        assert!((share(&|d| d.flip_horizontal) - 0.5).abs() < 0.1);
        assert!((share(&|d| d.flip_vertical) - 0.5).abs() < 0.1);
        for turns in 0..4 {
            assert!((share(&|d| d.quarter_turns == turns) - 0.25).abs() < 0.08);
        }
        for d in &draws {
            let (top, left, h, w) = d.crop;
            assert!(top + h <= 64 && left + w <= 48);
            let area = (h * w) as f64 / (64.0 * 48.0);
            assert!((0.45..=1.0).contains(&area), "{d:?}");
        }
        let other_epoch = Augmentation { seed: 3, epoch: 2 };
        assert_ne!(other_epoch.draw(7, 64, 64), aug.draw(7, 64, 64));
    }
}
