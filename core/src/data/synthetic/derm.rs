//! Dermoscopy-like images: a pigmented lesion on skin, benign naevus or melanoma.
//!
//! The signal follows the ABCD rule of dermoscopy. A benign naevus is nearly symmetric with a
//! smooth, regular border and one shade of brown. A melanoma is asymmetric (an off-centre bulge
//! and uneven lobes), has an irregular border (higher harmonics of its outline) and several
//! colours: dark brown, black, a blue-grey veil, reddish and whitish regression areas. Size,
//! position, rotation, skin tone, hairs and the dermatoscope's vignette vary in both classes,
//! so no one of them separates the classes.

use std::f32::consts::TAU;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::canvas::{Blob, Canvas, Plane, Texture, ValueNoise, lerp3, smoothstep};
use crate::Label;
use crate::data::Image;

const DARK_BROWN: [f32; 3] = [0.30, 0.17, 0.10];
const BLACK: [f32; 3] = [0.09, 0.06, 0.06];
const BLUE_GREY: [f32; 3] = [0.40, 0.46, 0.58];
const RED: [f32; 3] = [0.74, 0.30, 0.30];
const WHITISH: [f32; 3] = [0.88, 0.80, 0.78];

/// A region of a melanoma in a colour of its own.
struct ColourPatch {
    blob: Blob,
    colour: [f32; 3],
    opacity: f32,
    soft: f32,
}

pub(super) fn render(size: usize, rng: &mut ChaCha8Rng) -> (Image, Label) {
    let malignant = rng.random_bool(0.5);
    let u = size as f32;

    // Skin: a tone between fair and brown, mottled, with the dermatoscope's vignette.
    let fair = [0.95, 0.80, 0.72];
    let brown = [0.70, 0.50, 0.40];
    let mut skin = lerp3(fair, brown, rng.random::<f32>());
    skin[0] += rng.random_range(-0.03..0.03);
    skin[2] += rng.random_range(-0.03..0.03);
    let mottle = Texture::new(rng, 4).raster(size);
    let redness = Texture::new(rng, 3).raster(size);
    let vignette = rng.random_range(0.15..0.45);
    let mut canvas = Canvas::new(3, size);
    canvas.paint(|x, y| {
        let (ix, iy) = (x as usize, y as usize);
        let m = 1.0 + 0.05 * mottle.at(ix, iy);
        let r = 0.04 * redness.at(ix, iy).max(0.0);
        [skin[0] * m + r, skin[1] * m - r, skin[2] * m - 0.5 * r]
    });

    // The lesion outline: same size, position and rotation distributions in both classes.
    let radius = rng.random_range(0.14..0.30) * u;
    let (cx, cy) = (
        (0.5 + rng.random_range(-0.08..0.08)) * u,
        (0.5 + rng.random_range(-0.08..0.08)) * u,
    );
    let axis = rng.random_range(0.0..TAU);
    let outline = if malignant {
        Blob::circle(cx, cy, radius)
            .harmonic(1, rng.random_range(0.10..0.22), rng.random_range(0.0..TAU))
            .harmonic(2, rng.random_range(0.06..0.22), axis)
            .harmonic(3, rng.random_range(0.06..0.14), rng.random_range(0.0..TAU))
            .random_harmonics(rng, 4..=5, 0.03..0.07)
            .random_harmonics(rng, 6..=11, 0.012..0.035)
    } else {
        Blob::circle(cx, cy, radius)
            .harmonic(2, rng.random_range(0.0..0.14), axis)
            .random_harmonics(rng, 3..=4, 0.0..0.025)
    };
    let soft = if malignant {
        rng.random_range(0.01..0.035) * u
    } else {
        rng.random_range(0.008..0.02) * u
    };
    let mut lesion = Plane::new(size, 0.0);
    lesion.blob(&outline, soft, 1.0);

    // Pigment: one brown for a naevus (shading only), a brown base plus patches for melanoma.
    let base = lerp3([0.70, 0.50, 0.34], [0.40, 0.24, 0.14], rng.random::<f32>());
    let patches = if malignant {
        melanoma_patches(rng, &outline)
    } else {
        Vec::new()
    };
    let pigment = Texture::new(rng, 6).raster(size);
    let patchiness = Texture::new(rng, 5).raster(size);
    let blotches = Texture::new(rng, 6).raster(size);
    let centre_darkening = rng.random_range(0.0..0.2);
    let opacity = rng.random_range(0.85..1.0);
    // Pigment network: the zero lines of a fine noise field make an irregular mesh of darker
    // lines, faint and even in a naevus, coarse and patchy in a melanoma. The mesh size has a
    // floor of three pixels so that it never aliases into noise.
    let mesh_cells = ((u / (rng.random_range(0.05..0.07) * u).max(4.0)) as usize).max(4);
    let mesh = [
        ValueNoise::new(rng, mesh_cells).raster(size),
        ValueNoise::new(rng, mesh_cells).raster(size),
    ];
    let (mesh_strength, mesh_patchiness) = if malignant {
        (rng.random_range(0.15..0.3), 1.0)
    } else {
        (rng.random_range(0.08..0.18), 0.0)
    };
    canvas.blend_with(&lesion, opacity, |x, y| {
        let (ix, iy) = (x as usize, y as usize);
        let d = outline.relative_distance(x, y).min(1.0);
        let shade = 1.0 - centre_darkening * (1.0 - d * d) + 0.05 * pigment.at(ix, iy);
        let mut c = base.map(|v| v * shade);
        // Where the zero lines of two fields cross and join, they close into a mesh.
        let line = mesh
            .iter()
            .map(|m| smoothstep(0.3, 0.05, m.at(ix, iy).abs()))
            .fold(0.0f32, f32::max);
        let present = 1.0 - mesh_patchiness * smoothstep(-0.1, 0.3, patchiness.at(ix, iy));
        c = c.map(|v| v * (1.0 - mesh_strength * line * present * smoothstep(1.0, 0.7, d)));
        for p in &patches {
            let mottle = 0.65 + 0.35 * blotches.at(ix, iy);
            let t = p.opacity * p.blob.coverage(x, y, p.soft) * mottle;
            c = lerp3(c, p.colour, t);
        }
        // A naevus fades out at its rim.
        let rim = if malignant {
            1.0
        } else {
            0.7 + 0.3 * smoothstep(1.0, 0.75, d)
        };
        lerp3(skin, c, rim)
    });

    if rng.random_bool(0.35) {
        draw_hairs(&mut canvas, rng);
    }

    let (vx, vy) = (0.5 * u, 0.5 * u);
    canvas.modulate(|x, y| {
        let d = ((x - vx).powi(2) + (y - vy).powi(2)).sqrt() / (0.71 * u);
        1.0 - vignette * d.powi(3)
    });
    canvas.blur(0.004 * u);
    canvas.grain(rng, 0.012);
    (canvas.into_image(), Label::Class(malignant as usize))
}

