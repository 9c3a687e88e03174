use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use anyhow::Context;
use burn::tensor::Device;
use clap::{Args, ValueEnum};
use robustdx_core::data::{DataSplits, Dataset, Subset, holdout_split};
use robustdx_core::defense::{DefenseSpec, defense_entry};
use robustdx_core::metrics;
use robustdx_core::model::{DiagnosticModel, architecture};
use robustdx_core::registry::parse_assignments;
use robustdx_core::robustness::sha256_hex;
use robustdx_core::train::{
    ClassificationLoss, OptimizerKind, RecipeChange, ResumeRefusal, Schedule, Selection,
    TrainConfig, Trainer, TrainingRecipe, check_compatible, predict,
};
use serde_json::{Map, Value, json};

use crate::backend::{self, BackendChoice};
use crate::commands::attack::ConventionArg;
use crate::data_args::{DataArgs, positive};
use crate::files::{read, write_atomic};
use crate::progress::bar;

/// The architecture `train` builds when `--model` is not given.
pub const DEFAULT_ARCHITECTURE: &str = "small-cnn";

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Architecture (see `robustdx models`)
    #[arg(long, default_value = DEFAULT_ARCHITECTURE)]
    model: String,
    /// Model file to write (burnpack with its model card); the per-epoch checkpoint goes next to
    /// it as FILE.ckpt
    #[arg(long, default_value = "model.bpk")]
    out: PathBuf,
    /// Epochs in all [default: 3; with --resume: the run's own]
    #[arg(long)]
    epochs: Option<usize>,
    /// [default: 32; with --resume: the run's own]
    #[arg(long, value_parser = positive)]
    batch_size: Option<usize>,
    /// Peak learning rate, cosine decay to 0 over the run [default: 0.002; with --resume: the
    /// run's own]
    #[arg(long)]
    lr: Option<f64>,
    /// adam | sgd (momentum 0.9) [default: adam]
    #[arg(long)]
    optimizer: Option<OptimizerKind>,
    /// SGD: Nesterov momentum (the seed's melanoma recipe: --optimizer sgd --nesterov
    /// --weight-decay 1e-4 --lr-schedule step)
    #[arg(long)]
    nesterov: bool,
    /// L2 weight decay (PyTorch's weight_decay) [default: 0]
    #[arg(long)]
    weight_decay: Option<f64>,
    /// cosine: decay to 0 over the run; step: ×--lr-factor every --lr-step epochs [default:
    /// cosine]
    #[arg(long, value_enum)]
    lr_schedule: Option<LrSchedule>,
    /// step schedule: epochs between decays
    #[arg(long, default_value_t = 10)]
    lr_step: usize,
    /// step schedule: factor of each decay
    #[arg(long, default_value_t = 0.1)]
    lr_factor: f64,
    /// ce (cross-entropy; BCE for multi-label) | focal [default: ce]
    #[arg(long)]
    loss: Option<String>,
    /// focal loss: the focusing exponent γ
    #[arg(long, default_value_t = 2.0)]
    gamma: f32,
    /// Training objective, by its registry name (`robustdx defenses` lists them) [default:
    /// clean]
    #[arg(long)]
    defense: Option<String>,
    /// Any setting of the defense, as KEY=VALUE (repeatable; `robustdx defenses` lists each
    /// defense's settings); the setting flags below are shorthands
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Units of the defense's ε and step sizes and of --select robust's ε: pixel (1/255 of
    /// [0, 1] pixels) or paper (1/255 of normalised values, as the seed's code trained; with
    /// its ISIC std that is 0.09–0.15 of the pixel budget) [default: pixel; with --resume: the
    /// run's own]
    #[arg(long, value_enum)]
    convention: Option<ConventionArg>,
    /// Defense: L∞ radius of the inner attack, in 1/255 (of --convention's units) [pgd-at, mart,
    /// trades: 8]
    #[arg(long)]
    eps: Option<f64>,
    /// Defense: steps of the inner attack [pgd-at 10, mart 4, trades 10]
    #[arg(long)]
    attack_steps: Option<usize>,
    /// Defense: step size of the inner attack, in 1/255 [pgd-at ε/4, mart and trades 1.785,
    /// mpadvt 1]
    #[arg(long)]
    attack_step_size: Option<f64>,
    /// Defense: weight of the robustness term [mart, trades: 6]
    #[arg(long)]
    beta: Option<f64>,
    /// Defense: standard deviation of the Gaussian noise, in [0, 1] pixel units: the σ the model
    /// is then smoothed and certified at (`robustdx certify`) [gaussian: 0.25]
    #[arg(long)]
    sigma: Option<f64>,
    /// Random resized crops, flips and 90° rotations of the training images (seeded)
    #[arg(long)]
    augment: bool,
    /// Class-balanced sampling (with replacement)
    #[arg(long)]
    balance: bool,
    /// Share of the train split held out for validation (model selection); 0.1 when --select
    /// asks for a score and this is not given
    #[arg(long)]
    pub val: Option<f64>,
    /// Which epoch becomes the model: last | clean (best validation accuracy / macro AUC) |
    /// robust (best under PGD at --select-eps) [default: last]
    #[arg(long, value_enum)]
    select: Option<SelectBy>,
    /// robust selection: ε in 1/255 (of --convention's units) [the defense's ε, else 4]
    #[arg(long)]
    select_eps: Option<f64>,
    /// robust selection: PGD steps
    #[arg(long, default_value_t = 4)]
    select_steps: usize,
    /// Side of the square model input; images are resized to it (default: the architecture's,
    /// e.g. 224; with --tiny, its small size)
    #[arg(long)]
    image_size: Option<usize>,
    /// Width (channels of the first layer); default: the architecture's
    #[arg(long)]
    width: Option<usize>,
    /// The architecture's narrow CPU-sized variant (its tiny width and input size)
    #[arg(long, conflicts_with = "width")]
    tiny: bool,
    /// Data parallelism: each batch cut into N equal parts, one model replica per part, their
    /// gradients summed for one step. On the CPU the replicas share its one device, each part
    /// on a thread of its own; on wgpu they are GPUs. Batch norm normalises each part on its
    /// own, so the count is part of the recipe [default: 1; with --resume: the run's own]
    #[arg(long, value_parser = positive, value_name = "N")]
    devices: Option<usize>,
    /// Seeds weight initialisation and shuffling: same seed, same model
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Continue from FILE.ckpt with the run's own settings (--epochs, --batch-size, --lr override
    /// them)
    #[arg(long)]
    resume: bool,
    /// Start from this model's weights instead of fresh ones: fine-tuning (e.g. adversarial
    /// fine-tuning of an imported torchvision model with --defense pgd-at). Its architecture,
    /// input size, normalisation and classes are kept; the data must have the same classes
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["tiny", "width", "image_size", "resume"])]
    init: Option<PathBuf>,
    /// Skip the test-split evaluation after each epoch
    #[arg(long)]
    pub no_eval: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LrSchedule {
    Cosine,
    Step,
}

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum SelectBy {
    Last,
    Clean,
    Robust,
}

