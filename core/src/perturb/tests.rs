//! Tests that can fail: Flip Probability on hand-made decisions, every kind's invariants, the
//! geometric kinds against hand-computed positions, brightness against HSV by hand, and the
//! benchmark's independence of batch size and sharding.

use super::*;
use crate::data::Image;
use crate::robustness::Decision;

fn classes(c: &[usize]) -> Vec<Decision> {
    c.iter().map(|&c| Decision::Class(c)).collect()
}

fn findings(f: &[&[u8]]) -> Vec<Decision> {
    f.iter()
        .map(|l| Decision::Findings(l.iter().map(|&b| b == 1).collect()))
        .collect()
}

#[test]
fn flip_probability_on_hand_made_sequences() {
    let previous = FlipProbability::new(Reference::Previous, FlipVariant::Normalized);
    let first = FlipProbability::new(Reference::First, FlipVariant::Normalized);
    // 3 frames 0, 1, 1: against the previous frame one flip of two; against the first, two.
    assert_eq!(previous.sequence(&classes(&[0, 1, 1])), 0.5);
    assert_eq!(first.sequence(&classes(&[0, 1, 1])), 1.0);
    // 4 frames 0, 1, 0, 0: previous: 0→1, 1→0 flip, 0→0 not: 2/3; first: only frame 1: 1/3.
    assert!((previous.sequence(&classes(&[0, 1, 0, 0])) - 2.0 / 3.0).abs() < 1e-12);
    assert!((first.sequence(&classes(&[0, 1, 0, 0])) - 1.0 / 3.0).abs() < 1e-12);
    // A stable sequence never flips; the mean over sequences.
    assert_eq!(previous.sequence(&classes(&[2, 2, 2])), 0.0);
    let mean = previous.over(&[classes(&[0, 1, 1]), classes(&[2, 2, 2])]);
    assert_eq!(mean, 0.25);
    // The seed's variant is ImageNet-P's for single-label sequences: the same numbers.
    let seed_previous = FlipProbability::new(Reference::Previous, FlipVariant::Paper);
    assert_eq!(
        seed_previous.sequence(&classes(&[0, 1, 0, 0])),
        previous.sequence(&classes(&[0, 1, 0, 0]))
    );

    // Multi-label, 2 labels, 3 frames [10, 11, 01]:
    let seq = findings(&[&[1, 0], &[1, 1], &[0, 1]]);
    // previous: frame 1 flips label 2, frame 2 flips label 1 → 2 flips / (2 labels × 2) = 0.5.
    assert_eq!(previous.sequence(&seq), 0.5);
    // first: frame 1 one flip, frame 2 two → 3 / 4.
    assert_eq!(first.sequence(&seq), 0.75);
    // The seed's: first-frame reference whatever the kind, summed over frames, / labels: 3 / 2.
    assert_eq!(seed_previous.sequence(&seq), 1.5);
    // Its range is [0, n − 1]: every label flips on every frame of 4 → 3.
    let all = findings(&[&[0, 0], &[1, 1], &[1, 1], &[1, 1]]);
    assert_eq!(seed_previous.sequence(&all), 3.0);
    assert_eq!(previous.sequence(&all), 1.0 / 3.0);
}

/// A 3-channel test pattern with structure everywhere: gradients, a bright square, a dark band.
fn pattern(size: usize) -> Image {
    let mut pixels = Vec::with_capacity(3 * size * size);
    for c in 0..3 {
        for y in 0..size {
            for x in 0..size {
                let mut v = (x as f32 / size as f32) * 0.6 + (y as f32 / size as f32) * 0.2;
                if (size / 4..size / 2).contains(&x) && (size / 3..size / 2).contains(&y) {
                    v = 0.95;
                }
                if (2 * size / 3..3 * size / 4).contains(&y) {
                    v *= 0.3;
                }
                pixels.push((v + 0.05 * c as f32).clamp(0.0, 1.0));
            }
        }
    }
    Image::new(3, size, size, pixels)
}

