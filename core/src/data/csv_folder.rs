//! A CSV table plus an image folder (ISIC style): one row per image, an image id column and a
//! label column. Every image is looked up when the table is opened, so a missing file is
//! reported with its CSV row rather than in the middle of a training run.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use csv::StringRecord;

use super::image_folder::{IMAGE_EXTENSIONS, has_image_extension, holdout_splits, image_channels};
use super::{DataSplits, DatasetInfo, FileDataset, FileSource, OpenOptions, join};
use crate::{Error, Label, Result, TaskKind};

/// Which columns of the CSV hold what, and where the images are.
///
/// A column is named by its header, or by its zero-based position written `#0`, `#1`, … (the
/// only way for a file without a header row, such as the ISIC 2016 ground-truth files).
#[derive(Debug, Clone, PartialEq)]
pub struct CsvColumns {
    /// Directory of the images; empty means the CSV's own directory.
    pub images: String,
    /// The column naming each image: its file name under `images`, with or without the extension
    /// (default `image_id`).
    pub id_column: String,
    /// The column of class names, one class per image (default `label`).
    pub label_column: String,
    /// Whether the first row names the columns.
    pub has_header: bool,
}

impl Default for CsvColumns {
    fn default() -> Self {
        Self {
            images: String::new(),
            id_column: "image_id".into(),
            label_column: "label".into(),
            has_header: true,
        }
    }
}

/// Opens the CSV `file`, its images and labels, split by `options.holdout`.
pub fn open_csv(
    source: Arc<dyn FileSource>,
    file: &str,
    options: &OpenOptions,
) -> Result<DataSplits> {
    let columns = &options.csv;
    let bytes = source.read(file)?;
    let mut records = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice())
        .into_records()
        .map(|record| record.map_err(|e| csv_error(file, e)));
    let header = if columns.has_header {
        let first = records.next().transpose()?;
        Some(first.ok_or_else(|| Error::format(file, "the file is empty"))?)
    } else {
        None
    };
    let rows: Vec<StringRecord> = records.collect::<Result<_>>()?;
    let width = header.as_ref().or(rows.first()).map_or(0, |r| r.len());
    let id_at = column_index(file, &columns.id_column, header.as_ref(), width)?;
    let label_at = column_index(file, &columns.label_column, header.as_ref(), width)?;
    if rows.is_empty() {
        return Err(Error::format(file, "the table has no data rows"));
    }

    let images_dir = match columns.images.as_str() {
        // A CSV named without a directory lies in the working directory: ".", which every
        // `FileSource` lists and `join` leaves out of paths.
        "" => file.rsplit_once('/').map_or(".", |(dir, _)| dir),
        dir => dir,
    };
    let images = ImageIndex::new(source.as_ref(), images_dir)?;
    let mut paths = Vec::with_capacity(rows.len());
    let mut labels = Vec::with_capacity(rows.len());
    for row in &rows {
        let line = row.position().map_or(0, |p| p.line() as usize);
        let cell = |at: usize, column: &str| match row.get(at) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(Error::row(
                file,
                line,
                format!("no value in column '{column}'"),
            )),
        };
        let id = cell(id_at, &columns.id_column)?;
        let label = cell(label_at, &columns.label_column)?;
        paths.push(images.find(source.as_ref(), id).ok_or_else(|| {
            Error::row(
                file,
                line,
                format!(
                    "no image '{id}' in '{images_dir}' (tried {})",
                    candidates(id).join(", ")
                ),
            )
        })?);
        labels.push(label.to_string());
    }

    let (class_names, classes) = classes_of(&labels);
    if class_names.len() < 2 {
        return Err(Error::invalid(format!(
            "{file}: column '{}' holds one class only ('{}'); a classifier needs at least 2",
            columns.label_column, class_names[0]
        )));
    }
    let info = DatasetInfo {
        name: file.to_string(),
        task: TaskKind::single_label(class_names.len()),
        channels: image_channels(source.as_ref(), paths.iter().map(String::as_str), options)?,
        class_names,
    };
    let entries = paths
        .into_iter()
        .zip(classes.into_iter().map(Label::Class))
        .collect();
    holdout_splits(
        Arc::new(FileDataset::new(info, source, entries, options)?),
        options,
        file,
    )
}