impl TrainArgs {
    /// The defense the flags describe over `base`: `--defense` (else the base's), with `base`'s
    /// settings when it is the same defense and the setting flags given on top; each flag must
    /// be a setting of that defense.
    fn defense_over(&self, base: &DefenseSpec) -> anyhow::Result<DefenseSpec> {
        let entry = defense_entry(self.defense.as_deref().unwrap_or(&base.defense))?;
        let name = entry.name;
        let mut settings = match defense_entry(&base.defense).is_ok_and(|b| b.name == name) {
            true => base.settings.clone(),
            false => Map::new(),
        };
        settings.extend(parse_assignments(name, &entry.defaults(), &self.set)?);
        for (flag, key, value) in [
            ("--eps", "eps", self.eps.map(|v| json!(v))),
            (
                "--attack-steps",
                "steps",
                self.attack_steps.map(|v| json!(v)),
            ),
            (
                "--attack-step-size",
                "step_size",
                self.attack_step_size.map(|v| json!(v)),
            ),
            ("--beta", "beta", self.beta.map(|v| json!(v))),
            ("--sigma", "sigma", self.sigma.map(|v| json!(v))),
        ] {
            if let Some(value) = value {
                anyhow::ensure!(
                    entry.defaults().contains_key(key),
                    "{flag} is not a setting of --defense {name} (its settings: {})",
                    describe_settings(&entry.defaults())
                );
                // JSON has no NaN or infinity: serde_json makes them null, which would read as
                // "absent" (a step size) or as a type error naming no flag.
                anyhow::ensure!(!value.is_null(), "{flag} must be a finite number");
                settings.insert(key.into(), value);
            }
        }
        let convention = self
            .convention
            .map_or(base.convention, ConventionArg::convention);
        Ok(DefenseSpec::in_convention(name, convention, &settings)?)
    }

