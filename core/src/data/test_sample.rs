//! A fixed sample of a split: what a quick evaluation (the robustness card's `quick` level, or
//! `--test-images N`) reads instead of every image. The sample depends only on the split and the
//! seed, so every model of a comparison sees the same images; its indices keep the split's
//! order, and its fingerprint is that of the images it holds.

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::dataset::{Dataset, DatasetInfo, Sample, SkippedFile};
use crate::Result;

/// `count` images of `data` drawn without replacement by `seed`, in the split's order; all of
/// it when it holds no more than `count`.
pub fn test_sample(data: Arc<dyn Dataset>, count: usize, seed: u64) -> Arc<dyn Dataset> {
    if data.len() <= count {
        return data;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut indices = rand::seq::index::sample(&mut rng, data.len(), count).into_vec();
    indices.sort_unstable();
    Arc::new(TestSample { data, indices })
}

/// Some images of a data set, by index.
struct TestSample {
    data: Arc<dyn Dataset>,
    /// Into `data`, ascending.
    indices: Vec<usize>,
}

impl Dataset for TestSample {
    fn info(&self) -> &DatasetInfo {
        self.data.info()
    }

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        self.data.get(self.indices[index])
    }

    fn id(&self, index: usize) -> String {
        self.data.id(self.indices[index])
    }

    fn label(&self, index: usize) -> Result<crate::Label> {
        self.data.label(self.indices[index])
    }

    fn content_stamp(&self, index: usize) -> Result<String> {
        self.data.content_stamp(self.indices[index])
    }

    fn skipped(&self) -> Vec<SkippedFile> {
        self.data.skipped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fingerprint;
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};

    fn split() -> Arc<dyn Dataset> {
        let config = SyntheticConfig {
            n: 40,
            test: 30,
            size: 16,
            seed: 3,
        };
        synthetic::open(SyntheticKind::Derm, &config).test
    }

    #[test]
    fn a_sample_is_fixed_by_its_seed_ordered_and_fingerprinted_by_its_images() {
        let data = split();
        let a = test_sample(data.clone(), 10, 0);
        let b = test_sample(data.clone(), 10, 0);
        let other = test_sample(data.clone(), 10, 1);
        assert_eq!(a.len(), 10);
        let ids = |d: &Arc<dyn Dataset>| (0..d.len()).map(|i| d.id(i)).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&other));
        let numbers: Vec<usize> = ids(&a).iter().map(|i| i.parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        // Each sampled image is the split's own.
        let first = data.get(numbers[0]).unwrap();
        assert_eq!(a.get(0).unwrap().image.pixels, first.image.pixels);
        assert_eq!(
            fingerprint(a.as_ref()).unwrap(),
            fingerprint(b.as_ref()).unwrap()
        );
        assert_ne!(
            fingerprint(a.as_ref()).unwrap(),
            fingerprint(data.as_ref()).unwrap()
        );
    }

    #[test]
    fn a_sample_no_smaller_than_the_split_is_the_split() {
        let data = split();
        let all = test_sample(data.clone(), 30, 0);
        assert_eq!(
            fingerprint(all.as_ref()).unwrap(),
            fingerprint(data.as_ref()).unwrap()
        );
    }
}
