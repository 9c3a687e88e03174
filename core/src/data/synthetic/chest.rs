//! Chest-film-like frontal radiographs (PA view, grayscale) with co-occurring findings.
//!
//! Anatomy: soft tissue, dark lung fields with vascular markings fanning out from the hila, the
//! bright mediastinum and spine, the heart shadow (mostly on the image's right, the patient's
//! left), rib arcs, clavicles, the diaphragm domes with sharp costophrenic angles.
//!
//! Findings carry the ChestX-ray14 names and a visible sign each: Cardiomegaly (heart wider than
//! half the chest), Effusion (bright fluid at a lung base with a meniscus that blunts the
//! angle), Mass (a large lobulated opacity), Nodule (a small round opacity), Pneumothorax (a
//! lateral rim of lung without markings behind a thin pleural line) and Consolidation (a hazy,
//! mottled patch). Prevalences are 15-35% and findings co-occur as they do clinically: effusion
//! with cardiomegaly, consolidation with effusion, nodules with a mass.

use std::f32::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::canvas::{Blob, Canvas, Plane, Texture, lerp, smoothstep};
use crate::Label;
use crate::data::Image;

/// Finding names, in label order.
pub const FINDINGS: [&str; 6] = [
    "Cardiomegaly",
    "Effusion",
    "Mass",
    "Nodule",
    "Pneumothorax",
    "Consolidation",
];

const CARDIOMEGALY: usize = 0;
const EFFUSION: usize = 1;
const MASS: usize = 2;
const NODULE: usize = 3;
const PNEUMOTHORAX: usize = 4;
const CONSOLIDATION: usize = 5;

/// Draws the findings of one patient, with clinical co-occurrence.
fn draw_findings(rng: &mut ChaCha8Rng) -> Vec<bool> {
    let mut f = vec![false; FINDINGS.len()];
    f[CARDIOMEGALY] = rng.random_bool(0.25);
    f[EFFUSION] = rng.random_bool(if f[CARDIOMEGALY] { 0.5 } else { 0.15 });
    f[MASS] = rng.random_bool(0.18);
    f[NODULE] = rng.random_bool(if f[MASS] { 0.4 } else { 0.2 });
    f[PNEUMOTHORAX] = rng.random_bool(0.17);
    f[CONSOLIDATION] = rng.random_bool(if f[EFFUSION] { 0.4 } else { 0.17 });
    f
}

/// The patient's chest, in normalised image coordinates (0..1).
struct Thorax {
    /// Midline.
    xc: f32,
    apex: f32,
    /// Lowest point of each hemidiaphragm (at the costophrenic angles): [image left, right].
    base: [f32; 2],
    dome: f32,
    /// Half-width of the lung fields at their widest, from the midline.
    half_width: f32,
    medial: f32,
}

impl Thorax {
    fn side_index(side: f32) -> usize {
        usize::from(side > 0.0)
    }

    /// Distance from the midline towards `side` (-1 image left, +1 image right).
    fn lateral(&self, side: f32, x: f32) -> f32 {
        side * (x - self.xc)
    }

    /// Lateral edge of a lung at height y: narrow at the apex, widest at the base.
    fn lateral_edge(&self, y: f32) -> f32 {
        let t = ((y - self.apex) / (self.base[0] - self.apex)).clamp(0.0, 1.0);
        // A rounded apex, then walls that bow out only slowly towards the base.
        let profile = (1.0 - (1.0 - t).powi(3)).sqrt() * (0.93 + 0.07 * t);
        self.medial + 0.01 + (self.half_width - self.medial - 0.01) * profile
    }

    /// Fraction of the way from the medial to the lateral edge of the lung base.
    fn across(&self, d: f32) -> f32 {
        ((d - self.medial) / (self.half_width - self.medial)).clamp(0.0, 1.0)
    }

    /// Height of the diaphragm at lateral distance d: domed, lowest at both angles.
    fn diaphragm(&self, side: f32, d: f32) -> f32 {
        let q = self.across(d);
        // The lateral angle is deep and sharp, the medial one shallow.
        let shape = (4.0 * q * (1.0 - q)).max(0.0).sqrt() - 0.3 * (1.0 - q);
        self.base[Self::side_index(side)] - self.dome * shape
    }

