//! Deterministic synthetic stand-ins for the three modalities of the seed study: dermoscopy-like
//! lesions (binary), fundus-like photographs graded 0-3 (multi-class) and chest-film-like
//! radiographs with co-occurring findings (multi-label).
//!
//! They are no substitute for real data: they exist so that tests, the default demo run and the
//! shipped browser models have images that look like the modality and carry a learnable,
//! clinically-motivated signal. Each sample is rendered on demand from (kind, seed, split, index)
//! alone, so any index can be produced in any order and a seed always gives the same pixels.

mod canvas;
mod chest;
mod derm;
mod fundus;

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{DataSplits, Dataset, DatasetInfo, Sample};
use crate::{Error, Result, TaskKind};

pub use chest::FINDINGS as CHEST_FINDINGS;

/// Which modality a synthetic data set imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyntheticKind {
    /// Dermoscopy: benign naevus vs melanoma (ISIC 2016 stand-in).
    Derm,
    /// Colour fundus photograph: diabetic-retinopathy grade 0-3 (Messidor stand-in).
    Fundus,
    /// Frontal chest radiograph: six thoracic findings (ChestX-ray14 stand-in).
    Chest,
}

impl SyntheticKind {
    /// Every kind, in the order listings show them.
    pub const ALL: [SyntheticKind; 3] = [
        SyntheticKind::Derm,
        SyntheticKind::Fundus,
        SyntheticKind::Chest,
    ];

    /// The kind a `--data` name selects: `synth-derm`, `synth-fundus` or `synth-chest`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The `--data` name: `synth-derm`, `synth-fundus` or `synth-chest`.
    pub fn name(self) -> &'static str {
        match self {
            SyntheticKind::Derm => "synth-derm",
            SyntheticKind::Fundus => "synth-fundus",
            SyntheticKind::Chest => "synth-chest",
        }
    }

    /// Binary (derm), multi-class (fundus) or multi-label (chest).
    pub fn task(self) -> TaskKind {
        match self {
            SyntheticKind::Derm => TaskKind::Binary,
            SyntheticKind::Fundus => TaskKind::MultiClass,
            SyntheticKind::Chest => TaskKind::MultiLabel,
        }
    }

    /// Class names (derm, fundus) or finding names (chest), in output order.
    pub fn class_names(self) -> Vec<String> {
        let names: &[&str] = match self {
            SyntheticKind::Derm => &["benign", "malignant"],
            SyntheticKind::Fundus => &["grade 0", "grade 1", "grade 2", "grade 3"],
            SyntheticKind::Chest => &chest::FINDINGS,
        };
        names.iter().map(|s| s.to_string()).collect()
    }

    /// 3 for the colour modalities, 1 for chest radiographs.
    pub fn channels(self) -> usize {
        match self {
            SyntheticKind::Derm | SyntheticKind::Fundus => 3,
            SyntheticKind::Chest => 1,
        }
    }

    /// Renders one `size` x `size` sample from `rng`.
    fn render(self, size: usize, rng: &mut ChaCha8Rng) -> Sample {
        let (image, label) = match self {
            SyntheticKind::Derm => derm::render(size, rng),
            SyntheticKind::Fundus => fundus::render(size, rng),
            SyntheticKind::Chest => chest::render(size, rng),
        };
        Sample { image, label }
    }
}

/// How many images, how large, from which seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Training images.
    pub n: usize,
    /// Test images.
    pub test: usize,
    /// Side of the square images, in pixels.
    pub size: usize,
    /// Seed of every image: the same seed renders the same data set.
    pub seed: u64,
}

impl SyntheticConfig {
    const MIN_SIZE: usize = 16;
    const MAX_SIZE: usize = 1024;

    /// The defaults of `kind`: 2000 / 500 images (3000 / 750 for chest), 64 × 64 pixels, seed 0.
    pub fn default_for(kind: SyntheticKind) -> Self {
        let (n, test) = match kind {
            SyntheticKind::Derm | SyntheticKind::Fundus => (2000, 500),
            SyntheticKind::Chest => (3000, 750),
        };
        Self {
            n,
            test,
            size: 64,
            seed: 0,
        }
    }