fn mean_abs_diff(a: &Image, b: &Image) -> f64 {
    a.pixels
        .iter()
        .zip(&b.pixels)
        .map(|(x, y)| (x - y).abs() as f64)
        .sum::<f64>()
        / a.pixels.len() as f64
}

#[test]
fn every_kind_is_seeded_keeps_the_shape_and_the_pixel_range() {
    let image = pattern(48);
    let key = SequenceKey::new(7, 3);
    for kind in PERTURBATIONS {
        let frames = kind.sequence(&image, 10, key);
        assert_eq!(frames.len(), 10, "{}", kind.name());
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(
                (f.channels, f.height, f.width),
                (3, 48, 48),
                "{} frame {i}",
                kind.name()
            );
            assert!(
                f.pixels.iter().all(|v| (0.0..=1.0).contains(v)),
                "{} frame {i} leaves [0, 1]",
                kind.name()
            );
            assert_eq!(
                f,
                &kind.frame(&image, i, key),
                "{} frame {i}: sequence = frame",
                kind.name()
            );
        }
        // Same key, same frames; a perturbed frame differs from the clean image.
        assert_eq!(frames, kind.sequence(&image, 10, key), "{}", kind.name());
        assert!(
            mean_abs_diff(&frames[9], &image) > 1e-3,
            "{}: the last frame is the clean image",
            kind.name()
        );
        // Gray images work too.
        let gray = kind.frame(&image.clone().with_channels(1), 5, key);
        assert_eq!((gray.channels, gray.height), (1, 48), "{}", kind.name());
    }
}

#[test]
fn random_kinds_draw_per_seed_and_image_and_noises_start_clean() {
    let image = pattern(32);
    for name in [
        "gaussian_noise",
        "shot_noise",
        "speckle_noise",
        "snow",
        "spatter",
    ] {
        let kind = perturbation(name).unwrap();
        let a = kind.frame(&image, 3, SequenceKey::new(1, 0));
        assert_ne!(
            a,
            kind.frame(&image, 3, SequenceKey::new(2, 0)),
            "{name}: seed"
        );
        assert_ne!(
            a,
            kind.frame(&image, 3, SequenceKey::new(1, 1)),
            "{name}: image"
        );
    }
    for name in ["gaussian_noise", "shot_noise", "speckle_noise"] {
        let kind = perturbation(name).unwrap();
        assert_eq!(kind.reference(), Reference::First, "{name}");
        assert_eq!(
            kind.frame(&image, 0, SequenceKey::new(1, 0)),
            image,
            "{name}: frame 0 clean"
        );
        // Fresh draws: frames 1 and 2 differ from each other.
        let key = SequenceKey::new(1, 0);
        assert_ne!(
            kind.frame(&image, 1, key),
            kind.frame(&image, 2, key),
            "{name}"
        );
    }
    for kind in PERTURBATIONS
        .iter()
        .filter(|k| !k.name().ends_with("noise"))
    {
        assert_eq!(kind.reference(), Reference::Previous, "{}", kind.name());
    }
}

#[test]
fn noise_statistics_match_their_formulas() {
    // A flat mid-gray image, far from the clip at 0 and 1.
    let image = Image::new(3, 64, 64, vec![0.5; 3 * 64 * 64]);
    let stats = |name: &str| {
        let f = perturbation(name)
            .unwrap()
            .frame(&image, 1, SequenceKey::new(0, 0));
        let n = f.pixels.len() as f64;
        let mean = f.pixels.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = f
            .pixels
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    };
    let (mean, sd) = stats("gaussian_noise");
    assert!(
        (mean - 0.5).abs() < 0.002 && (sd - 0.03).abs() < 0.0015,
        "{mean} {sd}"
    );
    // Poisson(150) / 300: mean 0.5, sd √150 / 300.
    let (mean, sd) = stats("shot_noise");
    assert!(
        (mean - 0.5).abs() < 0.002 && (sd - 150f64.sqrt() / 300.0).abs() < 0.002,
        "{mean} {sd}"
    );
    // x + x·N(0, 0.05): sd 0.025.
    let (mean, sd) = stats("speckle_noise");
    assert!(
        (mean - 0.5).abs() < 0.002 && (sd - 0.025).abs() < 0.0015,
        "{mean} {sd}"
    );
}

