//! A throwaway kind that only the core's tests register: contrast falling towards the image's
//! mean (ImageNet-C's contrast). It proves that a perturbation kind is one file and one line —
//! the registry-parametrised tests (purity, ranges, sizes, schedules) pick it up unwritten.

use super::planes::map_pixels;
use super::{Perturbation, Schedule, SequenceKey};
use crate::data::Image;

pub struct Contrast;

pub static CONTRAST: Contrast = Contrast;

impl Perturbation for Contrast {
    fn name(&self) -> &'static str {
        "contrast"
    }

    fn about(&self) -> &'static str {
        "contrast × (1 − i / 40) around the image's mean"
    }

    /// As if its frames had changed once: the tests see a revision that is not 0.
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        Schedule::linear(1.0, -0.025, "contrast × (#)")
    }

    fn frame(&self, image: &Image, frame: usize, _key: SequenceKey) -> Image {
        let factor = self.schedule().at(frame).expect("every frame scales") as f32;
        let mean = image.pixels.iter().sum::<f32>() / image.pixels.len().max(1) as f32;
        map_pixels(image, |v| mean + (v - mean) * factor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PERTURBATIONS, perturbation};

    #[test]
    fn a_new_kind_is_registered_by_its_one_line() {
        assert_eq!(PERTURBATIONS.last().unwrap().name(), "contrast");
        assert_eq!(perturbation(" Contrast ").unwrap().name(), "contrast");
        let err = perturbation("fog").err().unwrap().to_string();
        assert!(err.contains("unknown perturbation 'fog'") && err.contains("contrast"), "{err}");
    }
}
