//! `robustdx attack`: a robustness sweep — attacks × budgets on a data set's test split, with a
//! table, a JSON record (written after every entry, so `--resume` picks up a stopped sweep), CSV,
//! and an HTML report.

use std::path::{Path, PathBuf};

use anyhow::Context;
mod image;

use burn::tensor::Device;
use clap::{Args, ValueEnum};
use robustdx_core::attack::{
    AttackContext, AttackSpec, Convention, DEFAULT_ATTACK, GapAttackSettings,
    GenerativeAdversarialPerturbation, Goal, Norm, applicable, attack_entry, short_name,
};
use robustdx_core::model::DiagnosticModel;
use robustdx_core::registry::{Settings, assignment_key, parse_assignments};
use robustdx_core::report::AttackReport;
use robustdx_core::robustness::{
    ImageRecord, ResultIdentity, Sweep, contribution_text, records_csv, records_json_lines,
};
use serde_json::{Map, Value};

use crate::backend::{self, BackendChoice};
use crate::data_args::{DataArgs, positive};
use crate::files::write_atomic;
use crate::model_file::{load_model, load_model_hashed};
use crate::report::{self, Gallery};
use crate::result_file::{RunOutput, TestSplitHead};

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

impl ConventionArg {
    /// The core's convention this value names.
    pub fn convention(self) -> Convention {
        match self {
            ConventionArg::Pixel => Convention::Pixel,
            ConventionArg::Paper => Convention::Paper,
        }
    }
}

#[derive(Debug, Args)]
pub struct AttackArgs {
    /// Model file written by robustdx
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Attacks to run, comma-separated, by their registry names (`robustdx attacks` lists and
    /// describes them)
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_ATTACK)]
    pub attack: Vec<String>,
    /// Any attack setting, as KEY=VALUE (repeatable): each attack of the sweep that has the
    /// setting takes it (`robustdx attacks` lists them); --steps, --step-size, --restarts and
    /// --no-random-start are shorthands
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Budgets in 1/255 pixel units (0 = clean), comma-separated [default: 0,1,2,4,8; with
    /// --image: 8]
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub eps: Vec<f32>,
    /// Iterations of PGD [default: 10] and APGD [default: 100]
    #[arg(long, value_parser = positive)]
    pub steps: Option<usize>,
    /// PGD step size in 1/255 units (default: ε/4)
    #[arg(long)]
    pub step_size: Option<f32>,
    #[arg(long, value_enum, default_value = "linf")]
    pub norm: NormArg,
    /// PGD / APGD runs from different random starts; each image keeps its strongest [default: 1]
    #[arg(long)]
    pub restarts: Option<usize>,
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
    #[arg(long, default_value_t = SWEEP_BATCH_SIZE, value_parser = positive)]
    pub batch_size: usize,
    /// Seeds the random starts, drawn per image: same seed, same numbers for any batch size or
    /// shard
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub output: RunOutput,
    /// Also write the per-image records here (.csv: CSV; otherwise JSON lines)
    #[arg(long)]
    pub records: Option<PathBuf>,

    /// Also write the headline numbers as CSV
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML report (index.html) into this directory
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Attack this one image instead of a data set, away from the model's own decision: prints
    /// the predictions before and after and the loss per step (--json: the browser's record)
    #[arg(long, conflicts_with_all = ["resume", "csv", "report", "shard", "records"])]
    pub image: Option<PathBuf>,
}

/// The sweep's budgets when none are given: clean, then 1 to 8 /255.
pub const DEFAULT_SWEEP_EPS: [f32; 5] = [0.0, 1.0, 2.0, 4.0, 8.0];

