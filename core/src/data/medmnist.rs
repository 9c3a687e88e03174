//! MedMNIST `.npz` archives: `train_images` / `train_labels` and `test_images` / `test_labels`,
//! images `uint8` of shape (N, H, W) (gray) or (N, H, W, 3) (RGB), labels (N, 1) class indices or
//! (N, L) 0/1 flags for multi-label sets such as ChestMNIST.
//!
//! The `val_*` arrays are ignored: robustdx trains on `train` and evaluates on `test`, so the
//! validation split is neither used nor added to either split.

use std::io::{Cursor, Read};

use npyz::npz::array_name_from_file_name;
use npyz::{Deserialize, NpyFile, Order};
use zip::ZipArchive;

use super::chestxray14::CHESTXRAY14_FINDINGS;
use super::fingerprint::bytes_stamp;
use super::{DataSplits, Dataset, DatasetInfo, FileSource, Image, Sample};
use crate::{Error, Label, Result, TaskKind};

const REQUIRED: [&str; 4] = ["train_images", "train_labels", "test_images", "test_labels"];
/// The most image bytes one array may declare (an archive is read into memory whole).
const MAX_ARRAY_BYTES: u64 = 16 << 30;
/// Memory reserved before the bytes arrive.
const RESERVE_AHEAD: usize = 64 << 20;
/// The most classes (single-label) or findings (multi-label) a label array may name.
const MAX_CLASSES: usize = 10_000;

/// An `.npz` file is a zip archive of `.npy` files, one an array, named after the array. It is
/// read with the zip reader burn's weight import already builds (stored and deflate entries,
/// what `np.savez` and `np.savez_compressed` write), not with npyz's own, which brings every zip
/// codec with it.
type Archive = ZipArchive<Cursor<Vec<u8>>>;

/// Opens the MedMNIST archive `file`; the images stay in memory as the decoded `uint8` arrays.
pub fn open_medmnist(source: &dyn FileSource, file: &str) -> Result<DataSplits> {
    let mut archive = ZipArchive::new(Cursor::new(source.read(file)?))
        .map_err(|e| Error::format(file, format!("not an npz archive: {e}")))?;
    let mut found: Vec<String> = archive
        .file_names()
        .filter_map(|name| Some(array_name_from_file_name(&name.ok()?)?.to_string()))
        .collect();
    found.sort();
    if let Some(missing) = REQUIRED.iter().find(|key| !found.iter().any(|f| f == *key)) {
        let found = if found.is_empty() {
            "none".to_string()
        } else {
            found.join(", ")
        };
        return Err(Error::format(
            file,
            format!("no array '{missing}' (arrays found: {found})"),
        ));
    }

    let mut split = |name: &str| -> Result<(PixelArray, LabelArray)> {
        let images = read_images(&mut archive, file, &format!("{name}_images"))?;
        let labels = read_labels(&mut archive, file, &format!("{name}_labels"))?;
        if labels.rows != images.count {
            return Err(Error::format(
                file,
                format!(
                    "{name}_labels has {} rows but {name}_images holds {} images",
                    labels.rows, images.count
                ),
            ));
        }
        if images.count == 0 {
            return Err(Error::EmptySplit {
                source_name: file.to_string(),
                split: name.to_string(),
            });
        }
        Ok((images, labels))
    };
    let (train_images, train_labels) = split("train")?;
    let (test_images, test_labels) = split("test")?;
    let shape = |p: &PixelArray| (p.height, p.width, p.channels);
    if shape(&train_images) != shape(&test_images) || train_labels.width != test_labels.width {
        return Err(Error::format(
            file,
            format!(
                "train and test arrays differ in shape: images (H, W, C) {:?} vs {:?}, {} vs {} labels per image",
                shape(&train_images),
                shape(&test_images),
                train_labels.width,
                test_labels.width
            ),
        ));
    }

    let (task, class_names) = task_of(file, &train_labels, &test_labels)?;
    let info = DatasetInfo {
        name: file.to_string(),
        task,
        class_names,
        channels: train_images.channels,
    };
    let dataset = |split: &str, pixels: PixelArray, labels: LabelArray| {
        std::sync::Arc::new(MedMnistDataset {
            info: DatasetInfo {
                name: format!("{file} [{split}]"),
                ..info.clone()
            },
            labels: labels.to_labels(task),
            pixels,
        })
    };
    Ok(DataSplits {
        train: dataset("train", train_images, train_labels),
        test: dataset("test", test_images, test_labels),
    })
}

/// `uint8` images, interleaved (N, H, W, C) as stored.
struct PixelArray {
    count: usize,
    height: usize,
    width: usize,
    channels: usize,
    data: Vec<u8>,
}

