//! `robustdx attack`: a robustness sweep — attacks × budgets on a data set's test split, with a
//! table, a JSON record (written after every entry, so `--resume` picks up a stopped sweep), CSV,
//! and an HTML report.

use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::Device;
use clap::{Args, ValueEnum};
use robustdx_core::attack::{
    Attack, Budget, Convention, FastGradientSignMethod, GenerativeAdversarialPerturbation, Goal,
    Norm, ProjectedGradientDescent,
};
use robustdx_core::model::DiagnosticModel;
use robustdx_core::report::{AttackReport, AttackResult, DataSummary, ModelSummary};
use robustdx_core::robustness::evaluate_attack;

use crate::backend::{self, BackendChoice};
use crate::data_args::DataArgs;
use crate::eval::load_model;
use crate::files::{read, write_atomic};
use crate::progress::bar;
use crate::report::{self, Gallery};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttackKind {
    Fgsm,
    Pgd,
    /// a trained GAP generator (--generator FILE), rescaled to each ε
    Gap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NormArg {
    Linf,
    L2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConventionArg {
    /// ε in pixels, clip to [0, 1]
    Pixel,
    /// the seed code's: ε in normalised units, clip to the batch's min / max
    Paper,
}

#[derive(Debug, Args)]
pub struct AttackArgs {
    /// Model file written by robustdx
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Attacks to run, comma-separated
    #[arg(long, value_enum, value_delimiter = ',', default_value = "pgd")]
    pub attack: Vec<AttackKind>,
    /// Budgets in 1/255 pixel units (0 = clean), comma-separated [default: 0,1,2,4,8; with
    /// --image: 8]
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub eps: Vec<f32>,
    /// PGD steps
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// PGD step size in 1/255 units (default: ε/4)
    #[arg(long)]
    pub step_size: Option<f32>,
    #[arg(long, value_enum, default_value = "linf")]
    pub norm: NormArg,
    /// PGD runs from different random starts; each image keeps its strongest
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// Start PGD at the clean image instead of a random point of the ball
    #[arg(long)]
    pub no_random_start: bool,
    /// Targeted: push every image towards this class index
    #[arg(long, conflicts_with = "least_likely")]
    pub target: Option<usize>,
    /// Targeted: towards each image's least likely class (multi-label: flip every label)
    #[arg(long)]
    pub least_likely: bool,
    #[arg(long, value_enum, default_value = "pixel")]
    pub convention: ConventionArg,
    /// Generator file for --attack gap (from `robustdx gap train`)
    #[arg(long)]
    pub generator: Option<PathBuf>,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Seeds the random starts: same seed, same numbers
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the record (versioned JSON) here, after every attack and ε
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Continue the sweep recorded in --json, skipping what it already holds
    #[arg(long, requires = "json")]
    pub resume: bool,
    /// Also write the headline numbers as CSV
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML report (index.html) into this directory
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Attack this one image instead of a data set, away from the model's own decision: prints
    /// the predictions before and after and the loss per step (--json: the browser's record)
    #[arg(long, conflicts_with_all = ["resume", "csv", "report"])]
    pub image: Option<PathBuf>,
}

/// The sweep's budgets when none are given: clean, then 1 to 8 /255.
const DEFAULT_SWEEP_EPS: [f32; 5] = [0.0, 1.0, 2.0, 4.0, 8.0];

impl AttackArgs {
    /// The budgets to sweep.
    pub fn eps_list(&self) -> Vec<f32> {
        if self.eps.is_empty() {
            DEFAULT_SWEEP_EPS.to_vec()
        } else {
            self.eps.clone()
        }
    }

    fn goal(&self) -> Goal {
        match (self.target, self.least_likely) {
            (Some(class), _) => Goal::Class(class),
            (None, true) => Goal::LeastLikely,
            (None, false) => Goal::Untargeted,
        }
    }

    /// The attack of `kind` at `eps` (1/255 units); `gap` is the loaded generator, if any.
    pub fn build(
        &self,
        kind: AttackKind,
        eps: f32,
        gap: Option<&GenerativeAdversarialPerturbation>,
    ) -> anyhow::Result<Box<dyn Attack>> {
        anyhow::ensure!(
            eps.is_finite() && eps >= 0.0,
            "--eps {eps}: ε must be a number ≥ 0 (in 1/255 units)"
        );
        let budget = Budget {
            norm: match self.norm {
                NormArg::Linf => Norm::Linf,
                NormArg::L2 => Norm::L2,
            },
            eps: eps / 255.0,
            convention: match self.convention {
                ConventionArg::Pixel => Convention::Pixel,
                ConventionArg::Paper => Convention::Paper,
            },
        };
        budget.validate().with_context(|| format!("--eps {eps}"))?;
        Ok(match kind {
            AttackKind::Fgsm => Box::new(FastGradientSignMethod {
                budget,
                goal: self.goal(),
            }),
            AttackKind::Pgd => {
                let attack = ProjectedGradientDescent {
                    budget,
                    step_size: self.step_size.map_or(budget.eps / 4.0, |s| s / 255.0),
                    steps: self.steps,
                    random_start: !self.no_random_start,
                    restarts: self.restarts,
                    goal: self.goal(),
                };
                attack.validate()?;
                Box::new(attack)
            }
            AttackKind::Gap => {
                let generator = gap.context("--attack gap needs --generator FILE")?;
                // The generator's output is normalised to its L∞ norm, so one generator
                // serves every ε.
                let mut gap = generator.clone();
                gap.budget = Budget::linf(budget.eps);
                Box::new(gap)
            }
        })
    }
}

fn settings(attack: &dyn Attack, args: &AttackArgs, kind: AttackKind) -> serde_json::Value {
    let mut value = serde_json::json!({
        "norm": format!("{:?}", args.norm).to_lowercase(),
        "convention": format!("{:?}", args.convention).to_lowercase(),
        "goal": attack.goal(),
        "seed": args.seed,
    });
    if kind == AttackKind::Gap {
        value["generator"] = args
            .generator
            .as_ref()
            .map(|g| g.to_string_lossy().into_owned())
            .into();
    }
    if kind == AttackKind::Pgd {
        value["steps"] = args.steps.into();
        value["step_size_255"] = args.step_size.map_or(serde_json::Value::Null, Into::into);
        value["restarts"] = args.restarts.into();
        value["random_start"] = (!args.no_random_start).into();
    }
    value
}

/// Runs the sweep; returns the record and, per result, a few example images.
pub fn sweep(
    args: &AttackArgs,
    model: &DiagnosticModel,
    device: &Device,
) -> anyhow::Result<(AttackReport, Gallery)> {
    let splits = args.data.open()?;
    let test = splits.test.as_ref();
    let summary = ModelSummary::new(&args.model.to_string_lossy(), &model.card);
    let data = DataSummary {
        name: test.info().name.clone(),
        split: "test".into(),
        samples: test.len(),
    };
    let mut record = match (&args.json, args.resume) {
        (Some(path), true) if path.exists() => {
            let text = String::from_utf8(read(path)?)
                .with_context(|| format!("{}: not text", path.display()))?;
            let record = AttackReport::from_json(&text, &path.to_string_lossy())?;
            anyhow::ensure!(
                record.model.file == summary.file && record.data == data,
                "{}: recorded for {} on {}, not {} on {}",
                path.display(),
                record.model.file,
                record.data.name,
                summary.file,
                data.name
            );
            record
        }
        _ => AttackReport::new(summary, data),
    };
    let gap = match (&args.generator, args.attack.contains(&AttackKind::Gap)) {
        (Some(path), true) => Some(crate::gap::load(path, device)?),
        (None, true) => anyhow::bail!("--attack gap needs --generator FILE (robustdx gap train)"),
        _ => None,
    };
    let mut examples = Vec::new();
    for &kind in &args.attack {
        for eps in args.eps_list() {
            let attack = args.build(kind, eps, gap.as_ref())?;
            if record.find(attack.name(), eps).is_some() {
                eprintln!("{} ε={eps}/255: already recorded, skipped", attack.name());
                continue;
            }
            device.seed(args.seed);
            let progress = bar(test.len(), &format!("{} ε={eps}/255", attack.name()), "img");
            let (metrics, kept) = evaluate_attack(
                model,
                test,
                attack.as_ref(),
                args.batch_size,
                4,
                device,
                &mut |done, _| progress.set_position(done as u64),
            )?;
            progress.finish_and_clear();
            record.results.push(AttackResult {
                attack: attack.name().into(),
                eps,
                settings: settings(attack.as_ref(), args, kind),
                metrics,
            });
            examples.push((attack.name().to_string(), eps, kept));
            if let Some(path) = &args.json {
                write_atomic(path, record.to_json().as_bytes())?;
            }
        }
    }
    Ok((record, examples))
}

/// The sweep's table for the terminal.
pub fn table(record: &AttackReport) -> String {
    let mut out = format!(
        "{:<6} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "attack", "ε×255", "accuracy", "AUC", "fooled", "success", "‖δ‖∞×255"
    );
    for r in &record.results {
        let m = &r.metrics;
        let auc = m
            .adversarial
            .auc_macro
            .map_or("-".into(), |a| format!("{a:.3}"));
        out.push_str(&format!(
            "{:<6} {:>7} {:>9.3} {:>9} {:>9.3} {:>9.3} {:>9.2}\n",
            r.attack,
            r.eps,
            m.adversarial.accuracy,
            auc,
            m.fooling_rate,
            m.success_rate,
            m.mean_linf * 255.0
        ));
    }
    out
}

pub fn run(args: AttackArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    let model = load_model(&args.model, &device)?;
    if let Some(image) = &args.image {
        crate::attack_image::run(&args, image, &model, &device)?;
        return Ok(());
    }
    let (record, examples) = sweep(&args, &model, &device)?;
    println!("{} on {}", args.model.display(), record.data.name);
    print!("{}", table(&record));
    if let Some(path) = &args.csv {
        write_atomic(path, record.to_csv().as_bytes())?;
    }
    if let Some(dir) = &args.report {
        let index = report::write(dir, &record, &model.card, &examples)?;
        println!("report: {}", index.display());
    }
    Ok(())
}