    /// `base` with every setting the user gave a flag for: a fresh run's recipe over the
    /// defaults, or what a resumed run is asked to be over the run's own.
    pub fn over(&self, base: &TrainConfig) -> anyhow::Result<TrainConfig> {
        let r = &base.recipe;
        let defense = self.defense_over(&r.defense)?;
        let select = match self.select {
            None => base.select,
            Some(SelectBy::Last) => Selection::Last,
            Some(SelectBy::Clean) => Selection::Clean,
            Some(SelectBy::Robust) => Selection::Robust {
                eps: match self.select_eps {
                    Some(eps) => eps as f32,
                    None => defense.build()?.training_eps().unwrap_or(4.0),
                },
                steps: self.select_steps,
                convention: defense.convention,
            },
        };
        let loss = match &self.loss {
            Some(name) => ClassificationLoss::parse(name, self.gamma)?,
            None => r.loss,
        };
        let schedule = match self.lr_schedule {
            None => r.schedule,
            Some(LrSchedule::Cosine) => Schedule::Cosine,
            Some(LrSchedule::Step) => Schedule::Step {
                every: self.lr_step,
                factor: self.lr_factor,
            },
        };
        let config = TrainConfig {
            epochs: self.epochs.unwrap_or(base.epochs),
            batch_size: self.batch_size.unwrap_or(base.batch_size),
            learning_rate: self.lr.unwrap_or(base.learning_rate),
            optimizer: self.optimizer.unwrap_or(base.optimizer),
            seed: base.seed,
            recipe: TrainingRecipe {
                defense,
                loss,
                schedule,
                weight_decay: self.weight_decay.unwrap_or(r.weight_decay),
                // A switch given turns the setting on; absent, the base's stands.
                nesterov: self.nesterov || r.nesterov,
                augment: self.augment || r.augment,
                balance: self.balance || r.balance,
                fine_tuned_from: r.fine_tuned_from.clone(),
                devices: self.devices.unwrap_or(r.devices),
            },
            select,
        };
        config.validate()?;
        Ok(config)
    }
}

impl TrainArgs {
    /// The new model the flags describe.
    pub fn shape(&self) -> ModelShape {
        ModelShape {
            architecture: self.model.clone(),
            image_size: self.image_size,
            width: self.width,
            tiny: self.tiny,
        }
    }

    /// A fresh run's configuration over `base` (whose seed is replaced by `--seed`).
    pub fn fresh_config(&self, base: TrainConfig) -> anyhow::Result<TrainConfig> {
        self.over(&TrainConfig {
            seed: self.seed,
            ..base
        })
    }
}

/// The model a fresh run starts from.
#[derive(Debug, Clone)]
pub struct ModelShape {
    /// Its registry name (`robustdx models`).
    pub architecture: String,
    /// Side of the square input; the architecture's (or its tiny size) when absent.
    pub image_size: Option<usize>,
    /// Channels of the first layer; the architecture's when absent.
    pub width: Option<usize>,
    /// The architecture's narrow CPU-sized variant.
    pub tiny: bool,
}

/// Where a run starts.
pub enum Start {
    /// A new model.
    New(ModelShape),
    /// An earlier run, read from its checkpoint ([`read_checkpoint`]).
    Resume(Box<Trainer>),
    /// The weights of a model file (`--init`), fine-tuned.
    FineTune(Box<DiagnosticModel>),
}