/// Labels, one row of `width` integers per image.
struct LabelArray {
    rows: usize,
    width: usize,
    values: Vec<i64>,
}

impl LabelArray {
    fn to_labels(&self, task: TaskKind) -> Vec<Label> {
        self.values
            .chunks(self.width)
            .map(|row| match task {
                TaskKind::MultiLabel => Label::Findings(row.iter().map(|&v| v == 1).collect()),
                _ => Label::Class(row[0] as usize),
            })
            .collect()
    }
}

/// The array `key`, which is known to be in the archive.
fn array<'a>(archive: &'a mut Archive, file: &str, key: &str) -> Result<NpyFile<impl Read + 'a>> {
    let unreadable =
        |e: &dyn std::fmt::Display| Error::format(file, format!("cannot read array '{key}': {e}"));
    let entry = archive
        .by_name(&format!("{key}.npy"))
        .map_err(|e| unreadable(&e))?;
    let npy = NpyFile::new(entry).map_err(|e| unreadable(&e))?;
    if npy.order() == Order::Fortran && npy.shape().len() > 1 {
        return Err(Error::format(
            file,
            format!("array '{key}' is stored in Fortran order; save it C-ordered"),
        ));
    }
    Ok(npy)
}

fn read_images(archive: &mut Archive, file: &str, key: &str) -> Result<PixelArray> {
    let npy = array(archive, file, key)?;
    if u8::reader(&npy.dtype()).is_err() {
        return Err(Error::format(
            file,
            format!("'{key}' must be uint8, found dtype {}", npy.dtype().descr()),
        ));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let (count, height, width, channels) = match shape[..] {
        [n, h, w] => (n, h, w, 1),
        [n, h, w, c @ (1 | 3)] => (n, h, w, c),
        _ => {
            return Err(Error::format(
                file,
                format!("'{key}' must have shape (N, H, W) or (N, H, W, 3), found {shape:?}"),
            ));
        }
    };
    // One byte per pixel, no byte order: the raw data bytes are the pixels. The header's sizes
    // are the file's word: multiplied with overflow checks, and memory is only reserved up to
    // what a sane archive holds until the bytes have actually arrived.
    // In u64: on wasm32 a usize cannot even hold the limit.
    let expected = [height, width, channels]
        .iter()
        .try_fold(count as u64, |n, &d| n.checked_mul(d as u64))
        .filter(|&n| n <= MAX_ARRAY_BYTES)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            Error::format(
                file,
                format!(
                    "'{key}' declares shape {shape:?}: more than {} GB of pixels",
                    MAX_ARRAY_BYTES >> 30
                ),
            )
        })?;
    super::image::check_size(&format!("{file} ({key})"), width as u64, height as u64)?;
    let mut data = Vec::with_capacity(expected.min(RESERVE_AHEAD));
    npy.into_inner()
        .take(expected as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::format(file, format!("cannot read array '{key}': {e}")))?;
    if data.len() != expected {
        return Err(Error::format(
            file,
            format!(
                "'{key}' holds {} bytes, its shape {shape:?} needs {expected}",
                data.len()
            ),
        ));
    }
    Ok(PixelArray {
        count,
        height,
        width,
        channels,
        data,
    })
}

fn read_labels(archive: &mut Archive, file: &str, key: &str) -> Result<LabelArray> {
    let npy = array(archive, file, key)?;
    let dtype = npy.dtype().descr();
    let (rows, width) = match npy.shape() {
        &[n] => (n as usize, 1),
        &[n, l] if l > 0 => (n as usize, l as usize),
        shape => {
            return Err(Error::format(
                file,
                format!("'{key}' must have shape (N, 1) or (N, L), found {shape:?}"),
            ));
        }
    };
    if width > MAX_CLASSES {
        return Err(Error::format(
            file,
            format!("'{key}' has {width} labels per image (at most {MAX_CLASSES})"),
        ));
    }
    let values = integers(npy)
        .ok_or_else(|| {
            Error::format(
                file,
                format!("'{key}' must hold integers, found dtype {dtype}"),
            )
        })?
        .map_err(|e| Error::format(file, format!("cannot read array '{key}': {e}")))?;
    if Some(values.len()) != rows.checked_mul(width) {
        return Err(Error::format(
            file,
            format!(
                "'{key}' holds {} values, its shape ({rows}, {width}) needs {}",
                values.len(),
                rows.saturating_mul(width)
            ),
        ));
    }
    if let Some(bad) = values
        .iter()
        .find(|&&v| v < 0 || (width > 1 && v > 1) || v >= MAX_CLASSES as i64)
    {
        let expected = if width > 1 {
            "0 or 1 flags"
        } else {
            "class indices from 0 to 9999"
        };
        return Err(Error::format(
            file,
            format!("'{key}' holds {bad}; expected {expected}"),
        ));
    }
    Ok(LabelArray {
        rows,
        width,
        values,
    })
}

