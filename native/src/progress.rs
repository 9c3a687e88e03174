//! Progress bars for long work (hidden when stderr is not a terminal, e.g. in CI logs).

use indicatif::{ProgressBar, ProgressStyle};
use robustdx_core::run::{Events, Plan, RunReport};

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

/// A run's progress in the terminal (a bar per computed unit, a line per reused or recomputed
/// one) and its result file, rewritten atomically after every unit.
pub struct CliEvents<'a> {
    json: Option<&'a std::path::Path>,
    bar: Option<ProgressBar>,
}

impl<'a> CliEvents<'a> {
    pub fn new(json: Option<&'a std::path::Path>) -> Self {
        Self { json, bar: None }
    }
}

impl<R: RunReport> Events<R> for CliEvents<'_> {
    fn unit_start(&mut self, label: &str, plan: &Plan<R::Unit>) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        match plan {
            Plan::Reuse(_) => eprintln!("{label}: reused (same identity)"),
            Plan::Run { because } => {
                if let Some(why) = because {
                    eprintln!("{label}: recomputed ({why})");
                }
                self.bar = Some(bar(0, label, "img"));
            }
        }
    }

    fn progress(&mut self, done: usize, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    fn unit_done(&mut self, report: &R) -> robustdx_core::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(path) = self.json {
            crate::files::write_atomic(path, report.to_json().as_bytes())
                .map_err(|e| robustdx_core::Error::invalid(format!("{e:#}")))?;
        }
        Ok(())
    }
}