    /// Soft-edged lung field (air) coverage at (x, y); `e` is one pixel in normalised units.
    fn lung(&self, side: f32, x: f32, y: f32, e: f32) -> f32 {
        let d = self.lateral(side, x);
        if d < self.medial - e || y < self.apex - e || d > self.half_width + e {
            return 0.0;
        }
        smoothstep(self.medial - e, self.medial + e, d)
            * smoothstep(e, -e, d - self.lateral_edge(y))
            * smoothstep(self.apex - e, self.apex + 2.0 * e, y)
            * smoothstep(e, -e, y - self.diaphragm(side, d))
    }
}

struct Effusion {
    side: f32,
    /// Height of the fluid level medially, above the costophrenic angle.
    depth: f32,
}

struct Pneumothorax {
    side: f32,
    /// Width of the air rim at its widest (normalised).
    rim: f32,
    /// How far down the rim reaches.
    lowest: f32,
}

pub(super) fn render(size: usize, rng: &mut ChaCha8Rng) -> (Image, Label) {
    let findings = draw_findings(rng);
    let u = size as f32;
    let e = 0.75 / u;
    let thorax = Thorax {
        xc: 0.5 + rng.random_range(-0.025..0.025),
        apex: rng.random_range(0.12..0.17),
        base: {
            let left = rng.random_range(0.73..0.80);
            // The right hemidiaphragm (image left) usually sits a little higher.
            [left - rng.random_range(0.0..0.03), left]
        },
        dome: rng.random_range(0.05..0.08),
        half_width: rng.random_range(0.37..0.42),
        medial: rng.random_range(0.05..0.065),
    };
    let random_side = |rng: &mut ChaCha8Rng| if rng.random_bool(0.5) { -1.0f32 } else { 1.0 };

    // Heart: cardio-thoracic ratio 0.38-0.47 when normal, 0.55-0.66 when enlarged. A third of
    // it lies right of the spine (image left); its long axis runs down towards the apex.
    let ctr = if findings[CARDIOMEGALY] {
        rng.random_range(0.55..0.66)
    } else {
        rng.random_range(0.38..0.47)
    };
    let heart_rx = ctr * thorax.half_width;
    let heart_ry = rng.random_range(0.11..0.13) * (1.0 + 0.8 * (ctr - 0.42));
    let heart = Blob::circle(
        (thorax.xc + 0.3 * heart_rx) * u,
        (thorax.base[1] - 0.01 - 0.8 * heart_ry) * u,
        0.5 * (heart_rx + heart_ry) * u,
    )
    .harmonic(
        2,
        (heart_rx - heart_ry) / (heart_rx + heart_ry),
        rng.random_range(0.2..0.45),
    )
    .harmonic(3, 0.04, rng.random_range(0.0..PI));
    let mut heart_plane = Plane::new(size, 0.0);
    heart_plane.blob(&heart, 0.025 * u, 1.0);

    let effusions: Vec<Effusion> = if findings[EFFUSION] {
        let both = rng.random_bool(0.3);
        let first = random_side(rng);
        let sides = if both { vec![-1.0, 1.0] } else { vec![first] };
        sides
            .into_iter()
            .map(|side| Effusion {
                side,
                depth: rng.random_range(0.08..0.17),
            })
            .collect()
    } else {
        Vec::new()
    };
    let pneumothorax = findings[PNEUMOTHORAX].then(|| Pneumothorax {
        side: random_side(rng),
        rim: rng.random_range(0.05..0.10),
        lowest: rng.random_range(0.5..0.7),
    });

    let ribs = draw_ribs(&thorax, size, rng);
    let markings = draw_markings(&thorax, size, rng);
    let opacities = draw_opacities(&thorax, &findings, size, rng);
    let consolidation = findings[CONSOLIDATION].then(|| {
        let side = random_side(rng);
        let d = rng.random_range(0.13..0.27);
        let y = rng.random_range(0.42..0.66);
        let blob = Blob::circle(
            (thorax.xc + side * d) * u,
            y * u,
            rng.random_range(0.08..0.12) * u,
        )
        .random_harmonics(rng, 2..=4, 0.05..0.18);
        (blob, Texture::new(rng, 10).raster(size))
    });

    let lung_level = rng.random_range(0.17..0.25);
    let tissue_level = rng.random_range(0.42..0.5);
    let mediastinum_level = tissue_level + rng.random_range(0.17..0.21);
    let knob_y = thorax.apex + rng.random_range(0.12..0.16);
    let mottle = Texture::new(rng, 8).raster(size);
    let mut film = Canvas::new(1, size);
    film.paint(|px, py| {
        let (x, y) = (px / u, py / u);
        let (ix, iy) = (px as usize, py as usize);
        // Soft tissue of neck, shoulders and trunk, denser towards the abdomen; air outside.
        let body_half = lerp(0.16, 0.47, smoothstep(0.0, 0.14, y));
        let body = smoothstep(e, -e, (x - thorax.xc).abs() - body_half);
        let tissue = tissue_level + 0.19 * smoothstep(0.62, 0.82, y);
        let mut v = lerp(0.05, tissue + 0.03 * mottle.at(ix, iy), body);

        for side in [-1.0f32, 1.0] {
            let lung = thorax.lung(side, x, y, e);
            if lung <= 0.0 {
                continue;
            }
            let d = thorax.lateral(side, x);
            let across = thorax.across(d);
            let fluid = effusions
                .iter()
                .filter(|f| f.side == side)
                .map(|f| {
                    // Meniscus: the fluid climbs the lateral chest wall.
                    let top =
                        thorax.base[Thorax::side_index(side)] - f.depth - 0.07 * across * across;
                    smoothstep(top - 2.0 * e, top + 2.0 * e, y)
                })
                .fold(0.0f32, f32::max);
            let (rim, pleural_line) = match &pneumothorax {
                Some(p) if p.side == side => {
                    let along = smoothstep(p.lowest, thorax.apex + 0.1, y);
                    let gap = d - (thorax.lateral_edge(y) - p.rim * along);
                    let line = smoothstep(1.5 * e, 0.0, gap.abs()) * along;
                    (smoothstep(-e, e, gap) * smoothstep(0.05, 0.3, along), line)
                }
                _ => (0.0, 0.0),
            };
            let air = lung * (1.0 - fluid);
            // Denser near the hila and over the breasts at the bases, darkest at the periphery.
            let hilar = (-((d - thorax.medial - 0.04).powi(2) + (y - 0.45).powi(2)) / 0.006).exp();
            let breast = 0.07 * smoothstep(0.5, 0.75, y) * across;
            let marking = 0.07 * markings.at(ix, iy) * (1.0 - rim);
            let level = lung_level + 0.1 * hilar + breast + marking - 0.03 * across;
            v = lerp(v, level, 0.95 * air);
            v = lerp(v, lung_level - 0.1, rim * air);
            v = lerp(v, lung_level + 0.25, 0.8 * pleural_line * air);
            v = lerp(v, tissue + 0.1, fluid * lung);
            if let Some((blob, texture)) = &consolidation {
                let c =
                    blob.coverage(px, py, 0.35 * blob.radius) * (0.7 + 0.3 * texture.at(ix, iy));
                v = lerp(v, tissue + 0.06, 0.75 * c * lung);
            }
        }

        v += 0.08 * ribs.at(ix, iy);
        // Mediastinum: great vessels and the air column of the trachea above the heart.
        let mid = (x - thorax.xc).abs();
        // The aortic knob bulges into the left lung field (image right).
        let knob = if x > thorax.xc {
            0.03 * (-((y - knob_y) / 0.035).powi(2)).exp()
        } else {
            0.0
        };
        let mediastinum_half = thorax.medial + 0.005 + knob;
        let mediastinum = smoothstep(e, -e, mid - mediastinum_half) * smoothstep(0.04, 0.12, y);
        v = lerp(v, mediastinum_level, mediastinum);
        let trachea = smoothstep(e, -e, mid - 0.017) * smoothstep(0.4, 0.3, y);
        v -= 0.12 * trachea;
        let spine = smoothstep(e, -e, mid - 0.032) * smoothstep(0.02, 0.1, y);
        v += spine * (0.04 + 0.04 * (0.5 + 0.5 * (y * 55.0).sin()));
        // The heart sits on the diaphragm; below it the abdomen is as dense.
        let heart =
            heart_plane.at(ix, iy) * smoothstep(thorax.base[1] + 0.03, thorax.base[1] - 0.01, y);
        v = lerp(v, mediastinum_level, heart);
        // Masses and nodules add their density to whatever lies behind them.
        [v + 0.3 * opacities.at(ix, iy); 3]
    });

    let contrast = rng.random_range(0.9..1.15);
    let brightness = rng.random_range(-0.04..0.04);
    for v in film.data.iter_mut() {
        *v = (*v - 0.4) * contrast + 0.4 + brightness;
    }
    film.blur(0.004 * u);
    film.grain(rng, 0.012);
    let image = film.into_image();
    (image, Label::Findings(findings))
}