    /// Reads what follows `synth-x:`: empty, or comma-separated `n=…,test=…,size=…,seed=…`;
    /// settings left out keep their defaults.
    pub fn parse(kind: SyntheticKind, rest: &str) -> Result<Self> {
        let mut config = Self::default_for(kind);
        let source = kind.name();
        for item in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(Error::invalid(format!(
                    "{source}: '{item}' is not a key=value setting (expected e.g. n=2000,size=64)"
                )));
            };
            let (key, value) = (key.trim(), value.trim());
            let number = || {
                value.parse::<u64>().map_err(|_| {
                    Error::invalid(format!("{source}: {key}='{value}' is not a whole number"))
                })
            };
            match key {
                "n" => config.n = number()? as usize,
                "test" => config.test = number()? as usize,
                "size" => config.size = number()? as usize,
                "seed" => config.seed = number()?,
                other => {
                    return Err(Error::invalid(format!(
                        "{source}: unknown setting '{other}' (expected n, test, size or seed)"
                    )));
                }
            }
        }
        if config.n == 0 {
            return Err(Error::invalid(format!(
                "{source}: n (training images) must be at least 1"
            )));
        }
        if config.test == 0 {
            return Err(Error::invalid(format!(
                "{source}: test (test images) must be at least 1"
            )));
        }
        if !(Self::MIN_SIZE..=Self::MAX_SIZE).contains(&config.size) {
            return Err(Error::invalid(format!(
                "{source}: size={} is out of range (images are {}..={} pixels square)",
                config.size,
                Self::MIN_SIZE,
                Self::MAX_SIZE
            )));
        }
        Ok(config)
    }
}

impl std::fmt::Display for SyntheticConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={},test={},size={},seed={}",
            self.n, self.test, self.size, self.seed
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    Train,
    Test,
}

impl Split {
    fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// One split of a synthetic data set; samples are rendered when asked for.
pub struct SyntheticDataset {
    kind: SyntheticKind,
    split: Split,
    len: usize,
    size: usize,
    seed: u64,
    info: DatasetInfo,
}

impl SyntheticDataset {
    fn new(kind: SyntheticKind, config: &SyntheticConfig, split: Split) -> Self {
        let len = match split {
            Split::Train => config.n,
            Split::Test => config.test,
        };
        let info = DatasetInfo {
            name: format!("{}:{config} [{}]", kind.name(), split.name()),
            task: kind.task(),
            class_names: kind.class_names(),
            channels: kind.channels(),
        };
        Self {
            kind,
            split,
            len,
            size: config.size,
            seed: config.seed,
            info,
        }
    }