/// A training run with everything decided: what `train` runs once its flags are read, and what
/// `demo` and `compare defenses` run.
pub struct TrainJob {
    pub data: DataSplits,
    /// Seeds the validation hold-out (`--split-seed`).
    pub split_seed: u64,
    /// The model file; the checkpoint is FILE.ckpt.
    pub out: PathBuf,
    pub start: Start,
    /// The configuration (a resumed run continues with it: the same recipe, or a refusal).
    pub config: TrainConfig,
    /// Share of the train split held out for validation; 0.1 when selection needs one.
    pub val: Option<f64>,
    /// Evaluate on the test split after each epoch.
    pub eval: bool,
}

fn checkpoint_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".ckpt");
    PathBuf::from(name)
}

/// The run whose checkpoint is next to the model file `out`, to continue.
pub fn read_checkpoint(out: &Path, device: &Device) -> anyhow::Result<Trainer> {
    let checkpoint = checkpoint_path(out);
    let bytes = read(&checkpoint).context("--resume needs the checkpoint of an earlier run")?;
    Ok(Trainer::resume(
        &bytes,
        &checkpoint.to_string_lossy(),
        device,
    )?)
}

/// Whether the model file `out` has the checkpoint of an unfinished (or finished) run.
pub fn has_checkpoint(out: &Path) -> bool {
    checkpoint_path(out).exists()
}

pub fn run(args: TrainArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let data = args.data.open()?;
    let device = backend::select(backend)?;
    let (start, config) = match args.resume {
        true => {
            let trainer = read_checkpoint(&args.out, &device)?;
            // Flags given now lay over the run's own settings; the core keeps its recipe.
            let config = args.over(&trainer.config)?;
            (Start::Resume(Box::new(trainer)), config)
        }
        false => match &args.init {
            None => (
                Start::New(args.shape()),
                args.fresh_config(TrainConfig::default())?,
            ),
            Some(path) => {
                let bytes = read(path)?;
                let model = DiagnosticModel::from_bytes(&bytes, &path.to_string_lossy(), &device)?;
                let mut config = args.fresh_config(TrainConfig::default())?;
                config.recipe.fine_tuned_from = Some(sha256_hex(&bytes));
                (Start::FineTune(Box::new(model)), config)
            }
        },
    };
    let job = TrainJob {
        data,
        split_seed: args.data.split_seed,
        out: args.out,
        start,
        config,
        val: args.val,
        eval: !args.no_eval,
    };
    train(job, &device)?;
    Ok(())
}

