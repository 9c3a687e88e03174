//! `robustdx`: train, evaluate, attack and harden medical image classifiers from the command line.

mod backend;
mod data_args;
mod eval;
mod files;
mod preview;
mod progress;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use backend::BackendChoice;

#[derive(Debug, Parser)]
#[command(
    name = "robustdx",
    version,
    about = "Test and harden medical image classifiers against adversarial attacks"
)]
struct Cli {
    /// Where the work runs: a GPU through wgpu if there is one (auto), wgpu, or the CPU
    #[arg(long, global = true, value_enum, default_value = "auto")]
    backend: BackendChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a model on a data set's train split
    Train(train::TrainArgs),
    /// Evaluate a model on a data set's test split
    Eval(eval::EvalArgs),
    /// Look at data sets
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Write a labelled contact sheet of a data set's images
    Preview(preview::PreviewArgs),
}

fn main() -> ExitCode {
    quiet_vulkan_loader();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args, cli.backend),
        Command::Eval(args) => eval::run(args, cli.backend),
        Command::Data(DataCommand::Preview(args)) => preview::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid" several times when a headless
/// session has none; point it at the temp directory so that the only lines a user sees are ours.
fn quiet_vulkan_loader() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: called first thing in `main`, before any thread exists that could read the
        // environment concurrently.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}
