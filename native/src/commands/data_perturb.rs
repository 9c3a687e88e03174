//! `robustdx data perturb`: one image's perturbation sequence as PNG files.

use std::path::PathBuf;

use clap::Args;

use crate::files::write_frames;

#[derive(Debug, Args)]
pub struct PerturbArgs {
    /// Perturbation kind (`robustdx perturbations` lists them)
    #[arg(long)]
    kind: String,
    /// Image file (PNG, JPEG, BMP, TIFF)
    #[arg(long)]
    image: PathBuf,
    /// Directory to write KIND_00.png, KIND_01.png, … into
    #[arg(long)]
    out: PathBuf,
    /// Frames in the sequence
    #[arg(long, default_value_t = 10)]
    frames: usize,
    /// Keys the random draws (as `benchmark --seed`; the image is image 0)
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// `robustdx data perturb`: one image's perturbation sequence as PNG files, at the image's size:
/// the frames a model of that input size sees (the benchmark's pipeline, surround and crop).
pub fn run(args: PerturbArgs) -> anyhow::Result<()> {
    use robustdx_core::data::Image;
    use robustdx_core::model::InputSpec;
    use robustdx_core::perturb::{MAX_FRAMES, SequenceKey, model_frames, perturbation};
    anyhow::ensure!(
        (1..=MAX_FRAMES).contains(&args.frames),
        "--frames {}: 1 to {MAX_FRAMES}",
        args.frames
    );
    let kind = perturbation(&args.kind)?;
    let name = args.image.to_string_lossy();
    let image = Image::decode(&crate::files::read(&args.image)?, &name)?;
    let input = InputSpec {
        height: image.height,
        width: image.width,
        ..InputSpec::with_default_stats(image.channels, image.height)
    };
    let frames = model_frames(
        &input,
        image,
        kind,
        args.frames,
        SequenceKey::new(args.seed, 0),
    );
    let written = write_frames(&args.out, kind.name(), &frames)?;
    println!(
        "{} frames of {} ({}) → {}",
        written,
        kind.name(),
        kind.schedule().describe(),
        args.out.display()
    );
    Ok(())
}
