//! `robustdx card`: a model's whole verdict — clean scores with intervals, AutoAttack, the
//! Robust-Benchmark, certification, what the attack does inside — as `card.json` and a
//! self-contained `card.html`. Each part is the separate command (`attack`, `benchmark`,
//! `certify`, `analyze`) run with the level's settings into its own resumable file under
//! `OUT/parts/`, so the card's numbers are that command's, `--resume` recomputes nothing that
//! is there, and a card split into `--shard i/n` runs joins when it is run once more whole.

use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use robustdx_core::attack::{AutoAttackSettings, GenerativeAdversarialPerturbation};
use robustdx_core::card::{Battery, CardInputs, Level, Provenance, RobustnessCard, assemble};
use robustdx_core::model::DiagnosticModel;
use robustdx_core::robustness::Shard;

use crate::backend::{self, BackendChoice, backend_name};
use crate::commands::analyze::{AnalyzeArgs, analysis};
use crate::commands::attack::{AttackArgs, sweep_job};
use crate::commands::benchmark::{BenchmarkArgs, benchmark};
use crate::commands::certify::{CertifyArgs, certify, training_sigma};
use crate::commands::merge::{self, Kind, MergeArgs};
use crate::data_args::DataArgs;
use crate::files::write_atomic;
use crate::model_file::load_model_hashed;

#[derive(Debug, Args)]
pub struct CardArgs {
    /// Model file written by robustdx
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// How much to run: quick (minutes on a CPU for a small model: 100 test images,
    /// AutoAttack at 1 and 4/255), standard (the study's protocol on every test image),
    /// full (everything); cards compare only at equal levels
    #[arg(long, default_value = "quick")]
    pub level: Level,
    /// Directory of card.json, card.html and each part's own result file (parts/)
    #[arg(long, default_value = "robustdx-card")]
    pub out: PathBuf,
    /// A GAP generator (robustdx gap train) against this model: GAP joins the sweep
    #[arg(long)]
    pub generator: Option<PathBuf>,
    /// Certify at these noise levels σ [default: the σ the model was trained at with
    /// --defense gaussian; none for other models]
    #[arg(long, value_delimiter = ',')]
    pub sigma: Vec<f64>,
    /// Keys every random draw of every part
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Reuse every part's results in OUT whose identity matches; compute the rest
    #[arg(long)]
    pub resume: bool,
    /// Run only part i of n (0 ≤ i < n) of the images into OUT/shards/; once every shard is
    /// done, the same command without --shard joins them and writes the card
    #[arg(long, conflicts_with = "reuse")]
    pub shard: Option<String>,
    /// Earlier results (robustdx attack, benchmark, certify or analyze --json) whose units the
    /// card reuses where their identity matches its own (same model file, images, settings, seed)
    #[arg(long, value_delimiter = ',')]
    pub reuse: Vec<PathBuf>,
}

/// The command-line flags of one part, parsed as the part's own command parses them.
#[derive(Parser)]
#[command(no_binary_name = true)]
struct PartFlags<T: Args> {
    #[command(flatten)]
    args: T,
}

fn parse<T: Args>(argv: &[String]) -> anyhow::Result<T> {
    Ok(PartFlags::<T>::try_parse_from(argv)?.args)
}

/// A command line as a person would type it (arguments with spaces or quotes quoted).
fn command_line(command: &str, argv: &[String]) -> String {
    let quoted = argv.iter().map(|a| {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
            format!("'{}'", a.replace('\'', "'\\''"))
        } else {
            a.clone()
        }
    });
    std::iter::once(format!("robustdx {command}"))
        .chain(quoted)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The four parts' result files in `dir`.
struct PartFiles {
    attack: PathBuf,
    benchmark: PathBuf,
    certify: PathBuf,
    analysis: PathBuf,
}

impl PartFiles {
    fn in_dir(dir: &Path) -> Self {
        Self {
            attack: dir.join("attack.json"),
            benchmark: dir.join("benchmark.json"),
            certify: dir.join("certify.json"),
            analysis: dir.join("analysis.json"),
        }
    }

