//! The one list of perturbation kinds, in the seed's order.

use super::Perturbation;
use super::{brightness, gaussian_blur, geometric, motion_blur, noise, snow, spatter, zoom_blur};
use crate::{Error, Result};

/// Every kind: adding one is a file and a line here.
pub static PERTURBATIONS: &[&dyn Perturbation] = &[
    &noise::GAUSSIAN_NOISE,
    &noise::SHOT_NOISE,
    &noise::SPECKLE_NOISE,
    &motion_blur::MOTION_BLUR,
    &zoom_blur::ZOOM_BLUR,
    &gaussian_blur::GAUSSIAN_BLUR,
    &snow::SNOW,
    &spatter::SPATTER,
    &brightness::BRIGHTNESS,
    &geometric::TRANSLATE,
    &geometric::ROTATE,
    &geometric::TILT,
    &geometric::SCALE,
    &geometric::SHEAR,
];

/// The kind called `name`; the error lists them all.
pub fn perturbation(name: &str) -> Result<&'static dyn Perturbation> {
    let wanted = name.trim().replace('-', "_");
    PERTURBATIONS
        .iter()
        .copied()
        .find(|p| p.name() == wanted)
        .ok_or_else(|| {
            Error::invalid(format!(
                "unknown perturbation {name:?}; the kinds are {}",
                PERTURBATIONS
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// The kinds named in `names` (all of them for an empty list), in registry order, each once.
pub fn perturbations(names: &[String]) -> Result<Vec<&'static dyn Perturbation>> {
    if names.is_empty() {
        return Ok(PERTURBATIONS.to_vec());
    }
    let wanted = names
        .iter()
        .map(|n| perturbation(n))
        .collect::<Result<Vec<_>>>()?;
    Ok(PERTURBATIONS
        .iter()
        .copied()
        .filter(|p| wanted.iter().any(|w| w.name() == p.name()))
        .collect())
}