/// Posterior rib arcs over both lung fields, and the clavicles.
fn draw_ribs(thorax: &Thorax, size: usize, rng: &mut ChaCha8Rng) -> Plane {
    let u = size as f32;
    let mut ribs = Plane::new(size, 0.0);
    let spacing = (thorax.base[0] - thorax.apex) / 7.5;
    let width = 0.011 * u;
    for side in [-1.0f32, 1.0] {
        for i in 0..8 {
            let y0 = thorax.apex + 0.01 + spacing * i as f32 + rng.random_range(-0.005..0.005);
            let reach = thorax.lateral_edge(y0 + 0.05) + 0.02;
            let points: Vec<(f32, f32)> = (0..=10)
                .map(|k| {
                    let q = k as f32 / 10.0;
                    let d = 0.03 + q * (reach - 0.03);
                    // Rises from the spine, arcs over and turns down at the chest wall.
                    let y = y0 + 0.02 * q - 0.04 * (PI * q).sin() + 0.08 * q.powi(3);
                    ((thorax.xc + side * d) * u, y * u)
                })
                .collect();
            ribs.polyline(&points, width, 0.8 * width, 0.8);
        }
        let clavicle = [
            ((thorax.xc + side * 0.05) * u, (thorax.apex + 0.03) * u),
            ((thorax.xc + side * 0.18) * u, (thorax.apex + 0.0) * u),
            ((thorax.xc + side * 0.32) * u, (thorax.apex - 0.05) * u),
        ];
        ribs.polyline(&clavicle, 0.016 * u, 0.013 * u, 1.0);
    }
    ribs.blur(0.003 * u);
    ribs
}