#[test]
fn blurs_grow_with_the_frame_index() {
    let image = pattern(64);
    let key = SequenceKey::new(0, 0);
    for name in ["gaussian_blur", "zoom_blur"] {
        let kind = perturbation(name).unwrap();
        let strength: Vec<f64> = (0..10)
            .map(|i| mean_abs_diff(&kind.frame(&image, i, key), &image))
            .collect();
        for w in strength.windows(2) {
            assert!(w[1] > w[0], "{name}: {strength:?}");
        }
    }
    // Zoom blur's frame 0 is the image itself (a zoom of 1).
    assert_eq!(
        perturbation("zoom_blur").unwrap().frame(&image, 0, key),
        image
    );
}

#[test]
fn blur_kernels_by_hand() {
    // scipy's radius ⌊6σ + ½⌋: σ 0.25 → 2 (5 taps), σ 1 → 6 (13 taps); symmetric, summing to 1.
    let k = gaussian_blur::gaussian_kernel(0.25, 6.0);
    assert_eq!(k.len(), 5);
    let e8 = (-8.0f64).exp();
    let total = 1.0 + 2.0 * e8 + 2.0 * (-32.0f64).exp();
    assert!((k[2] as f64 - 1.0 / total).abs() < 1e-7 && (k[1] as f64 - e8 / total).abs() < 1e-9);
    assert_eq!(gaussian_blur::gaussian_kernel(1.0, 6.0).len(), 13);
    // ImageMagick's motion kernel, radius 1, σ 1, angle 0: width 3, weights e^0, e^−½, e^−2,
    // taps at x + 0, 1, 2; at 90° the same weights down the column.
    let total = 1.0 + (-0.5f64).exp() + (-2.0f64).exp();
    let k = motion_blur::motion_kernel(1.0, 1.0, 0.0);
    assert_eq!(
        k.iter().map(|t| (t.1, t.2)).collect::<Vec<_>>(),
        [(0, 0), (1, 0), (2, 0)]
    );
    assert!((k[1].0 as f64 - (-0.5f64).exp() / total).abs() < 1e-7);
    let k = motion_blur::motion_kernel(1.0, 1.0, 90.0);
    assert_eq!(
        k.iter().map(|t| (t.1, t.2)).collect::<Vec<_>>(),
        [(0, 0), (0, 1), (0, 2)]
    );
    // A flat image stays flat under every blur (edges repeat the border).
    let flat = Image::new(1, 20, 20, vec![0.4; 400]);
    for name in ["gaussian_blur", "motion_blur", "zoom_blur"] {
        let f = perturbation(name)
            .unwrap()
            .frame(&flat, 9, SequenceKey::new(0, 0));
        let interior = (5..15).flat_map(|y| (5..15).map(move |x| (y, x)));
        for (y, x) in interior {
            assert!((f.at(0, y, x) - 0.4).abs() < 1e-5, "{name} at {y},{x}");
        }
    }
}

/// The intensity-weighted centre (x, y) of a one-channel image.
fn centroid(image: &Image) -> (f64, f64) {
    let (mut sx, mut sy, mut total) = (0.0, 0.0, 0.0);
    for y in 0..image.height {
        for x in 0..image.width {
            let v = image.at(0, y, x) as f64;
            sx += v * x as f64;
            sy += v * y as f64;
            total += v;
        }
    }
    (sx / total, sy / total)
}

/// A 256 × 256 black image (the seed's surround, where its moving-camera lengths are given) with
/// a smooth blob (σ 3 px) centred on pixel (x, y): its intensity-weighted centre follows a warp to
/// well under a pixel.
fn dot(x: usize, y: usize) -> Image {
    let mut image = Image::zeros(1, 256, 256);
    for py in 0..256 {
        for px in 0..256 {
            let r2 = (px as f64 - x as f64).powi(2) + (py as f64 - y as f64).powi(2);
            image.pixels[py * 256 + px] = (-r2 / 18.0).exp() as f32;
        }
    }
    image
}

