//! What a card runs: a fixed, versioned battery per level. Two cards compare only when their
//! levels (and battery revisions) are equal, because the level decides the images, the budgets
//! and the number of noisy copies behind every number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::attack::{
    AutoAttack, AutoAttackSettings, FastGradientSignMethod, ProjectedGradientDescent,
};
use crate::certify::CertifySettings;
use crate::{Error, Result};

/// The revision of the batteries below: raised whenever a level's settings change, so that a
/// card made by another battery is never ranked beside this one's.
pub const BATTERY_REVISION: u32 = 1;

/// How much a card runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Minutes on a CPU for a small model: a fixed sample of 40 test images, AutoAttack at 1 and
    /// 4/255 with Square cut to 1 000 queries, the benchmark's sequences, 500 noisy copies per
    /// certificate.
    Quick,
    /// The study's protocol on every test image: FGSM, PGD-10 and AutoAttack at 1–8/255, the
    /// benchmark, ten thousand noisy copies per certificate.
    Standard,
    /// Everything: budgets from 0.5 to 16/255, ImageNet-P's 31 frames, Cohen et al.'s 100 000
    /// copies.
    Full,
}

impl Level {
    /// Every level, cheapest first.
    pub const ALL: [Level; 3] = [Level::Quick, Level::Standard, Level::Full];

    /// The level's name, as `--level` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Quick => "quick",
            Level::Standard => "standard",
            Level::Full => "full",
        }
    }

    /// What the level runs.
    pub fn battery(self) -> Battery {
        let autoattack = AutoAttack::NAME;
        let (fgsm, pgd) = (FastGradientSignMethod::NAME, ProjectedGradientDescent::NAME);
        match self {
            Level::Quick => Battery {
                level: self,
                test_images: Some(40),
                attacks: vec![autoattack],
                autoattack: AutoAttackSettings::standard_with_square_queries(1_000),
                eps: vec![0.0, 1.0, 4.0],
                frames: 10,
                certify: CertifySettings {
                    n0: 50,
                    n: 500,
                    alpha: 0.001,
                },
                analysis_eps: 4.0,
                analysis_images: 40,
                shown: 4,
                bootstrap: 1_000,
            },
            Level::Standard => Battery {
                level: self,
                test_images: None,
                attacks: vec![fgsm, pgd, autoattack],
                autoattack: AutoAttackSettings::default(),
                eps: vec![0.0, 1.0, 2.0, 4.0, 8.0],
                frames: 10,
                certify: CertifySettings {
                    n0: 100,
                    n: 10_000,
                    alpha: 0.001,
                },
                analysis_eps: 8.0,
                analysis_images: 200,
                shown: 6,
                bootstrap: 1_000,
            },
            Level::Full => Battery {
                level: self,
                test_images: None,
                attacks: vec![fgsm, pgd, autoattack],
                autoattack: AutoAttackSettings::default(),
                eps: vec![0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0],
                frames: crate::perturb::MAX_FRAMES,
                certify: CertifySettings::default(),
                analysis_eps: 8.0,
                analysis_images: 500,
                shown: 8,
                bootstrap: 2_000,
            },
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Level::ALL
            .into_iter()
            .find(|l| l.name() == text)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "level '{text}': one of {}",
                    Level::ALL.map(Level::name).join(", ")
                ))
            })
    }
}

/// The settings of every part a card runs at one level. GAP joins the sweep when a generator
/// is given; the certification runs when the model was trained for smoothing or σ is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Battery {
    /// The level these settings are.
    pub level: Level,
    /// At most this many test images, a fixed sample of the split (every model of a
    /// leaderboard sees the same ones); `None`: all of them.
    pub test_images: Option<usize>,
    /// The sweep's attacks (registry names), each at every budget of `eps`.
    pub attacks: Vec<&'static str>,
    /// AutoAttack's version and members (the standard version but at `quick`).
    pub autoattack: AutoAttackSettings,
    /// The sweep's L∞ budgets in 1/255 pixel units; 0 (the clean images) first.
    pub eps: Vec<f32>,
    /// Frames per Robust-Benchmark sequence (its kinds are the registry's defaults).
    pub frames: usize,
    /// Noisy copies and failure probability of every certificate.
    pub certify: CertifySettings,
    /// The analysis's PGD budget, in 1/255.
    pub analysis_eps: f32,
    /// Images the analysis looks inside.
    pub analysis_images: usize,
    /// Images shown with Grad-CAM before and after.
    pub shown: usize,
    /// Resamples behind the clean scores' intervals.
    pub bootstrap: usize,
}

impl Battery {
    /// The attacked budgets (ε > 0).
    pub fn attacked_eps(&self) -> impl Iterator<Item = f32> + '_ {
        self.eps.iter().copied().filter(|&e| e > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_back_from_their_names_and_others_are_refused() {
        for level in Level::ALL {
            assert_eq!(level.name().parse::<Level>().unwrap(), level);
            assert_eq!(level.battery().level, level);
        }
        let err = "thorough".parse::<Level>().unwrap_err().to_string();
        assert!(err.contains("quick, standard, full"), "{err}");
    }

    #[test]
    fn each_level_runs_at_least_what_the_cheaper_one_does() {
        for pair in Level::ALL.windows(2) {
            let (cheap, dear) = (pair[0].battery(), pair[1].battery());
            assert!(cheap.attacks.iter().all(|a| dear.attacks.contains(a)));
            assert!(cheap.eps.iter().all(|e| dear.eps.contains(e)));
            assert!(dear.frames >= cheap.frames);
            assert!(dear.certify.n >= cheap.certify.n);
            assert!(dear.analysis_images >= cheap.analysis_images);
            assert!(
                dear.test_images
                    .is_none_or(|d| cheap.test_images.is_some_and(|c| d >= c))
            );
        }
        for level in Level::ALL {
            let b = level.battery();
            assert_eq!(b.eps[0], 0.0, "{level}: the clean cell comes first");
            assert!(b.attacks.contains(&AutoAttack::NAME), "{level}");
            b.certify.validate().unwrap();
        }
    }
}
