//! The `--data` argument: which source, and how to open it.

use std::sync::Arc;

use super::dicom::DicomFrames;
use super::synthetic::{SyntheticConfig, SyntheticKind};
use super::{
    CsvColumns, DataSplits, DecodeOptions, FileSource, open_chestxray14, open_csv,
    open_image_folder, open_medmnist,
};
use crate::{Error, Result};

/// A parsed `--data` value.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSpec {
    /// `synth-derm`, `synth-fundus`, `synth-chest`, with optional `:n=…,size=…,seed=…`.
    Synthetic(SyntheticKind, SyntheticConfig),
    /// `medmnist:FILE.npz`.
    MedMnist(String),
    /// `folder:DIR`: one sub-folder per class (optionally under `train/` and `test/`).
    Folder(String),
    /// `csv:FILE.csv`: an image id column and a label column; images under `--images DIR`.
    Csv(String),
    /// `chestxray14:DIR`: `Data_Entry_2017.csv` with `train_val_list.txt` / `test_list.txt`.
    ChestXray14(String),
}

/// Settings that apply to file-based sources.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenOptions {
    /// Which CSV columns hold the ids and labels (`csv:` sources).
    pub csv: CsvColumns,
    /// Fraction of a source without its own train/test split that is held out for testing.
    pub holdout: f64,
    /// Seed of that hold-out split.
    pub seed: u64,
    /// How image files are read (DICOM's window).
    pub decode: DecodeOptions,
    /// Which frames of a multi-frame DICOM file are images.
    pub dicom_frames: DicomFrames,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            csv: CsvColumns::default(),
            holdout: 0.2,
            seed: 0,
            decode: DecodeOptions::default(),
            dicom_frames: DicomFrames::default(),
        }
    }
}

impl DataSpec {
    /// Reads a `--data` value: `KIND:PATH` for the file-based kinds; an unknown kind or a missing
    /// path is an error.
    pub fn parse(spec: &str) -> Result<Self> {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let path = |what: &str| -> Result<String> {
            if rest.is_empty() {
                Err(Error::invalid(format!(
                    "--data {kind}: needs a {what} after '{kind}:'"
                )))
            } else {
                Ok(rest.to_string())
            }
        };
        match kind {
            "medmnist" => Ok(DataSpec::MedMnist(path("FILE.npz")?)),
            "folder" => Ok(DataSpec::Folder(path("directory")?)),
            "csv" => Ok(DataSpec::Csv(path("FILE.csv")?)),
            "chestxray14" => Ok(DataSpec::ChestXray14(path("directory")?)),
            other => match SyntheticKind::from_name(other) {
                Some(kind) => Ok(DataSpec::Synthetic(
                    kind,
                    SyntheticConfig::parse(kind, rest)?,
                )),
                None => Err(Error::invalid(format!(
                    "unknown data source '{spec}': expected synth-derm, synth-fundus, synth-chest \
                     (with optional :n=…,size=…,seed=…), medmnist:FILE.npz, folder:DIR, \
                     csv:FILE.csv or chestxray14:DIR"
                ))),
            },
        }
    }

    /// Whether opening this spec reads files.
    pub fn needs_files(&self) -> bool {
        !matches!(self, DataSpec::Synthetic(..))
    }
}

/// Opens the data source `spec` names, reading files through `source`.
pub fn open(
    spec: &DataSpec,
    options: &OpenOptions,
    source: Arc<dyn FileSource>,
) -> Result<DataSplits> {
    match spec {
        DataSpec::Synthetic(kind, config) => Ok(super::synthetic::open(*kind, config)),
        DataSpec::MedMnist(file) => open_medmnist(source.as_ref(), file),
        DataSpec::Folder(dir) => open_image_folder(source, dir, options),
        DataSpec::Csv(file) => open_csv(source, file, options),
        DataSpec::ChestXray14(dir) => open_chestxray14(source, dir, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_source_kind() {
        assert_eq!(
            DataSpec::parse("medmnist:x/chestmnist.npz").unwrap(),
            DataSpec::MedMnist("x/chestmnist.npz".into())
        );
        assert_eq!(
            DataSpec::parse("folder:/d/isic").unwrap(),
            DataSpec::Folder("/d/isic".into())
        );
        assert_eq!(
            DataSpec::parse("csv:a:b.csv").unwrap(),
            DataSpec::Csv("a:b.csv".into())
        );
        assert_eq!(
            DataSpec::parse("chestxray14:cxr").unwrap(),
            DataSpec::ChestXray14("cxr".into())
        );
        match DataSpec::parse("synth-chest:n=10,size=32,seed=3").unwrap() {
            DataSpec::Synthetic(SyntheticKind::Chest, c) => {
                assert_eq!((c.n, c.size, c.seed), (10, 32, 3))
            }
            other => panic!("{other:?}"),
        }
        assert!(DataSpec::parse("synth-derm").is_ok());
    }

    #[test]
    fn rejects_unknown_and_incomplete_specs() {
        let err = DataSpec::parse("imagenet").unwrap_err().to_string();
        assert!(err.contains("unknown data source 'imagenet'"), "{err}");
        assert!(DataSpec::parse("folder:").is_err());
        assert!(DataSpec::parse("synth-derm:n=abc").is_err());
        assert!(DataSpec::parse("synth-derm:colour=red").is_err());
    }
}
