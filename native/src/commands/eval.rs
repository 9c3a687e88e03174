use std::path::PathBuf;

use clap::Args;
use robustdx_core::metrics;
use robustdx_core::report::{DataSummary, EvalReport, ModelSummary};
use robustdx_core::robustness::ImageRecord;
use robustdx_core::train::predict;

use crate::backend::{self, BackendChoice};
use crate::commands::attack::write_record_cells;
use crate::data_args::{DataArgs, positive};
use crate::files::write_atomic;
use crate::model_file::load_model;
use crate::progress::bar;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model file written by `robustdx train`
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Also write the result record (JSON, versioned schema) to this file
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write each image's record here (.csv: CSV; otherwise JSON lines), in the attack
    /// records' format: an evaluation is the ε = 0 cell (clean and "adversarial" the same)
    #[arg(long)]
    records: Option<PathBuf>,
    #[arg(long, default_value_t = 64, value_parser = positive)]
    batch_size: usize,
    /// Resamples of the test images for the bootstrap intervals of the scores (0: none)
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Coverage of the bootstrap intervals
    #[arg(long, default_value_t = 0.95)]
    ci_level: f64,
    /// Keys the bootstrap's resampling: same seed, same intervals
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: EvalArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let splits = args.data.open()?;
    let device = backend::select(backend)?;
    let model = load_model(&args.model, &device)?;
    let test = splits.test.as_ref();
    let progress = bar(test.len(), "evaluating", "img");
    let predictions = predict(&model, test, args.batch_size, &device, &mut |done, _| {
        progress.set_position(done as u64)
    })?;
    progress.finish_and_clear();
    let metrics = metrics::evaluate(&predictions)?;
    let intervals = match args.bootstrap {
        0 => None,
        resamples => Some(metrics::bootstrap(
            &predictions,
            resamples,
            args.ci_level,
            args.seed,
        )?),
    };
    if let Some(path) = &args.records {
        let records: Vec<ImageRecord> = predictions
            .probs
            .iter()
            .zip(&predictions.labels)
            .enumerate()
            .map(|(index, (probs, label))| ImageRecord {
                index,
                id: test.id(index),
                label: label.clone(),
                clean_probs: probs.clone(),
                adversarial_probs: probs.clone(),
                target: None,
                linf: 0.0,
                l2: 0.0,
                fooled: false,
                broken_by: None,
                queries: None,
            })
            .collect();
        write_record_cells(path, &[("none", 0.0, records.as_slice())])?;
    }
    println!("{} on {}", args.model.display(), test.info().name);
    println!("{}", metrics.table());
    if let Some(intervals) = &intervals {
        print!("{}", intervals.describe());
    }
    if let Some(path) = &args.json {
        let report = EvalReport::new(
            ModelSummary::new(&args.model.to_string_lossy(), &model.card),
            DataSummary {
                name: test.info().name.clone(),
                split: "test".into(),
                samples: test.len(),
                shard: None,
                skipped: test.skipped(),
            },
            metrics,
        );
        let report = EvalReport {
            intervals,
            records_file: args
                .records
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            ..report
        };
        write_atomic(path, report.to_json().as_bytes())?;
        println!("results written to {}", path.display());
    }
    Ok(())
}
