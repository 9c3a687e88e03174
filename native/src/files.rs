//! The disk, for the core's `FileSource`, and atomic writes: a result file is either the old one
//! or the complete new one, never half written.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use robustdx_core::data::{DirEntry, FileSource};
use robustdx_core::{Error, Result};

/// Files on the local disk; paths are used as given (absolute or relative to the working
/// directory).
pub struct DiskSource;

fn read_error(path: &str, e: std::io::Error) -> Error {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        _ => e.to_string(),
    };
    Error::Read {
        file: path.to_string(),
        reason,
    }
}

impl FileSource for DiskSource {
    fn read(&self, path: &str) -> Result<Vec<u8>> {
        std::fs::read(path).map_err(|e| read_error(path, e))
    }

    fn list(&self, path: &str) -> Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| read_error(path, e))? {
            let entry = entry.map_err(|e| read_error(path, e))?;
            let is_dir = entry.path().is_dir();
            entries.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                is_dir,
            });
        }
        entries.sort();
        Ok(entries)
    }

    fn exists(&self, path: &str) -> bool {
        Path::new(path).exists()
    }

    /// Size and modification time (to the nanosecond where the file system keeps them): a
    /// replaced or rewritten file gets another, and no image is read.
    fn stamp(&self, path: &str) -> Result<String> {
        let meta = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
        let modified = meta
            .modified()
            .map_err(|e| read_error(path, e))?
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(format!(
            "{} bytes, modified {}.{:09}",
            meta.len(),
            modified.as_secs(),
            modified.subsec_nanos()
        ))
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create directory", dir.display()))?;
    // Results are for sharing: the usual 0644 (less the umask), not the temp file's private 0600.
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot write", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("{}: cannot replace", path.display()))?;
    Ok(())
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(DiskSource.read(&path.to_string_lossy())?)
}

/// `frames` as `dir/KIND_00.png`, …; returns how many.
pub fn write_frames(
    dir: &std::path::Path,
    kind: &str,
    frames: &[robustdx_core::data::Image],
) -> anyhow::Result<usize> {
    for (i, frame) in frames.iter().enumerate() {
        write_atomic(&dir.join(format!("{kind}_{i:02}.png")), &frame.encode_png())?;
    }
    Ok(frames.len())
}

/// Now, in UTC, as RFC 3339 to the second ("2026-12-07T13:05:09Z"): when a result was made.
pub fn utc_now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    rfc3339(seconds)
}

/// `seconds` after 1970-01-01T00:00:00Z as RFC 3339 (proleptic Gregorian calendar; Howard
/// Hinnant's civil-from-days).
fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (hour, minute, second) = (seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod time_tests {
    use super::rfc3339;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // `date -u -d @951782400`: a leap day of a century leap year.
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_648_709), "2026-12-07T13:05:09Z");
    }
}
