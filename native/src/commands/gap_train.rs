//! `robustdx gap train`: a GAP generator (Poursaeed et al. 2018) trained against a frozen model.

use std::path::PathBuf;

use burn::tensor::Device;
use clap::{Args, ValueEnum};
use robustdx_core::attack::{GapSettings, GenerativeAdversarialPerturbation, GeneratorConfig};

use crate::backend::{self, BackendChoice};
use crate::data_args::{DataArgs, positive};
use crate::files::write_atomic;
use crate::model_file::load_model;
use crate::progress::bar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GeneratorKind {
    /// CycleGAN-style ResNet generator
    Resnet,
    /// U-Net with skip connections
    Unet,
}

#[derive(Debug, Args)]
pub struct GapTrainArgs {
    /// The model to attack (stays frozen)
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Generator file to write
    #[arg(long, default_value = "gap.bpk")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "resnet")]
    pub generator: GeneratorKind,
    /// One perturbation for every image (from fixed noise) instead of one per image
    #[arg(long)]
    pub universal: bool,
    /// L∞ budget in 1/255 pixel units
    #[arg(long, default_value_t = 8.0)]
    pub eps: f32,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 32, value_parser = positive)]
    pub batch_size: usize,
    /// Adam (β₁ 0.5) learning rate
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Generator width (channels of its first layer)
    #[arg(long)]
    pub width: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A generator's training with everything decided: what `gap train` runs once its flags are
/// read, and what `demo` runs.
pub struct GapJob {
    /// The model to attack (stays frozen).
    pub model: PathBuf,
    pub data: DataArgs,
    /// The generator file to write.
    pub out: PathBuf,
    pub generator: GeneratorKind,
    /// Channels of the generator's first layer; its default when absent.
    pub width: Option<usize>,
    /// L∞ budget in 1/255 pixel units.
    pub eps: f32,
    /// One perturbation for every image instead of one per image.
    pub universal: bool,
    pub epochs: usize,
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    pub seed: u64,
}

impl GapTrainArgs {
    pub fn job(&self) -> GapJob {
        GapJob {
            model: self.model.clone(),
            data: self.data.clone(),
            out: self.out.clone(),
            generator: self.generator,
            width: self.width,
            eps: self.eps,
            universal: self.universal,
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.lr,
            seed: self.seed,
        }
    }
}

impl GeneratorKind {
    /// The core's name of the architecture.
    fn name(self) -> &'static str {
        match self {
            GeneratorKind::Resnet => "resnet",
            GeneratorKind::Unet => "unet",
        }
    }
}

pub fn run(args: GapTrainArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    train_generator(&args.job(), &device)?;
    Ok(())
}

/// Trains the generator and writes it to the job's file; returns it.
pub fn train_generator(
    job: &GapJob,
    device: &Device,
) -> anyhow::Result<GenerativeAdversarialPerturbation> {
    let model = load_model(&job.model, device)?;
    let splits = job.data.open()?;
    let input = &model.card.input;
    let name = job.generator.name();
    let mut generator =
        GeneratorConfig::from_name(name, input.channels, [input.height, input.width])?;
    if let Some(width) = job.width {
        generator = generator.with_width(width);
    }
    let settings = GapSettings {
        universal: job.universal,
        epochs: job.epochs,
        batch_size: job.batch_size,
        learning_rate: job.learning_rate,
        seed: job.seed,
        ..GapSettings::new(generator, job.eps / 255.0)
    };
    let train = splits.train.as_ref();
    eprintln!(
        "training a {}{name} GAP generator (ε = {}/255) against {} on {} ({} images)",
        if job.universal { "universal " } else { "" },
        job.eps,
        job.model.display(),
        train.info().name,
        train.len()
    );
    let batches = train.len().div_ceil(job.batch_size.max(1));
    let progress = bar(batches * job.epochs, "GAP", "batch");
    let gap = robustdx_core::attack::train_generator(&model, train, &settings, device, &mut |p| {
        progress.inc(1);
        progress.set_message(format!("epoch {}/{} loss {:.4}", p.epoch, p.epochs, p.loss));
    })?;
    progress.finish_and_clear();
    write_atomic(&job.out, &gap.to_bytes()?)?;
    println!("generator written to {}", job.out.display());
    Ok(gap)
}
