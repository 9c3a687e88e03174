//! An attack's random draws (random starts, restarts), keyed by (seed, image index, stream) on
//! the host. A device's own generator is one sequential stream: a shard of the test split, another
//! batch size or another backend would hand an image different noise. Keyed draws give every image
//! the same numbers wherever and with whatever neighbours it is attacked.

use std::ops::Range;

use burn::Tensor;
use burn::tensor::{Device, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Who the images of a batch are: the run's seed and each image's index in the split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleKeys {
    /// The run's seed: the same seed draws the same noise for the same image.
    pub seed: u64,
    /// Each image's index in its split, in batch order.
    pub indices: Vec<u64>,
}

/// What a draw is for; each purpose (and restart) has its own stream.
pub type Stream = u64;

impl SampleKeys {
    /// Keys for the images at `indices` of a run with `seed`.
    pub fn new(seed: u64, indices: Vec<u64>) -> Self {
        Self { seed, indices }
    }

    /// Images `0..n` of a run with `seed`.
    pub fn sequential(seed: u64, n: usize) -> Self {
        Self::new(seed, (0..n as u64).collect())
    }

    /// Images in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the batch has no images.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The generator of image `i` of the batch for `stream`.
    fn rng(&self, i: usize, stream: Stream) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&self.indices[i].to_le_bytes());
        key[16..24].copy_from_slice(&stream.to_le_bytes());
        key[24..].copy_from_slice(b"robustdx");
        ChaCha8Rng::from_seed(key)
    }

    /// One generator per image of the batch for `stream`, for an attack that draws as it goes,
    /// a few numbers per image per query (Square's windows): each image reads its own sequence
    /// in order, however many neighbours it has and whenever they drop out.
    pub(crate) fn generators(&self, stream: Stream) -> Vec<ChaCha8Rng> {
        (0..self.len()).map(|i| self.rng(i, stream)).collect()
    }

    /// Standard normal values for noisy copies of image `i` of the batch, `per_copy` values
    /// each, copy `k` read from stream `streams.start + k`: however the copies are batched,
    /// each one gets the same noise (randomized smoothing's thousands of copies of one image).
    pub fn normal_copies(&self, i: usize, streams: Range<Stream>, per_copy: usize) -> Vec<f32> {
        let mut values = Vec::with_capacity(per_copy * (streams.end - streams.start) as usize);
        for stream in streams {
            let mut rng = self.rng(i, stream);
            values.extend((0..per_copy).map(|_| rng.sample::<f32, _>(StandardNormal)));
        }
        values
    }

    /// `[batch, per_sample…]` values, each image's from its own generator.
    fn draw(
        &self,
        stream: Stream,
        per_sample: [usize; 3],
        device: &Device,
        mut value: impl FnMut(&mut ChaCha8Rng) -> f32,
    ) -> Tensor<4> {
        let n: usize = per_sample.iter().product();
        let mut values = Vec::with_capacity(n * self.len());
        for i in 0..self.len() {
            let mut rng = self.rng(i, stream);
            values.extend((0..n).map(|_| value(&mut rng)));
        }
        let [c, h, w] = per_sample;
        Tensor::from_data(TensorData::new(values, [self.len(), c, h, w]), device)
    }

    /// Uniform in [low, high).
    pub fn uniform(
        &self,
        stream: Stream,
        per_sample: [usize; 3],
        low: f32,
        high: f32,
        device: &Device,
    ) -> Tensor<4> {
        self.draw(stream, per_sample, device, |rng| {
            rng.random_range(low..high)
        })
    }

    /// Standard normal.
    pub fn normal(&self, stream: Stream, per_sample: [usize; 3], device: &Device) -> Tensor<4> {
        self.draw(stream, per_sample, device, |rng| rng.sample(StandardNormal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::cpu;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn an_image_draws_the_same_numbers_in_any_batch() {
        let device = cpu();
        let whole =
            values(SampleKeys::new(9, vec![0, 1, 2, 3]).uniform(0, [2, 3, 3], -1.0, 1.0, &device));
        let alone = values(SampleKeys::new(9, vec![2]).uniform(0, [2, 3, 3], -1.0, 1.0, &device));
        assert_eq!(&whole[2 * 18..3 * 18], &alone[..]);
        assert!(whole.iter().all(|v| (-1.0..1.0).contains(v)));
        // Another stream, image or seed draws other numbers.
        let other_stream =
            values(SampleKeys::new(9, vec![2]).uniform(1, [2, 3, 3], -1.0, 1.0, &device));
        let other_seed =
            values(SampleKeys::new(8, vec![2]).uniform(0, [2, 3, 3], -1.0, 1.0, &device));
        assert_ne!(alone, other_stream);
        assert_ne!(alone, other_seed);
        assert_ne!(&whole[..18], &whole[18..36]);
    }

    #[test]
    fn a_copy_draws_the_same_noise_in_any_batch_of_copies() {
        let keys = SampleKeys::new(3, vec![5, 11]);
        let all = keys.normal_copies(1, 100..110, 6);
        let some = keys.normal_copies(1, 104..107, 6);
        assert_eq!(&all[4 * 6..7 * 6], &some[..]);
        // The copy's noise is the image's own: another image (or seed) draws other numbers.
        assert_ne!(keys.normal_copies(0, 104..107, 6), some);
        assert_eq!(
            SampleKeys::new(3, vec![11]).normal_copies(0, 104..107, 6),
            some
        );
        assert_ne!(
            SampleKeys::new(4, vec![11]).normal_copies(0, 104..107, 6),
            some
        );
    }

    #[test]
    fn normal_draws_have_unit_variance() {
        let keys = SampleKeys::sequential(1, 4);
        let v = values(keys.normal(0, [1, 50, 50], &cpu()));
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
