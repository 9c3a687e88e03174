//! The moving-camera kinds: translate, rotate, tilt, scale and shear. Each frame is the surround
//! (see [`Field`]) under one projective map about its centre, cropped after; what comes from
//! outside the surround is black, as in PIL's and OpenCV's warps.
//!
//! Maps are forward (where a source pixel lands) in pixel-centre coordinates, y down, about the
//! image centre. Rotate, scale and shear are torchvision's `affine` as the seed called it
//! (`resample=`, so torchvision before 0.13; the repository is of May 2020, when 0.5 and 0.6 were
//! current): the shear in the tan form that came in with 0.5, about the centre those versions
//! used, (w/2, h/2) in pixel-centre coordinates (PIL's `w·0.5 + 0.5`; from 0.8 on torchvision turns
//! about the half-pixel-different (w − 1)/2). `shear_legacy` is the form of torchvision up to 0.4,
//! which scales the sheared axis by cos φ. Tilt is the seed's perspective matrix `P2·T·Rx(θ)·Ry(φ)·P1`
//! for `cv2.warpPerspective`, with the surround's focal length √(w² + h²). Checked against
//! torchvision and PIL on a photograph (`tests/fixtures/perturb/`).

use image::Luma;
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};

use super::field::{Field, surround_scale};
use super::planes::map_planes;
use super::{Perturbation, Schedule, SequenceKey};
use crate::data::Image;

/// The map for a frame's strength on a `width` × `height` surround whose lengths scale by
/// `scale` from the seed's 256 pixels.
type MapAt = fn(strength: f64, width: u32, height: u32, scale: f64) -> Projection;

pub struct Geometric {
    name: &'static str,
    about: &'static str,
    schedule: Schedule,
    map: MapAt,
    interpolation: Interpolation,
    by_default: bool,
}

pub static TRANSLATE: Geometric = Geometric {
    name: "translate",
    about: "shift right by (i − 20) px at the 256 px surround, nearest pixel",
    schedule: Schedule::linear(-20.0, 1.0, "shift (#) px at 256 px"),
    map: |dx, _, _, scale| Projection::translate((dx * scale) as f32, 0.0),
    interpolation: Interpolation::Nearest,
    by_default: true,
};

pub static ROTATE: Geometric = Geometric {
    name: "rotate",
    about: "rotate by (i − 15)° about the centre (torchvision's affine), bilinear",
    schedule: Schedule::linear(-15.0, 1.0, "turn (#)°"),
    map: |degrees, w, h, _| about_centre(w, h, rotate_scale_shear(degrees, 1.0, 0.0)),
    interpolation: Interpolation::Bilinear,
    by_default: true,
};

pub static SCALE: Geometric = Geometric {
    name: "scale",
    about: "scale by (2.5·i + 40) / 100 about the centre, bilinear",
    schedule: Schedule::linear(0.40, 0.025, "× (#)"),
    map: |factor, w, h, _| about_centre(w, h, rotate_scale_shear(0.0, factor, 0.0)),
    interpolation: Interpolation::Bilinear,
    by_default: true,
};

pub static SHEAR: Geometric = Geometric {
    name: "shear",
    about: "shear along x by (i − 15)° about the centre (torchvision ≥ 0.5: x += −tan φ·y), bilinear",
    schedule: Schedule::linear(-15.0, 1.0, "shear (#)°"),
    map: |degrees, w, h, _| about_centre(w, h, rotate_scale_shear(0.0, 1.0, degrees)),
    interpolation: Interpolation::Bilinear,
    by_default: true,
};

pub static SHEAR_LEGACY: Geometric = Geometric {
    name: "shear_legacy",
    about: "shear as torchvision ≤ 0.4 made it (x += −sin φ·y, y ×= cos φ); only when named",
    schedule: Schedule::linear(-15.0, 1.0, "shear (#)°"),
    map: |degrees, w, h, _| about_centre(w, h, legacy_shear(degrees)),
    interpolation: Interpolation::Bilinear,
    by_default: false,
};

pub static TILT: Geometric = Geometric {
    name: "tilt",
    about: "tilt the image plane by (i − 15)° about both axes (perspective), bilinear",
    schedule: Schedule::linear(-15.0, 1.0, "tilt (#)°"),
    map: |degrees, w, h, _| tilt(degrees, w as f64, h as f64),
    interpolation: Interpolation::Bilinear,
    by_default: true,
};