    /// Sample `index`, rendered from (kind, seed, split, index) alone. Indices past `len()`
    /// are valid too: the stream goes on.
    pub fn sample(&self, index: usize) -> Sample {
        let mut rng = sample_rng(self.kind, self.seed, self.split, index);
        self.kind.render(self.size, &mut rng)
    }
}

impl Dataset for SyntheticDataset {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Result<Sample> {
        if index >= self.len {
            return Err(Error::invalid(format!(
                "{}: index {index} is past the end ({} samples)",
                self.info.name, self.len
            )));
        }
        Ok(self.sample(index))
    }
}

/// The train and test splits of `kind` under `config`, from disjoint random streams.
pub fn open(kind: SyntheticKind, config: &SyntheticConfig) -> DataSplits {
    DataSplits {
        train: Arc::new(SyntheticDataset::new(kind, config, Split::Train)),
        test: Arc::new(SyntheticDataset::new(kind, config, Split::Test)),
    }
}

/// SplitMix64's finaliser: spreads nearby inputs (index 7 vs 8) over the whole seed space.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn sample_rng(kind: SyntheticKind, seed: u64, split: Split, index: usize) -> ChaCha8Rng {
    let kind_tag = kind as u64 + 1;
    let split_tag = split as u64 + 1;
    let h = mix(mix(mix(seed) ^ kind_tag.wrapping_mul(0x100_0000_01B3)) ^ split_tag);
    ChaCha8Rng::seed_from_u64(mix(h ^ index as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Label;

    fn config(size: usize, seed: u64) -> SyntheticConfig {
        SyntheticConfig {
            n: 8,
            test: 4,
            size,
            seed,
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in SyntheticKind::ALL {
            assert_eq!(SyntheticKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(SyntheticKind::from_name("synth-xray"), None);
        assert_eq!(SyntheticKind::Chest.class_names().len(), 6);
        assert_eq!(SyntheticKind::Fundus.class_names()[3], "grade 3");
    }

    #[test]
    fn same_seed_same_pixels_other_seed_or_index_other_pixels() {
        for kind in SyntheticKind::ALL {
            let a = open(kind, &config(32, 5));
            let b = open(kind, &config(32, 5));
            let c = open(kind, &config(32, 6));
            // Read out of order: a sample depends on nothing but its index.
            let late = a.train.get(7).unwrap();
            let early = a.train.get(0).unwrap();
            assert_eq!(late.image, b.train.get(7).unwrap().image, "{kind:?}");
            assert_eq!(early.image, b.train.get(0).unwrap().image, "{kind:?}");
            assert_eq!(early.label, b.train.get(0).unwrap().label, "{kind:?}");
            assert_ne!(early.image, late.image, "{kind:?}");
            assert_ne!(early.image, c.train.get(0).unwrap().image, "{kind:?}");
            assert_ne!(
                early.image,
                a.test.get(0).unwrap().image,
                "{kind:?}: train and test streams"
            );
        }
    }

    #[test]
    fn images_have_the_right_shape_range_and_labels() {
        for kind in SyntheticKind::ALL {
            for size in [16, 64, 100] {
                let splits = open(kind, &config(size, 1));
                assert_eq!(splits.train.len(), 8);
                assert_eq!(splits.test.len(), 4);
                for i in 0..4 {
                    let s = splits.train.get(i).unwrap();
                    assert_eq!(
                        (s.image.channels, s.image.height, s.image.width),
                        (kind.channels(), size, size),
                        "{kind:?}"
                    );
                    assert!(
                        s.image.pixels.iter().all(|p| (0.0..=1.0).contains(p)),
                        "{kind:?}"
                    );
                    match (&s.label, kind.task()) {
                        (Label::Class(c), TaskKind::Binary | TaskKind::MultiClass) => {
                            assert!(*c < kind.class_names().len())
                        }
                        (Label::Findings(f), TaskKind::MultiLabel) => assert_eq!(f.len(), 6),
                        other => panic!("{kind:?}: {other:?}"),
                    }
                }
                assert!(splits.train.get(8).is_err());
            }
        }
    }

    #[test]
    fn info_names_the_source_and_split() {
        let splits = open(
            SyntheticKind::Derm,
            &SyntheticConfig::default_for(SyntheticKind::Derm),
        );
        assert_eq!(
            splits.train.info().name,
            "synth-derm:n=2000,test=500,size=64,seed=0 [train]"
        );
        assert_eq!(
            splits.test.info().name,
            "synth-derm:n=2000,test=500,size=64,seed=0 [test]"
        );
        assert_eq!(splits.info().task, TaskKind::Binary);
        assert_eq!(splits.test.len(), 500);
        let chest = open(
            SyntheticKind::Chest,
            &SyntheticConfig::default_for(SyntheticKind::Chest),
        );
        assert_eq!((chest.train.len(), chest.info().channels), (3000, 1));
    }

    #[test]
    fn parses_settings_and_rejects_bad_ones() {
        let kind = SyntheticKind::Fundus;
        assert_eq!(
            SyntheticConfig::parse(kind, "").unwrap(),
            SyntheticConfig::default_for(kind)
        );
        let c = SyntheticConfig::parse(kind, "n=10, test=3,size=224,seed=42").unwrap();
        assert_eq!((c.n, c.test, c.size, c.seed), (10, 3, 224, 42));
        let err = |rest: &str| SyntheticConfig::parse(kind, rest).unwrap_err().to_string();
        assert!(
            err("colour=red").contains("unknown setting 'colour'"),
            "{}",
            err("colour=red")
        );
        assert!(
            err("n=abc").contains("not a whole number"),
            "{}",
            err("n=abc")
        );
        assert!(err("n=-3").contains("not a whole number"));
        assert!(err("n=0").contains("at least 1"));
        assert!(err("size=8").contains("out of range"));
        assert!(err("size=2048").contains("out of range"));
        assert!(err("size").contains("key=value"));
        assert!(SyntheticConfig::parse(kind, "size=16").is_ok());
        assert!(SyntheticConfig::parse(kind, "size=1024").is_ok());
    }
}
