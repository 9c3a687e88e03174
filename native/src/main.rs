//! `robustdx`: train, evaluate, attack and harden medical image classifiers from the command line.

mod analyze;
mod attack;
mod attack_image;
mod backend;
mod bench;
mod bench_compare;
mod benchmark;
mod benchmark_report;
mod data_args;
mod defense_bench;
mod demo;
mod eval;
mod files;
mod gap;
mod half;
mod merge;
mod predict;
mod preview;
mod progress;
mod report;
mod result_file;
mod torch;
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
    /// Where the work runs: a GPU through wgpu if there is one (auto), wgpu, or the CPU; the
    /// ROBUSTDX_BACKEND environment variable when the flag is not given
    #[arg(
        long,
        global = true,
        value_enum,
        env = "ROBUSTDX_BACKEND",
        default_value = "auto"
    )]
    backend: BackendChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a small model on synthetic dermoscopy, attack it, print the table, write the report
    Demo(demo::DemoArgs),
    /// Train a model on a data set's train split
    Train(train::TrainArgs),
    /// Evaluate a model on a data set's test split
    Eval(eval::EvalArgs),
    /// Class probabilities for image files
    Predict(predict::PredictArgs),
    /// Attack a model over a data set's test split at several budgets: table, JSON, CSV, report
    Attack(attack::AttackArgs),
    /// What an attack does inside a model: feature shift, class separation, label correlation,
    /// Grad-CAM before and after
    Analyze(analyze::AnalyzeArgs),
    /// The Robust-Benchmark: Flip Probability on sequences of 14 growing everyday perturbations
    Benchmark(benchmark::BenchmarkArgs),
    /// List the perturbation kinds of the benchmark with their frame schedules
    Perturbations,
    /// Join the shards of one sweep or benchmark (--shard i/n --json …) into one result
    Merge(merge::MergeArgs),
    /// List the architectures robustdx can build, train and import; with model files, how each
    /// was trained
    Models {
        /// Model files to describe (architecture, task, defense and training recipe)
        files: Vec<std::path::PathBuf>,
    },
    /// List the registered attacks with their settings and defaults
    Attacks,
    /// List the registered defenses (training objectives) with their settings and defaults
    Defenses,
    /// Turn a PyTorch (torchvision-named) state dict into a robustdx model file
    Import(torch::ImportArgs),
    /// Write a model's weights as torchvision-named .safetensors, to open in PyTorch
    Export(torch::ExportArgs),
    /// Store a model's convolution and linear weights in 16-bit floats: half the file, for
    /// shipping (batch norm stays 32-bit)
    Half(half::HalfArgs),
    /// GAP: generators of adversarial perturbations
    #[command(subcommand)]
    Gap(GapCommand),
    /// Look at data sets
    #[command(subcommand)]
    Data(DataCommand),
    /// Benchmarks (tables of measured speed; no pass or fail)
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Comparisons of robustness (tables of measured accuracy under attack)
    #[command(subcommand)]
    Compare(CompareCommand),
}

#[derive(Debug, Subcommand)]
enum CompareCommand {
    /// Train the same model clean and with each defense, attack each with PGD and APGD: one table
    Defenses(defense_bench::DefenseBenchArgs),
}

#[derive(Debug, Subcommand)]
enum GapCommand {
    /// Train a generator against a frozen model
    Train(gap::GapTrainArgs),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Forward + backward images/s of each architecture, tiny and full, per backend
    Models(bench::BenchModelsArgs),
    /// The older spelling of `compare defenses`
    #[command(hide = true)]
    Defenses(defense_bench::DefenseBenchArgs),
    /// PGD-10 images/s on small-cnn and a tiny AttnVGG, per backend (compare with
    /// tests/fixtures/attacks/speed_torchattacks.py)
    Speed(bench::BenchSpeedArgs),
    /// robustdx's PGD-10 against PyTorch + torchattacks on the same models, batch and threads
    Compare(bench_compare::BenchCompareArgs),
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Write a labelled contact sheet of a data set's images
    Preview(preview::PreviewArgs),
    /// Write a data set's images as PNG files (one folder per class)
    Export(preview::ExportArgs),
    /// Write one image's perturbation sequence as PNG files
    Perturb(preview::PerturbArgs),
}

fn main() -> ExitCode {
    quiet_vulkan_loader();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args, cli.backend),
        Command::Train(args) => train::run(args, cli.backend),
        Command::Eval(args) => eval::run(args, cli.backend),
        Command::Predict(args) => predict::run(args, cli.backend),
        Command::Attack(args) => attack::run(args, cli.backend),
        Command::Analyze(args) => analyze::run(args, cli.backend),
        Command::Benchmark(args) => benchmark::run(args, cli.backend),
        Command::Perturbations => {
            benchmark::list_perturbations();
            Ok(())
        }
        Command::Merge(args) => merge::run(args),
        Command::Attacks => {
            attack::list_attacks();
            Ok(())
        }
        Command::Models { files } if files.is_empty() => {
            list_models();
            Ok(())
        }
        Command::Models { files } => describe_model_files(&files, cli.backend),
        Command::Defenses => {
            train::list_defenses();
            Ok(())
        }
        Command::Import(args) => torch::import(args, cli.backend),
        Command::Export(args) => torch::export(args, cli.backend),
        Command::Half(args) => half::run(args, cli.backend),
        Command::Gap(GapCommand::Train(args)) => gap::train(args, cli.backend),
        Command::Data(DataCommand::Preview(args)) => preview::run(args),
        Command::Data(DataCommand::Export(args)) => preview::export(args),
        Command::Data(DataCommand::Perturb(args)) => preview::perturb(args),
        Command::Bench(BenchCommand::Models(args)) => bench::run(args),
        Command::Bench(BenchCommand::Compare(args)) => bench_compare::run(args),
        Command::Bench(BenchCommand::Defenses(args))
        | Command::Compare(CompareCommand::Defenses(args)) => defense_bench::run(args, cli.backend),
        Command::Bench(BenchCommand::Speed(args)) => bench::run_speed(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn list_models() {
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

fn describe_model_files(
    files: &[std::path::PathBuf],
    backend: backend::BackendChoice,
) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    for file in files {
        let model = eval::load_model_quiet(file, &device)?;
        println!("{}: {}", file.display(), eval::describe_model(&model));
    }
    Ok(())
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