fn assert_moves(name: &str, frame: usize, from: (usize, usize), to: (f64, f64)) {
    let moved =
        perturbation(name)
            .unwrap()
            .frame(&dot(from.0, from.1), frame, SequenceKey::new(0, 0));
    let (x, y) = centroid(&moved);
    assert!(
        (x - to.0).abs() < 0.2 && (y - to.1).abs() < 0.2,
        "{name} frame {frame}: the dot at {from:?} went to ({x:.2}, {y:.2}), expected ({:.2}, {:.2})",
        to.0,
        to.1
    );
}

#[test]
fn geometric_kinds_move_pixels_where_the_formulas_say() {
    // The centre the seed's torchvision (0.5, 0.6) turned about: PIL's w·0.5 + 0.5, pixel 128 of
    // a 256 surround in pixel-centre coordinates.
    let c = 128.0;
    // translate: frame i shifts right by i − 20 px: frame 0 → 20 px left, frame 9 → 11 px left.
    assert_moves("translate", 0, (150, 100), (130.0, 100.0));
    assert_moves("translate", 9, (150, 100), (139.0, 100.0));
    // rotate: frame 0 turns by −15° (counter-clockwise on screen, y down). The dot at (178, 128)
    // is (50, 0) from the centre; (dx, dy) → (cos a·dx − sin a·dy, sin a·dx + cos a·dy).
    let (s, co) = 15f64.to_radians().sin_cos();
    assert_moves("rotate", 0, (178, 128), (c + 50.0 * co, c - 50.0 * s));
    // scale: frame 0 shrinks by 0.4 about the centre, frame 9 by 0.625.
    assert_moves("scale", 0, (178, 120), (c + 50.0 * 0.4, c - 8.0 * 0.4));
    assert_moves("scale", 9, (178, 120), (c + 50.0 * 0.625, c - 8.0 * 0.625));
    // shear: frame 0, φ = −15°: x' = x − tan φ·(y − c), y unchanged; a dot 40 px below the centre
    // moves 40·tan 15° to the right. torchvision ≤ 0.4 moved it by 40·sin 15° and brought it to
    // 40·cos 15° below the centre.
    let t = 15f64.to_radians().tan();
    assert_moves("shear", 0, (128, 168), (c + 40.0 * t, 168.0));
    assert_moves("shear_legacy", 0, (128, 168), (c + 40.0 * s, c + 40.0 * co));
    // tilt at frame 15 (0°) is the identity; at frame 0 (−15° about both axes) a dot lands where
    // numpy puts it with the seed's matrix (P2·T·Rx·Ry·P1, f = √(256² + 256²)):
    // (178, 128) → (178.158, 124.798), (70, 190) → (72.140, 192.131).
    assert_moves("tilt", 15, (150, 90), (150.0, 90.0));
    assert_moves("tilt", 0, (178, 128), (178.158, 124.798));
    assert_moves("tilt", 0, (70, 190), (72.140, 192.131));
}

/// The moving-camera kinds bring the surround into view, as the seed's frames do: a white image
/// shows black only where the seed's does (translate: a 4-pixel bar at frame 0, none from frame
/// 4 on; rotate: corner slivers), where warping the model-sized image showed 20 → 11 px bars.
#[test]
fn moving_camera_frames_show_the_surround_not_black() {
    let input = crate::model::InputSpec::with_default_stats(1, 224);
    let white = Image::new(1, 300, 300, vec![1.0; 300 * 300]);
    let frames = |name: &str| {
        model_frames(
            &input,
            white.clone(),
            perturbation(name).unwrap(),
            10,
            SequenceKey::new(0, 0),
        )
    };
    let black_columns = |frame: &Image| {
        (0..frame.width)
            .filter(|&x| (0..frame.height).all(|y| frame.at(0, y, x) == 0.0))
            .count()
    };
    let translate = frames("translate");
    assert_eq!(black_columns(&translate[0]), 4);
    assert_eq!(black_columns(&translate[3]), 1);
    for frame in &translate[4..] {
        assert!(frame.pixels.iter().all(|&v| v > 0.999));
    }
    let black_share = |frame: &Image| {
        frame.pixels.iter().filter(|&&v| v < 0.5).count() as f64 / frame.pixels.len() as f64
    };
    let rotate = frames("rotate");
    assert!((0.0..0.02).contains(&black_share(&rotate[0])) && black_share(&rotate[0]) > 0.0);
    assert!(black_share(&rotate[9]) < black_share(&rotate[0]));
    // The crop kinds see the centre crop: frame 0 of a noise is the crop itself.
    let noise = frames("gaussian_noise");
    assert_eq!((noise[0].height, noise[0].width), (224, 224));
    assert!(noise[0].pixels.iter().all(|&v| v > 0.999));
}