/// The array's values as `i64`, for any integer or boolean dtype (None for other dtypes).
fn integers<R: Read>(npy: NpyFile<R>) -> Option<std::io::Result<Vec<i64>>> {
    macro_rules! try_as {
        ($npy:ident: $($t:ty),*) => {
            $(let $npy = match $npy.try_data::<$t>() {
                // Grown as values arrive: a header declaring 10¹² labels reserves nothing.
                Ok(reader) => {
                    let mut values = Vec::new();
                    for v in reader {
                        match v {
                            Ok(v) => values.push(v as i64),
                            Err(e) => return Some(Err(e)),
                        }
                    }
                    return Some(Ok(values));
                }
                Err(npy) => npy,
            };)*
        };
    }
    try_as!(npy: u8, i64, i32, u16, i16, i8, u32, u64, bool);
    drop(npy); // refused by every type tried
    None
}

/// Binary / multi-class from (N, 1) labels, multi-label from (N, L > 1) flags.
fn task_of(file: &str, train: &LabelArray, test: &LabelArray) -> Result<(TaskKind, Vec<String>)> {
    if train.width > 1 {
        let names = if train.width == CHESTXRAY14_FINDINGS.len() {
            CHESTXRAY14_FINDINGS.iter().map(|f| f.to_string()).collect()
        } else {
            (0..train.width).map(|i| i.to_string()).collect()
        };
        return Ok((TaskKind::MultiLabel, names));
    }
    let classes = train
        .values
        .iter()
        .chain(&test.values)
        .max()
        .map_or(0, |&max| max as usize + 1);
    if classes < 2 {
        return Err(Error::format(
            file,
            "the labels hold one class only; a classifier needs at least 2",
        ));
    }
    Ok((
        TaskKind::single_label(classes),
        (0..classes).map(|i| i.to_string()).collect(),
    ))
}

/// One MedMNIST split, held in memory as stored and converted to [`Image`] on `get`.
struct MedMnistDataset {
    info: DatasetInfo,
    pixels: PixelArray,
    labels: Vec<Label>,
}

impl MedMnistDataset {
    /// Sample `index`'s label and its bytes as the array stores them.
    fn stored(&self, index: usize) -> Result<(&Label, &[u8])> {
        let label = self.labels.get(index).ok_or_else(|| {
            Error::invalid(format!(
                "{}: no sample {index} (it has {})",
                self.info.name,
                self.len()
            ))
        })?;
        let size = self.pixels.height * self.pixels.width * self.pixels.channels;
        Ok((label, &self.pixels.data[index * size..(index + 1) * size]))
    }
}