fn csv_error(file: &str, error: csv::Error) -> Error {
    match error.position() {
        Some(position) => Error::row(file, position.line() as usize, error),
        None => Error::format(file, error),
    }
}

/// Position of the column `spec` names: a header name first, else `#index`.
fn column_index(
    file: &str,
    spec: &str,
    header: Option<&StringRecord>,
    width: usize,
) -> Result<usize> {
    let by_name = header.and_then(|h| {
        h.iter()
            .position(|name| name.trim_start_matches('\u{feff}') == spec)
    });
    let by_index = spec
        .strip_prefix('#')
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|&i| i < width);
    by_name.or(by_index).ok_or_else(|| Error::MissingColumn {
        file: file.to_string(),
        column: spec.to_string(),
        available: match header {
            Some(header) => header.iter().collect::<Vec<_>>().join(", "),
            None => {
                let positions: Vec<String> = (0..width).map(|i| format!("#{i}")).collect();
                format!("{}; the file has no header row", positions.join(", "))
            }
        },
    })
}

/// File names an image id may stand for: the id itself when it has an image extension, else
/// the id with each image extension added, and last the id as it is (DICOM files often have no
/// extension).
fn candidates(id: &str) -> Vec<String> {
    if has_image_extension(id) {
        vec![id.to_string()]
    } else {
        IMAGE_EXTENSIONS
            .iter()
            .map(|ext| format!("{id}.{ext}"))
            .chain(std::iter::once(id.to_string()))
            .collect()
    }
}

/// The image directory's file names, listed once.
struct ImageIndex {
    dir: String,
    names: HashSet<String>,
    /// Lower-case name to real name, so `ISIC_1` also finds `ISIC_1.JPG`.
    lower: HashMap<String, String>,
}

impl ImageIndex {
    fn new(source: &dyn FileSource, dir: &str) -> Result<Self> {
        let names: HashSet<String> = source
            .list(dir)?
            .into_iter()
            .filter(|e| !e.is_dir)
            .map(|e| e.name)
            .collect();
        let lower = names
            .iter()
            .map(|n| (n.to_lowercase(), n.clone()))
            .collect();
        Ok(Self {
            dir: dir.to_string(),
            names,
            lower,
        })
    }

    /// The path of the image `id` names, if it exists.
    fn find(&self, source: &dyn FileSource, id: &str) -> Option<String> {
        let candidates = candidates(id);
        let name = if id.contains('/') {
            // An id with a sub-folder is outside the one listing: ask the source.
            candidates
                .into_iter()
                .find(|c| source.exists(&join(&self.dir, c)))
        } else {
            let exact = candidates.iter().find(|c| self.names.contains(*c)).cloned();
            exact.or_else(|| {
                candidates
                    .iter()
                    .find_map(|c| self.lower.get(&c.to_lowercase()).cloned())
            })
        };
        name.map(|name| join(&self.dir, &name))
    }
}