/// The seed's whole pipeline on a photograph (`tests/fixtures/perturb/make_frame_golden.py`):
/// torchvision's `Resize(256)` on PIL float images, the warps of torchvision 0.6 / 0.4.2 and
/// PIL, the tilt through torchvision's `perspective`, then `CenterCrop(224)`; robustdx's frames
/// for a 224-pixel model agree to 1e-4 wherever the reference sampled inside the image.
#[test]
fn frames_follow_the_seeds_pipeline_on_a_photograph() {
    #[derive(serde::Deserialize)]
    struct Golden {
        model_side: usize,
        grid: Vec<usize>,
        frames: std::collections::BTreeMap<String, Vec<f32>>,
        masks: std::collections::BTreeMap<String, Vec<u8>>,
    }
    let golden: Golden = serde_json::from_str(include_str!(
        "../../../tests/fixtures/perturb/frame_golden.json"
    ))
    .unwrap();
    let photo = Image::decode(
        include_bytes!("../../../tests/fixtures/perturb/photo.png"),
        "photo.png",
    )
    .unwrap();
    assert_eq!((photo.height, photo.width), (320, 320));
    let input = crate::model::InputSpec::with_default_stats(3, golden.model_side);
    let n = golden.grid.len();
    let mut compared = 0;
    for (name, theirs) in &golden.frames {
        let (kind, frame) = name.split_once('/').unwrap();
        let frame: usize = frame.parse().unwrap();
        let kind = perturbation(kind).unwrap();
        let ours = model_frames(
            &input,
            photo.clone(),
            kind,
            frame + 1,
            SequenceKey::new(0, 0),
        )
        .pop()
        .unwrap();
        assert_eq!((ours.height, ours.width), (224, 224));
        let mask = &golden.masks[name];
        let mut worst = 0.0f32;
        for c in 0..3 {
            for (gy, &y) in golden.grid.iter().enumerate() {
                for (gx, &x) in golden.grid.iter().enumerate() {
                    if mask[gy * n + gx] == 1 {
                        let d = (ours.at(c, y, x) - theirs[(c * n + gy) * n + gx]).abs();
                        worst = worst.max(d);
                        compared += 1;
                    }
                }
            }
        }
        assert!(worst <= 1e-4, "{name}: off by {worst}");
    }
    // Most of every frame is inside the image: the comparison covers it.
    assert!(
        compared > golden.frames.len() * 3 * n * n * 3 / 4,
        "{compared}"
    );
}