    fn all(&self) -> [&PathBuf; 4] {
        [&self.attack, &self.benchmark, &self.certify, &self.analysis]
    }
}

/// How a part is run; `None` where its command line is shown to reproduce it alone.
#[derive(Debug, Clone, Copy)]
struct Running {
    shard: Option<Shard>,
    resume: bool,
}

/// The card's run: its settings decided, its parts' command lines built.
struct CardRun<'a> {
    args: &'a CardArgs,
    battery: Battery,
    data: DataArgs,
    sigmas: Vec<f64>,
    /// `--reuse`'s files with the command that wrote each.
    reuse: Vec<(Kind, PathBuf)>,
}

impl<'a> CardRun<'a> {
    fn new(args: &'a CardArgs, model: &DiagnosticModel) -> anyhow::Result<Self> {
        let battery = args.level.battery();
        let mut data = args.data.clone();
        data.test_images = data.test_images.or(battery.test_images);
        let sigmas = if args.sigma.is_empty() {
            training_sigma(model)?.into_iter().collect()
        } else {
            args.sigma.clone()
        };
        let reuse = args
            .reuse
            .iter()
            .map(|path| Ok((merge::kind_of(path)?, path.clone())))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            args,
            battery,
            data,
            sigmas,
            reuse,
        })
    }

    /// What every part of `kind` shares: the model, the images, the seed, its file and how it
    /// resumes.
    fn common(&self, kind: Kind, json: &Path, running: Option<Running>) -> Vec<String> {
        let mut argv = vec!["--model".into(), self.args.model.to_string_lossy().into()];
        argv.extend(self.data.to_flags());
        argv.extend([
            "--seed".into(),
            self.args.seed.to_string(),
            "--json".into(),
            json.to_string_lossy().into(),
        ]);
        let Some(running) = running else {
            return argv;
        };
        if running.resume {
            argv.push("--resume".into());
        }
        if let Some(shard) = running.shard {
            argv.extend(["--shard".into(), shard.to_string()]);
        }
        for (_, path) in self.reuse.iter().filter(|(k, _)| *k == kind) {
            argv.extend(["--reuse".into(), path.to_string_lossy().into()]);
        }
        argv
    }

    fn list<T: ToString>(values: &[T]) -> String {
        values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn attack_argv(&self, json: &Path, running: Option<Running>) -> anyhow::Result<Vec<String>> {
        let mut attacks: Vec<String> = self.battery.attacks.iter().map(|a| a.to_string()).collect();
        let mut argv = self.common(Kind::Sweep, json, running);
        if let Some(generator) = &self.args.generator {
            attacks.push(GenerativeAdversarialPerturbation::NAME.into());
            argv.extend(["--generator".into(), generator.to_string_lossy().into()]);
        }
        argv.extend([
            "--attack".into(),
            attacks.join(","),
            "--eps".into(),
            Self::list(&self.battery.eps),
        ]);
        // AutoAttack's version and members, as `--set` spells them (only AutoAttack has them).
        let autoattack = &self.battery.autoattack;
        if *autoattack != AutoAttackSettings::default() {
            let version = serde_json::to_value(autoattack.version)?;
            argv.extend([
                "--set".into(),
                format!("version={}", version.as_str().unwrap_or_default()),
                "--set".into(),
                format!("attacks={}", autoattack.attacks),
            ]);
        }
        Ok(argv)
    }

    fn benchmark_argv(&self, json: &Path, running: Option<Running>) -> Vec<String> {
        let mut argv = self.common(Kind::Benchmark, json, running);
        argv.extend(["--frames".into(), self.battery.frames.to_string()]);
        argv
    }

    fn certify_argv(&self, json: &Path, running: Option<Running>) -> Vec<String> {
        let settings = &self.battery.certify;
        let mut argv = self.common(Kind::Certification, json, running);
        argv.extend([
            "--sigma".into(),
            Self::list(&self.sigmas),
            "--n0".into(),
            settings.n0.to_string(),
            "--n".into(),
            settings.n.to_string(),
            "--alpha".into(),
            settings.alpha.to_string(),
        ]);
        argv
    }

    fn analysis_argv(&self, json: &Path, running: Option<Running>) -> Vec<String> {
        let mut argv = self.common(Kind::Analysis, json, running);
        argv.extend([
            "--attack".into(),
            robustdx_core::attack::DEFAULT_ATTACK.into(),
            "--eps".into(),
            self.battery.analysis_eps.to_string(),
            "--limit".into(),
            self.battery.analysis_images.to_string(),
            "--shown".into(),
            self.battery.shown.to_string(),
        ]);
        argv
    }

    /// Runs every part into `files`; returns their results.
    fn run_parts(
        &self,
        files: &PartFiles,
        shard: Option<Shard>,
        resume: bool,
        model: &DiagnosticModel,
        sha: &str,
        device: &burn::tensor::Device,
    ) -> anyhow::Result<Parts> {
        let running = Some(Running { shard, resume });
        let step = |name: &str| eprintln!("card: {name}");
        step("attack sweep");
        let attack: AttackArgs = parse(&self.attack_argv(&files.attack, running)?)?;
        let (attacks, _) = sweep_job(&attack.job(device)?, model, sha, device)?;
        step("Robust-Benchmark");
        let bench: BenchmarkArgs = parse(&self.benchmark_argv(&files.benchmark, running))?;
        let benchmark = benchmark(&bench, model, sha, device)?;
        let certification = if self.sigmas.is_empty() {
            None
        } else {
            step("certification");
            let cert: CertifyArgs = parse(&self.certify_argv(&files.certify, running))?;
            Some(certify(&cert, model, sha, device)?)
        };
        step("analysis");
        let analyze: AnalyzeArgs = parse(&self.analysis_argv(&files.analysis, running))?;
        let (inside, _) = analysis(&analyze, model, sha, device)?;
        Ok(Parts {
            attacks,
            benchmark,
            certification,
            inside,
        })
    }

    /// The command lines that reproduce each part of the card in `files`.
    fn commands(&self, files: &PartFiles) -> anyhow::Result<[String; 4]> {
        Ok([
            command_line("attack", &self.attack_argv(&files.attack, None)?),
            command_line("benchmark", &self.benchmark_argv(&files.benchmark, None)),
            command_line("certify", &self.certify_argv(&files.certify, None)),
            command_line("analyze", &self.analysis_argv(&files.analysis, None)),
        ])
    }
}

