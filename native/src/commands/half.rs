//! `robustdx half`: a model file with its convolution and linear weights in 16-bit floats, half
//! the download, for shipping (the page's models are written so). Batch norm keeps 32 bits.

use std::path::PathBuf;

use clap::Args;
use robustdx_core::model::WeightPrecision;

use crate::backend::{self, BackendChoice};
use crate::files::write_atomic;
use crate::model_file::load_model;

#[derive(Debug, Args)]
pub struct HalfArgs {
    /// The model file (robustdx .bpk)
    #[arg(long)]
    model: PathBuf,
    /// Where to write the half-precision file (may be the model file itself)
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: HalfArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    let model = load_model(&args.model, &device)?;
    let bytes = model.to_bytes_as(WeightPrecision::Half)?;
    let before = std::fs::metadata(&args.model)?.len();
    write_atomic(&args.out, &bytes)?;
    println!(
        "{} ({:.2} MB) -> {} ({:.2} MB): 16-bit convolution and linear weights; \
         a model of its own, its numbers differ from the original's by the rounding",
        args.model.display(),
        before as f64 / 1e6,
        args.out.display(),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}