#[test]
fn brightness_against_hsv_by_hand() {
    // (0.8, 0.4, 0.2): V 0.8, S 0.75, H (0.4 − 0.2)/0.6/6. Frame 0 shifts V by −0.3: hue and
    // saturation kept, so every channel scales by 0.5 / 0.8 → (0.5, 0.25, 0.125).
    let (h, s, v) = brightness::rgb_to_hsv(0.8, 0.4, 0.2);
    assert!((h - 1.0 / 18.0).abs() < 1e-6 && (s - 0.75).abs() < 1e-6 && v == 0.8);
    let pixel = |r: f32, g: f32, b: f32| Image::new(3, 1, 1, vec![r, g, b]);
    let kind = perturbation("brightness").unwrap();
    let out = kind.frame(&pixel(0.8, 0.4, 0.2), 0, SequenceKey::new(0, 0));
    for (got, want) in out.pixels.iter().zip([0.5, 0.25, 0.125]) {
        assert!((got - want).abs() < 1e-6, "{:?}", out.pixels);
    }
    // Gray 0.5 at frame 9 (shift −0.12) → 0.38; black stays black (V clips at 0); a dim
    // pixel at frame 0 clips to black.
    let out = kind.frame(&pixel(0.5, 0.5, 0.5), 9, SequenceKey::new(0, 0));
    assert!(
        out.pixels.iter().all(|v| (v - 0.38).abs() < 1e-6),
        "{:?}",
        out.pixels
    );
    let out = kind.frame(&pixel(0.1, 0.2, 0.05), 0, SequenceKey::new(0, 0));
    assert_eq!(out.pixels, [0.0, 0.0, 0.0]);
    // A round trip through HSV gives the colour back.
    for (r, g, b) in [(0.1, 0.9, 0.3), (0.7, 0.2, 0.95), (0.3, 0.3, 0.8)] {
        let (h, s, v) = brightness::rgb_to_hsv(r, g, b);
        let back = brightness::hsv_to_rgb(h, s, v);
        assert!(
            (back.0 - r).abs() < 1e-6 && (back.1 - g).abs() < 1e-6 && (back.2 - b).abs() < 1e-6
        );
    }
}

#[test]
fn spatter_drips_down_and_snow_whitens() {
    // The drip moves a wet row down by two rows (weight 0.7 two rows above).
    let mut layer = planes::Plane::new(4, 8);
    layer.put_pixel(1, 2, image::Luma([1.0]));
    let dripped = spatter::Spatter::drip(&layer);
    let column: Vec<f32> = (0..8).map(|y| dripped.get_pixel(1, y)[0]).collect();
    assert_eq!(column, [0.0, 0.05, 0.1, 0.15, 0.7, 0.0, 0.0, 0.0]);
    // Snow never darkens a pixel: the whitened image plus flakes.
    let image = pattern(64);
    let snowy = perturbation("snow")
        .unwrap()
        .frame(&image, 4, SequenceKey::new(3, 1));
    assert!(image.pixels.iter().zip(&snowy.pixels).all(|(a, b)| b >= a));
    // Spatter adds water: never darker either.
    let wet = perturbation("spatter")
        .unwrap()
        .frame(&image, 4, SequenceKey::new(3, 1));
    assert!(image.pixels.iter().zip(&wet.pixels).all(|(a, b)| b >= a));
}

#[test]
fn registry_names_and_schedules() {
    // The seed's fourteen, in its order (the tests' throwaway kind after them).
    let names: Vec<&str> = PERTURBATIONS.iter().map(|p| p.name()).collect();
    let seed = [
        "gaussian_noise",
        "shot_noise",
        "speckle_noise",
        "motion_blur",
        "zoom_blur",
        "gaussian_blur",
        "snow",
        "spatter",
        "brightness",
        "translate",
        "rotate",
        "tilt",
        "scale",
        "shear",
    ];
    assert_eq!(names[..seed.len()], seed);
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert_eq!(
        perturbation("gaussian-blur").unwrap().name(),
        "gaussian_blur"
    );
    let err = perturbation("fog").err().unwrap().to_string();
    assert!(err.contains("fog") && err.contains("spatter"), "{err}");
    // A benchmark that names no kinds runs the seed's fourteen; the legacy shear only when named.
    let default: Vec<&str> = perturbations(&[])
        .unwrap()
        .iter()
        .map(|p| p.name())
        .collect();
    assert_eq!(default[..seed.len()], seed);
    assert!(!default.contains(&"shear_legacy"), "{default:?}");
    assert_eq!(
        perturbations(&["shear-legacy".into()]).unwrap()[0].name(),
        "shear_legacy"
    );
    let picked = perturbations(&["rotate".into(), "snow".into()]).unwrap();
    assert_eq!(
        picked.iter().map(|p| p.name()).collect::<Vec<_>>(),
        ["snow", "rotate"]
    );
    // The schedules are the seed's numbers.
    assert_eq!(
        perturbation("gaussian_blur").unwrap().schedule().at(9),
        Some(0.25 + 0.035 * 9.0)
    );
    assert_eq!(
        perturbation("translate").unwrap().schedule().at(0),
        Some(-20.0)
    );
    assert_eq!(perturbation("scale").unwrap().schedule().at(4), Some(0.5));
    assert_eq!(
        perturbation("motion_blur").unwrap().schedule().at(0),
        Some(-120.0)
    );
    assert_eq!(
        perturbation("gaussian_noise").unwrap().schedule().at(0),
        None
    );
    let shown = |name: &str| perturbation(name).unwrap().schedule().describe();
    assert_eq!(shown("brightness"), "HSV value + (−0.3 + 0.02·i)");
    assert_eq!(shown("rotate"), "turn (i − 15)°");
    assert_eq!(
        shown("shot_noise"),
        "λ = 300 photons per unit from frame 1 (frame 0 clean)"
    );
}

