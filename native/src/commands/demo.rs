//! `robustdx demo`: the whole story in a few minutes on a laptop CPU — train a small
//! dermoscopy classifier on the built-in synthetic data, train a GAP generator against it,
//! attack it with FGSM, PGD and GAP at growing budgets, print the table and write the report.
//! Calls the typed functions behind `train`, `gap train` and `attack` with the demo's settings.

use std::path::{Path, PathBuf};

use clap::Args;
use robustdx_core::attack::{
    AttackSpec, Convention, FastGradientSignMethod, GenerativeAdversarialPerturbation,
    ProjectedGradientDescent,
};
use robustdx_core::defense::{CleanTraining, Mart, MixedPerturbationTraining, defense_entry};
use robustdx_core::train::{TrainConfig, TrainingRecipe};
use serde_json::Map;

use crate::backend::{self, BackendChoice};
use crate::commands::attack::{DEFAULT_SWEEP_EPS, LoadedGenerator, SWEEP_BATCH_SIZE, SweepJob};
use crate::commands::compare_defenses::{
    Contender, DefenseComparison, Evaluation, INNER_STEPS, PGD_STEPS, TRAINING_EPS,
    comparison_defense,
};
use crate::commands::gap_train::{GapJob, GeneratorKind};
use crate::commands::train::{DEFAULT_ARCHITECTURE, ModelShape, Start, TrainJob};
use crate::data_args::DataArgs;
use crate::result_file::RunOutput;

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

/// The demo's data: synthetic dermoscopy, small enough to train in about a minute.
const DATA: &str = "synth-derm:n=800,test=200";

/// Epochs of every model the demo trains.
const EPOCHS: usize = 3;

/// The defenses `--defenses` compares, in table order.
const DEFENSES: [&str; 3] = [
    CleanTraining::NAME,
    MixedPerturbationTraining::NAME,
    Mart::NAME,
];

/// The attacks of the demo's sweep, in table order.
const ATTACKS: [&str; 3] = [
    FastGradientSignMethod::NAME,
    ProjectedGradientDescent::NAME,
    GenerativeAdversarialPerturbation::NAME,
];

pub fn run(args: DemoArgs, backend: BackendChoice) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    match args.defenses {
        true => compare_defenses(&args.out, backend),
        false => attack_one_model(&args.out, backend),
    }
}

/// The model every demo run starts from: `train`'s default architecture at its full size.
fn small_cnn() -> ModelShape {
    ModelShape {
        architecture: DEFAULT_ARCHITECTURE.into(),
        image_size: None,
        width: None,
        tiny: false,
    }
}

fn compare_defenses(out: &Path, backend: BackendChoice) -> anyhow::Result<()> {
    eprintln!(
        "demo: training a clean, an MPAdvT and a MART (ε = 4/255) small CNN on synthetic dermoscopy, then PGD-10 against each"
    );
    let device = &backend::select(backend)?;
    let contenders = DEFENSES
        .into_iter()
        .map(|name| {
            let defense = comparison_defense(
                defense_entry(name)?,
                TRAINING_EPS,
                INNER_STEPS,
                None,
                Convention::Pixel,
            )?;
            Ok(Contender {
                label: name.to_string(),
                config: TrainConfig {
                    epochs: EPOCHS,
                    recipe: TrainingRecipe {
                        defense,
                        ..TrainingRecipe::default()
                    },
                    ..TrainConfig::default()
                },
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let comparison = DefenseComparison {
        data: DataArgs::new(DATA),
        out: out.join("defenses"),
        contenders,
        model: small_cnn(),
        val: None,
        eval: true,
        evaluations: vec![Evaluation {
            attack: robustdx_core::attack::attack_info(ProjectedGradientDescent::NAME)?,
            steps: PGD_STEPS,
        }],
        test_eps: DEFAULT_SWEEP_EPS.to_vec(),
    };
    crate::commands::compare_defenses::compare(&comparison, device)?;
    println!(
        "\nOpen the comparison report: each model's accuracy against ε, side by side, and how each was trained."
    );
    Ok(())
}

fn attack_one_model(out: &Path, backend: BackendChoice) -> anyhow::Result<()> {
    let data = DataArgs::new(DATA);
    let model = out.join("derm.bpk");
    let reused = model.exists();
    if reused {
        eprintln!(
            "demo: reusing {} (delete it to train again)",
            model.display()
        );
    } else {
        eprintln!("demo: 1/3 training a small CNN on synthetic dermoscopy (benign vs malignant)");
    }
    // After the first line, as when each step chose its own backend.
    let device = &backend::select(backend)?;
    if !reused {
        let job = TrainJob {
            data: data.open()?,
            split_seed: data.split_seed,
            out: model.clone(),
            start: Start::New(small_cnn()),
            config: TrainConfig {
                epochs: EPOCHS,
                ..TrainConfig::default()
            },
            val: None,
            eval: true,
        };
        crate::commands::train::train(job, device)?;
    }
    let generator = out.join("gap.bpk");
    if generator.exists() {
        eprintln!(
            "demo: reusing {} (delete it to train again)",
            generator.display()
        );
    } else {
        eprintln!("demo: 2/3 training a GAP generator against the model (ε = 8/255)");
        let job = GapJob {
            model: model.clone(),
            data: data.clone(),
            out: generator.clone(),
            generator: GeneratorKind::Resnet,
            width: Some(8),
            eps: 8.0,
            universal: false,
            epochs: 2,
            batch_size: 32,
            learning_rate: 2e-3,
            seed: 0,
        };
        crate::commands::gap_train::train_generator(&job, device)?;
    }
    eprintln!(
        "demo: 3/3 attacking the model with FGSM, PGD-10 and GAP at ε = 0 (clean), 1, 2, 4, 8 /255"
    );
    let generator = LoadedGenerator::read(&generator, device)?;
    let mut specs = Vec::new();
    for name in ATTACKS {
        let settings = match robustdx_core::attack::attack_info(name)?.needs_generator {
            true => generator.settings()?,
            false => Map::new(),
        };
        for eps in DEFAULT_SWEEP_EPS {
            specs.push(AttackSpec::untargeted_linf(name, eps, &settings)?);
        }
    }
    let job = SweepJob {
        model,
        data,
        specs,
        generator: Some(generator),
        batch_size: SWEEP_BATCH_SIZE,
        seed: 0,
        output: RunOutput {
            json: Some(out.join("results.json")),
            resume: true,
            shard: None,
            reuse: Vec::new(),
        },
        records: None,
        csv: Some(out.join("results.csv")),
        report: Some(out.join("report")),
    };
    crate::commands::attack::attack(&job, device)?;
    println!(
        "\nAs in the seed study, accuracy collapses as ε grows: perturbations too small to see \
         (look at the report) flip the diagnosis."
    );
    Ok(())
}