/// Trains (or continues) the run, writing the checkpoint after every epoch and the model file at
/// the end; returns the model written.
pub fn train(job: TrainJob, device: &Device) -> anyhow::Result<DiagnosticModel> {
    let checkpoint = checkpoint_path(&job.out);
    // A resumed run keeps selecting the way it started.
    let selects = match &job.start {
        Start::Resume(trainer) => trainer.config.select != Selection::Last,
        Start::New(_) | Start::FineTune(_) => job.config.select != Selection::Last,
    };
    let (train, validation) =
        validation_split(job.val, job.split_seed, job.data.train.clone(), selects)?;
    let (train, test) = (train.as_ref(), job.data.test.as_ref());
    anyhow::ensure!(
        !train.is_empty(),
        "{}: the train split is empty",
        train.info().name
    );

    let mut trainer = match job.start {
        Start::Resume(mut trainer) => {
            let name = checkpoint.to_string_lossy();
            let continued = match trainer.continue_with(&train.info().name, job.config) {
                Ok(continued) => continued,
                Err(ResumeRefusal::OtherData { run, asked }) => {
                    anyhow::bail!("{name}: the checkpoint was trained on {run}, not {asked}")
                }
                Err(ResumeRefusal::Recipe(RecipeChange {
                    setting,
                    asked,
                    run,
                })) => anyhow::bail!(
                    "{name}: the run trains with --{setting} {run}; resuming with --{setting} {asked} would change it mid-run (start a new run with another --out)"
                ),
            };
            let said: Vec<String> = continued
                .iter()
                .map(|c| match c.changed() {
                    false => format!("--{} {}", c.setting, c.was),
                    true => format!("--{} {} (the run had {})", c.setting, c.now, c.was),
                })
                .collect();
            eprintln!(
                "resuming {name} after epoch {} of {}: {}",
                trainer.epoch,
                trainer.config.epochs,
                said.join(", ")
            );
            *trainer
        }
        Start::New(shape) => {
            device.seed(job.config.seed);
            let info = architecture(&shape.architecture)?;
            let (width, size) = match shape.tiny {
                true => (Some(info.tiny_width), info.tiny_size),
                false => (shape.width, info.input_size),
            };
            let model = DiagnosticModel::create(
                &shape.architecture,
                train.info(),
                shape.image_size.unwrap_or(size),
                width,
                device,
            )?;
            Trainer::new(model, job.config, &train.info().name, device)?
        }
        Start::FineTune(model) => {
            device.seed(job.config.seed);
            // Checked before the first epoch too; here the message can say how to mend it.
            check_compatible(&model, train).map_err(|e| {
                anyhow::anyhow!(
                    "--init: {e} (import the model with --classes {} in its head's order, or \
                     train a fresh one)",
                    train.info().class_names.join(",")
                )
            })?;
            Trainer::new(*model, job.config, &train.info().name, device)?
        }
    };
    trainer.place_replicas(backend::replicas(device, trainer.config.recipe.devices)?)?;
    let config = &trainer.config;
    eprintln!(
        "training {} ({} parameters, {}x{} input) on {} ({} images, {} task, classes: {})",
        trainer.model().card.architecture.name(),
        trainer.model().parameters(),
        trainer.model().card.input.height,
        trainer.model().card.input.width,
        train.info().name,
        train.len(),
        train.info().task,
        train.info().class_names.join(", ")
    );
    eprintln!(
        "objective: {}, {}{}{}; keeps {}",
        config.recipe.defense.describe(),
        config.recipe.loss.describe(),
        if config.recipe.augment {
            ", augmented"
        } else {
            ""
        },
        if config.recipe.balance {
            ", class-balanced"
        } else {
            ""
        },
        config.select.describe()
    );
    anyhow::ensure!(
        config.select == Selection::Last || validation.is_some(),
        "--select {} needs a validation split (--val 0.1)",
        if config.select == Selection::Clean {
            "clean"
        } else {
            "robust"
        }
    );
    while !trainer.is_finished() {
        let epoch = trainer.epoch + 1;
        let progress = bar(
            train.len(),
            &format!("epoch {epoch}/{}", trainer.config.epochs),
            "img",
        );
        let started = Instant::now();
        let stats = trainer.train_epoch(train, &mut |p| {
            progress.set_position(p.samples as u64);
            // The loss is read every few batches (LOSS_READ_EVERY); NaN until the first read.
            if p.loss.is_finite() {
                progress.set_message(format!("loss {:.4}", p.loss));
            }
        })?;
        progress.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        let mut line = format!(
            "epoch {epoch}/{}: loss {:.4}, {:.1} s, {:.0} img/s",
            trainer.config.epochs,
            stats.mean_loss,
            seconds,
            stats.samples as f64 / seconds
        );
        if let Some(validation) = &validation {
            let progress = bar(validation.len(), "validating", "img");
            let score = trainer.select(validation.as_ref(), &mut |done, _| {
                progress.set_position(done as u64)
            })?;
            progress.finish_and_clear();
            if let Some(score) = score {
                line += &format!(", validation {score:.3}");
                if trainer.best().is_some_and(|b| b.epoch == epoch) {
                    line += " (best so far)";
                }
            }
        }
        write_atomic(&checkpoint, &trainer.checkpoint()?)?;
        if job.eval && !test.is_empty() {
            let model = trainer.finish(train.len());
            let m = metrics::evaluate(&predict(&model, test, 64, device, &mut |_, _| {})?)?;
            line += &format!(", test accuracy {:.3}", m.accuracy);
            if let Some(auc) = m.auc_macro {
                line += &format!(", macro AUC {auc:.3}");
            }
        }
        eprintln!("{line}");
    }
    let model = trainer.selected(train.len());
    if let Some(best) = trainer.best() {
        eprintln!(
            "kept epoch {} of {} ({}: {:.3})",
            best.epoch,
            trainer.epoch,
            trainer.config.select.describe(),
            best.score
        );
    }
    write_atomic(&job.out, &model.to_bytes()?)?;
    println!("model written to {}", job.out.display());
    Ok(model)
}

