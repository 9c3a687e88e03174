//! `robustdx gap train`: a GAP generator (Poursaeed et al. 2018) trained against a frozen model.

use std::path::PathBuf;

use burn::tensor::Device;
use clap::{Args, ValueEnum};
use robustdx_core::attack::{GapSettings, GenerativeAdversarialPerturbation, GeneratorConfig};

use crate::backend::{self, BackendChoice};
use crate::data_args::{DataArgs, positive};
use crate::eval::load_model;
use crate::files::{read, write_atomic};
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

pub fn train(args: GapTrainArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    train_on(&args, &device)
}

/// Trains and writes the generator; shared with `robustdx demo`.
pub fn train_on(args: &GapTrainArgs, device: &Device) -> anyhow::Result<()> {
    let model = load_model(&args.model, device)?;
    let splits = args.data.open()?;
    let input = &model.card.input;
    let name = match args.generator {
        GeneratorKind::Resnet => "resnet",
        GeneratorKind::Unet => "unet",
    };
    let mut generator =
        GeneratorConfig::from_name(name, input.channels, [input.height, input.width])?;
    if let Some(width) = args.width {
        generator = generator.with_width(width);
    }
    let settings = GapSettings {
        universal: args.universal,
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.seed,
        ..GapSettings::new(generator, args.eps / 255.0)
    };
    let train = splits.train.as_ref();
    eprintln!(
        "training a {}{name} GAP generator (ε = {}/255) against {} on {} ({} images)",
        if args.universal { "universal " } else { "" },
        args.eps,
        args.model.display(),
        train.info().name,
        train.len()
    );
    let batches = train.len().div_ceil(args.batch_size.max(1));
    let progress = bar(batches * args.epochs, "GAP", "batch");
    let gap = robustdx_core::attack::train_generator(&model, train, &settings, device, &mut |p| {
        progress.inc(1);
        progress.set_message(format!("epoch {}/{} loss {:.4}", p.epoch, p.epochs, p.loss));
    })?;
    progress.finish_and_clear();
    write_atomic(&args.out, &gap.to_bytes()?)?;
    println!("generator written to {}", args.out.display());
    Ok(())
}

/// Reads a generator file onto `device`.
pub fn load(
    path: &std::path::Path,
    device: &Device,
) -> anyhow::Result<GenerativeAdversarialPerturbation> {
    generator_from_bytes(&read(path)?, path, device)
}

fn generator_from_bytes(
    bytes: &[u8],
    path: &std::path::Path,
    device: &Device,
) -> anyhow::Result<GenerativeAdversarialPerturbation> {
    Ok(GenerativeAdversarialPerturbation::from_bytes(
        bytes,
        &path.to_string_lossy(),
        device,
    )?)
}

/// A generator file and the SHA-256 of its bytes (what result identities name it by), from one
/// read.
pub fn load_hashed(
    path: &std::path::Path,
    device: &Device,
) -> anyhow::Result<(GenerativeAdversarialPerturbation, String)> {
    let bytes = read(path)?;
    let generator = generator_from_bytes(&bytes, path, device)?;
    Ok((generator, robustdx_core::robustness::sha256_hex(&bytes)))
}