/// `projection` about the image's centre as the seed's torchvision placed it: (w/2, h/2) in
/// pixel-centre coordinates.
pub(crate) fn about_centre(width: u32, height: u32, projection: Projection) -> Projection {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    Projection::translate(-cx, -cy)
        .and_then(projection)
        .and_then(Projection::translate(cx, cy))
}

/// torchvision's forward map `RSS(a, s, φ)` of `affine` (angle and shear along x in degrees):
/// `[[cos a, −cos a·tan φ − sin a], [sin a, cos a − sin a·tan φ]]·s`.
pub(crate) fn rotate_scale_shear(angle: f64, scale: f64, shear: f64) -> Projection {
    let (a, t) = (angle.to_radians(), shear.to_radians().tan());
    linear([
        [a.cos() * scale, (-a.cos() * t - a.sin()) * scale],
        [a.sin() * scale, (a.cos() - a.sin() * t) * scale],
    ])
}

/// torchvision ≤ 0.4's shear along x by `degrees` (no rotation or scale): `[[1, −sin φ],
/// [0, cos φ]]`, from its `RSS = [[cos a, −sin(a + φ)], [sin a, cos(a + φ)]]`.
fn legacy_shear(degrees: f64) -> Projection {
    let phi = degrees.to_radians();
    linear([[1.0, -phi.sin()], [0.0, phi.cos()]])
}

fn linear(m: [[f64; 2]; 2]) -> Projection {
    let flat = [m[0][0], m[0][1], 0.0, m[1][0], m[1][1], 0.0, 0.0, 0.0, 1.0];
    Projection::from_matrix(flat.map(|v| v as f32)).expect("invertible for |shear| < 90°")
}

fn multiply<const N: usize, const K: usize, const M: usize>(
    a: [[f64; K]; N],
    b: [[f64; M]; K],
) -> [[f64; M]; N] {
    let mut out = [[0.0; M]; N];
    for i in 0..N {
        for j in 0..M {
            out[i][j] = (0..K).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// The seed's tilt: the image plane turned by φ = θ = `degrees` about the y and x axes, seen
/// through a pinhole at focal length √(w² + h²) of the surround (forward map for
/// `cv2.warpPerspective`).
pub(crate) fn tilt(degrees: f64, w: f64, h: f64) -> Projection {
    let (phi, theta) = (degrees.to_radians(), degrees.to_radians());
    let f = (w * w + h * h).sqrt();
    let p1 = [
        [1.0, 0.0, -w / 2.0],
        [0.0, 1.0, -h / 2.0],
        [0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0],
    ];
    let rx = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, theta.cos(), -theta.sin(), 0.0],
        [0.0, theta.sin(), theta.cos(), 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let ry = [
        [phi.cos(), 0.0, -phi.sin(), 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [phi.sin(), 0.0, phi.cos(), 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let t = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, f],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let p2 = [
        [f, 0.0, w / 2.0, 0.0],
        [0.0, f, h / 2.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ];
    let m = multiply(multiply(multiply(multiply(p2, t), rx), ry), p1);
    let flat = [
        m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2],
    ];
    Projection::from_matrix(flat.map(|v| v as f32)).expect("a tilt below 90° is invertible")
}

impl Geometric {
    /// The forward map of frame `frame` on `image` (the surround).
    pub(crate) fn projection(&self, image: &Image, frame: usize) -> Projection {
        let strength = self.schedule.at(frame).expect("every frame moves");
        (self.map)(
            strength,
            image.width as u32,
            image.height as u32,
            surround_scale(image),
        )
    }
}

impl Perturbation for Geometric {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    /// 1: the seed's surround (the image at 256/224 of the model's size) warped, then cropped
    /// at the centre ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        self.schedule
    }

    fn field(&self) -> Field {
        Field::Surround
    }

    fn by_default(&self) -> bool {
        self.by_default
    }

    fn frame(&self, image: &Image, frame: usize, _key: SequenceKey) -> Image {
        let projection = self.projection(image, frame);
        map_planes(image, |p| {
            warp(
                p,
                projection,
                self.interpolation,
                Border::Constant(Luma([0.0])),
            )
        })
    }
}
