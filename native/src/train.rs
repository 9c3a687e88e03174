use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use robustdx_core::metrics;
use robustdx_core::model::{DiagnosticModel, architecture};
use robustdx_core::train::{OptimizerKind, TrainConfig, Trainer, predict};

use crate::backend::{self, BackendChoice};
use crate::data_args::DataArgs;
use crate::files::{read, write_atomic};
use crate::progress::bar;

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Architecture (see `robustdx models`)
    #[arg(long, default_value = "small-cnn")]
    model: String,
    /// Model file to write (burnpack with its model card); the per-epoch checkpoint goes next to
    /// it as FILE.ckpt
    #[arg(long, default_value = "model.bpk")]
    out: PathBuf,
    /// Epochs in all [default: 3; with --resume: the run's own]
    #[arg(long)]
    epochs: Option<usize>,
    /// [default: 32; with --resume: the run's own]
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate, cosine decay to 0 over the run [default: 0.002; with --resume: the
    /// run's own]
    #[arg(long)]
    lr: Option<f64>,
    /// adam | sgd (momentum 0.9)
    #[arg(long, default_value = "adam")]
    optimizer: OptimizerKind,
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
    /// Seeds weight initialisation and shuffling: same seed, same model
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Continue from FILE.ckpt with the run's own settings (--epochs, --batch-size, --lr override
    /// them)
    #[arg(long)]
    resume: bool,
    /// Skip the test-split evaluation after each epoch
    #[arg(long)]
    no_eval: bool,
}

impl TrainArgs {
    /// `base` with the epochs, batch size and learning rate the user gave.
    fn over(&self, base: &TrainConfig) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs.unwrap_or(base.epochs),
            batch_size: self.batch_size.unwrap_or(base.batch_size),
            learning_rate: self.lr.unwrap_or(base.learning_rate),
            ..base.clone()
        }
    }
}

fn checkpoint_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".ckpt");
    PathBuf::from(name)
}

pub fn run(args: TrainArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let splits = args.data.open()?;
    let (train, test) = (splits.train.as_ref(), splits.test.as_ref());
    anyhow::ensure!(
        !train.is_empty(),
        "{}: the train split is empty",
        train.info().name
    );
    let device = backend::select(backend)?;
    let checkpoint = checkpoint_path(&args.out);

    let mut trainer = if args.resume {
        let name = checkpoint.to_string_lossy();
        let bytes = read(&checkpoint).context("--resume needs the checkpoint of an earlier run")?;
        let mut trainer = Trainer::resume(&bytes, &name, &device)?;
        anyhow::ensure!(
            trainer.data_name() == train.info().name,
            "{name}: the checkpoint was trained on {}, not {}",
            trainer.data_name(),
            train.info().name
        );
        let own = trainer.config.clone();
        let config = args.over(&own);
        config.validate()?;
        let said: Vec<String> = [
            (
                "--epochs",
                config.epochs.to_string(),
                own.epochs.to_string(),
            ),
            (
                "--batch-size",
                config.batch_size.to_string(),
                own.batch_size.to_string(),
            ),
            (
                "--lr",
                config.learning_rate.to_string(),
                own.learning_rate.to_string(),
            ),
        ]
        .into_iter()
        .map(|(flag, now, was)| match now == was {
            true => format!("{flag} {was}"),
            false => format!("{flag} {now} (the run had {was})"),
        })
        .collect();
        eprintln!(
            "resuming {name} after epoch {} of {}: {}",
            trainer.epoch,
            config.epochs,
            said.join(", ")
        );
        trainer.config = config;
        trainer
    } else {
        let config = TrainConfig {
            optimizer: args.optimizer,
            seed: args.seed,
            ..args.over(&TrainConfig::default())
        };
        config.validate()?;
        device.seed(args.seed);
        let info = architecture(&args.model)?;
        let (width, size) = match args.tiny {
            true => (Some(info.tiny_width), info.tiny_size),
            false => (args.width, info.input_size),
        };
        let model = DiagnosticModel::create(
            &args.model,
            train.info(),
            args.image_size.unwrap_or(size),
            width,
            &device,
        )?;
        Trainer::new(model, config, &train.info().name, &device)?
    };

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
            progress.set_message(format!("loss {:.4}", p.loss));
        })?;
        progress.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        write_atomic(&checkpoint, &trainer.checkpoint()?)?;
        let mut line = format!(
            "epoch {epoch}/{}: loss {:.4}, {:.1} s, {:.0} img/s",
            trainer.config.epochs,
            stats.mean_loss,
            seconds,
            stats.samples as f64 / seconds
        );
        if !args.no_eval && !test.is_empty() {
            let model = trainer.finish(train.len());
            let m = metrics::evaluate(&predict(&model, test, 64, &device, &mut |_, _| {})?)?;
            line += &format!(", test accuracy {:.3}", m.accuracy);
            if let Some(auc) = m.auc_macro {
                line += &format!(", macro AUC {auc:.3}");
            }
        }
        eprintln!("{line}");
    }
    let model = trainer.finish(train.len());
    write_atomic(&args.out, &model.to_bytes()?)?;
    println!("model written to {}", args.out.display());
    Ok(())
}
