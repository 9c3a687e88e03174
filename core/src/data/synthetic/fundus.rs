//! Colour-fundus-like photographs graded for diabetic retinopathy, 0-3.
//!
//! A macula-centred 45° view: the orange-red retina fading towards the rim, the dark macula,
//! the pale optic disc to one side (left or right eye) with arcades of arteries and veins
//! branching from it. The grade follows the Messidor rule, counted in lesions: 0 none; 1 a few
//! (≤ 5) microaneurysms; 2 more microaneurysms (6-14) or a few small haemorrhages, often with
//! hard exudates; 3 many microaneurysms (≥ 15) or haemorrhages (≥ 5), exudates and cotton-wool
//! spots. Grades are drawn uniformly.

use std::f32::consts::{PI, TAU};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::canvas::{Blob, Canvas, Plane, Texture, lerp3, smoothstep};
use crate::Label;
use crate::data::Image;

const VEIN: [f32; 3] = [0.42, 0.07, 0.05];
const ARTERY: [f32; 3] = [0.62, 0.15, 0.09];
const MICROANEURYSM: [f32; 3] = [0.40, 0.03, 0.03];
const HAEMORRHAGE: [f32; 3] = [0.34, 0.03, 0.02];
const EXUDATE: [f32; 3] = [0.96, 0.86, 0.36];
const COTTON_WOOL: [f32; 3] = [0.93, 0.86, 0.72];

/// Where things sit on this eye's retina, in pixels.
struct Eye {
    cx: f32,
    cy: f32,
    radius: f32,
    disc: (f32, f32),
    disc_radius: f32,
    fovea: (f32, f32),
    /// +1 when the disc is on the right of the image, -1 on the left.
    side: f32,
}

impl Eye {
    /// A random point on the retina, away from the optic disc and the rim.
    fn lesion_site(&self, rng: &mut ChaCha8Rng) -> (f32, f32) {
        let mut point = self.fovea;
        for _ in 0..16 {
            let r = 0.82 * self.radius * rng.random::<f32>().sqrt();
            let a = rng.random_range(0.0..TAU);
            point = (self.cx + r * a.cos(), self.cy + r * a.sin());
            let to_disc = (point.0 - self.disc.0).hypot(point.1 - self.disc.1);
            if to_disc > 2.2 * self.disc_radius {
                break;
            }
        }
        point
    }
}

pub(super) fn render(size: usize, rng: &mut ChaCha8Rng) -> (Image, Label) {
    let grade = rng.random_range(0..4usize);
    let u = size as f32;
    let radius = rng.random_range(0.44..0.48) * u;
    let (cx, cy) = (
        (0.5 + rng.random_range(-0.015..0.015)) * u,
        (0.5 + rng.random_range(-0.015..0.015)) * u,
    );
    let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let eye = Eye {
        cx,
        cy,
        radius,
        disc: (
            cx + side * rng.random_range(0.50..0.60) * radius,
            cy + rng.random_range(-0.08..0.04) * radius,
        ),
        disc_radius: rng.random_range(0.12..0.15) * radius,
        fovea: (cx - side * 0.04 * radius, cy + 0.03 * radius),
        side,
    };

    // The retina: pigmented orange-red, mottled by the choroid, darker at the macula.
    let pigment = lerp3([0.86, 0.42, 0.17], [0.68, 0.27, 0.10], rng.random::<f32>());
    let choroid = Texture::new(rng, 6).raster(size);
    let macula_radius = rng.random_range(0.22..0.30) * radius;
    let mut canvas = Canvas::new(3, size);
    canvas.paint(|x, y| {
        let m = 1.0 + 0.06 * choroid.at(x as usize, y as usize);
        let dm = ((x - eye.fovea.0).powi(2) + (y - eye.fovea.1).powi(2)).sqrt() / macula_radius;
        let macula = 1.0 - 0.28 * smoothstep(1.0, 0.0, dm) - 0.1 * smoothstep(0.25, 0.0, dm);
        pigment.map(|v| v * m * macula)
    });

    // The vessels emerge from the disc: drawn first, they show faintly through its pallor.
    draw_vessels(&mut canvas, &eye, rng);
    draw_optic_disc(&mut canvas, &eye, rng);
    draw_lesions(&mut canvas, &eye, grade, rng);

    // Camera: the round field stop, light falling off towards the rim, exposure.
    let falloff = rng.random_range(0.35..0.6);
    let exposure = rng.random_range(0.85..1.1);
    let edge = 0.01 * u + 0.5;
    canvas.modulate(|x, y| {
        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        let inside = smoothstep(radius + edge, radius - edge, d);
        let t = d / radius;
        exposure * inside * (1.0 - falloff * t * t * t.sqrt())
    });
    canvas.blur(0.003 * u);
    canvas.grain(rng, 0.01);
    for v in canvas.data.iter_mut() {
        *v = v.max(0.0) + 0.01;
    }
    (canvas.into_image(), Label::Class(grade))
}