/// The train split, and the validation split model selection scores on: `--val` of the train
/// split held out (seeded by --split-seed), 10 % when selection needs one and none was asked for.
type Splits = (Arc<dyn Dataset>, Option<Arc<dyn Dataset>>);

fn validation_split(
    val: Option<f64>,
    split_seed: u64,
    train: Arc<dyn Dataset>,
    selects: bool,
) -> anyhow::Result<Splits> {
    let fraction = match (val, selects) {
        (Some(fraction), _) => fraction,
        (None, false) => return Ok((train, None)),
        (None, true) => 0.1,
    };
    anyhow::ensure!(
        fraction > 0.0 && fraction < 1.0,
        "--val must be in (0, 1), got {fraction}"
    );
    let (keep, held) = holdout_split(train.len(), fraction, split_seed)?;
    anyhow::ensure!(
        !held.is_empty() && !keep.is_empty(),
        "{}: --val {fraction} of {} images leaves an empty split",
        train.info().name,
        train.len()
    );
    // The name carries what made the split, so a resumed run on another split is refused.
    let label = format!(
        "{}% held out for validation, split seed {}",
        fraction * 100.0,
        split_seed
    );
    let validation: Arc<dyn Dataset> = Arc::new(Subset::new(train.clone(), held, "validation"));
    Ok((Arc::new(Subset::new(train, keep, &label)), Some(validation)))
}

/// `eps=8, steps=4, …`, or `none`, for error messages and the listing.
pub fn describe_settings(settings: &Map<String, Value>) -> String {
    match settings.is_empty() {
        true => "none".into(),
        false => robustdx_core::attack::describe_settings(settings),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use robustdx_core::defense::{CleanTraining, GaussianAugmentation};

    use super::*;

    #[derive(Parser)]
    struct Train {
        #[command(flatten)]
        args: TrainArgs,
    }

    /// The defense `train FLAGS` asks for, over clean training.
    fn defense(flags: &[&str]) -> anyhow::Result<DefenseSpec> {
        let args = Train::try_parse_from(std::iter::once("train").chain(flags.iter().copied()))?;
        args.args.defense_over(&DefenseSpec::default())
    }

    #[test]
    fn sigma_is_the_shorthand_of_gaussian_augmentations_setting() {
        let gaussian = GaussianAugmentation::NAME;
        let by_flag = defense(&["--defense", gaussian, "--sigma", "0.5"]).unwrap();
        let by_set = defense(&["--defense", gaussian, "--set", "sigma=0.5"]).unwrap();
        assert_eq!(by_flag, by_set);
        assert_eq!(by_flag.smoothing_sigma().unwrap(), Some(0.5));
        let default = defense(&["--defense", gaussian]).unwrap();
        assert_eq!(default.smoothing_sigma().unwrap(), Some(0.25));

        let err = defense(&["--sigma", "0.5"]).unwrap_err().to_string();
        let want = format!(
            "--sigma is not a setting of --defense {}",
            CleanTraining::NAME
        );
        assert!(err.contains(&want), "{err}");
        let err = format!(
            "{:#}",
            defense(&["--defense", gaussian, "--sigma", "5"]).unwrap_err()
        );
        assert!(err.contains("sigma must be > 0 and ≤ 4"), "{err}");
        for not_a_number in ["nan", "inf"] {
            let err = defense(&["--defense", gaussian, "--sigma", not_a_number])
                .unwrap_err()
                .to_string();
            assert!(err.contains("--sigma must be a finite number"), "{err}");
        }
    }
}
