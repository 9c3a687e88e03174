//! `robustdx import`: a PyTorch (torchvision-named) state dict as a robustdx model file.

use std::path::{Path, PathBuf};

use burn::store::{ModuleStore, PytorchStore};
use clap::Args;
use robustdx_core::TaskKind;
use robustdx_core::model::{ImportOptions, import_torch, read_safetensors};

use crate::backend::{self, BackendChoice};
use crate::files::{read, write_atomic};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Architecture the weights belong to (see `robustdx models`)
    #[arg(long)]
    arch: String,
    /// torchvision-style state dict: .safetensors, or .pt / .pth (torch.save)
    #[arg(long)]
    weights: PathBuf,
    /// Model file to write
    #[arg(long)]
    out: PathBuf,
    /// binary | multi-class | multi-label (default: multi-label for densenet-121, else by class count)
    #[arg(long)]
    task: Option<TaskKind>,
    /// Input side (default: the architecture's, 224 or 299 for inception-v3)
    #[arg(long)]
    image_size: Option<usize>,
    /// Per-channel mean the weights were trained with (default: ImageNet's)
    #[arg(long, value_delimiter = ',')]
    mean: Option<Vec<f32>>,
    /// Per-channel std (default: ImageNet's)
    #[arg(long, value_delimiter = ',')]
    std: Option<Vec<f32>>,
    /// Class or finding names, in logit order (default: class_0, class_1, ...)
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
}

/// The tensors of a PyTorch weight file, by its extension.
fn read_weights(path: &Path) -> anyhow::Result<Vec<burn::store::burn_pack::Tensor>> {
    let name = path.to_string_lossy();
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension {
        "safetensors" => Ok(read_safetensors(&read(path)?, &name)?),
        "pt" | "pth" | "bin" | "ckpt" | "tar" => {
            anyhow::ensure!(path.is_file(), "{name}: no such file");
            let mut store = PytorchStore::from_file(path);
            let tensors = store
                .get_all_tensors()
                .map_err(|e| anyhow::anyhow!("{name}: not a readable PyTorch file: {e}"))?;
            Ok(tensors.values().cloned().collect())
        }
        _ => anyhow::bail!("{name}: expected a .safetensors, .pt or .pth file"),
    }
}

pub fn run(args: ImportArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let tensors = read_weights(&args.weights)?;
    let device = backend::select(backend)?;
    let options = ImportOptions {
        task: args.task,
        input_size: args.image_size,
        mean: args.mean,
        std: args.std,
        class_names: args.classes,
    };
    let source = args.weights.to_string_lossy();
    let imported = import_torch(&args.arch, tensors, &source, &options, &device)?;
    let model = imported.model;
    write_atomic(&args.out, &model.to_bytes()?)?;
    let card = &model.card;
    println!(
        "{} -> {}: {}, {} parameters, {} input {}x{}x{}, {} classes ({})",
        args.weights.display(),
        args.out.display(),
        card.architecture.name(),
        model.parameters(),
        card.task,
        card.input.channels,
        card.input.height,
        card.input.width,
        card.num_classes(),
        card.class_names.join(", ")
    );
    if !imported.ignored.is_empty() {
        println!(
            "ignored {} batch-norm step counters (num_batches_tracked)",
            imported.ignored.len()
        );
    }
    Ok(())
}
