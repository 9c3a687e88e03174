//! `robustdx merge`: the shards of one run (each `robustdx attack`, `benchmark`, `certify` or `analyze`
//! with `--shard i/n --json F`) joined into the result a single run writes, after checking they
//! belong together.

use std::path::{Path, PathBuf};

use clap::Args;
use robustdx_core::report::{
    AnalysisReport, AttackReport, BenchmarkReport, CertifyReport, DataSummary, ModelSummary,
};
use robustdx_core::run::{Merge, merge};

use crate::commands::attack::{table, write_records};
use crate::files::write_atomic;
use crate::result_file::{ResultLock, read_result};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged result (JSON)
    #[arg(long)]
    pub out: PathBuf,
    /// Shard result files (all sweeps, all benchmarks or all analyses), one per shard, in any
    /// order
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Also write the merged per-image records here (.csv: CSV; otherwise JSON lines)
    #[arg(long)]
    pub records: Option<PathBuf>,
    /// Also write the headline numbers as CSV
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

/// "4 shards of m.bpk on synth-derm (200 images) → merged.json".
fn announce(args: &MergeArgs, model: &ModelSummary, data: &DataSummary) {
    println!(
        "{} shards of {} on {} ({} images) → {}",
        args.shards.len(),
        model.file,
        data.name,
        data.samples,
        args.out.display()
    );
}

/// Which command wrote a result file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sweep,
    Benchmark,
    Analysis,
    Certification,
}

/// The command that wrote the result file at `path`, by the fields only its results have.
pub fn kind_of(path: &Path) -> anyhow::Result<Kind> {
    let text = crate::files::read(path)?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?;
    Ok(if value.get("fp_variant").is_some() {
        Kind::Benchmark
    } else if value.get("radii").is_some() {
        Kind::Certification
    } else if value.get("feature_shift").is_some() {
        Kind::Analysis
    } else {
        Kind::Sweep
    })
}

/// The shards in `args`, read as results of kind `R`, merged, finished by `finish` (exports
/// beside it) and written to `args.out`.
fn merged<R: Merge>(
    args: &MergeArgs,
    finish: impl FnOnce(&mut R) -> anyhow::Result<()>,
) -> anyhow::Result<R> {
    let mut shards = Vec::new();
    for path in &args.shards {
        shards.push((path.to_string_lossy().into_owned(), read_result::<R>(path)?));
    }
    let _lock = ResultLock::acquire(&args.out)?;
    let mut merged = merge(shards)?;
    finish(&mut merged)?;
    write_atomic(&args.out, merged.to_json().as_bytes())?;
    Ok(merged)
}

pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let first = &args.shards[0];
    let kind = kind_of(first)?;
    if !matches!(kind, Kind::Sweep) {
        anyhow::ensure!(
            args.records.is_none(),
            "--records is for sweeps: a benchmark's, certification's or analysis's JSON holds its records"
        );
    }
    match kind {
        Kind::Benchmark => {
            let merged = merged::<BenchmarkReport>(&args, |_| Ok(()))?;
            if let Some(path) = &args.csv {
                write_atomic(path, merged.to_csv().as_bytes())?;
            }
            announce(&args, &merged.model, &merged.data);
            print!("{}", crate::commands::benchmark::table(&merged));
        }
        Kind::Certification => {
            let merged = merged::<CertifyReport>(&args, |_| Ok(()))?;
            if let Some(path) = &args.csv {
                write_atomic(path, merged.to_csv().as_bytes())?;
            }
            announce(&args, &merged.model, &merged.data);
            print!("{}", crate::commands::certify::table(&merged));
        }
        Kind::Analysis => {
            anyhow::ensure!(
                args.csv.is_none(),
                "--csv is for sweeps, benchmarks and certifications: an analysis has no table of rows"
            );
            let merged = merged::<AnalysisReport>(&args, |_| Ok(()))?;
            announce(&args, &merged.model, &merged.data);
            print!("{}", crate::commands::analyze::table(&merged.findings));
        }
        Kind::Sweep => {
            let merged = merged::<AttackReport>(&args, |merged| {
                if let Some(path) = &args.records {
                    write_records(path, merged)?;
                    merged.records_file = Some(path.to_string_lossy().into_owned());
                }
                Ok(())
            })?;
            if let Some(path) = &args.csv {
                write_atomic(path, merged.to_csv().as_bytes())?;
            }
            announce(&args, &merged.model, &merged.data);
            print!("{}", table(&merged));
        }
    }
    Ok(())
}