/// Lung vessels: branching lines from the hila that thin out towards the periphery.
fn draw_markings(thorax: &Thorax, size: usize, rng: &mut ChaCha8Rng) -> Plane {
    let u = size as f32;
    let mut plane = Plane::new(size, 0.0);
    for side in [-1.0f32, 1.0] {
        let hilum = (thorax.xc + side * (thorax.medial + 0.05), 0.44);
        for _ in 0..10 {
            let angle = rng.random_range(-0.45 * PI..0.5 * PI);
            let (mut x, mut y) = hilum;
            let (mut dx, mut dy) = (side * angle.cos(), angle.sin());
            let mut points = vec![(x * u, y * u)];
            for _ in 0..8 {
                x += 0.035 * dx;
                y += 0.035 * dy;
                let wobble = rng.random_range(-0.45..0.45f32);
                (dx, dy) = (dx - wobble * dy, dy + wobble * dx);
                let n = dx.hypot(dy);
                (dx, dy) = (dx / n, dy / n);
                points.push((x * u, y * u));
            }
            plane.polyline(&points, 0.007 * u, 0.002 * u, 1.0);
        }
    }
    plane.blur(0.004 * u);
    plane
}

/// Masses and nodules: opacities inside the lung fields.
fn draw_opacities(thorax: &Thorax, findings: &[bool], size: usize, rng: &mut ChaCha8Rng) -> Plane {
    let u = size as f32;
    let mut plane = Plane::new(size, 0.0);
    let site = |rng: &mut ChaCha8Rng, upper: f32, lower: f32| {
        let side = if rng.random_bool(0.5) { -1.0 } else { 1.0 };
        let y = rng.random_range(upper..lower);
        let edge = thorax.lateral_edge(y);
        let d = rng.random_range(thorax.medial + 0.07..edge - 0.05);
        ((thorax.xc + side * d) * u, y * u)
    };
    if findings[MASS] {
        let (x, y) = site(rng, 0.3, 0.6);
        let blob = Blob::circle(x, y, rng.random_range(0.055..0.085) * u).random_harmonics(
            rng,
            2..=5,
            0.03..0.1,
        );
        plane.blob(&blob, 0.2 * blob.radius, 0.95);
    }
    if findings[NODULE] {
        for _ in 0..rng.random_range(1..=3) {
            let (x, y) = site(rng, 0.25, 0.65);
            let r = (rng.random_range(0.018..0.026) * u).max(1.1);
            plane.disc(x, y, r, 1.0, 0.9);
        }
    }
    plane
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn prevalences_are_moderate_and_findings_co_occur() {
        let n = 600;
        let mut counts = [0usize; 6];
        let mut both_cardio_effusion = 0;
        let mut none = 0;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..n {
            let f = draw_findings(&mut rng);
            for (c, &on) in counts.iter_mut().zip(&f) {
                *c += on as usize;
            }
            both_cardio_effusion += (f[CARDIOMEGALY] && f[EFFUSION]) as usize;
            none += f.iter().all(|v| !v) as usize;
        }
        for (name, c) in FINDINGS.iter().zip(counts) {
            let p = c as f32 / n as f32;
            assert!((0.12..=0.38).contains(&p), "{name}: prevalence {p}");
        }
        // Effusion is more likely with cardiomegaly than on its own.
        let p_joint = both_cardio_effusion as f32 / n as f32;
        let independent = counts[CARDIOMEGALY] as f32 * counts[EFFUSION] as f32 / (n * n) as f32;
        assert!(
            p_joint > 1.3 * independent,
            "joint {p_joint} vs independent {independent}"
        );
        assert!(none > n / 10, "{none} with no finding");
    }

    /// Mean brightness of a box in normalised coordinates.
    fn mean(image: &Image, x: (f32, f32), y: (f32, f32)) -> f32 {
        let s = image.width as f32;
        let (mut sum, mut n) = (0.0, 0);
        for py in (y.0 * s) as usize..(y.1 * s) as usize {
            for px in (x.0 * s) as usize..(x.1 * s) as usize {
                sum += image.at(0, py, px);
                n += 1;
            }
        }
        sum / n as f32
    }

    #[test]
    fn signs_show_where_expected() {
        let (mut with, mut without) = ([0.0f32; 2], [0.0f32; 2]);
        let (mut n_with, mut n_without) = ([0usize; 2], [0usize; 2]);
        for i in 0..200 {
            let (image, label) = render(64, &mut ChaCha8Rng::seed_from_u64(100 + i));
            let Label::Findings(f) = label else { panic!() };
            // Effusion: the lung bases (both sides, just above the angles) are brighter.
            let bases = 0.5
                * (mean(&image, (0.14, 0.3), (0.62, 0.72))
                    + mean(&image, (0.7, 0.86), (0.62, 0.72)));
            // Cardiomegaly: the heart reaches into the left lung field (image right).
            let heart_border = mean(&image, (0.66, 0.76), (0.5, 0.68));
            for (k, (finding, stat)) in [(EFFUSION, bases), (CARDIOMEGALY, heart_border)]
                .into_iter()
                .enumerate()
            {
                if f[finding] {
                    with[k] += stat;
                    n_with[k] += 1;
                } else {
                    without[k] += stat;
                    n_without[k] += 1;
                }
            }
        }
        for k in 0..2 {
            let (a, b) = (with[k] / n_with[k] as f32, without[k] / n_without[k] as f32);
            assert!(a > b + 0.05, "sign {k}: with {a}, without {b}");
        }
    }
}