/// Images per batch of a sweep when `--batch-size` is not given.
pub const SWEEP_BATCH_SIZE: usize = 32;

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

    /// The attack-specific flags the user gave, as registry settings; each attack takes those
    /// that apply to it. `generator` identifies GAP's generator.
    fn options(&self, generator: Option<&LoadedGenerator>) -> anyhow::Result<Map<String, Value>> {
        let mut options = Map::new();
        if let Some(steps) = self.steps {
            options.insert("steps".into(), steps.into());
        }
        if let Some(size) = self.step_size {
            options.insert("step_size".into(), size.into());
        }
        if let Some(restarts) = self.restarts {
            options.insert("restarts".into(), restarts.into());
        }
        if self.no_random_start {
            options.insert("random_start".into(), false.into());
        }
        if let Some(generator) = generator {
            options.extend(generator.settings()?);
        }
        Ok(options)
    }

    /// One spec per attack and ε, in sweep order.
    pub fn specs(&self, generator: Option<&LoadedGenerator>) -> anyhow::Result<Vec<AttackSpec>> {
        let options = self.options(generator)?;
        let entries = self
            .attack
            .iter()
            .map(|name| attack_entry(name))
            .collect::<Result<Vec<_>, _>>()?;
        for key in options.keys() {
            if !entries.iter().any(|e| e.defaults().contains_key(key)) {
                let flag = match key.as_str() {
                    "random_start" => "--no-random-start".to_string(),
                    "sha256" => continue,
                    other => format!("--{}", other.replace('_', "-")),
                };
                eprintln!(
                    "note: {flag} does not apply to {} (ignored)",
                    self.attack.join(", ")
                );
            }
        }
        let (norm, convention) = (
            match self.norm {
                NormArg::Linf => Norm::Linf,
                NormArg::L2 => Norm::L2,
            },
            self.convention.convention(),
        );
        let defaults: Vec<Settings> = entries.iter().map(|e| e.defaults()).collect();
        for pair in &self.set {
            let key = assignment_key(pair);
            if !defaults.iter().any(|d| d.contains_key(key)) {
                let settings: Vec<String> = entries
                    .iter()
                    .zip(&defaults)
                    .map(|(e, d)| format!("{}: {}", e.name, describe_keys(d)))
                    .collect();
                anyhow::bail!(
                    "--set {pair}: no attack of the sweep has a setting '{key}' ({})",
                    settings.join("; ")
                );
            }
        }
        let mut specs = Vec::new();
        for (entry, defaults) in entries.into_iter().zip(&defaults) {
            let mut settings = applicable(defaults, &options);
            let own: Vec<String> = self
                .set
                .iter()
                .filter(|pair| defaults.contains_key(assignment_key(pair)))
                .cloned()
                .collect();
            settings.extend(parse_assignments(entry.name, defaults, &own)?);
            for eps in self.eps_list() {
                let spec =
                    AttackSpec::new(entry.name, eps, norm, convention, self.goal(), &settings)
                        .with_context(|| format!("--attack {} --eps {eps}", entry.name))?;
                specs.push(spec);
            }
        }
        Ok(specs)
    }
}

/// The names of an attack's settings, for errors.
fn describe_keys(settings: &Map<String, Value>) -> String {
    match settings.is_empty() {
        true => "no settings".into(),
        false => settings.keys().cloned().collect::<Vec<_>>().join(", "),
    }
}

/// A generator file read for a sweep, with the SHA-256 of its bytes.
pub struct LoadedGenerator {
    pub path: PathBuf,
    pub gap: GenerativeAdversarialPerturbation,
    pub sha256: String,
}

impl LoadedGenerator {
    pub fn read(path: &Path, device: &Device) -> anyhow::Result<Self> {
        let (gap, sha256) = crate::model_file::load_generator_hashed(path, device)?;
        Ok(Self {
            path: path.to_path_buf(),
            gap,
            sha256,
        })
    }

    /// The settings of a generator attack's spec that name this generator, by file and content.
    pub fn settings(&self) -> anyhow::Result<Map<String, Value>> {
        let settings = GapAttackSettings {
            generator: self.path.to_string_lossy().into_owned(),
            sha256: self.sha256.clone(),
        };
        match serde_json::to_value(settings)? {
            Value::Object(map) => Ok(map),
            other => anyhow::bail!("generator settings are not an object: {other}"),
        }
    }
}

/// A sweep with everything decided: what `attack` runs once its flags are read, and what `demo`
/// and `compare defenses` run.
pub struct SweepJob {
    /// The model file (its hash identifies the results).
    pub model: PathBuf,
    pub data: DataArgs,
    /// One spec per attack and ε, in sweep order.
    pub specs: Vec<AttackSpec>,
    /// The generator the generator attacks among `specs` run (their settings name it).
    pub generator: Option<LoadedGenerator>,
    pub batch_size: usize,
    pub seed: u64,
    pub output: RunOutput,
    /// Also write the per-image records here.
    pub records: Option<PathBuf>,
    /// Also write the headline numbers as CSV here.
    pub csv: Option<PathBuf>,
    /// Write the HTML report into this directory.
    pub report: Option<PathBuf>,
}

impl AttackArgs {
    /// The sweep the flags describe (reads the generator a generator attack needs).
    pub fn job(&self, device: &Device) -> anyhow::Result<SweepJob> {
        let needs_generator = self
            .attack
            .iter()
            .find(|a| attack_entry(a).is_ok_and(|e| e.needs_generator));
        let generator = match (&self.generator, needs_generator) {
            (Some(path), Some(_)) => Some(LoadedGenerator::read(path, device)?),
            (None, Some(name)) => {
                anyhow::bail!("--attack {name} needs --generator FILE (robustdx gap train)")
            }
            _ => None,
        };
        Ok(SweepJob {
            model: self.model.clone(),
            data: self.data.clone(),
            specs: self.specs(generator.as_ref())?,
            generator,
            batch_size: self.batch_size,
            seed: self.seed,
            output: self.output.clone(),
            records: self.records.clone(),
            csv: self.csv.clone(),
            report: self.report.clone(),
        })
    }
}

