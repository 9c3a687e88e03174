//! Where data bytes come from. The core never touches a file system: the native binary hands it
//! a [`FileSource`] over the disk, the web page and the tests one over memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{Error, Result};

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    /// File or directory name, without the parent path.
    pub name: String,
    /// A directory rather than a file.
    pub is_dir: bool,
}

/// Read access to a tree of files addressed by `/`-separated paths.
pub trait FileSource: Send + Sync {
    /// The whole content of the file at `path`.
    fn read(&self, path: &str) -> Result<Vec<u8>>;
    /// The entries of the directory at `path`, sorted by name.
    fn list(&self, path: &str) -> Result<Vec<DirEntry>>;
    /// Whether `path` names an existing file or directory.
    fn exists(&self, path: &str) -> bool;
    /// What tells this version of the file at `path` from another, cheaply, for a split's
    /// [fingerprint](super::fingerprint): on a disk its size and modification time (reading
    /// every image of a large set would cost as much as the run); in memory a hash of its bytes.
    fn stamp(&self, path: &str) -> Result<String>;
}

/// `dir/name`, without doubling separators.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Files held in memory: for tests, and for the browser, where files come from the visitor.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemorySource {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tree with `bytes` at `path` (builder form of [`MemorySource::insert`]).
    pub fn with(mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.insert(path, bytes);
        self
    }

    /// Stores `bytes` at `path` (a leading `./` is dropped); directories exist by having files
    /// under them.
    pub fn insert(&mut self, path: &str, bytes: impl Into<Vec<u8>>) {
        self.files
            .insert(path.trim_start_matches("./").to_string(), bytes.into());
    }

    /// The tree behind the shared handle data sets take.
    pub fn into_shared(self) -> Arc<dyn FileSource> {
        Arc::new(self)
    }
}

impl FileSource for MemorySource {
    fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.files
            .get(path.trim_start_matches("./"))
            .cloned()
            .ok_or_else(|| Error::Read {
                file: path.to_string(),
                reason: "no such file".into(),
            })
    }

    fn list(&self, path: &str) -> Result<Vec<DirEntry>> {
        let prefix = match path.trim_start_matches("./").trim_end_matches('/') {
            "" | "." => String::new(),
            p => format!("{p}/"),
        };
        let mut entries: Vec<DirEntry> = Vec::new();
        for key in self.files.keys().filter(|k| k.starts_with(&prefix)) {
            let rest = &key[prefix.len()..];
            let entry = match rest.split_once('/') {
                Some((dir, _)) => DirEntry {
                    name: dir.to_string(),
                    is_dir: true,
                },
                None => DirEntry {
                    name: rest.to_string(),
                    is_dir: false,
                },
            };
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        if entries.is_empty() && !prefix.is_empty() {
            return Err(Error::Read {
                file: path.to_string(),
                reason: "no such directory".into(),
            });
        }
        entries.sort();
        Ok(entries)
    }

    fn stamp(&self, path: &str) -> Result<String> {
        Ok(crate::robustness::sha256_hex(&self.read(path)?))
    }

    fn exists(&self, path: &str) -> bool {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        self.files.contains_key(path)
            || self
                .files
                .keys()
                .any(|k| k.starts_with(&format!("{path}/")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_source_lists_files_and_directories() {
        let src = MemorySource::new()
            .with("d/a/1.png", b"x".to_vec())
            .with("d/a/2.png", b"y".to_vec())
            .with("d/b.csv", b"z".to_vec());
        let names: Vec<_> = src
            .list("d")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.is_dir))
            .collect();
        assert_eq!(
            names,
            vec![("a".to_string(), true), ("b.csv".to_string(), false)]
        );
        assert_eq!(src.read("d/a/2.png").unwrap(), b"y");
        assert!(src.exists("d/a") && !src.exists("d/c"));
        assert!(
            src.read("d/nope.png")
                .unwrap_err()
                .to_string()
                .contains("d/nope.png")
        );
    }
}