mod benchmark_runs {
    use super::super::*;
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::report::{
        BenchmarkIdentity, BenchmarkReport, DataSummary, KindResult, ModelSummary,
    };
    use crate::robustness::{Shard, decision};
    use crate::run::{Plan, merge};
    use crate::test_support::{Recorded, cpu, seeded_small_cnn};

    fn identity(kind: &str, seed: u64) -> BenchmarkIdentity {
        BenchmarkIdentity::new(
            perturbation(kind).unwrap(),
            4,
            crate::test_support::subject("synth-chest", seed),
        )
    }

    /// Same seed, same records for any batch size; shards merged give the single run; a resumed
    /// run reuses only the kinds whose identity matches; FP is what the records say.
    #[test]
    fn records_do_not_depend_on_batch_size_or_shards_and_resume_matches_identities() {
        let device = cpu();
        let splits = synthetic::open(
            SyntheticKind::Chest,
            &SyntheticConfig {
                n: 4,
                test: 5,
                size: 32,
                seed: 2,
            },
        );
        let test = splits.test.as_ref();
        let model = seeded_small_cnn(test.info(), 32, 4, 5);
        let ids = vec![identity("gaussian_noise", 0), identity("rotate", 0)];
        let run = |ids: &[BenchmarkIdentity], previous: &[KindResult], batch, shard| {
            let header = BenchmarkReport::new(
                ModelSummary::new("m.bpk", &model.card),
                DataSummary {
                    name: "synth-chest".into(),
                    split: "test".into(),
                    samples: test.len(),
                    shard,
                    skipped: Vec::new(),
                },
                4,
                0,
                FlipVariant::Normalized,
            );
            let mut events = Recorded::<BenchmarkReport>::default();
            let report = RobustBenchmark {
                model: &model,
                data: test,
                shard,
                batch_size: batch,
                device: &device,
            }
            .run(ids, previous, header, &mut events)
            .unwrap();
            (report, events)
        };
        let (one, events) = run(&ids, &[], 1, None);
        assert_eq!(events.written, 2);
        let (three, _) = run(&ids, &[], 3, None);
        assert_eq!(one.results, three.results);
        let noise = &one.results[0];
        assert_eq!(noise.records.len(), 5);
        let findings = test.info().class_names.len();
        assert!(
            noise
                .records
                .iter()
                .all(|r| r.probs.len() == 4 && r.probs[0].len() == findings)
        );
        // FP is the records' own: recomputed from the decisions.
        let decisions: Vec<Vec<_>> = noise
            .records
            .iter()
            .map(|r| {
                r.probs
                    .iter()
                    .map(|p| decision(model.card.task, p))
                    .collect()
            })
            .collect();
        let fp = FlipProbability::new(Reference::First, FlipVariant::Normalized).over(&decisions);
        assert_eq!(noise.flip_probability, fp);
        assert!((0.0..=1.0).contains(&fp) && (0.0..=3.0).contains(&noise.flip_probability_paper));

        let shards: Vec<(String, BenchmarkReport)> = (0..2)
            .map(|index| {
                let shard = Some(Shard { index, count: 2 });
                (format!("shard{index}.json"), run(&ids, &[], 2, shard).0)
            })
            .collect();
        let merged = merge(shards.clone()).unwrap();
        assert_eq!(merged.results, one.results);
        assert_eq!(merged.data.shard, None);
        let err = merge(vec![shards[0].clone()]).unwrap_err();
        assert!(err.to_string().contains("shard 1/2 missing"), "{err}");
        let err = merge(vec![shards[0].clone(), shards[0].clone()]).unwrap_err();
        assert!(err.to_string().contains("given twice"), "{err}");

        // Resume with the noise's seed changed: rotate is reused, the noise recomputed (saying
        // why) with fresh draws.
        let changed = vec![identity("gaussian_noise", 1), identity("rotate", 0)];
        let (resumed, events) = run(&changed, &one.results, 2, None);
        match &events.plans[0] {
            Plan::Run { because: Some(why) } => assert_eq!(why, "seed 0 → 1"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(events.plans[1], Plan::Reuse(_)));
        assert_eq!(resumed.results[1], one.results[1]);
        assert_ne!(resumed.results[0].records, one.results[0].records);

        // A kind whose frames changed (the throwaway contrast, at revision 1): a result of its
        // old frames is recomputed, saying so; the same revision is reused.
        let contrast = identity("contrast", 0);
        assert_eq!(contrast.revision, 1);
        let mut old_contrast = contrast.clone();
        old_contrast.revision = 0;
        let (old, _) = run(std::slice::from_ref(&old_contrast), &[], 2, None);
        let (new, events) = run(std::slice::from_ref(&contrast), &old.results, 2, None);
        match &events.plans[0] {
            Plan::Run { because: Some(why) } => assert_eq!(why, "revision of contrast 0 → 1"),
            other => panic!("{other:?}"),
        }
        let (_, events) = run(std::slice::from_ref(&contrast), &new.results, 2, None);
        assert!(matches!(events.plans[0], Plan::Reuse(_)));
        // Files leave a first revision out and keep the identity's keys where they were.
        let written = serde_json::to_value(&new.results[0].identity).unwrap();
        assert_eq!(written["revision"], 1);
        assert_eq!(written["seed"], 0);
        assert!(serde_json::to_value(&old_contrast).unwrap()["revision"].is_null());

        // Shards of other revisions or of other data (fingerprints) are not one run.
        let mut revised = shards.clone();
        revised[1].1.results[0].identity.revision = 7;
        let err = merge(revised).unwrap_err().to_string();
        assert!(
            err.contains("shard1.json") && err.contains("revision of gaussian_noise 1 → 7"),
            "{err}"
        );
        let mut other_data = shards.clone();
        other_data[1].1.results[1].identity.subject.data_fingerprint = Some("ef".repeat(32));
        let err = merge(other_data).unwrap_err().to_string();
        assert!(
            err.contains("shard1.json")
                && err.contains("data fingerprint cdcdcdcdcdcd… → efefefefefef…"),
            "{err}"
        );
    }
}

/// robustdx's frames against the libraries the seed called (`tests/fixtures/perturb/`): scipy's
/// Gaussian filter, HSV by `colorsys`.
#[test]
fn frames_equal_the_reference_libraries() {
    #[derive(serde::Deserialize)]
    struct Golden {
        height: usize,
        width: usize,
        image: Vec<f32>,
        frames: std::collections::BTreeMap<String, Vec<f32>>,
    }
    let golden: Golden = serde_json::from_str(include_str!(
        "../../../tests/fixtures/perturb/perturb_golden.json"
    ))
    .unwrap();
    let image = Image::new(3, golden.height, golden.width, golden.image.clone());
    let key = SequenceKey::new(0, 0);
    let largest_difference = |name: &str, frame: usize, reference: &str| {
        let ours = perturbation(name).unwrap().frame(&image, frame, key);
        ours.pixels
            .iter()
            .zip(&golden.frames[reference])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max)
    };
    for i in [0, 9] {
        for (name, tolerance) in [("gaussian_blur", 1e-6), ("brightness", 1e-6)] {
            let d = largest_difference(name, i, &format!("{name}/{i}"));
            assert!(d <= tolerance, "{name} frame {i}: off by {d}");
        }
    }
}