/// Runs the sweep; returns the record and, per computed result, a few example images.
/// `model_sha256` is the hash of the model file's bytes.
pub fn sweep_job(
    job: &SweepJob,
    model: &DiagnosticModel,
    model_sha256: &str,
    device: &Device,
) -> anyhow::Result<(AttackReport, Gallery)> {
    let shard = job.output.shard()?;
    let splits = job.data.open()?;
    let test = splits.test.as_ref();
    let head = TestSplitHead::new(&job.model, model, model_sha256, &job.data, &splits, shard)?;
    let identities: Vec<ResultIdentity> = job
        .specs
        .iter()
        .map(|attack| ResultIdentity::new(attack.clone(), head.subject(job.seed), job.batch_size))
        .collect();

    let file = job.output.open::<AttackReport>(shard)?;
    let run = Sweep {
        model,
        data: test,
        shard,
        batch_size: job.batch_size,
        keep_examples: 4,
        context: AttackContext {
            generator: job.generator.as_ref().map(|g| &g.gap),
        },
        device,
    };
    let (mut record, examples) = run.run(
        &identities,
        &file.previous,
        AttackReport::new(head.model, head.data),
        &mut file.events(),
    )?;
    if let Some(path) = &job.records {
        write_records(path, &record)?;
        record.records_file = Some(path.to_string_lossy().into_owned());
        if let Some(json) = &job.output.json {
            write_atomic(json, record.to_json().as_bytes())?;
        }
    }
    let gallery = examples
        .into_iter()
        .map(|(spec, kept)| (spec.attack, spec.eps, kept))
        .collect();
    Ok((record, gallery))
}

/// Runs the sweep on the model file, prints its table and writes the CSV and report asked for;
/// returns the record.
pub fn attack(job: &SweepJob, device: &Device) -> anyhow::Result<AttackReport> {
    let (model, model_sha256) = load_model_hashed(&job.model, device)?;
    let (record, examples) = sweep_job(job, &model, &model_sha256, device)?;
    println!("{} on {}", job.model.display(), record.data.name);
    print!("{}", table(&record));
    if let Some(path) = &job.csv {
        write_atomic(path, record.to_csv().as_bytes())?;
    }
    if let Some(dir) = &job.report {
        let index = report::write(dir, &record, &model.card, &examples)?;
        println!("report: {}", index.display());
    }
    Ok(record)
}

/// The per-image records of every cell, as CSV (`.csv`) or JSON lines (anything else).
pub fn write_records(path: &Path, record: &AttackReport) -> anyhow::Result<()> {
    let cells: Vec<(&str, f32, &[ImageRecord])> = record
        .results
        .iter()
        .map(|r| (r.attack.as_str(), r.eps, r.records.as_slice()))
        .collect();
    write_record_cells(path, &cells)
}

/// `cells` (attack, ε, records) to `path`, in the format its extension names.
pub fn write_record_cells(
    path: &Path,
    cells: &[(&str, f32, &[ImageRecord])],
) -> anyhow::Result<()> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let text = match is_csv {
        true => records_csv(cells),
        false => records_json_lines(cells),
    };
    write_atomic(path, text.as_bytes())
}

/// The sweep's table for the terminal.
pub fn table(record: &AttackReport) -> String {
    let width = (record.results.iter())
        .map(|r| r.attack.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    // Robust accuracy for multi-label is exact match: an image stands only if no finding flips.
    let multi_label = record.model.task.is_multi_label();
    let mut out = format!(
        "{:<width$} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "attack",
        "ε×255",
        if multi_label { "exact" } else { "accuracy" },
        "AUC",
        "fooled",
        "success",
        "‖δ‖∞×255"
    );
    for r in &record.results {
        let m = &r.metrics;
        let auc = m
            .adversarial
            .auc_macro
            .map_or("-".into(), |a| format!("{a:.3}"));
        out.push_str(&format!(
            "{:<width$} {:>7} {:>9.3} {:>9} {:>9.3} {:>9.3} {:>9.2}\n",
            r.attack,
            r.eps,
            m.robust_accuracy(),
            auc,
            m.fooling_rate,
            m.success_rate,
            m.mean_linf * 255.0
        ));
    }
    for r in record
        .results
        .iter()
        .filter(|r| !r.metrics.contributions.is_empty())
    {
        out.push_str(&format!(
            "\n{} at ε = {}/255, each attack on the images the earlier left standing:\n",
            short_name(&r.attack),
            r.eps
        ));
        out.push_str(&contribution_text(&r.metrics, &record.model.class_names));
    }
    for flag in &record.sanity {
        out.push_str(&format!("warning ({:?}): {}\n", flag.check, flag.message));
    }
    out
}

pub fn run(args: AttackArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    if let Some(image) = &args.image {
        let model = load_model(&args.model, &device)?;
        image::run(&args, image, &model, &device)?;
        return Ok(());
    }
    attack(&args.job(&device)?, &device)?;
    Ok(())
}