fn draw_optic_disc(canvas: &mut Canvas, eye: &Eye, rng: &mut ChaCha8Rng) {
    let (dx, dy) = eye.disc;
    let r = eye.disc_radius;
    let mut rim = Plane::new(canvas.size, 0.0);
    // Slightly taller than wide, as optic discs are.
    let tilt = 0.5 * PI + rng.random_range(-0.3..0.3);
    rim.blob(
        &Blob::circle(dx, dy, r).harmonic(2, rng.random_range(0.03..0.1), tilt),
        0.35 * r,
        1.0,
    );
    canvas.blend(&rim, [0.97, 0.74, 0.50], 0.75);
    let mut cup = Plane::new(canvas.size, 0.0);
    let cup_ratio = rng.random_range(0.3..0.55);
    cup.disc(dx + 0.1 * r * eye.side, dy, cup_ratio * r, 0.3 * r, 1.0);
    canvas.blend(&cup, [1.0, 0.93, 0.78], 0.8);
}

/// Arteries and veins leave the disc in four arcades (two temporal ones curving around the
/// macula, two nasal ones) and branch as they go.
fn draw_vessels(canvas: &mut Canvas, eye: &Eye, rng: &mut ChaCha8Rng) {
    let mut veins = Plane::new(canvas.size, 0.0);
    let mut arteries = Plane::new(canvas.size, 0.0);
    let temporal = -eye.side;
    for vertical in [-1.0f32, 1.0] {
        for (is_vein, spread) in [(true, 0.0f32), (false, 0.25f32)] {
            let plane = if is_vein { &mut veins } else { &mut arteries };
            let width = if is_vein { 0.020 } else { 0.015 } * eye.radius;
            // Temporal arcade: leaves vertically, ends pointing at the far side of the macula.
            let start = (temporal * (0.25 + spread), vertical).into();
            let goal = (temporal, -vertical * 0.35).into();
            vessel(plane, rng, eye, start, goal, width, 34);
            // Nasal branch: shorter and straighter.
            let start = (-temporal * (0.3 + spread), vertical).into();
            let goal = (-temporal, vertical * 0.4).into();
            vessel(plane, rng, eye, start, goal, 0.8 * width, 20);
        }
    }
    canvas.blend(&veins, VEIN, 0.9);
    canvas.blend(&arteries, ARTERY, 0.85);
}

#[derive(Clone, Copy)]
struct Direction(f32, f32);

impl From<(f32, f32)> for Direction {
    fn from((x, y): (f32, f32)) -> Self {
        let n = x.hypot(y).max(1e-6);
        Direction(x / n, y / n)
    }
}

impl Direction {
    fn angle(self) -> f32 {
        self.1.atan2(self.0)
    }
}

/// One vessel trunk: a walk from the disc that turns steadily towards `goal`, thins, and
/// spawns thinner branches.
#[allow(clippy::too_many_arguments)]
fn vessel(
    plane: &mut Plane,
    rng: &mut ChaCha8Rng,
    eye: &Eye,
    start: Direction,
    goal: Direction,
    width: f32,
    steps: usize,
) {
    let step = 0.045 * eye.radius;
    let mut heading = start.angle();
    let mut pos = (
        eye.disc.0 + 0.2 * eye.disc_radius * heading.cos(),
        eye.disc.1 + 0.2 * eye.disc_radius * heading.sin(),
    );
    vessel_from(
        plane,
        rng,
        eye,
        &mut pos,
        &mut heading,
        goal.angle(),
        width,
        steps,
        0,
        step,
    );
}

#[allow(clippy::too_many_arguments)]
fn vessel_from(
    plane: &mut Plane,
    rng: &mut ChaCha8Rng,
    eye: &Eye,
    pos: &mut (f32, f32),
    heading: &mut f32,
    target: f32,
    width: f32,
    steps: usize,
    depth: u32,
    step: f32,
) {
    let mut points = vec![*pos];
    for i in 0..steps {
        let turn = (target - *heading + PI).rem_euclid(TAU) - PI;
        *heading += 0.09 * turn + rng.random_range(-0.12..0.12);
        // Vessels skirt the fovea, which stays avascular.
        let (fx, fy) = (pos.0 - eye.fovea.0, pos.1 - eye.fovea.1);
        if fx.hypot(fy) < 0.3 * eye.radius {
            let away = (fy.atan2(fx) - *heading + PI).rem_euclid(TAU) - PI;
            *heading += 0.25 * away;
        }
        *pos = (pos.0 + step * heading.cos(), pos.1 + step * heading.sin());
        points.push(*pos);
        if (pos.0 - eye.cx).hypot(pos.1 - eye.cy) > eye.radius {
            break;
        }
        if depth < 2 && i > 3 && rng.random_bool(0.1) {
            let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let mut branch_heading = *heading + side * rng.random_range(0.5..0.9);
            let branch_target = branch_heading + side * 0.3;
            let mut branch_pos = *pos;
            let fraction = 1.0 - i as f32 / steps as f32;
            vessel_from(
                plane,
                rng,
                eye,
                &mut branch_pos,
                &mut branch_heading,
                branch_target,
                0.6 * width * fraction.max(0.4),
                ((steps - i) as f32 * 0.6) as usize,
                depth + 1,
                step,
            );
        }
    }
    plane.polyline(&points, width, 0.45 * width, 1.0);
}

