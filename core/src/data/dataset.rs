//! The [`Dataset`] abstraction and the generic pieces every source shares.

use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::dicom::{DicomFrames, dicom_frame_count, is_dicom};
use super::fingerprint::bytes_stamp;
use super::{DecodeOptions, FileSource, Image, OpenOptions};
use crate::{Error, Label, Result, TaskKind};

/// One image with its ground truth.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Pixels in [0, 1], at the size stored (the loader resizes).
    pub image: Image,
    /// The ground truth.
    pub label: Label,
}

/// What a data set holds, for model cards, reports and label checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Where it came from, as the user named it (e.g. `synth-derm:n=2000` or a path).
    pub name: String,
    /// Single-label (binary, multi-class) or multi-label.
    pub task: TaskKind,
    /// Class names (single-label) or finding names (multi-label), in output order.
    pub class_names: Vec<String>,
    /// Channels of the stored images (1 or 3).
    pub channels: usize,
}

impl DatasetInfo {
    /// Class (or finding) count: the width of a model's logits for this data.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// An indexable collection of samples, decoded on demand.
pub trait Dataset: Send + Sync {
    /// Name, task, classes and channels of the set.
    fn info(&self) -> &DatasetInfo;
    /// Samples in the set.
    fn len(&self) -> usize;
    /// Decodes sample `index` (< `len()`). Errors name the file (and row) at fault.
    fn get(&self, index: usize) -> Result<Sample>;

    /// What a person calls sample `index` in per-image records: its file, or its index for
    /// generated and array-backed sets.
    fn id(&self, index: usize) -> String {
        index.to_string()
    }

    /// Whether the set has no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples that must stay on one side of a split (the frames of one multi-frame file) share
    /// a group, named by its first sample's index; by default every sample is its own group.
    fn group(&self, index: usize) -> usize {
        index
    }

    /// The label of sample `index`; sources that know labels up front answer without decoding.
    fn label(&self, index: usize) -> Result<Label> {
        self.get(index).map(|s| s.label)
    }

    /// What sample `index` is apart from its id, for the split's
    /// [fingerprint](super::fingerprint): its label and its content — for a file, the file's
    /// size and modification time (no pixel read); by default a hash of the decoded pixels
    /// (generated samples: the generator's code is part of what makes them).
    fn content_stamp(&self, index: usize) -> Result<String> {
        let sample = self.get(index)?;
        let image = &sample.image;
        let mut bytes = Vec::with_capacity(24 + 4 * image.pixels.len());
        for side in [image.channels, image.height, image.width] {
            bytes.extend((side as u64).to_le_bytes());
        }
        bytes.extend(image.pixels.iter().flat_map(|p| p.to_le_bytes()));
        Ok(bytes_stamp(&sample.label, &bytes))
    }

    /// The files left out of this set because they could not be read (`--skip-unreadable`);
    /// empty for every other set.
    fn skipped(&self) -> Vec<SkippedFile> {
        Vec::new()
    }
}

/// What an unreadable image's error adds in a data set: how to go on without it.
const SKIP_HINT: &str = " (--skip-unreadable leaves unreadable images out)";

/// `error` (an image that does not decode) with how to go on without the image.
pub(crate) fn with_skip_hint(error: Error) -> Error {
    match error {
        Error::Format { file, reason } => Error::Format {
            file,
            reason: format!("{reason}{SKIP_HINT}"),
        },
        other => other,
    }
}

/// A sample left out because it could not be read, and why: what a result's provenance lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// The sample's id (its file, `FILE#FRAME` for a frame).
    pub file: String,
    /// The error reading it gave, as the run would have stopped with it.
    pub error: String,
}

/// A data source's train and test splits.
pub struct DataSplits {
    /// What models are trained on.
    pub train: Arc<dyn Dataset>,
    /// What they are evaluated and attacked on; never seen in training.
    pub test: Arc<dyn Dataset>,
}

impl DataSplits {
    /// What the data set holds (the test split's description, which names the source).
    pub fn info(&self) -> &DatasetInfo {
        self.test.info()
    }
}

/// Samples stored as image files behind a [`FileSource`], labels known up front.
pub struct FileDataset {
    info: DatasetInfo,
    source: Arc<dyn FileSource>,
    entries: Vec<(String, Label)>,
    decode: DecodeOptions,
    /// Per entry, the DICOM frame it is (`--dicom-frames all`); empty: the options' frame.
    frames: Vec<u32>,
}

impl FileDataset {
    /// `entries` are (file path, label) pairs; the images are only read when asked for, as
    /// `options` say. With `--dicom-frames all`, each frame of a multi-frame DICOM file becomes an
    /// entry of its own (id `path#frame`), which reads every DICOM file's header here.
    pub fn new(
        info: DatasetInfo,
        source: Arc<dyn FileSource>,
        entries: Vec<(String, Label)>,
        options: &OpenOptions,
    ) -> Result<Self> {
        let mut dataset = Self {
            info,
            source,
            entries,
            decode: options.decode,
            frames: Vec::new(),
        };
        if options.dicom_frames == DicomFrames::All {
            let mut entries = Vec::with_capacity(dataset.entries.len());
            let mut frames = Vec::with_capacity(dataset.entries.len());
            for (path, label) in std::mem::take(&mut dataset.entries) {
                let count = dataset.source.read(&path).and_then(|bytes| {
                    if is_dicom(&bytes) {
                        dicom_frame_count(&bytes, &path)
                    } else {
                        Ok(1)
                    }
                });
                let count = match count {
                    // One entry, which fails to decode and is left out with its reason.
                    Err(_) if options.skip_unreadable => 1,
                    count => count?,
                };
                for frame in 0..count {
                    entries.push((path.clone(), label.clone()));
                    frames.push(frame);
                }
            }
            dataset.entries = entries;
            dataset.frames = frames;
        }
        Ok(dataset)
    }

