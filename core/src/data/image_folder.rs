//! Class sub-folders (ImageFolder / Messidor style): `dir/<class>/<image>`.
//!
//! A folder that brings its own split holds `train/` and `test/` (or `val/`, `valid/`,
//! `validation/` when there is no `test/`), each with the same kind of class folders; any other
//! folder is split by the hold-out fraction of [`OpenOptions`].

use std::sync::Arc;

use super::dicom::is_dicom;
use super::{
    DataSplits, Dataset, DatasetInfo, FileDataset, FileSource, Image, OpenOptions, Subset,
    holdout_split, join,
};
use crate::{Error, Label, Result, TaskKind};

/// Extensions of the image files a folder or CSV source reads (compared case-insensitively), in
/// the order a CSV image id without an extension tries them.
pub(crate) const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "dcm"];

/// Names of a test split's folder, in order of preference.
const TEST_FOLDERS: [&str; 4] = ["test", "val", "valid", "validation"];

/// Whether `name` ends in one of [`IMAGE_EXTENSIONS`].
pub(crate) fn has_image_extension(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e)))
}

/// Whether the file `name` in `dir` is an image: by its extension, or (a name without one, as
/// DICOM files often come) by the `DICM` marker of its content.
fn is_image_file(source: &dyn FileSource, dir: &str, name: &str) -> bool {
    has_image_extension(name)
        || (!name.contains('.')
            && source
                .read(&join(dir, name))
                .is_ok_and(|bytes| is_dicom(&bytes)))
}

/// Channels of a data set's images, found by decoding its first image (with
/// `options.skip_unreadable`, its first readable one).
pub(crate) fn image_channels<'a>(
    source: &dyn FileSource,
    mut paths: impl Iterator<Item = &'a str>,
    options: &OpenOptions,
) -> Result<usize> {
    let channels = |path: &str| Ok(Image::decode(&source.read(path)?, path)?.channels);
    let first = paths
        .next()
        .ok_or_else(|| Error::invalid("a data set without images"))?;
    match channels(first) {
        Err(e) if options.skip_unreadable => paths.find_map(|p| channels(p).ok()).ok_or(e),
        Err(e) => Err(super::dataset::with_skip_hint(e)),
        ok => ok,
    }
}

/// Splits `all` into train and test by `options.holdout`, for sources without their own split.
pub(crate) fn holdout_splits(
    all: Arc<dyn Dataset>,
    options: &OpenOptions,
    source_name: &str,
) -> Result<DataSplits> {
    // The split is drawn over groups (a multi-frame file's frames stay together, so no file is
    // in both splits); where every sample is its own group this is the plain per-sample split.
    let leaders: Vec<usize> = (0..all.len()).filter(|&i| all.group(i) == i).collect();
    let (train_groups, test_groups) = holdout_split(leaders.len(), options.holdout, options.seed)?;
    let members = |groups: Vec<usize>| -> Vec<usize> {
        groups
            .into_iter()
            .flat_map(|k| {
                let end = leaders.get(k + 1).copied().unwrap_or(all.len());
                leaders[k]..end
            })
            .collect()
    };
    let (train, test) = (members(train_groups), members(test_groups));
    // An empty train split is fine for commands that only evaluate (`--holdout 1` attacks every
    // image); the trainer refuses it when it is asked to train.
    if test.is_empty() {
        return Err(Error::EmptySplit {
            source_name: source_name.to_string(),
            split: "test".to_string(),
        });
    }
    Ok(DataSplits {
        train: Arc::new(Subset::new(all.clone(), train, "train")),
        test: Arc::new(Subset::new(all, test, "test")),
    })
}

/// Opens the class folders under `dir`.
pub fn open_image_folder(
    source: Arc<dyn FileSource>,
    dir: &str,
    options: &OpenOptions,
) -> Result<DataSplits> {
    let folders: Vec<String> = source
        .list(dir)?
        .into_iter()
        .filter(|e| e.is_dir)
        .map(|e| e.name)
        .collect();
    let has = |name: &str| folders.iter().any(|f| f == name);
    let test_folder = TEST_FOLDERS.into_iter().find(|name| has(name));
    match (has("train"), test_folder) {
        (true, Some(test_folder)) => open_split_folders(source, dir, test_folder, options),
        (false, None) => {
            let classes = scan_classes(source.as_ref(), dir)?;
            let info = folder_info(source.as_ref(), dir, &classes, options)?;
            let entries = labelled_entries(&classes, Some);
            let all = Arc::new(FileDataset::new(info, source, entries, options)?);
            holdout_splits(all, options, dir)
        }
        // A lone `train/` or `test/` is almost surely a split missing its partner, not a class.
        (true, None) => Err(Error::invalid(format!(
            "{dir}: has a train/ folder but no test/, val/, valid/ or validation/ folder next to it"
        ))),
        (false, Some(test_folder)) => Err(Error::invalid(format!(
            "{dir}: has a {test_folder}/ folder but no train/ folder next to it"
        ))),
    }
}