/// The parts' results.
struct Parts {
    attacks: robustdx_core::report::AttackReport,
    benchmark: robustdx_core::report::BenchmarkReport,
    certification: Option<robustdx_core::report::CertifyReport>,
    inside: robustdx_core::report::AnalysisReport,
}

/// The shard directories of a card in `out`: `shards/i-of-n`.
fn shard_dir(out: &Path, shard: Shard) -> PathBuf {
    out.join("shards")
        .join(format!("{}-of-{}", shard.index, shard.count))
}

/// Joins the parts of every shard in `out/shards/` into `parts`, when there are shards and the
/// joined files are not there yet. Returns whether it joined any.
fn join_shards(out: &Path, parts: &PartFiles) -> anyhow::Result<bool> {
    let dir = out.join("shards");
    if !dir.is_dir() {
        return Ok(false);
    }
    let mut shard_dirs: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    shard_dirs.sort();
    if shard_dirs.is_empty() {
        return Ok(false);
    }
    let mut joined = false;
    for whole in parts.all() {
        // Each shard's directory holds its parts under the whole card's file names.
        let name = whole.file_name().expect("part files are named");
        let pieces: Vec<PathBuf> = shard_dirs.iter().map(|d| d.join(name)).collect();
        if whole.exists() || !pieces.iter().any(|p| p.exists()) {
            continue;
        }
        eprintln!(
            "card: joining {} shards of {}",
            pieces.len(),
            name.to_string_lossy()
        );
        merge::run(MergeArgs {
            out: whole.clone(),
            shards: pieces,
            records: None,
            csv: None,
        })?;
        joined = true;
    }
    Ok(joined)
}