impl Dataset for MedMnistDataset {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let (label, stored) = self.stored(index)?;
        let PixelArray {
            height,
            width,
            channels,
            ..
        } = self.pixels;
        let plane = height * width;
        // (H, W, C) interleaved to planar (C, H, W).
        let mut pixels = vec![0.0; plane * channels];
        for (i, &value) in stored.iter().enumerate() {
            pixels[(i % channels) * plane + i / channels] = value as f32 / 255.0;
        }
        Ok(Sample {
            image: Image::new(channels, height, width, pixels),
            label: label.clone(),
        })
    }

    /// A hash of the stored bytes, not converted to pixels.
    fn content_stamp(&self, index: usize) -> Result<String> {
        let (label, stored) = self.stored(index)?;
        Ok(bytes_stamp(label, stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::MemorySource;
    use npyz::WriterBuilder;
    use zip::ZipWriter;
    use zip::write::SimpleFileOptions;

    /// An array to write: its name, shape and values.
    enum Array<'a> {
        U8(&'a str, Vec<u64>, Vec<u8>),
        F32(&'a str, Vec<u64>, Vec<f32>),
        I64(&'a str, Vec<u64>, Vec<i64>),
    }

    fn write<T: npyz::AutoSerialize + Copy>(
        writer: &mut ZipWriter<Cursor<Vec<u8>>>,
        name: &str,
        shape: &[u64],
        values: &[T],
    ) {
        // Compressed, as `np.savez_compressed` writes MedMNIST's files.
        writer
            .start_file(format!("{name}.npy"), SimpleFileOptions::default())
            .unwrap();
        let mut out = npyz::WriteOptions::<T>::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut *writer)
            .begin_nd()
            .unwrap();
        out.extend(values.iter().copied()).unwrap();
        out.finish().unwrap();
    }

    fn npz(arrays: &[Array]) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for array in arrays {
            match array {
                Array::U8(name, shape, values) => write(&mut writer, name, shape, values),
                Array::F32(name, shape, values) => write(&mut writer, name, shape, values),
                Array::I64(name, shape, values) => write(&mut writer, name, shape, values),
            }
        }
        writer.finish().unwrap().into_inner()
    }

    /// A gray 2x3 set: train 3 images labelled 0, 2, 1; test 2 images labelled 1, 0.
    fn gray_arrays() -> Vec<Array<'static>> {
        vec![
            Array::U8("train_images", vec![3, 2, 3], (0..18).collect()),
            Array::U8("train_labels", vec![3, 1], vec![0, 2, 1]),
            Array::U8("val_images", vec![1, 2, 3], vec![0; 6]),
            Array::U8("val_labels", vec![1, 1], vec![5]),
            Array::U8("test_images", vec![2, 2, 3], vec![255; 12]),
            Array::U8("test_labels", vec![2, 1], vec![1, 0]),
        ]
    }

    fn open(arrays: &[Array]) -> Result<DataSplits> {
        let src = MemorySource::new().with("mnist/pathmnist.npz", npz(arrays));
        open_medmnist(&src, "mnist/pathmnist.npz")
    }

    fn error(arrays: &[Array]) -> String {
        let err = open(arrays).err().expect("opening should fail").to_string();
        assert!(err.starts_with("mnist/pathmnist.npz"), "{err}");
        err
    }

    #[test]
    fn gray_multi_class_set() {
        let splits = open(&gray_arrays()).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (3, 2));
        let info = splits.info();
        assert_eq!((info.task, info.channels), (TaskKind::MultiClass, 1));
        // val's label 5 is ignored: classes come from train and test only.
        assert_eq!(info.class_names, ["0", "1", "2"]);
        let second = splits.train.get(1).unwrap();
        assert_eq!(second.label, Label::Class(2));
        assert_eq!((second.image.height, second.image.width), (2, 3));
        assert_eq!(second.image.at(0, 1, 2), 11.0 / 255.0);
        assert_eq!(splits.test.get(0).unwrap().image.pixels, vec![1.0; 6]);
        assert!(splits.test.get(2).is_err());
    }

    #[test]
    fn rgb_images_become_planar() {
        // One 1x2 RGB image per split: pixel 0 = (10, 20, 30), pixel 1 = (40, 50, 60).
        let rgb = vec![10, 20, 30, 40, 50, 60];
        let splits = open(&[
            Array::U8("train_images", vec![1, 1, 2, 3], rgb.clone()),
            Array::U8("train_labels", vec![1, 1], vec![1]),
            Array::U8("test_images", vec![1, 1, 2, 3], rgb),
            Array::U8("test_labels", vec![1, 1], vec![0]),
        ])
        .unwrap();
        assert_eq!(splits.info().task, TaskKind::Binary);
        let image = splits.train.get(0).unwrap().image;
        assert_eq!(image.channels, 3);
        let expected: Vec<f32> = [10, 40, 20, 50, 30, 60]
            .iter()
            .map(|&v| v as f32 / 255.0)
            .collect();
        assert_eq!(image.pixels, expected);
    }

    #[test]
    fn chestmnist_is_multi_label_with_chestxray14_names() {
        let mut flags = vec![0u8; 2 * 14];
        flags[1] = 1; // image 0: Cardiomegaly
        flags[14 + 13] = 1; // image 1: Hernia
        let splits = open(&[
            Array::U8("train_images", vec![2, 2, 2], vec![7; 8]),
            Array::U8("train_labels", vec![2, 14], flags.clone()),
            Array::U8("test_images", vec![2, 2, 2], vec![7; 8]),
            Array::U8("test_labels", vec![2, 14], flags),
        ])
        .unwrap();
        let info = splits.info();
        assert_eq!((info.task, info.num_classes()), (TaskKind::MultiLabel, 14));
        assert_eq!(info.class_names[13], "Hernia");
        let label = splits.test.get(1).unwrap().label;
        let expected: Vec<bool> = (0..14).map(|i| i == 13).collect();
        assert_eq!(label, Label::Findings(expected));
    }

    #[test]
    fn missing_array_lists_the_arrays_found() {
        let arrays: Vec<Array> = gray_arrays()
            .into_iter()
            .filter(|a| !matches!(a, Array::U8("test_labels", ..)))
            .collect();
        assert_eq!(
            error(&arrays),
            "mnist/pathmnist.npz: no array 'test_labels' (arrays found: test_images, train_images, \
             train_labels, val_images, val_labels)"
        );
    }

    #[test]
    fn wrong_dtype_and_shape_are_format_errors() {
        let mut arrays = gray_arrays();
        arrays[0] = Array::F32("train_images", vec![3, 2, 3], vec![0.5; 18]);
        let msg = error(&arrays);
        assert!(
            msg.contains("'train_images' must be uint8, found dtype '<f4'"),
            "{msg}"
        );

        let mut arrays = gray_arrays();
        arrays[4] = Array::U8("test_images", vec![2, 6], vec![0; 12]);
        assert!(error(&arrays).contains("'test_images' must have shape (N, H, W)"));

        let mut arrays = gray_arrays();
        arrays[1] = Array::F32("train_labels", vec![3, 1], vec![0.0; 3]);
        assert!(error(&arrays).contains("'train_labels' must hold integers"));

        let mut arrays = gray_arrays();
        arrays[4] = Array::U8("test_images", vec![2, 3, 2], vec![0; 12]);
        assert!(error(&arrays).contains("train and test arrays differ in shape"));
    }

    #[test]
    fn label_count_must_match_image_count() {
        let mut arrays = gray_arrays();
        arrays[1] = Array::U8("train_labels", vec![2, 1], vec![0, 1]);
        assert!(error(&arrays).contains("train_labels has 2 rows but train_images holds 3 images"));
    }

    #[test]
    fn bad_label_values_are_reported() {
        let mut arrays = gray_arrays();
        arrays[5] = Array::U8("test_labels", vec![2, 2], vec![0, 1, 2, 0]);
        arrays[1] = Array::U8("train_labels", vec![3, 2], vec![0; 6]);
        assert!(error(&arrays).contains("'test_labels' holds 2; expected 0 or 1 flags"));

        let mut arrays = gray_arrays();
        arrays[1] = Array::U8("train_labels", vec![3, 1], vec![0; 3]);
        arrays[5] = Array::U8("test_labels", vec![2, 1], vec![0; 2]);
        assert!(error(&arrays).contains("one class only"));
    }

    /// A label of 10⁹ would make a model of 10⁹ outputs; a negative one indexes nothing.
    #[test]
    fn absurd_labels_are_refused() {
        for bad in [1_000_000_000i64, -3] {
            let mut arrays = gray_arrays();
            arrays[1] = Array::I64("train_labels", vec![3, 1], vec![0, bad, 1]);
            let err = error(&arrays);
            assert!(
                err.contains(&format!("holds {bad}")) && err.contains("0 to 9999"),
                "{err}"
            );
        }
    }

    /// An archive cut anywhere is an error naming the file, never a panic.
    #[test]
    fn truncated_archives_are_errors() {
        let whole = npz(&gray_arrays());
        for cut in (0..whole.len()).step_by(11) {
            let src = MemorySource::new().with("cut.npz", whole[..cut].to_vec());
            let err = open_medmnist(&src, "cut.npz")
                .err()
                .expect("a cut archive fails");
            assert!(err.to_string().starts_with("cut.npz"), "{err}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Random bytes, and a real archive with random bytes overwritten, never panic.
        #[test]
        fn random_bytes_never_panic(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            at in 0usize..4096,
        ) {
            let src = MemorySource::new().with("r.npz", noise.clone());
            let _ = open_medmnist(&src, "r.npz");
            let mut archive = npz(&gray_arrays());
            let at = at % archive.len();
            let end = (at + noise.len()).min(archive.len());
            archive[at..end].copy_from_slice(&noise[..end - at]);
            let src = MemorySource::new().with("r.npz", archive);
            if let Ok(splits) = open_medmnist(&src, "r.npz") {
                for i in 0..splits.test.len() {
                    let _ = splits.test.get(i);
                }
            }
        }
    }

    #[test]
    fn empty_split_and_garbage_are_reported() {
        let mut arrays = gray_arrays();
        arrays[4] = Array::U8("test_images", vec![0, 2, 3], vec![]);
        arrays[5] = Array::U8("test_labels", vec![0, 1], vec![]);
        assert_eq!(
            error(&arrays),
            "mnist/pathmnist.npz: the test split is empty"
        );

        let src = MemorySource::new().with("x.npz", b"PK but not really".to_vec());
        let msg = open_medmnist(&src, "x.npz").err().unwrap().to_string();
        assert!(msg.starts_with("x.npz: not an npz archive"), "{msg}");
    }
}
