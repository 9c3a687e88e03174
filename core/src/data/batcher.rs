//! From samples to tensors: a streaming, seeded-shuffle batch loader.

use burn::Tensor;
use burn::tensor::{Device, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{Augmentation, Dataset, Image, Sample};
use crate::model::InputSpec;
use crate::{Label, Result, TaskKind};

/// Images and targets of one batch, on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, channels, height, width]`, pixels in [0, 1].
    pub images: Tensor<4>,
    /// One-hot / multi-hot `[batch, classes]`.
    pub targets: Tensor<2>,
    /// The ground truth of each image, in batch order (what `targets` encodes).
    pub labels: Vec<Label>,
}

/// Walks a data set in batches, decoding only the samples of the current batch and bringing each
/// image to the model's input size and channels. The order is shuffled by seed, or sequential.
pub struct BatchLoader<'a> {
    dataset: &'a dyn Dataset,
    order: Vec<usize>,
    batch_size: usize,
    input: InputSpec,
    augmentation: Option<Augmentation>,
    /// What each position's random draws are keyed by (see [`draw_keys`]).
    keys: Vec<u64>,
    next: usize,
}

/// The key of each position of `order` for per-image random draws: the image's index the first
/// time it appears, and a key of its own for each repeat (class-balanced sampling draws some
/// images twice; each draw should get its own view). An order without repeats keys by image.
pub fn draw_keys(order: &[usize], len: usize) -> Vec<u64> {
    let mut seen = vec![0u64; len];
    order
        .iter()
        .map(|&i| {
            let occurrence = seen[i];
            seen[i] += 1;
            i as u64 + occurrence * len as u64
        })
        .collect()
}

impl<'a> BatchLoader<'a> {
    /// `shuffle`: `Some(seed)` for a seeded random order, `None` for index order.
    pub fn new(
        dataset: &'a dyn Dataset,
        batch_size: usize,
        input: &InputSpec,
        shuffle: Option<u64>,
    ) -> Self {
        let mut order: Vec<usize> = (0..dataset.len()).collect();
        if let Some(seed) = shuffle {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        }
        Self {
            dataset,
            order,
            batch_size: batch_size.max(1),
            input: input.clone(),
            augmentation: None,
            keys: (0..dataset.len() as u64).collect(),
            next: 0,
        }
    }

    /// Walks `order` (indices into the data set, repeats allowed) instead.
    pub fn with_order(mut self, order: Vec<usize>) -> Self {
        self.keys = draw_keys(&order, self.dataset.len());
        self.order = order;
        self
    }

    /// Augments each image (before it is brought to the model's input size).
    pub fn augmented(mut self, augmentation: Option<Augmentation>) -> Self {
        self.augmentation = augmentation;
        self
    }

    /// The data-set indices in the order batches take them.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Only the samples `range` of the data set, in index order (a shard of a split).
    pub fn only(mut self, range: std::ops::Range<usize>) -> Self {
        let (order, keys) = self
            .order
            .iter()
            .zip(&self.keys)
            .filter(|(i, _)| range.contains(i))
            .map(|(&i, &k)| (i, k))
            .unzip();
        (self.order, self.keys) = (order, keys);
        self
    }

    /// Number of batches in one pass.
    pub fn num_batches(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// Decodes and prepares the sample at `position` of the walk for the model input.
    /// Augmentation is keyed by the position's draw key: by image, with a key of its own for an
    /// image drawn again in the same epoch (class-balanced sampling), so each draw gets a view.
    fn prepare(&self, position: usize) -> Result<Sample> {
        let sample = self.dataset.get(self.order[position])?;
        let image = match self.augmentation {
            Some(augmentation) => augmentation.apply(sample.image, self.keys[position]),
            None => sample.image,
        };
        let image = self.input.prepare(image);
        Ok(Sample { image, ..sample })
    }
}

impl Iterator for BatchLoader<'_> {
    type Item = Result<Vec<Sample>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.batch_size).min(self.order.len());
        let start = self.next;
        self.next = end;
        Some(self.prepare_range(start..end))
    }
}

impl BatchLoader<'_> {
    /// A batch's samples, decoded on every core (native): each sample's decode and augmentation
    /// depend only on its position, so the batch is the same in any order.
    #[cfg(feature = "parallel")]
    fn prepare_range(&self, positions: std::ops::Range<usize>) -> Result<Vec<Sample>> {
        use rayon::prelude::*;
        positions
            .into_par_iter()
            .map(|position| self.prepare(position))
            .collect()
    }

    /// A batch's samples, one after the other (the browser's worker has one thread).
    #[cfg(not(feature = "parallel"))]
    fn prepare_range(&self, positions: std::ops::Range<usize>) -> Result<Vec<Sample>> {
        positions.map(|position| self.prepare(position)).collect()
    }
}

/// Stacks same-sized images into `[batch, channels, height, width]`.
pub fn images_to_tensor(images: &[&Image], device: &Device) -> Tensor<4> {
    let first = images.first().expect("at least one image");
    let (c, h, w) = (first.channels, first.height, first.width);
    let mut values = Vec::with_capacity(images.len() * c * h * w);
    for image in images {
        assert_eq!(
            (image.channels, image.height, image.width),
            (c, h, w),
            "images of one batch differ in shape"
        );
        values.extend_from_slice(&image.pixels);
    }
    Tensor::from_data(TensorData::new(values, [images.len(), c, h, w]), device)
}

/// A [`Batch`] on `device` from prepared samples.
pub fn batch_targets(
    samples: Vec<Sample>,
    task: TaskKind,
    classes: usize,
    device: &Device,
) -> Result<Batch> {
    let images = images_to_tensor(
        &samples.iter().map(|s| &s.image).collect::<Vec<_>>(),
        device,
    );
    let labels: Vec<Label> = samples.into_iter().map(|s| s.label).collect();
    let targets = crate::task::targets_tensor(&labels, task, classes, device)?;
    Ok(Batch {
        images,
        targets,
        labels,
    })
}