fn draw_lesions(canvas: &mut Canvas, eye: &Eye, grade: usize, rng: &mut ChaCha8Rng) {
    let (microaneurysms, haemorrhages, exudate_clusters, cotton_wool) = match grade {
        0 => (0, 0, 0, 0),
        1 => (rng.random_range(2..=5), 0, 0, 0),
        2 => (
            rng.random_range(6..=14),
            rng.random_range(0..=3),
            if rng.random_bool(0.7) {
                rng.random_range(1..=2)
            } else {
                0
            },
            0,
        ),
        _ => {
            let many_haemorrhages = rng.random_bool(0.6);
            (
                rng.random_range(15..=28),
                if many_haemorrhages {
                    rng.random_range(5..=10)
                } else {
                    rng.random_range(1..=4)
                },
                rng.random_range(2..=4),
                rng.random_range(0..=3),
            )
        }
    };
    let size = canvas.size;
    // A floor in pixels keeps a microaneurysm visible at 64x64; at 299 it is anatomical.
    let dot = (0.022 * eye.radius).max(0.85);

    let mut red = Plane::new(size, 0.0);
    for _ in 0..microaneurysms {
        let (x, y) = eye.lesion_site(rng);
        red.disc(x, y, dot * rng.random_range(0.9..1.3), 1.0, 1.0);
    }
    canvas.blend(&red, MICROANEURYSM, 0.95);

    let mut blots = Plane::new(size, 0.0);
    for _ in 0..haemorrhages {
        let (x, y) = eye.lesion_site(rng);
        let flame = rng.random_bool(0.3);
        let blob = Blob::circle(x, y, rng.random_range(0.035..0.07) * eye.radius)
            .harmonic(
                2,
                if flame { 0.45 } else { 0.12 },
                rng.random_range(0.0..PI),
            )
            .random_harmonics(rng, 3..=5, 0.03..0.09);
        blots.blob(&blob, 1.2, 1.0);
    }
    canvas.blend(&blots, HAEMORRHAGE, 0.92);

    let mut wool = Plane::new(size, 0.0);
    for _ in 0..cotton_wool {
        let (x, y) = eye.lesion_site(rng);
        let blob = Blob::circle(x, y, rng.random_range(0.05..0.08) * eye.radius).random_harmonics(
            rng,
            2..=4,
            0.05..0.15,
        );
        wool.blob(&blob, 0.05 * eye.radius + 1.0, 1.0);
    }
    canvas.blend(&wool, COTTON_WOOL, 0.6);

    // Hard exudates come in clusters, often around the macula.
    let mut yellow = Plane::new(size, 0.0);
    for _ in 0..exudate_clusters {
        let centre = if rng.random_bool(0.5) {
            let a = rng.random_range(0.0..TAU);
            let r = rng.random_range(0.15..0.35) * eye.radius;
            (eye.fovea.0 + r * a.cos(), eye.fovea.1 + r * a.sin())
        } else {
            eye.lesion_site(rng)
        };
        for _ in 0..rng.random_range(3..=8) {
            let a = rng.random_range(0.0..TAU);
            let r = rng.random_range(0.0..0.12) * eye.radius;
            let spot = (0.025 * eye.radius).max(0.8) * rng.random_range(0.7..1.5);
            yellow.disc(
                centre.0 + r * a.cos(),
                centre.1 + r * a.sin(),
                spot,
                1.0,
                1.0,
            );
        }
    }
    canvas.blend(&yellow, EXUDATE, 0.9);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Share of retina pixels that are dark red (lesions and vessels) or yellow (exudates):
    /// low green relative to red, or high green relative to red.
    fn lesion_pixels(image: &Image) -> f32 {
        let plane = image.height * image.width;
        let p = &image.pixels;
        let mut count = 0;
        for i in 0..plane {
            let (r, g, b) = (p[i], p[plane + i], p[2 * plane + i]);
            if (r > 0.15 && g < 0.35 * r && b < 0.35 * r) || (g > 0.6 && b < 0.55 * g && r > 0.7) {
                count += 1;
            }
        }
        count as f32 / plane as f32
    }

    #[test]
    fn grades_are_balanced_and_lesions_grow_with_grade() {
        let mut per_grade = vec![Vec::new(); 4];
        for i in 0..240 {
            let (image, label) = render(64, &mut ChaCha8Rng::seed_from_u64(i));
            per_grade[label.class().unwrap()].push(lesion_pixels(&image));
        }
        let means: Vec<f32> = per_grade
            .iter()
            .map(|v| {
                assert!(v.len() >= 40, "a grade has only {} of 240 samples", v.len());
                v.iter().sum::<f32>() / v.len() as f32
            })
            .collect();
        for g in 1..4 {
            assert!(means[g] > means[g - 1], "lesion share by grade: {means:?}");
        }
        assert!(means[3] > 1.5 * means[0], "{means:?}");
    }
}
