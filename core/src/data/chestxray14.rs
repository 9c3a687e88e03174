//! NIH ChestX-ray14 as distributed: `Data_Entry_2017.csv` gives each image's findings ("Finding
//! Labels", joined by `|`, or "No Finding"), `train_val_list.txt` and `test_list.txt` give the
//! official patient-wise split, and the PNGs sit in `images/` (or next to the CSV).

use std::collections::HashMap;
use std::sync::Arc;

use super::{DataSplits, DatasetInfo, FileDataset, FileSource, OpenOptions, join};
use crate::{Error, Label, Result, TaskKind};

/// The 14 ChestX-ray14 findings, in the standard output order (also ChestMNIST's label order).
pub(crate) const CHESTXRAY14_FINDINGS: [&str; 14] = [
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
];

const ENTRY_FILE: &str = "Data_Entry_2017.csv";
const IMAGE_COLUMN: &str = "Image Index";
const FINDINGS_COLUMN: &str = "Finding Labels";

/// Opens the ChestX-ray14 release in `dir` with its official train (train+val) and test lists.
pub fn open_chestxray14(
    source: Arc<dyn FileSource>,
    dir: &str,
    options: &OpenOptions,
) -> Result<DataSplits> {
    let entry_file = join(dir, ENTRY_FILE);
    let findings = read_entries(&source.read(&entry_file)?, &entry_file)?;
    let images_dir = match join(dir, "images") {
        images if source.exists(&images) => images,
        _ => dir.to_string(),
    };
    let split = |list: &str, split: &str| -> Result<Arc<FileDataset>> {
        let list_file = join(dir, list);
        let text = String::from_utf8(source.read(&list_file)?)
            .map_err(|_| Error::format(&list_file, "not UTF-8 text"))?;
        let mut entries = Vec::new();
        for (line, name) in text.lines().enumerate() {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let label = findings.get(name).ok_or_else(|| {
                Error::row(
                    &list_file,
                    line + 1,
                    format!("'{name}' is not in {entry_file}"),
                )
            })?;
            entries.push((join(&images_dir, name), label.clone()));
        }
        if entries.is_empty() {
            return Err(Error::EmptySplit {
                source_name: list_file,
                split: split.to_string(),
            });
        }
        let info = DatasetInfo {
            name: format!("{dir} [{split}]"),
            task: TaskKind::MultiLabel,
            class_names: CHESTXRAY14_FINDINGS.iter().map(|f| f.to_string()).collect(),
            channels: 1,
        };
        Ok(Arc::new(FileDataset::new(
            info,
            source.clone(),
            entries,
            options,
        )?))
    };
    Ok(DataSplits {
        train: split("train_val_list.txt", "train")?,
        test: split("test_list.txt", "test")?,
    })
}

/// Image file name to findings, from the bytes of `Data_Entry_2017.csv`.
fn read_entries(bytes: &[u8], file: &str) -> Result<HashMap<String, Label>> {
    let csv_error = |e: csv::Error| match e.position() {
        Some(p) => Error::row(file, p.line() as usize, e),
        None => Error::format(file, e),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| Error::MissingColumn {
                file: file.to_string(),
                column: name.to_string(),
                available: header.iter().collect::<Vec<_>>().join(", "),
            })
    };
    let (image_at, findings_at) = (column(IMAGE_COLUMN)?, column(FINDINGS_COLUMN)?);
    let mut entries = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let image = match record.get(image_at) {
            Some(image) if !image.is_empty() => image,
            _ => {
                return Err(Error::row(
                    file,
                    line,
                    format!("no value in column '{IMAGE_COLUMN}'"),
                ));
            }
        };
        let label = parse_findings(record.get(findings_at).unwrap_or(""))
            .map_err(|reason| Error::row(file, line, reason))?;
        if entries.insert(image.to_string(), label).is_some() {
            return Err(Error::row(
                file,
                line,
                format!("image '{image}' is listed twice"),
            ));
        }
    }
    Ok(entries)
}

