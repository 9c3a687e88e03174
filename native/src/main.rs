//! `robustdx`: train, evaluate, attack and harden medical image classifiers from the command line.
//! This file is the command tree and its dispatch; each leaf command is a module of `commands/`,
//! and the pieces they share (data flags, backend choice, files, progress, result files, report
//! templates, timing) are the modules beside it.

mod backend;
mod benchmark_report;
mod card_report;
mod certify_report;
mod commands;
mod data_args;
mod files;
mod model_file;
mod progress;
mod report;
mod result_file;
mod speed;
mod text_table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use backend::BackendChoice;
use commands::*;

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
    /// Certified robustness by randomized smoothing: per test image a radius within which the
    /// smoothed model's decision provably holds; certified accuracy against radius
    Certify(certify::CertifyArgs),
    /// A model's robustness card: clean scores with intervals, AutoAttack, the Robust-Benchmark,
    /// certification and what the attack does inside, as card.json and card.html, by level
    Card(card::CardArgs),
    /// Robustness cards side by side: a sortable HTML table and a JSON, one group per data set
    /// and level
    Leaderboard(leaderboard::LeaderboardArgs),
    /// List the perturbation kinds of the benchmark with their frame schedules
    Perturbations,
    /// Join the shards of one sweep, benchmark, certification or analysis (--shard i/n --json …)
    /// into one result
    Merge(merge::MergeArgs),
    /// List the architectures robustdx can build, train and import; with model files, how each
    /// was trained
    Models(models::ModelsArgs),
    /// List the registered attacks with their settings and defaults
    Attacks,
    /// List the registered defenses (training objectives) with their settings and defaults
    Defenses,
    /// Turn a PyTorch (torchvision-named) state dict into a robustdx model file
    Import(import::ImportArgs),
    /// Write a model's weights as torchvision-named .safetensors, to open in PyTorch
    Export(export::ExportArgs),
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
    Defenses(compare_defenses::DefenseBenchArgs),
}

#[derive(Debug, Subcommand)]
enum GapCommand {
    /// Train a generator against a frozen model
    Train(gap_train::GapTrainArgs),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Forward + backward images/s of each architecture, tiny and full, per backend
    Models(bench_models::BenchModelsArgs),
    /// The older spelling of `compare defenses`
    #[command(hide = true)]
    Defenses(compare_defenses::DefenseBenchArgs),
    /// PGD-10 images/s on small-cnn and a tiny AttnVGG, per backend (compare with
    /// tests/fixtures/attacks/speed_torchattacks.py)
    Speed(bench_speed::BenchSpeedArgs),
    /// robustdx's PGD-10 against PyTorch + torchattacks on the same models, batch and threads
    Compare(bench_compare::BenchCompareArgs),
    /// Our CPU convolution kernels against burn's own, op by op (forward, input and weight
    /// gradients) on the layers of the benchmarked models
    Kernels(bench_kernels::BenchKernelsArgs),
    /// Randomized smoothing: noisy copies per second and certified images per second, per
    /// backend and batch of copies
    Certify(bench_certify::BenchCertifyArgs),
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Write a labelled contact sheet of a data set's images
    Preview(data_preview::PreviewArgs),
    /// Write a data set's images as PNG files (one folder per class)
    Export(data_export::ExportArgs),
    /// Write one image's perturbation sequence as PNG files
    Perturb(data_perturb::PerturbArgs),
}

fn main() -> ExitCode {
    quiet_vulkan_loader();
    // ROBUSTDX_BURN_CONV=1: burn's own convolution ops instead of cpu-kernels, for a reference
    // whose arithmetic is not ours (the browser tests; cpu-kernels' gemm fuses multiply and add
    // natively, the browser's does not, and a PGD trajectory can turn on that last bit).
    if std::env::var_os("ROBUSTDX_BURN_CONV").is_some_and(|v| v == "1") {
        robustdx_cpu_kernels::set_enabled(false);
    }
    let cli = Cli::parse();
    let backend = cli.backend;
    let result = match cli.command {
        Command::Demo(args) => demo::run(args, backend),
        Command::Train(args) => train::run(args, backend),
        Command::Eval(args) => eval::run(args, backend),
        Command::Predict(args) => predict::run(args, backend),
        Command::Attack(args) => attack::run(args, backend),
        Command::Analyze(args) => analyze::run(args, backend),
        Command::Benchmark(args) => benchmark::run(args, backend),
        Command::Certify(args) => certify::run(args, backend),
        Command::Card(args) => card::run(args, backend),
        Command::Leaderboard(args) => leaderboard::run(args),
        Command::Perturbations => perturbations::run(),
        Command::Merge(args) => merge::run(args),
        Command::Models(args) => models::run(args, backend),
        Command::Attacks => attacks::run(),
        Command::Defenses => defenses::run(),
        Command::Import(args) => import::run(args, backend),
        Command::Export(args) => export::run(args, backend),
        Command::Half(args) => half::run(args, backend),
        Command::Gap(GapCommand::Train(args)) => gap_train::run(args, backend),
        Command::Data(DataCommand::Preview(args)) => data_preview::run(args),
        Command::Data(DataCommand::Export(args)) => data_export::run(args),
        Command::Data(DataCommand::Perturb(args)) => data_perturb::run(args),
        Command::Bench(BenchCommand::Models(args)) => bench_models::run(args),
        Command::Bench(BenchCommand::Speed(args)) => bench_speed::run(args),
        Command::Bench(BenchCommand::Certify(args)) => bench_certify::run(args),
        Command::Bench(BenchCommand::Compare(args)) => bench_compare::run(args),
        Command::Bench(BenchCommand::Kernels(args)) => bench_kernels::run(args),
        Command::Bench(BenchCommand::Defenses(args))
        | Command::Compare(CompareCommand::Defenses(args)) => compare_defenses::run(args, backend),
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