/// `dir/train/<class>` and `dir/<test_folder>/<class>`; class indices come from `train/`.
fn open_split_folders(
    source: Arc<dyn FileSource>,
    dir: &str,
    test_folder: &str,
    options: &OpenOptions,
) -> Result<DataSplits> {
    let (train_dir, test_dir) = (join(dir, "train"), join(dir, test_folder));
    let train_classes = scan_classes(source.as_ref(), &train_dir)?;
    let test_classes = scan_classes(source.as_ref(), &test_dir)?;
    let names: Vec<&String> = train_classes.iter().map(|(name, _)| name).collect();
    if let Some((missing, _)) = test_classes.iter().find(|(name, _)| !names.contains(&name)) {
        return Err(Error::invalid(format!(
            "{test_dir}: class folder '{missing}' has no counterpart in {train_dir} (classes there: {})",
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let info = folder_info(source.as_ref(), &train_dir, &train_classes, options)?;
    let named = |split: &str| DatasetInfo {
        name: format!("{dir} [{split}]"),
        ..info.clone()
    };
    let train = labelled_entries(&train_classes, Some);
    let test = labelled_entries(&test_classes, |i| {
        names.iter().position(|n| **n == test_classes[i].0)
    });
    Ok(DataSplits {
        train: Arc::new(FileDataset::new(
            named("train"),
            source.clone(),
            train,
            options,
        )?),
        test: Arc::new(FileDataset::new(named("test"), source, test, options)?),
    })
}

/// The class folders under `dir`, sorted by name, each with its image paths (sorted).
fn scan_classes(source: &dyn FileSource, dir: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut classes = Vec::new();
    for folder in source.list(dir)?.into_iter().filter(|e| e.is_dir) {
        let class_dir = join(dir, &folder.name);
        let mut images: Vec<String> = source
            .list(&class_dir)?
            .into_iter()
            .filter(|e| !e.is_dir && is_image_file(source, &class_dir, &e.name))
            .map(|e| join(&class_dir, &e.name))
            .collect();
        if images.is_empty() {
            return Err(Error::format(
                class_dir,
                format!(
                    "class folder holds no images (looked for {} and DICOM files without an extension)",
                    IMAGE_EXTENSIONS.join(", ")
                ),
            ));
        }
        images.sort();
        classes.push((folder.name, images));
    }
    classes.sort();
    Ok(classes)
}

/// The data set whose classes are `classes` (at least 2; a test split may hold fewer). The
/// channel count comes from decoding its first image.
fn folder_info(
    source: &dyn FileSource,
    dir: &str,
    classes: &[(String, Vec<String>)],
    options: &OpenOptions,
) -> Result<DatasetInfo> {
    if classes.len() < 2 {
        let found: Vec<&str> = classes.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Error::invalid(format!(
            "{dir}: needs at least 2 class folders, found {} ({})",
            classes.len(),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        )));
    }
    Ok(DatasetInfo {
        name: dir.to_string(),
        task: TaskKind::single_label(classes.len()),
        class_names: classes.iter().map(|(name, _)| name.clone()).collect(),
        channels: image_channels(
            source,
            classes
                .iter()
                .flat_map(|(_, paths)| paths.iter().map(String::as_str)),
            options,
        )?,
    })
}

/// (path, label) for every image; `class_of` maps a folder's position to its class index.
fn labelled_entries(
    classes: &[(String, Vec<String>)],
    class_of: impl Fn(usize) -> Option<usize>,
) -> Vec<(String, Label)> {
    let mut entries = Vec::new();
    for (i, (_, images)) in classes.iter().enumerate() {
        if let Some(class) = class_of(i) {
            entries.extend(
                images
                    .iter()
                    .map(|path| (path.clone(), Label::Class(class))),
            );
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::MemorySource;

    /// A 2x2 PNG of one grey level; `encode_png` always writes RGB, so gray is written directly.
    fn png(channels: usize, value: f32) -> Vec<u8> {
        if channels == 3 {
            return Image::new(3, 2, 2, vec![value; 12]).encode_png();
        }
        let gray = image::GrayImage::from_pixel(2, 2, image::Luma([(value * 255.0).round() as u8]));
        let mut out = std::io::Cursor::new(Vec::new());
        gray.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn flat_folder() -> MemorySource {
        let mut src = MemorySource::new();
        for i in 0..6 {
            src.insert(&format!("dr/grade0/a{i}.png"), png(3, 0.2));
            src.insert(&format!("dr/grade1/b{i}.PNG"), png(3, 0.6));
        }
        src.insert("dr/grade1/notes.txt", b"ignored".to_vec());
        src.insert("dr/README.md", b"ignored".to_vec());
        src
    }

    fn labels(ds: &dyn Dataset) -> Vec<usize> {
        (0..ds.len())
            .map(|i| ds.get(i).unwrap().label.class().unwrap())
            .collect()
    }

    #[test]
    fn recognises_image_extensions_case_insensitively() {
        assert!(has_image_extension("x.PNG") && has_image_extension("a.b.tiff"));
        assert!(has_image_extension("scan.DCM") && !has_image_extension("png"));
        assert!(!has_image_extension("notes.txt"));
    }

    #[test]
    fn flat_folder_is_split_by_holdout() {
        let options = OpenOptions {
            holdout: 0.25,
            seed: 3,
            ..Default::default()
        };
        let splits = open_image_folder(flat_folder().into_shared(), "dr", &options).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (9, 3));
        let info = splits.info();
        assert_eq!(info.class_names, ["grade0", "grade1"]);
        assert_eq!((info.task, info.channels), (TaskKind::Binary, 3));
        assert_eq!(info.name, "dr [test]");
        let mut all = labels(splits.train.as_ref());
        all.extend(labels(splits.test.as_ref()));
        all.sort();
        assert_eq!(all, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
        // Pixels decode to the grade's colour.
        let sample = splits.train.get(0).unwrap();
        let expected = if sample.label == Label::Class(0) {
            0.2
        } else {
            0.6
        };
        assert!((sample.image.at(1, 1, 1) - expected).abs() < 1.0 / 255.0);
    }

    #[test]
    fn train_and_test_folders_are_the_splits() {
        let mut src = MemorySource::new();
        for class in ["0", "1", "2", "3"] {
            src.insert(&format!("m/train/{class}/x.png"), png(1, 0.5));
            src.insert(&format!("m/train/{class}/y.tif"), png(1, 0.5)); // a PNG in disguise decodes too
        }
        // A test split may hold fewer classes than train.
        src.insert("m/val/3/z.png", png(1, 0.5));
        src.insert("m/val/3/w.bmp", png(1, 0.5));
        let splits = open_image_folder(src.into_shared(), "m", &OpenOptions::default()).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (8, 2));
        assert_eq!(splits.info().task, TaskKind::MultiClass);
        assert_eq!(splits.info().channels, 1);
        assert_eq!(splits.train.info().name, "m [train]");
        // Test classes keep the train split's indices.
        assert_eq!(labels(splits.test.as_ref()), [3, 3]);
        assert_eq!(splits.info().class_names, ["0", "1", "2", "3"]);
    }

    #[test]
    fn test_class_missing_from_train_is_named() {
        let src = MemorySource::new()
            .with("m/train/a/1.png", png(3, 0.1))
            .with("m/train/b/1.png", png(3, 0.1))
            .with("m/test/c/1.png", png(3, 0.1));
        let err = open_image_folder(src.into_shared(), "m", &OpenOptions::default())
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("m/test") && msg.contains("'c'") && msg.contains("a, b"),
            "{msg}"
        );
    }

    #[test]
    fn train_without_test_is_an_error() {
        let src = MemorySource::new().with("m/train/a/1.png", png(3, 0.1));
        let msg = open_image_folder(src.into_shared(), "m", &OpenOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("m: has a train/ folder"), "{msg}");
    }

    #[test]
    fn class_folder_without_images_is_named() {
        let src = flat_folder().with("dr/grade2/notes.txt", b"no image".to_vec());
        let msg = open_image_folder(src.into_shared(), "dr", &OpenOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.starts_with("dr/grade2:") && msg.contains("no images"),
            "{msg}"
        );
    }

    #[test]
    fn one_class_is_not_enough() {
        let src = MemorySource::new().with("d/only/1.png", png(3, 0.1));
        let msg = open_image_folder(src.into_shared(), "d", &OpenOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("d: needs at least 2 class folders, found 1 (only)"),
            "{msg}"
        );
    }

    #[test]
    fn empty_test_split_is_reported() {
        let options = OpenOptions {
            holdout: 0.0,
            ..Default::default()
        };
        let err = open_image_folder(flat_folder().into_shared(), "dr", &options)
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::EmptySplit { split, .. } if split == "test"),
            "{err}"
        );
    }

    #[test]
    fn corrupt_image_fails_on_get_naming_its_path() {
        let src = flat_folder().with("dr/grade1/zz_broken.png", b"not a png".to_vec());
        let options = OpenOptions {
            holdout: 0.5,
            ..Default::default()
        };
        let splits = open_image_folder(src.into_shared(), "dr", &options).unwrap();
        let errors: Vec<String> = [&splits.train, &splits.test]
            .iter()
            .flat_map(|ds| (0..ds.len()).filter_map(|i| ds.get(i).err()))
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("dr/grade1/zz_broken.png"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn missing_folder_is_a_read_error() {
        let err = open_image_folder(
            MemorySource::new().with("x/a.png", vec![]).into_shared(),
            "nope",
            &OpenOptions::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
