//! The three noises: every frame after the clean first one is a fresh draw around the same image,
//! so flips count against frame 0 (ImageNet-P's `gaussian_noise`, `shot_noise`, `speckle_noise`).

use rand_distr::{Distribution, Normal, Poisson};

use super::planes::map_pixels;
use super::{Perturbation, Reference, Schedule, SequenceKey};
use crate::data::Image;

#[derive(Debug, Clone, Copy)]
enum Draw {
    /// x + σ·N(0, 1)
    Additive,
    /// Poisson(λ·x) / λ
    Counts,
    /// x + x·N(0, σ)
    Multiplicative,
}

pub struct Noise {
    name: &'static str,
    about: &'static str,
    draw: Draw,
    schedule: Schedule,
}

pub static GAUSSIAN_NOISE: Noise = Noise {
    name: "gaussian_noise",
    about: "x + 0.03·N(0, 1), a fresh draw per frame",
    draw: Draw::Additive,
    schedule: Schedule::after_clean(0.03, "σ = #"),
};

pub static SHOT_NOISE: Noise = Noise {
    name: "shot_noise",
    about: "Poisson(300·x) / 300, a fresh draw per frame",
    draw: Draw::Counts,
    schedule: Schedule::after_clean(300.0, "λ = # photons per unit"),
};

pub static SPECKLE_NOISE: Noise = Noise {
    name: "speckle_noise",
    about: "x + x·N(0, 0.05), a fresh draw per frame",
    draw: Draw::Multiplicative,
    schedule: Schedule::after_clean(0.05, "σ = #"),
};

impl Perturbation for Noise {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    /// 1: frames of the seed's centre crop of the image at 256/224 of the model's size ([3.3]).
    fn revision(&self) -> u32 {
        1
    }

    fn schedule(&self) -> Schedule {
        self.schedule
    }

    fn reference(&self) -> Reference {
        Reference::First
    }

    fn frame(&self, image: &Image, frame: usize, key: SequenceKey) -> Image {
        let Some(strength) = self.schedule.at(frame) else {
            return image.clone();
        };
        let mut rng = key.rng(self.name, frame as u64);
        match self.draw {
            Draw::Additive => {
                let normal = Normal::new(0.0, strength).expect("finite σ");
                map_pixels(image, |x| x + normal.sample(&mut rng) as f32)
            }
            Draw::Multiplicative => {
                let normal = Normal::new(0.0, strength).expect("finite σ");
                map_pixels(image, |x| x + x * normal.sample(&mut rng) as f32)
            }
            Draw::Counts => map_pixels(image, |x| {
                let rate = strength * x as f64;
                // Poisson(0) is always 0 (rand_distr refuses a zero rate).
                let count: f64 = match Poisson::new(rate) {
                    Ok(poisson) if rate > 0.0 => poisson.sample(&mut rng),
                    _ => 0.0,
                };
                (count / strength) as f32
            }),
        }
    }
}
