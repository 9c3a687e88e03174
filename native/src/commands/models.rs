//! `robustdx models`: the architectures robustdx can build, train and import; with model files,
//! how each was trained.

use std::path::PathBuf;

use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::model_file::{describe_model, load_model_quiet};

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Model files to describe (architecture, task, defense and training recipe)
    files: Vec<PathBuf>,
}

pub fn run(args: ModelsArgs, backend: BackendChoice) -> anyhow::Result<()> {
    match args.files.is_empty() {
        true => {
            list();
            Ok(())
        }
        false => describe(&args.files, backend),
    }
}

fn list() {
    println!(
        "{:<14} {:>6} {:>6} {:>5}  {:<12} about",
        "name", "input", "width", "tiny", "default task"
    );
    for a in robustdx_core::model::ARCHITECTURES {
        let task = if a.multi_label {
            "multi-label"
        } else {
            "single-label"
        };
        println!(
            "{:<14} {:>6} {:>6} {:>5}  {:<12} {}",
            a.name, a.input_size, a.full_width, a.tiny_width, task, a.about
        );
    }
}

fn describe(files: &[std::path::PathBuf], backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    for file in files {
        let model = load_model_quiet(file, &device)?;
        println!("{}: {}", file.display(), describe_model(&model));
    }
    Ok(())
}
