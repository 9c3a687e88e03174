use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::Args;
use robustdx_core::metrics;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::report::{DataSummary, EvalReport, ModelSummary};
use robustdx_core::train::predict;

use crate::backend::{self, BackendChoice};
use crate::data_args::DataArgs;
use crate::files::{read, write_atomic};
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
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
}

/// Reads a model file onto `device`.
pub fn load_model(path: &Path, device: &Device) -> anyhow::Result<DiagnosticModel> {
    Ok(DiagnosticModel::from_bytes(
        &read(path)?,
        &path.to_string_lossy(),
        device,
    )?)
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
    println!("{} on {}", args.model.display(), test.info().name);
    println!("{}", metrics.table());
    if let Some(path) = &args.json {
        let report = EvalReport::new(
            ModelSummary::new(&args.model.to_string_lossy(), &model.card),
            DataSummary {
                name: test.info().name.clone(),
                split: "test".into(),
                samples: test.len(),
            },
            metrics,
        );
        write_atomic(path, report.to_json().as_bytes())?;
        println!("results written to {}", path.display());
    }
    Ok(())
}
