//! `robustdx export`: a model's weights as torchvision-named .safetensors, to open in PyTorch.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use robustdx_core::model::export_safetensors;

use crate::backend::{self, BackendChoice};
use crate::files::write_atomic;
use crate::model_file::load_model;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Model file written by robustdx
    #[arg(long)]
    model: PathBuf,
    /// .safetensors file to write, with torchvision's parameter names
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: ExportArgs, backend: BackendChoice) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.out.extension().is_some_and(|e| e == "safetensors"),
        "{}: export writes .safetensors; name the file so",
        args.out.display()
    );
    let device = backend::select(backend)?;
    let model = load_model(&args.model, &device)?;
    let bytes = export_safetensors(&model)
        .with_context(|| format!("exporting {}", args.model.display()))?;
    write_atomic(&args.out, &bytes)?;
    println!(
        "{} -> {} ({} weights under torchvision names; load with \
         model.load_state_dict(safetensors.torch.load_file(...)))",
        args.model.display(),
        args.out.display(),
        model.card.architecture.name()
    );
    Ok(())
}
