use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use robustdx_core::Label;
use robustdx_core::data::preview::contact_sheet;
use robustdx_core::robustness::finding_names;

use crate::data_args::DataArgs;
use crate::files::write_atomic;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Split {
    Train,
    Test,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    data: DataArgs,
    /// PNG file to write
    #[arg(long, default_value = "preview.png")]
    out: PathBuf,
    /// Number of images
    #[arg(long, default_value_t = 24)]
    count: usize,
    /// Images per row
    #[arg(long, default_value_t = 6)]
    columns: usize,
    #[arg(long, value_enum, default_value = "train")]
    split: Split,
}

pub fn run(args: PreviewArgs) -> anyhow::Result<()> {
    let splits = args.data.open()?;
    let dataset = match args.split {
        Split::Train => splits.train,
        Split::Test => splits.test,
    };
    let samples = (0..args.count.min(dataset.len()))
        .map(|i| dataset.get(i))
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(
        !samples.is_empty(),
        "{}: no images to preview",
        dataset.info().name
    );
    let sheet = contact_sheet(&samples, &dataset.info().class_names, args.columns.max(1));
    write_atomic(&args.out, &sheet.encode_png())?;
    println!(
        "{} images of {} -> {}",
        samples.len(),
        dataset.info().name,
        args.out.display()
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Directory to write: one sub-folder per class (readable again as folder:DIR); multi-label
    /// sets get flat files and a labels.csv
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// At most this many images, from the start of the split
    #[arg(long)]
    limit: Option<usize>,
}

/// Writes a data set's images as PNG files: a synthetic set becomes an ordinary image folder
/// (for other tools, for the browser page's samples).
pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let splits = args.data.open()?;
    let dataset = match args.split {
        Split::Train => splits.train,
        Split::Test => splits.test,
    };
    let info = dataset.info().clone();
    let count = args.limit.unwrap_or(usize::MAX).min(dataset.len());
    let mut csv = String::from("image,labels\n");
    for i in 0..count {
        let sample = dataset.get(i)?;
        let file = format!("{i:05}.png");
        let path = match &sample.label {
            Label::Class(c) => args.out.join(&info.class_names[*c]).join(&file),
            Label::Findings(f) => {
                let on = finding_names(f, &info.class_names);
                csv.push_str(&format!("{file},{}\n", on.join("|")));
                args.out.join(&file)
            }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the directory", dir.display()))?;
        }
        write_atomic(&path, &sample.image.encode_png())?;
    }
    if info.task.is_multi_label() {
        write_atomic(&args.out.join("labels.csv"), csv.as_bytes())?;
    }
    println!("{count} images of {} -> {}", info.name, args.out.display());
    Ok(())
}

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

/// `robustdx data perturb`: one image's perturbation sequence as PNG files, at the image's size.
pub fn perturb(args: PerturbArgs) -> anyhow::Result<()> {
    use robustdx_core::data::Image;
    use robustdx_core::perturb::{MAX_FRAMES, SequenceKey, perturbation};
    anyhow::ensure!(
        (1..=MAX_FRAMES).contains(&args.frames),
        "--frames {}: 1 to {MAX_FRAMES}",
        args.frames
    );
    let kind = perturbation(&args.kind)?;
    let name = args.image.to_string_lossy();
    let image = Image::decode(&crate::files::read(&args.image)?, &name)?;
    let frames = kind.sequence(&image, args.frames, SequenceKey::new(args.seed, 0));
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

/// `frames` as `dir/KIND_00.png`, …; returns how many.
pub fn write_frames(
    dir: &std::path::Path,
    kind: &str,
    frames: &[robustdx_core::data::Image],
) -> anyhow::Result<usize> {
    for (i, frame) in frames.iter().enumerate() {
        write_atomic(&dir.join(format!("{kind}_{i:02}.png")), &frame.encode_png())?;
    }
    Ok(frames.len())
}
