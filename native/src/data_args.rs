//! The `--data` options every subcommand shares.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use robustdx_core::data::dicom::{DicomFrames, DicomWindow};
use robustdx_core::data::{self, CsvColumns, DataSpec, DataSplits, DecodeOptions, OpenOptions};

use crate::files::DiskSource;

/// A count that must be at least 1 (`--batch-size`, `--steps`, `--limit`): 0 is refused by
/// clap with the flag's name instead of running an empty loop or dividing by it.
pub fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number: {e}")),
    }
}

/// Which split of a data set (`data preview`, `data export`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Split {
    Train,
    Test,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct DataArgs {
    /// Data set: synth-derm | synth-fundus | synth-chest [:n=…,test=…,size=…,seed=…],
    /// medmnist:FILE.npz, folder:DIR, csv:FILE.csv (with --images), chestxray14:DIR
    #[arg(long, default_value = "synth-derm")]
    pub data: String,
    /// csv: directory holding the images (default: the CSV's directory)
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// csv: column of image ids, by header name or as #INDEX (zero-based)
    #[arg(long, default_value = "image_id")]
    pub id_column: String,
    /// csv: column of labels, by header name or as #INDEX (zero-based)
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// csv: the file has no header row (address columns as #0, #1, …)
    #[arg(long)]
    pub no_header: bool,
    /// Share of a source without its own train/test split held out as the test split
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// Seed of that hold-out split
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Leave out the images that cannot be read (each split is read once when opened) and list
    /// them in the result, instead of stopping at the first
    #[arg(long)]
    pub skip_unreadable: bool,
    /// Read only a fixed sample of N test images (drawn by --split-seed, the same for every
    /// model): a quick look, or a comparison of many models on the same images
    #[arg(long, value_parser = positive)]
    pub test_images: Option<usize>,
    #[command(flatten)]
    pub dicom: DicomArgs,
}

/// How DICOM files are read: by every command that reads image files.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct DicomArgs {
    /// DICOM window: auto (the file's window, else min–max), none (min–max) or CENTER,WIDTH
    #[arg(long, default_value = "auto")]
    pub dicom_window: String,
    /// Multi-frame DICOM: first (the first frame) or all (each frame an image, id FILE#FRAME)
    #[arg(long, default_value = "first")]
    pub dicom_frames: String,
}

impl DicomArgs {
    pub fn decode_options(&self) -> anyhow::Result<DecodeOptions> {
        Ok(DecodeOptions {
            dicom_window: self.dicom_window.parse::<DicomWindow>()?,
            dicom_frame: 0,
        })
    }

    pub fn frames(&self) -> anyhow::Result<DicomFrames> {
        Ok(self.dicom_frames.parse()?)
    }

    /// For result identities: nothing when the defaults are used (older results stay valid).
    pub fn identity(&self) -> String {
        let mut text = String::new();
        if self.dicom_window != "auto" {
            text.push_str(&format!(" dicom-window={}", self.dicom_window));
        }
        if self.dicom_frames != "first" {
            text.push_str(&format!(" dicom-frames={}", self.dicom_frames));
        }
        text
    }
}

impl DataArgs {
    /// `data` with every other option at its flag's default: what commands that run others
    /// (`demo`) pass.
    pub fn new(data: &str) -> Self {
        Self {
            data: data.into(),
            images: None,
            id_column: "image_id".into(),
            label_column: "label".into(),
            no_header: false,
            holdout: 0.2,
            split_seed: 0,
            skip_unreadable: false,
            test_images: None,
            dicom: DicomArgs {
                dicom_window: "auto".into(),
                dicom_frames: "first".into(),
            },
        }
    }

    /// The flags that give these options (those off their defaults), for a command line that
    /// reads the same images: what the robustness card's parts are run with and show.
    pub fn to_flags(&self) -> Vec<String> {
        let defaults = Self::new(&self.data);
        let mut flags = vec!["--data".to_string(), self.data.clone()];
        let mut flag = |name: &str, value: String| {
            flags.push(format!("--{name}"));
            flags.push(value);
        };
        if let Some(images) = &self.images {
            flag("images", images.to_string_lossy().into_owned());
        }
        if self.id_column != defaults.id_column {
            flag("id-column", self.id_column.clone());
        }
        if self.label_column != defaults.label_column {
            flag("label-column", self.label_column.clone());
        }
        if self.holdout != defaults.holdout {
            flag("holdout", self.holdout.to_string());
        }
        if self.split_seed != defaults.split_seed {
            flag("split-seed", self.split_seed.to_string());
        }
        if let Some(count) = self.test_images {
            flag("test-images", count.to_string());
        }
        if self.dicom.dicom_window != defaults.dicom.dicom_window {
            flag("dicom-window", self.dicom.dicom_window.clone());
        }
        if self.dicom.dicom_frames != defaults.dicom.dicom_frames {
            flag("dicom-frames", self.dicom.dicom_frames.clone());
        }
        if self.no_header {
            flags.push("--no-header".into());
        }
        if self.skip_unreadable {
            flags.push("--skip-unreadable".into());
        }
        flags
    }

    pub fn open(&self) -> anyhow::Result<DataSplits> {
        let spec = DataSpec::parse(&self.data)?;
        let csv = CsvColumns {
            images: self
                .images
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            id_column: self.id_column.clone(),
            label_column: self.label_column.clone(),
            has_header: !self.no_header,
        };
        let options = OpenOptions {
            csv,
            holdout: self.holdout,
            seed: self.split_seed,
            decode: self.dicom.decode_options()?,
            dicom_frames: self.dicom.frames()?,
            skip_unreadable: self.skip_unreadable,
        };
        let mut splits = data::open(&spec, &options, Arc::new(DiskSource))?;
        if let Some(count) = self.test_images {
            splits.test = data::test_sample(splits.test, count, self.split_seed);
        }
        Ok(splits)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        data: DataArgs,
    }

    #[test]
    fn flags_read_back_as_the_same_options() {
        for argv in [
            vec!["test", "--data", "synth-chest"],
            vec![
                "test",
                "--data",
                "csv:/d/labels.csv",
                "--images",
                "/d/img",
                "--id-column",
                "#0",
                "--label-column",
                "finding",
                "--holdout",
                "0.3",
                "--split-seed",
                "7",
                "--test-images",
                "50",
                "--dicom-window",
                "40,400",
                "--dicom-frames",
                "all",
                "--no-header",
                "--skip-unreadable",
            ],
        ] {
            let parsed = Flags::parse_from(&argv).data;
            let again =
                Flags::parse_from(std::iter::once("test".to_string()).chain(parsed.to_flags()))
                    .data;
            assert_eq!(parsed, again, "{argv:?}");
        }
    }

    #[test]
    fn new_has_the_flags_defaults() {
        let parsed = Flags::parse_from(["test", "--data", "synth-chest"]).data;
        assert_eq!(DataArgs::new("synth-chest"), parsed);
    }
}
