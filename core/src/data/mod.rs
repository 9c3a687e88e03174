//! Data sets: where images and labels come from, for all three task kinds.
//!
//! Every source — synthetic generators, class folders, ISIC-style CSV, ChestX-ray14, MedMNIST —
//! becomes a [`Dataset`]: an indexable collection that decodes one [`Sample`] at a time, so a
//! folder of 100 000 images is never held in memory at once.

mod augment;
mod balance;
mod batcher;
mod chestxray14;
mod csv_folder;
mod dataset;
pub mod dicom;
mod fingerprint;
pub(crate) mod image;
mod image_folder;
mod medmnist;
pub mod preview;
mod source;
mod spec;
pub mod synthetic;
mod test_sample;

pub use augment::{AugmentDraw, Augmentation};
pub use balance::{balance_weights, balanced_order};
pub use batcher::{Batch, BatchLoader, batch_targets, draw_keys, images_to_tensor};
pub use chestxray14::open_chestxray14;
pub use csv_folder::{CsvColumns, open_csv};
pub use dataset::{
    DataSplits, Dataset, DatasetInfo, FileDataset, Sample, SkippedFile, Subset, holdout_split,
};
pub use fingerprint::fingerprint;
pub use image::{DecodeOptions, Image, MAX_PIXELS, MAX_SIDE};
pub use image_folder::open_image_folder;
pub use medmnist::open_medmnist;
pub use source::{DirEntry, FileSource, MemorySource, join};
pub use spec::{DataSpec, OpenOptions, open};
pub use test_sample::test_sample;
