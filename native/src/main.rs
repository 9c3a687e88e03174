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
