//! Progress bars for long work (hidden when stderr is not a terminal, e.g. in CI logs).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items of `unit`, with rate and ETA.
pub fn bar(len: usize, prefix: &str, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}} {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// A result written piece by piece (sweep cells, benchmark kinds): a bar per computed piece, a
/// line per reused or recomputed one, and the whole result rewritten after every piece.
pub struct PieceByPiece<'a> {
    pub json: Option<&'a std::path::Path>,
    bar: Option<ProgressBar>,
}

impl<'a> PieceByPiece<'a> {
    pub fn new(json: Option<&'a std::path::Path>) -> Self {
        Self { json, bar: None }
    }

    /// Piece `name` starts: reused (`None`), or computed (`Some(because)`, with why an earlier
    /// result of it did not do, if there was one).
    pub fn start(&mut self, name: &str, computed: Option<Option<&str>>) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        match computed {
            None => eprintln!("{name}: reused (same identity)"),
            Some(because) => {
                if let Some(why) = because {
                    eprintln!("{name}: recomputed ({why})");
                }
                self.bar = Some(bar(0, name, "img"));
            }
        }
    }

    pub fn progress(&mut self, done: usize, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    /// The piece is done: `json` (the whole result so far) replaces the file.
    pub fn done(&mut self, json: impl FnOnce() -> String) -> robustdx_core::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(path) = self.json {
            crate::files::write_atomic(path, json().as_bytes())
                .map_err(|e| robustdx_core::Error::invalid(format!("{e:#}")))?;
        }
        Ok(())
    }
}