    /// The (file path, label) of each sample, in index order.
    pub fn entries(&self) -> &[(String, Label)] {
        &self.entries
    }

    fn options_for(&self, index: usize) -> DecodeOptions {
        match self.frames.get(index) {
            Some(&frame) => DecodeOptions {
                dicom_frame: frame,
                ..self.decode
            },
            None => self.decode,
        }
    }
}

impl Dataset for FileDataset {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn id(&self, index: usize) -> String {
        let path = &self.entries[index].0;
        match self.frames.get(index) {
            // A frame of a file with several (a neighbour entry is the same file's next frame,
            // or this is not its first) is named with its frame.
            Some(&frame) if self.frames.get(index + 1) == Some(&(frame + 1)) || frame > 0 => {
                format!("{path}#{frame}")
            }
            _ => path.clone(),
        }
    }

    fn label(&self, index: usize) -> Result<Label> {
        Ok(self.entries[index].1.clone())
    }

    /// A frame's group is its file (frames of a file are consecutive entries, numbered from 0).
    fn group(&self, index: usize) -> usize {
        self.frames
            .get(index)
            .map_or(index, |&f| index - f as usize)
    }

    /// The label and the file's stamp: a frame of a multi-frame file shares its file's, its id
    /// tells it apart.
    fn content_stamp(&self, index: usize) -> Result<String> {
        let (path, label) = &self.entries[index];
        let label = serde_json::to_string(label).expect("labels serialise");
        Ok(format!("{label} {}", self.source.stamp(path)?))
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let (path, label) = &self.entries[index];
        let bytes = self.source.read(path)?;
        // A run over a data set stops here; the message says how to go on without the file.
        let image =
            Image::decode_with(&bytes, path, &self.options_for(index)).map_err(with_skip_hint)?;
        Ok(Sample {
            image,
            label: label.clone(),
        })
    }
}

/// A view of some of another data set's samples: a split, or the samples that decode.
pub struct Subset {
    inner: Arc<dyn Dataset>,
    indices: Vec<usize>,
    info: DatasetInfo,
    skipped: Vec<SkippedFile>,
}

impl Subset {
    /// The samples of `inner` at `indices`, in that order; `split` is appended to its name
    /// (`[train]`).
    pub fn new(inner: Arc<dyn Dataset>, indices: Vec<usize>, split: &str) -> Self {
        let mut info = inner.info().clone();
        info.name = format!("{} [{split}]", info.name);
        Self {
            inner,
            indices,
            info,
            skipped: Vec::new(),
        }
    }

    /// The samples of `inner` that decode; the others are left out and listed
    /// ([`Dataset::skipped`]). Made by reading every sample once, so a run never stops halfway
    /// on a file it could have been told about first.
    pub fn readable(inner: Arc<dyn Dataset>) -> Self {
        let (mut indices, mut skipped) = (Vec::new(), Vec::new());
        for index in 0..inner.len() {
            match inner.get(index) {
                Ok(_) => indices.push(index),
                Err(e) => skipped.push(SkippedFile {
                    file: inner.id(index),
                    // The hint is what was just done.
                    error: e.to_string().trim_end_matches(SKIP_HINT).to_string(),
                }),
            }
        }
        Self {
            info: inner.info().clone(),
            inner,
            indices,
            skipped,
        }
    }
}

impl Dataset for Subset {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        self.inner.get(self.indices[index])
    }

    fn id(&self, index: usize) -> String {
        self.inner.id(self.indices[index])
    }

    fn label(&self, index: usize) -> Result<Label> {
        self.inner.label(self.indices[index])
    }

    fn content_stamp(&self, index: usize) -> Result<String> {
        self.inner.content_stamp(self.indices[index])
    }

    fn skipped(&self) -> Vec<SkippedFile> {
        self.skipped.clone()
    }
}

/// Splits `0..len` into (train, test) index lists, holding out `test_fraction` of them at random
/// (deterministic for a seed). Both lists come back sorted so reads stay sequential.
pub fn holdout_split(
    len: usize,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..=1.0).contains(&test_fraction) {
        return Err(Error::invalid(format!(
            "hold-out fraction must be in [0, 1], got {test_fraction}"
        )));
    }
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_test = (len as f64 * test_fraction).round() as usize;
    let (test, train) = order.split_at(n_test);
    let (mut train, mut test) = (train.to_vec(), test.to_vec());
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_split_is_a_deterministic_partition() {
        let (train, test) = holdout_split(100, 0.2, 7).unwrap();
        assert_eq!((train.len(), test.len()), (80, 20));
        let mut all: Vec<_> = train.iter().chain(&test).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(holdout_split(100, 0.2, 7).unwrap().1, test);
        assert_ne!(holdout_split(100, 0.2, 8).unwrap().1, test);
        assert!(holdout_split(10, 1.5, 0).is_err());
    }
}