/// Three to five regions of other colours, always including a dark one (dark brown or black)
/// and a blue-grey veil or red area, scattered off-centre so the colours are asymmetric too.
fn melanoma_patches(rng: &mut ChaCha8Rng, outline: &Blob) -> Vec<ColourPatch> {
    let dark = if rng.random_bool(0.5) {
        DARK_BROWN
    } else {
        BLACK
    };
    let second = if rng.random_bool(0.6) { BLUE_GREY } else { RED };
    let mut colours = vec![dark, second];
    let palette = [DARK_BROWN, BLACK, BLUE_GREY, RED, WHITISH];
    for _ in 0..rng.random_range(1..=3) {
        colours.push(palette[rng.random_range(0..palette.len())]);
    }
    // Patches cluster towards one side of the lesion.
    let bias = rng.random_range(0.0..TAU);
    let mut patches: Vec<ColourPatch> = colours
        .into_iter()
        .map(|colour| {
            let angle = bias + rng.random_range(-1.6..1.6);
            let reach = rng.random_range(0.0..0.6) * outline.radius;
            let blob = Blob::circle(
                outline.cx + reach * angle.cos(),
                outline.cy + reach * angle.sin(),
                rng.random_range(0.25..0.5) * outline.radius,
            )
            .random_harmonics(rng, 2..=4, 0.05..0.2);
            ColourPatch {
                soft: 0.5 * blob.radius,
                blob,
                colour,
                opacity: rng.random_range(0.55..0.85),
            }
        })
        .collect();
    // Irregular dark globules towards the rim.
    for _ in 0..rng.random_range(2..=7) {
        let angle = bias + rng.random_range(-2.0..2.0);
        let reach = rng.random_range(0.5..0.85) * outline.radius;
        let blob = Blob::circle(
            outline.cx + reach * angle.cos(),
            outline.cy + reach * angle.sin(),
            rng.random_range(0.05..0.09) * outline.radius,
        );
        patches.push(ColourPatch {
            soft: 0.3 * blob.radius,
            blob,
            colour: if rng.random_bool(0.5) {
                DARK_BROWN
            } else {
                BLACK
            },
            opacity: rng.random_range(0.6..0.9),
        });
    }
    patches
}

