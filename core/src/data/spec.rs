//! The `--data` argument: which source, and how to open it.

use std::sync::Arc;

use super::dicom::DicomFrames;
use super::synthetic::{SyntheticConfig, SyntheticKind};
use super::{
    CsvColumns, DataSplits, Dataset, DecodeOptions, FileSource, Subset, open_chestxray14, open_csv,
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
    /// Leave out the images that cannot be read (each split read once when opened), listing
    /// them, instead of stopping at the first (`--skip-unreadable`).
    pub skip_unreadable: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            csv: CsvColumns::default(),
            holdout: 0.2,
            seed: 0,
            decode: DecodeOptions::default(),
            dicom_frames: DicomFrames::default(),
            skip_unreadable: false,
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

/// Opens the data source `spec` names, reading files through `source`. With
/// `options.skip_unreadable`, the image files that do not decode are left out of each split
/// after it is drawn (so every other image stays on the side it was on) and listed.
pub fn open(
    spec: &DataSpec,
    options: &OpenOptions,
    source: Arc<dyn FileSource>,
) -> Result<DataSplits> {
    let splits = match spec {
        DataSpec::Synthetic(kind, config) => return Ok(super::synthetic::open(*kind, config)),
        // Arrays, decoded whole when opened: nothing is left to fail one image at a time.
        DataSpec::MedMnist(file) => return open_medmnist(source.as_ref(), file),
        DataSpec::Folder(dir) => open_image_folder(source, dir, options)?,
        DataSpec::Csv(file) => open_csv(source, file, options)?,
        DataSpec::ChestXray14(dir) => open_chestxray14(source, dir, options)?,
    };
    if !options.skip_unreadable {
        return Ok(splits);
    }
    let readable = |split: Arc<dyn Dataset>| -> Result<Arc<dyn Dataset>> {
        let kept = Subset::readable(split);
        if kept.is_empty() {
            return Err(Error::EmptySplit {
                source_name: kept.info().name.clone(),
                split: format!(
                    "readable ({} unreadable image(s) left out)",
                    kept.skipped().len()
                ),
            });
        }
        Ok(Arc::new(kept))
    };
    Ok(DataSplits {
        // An empty train split is fine for the commands that only evaluate; the trainer
        // refuses it when asked to train.
        train: Arc::new(Subset::readable(splits.train)),
        test: readable(splits.test)?,
    })
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

    /// One unreadable file among many (the first one, which the channel count would read, and a
    /// truncated DICOM): opening fails naming it; with `skip_unreadable` it is left out and
    /// listed, and every other image keeps the side of the split it had.
    #[test]
    fn unreadable_files_stop_the_run_unless_asked_to_skip_them() {
        use crate::data::{Image, MemorySource};
        let png = Image::new(3, 2, 2, vec![0.5; 12]).encode_png();
        let mut source = MemorySource::new();
        for i in 0..8 {
            source.insert(&format!("d/a/{i}.png"), png.clone());
            source.insert(&format!("d/b/{i}.png"), png.clone());
        }
        let whole = |skip_unreadable| OpenOptions {
            holdout: 0.5,
            skip_unreadable,
            ..OpenOptions::default()
        };
        let ids = |splits: &DataSplits| -> [Vec<String>; 2] {
            [&splits.train, &splits.test].map(|d| (0..d.len()).map(|i| d.id(i)).collect())
        };
        let spec = DataSpec::Folder("d".into());
        let before = ids(&open(&spec, &whole(false), source.clone().into_shared()).unwrap());
        source.insert("d/a/0.png", b"not a png".to_vec());
        let dicom = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/dicom/rgb8_explicit_le.dcm"
        ))
        .unwrap();
        source.insert("d/b/5.png", dicom[..dicom.len() - 30].to_vec());
        let source = source.into_shared();

        let err = open(&spec, &whole(false), source.clone())
            .err()
            .expect("the unreadable first file stops it")
            .to_string();
        assert!(
            err.contains("d/a/0.png")
                && err.contains("not a readable image")
                && err.contains("--skip-unreadable leaves"),
            "{err}"
        );

        let splits = open(&spec, &whole(true), source).unwrap();
        let after = ids(&splits);
        let left_out = ["d/a/0.png", "d/b/5.png"];
        for (was, is) in before.iter().zip(&after) {
            let expected: Vec<&String> = was
                .iter()
                .filter(|id| !left_out.contains(&id.as_str()))
                .collect();
            assert_eq!(is.iter().collect::<Vec<_>>(), expected);
        }
        let mut skipped = [splits.train.skipped(), splits.test.skipped()].concat();
        skipped.sort_by(|a, b| a.file.cmp(&b.file));
        assert_eq!(
            skipped.iter().map(|s| s.file.as_str()).collect::<Vec<_>>(),
            left_out
        );
        assert!(
            skipped
                .iter()
                .all(|s| s.error.starts_with(&s.file) && !s.error.contains("--skip-unreadable")),
            "{skipped:?}"
        );
        assert_eq!(splits.info().channels, 3);
    }
}
