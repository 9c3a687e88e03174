//! `robustdx demo`: the whole story in a few minutes on a laptop CPU — train a small
//! dermoscopy classifier on the built-in synthetic data, train a GAP generator against it,
//! attack it with FGSM, PGD and GAP at growing budgets, print the table and write the report.
//! Runs the same code paths as `train`, `gap train` and `attack`.

use std::path::PathBuf;

use clap::{Args, Parser};

use crate::attack::AttackArgs;
use crate::backend::BackendChoice;
use crate::train::TrainArgs;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the model, the results and the report (reused: a finished step is skipped)
    #[arg(long, default_value = "robustdx-demo")]
    out: PathBuf,
    /// Instead: train a clean, an MPAdvT and a MART small CNN on synthetic dermoscopy, attack
    /// each with PGD-10 at ε = 0–8/255, and write one report comparing them (OUT/defenses/)
    #[arg(long)]
    defenses: bool,
}

#[derive(Parser)]
struct DefenseBench {
    #[command(flatten)]
    args: crate::defense_bench::DefenseBenchArgs,
}

/// The demo's data: synthetic dermoscopy, small enough to train in about a minute.
const DATA: &str = "synth-derm:n=800,test=200";

#[derive(Parser)]
struct Train {
    #[command(flatten)]
    args: TrainArgs,
}

#[derive(Parser)]
struct Gap {
    #[command(flatten)]
    args: crate::gap::GapTrainArgs,
}

#[derive(Parser)]
struct Attack {
    #[command(flatten)]
    args: AttackArgs,
}

pub fn run(args: DemoArgs, backend: BackendChoice) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    if args.defenses {
        let out = args.out.join("defenses").to_string_lossy().into_owned();
        eprintln!(
            "demo: training a clean, an MPAdvT and a MART (ε = 4/255) small CNN on synthetic dermoscopy, then PGD-10 against each"
        );
        let bench = DefenseBench::try_parse_from([
            "bench",
            "--data",
            DATA,
            "--out",
            &out,
            "--defenses",
            "none,mpadvt,mart",
            "--epochs",
            "3",
            "--attacks",
            "pgd",
        ])?;
        crate::defense_bench::run(bench.args, backend)?;
        println!(
            "\nOpen the comparison report: each model's accuracy against ε, side by side, and how each was trained."
        );
        return Ok(());
    }
    let path = |name: &str| args.out.join(name).to_string_lossy().into_owned();
    let model = path("derm.bpk");
    if std::path::Path::new(&model).exists() {
        eprintln!("demo: reusing {model} (delete it to train again)");
    } else {
        eprintln!("demo: 1/3 training a small CNN on synthetic dermoscopy (benign vs malignant)");
        let train = Train::parse_from(["train", "--data", DATA, "--epochs", "3", "--out", &model]);
        crate::train::run(train.args, backend)?;
    }
    let generator = path("gap.bpk");
    if std::path::Path::new(&generator).exists() {
        eprintln!("demo: reusing {generator} (delete it to train again)");
    } else {
        eprintln!("demo: 2/3 training a GAP generator against the model (ε = 8/255)");
        let gap = Gap::parse_from([
            "gap", "--model", &model, "--data", DATA, "--out", &generator, "--width", "8",
            "--epochs", "2", "--lr", "2e-3",
        ]);
        crate::gap::train(gap.args, backend)?;
    }
    eprintln!(
        "demo: 3/3 attacking the model with FGSM, PGD-10 and GAP at ε = 0 (clean), 1, 2, 4, 8 /255"
    );
    let (json, csv, report) = (path("results.json"), path("results.csv"), path("report"));
    let attack = Attack::parse_from([
        "attack",
        "--model",
        &model,
        "--data",
        DATA,
        "--attack",
        "fgsm,pgd,gap",
        "--generator",
        &generator,
        "--eps",
        "0,1,2,4,8",
        "--json",
        &json,
        "--resume",
        "--csv",
        &csv,
        "--report",
        &report,
    ]);
    crate::attack::run(attack.args, backend)?;
    println!(
        "\nAs in the seed study, accuracy collapses as ε grows: perturbations too small to see \
         (look at the report) flip the diagnosis."
    );
    Ok(())
}
