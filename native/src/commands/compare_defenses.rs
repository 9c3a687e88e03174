//! `robustdx compare defenses`: the seed study's finding, measured — the same small model trained
//! clean and with every defense, each attacked with PGD-10 and APGD-CE at growing ε, one table.
//! A benchmark (minutes to hours), not a test. Calls the typed functions behind `train` and
//! `attack`; finished models and cells are reused, so an interrupted run continues.

use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::Device;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser};
use maud::{Markup, html};
use robustdx_core::attack::{
    ATTACK_INFO, AttackInfo, AttackSpec, AutoProjectedGradientDescent, Convention,
    ProjectedGradientDescent, attack_info,
};
use robustdx_core::defense::{DefenseEntry, DefenseSpec, SEED_EPS, defense_entry};
use robustdx_core::metrics::Metrics;
use robustdx_core::report::{AttackReport, models_against_eps};
use robustdx_core::train::{TrainConfig, TrainingRecipe, selection_score};
use serde_json::{Map, Value, json};

use crate::backend::{self, BackendChoice};
use crate::commands::attack::{ConventionArg, SWEEP_BATCH_SIZE, SweepJob};
use crate::commands::train::{ModelShape, Start, TrainArgs, TrainJob};
use crate::data_args::DataArgs;
use crate::files::write_atomic;
use crate::report::parts::{about_table, chart, page};
use crate::result_file::RunOutput;

/// The comparison's training ε, in 1/255, when `--eps` is not given.
pub const TRAINING_EPS: f64 = 4.0;
/// Inner-attack steps of the defenses that take more by default, when `--attack-steps` is not
/// given.
pub const INNER_STEPS: usize = 5;
/// Steps of the evaluating PGD and APGD-CE when not given.
pub const PGD_STEPS: usize = 10;
pub const APGD_STEPS: usize = 25;

#[derive(Debug, Args)]
pub struct DefenseBenchArgs {
    /// Data set (a synthetic one, or your own)
    #[arg(long, default_value = "synth-derm:n=800,test=200")]
    data: String,
    /// Directory for the models and results (reused: finished steps are skipped)
    #[arg(long, default_value = "robustdx-defenses")]
    out: PathBuf,
    /// Defenses to train, in table order
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "none,pgd-at,mpadvt,mart,trades"
    )]
    defenses: Vec<String>,
    /// Epochs of every training run
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// Units of the defenses' budgets: pixel, or paper (normalised units, as the seed's code
    /// trained: every defense at the seed's settings, ε 0.031 = 7.905/255 normalised). The
    /// evaluation is in pixel units either way
    #[arg(long, value_enum, default_value = "pixel")]
    convention: ConventionArg,
    /// The training ε of pgd-at, mart and trades, in 1/255 of --convention's units (mpadvt draws
    /// its own) [default: 4 (pixel), 7.905 (paper)]
    #[arg(long)]
    eps: Option<f64>,
    /// Inner-attack steps of pgd-at and trades (mart keeps its 4)
    #[arg(long, default_value_t = INNER_STEPS)]
    attack_steps: usize,
    /// The noise σ of gaussian (in [0, 1] pixel units), when it is among --defenses [default:
    /// its own, 0.25]
    #[arg(long)]
    sigma: Option<f64>,
    /// Budgets of the evaluation, in 1/255
    #[arg(
        long,
        value_delimiter = ',',
        allow_negative_numbers = true,
        default_value = "0,1,2,4,8"
    )]
    test_eps: Vec<f32>,
    /// Steps of the evaluating PGD
    #[arg(long, default_value_t = PGD_STEPS)]
    pgd_steps: usize,
    /// Steps of the evaluating APGD-CE
    #[arg(long, default_value_t = APGD_STEPS)]
    apgd_steps: usize,
    /// The evaluating attacks: pgd and/or apgd
    #[arg(long, value_delimiter = ',', default_value = "pgd,apgd")]
    attacks: Vec<String>,
    /// Extra `robustdx train` flags for every run (e.g. "--tiny"), space-separated
    #[arg(long, default_value = "")]
    train_flags: String,
}