pub fn run(args: CardArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    let (model, sha) = load_model_hashed(&args.model, &device)?;
    let card_run = CardRun::new(&args, &model)?;
    let started = std::time::Instant::now();
    if let Some(text) = &args.shard {
        let shard = Shard::parse(text)?;
        let dir = shard_dir(&args.out, shard);
        let files = PartFiles::in_dir(&dir);
        card_run.run_parts(&files, Some(shard), args.resume, &model, &sha, &device)?;
        println!(
            "shard {shard} of the card written to {} ({:.0} s); once every shard is done, run \
             the same command without --shard to join them and write the card",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let files = PartFiles::in_dir(&args.out.join("parts"));
    // Joined shards are this card's results: they are reused whatever --resume says.
    let resume = join_shards(&args.out, &files)? || args.resume;
    let parts = card_run.run_parts(&files, None, resume, &model, &sha, &device)?;
    let card = card_of(&card_run, parts, &files, &device)?;
    let json = args.out.join("card.json");
    write_atomic(&json, card.to_json().as_bytes())?;
    let html = crate::card_report::write(&args.out, &card)?;
    println!(
        "{} on {} — {} card ({:.0} s)",
        args.model.display(),
        card.data.name,
        card.level,
        started.elapsed().as_secs_f64()
    );
    print!("{}", summary(&card));
    println!("card: {}\nreport: {}", json.display(), html.display());
    Ok(())
}

/// The card of the parts' results.
fn card_of(
    card_run: &CardRun,
    parts: Parts,
    files: &PartFiles,
    device: &burn::tensor::Device,
) -> anyhow::Result<RobustnessCard> {
    let splits = card_run.data.open()?;
    let test = splits.test.as_ref();
    let cam_images = parts
        .inside
        .findings
        .cams
        .iter()
        .map(|cam| Ok(test.get(cam.index)?.image))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The sweep fingerprinted the images it read, which are the card's: no second pass over them.
    let data_fingerprint = parts
        .attacks
        .results
        .iter()
        .find_map(|r| r.identity.as_ref()?.subject.data_fingerprint.clone())
        .ok_or_else(|| anyhow::anyhow!("the card's sweep recorded no data fingerprint"))?;
    let mut not_run = Vec::new();
    if parts.certification.is_none() {
        not_run.push(
            "certification: the model was not trained for randomized smoothing (--defense \
             gaussian); give --sigma to certify it anyway"
                .to_string(),
        );
    }
    if card_run.args.generator.is_none() {
        not_run.push("GAP: no --generator given (robustdx gap train makes one)".to_string());
    }
    Ok(assemble(CardInputs {
        level: card_run.args.level,
        attacks: parts.attacks,
        benchmark: parts.benchmark,
        certification: parts.certification,
        inside: parts.inside,
        cam_images,
        commands: card_run.commands(files)?,
        bootstrap: card_run.battery.bootstrap,
        not_run,
        provenance: Provenance {
            data_fingerprint,
            backend: backend_name(device).into(),
            created: crate::files::utc_now(),
        },
    })?)
}

/// The card's sentences for the terminal.
pub fn summary(card: &RobustnessCard) -> String {
    let mut out = format!("clean: {}\n", card.clean.verdict);
    let parts = [
        ("attacks", &card.attacks.verdicts),
        ("everyday changes", &card.benchmark.verdicts),
        ("inside", &card.inside.verdicts),
    ];
    for (name, verdicts) in parts {
        for verdict in verdicts {
            out.push_str(&format!("{name}: {verdict}\n"));
        }
    }
    if let Some(c) = &card.certification {
        for verdict in &c.verdicts {
            out.push_str(&format!("certified: {verdict}\n"));
        }
    }
    for flag in &card.sanity {
        out.push_str(&format!("sanity: {}\n", flag.message));
    }
    for missing in &card.not_run {
        out.push_str(&format!("not run: {missing}\n"));
    }
    out
}
