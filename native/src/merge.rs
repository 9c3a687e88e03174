//! `robustdx merge`: the shards of one sweep (each `robustdx attack --shard i/n --json F`) joined
//! into the result a single run writes, after checking they belong together.

use std::path::PathBuf;

use clap::Args;
use robustdx_core::perturb::merge_benchmark_shards;
use robustdx_core::report::{DataSummary, ModelSummary};
use robustdx_core::robustness::merge_shards;

use crate::attack::{read_report, table, write_records};
use crate::benchmark::read_benchmark;
use crate::files::write_atomic;
use crate::result_file::ResultLock;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged result (JSON)
    #[arg(long)]
    pub out: PathBuf,
    /// Shard result files (all sweeps or all benchmarks), one per shard, in any order
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

/// Whether `path` holds a benchmark result (`robustdx benchmark --json`) rather than a sweep's.
fn is_benchmark(path: &std::path::Path) -> anyhow::Result<bool> {
    let text = crate::files::read(path)?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?;
    Ok(value.get("fp_variant").is_some())
}

/// The shards of one benchmark joined.
fn run_benchmark(args: &MergeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.records.is_none(),
        "--records is for sweeps: a benchmark's JSON holds its records"
    );
    let mut shards = Vec::new();
    for path in &args.shards {
        shards.push((path.to_string_lossy().into_owned(), read_benchmark(path)?));
    }
    let _lock = ResultLock::acquire(&args.out)?;
    let merged = merge_benchmark_shards(shards)?;
    write_atomic(&args.out, merged.to_json().as_bytes())?;
    if let Some(path) = &args.csv {
        write_atomic(path, merged.to_csv().as_bytes())?;
    }
    announce(args, &merged.model, &merged.data);
    print!("{}", crate::benchmark::table(&merged));
    Ok(())
}

pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    if is_benchmark(&args.shards[0])? {
        return run_benchmark(&args);
    }
    let mut shards = Vec::new();
    for path in &args.shards {
        shards.push((path.to_string_lossy().into_owned(), read_report(path)?));
    }
    let _lock = ResultLock::acquire(&args.out)?;
    let mut merged = merge_shards(shards)?;
    if let Some(path) = &args.records {
        write_records(path, &merged)?;
        merged.records_file = Some(path.to_string_lossy().into_owned());
    }
    write_atomic(&args.out, merged.to_json().as_bytes())?;
    if let Some(path) = &args.csv {
        write_atomic(path, merged.to_csv().as_bytes())?;
    }
    announce(&args, &merged.model, &merged.data);
    print!("{}", table(&merged));
    Ok(())
}