/// `--train-flags`, read as `robustdx train` reads its own.
#[derive(Parser)]
#[command(name = "--train-flags", no_binary_name = true)]
struct TrainFlags {
    #[command(flatten)]
    args: TrainArgs,
}

/// The `train` options the comparison decides itself, by their clap ids.
const OWN_TRAIN_OPTIONS: [&str; 12] = [
    "data",
    "out",
    "epochs",
    "defense",
    "convention",
    "set",
    "eps",
    "attack_steps",
    "attack_step_size",
    "beta",
    "sigma",
    "resume",
];

impl DefenseBenchArgs {
    /// The comparison the flags describe.
    fn job(&self) -> anyhow::Result<DefenseComparison> {
        let matches = TrainFlags::command()
            .try_get_matches_from(self.train_flags.split_whitespace())
            .context("--train-flags")?;
        if let Some(id) = OWN_TRAIN_OPTIONS
            .into_iter()
            .find(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        {
            anyhow::bail!(
                "--train-flags: --{} is set by the comparison itself",
                id.replace('_', "-")
            );
        }
        let train = TrainFlags::from_arg_matches(&matches)?.args;
        if let Some(sigma) = self.sigma {
            anyhow::ensure!(
                sigma.is_finite(),
                "--sigma must be a finite number, got {sigma}"
            );
        }
        let convention = self.convention.convention();
        let eps = self.eps.unwrap_or(match convention {
            Convention::Pixel => TRAINING_EPS,
            Convention::Paper => SEED_EPS,
        });
        let contenders = self
            .defenses
            .iter()
            .map(|name| {
                let defense = comparison_defense(
                    defense_entry(name)?,
                    eps,
                    self.attack_steps,
                    self.sigma,
                    convention,
                )?;
                let config = train.fresh_config(TrainConfig {
                    epochs: self.epochs,
                    recipe: TrainingRecipe {
                        defense,
                        ..TrainingRecipe::default()
                    },
                    ..TrainConfig::default()
                })?;
                Ok(Contender {
                    label: name.clone(),
                    config,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(DefenseComparison {
            data: DataArgs {
                data: self.data.clone(),
                ..train.data.clone()
            },
            out: self.out.clone(),
            contenders,
            model: train.shape(),
            val: train.val,
            eval: !train.no_eval,
            evaluations: self.evaluations()?,
            test_eps: self.test_eps.clone(),
        })
    }

    /// `--attacks` with their steps, in the registry's order.
    fn evaluations(&self) -> anyhow::Result<Vec<Evaluation>> {
        let mut evaluations = Vec::new();
        for name in &self.attacks {
            let attack = attack_info(name)?;
            let steps = match attack.name {
                ProjectedGradientDescent::NAME => self.pgd_steps,
                AutoProjectedGradientDescent::NAME => self.apgd_steps,
                other => anyhow::bail!(
                    "--attacks {other}: the comparison evaluates with {} and/or {}",
                    ProjectedGradientDescent::NAME,
                    AutoProjectedGradientDescent::NAME
                ),
            };
            if !evaluations
                .iter()
                .any(|e: &Evaluation| e.attack.name == attack.name)
            {
                evaluations.push(Evaluation { attack, steps });
            }
        }
        evaluations.sort_by_key(|e| ATTACK_INFO.iter().position(|a| a.name == e.attack.name));
        Ok(evaluations)
    }
}

/// A defense as the comparison trains it: at `eps` when it has a training ε (MPAdvT draws its
/// own), its inner attack cut to `steps` when it takes more by default (MART keeps its 4), and
/// then with step size ε/4 where it has a fixed one, so that the shorter attack still reaches
/// the boundary (a step size left open is the defense's own ε/4 already); at noise `sigma`,
/// when given, if it has a noise σ. Budgets in `convention`'s units; the defenses without an
/// inner attack stay in pixels.
pub fn comparison_defense(
    entry: &DefenseEntry,
    eps: f64,
    steps: usize,
    sigma: Option<f64>,
    convention: Convention,
) -> anyhow::Result<DefenseSpec> {
    let defaults = entry.defaults();
    let mut settings = Map::new();
    if defaults.contains_key("eps") {
        settings.insert("eps".into(), json!(eps));
    }
    if let Some(sigma) = sigma
        && defaults.contains_key("sigma")
    {
        settings.insert("sigma".into(), json!(sigma));
    }
    let default_steps = defaults.get("steps").and_then(Value::as_u64);
    if default_steps.is_some_and(|d| d > steps as u64) {
        settings.insert("steps".into(), json!(steps));
        if defaults.get("step_size").is_some_and(|s| !s.is_null()) {
            settings.insert("step_size".into(), json!(eps / 4.0));
        }
    }
    let convention = match entry.adversarial {
        true => convention,
        false => Convention::Pixel,
    };
    Ok(DefenseSpec::in_convention(
        entry.name, convention, &settings,
    )?)
}

/// One row of the comparison: a model trained one way.
pub struct Contender {
    /// The row's name and its files' (LABEL.bpk, LABEL-ATTACK.json).
    pub label: String,
    pub config: TrainConfig,
}

/// An evaluating attack and its steps.
pub struct Evaluation {
    pub attack: &'static AttackInfo,
    pub steps: usize,
}

impl Evaluation {
    /// `PGD-10`, `APGD-CE-25`.
    fn label(&self) -> String {
        format!("{}-{}", self.attack.short_name(), self.steps)
    }
}

/// A comparison with everything decided: what `compare defenses` runs once its flags are read,
/// and what `demo --defenses` runs.
pub struct DefenseComparison {
    pub data: DataArgs,
    /// Directory for the models and results.
    pub out: PathBuf,
    pub contenders: Vec<Contender>,
    /// The architecture every contender starts from.
    pub model: ModelShape,
    /// Validation share of every training run (`train --val`).
    pub val: Option<f64>,
    /// Evaluate on the test split after each epoch.
    pub eval: bool,
    /// In the registry's order.
    pub evaluations: Vec<Evaluation>,
    /// Budgets of the evaluation, in 1/255 (0: clean).
    pub test_eps: Vec<f32>,
}

/// A contender's name and its record under each evaluating attack.
type Row = (String, Vec<AttackReport>);

pub fn run(args: DefenseBenchArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let job = args.job()?;
    let device = backend::select(backend)?;
    compare(&job, &device)?;
    Ok(())
}

/// Trains each contender (or reuses its model file, or continues its checkpoint), attacks it with
/// each evaluation, prints the table and writes the comparison page.
pub fn compare(job: &DefenseComparison, device: &Device) -> anyhow::Result<Vec<Row>> {
    std::fs::create_dir_all(&job.out)?;
    let mut rows = Vec::new();
    for contender in &job.contenders {
        let model = job.out.join(format!("{}.bpk", contender.label));
        if model.exists() {
            eprintln!(
                "bench defenses: reusing {} (delete it to train again)",
                model.display()
            );
        } else {
            let start = match crate::commands::train::has_checkpoint(&model) {
                true => Start::Resume(Box::new(crate::commands::train::read_checkpoint(
                    &model, device,
                )?)),
                false => Start::New(job.model.clone()),
            };
            eprintln!(
                "bench defenses: {} ({}, {} epochs)",
                model.display(),
                contender.config.recipe.defense.describe(),
                contender.config.epochs
            );
            let data = job.data.open()?;
            crate::commands::train::train(
                TrainJob {
                    data,
                    split_seed: job.data.split_seed,
                    out: model.clone(),
                    start,
                    config: contender.config.clone(),
                    val: job.val,
                    eval: job.eval,
                },
                device,
            )?;
        }
        let mut reports = Vec::new();
        for evaluation in &job.evaluations {
            let name = evaluation.attack.name;
            let settings = Map::from_iter([("steps".to_string(), json!(evaluation.steps))]);
            let specs = job
                .test_eps
                .iter()
                .map(|&eps| {
                    AttackSpec::untargeted_linf(name, eps, &settings)
                        .with_context(|| format!("{name} at ε = {eps}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let json = job.out.join(format!("{}-{name}.json", contender.label));
            let sweep = SweepJob {
                model: model.clone(),
                data: job.data.clone(),
                specs,
                generator: None,
                batch_size: SWEEP_BATCH_SIZE,
                seed: 0,
                output: RunOutput {
                    json: Some(json),
                    resume: true,
                    shard: None,
                    reuse: Vec::new(),
                },
                records: None,
                csv: None,
                report: None,
            };
            reports.push(crate::commands::attack::attack(&sweep, device)?);
        }
        rows.push((contender.label.clone(), reports));
    }
    let table = table(job, &rows);
    println!("{table}");
    let page = write_comparison(job, &rows, &table)?;
    println!("comparison report: {}", page.display());
    Ok(rows)
}

/// `OUT/comparison.html`: score against ε per model for each attack, side by side, the table
/// and how each model was trained.
fn write_comparison(job: &DefenseComparison, rows: &[Row], table: &str) -> anyhow::Result<PathBuf> {
    let html = comparison(job, rows, table)?;
    let path = job.out.join("comparison.html");
    write_atomic(&path, html.into_string().as_bytes())?;
    Ok(path)
}

/// The comparison's template.
fn comparison(job: &DefenseComparison, rows: &[Row], table: &str) -> anyhow::Result<Markup> {
    let mut charts = Vec::new();
    for evaluation in &job.evaluations {
        let attack = evaluation.attack.name;
        let models: Vec<(String, &AttackReport)> = rows
            .iter()
            .filter_map(|(defense, reports)| {
                let report = reports
                    .iter()
                    .find(|r| r.results.iter().any(|c| c.attack == attack))?;
                Some((defense.clone(), report))
            })
            .collect();
        let multi_label = models
            .first()
            .is_some_and(|(_, r)| r.model.task.is_multi_label());
        let title = format!(
            "{} under {attack}",
            if multi_label { "macro AUC" } else { "accuracy" }
        );
        charts.push(models_against_eps(&models, attack, &title, &|r| {
            Some(selection_score(&r.metrics.adversarial))
        })?);
    }
    let recipes = rows.iter().filter_map(|(defense, reports)| {
        let training = reports.first()?.model.training.as_ref()?;
        Some((defense, training.describe()))
    });
    let body = html! {
        h1 { "Defenses compared on " (job.data.data) }
        p {
            "The same architecture trained clean and with each defense (same seed, same epochs), "
            "attacked over the test split. Higher is more robust."
        }
        div.charts { @for svg in &charts { (chart(svg)) } }
        h2 { "Table" }
        pre { (table) }
        h2 { "How each model was trained" }
        (about_table(recipes))
    };
    Ok(page("robustdx: defenses compared", COMPARISON_STYLE, body))
}

/// The table is the terminal's, as text.
const COMPARISON_STYLE: &str = "pre { background: #f6f6f6; padding: 1em; overflow: auto; }\n";

/// What a cell is scored by, with its name.
type Score = (&'static str, fn(&Metrics) -> f64);

fn table(job: &DefenseComparison, rows: &[Row]) -> String {
    let budgets: Vec<f32> = job.test_eps.iter().copied().filter(|&e| e > 0.0).collect();
    let multi_label = rows
        .first()
        .and_then(|(_, r)| r.first())
        .is_some_and(|r| r.model.task.is_multi_label());
    // Multi-label: macro AUC first (it carries the masking check), then the share of (image,
    // finding) pairs decided right.
    let scores: Vec<Score> = match multi_label {
        true => vec![
            ("macro AUC", selection_score),
            ("per-label accuracy", |m| m.accuracy),
        ],
        false => vec![("accuracy", selection_score)],
    };
    let mut out = String::new();
    for (index, (name, score)) in scores.into_iter().enumerate() {
        let attacks: Vec<String> = job.evaluations.iter().map(Evaluation::label).collect();
        out += &format!(
            "{name} on {} under {} (ε in 1/255)\n",
            job.data.data,
            attacks.join(" and ")
        );
        if index == 0
            && job
                .contenders
                .iter()
                .any(|c| c.config.recipe.defense.convention == Convention::Paper)
        {
            out += "(defenses trained in the seed's normalised units; the attacks' ε in pixels)\n";
        }
        match (index, masking_pairs(job).first()) {
            (0, Some((weaker, stronger))) => {
                out += &format!(
                    "(flags: the sanity checks', and {} more than 5 points below {}, a sign of gradient masking)\n",
                    stronger.to_uppercase(),
                    weaker.to_uppercase()
                )
            }
            (0, None) => out += "(flags: the sanity checks')\n",
            _ => {}
        }
        out += &score_table(job, rows, &budgets, score, index == 0);
        out += "\n";
    }
    out
}

/// Pairs of evaluating attacks, (weaker, stronger) by their registry names, where the stronger
/// should never score above the weaker at the same budget (`AttackInfo::dominates`): more than 5
/// points below it is a sign of gradient masking.
fn masking_pairs(job: &DefenseComparison) -> Vec<(&'static str, &'static str)> {
    job.evaluations
        .iter()
        .filter_map(|e| {
            let weaker = e.attack.dominates?;
            job.evaluations
                .iter()
                .any(|other| other.attack.name == weaker)
                .then_some((weaker, e.attack.name))
        })
        .collect()
}

fn score_table(
    job: &DefenseComparison,
    rows: &[Row],
    budgets: &[f32],
    score: fn(&Metrics) -> f64,
    with_flags: bool,
) -> String {
    let mut out = String::new();
    let mut header = format!("{:<8} {:>6}", "defense", "clean");
    for evaluation in &job.evaluations {
        let attack = evaluation.attack.name.to_uppercase();
        for eps in budgets {
            header += &format!(" {:>8}", format!("{attack}@{eps}"));
        }
    }
    out += &header;
    out += if with_flags { "  flags\n" } else { "\n" };
    for (defense, reports) in rows {
        let value = |report: &AttackReport, eps: f32| {
            report
                .results
                .iter()
                .find(|r| r.eps == eps)
                .map(|r| score(&r.metrics.adversarial))
        };
        let clean = reports.first().and_then(|r| value(r, 0.0));
        let mut line = format!(
            "{defense:<8} {:>6}",
            clean.map_or("-".into(), |v| format!("{v:.3}"))
        );
        let mut flags: Vec<String> = Vec::new();
        for report in reports {
            for eps in budgets {
                line += &format!(
                    " {:>8}",
                    value(report, *eps).map_or("-".into(), |v| format!("{v:.3}"))
                );
            }
            flags.extend(report.sanity.iter().map(|f| f.message.clone()));
        }
        for (weaker, stronger) in masking_pairs(job) {
            let report = |name: &str| {
                let index = job.evaluations.iter().position(|e| e.attack.name == name)?;
                reports.get(index)
            };
            let (Some(weak), Some(strong)) = (report(weaker), report(stronger)) else {
                continue;
            };
            for eps in budgets {
                // In whole points, so that 0.28 against 0.23 is not flagged by rounding.
                if let (Some(w), Some(s)) = (value(weak, *eps), value(strong, *eps))
                    && ((w - s) * 100.0).round() > 5.0
                {
                    flags.push(format!(
                        "{} {:.0} points below {} at {eps}",
                        stronger.to_uppercase(),
                        100.0 * (w - s),
                        weaker.to_uppercase()
                    ));
                }
            }
        }
        flags.dedup();
        if with_flags {
            line += "  ";
            line += &match flags.is_empty() {
                true => "none".to_string(),
                false => flags.join("; "),
            };
        }
        out += &line;
        out += "\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parts::{HOSTILE, assert_escaped, hostile_sweep};

    #[derive(Parser)]
    struct Bench {
        #[command(flatten)]
        args: DefenseBenchArgs,
    }

    #[test]
    fn hostile_names_come_out_escaped() {
        let flags = ["bench", "--data", HOSTILE, "--attacks", "pgd,apgd"];
        let job = Bench::parse_from(flags).args.job().unwrap();
        let rows = vec![(HOSTILE.to_string(), vec![hostile_sweep()])];
        let table = table(&job, &rows);
        let html = comparison(&job, &rows, &table).unwrap().into_string();
        assert_escaped(&html);
        assert!(html.contains("How each model was trained") && html.contains("<svg"));
    }

    /// What the comparison's flag lists used to ask `train` for (`--eps 4 --attack-steps 5`, and
    /// `--attack-step-size 1` for TRADES), now read from each defense's defaults.
    #[test]
    fn each_defense_is_trained_as_before() {
        use robustdx_core::defense::{
            CleanTraining, Mart, MixedPerturbationTraining, PgdAdversarialTraining, Trades,
        };
        let spec = |name: &str, settings: Value| {
            DefenseSpec::new(name, settings.as_object().unwrap()).unwrap()
        };
        let cases = [
            (CleanTraining::NAME, json!({})),
            (
                PgdAdversarialTraining::NAME,
                json!({"eps": 4.0, "steps": 5}),
            ),
            (MixedPerturbationTraining::NAME, json!({})),
            (Mart::NAME, json!({"eps": 4.0})),
            (
                Trades::NAME,
                json!({"eps": 4.0, "steps": 5, "step_size": 1.0}),
            ),
        ];
        for (name, settings) in cases {
            let entry = defense_entry(name).unwrap();
            let trained =
                comparison_defense(entry, TRAINING_EPS, INNER_STEPS, None, Convention::Pixel)
                    .unwrap();
            assert_eq!(trained, spec(name, settings), "{name}");
        }
    }

    /// `--convention paper` trains each defense at the seed's settings in normalised units:
    /// MART exactly as the seed's `train_mart.py` (ε 0.031, 4 steps of 0.007, β 6), MPAdvT at its
    /// U(0.01, 0.04) with 1–9 steps of 1/255; clean training stays clean.
    #[test]
    fn the_paper_convention_trains_the_seeds_settings() {
        use robustdx_core::defense::{
            CleanTraining, Mart, MartSettings, MixedPerturbationTraining, MpadvtSettings,
        };
        let job = Bench::parse_from(["bench", "--convention", "paper"])
            .args
            .job()
            .unwrap();
        let defense = |name: &str| {
            let contender = job.contenders.iter().find(|c| c.label == name).unwrap();
            contender.config.recipe.defense.clone()
        };
        let mart = defense(Mart::NAME);
        assert_eq!(mart.convention, Convention::Paper);
        let settings: MartSettings = mart.settings_as().unwrap();
        let in_seed_units = |v: f64| v / 255.0;
        assert!((in_seed_units(settings.eps) - 0.031).abs() < 1e-12);
        assert!((in_seed_units(settings.step_size) - 0.007).abs() < 1e-12);
        assert_eq!((settings.steps, settings.beta), (4, 6.0));
        let mpadvt = defense(MixedPerturbationTraining::NAME);
        assert_eq!(mpadvt.convention, Convention::Paper);
        let settings: MpadvtSettings = mpadvt.settings_as().unwrap();
        assert!((in_seed_units(settings.eps_min) - 0.01).abs() < 1e-12);
        assert!((in_seed_units(settings.eps_max) - 0.04).abs() < 1e-12);
        assert_eq!((settings.steps_min, settings.steps_max), (1, 9));
        assert!((settings.step_size - 1.0).abs() < 1e-12);
        let clean = defense("none");
        assert_eq!(clean.defense, CleanTraining::NAME);
        assert_eq!(clean.convention, Convention::Pixel);
        let table = table(&job, &[]);
        assert!(
            table.contains("trained in the seed's normalised units"),
            "{table}"
        );
        let err = Bench::parse_from(["bench", "--train-flags=--convention paper"])
            .args
            .job()
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap();
        assert!(
            err.contains("--convention is set by the comparison"),
            "{err}"
        );
    }

    /// Gaussian augmentation is not in the default list (the comparison is the seed study's,
    /// under PGD and APGD; a smoothing base model is for `certify`), but trains when listed: at
    /// its own σ or --sigma's, in pixel units, the other contenders untouched.
    #[test]
    fn gaussian_augmentation_trains_when_listed() {
        use robustdx_core::defense::GaussianAugmentation;
        let gaussian = GaussianAugmentation::NAME;
        let job = Bench::parse_from(["bench"]).args.job().unwrap();
        assert!(job.contenders.iter().all(|c| c.label != gaussian));

        let listed = format!("none,{gaussian}");
        let sigma_of = |flags: &[&str]| -> Vec<Option<f32>> {
            let flags = ["bench", "--defenses", &listed]
                .into_iter()
                .chain(flags.iter().copied());
            let job = Bench::parse_from(flags).args.job().unwrap();
            assert_eq!(job.contenders[1].label, gaussian);
            let defense = &job.contenders[1].config.recipe.defense;
            assert_eq!(defense.convention, Convention::Pixel);
            assert!(job.contenders[0].config.recipe.defense.is_clean());
            let table = table(&job, &[(gaussian.to_string(), Vec::new())]);
            assert!(table.contains(&format!("\n{gaussian} ")), "{table}");
            job.contenders
                .iter()
                .map(|c| c.config.recipe.defense.smoothing_sigma().unwrap())
                .collect()
        };
        assert_eq!(sigma_of(&[]), [None, Some(0.25)]);
        assert_eq!(
            sigma_of(&["--sigma", "0.5", "--convention", "paper"]),
            [None, Some(0.5)]
        );

        let flags = ["bench", "--defenses", &listed, "--train-flags=--sigma 0.5"];
        let err = format!("{:#}", Bench::parse_from(flags).args.job().err().unwrap());
        assert!(err.contains("--sigma is set by the comparison"), "{err}");
        let flags = ["bench", "--defenses", &listed, "--sigma", "nan"];
        let err = Bench::parse_from(flags)
            .args
            .job()
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--sigma must be a finite number"), "{err}");
    }

    #[test]
    fn evaluations_follow_the_registry_and_name_their_steps() {
        let flags = ["bench", "--attacks", "apgd,pgd", "--apgd-steps", "7"];
        let job = Bench::parse_from(flags).args.job().unwrap();
        let labels: Vec<String> = job.evaluations.iter().map(Evaluation::label).collect();
        assert_eq!(labels, ["PGD-10", "APGD-CE-7"]);
        let table = table(&job, &[]);
        assert!(
            table.contains("APGD more than 5 points below PGD"),
            "{table}"
        );

        let flags = ["bench", "--attacks", "fgsm"];
        let Err(err) = Bench::parse_from(flags).args.job() else {
            panic!("--attacks fgsm accepted")
        };
        assert!(err.to_string().contains("--attacks fgsm"), "{err}");
    }

    #[test]
    fn train_flags_are_read_once_and_may_not_set_what_the_comparison_sets() {
        let flags = ["bench", "--train-flags=--tiny --lr 0.01"];
        let job = Bench::parse_from(flags).args.job().unwrap();
        assert!(job.model.tiny);
        assert!(
            job.contenders
                .iter()
                .all(|c| c.config.learning_rate == 0.01)
        );

        let flags = ["bench", "--train-flags=--tiny --epochs 2"];
        let Err(err) = Bench::parse_from(flags).args.job() else {
            panic!("--train-flags --epochs accepted")
        };
        let err = format!("{err:#}");
        assert!(err.contains("--epochs is set by the comparison"), "{err}");
    }
}
