//! A split's fingerprint: one hash over every sample's id, label and content stamp, so that a
//! result measured on a folder, CSV or npz is not reused after an image was added, removed or
//! replaced under the same name. Cheap for files (their size and modification time, no pixel
//! read); sources without files hash their bytes.

use sha2::{Digest, Sha256};

use super::Dataset;
use crate::Result;
use crate::robustness::lower_hex;

/// Lower-case hex SHA-256 over the samples of `data`, in index order: each one's id and
/// [content stamp](Dataset::content_stamp). Equal for two opens of unchanged data; different
/// when a sample is added, removed, renamed, relabelled or its content changes.
pub fn fingerprint(data: &dyn Dataset) -> Result<String> {
    let mut hash = Sha256::new();
    hash.update((data.len() as u64).to_le_bytes());
    for index in 0..data.len() {
        // Lengths first, so that no two lists of (id, stamp) run together into the same bytes.
        for part in [data.id(index), data.content_stamp(index)?] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
    }
    Ok(lower_hex(&hash.finalize()))
}

/// The stamp of a sample without a file of its own (generated, or one image of an array): a
/// hash of its label and its `bytes` as stored.
pub(crate) fn bytes_stamp(label: &crate::Label, bytes: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(serde_json::to_vec(label).expect("labels serialise"));
    hash.update(bytes);
    lower_hex(&hash.finalize())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::data::{DatasetInfo, FileDataset, FileSource, MemorySource, OpenOptions};
    use crate::{Label, TaskKind};

    const PNG_A: &[u8] = &[1, 2, 3];
    const PNG_B: &[u8] = &[4, 5, 6];

    /// A file data set over `files` (path, bytes, class) held in memory, whose stamps hash the
    /// bytes (nothing is decoded: the bytes need not be images).
    fn files(files: &[(&str, &[u8], usize)]) -> FileDataset {
        let mut source = MemorySource::new();
        for (path, bytes, _) in files {
            source.insert(path, bytes.to_vec());
        }
        FileDataset::new(
            DatasetInfo {
                name: "folder:d".into(),
                task: TaskKind::Binary,
                class_names: vec!["a".into(), "b".into()],
                channels: 1,
            },
            source.into_shared(),
            files
                .iter()
                .map(|(path, _, class)| (path.to_string(), Label::Class(*class)))
                .collect(),
            &OpenOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_same_files_give_the_same_fingerprint_and_any_change_another() {
        let base = [("d/a/1.png", PNG_A, 0), ("d/b/2.png", PNG_B, 1)];
        let print = |set: &[(&str, &[u8], usize)]| fingerprint(&files(set)).unwrap();
        let original = print(&base);
        assert_eq!(original.len(), 64);
        assert_eq!(print(&base), original, "unchanged data, same fingerprint");
        let changes: [&[(&str, &[u8], usize)]; 5] = [
            // replaced under the same name
            &[("d/a/1.png", PNG_B, 0), ("d/b/2.png", PNG_B, 1)],
            // removed
            &[("d/a/1.png", PNG_A, 0)],
            // added
            &[
                ("d/a/1.png", PNG_A, 0),
                ("d/b/2.png", PNG_B, 1),
                ("d/b/3.png", PNG_B, 1),
            ],
            // relabelled
            &[("d/a/1.png", PNG_A, 1), ("d/b/2.png", PNG_B, 1)],
            // renamed
            &[("d/a/1.png", PNG_A, 0), ("d/b/9.png", PNG_B, 1)],
        ];
        for (k, changed) in changes.iter().enumerate() {
            assert_ne!(print(changed), original, "change {k}");
        }
    }

    /// The file stamp comes from the source, without decoding: a file that is no image still
    /// has one, and a missing file is an error naming it.
    #[test]
    fn file_stamps_come_from_the_source_and_name_a_missing_file() {
        let source = MemorySource::new().with("x.png", PNG_A.to_vec());
        assert_eq!(
            source.stamp("x.png").unwrap(),
            source.stamp("x.png").unwrap()
        );
        let e = source.stamp("y.png").unwrap_err().to_string();
        assert!(e.contains("y.png"), "{e}");
        let data = FileDataset::new(
            DatasetInfo {
                name: "folder:d".into(),
                task: TaskKind::Binary,
                class_names: vec!["a".into(), "b".into()],
                channels: 1,
            },
            Arc::new(MemorySource::new()),
            vec![("gone.png".into(), Label::Class(0))],
            &OpenOptions::default(),
        )
        .unwrap();
        let e = fingerprint(&data).unwrap_err().to_string();
        assert!(e.contains("gone.png"), "{e}");
    }

    /// Generated data hashes its pixels: another seed or size is other data, the same config
    /// the same.
    #[test]
    fn generated_data_is_fingerprinted_by_its_pixels() {
        let print = |size, seed| {
            let config = SyntheticConfig {
                n: 2,
                test: 3,
                size,
                seed,
            };
            fingerprint(synthetic::open(SyntheticKind::Derm, &config).test.as_ref()).unwrap()
        };
        assert_eq!(print(16, 1), print(16, 1));
        assert_ne!(print(16, 1), print(16, 2));
        assert_ne!(print(16, 1), print(17, 1));
    }
}