/// Dark, thin, gently curved hairs crossing the field (both classes: a nuisance, not a sign).
fn draw_hairs(canvas: &mut Canvas, rng: &mut ChaCha8Rng) {
    let u = canvas.size as f32;
    let mut hairs = Plane::new(canvas.size, 0.0);
    for _ in 0..rng.random_range(1..=5) {
        let start = (
            rng.random_range(-0.1..1.1) * u,
            rng.random_range(-0.1..1.1) * u,
        );
        let direction = rng.random_range(0.0..TAU);
        let length = rng.random_range(0.4..1.0) * u;
        let bend = rng.random_range(-0.3..0.3) * length;
        let end = (
            start.0 + length * direction.cos(),
            start.1 + length * direction.sin(),
        );
        let control = (
            0.5 * (start.0 + end.0) - bend * direction.sin(),
            0.5 * (start.1 + end.1) + bend * direction.cos(),
        );
        let points: Vec<(f32, f32)> = (0..=12)
            .map(|i| {
                let t = i as f32 / 12.0;
                let (a, b, c) = ((1.0 - t).powi(2), 2.0 * t * (1.0 - t), t * t);
                (
                    a * start.0 + b * control.0 + c * end.0,
                    a * start.1 + b * control.1 + c * end.1,
                )
            })
            .collect();
        let width = rng.random_range(0.003..0.006) * u;
        hairs.polyline(&points, width, width * 0.7, 1.0);
    }
    canvas.blend(&hairs, [0.14, 0.10, 0.08], 0.85);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Spread of chromaticity (colour with brightness divided out, so shading and vignette do
    /// not count) over the pixels darker than the skin: one brown vs several colours.
    fn lesion_colour_spread(image: &Image) -> f32 {
        let plane = image.height * image.width;
        let p = &image.pixels;
        let sum: Vec<f32> = (0..plane)
            .map(|i| p[i] + p[plane + i] + p[2 * plane + i] + 1e-3)
            .collect();
        let mut sorted = sum.clone();
        sorted.sort_by(f32::total_cmp);
        let threshold = sorted[plane * 9 / 10] * 0.8;
        let inside: Vec<usize> = (0..plane).filter(|&i| sum[i] < threshold).collect();
        if inside.len() < 10 {
            return 0.0;
        }
        let mut spread = 0.0;
        for c in 0..3 {
            let values: Vec<f32> = inside.iter().map(|&i| p[c * plane + i] / sum[i]).collect();
            let mean = values.iter().sum::<f32>() / values.len() as f32;
            spread += values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32;
        }
        spread.sqrt()
    }

    #[test]
    fn classes_are_balanced_and_melanomas_have_more_colours() {
        let (mut benign, mut malignant) = (Vec::new(), Vec::new());
        for i in 0..200 {
            let (image, label) = render(64, &mut ChaCha8Rng::seed_from_u64(i));
            let spread = lesion_colour_spread(&image);
            match label {
                Label::Class(0) => benign.push(spread),
                Label::Class(1) => malignant.push(spread),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            (70..=130).contains(&benign.len()),
            "{} benign of 200",
            benign.len()
        );
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        let (b, m) = (mean(&benign), mean(&malignant));
        assert!(
            m > 1.3 * b,
            "chromaticity spread: benign {b}, malignant {m}"
        );
        // The crude statistic alone (hairs and shading blur it), thresholded, already tells
        // two thirds of the lesions apart.
        let correct = |t: f32| {
            benign.iter().filter(|&&v| v < t).count()
                + malignant.iter().filter(|&&v| v >= t).count()
        };
        let best = benign
            .iter()
            .chain(&malignant)
            .map(|&t| correct(t))
            .max()
            .unwrap();
        assert!(
            best >= 130,
            "a threshold on colour spread gets only {best} of 200 right"
        );
    }
}