/// `Effusion|Mass` to one flag per finding; "No Finding" (or nothing) sets none.
fn parse_findings(cell: &str) -> Result<Label, String> {
    let mut flags = vec![false; CHESTXRAY14_FINDINGS.len()];
    for finding in cell
        .split('|')
        .map(str::trim)
        .filter(|f| !f.is_empty() && *f != "No Finding")
    {
        let name = if finding == "Pleural Thickening" {
            "Pleural_Thickening"
        } else {
            finding
        };
        let index = CHESTXRAY14_FINDINGS
            .iter()
            .position(|f| *f == name)
            .ok_or_else(|| {
                format!(
                    "unknown finding '{finding}' (expected 'No Finding' or {})",
                    CHESTXRAY14_FINDINGS.join(", ")
                )
            })?;
        flags[index] = true;
    }
    Ok(Label::Findings(flags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::MemorySource;

    const ENTRIES: &str = "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n\
        00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n\
        00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.143,0.143,\n\
        00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,\n\
        00000003_000.png,Hernia|Pleural Thickening|Effusion,0,3,81,F,PA,2582,2991,0.143,0.143,\n";

    fn opened(source: MemorySource) -> Result<DataSplits> {
        open_chestxray14(source.into_shared(), "cxr", &OpenOptions::default())
    }

    fn gray_png(level: u8) -> Vec<u8> {
        let gray = image::GrayImage::from_pixel(3, 2, image::Luma([level]));
        let mut out = std::io::Cursor::new(Vec::new());
        gray.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn release(entries: &str, images: &str) -> MemorySource {
        let mut src = MemorySource::new()
            .with("cxr/Data_Entry_2017.csv", entries)
            .with(
                "cxr/train_val_list.txt",
                "00000001_000.png\n00000001_001.png\n\n00000002_000.png\n",
            )
            .with("cxr/test_list.txt", "00000003_000.png\r\n");
        for (i, name) in [
            "00000001_000",
            "00000001_001",
            "00000002_000",
            "00000003_000",
        ]
        .iter()
        .enumerate()
        {
            src.insert(
                &join(images, &format!("{name}.png")),
                gray_png(40 * i as u8),
            );
        }
        src
    }

    fn flags(findings: &[&str]) -> Label {
        Label::Findings(
            CHESTXRAY14_FINDINGS
                .iter()
                .map(|f| findings.contains(f))
                .collect(),
        )
    }

    #[test]
    fn reads_the_official_split_and_findings() {
        let splits = opened(release(ENTRIES, "cxr/images")).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (3, 1));
        let info = splits.info();
        assert_eq!(
            (info.task, info.channels, info.num_classes()),
            (TaskKind::MultiLabel, 1, 14)
        );
        assert_eq!(info.class_names[12], "Pleural_Thickening");
        assert_eq!(info.name, "cxr [test]");
        let train: Vec<Label> = (0..3).map(|i| splits.train.get(i).unwrap().label).collect();
        assert_eq!(
            train,
            [
                flags(&["Cardiomegaly"]),
                flags(&["Cardiomegaly", "Emphysema"]),
                flags(&[])
            ]
        );
        let test = splits.test.get(0).unwrap();
        assert_eq!(
            test.label,
            flags(&["Hernia", "Pleural_Thickening", "Effusion"])
        );
        assert_eq!(test.image.channels, 1);
        assert!((test.image.at(0, 1, 2) - 120.0 / 255.0).abs() < 1e-4);
    }

    #[test]
    fn images_may_sit_next_to_the_csv() {
        let splits = opened(release(ENTRIES, "cxr")).unwrap();
        assert!(splits.train.get(1).is_ok());
    }

    #[test]
    fn unknown_finding_names_row_and_finding() {
        let entries = ENTRIES.replace("Cardiomegaly|Emphysema", "Cardiomegaly|Covid");
        let err = opened(release(&entries, "cxr/images")).err().unwrap();
        assert!(matches!(err, Error::Row { row: 3, .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("cxr/Data_Entry_2017.csv, row 3: unknown finding 'Covid'"),
            "{err}"
        );
    }

    #[test]
    fn list_entry_missing_from_the_csv_names_list_and_line() {
        let src = release(ENTRIES, "cxr/images")
            .with("cxr/test_list.txt", "00000003_000.png\n00000009_000.png\n");
        let msg = opened(src).err().unwrap().to_string();
        assert_eq!(
            msg,
            "cxr/test_list.txt, row 2: '00000009_000.png' is not in cxr/Data_Entry_2017.csv"
        );
    }

    #[test]
    fn empty_list_is_an_empty_split() {
        let src = release(ENTRIES, "cxr/images").with("cxr/test_list.txt", "\n");
        let err = opened(src).err().unwrap();
        assert!(
            matches!(&err, Error::EmptySplit { split, .. } if split == "test"),
            "{err}"
        );
        assert!(err.to_string().contains("cxr/test_list.txt"), "{err}");
    }

    #[test]
    fn missing_column_and_missing_files_are_named() {
        let entries = ENTRIES.replace("Finding Labels", "Findings");
        let err = opened(release(&entries, "cxr/images")).err().unwrap();
        assert!(
            matches!(err, Error::MissingColumn { .. })
                && err.to_string().contains("'Finding Labels'"),
            "{err}"
        );
        let err = opened(MemorySource::new().with("cxr/x", vec![]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("cxr/Data_Entry_2017.csv"), "{err}");
    }

    #[test]
    fn corrupt_image_fails_on_get_naming_its_path() {
        let src =
            release(ENTRIES, "cxr/images").with("cxr/images/00000003_000.png", b"broken".to_vec());
        let splits = opened(src).unwrap();
        let err = splits.test.get(0).err().unwrap();
        assert!(
            err.to_string().contains("cxr/images/00000003_000.png"),
            "{err}"
        );
    }
}