/// Sorted class names and each label's class index. When every label is a number, numerically
/// equal labels (`1`, `1.0`) are one class, named by its integer form and sorted by value.
fn classes_of(labels: &[String]) -> (Vec<String>, Vec<usize>) {
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    let (names, keys): (Vec<String>, Vec<String>) = match numbers {
        Some(values) => {
            let name = |v: f64| {
                if v.fract() == 0.0 {
                    format!("{}", v as i64)
                } else {
                    format!("{v}")
                }
            };
            let mut unique = values.clone();
            unique.sort_by(f64::total_cmp);
            unique.dedup_by(|a, b| name(*a) == name(*b));
            (
                unique.into_iter().map(name).collect(),
                values.into_iter().map(name).collect(),
            )
        }
        None => {
            let unique: BTreeSet<&String> = labels.iter().collect();
            (unique.into_iter().cloned().collect(), labels.to_vec())
        }
    };
    let index = |key: &String| {
        names
            .iter()
            .position(|n| n == key)
            .expect("every key names a class")
    };
    let classes = keys.iter().map(index).collect();
    (names, classes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Image, MemorySource};

    fn png(value: f32) -> Vec<u8> {
        Image::new(3, 2, 2, vec![value; 12]).encode_png()
    }

    fn options(csv: CsvColumns, holdout: f64) -> OpenOptions {
        OpenOptions {
            csv,
            holdout,
            seed: 1,
            ..OpenOptions::default()
        }
    }

    fn all_labels(splits: &DataSplits) -> Vec<usize> {
        let mut labels: Vec<usize> = [&splits.train, &splits.test]
            .iter()
            .flat_map(|ds| (0..ds.len()).map(|i| ds.get(i).unwrap().label.class().unwrap()))
            .collect();
        labels.sort();
        labels
    }

    /// Ten ISIC-style images next to `isic/train.csv`; row i is malignant when i % 3 == 0.
    fn isic() -> MemorySource {
        let mut csv = String::from("image_id,extra,label\n");
        let mut src = MemorySource::new();
        for i in 0..10 {
            let label = if i % 3 == 0 { "malignant" } else { "benign" };
            csv.push_str(&format!("ISIC_{i:07}, x ,{label}\n"));
            src.insert(
                &format!("isic/ISIC_{i:07}.jpg"),
                png(if i % 3 == 0 { 0.8 } else { 0.2 }),
            );
        }
        src.with("isic/train.csv", csv)
    }

    #[test]
    fn isic_style_table_with_header() {
        let splits = open_csv(
            isic().into_shared(),
            "isic/train.csv",
            &options(CsvColumns::default(), 0.3),
        )
        .unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (7, 3));
        let info = splits.info();
        assert_eq!(info.class_names, ["benign", "malignant"]);
        assert_eq!((info.task, info.channels), (TaskKind::Binary, 3));
        assert_eq!(all_labels(&splits), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
        for ds in [&splits.train, &splits.test] {
            for i in 0..ds.len() {
                let sample = ds.get(i).unwrap();
                let expected = [0.2, 0.8][sample.label.class().unwrap()];
                assert!((sample.image.at(0, 0, 0) - expected).abs() < 1.0 / 255.0);
            }
        }
    }

    #[test]
    fn headerless_isic_2016_ground_truth() {
        // ISIC 2016 test ground truth: no header, "id,0.0" / "id,1.0"; images in their own folder.
        let mut src = MemorySource::new();
        let mut csv = String::new();
        for i in 0..8 {
            let label = ["0.0", "1.0", "1", "0"][i % 4];
            csv.push_str(&format!("ISIC_{i:07},{label}\r\n"));
            src.insert(&format!("ISBI2016_Test/ISIC_{i:07}.JPG"), png(0.5));
        }
        src.insert("gt/ISBI2016_Test_GroundTruth.csv", csv);
        let columns = CsvColumns {
            images: "ISBI2016_Test".into(),
            id_column: "#0".into(),
            label_column: "#1".into(),
            has_header: false,
        };
        let splits = open_csv(
            src.into_shared(),
            "gt/ISBI2016_Test_GroundTruth.csv",
            &options(columns, 0.25),
        )
        .unwrap();
        assert_eq!(splits.info().class_names, ["0", "1"]);
        assert_eq!((splits.train.len(), splits.test.len()), (6, 2));
        assert_eq!(all_labels(&splits), [0, 0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn numeric_labels_sort_by_value_and_ids_may_carry_extensions() {
        let src = MemorySource::new()
            .with("d/a.png", png(0.1))
            .with("d/b.png", png(0.1))
            .with("d/c.png", png(0.1))
            .with("d/sub/e.bmp", png(0.1))
            .with(
                "d/t.csv",
                "image_id,label\na.png,10\nb.png,2\nc,1\nsub/e.bmp,2.0\n",
            );
        let splits = open_csv(
            src.into_shared(),
            "d/t.csv",
            &options(CsvColumns::default(), 0.5),
        )
        .unwrap();
        assert_eq!(splits.info().class_names, ["1", "2", "10"]);
        assert_eq!(splits.info().task, TaskKind::MultiClass);
        assert_eq!(all_labels(&splits), [0, 1, 1, 2]);
    }

    #[test]
    fn missing_column_lists_the_available_ones() {
        let columns = CsvColumns {
            label_column: "diagnosis".into(),
            ..Default::default()
        };
        let err = open_csv(
            isic().into_shared(),
            "isic/train.csv",
            &options(columns, 0.2),
        )
        .err()
        .unwrap();
        assert!(matches!(err, Error::MissingColumn { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "isic/train.csv: no column named 'diagnosis' (columns: image_id, extra, label)"
        );
    }

    #[test]
    fn headerless_file_needs_column_positions() {
        let src = isic().with("isic/gt.csv", "ISIC_0000000,benign\n");
        let columns = CsvColumns {
            has_header: false,
            ..Default::default()
        };
        let msg = open_csv(src.into_shared(), "isic/gt.csv", &options(columns, 0.2))
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.contains(
                "isic/gt.csv: no column named 'image_id' (columns: #0, #1; the file has no header"
            ),
            "{msg}"
        );
    }

    #[test]
    fn empty_cells_are_reported_with_their_line() {
        let src = isic().with(
            "isic/bad.csv",
            "image_id,label\nISIC_0000000,benign\nISIC_0000001,\n",
        );
        let err = open_csv(
            src.into_shared(),
            "isic/bad.csv",
            &options(CsvColumns::default(), 0.2),
        )
        .err()
        .unwrap();
        assert!(matches!(err, Error::Row { row: 3, .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "isic/bad.csv, row 3: no value in column 'label'"
        );
        let src = isic().with("isic/short.csv", "image_id,label\n,benign\n");
        let msg = open_csv(
            src.into_shared(),
            "isic/short.csv",
            &options(CsvColumns::default(), 0.2),
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(msg, "isic/short.csv, row 2: no value in column 'image_id'");
    }

    #[test]
    fn missing_image_is_reported_at_open_with_its_line() {
        let src = isic().with(
            "isic/more.csv",
            "image_id,label\nISIC_0000000,benign\n\"ISIC_9\",malignant\n",
        );
        let err = open_csv(
            src.into_shared(),
            "isic/more.csv",
            &options(CsvColumns::default(), 0.2),
        )
        .err()
        .unwrap();
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "isic/more.csv, row 3: no image 'ISIC_9' in 'isic' (tried ISIC_9.jpg, ISIC_9.jpeg"
            ),
            "{msg}"
        );
    }

    #[test]
    fn one_class_is_invalid() {
        let src = isic().with(
            "isic/one.csv",
            "image_id,label\nISIC_0000001,1\nISIC_0000002,1.0\n",
        );
        let err = open_csv(
            src.into_shared(),
            "isic/one.csv",
            &options(CsvColumns::default(), 0.2),
        )
        .err()
        .unwrap();
        assert!(matches!(err, Error::Invalid(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("isic/one.csv: column 'label' holds one class only ('1')"),
            "{err}"
        );
    }

    #[test]
    fn table_without_rows_is_a_format_error() {
        let src = isic().with("isic/empty.csv", "image_id,label\n");
        let msg = open_csv(
            src.into_shared(),
            "isic/empty.csv",
            &options(CsvColumns::default(), 0.2),
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(msg, "isic/empty.csv: the table has no data rows");
    }

    #[test]
    fn empty_split_is_reported() {
        let err = open_csv(
            isic().into_shared(),
            "isic/train.csv",
            &options(CsvColumns::default(), 0.0),
        )
        .err()
        .unwrap();
        assert!(
            matches!(&err, Error::EmptySplit { split, .. } if split == "test"),
            "{err}"
        );
        assert!(err.to_string().starts_with("isic/train.csv:"), "{err}");
    }

    #[test]
    fn holdout_one_evaluates_every_image() {
        let all = open_csv(
            isic().into_shared(),
            "isic/train.csv",
            &options(CsvColumns::default(), 1.0),
        )
        .unwrap();
        assert_eq!(all.train.len(), 0);
        let some = open_csv(
            isic().into_shared(),
            "isic/train.csv",
            &options(CsvColumns::default(), 0.2),
        )
        .unwrap();
        assert_eq!(all.test.len(), some.train.len() + some.test.len());
    }

    #[test]
    fn missing_csv_is_a_read_error() {
        let err = open_csv(
            isic().into_shared(),
            "isic/nope.csv",
            &OpenOptions::default(),
        )
        .err()
        .unwrap();
        assert!(
            matches!(err, Error::Read { .. }) && err.to_string().contains("isic/nope.csv"),
            "{err}"
        );
    }
}
