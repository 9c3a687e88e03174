//! `robustdx benchmark`: the Robust-Benchmark — every test image under sequences of growing
//! everyday perturbations, and how often the model changes its mind along them (Flip
//! Probability). A table, a JSON record written after every kind (so `--resume` picks up a
//! stopped run), CSV, an HTML report, shards for clusters; `--image` shows one sequence.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::Args;
use robustdx_core::data::Image;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::perturb::{FlipVariant, RobustBenchmark, image_sequence, perturbations};
use robustdx_core::report::{BenchmarkIdentity, BenchmarkReport};

use crate::backend::{self, BackendChoice};
use crate::data_args::{DataArgs, positive};
use crate::files::{read, write_atomic};
use crate::model_file::load_model_hashed;
use crate::result_file::{RunOutput, TestSplitHead};

#[derive(Debug, Args)]
pub struct BenchmarkArgs {
    /// Model file written by robustdx
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Perturbation kinds, comma-separated [default: the seed's 14; `robustdx perturbations`
    /// lists them, and `shear_legacy`, which runs only when named]
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// Frames per sequence (the seed's 10; ImageNet-P's 31 at most)
    #[arg(long, default_value_t = 10)]
    pub frames: usize,
    /// Keys every random draw (noise, snow, spatter), per image: same seed, same frames for any
    /// batch size or shard
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Which multi-label Flip Probability the table leads with: normalized (per label, in
    /// [0, 1]) or paper (the seed study's ChestX-ray number, in [0, frames − 1]; `seed` is
    /// its older spelling); the JSON holds both
    #[arg(long, default_value = "normalized")]
    pub fp_variant: FlipVariant,
    /// Images per forward pass (each with all its frames)
    #[arg(long, default_value_t = 8, value_parser = positive)]
    pub batch_size: usize,
    #[command(flatten)]
    pub output: RunOutput,
    /// Also write one row per kind as CSV
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML report (index.html) into this directory
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// One image instead of a data set: its frames under one --kinds kind and the model's
    /// decision on each (--json: the page's record; --out DIR: the frames as PNG)
    #[arg(long, conflicts_with_all = ["resume", "csv", "report", "shard"])]
    pub image: Option<PathBuf>,
    /// With --image: write the frames here as PNG files
    #[arg(long, requires = "image")]
    pub out: Option<PathBuf>,
}

/// Runs the benchmark over the test split (or a shard of it).
pub fn benchmark(
    args: &BenchmarkArgs,
    model: &DiagnosticModel,
    model_sha256: &str,
    device: &Device,
) -> anyhow::Result<BenchmarkReport> {
    let shard = args.output.shard()?;
    let kinds = perturbations(&args.kinds)?;
    let splits = args.data.open()?;
    let test = splits.test.as_ref();
    let head = TestSplitHead::new(&args.model, model, model_sha256, &args.data, &splits, shard)?;
    let identities: Vec<BenchmarkIdentity> = kinds
        .iter()
        .map(|&kind| BenchmarkIdentity::new(kind, args.frames, head.subject(args.seed)))
        .collect();
    let file = args.output.open::<BenchmarkReport>(shard)?;
    let run = RobustBenchmark {
        model,
        data: test,
        shard,
        batch_size: args.batch_size,
        device,
    };
    let header = BenchmarkReport::new(
        head.model,
        head.data,
        args.frames,
        args.seed,
        args.fp_variant,
    );
    Ok(run.run(&identities, &file.previous, header, &mut file.events())?)
}

/// The benchmark's table for the terminal.
pub fn table(report: &BenchmarkReport) -> String {
    let seed = report.fp_variant == FlipVariant::Paper && report.model.task.is_multi_label();
    let fp_head = if seed { "FP (paper)" } else { "FP" };
    let mut out = format!(
        "{:<15} {:>8} {:>10} {:>10} {:>9}\n",
        "perturbation", "vs", fp_head, "last acc", "last AUC"
    );
    for r in &report.results {
        out.push_str(&format!(
            "{:<15} {:>8} {:>10.4} {:>10.3} {:>9}\n",
            r.perturbation,
            // The seed's multi-label variant counts every kind against the first frame.
            if seed { "first" } else { r.reference.name() },
            r.flip_probability(report.fp_variant),
            r.last_frame.accuracy,
            r.last_frame
                .auc_macro
                .map_or("-".into(), |a| format!("{a:.3}"))
        ));
    }
    out.push_str(&format!(
        "{:<15} {:>8} {:>10.4}\n",
        "mean",
        "",
        report.mean_flip_probability()
    ));
    out
}

pub fn run(args: BenchmarkArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    let (model, model_sha256) = load_model_hashed(&args.model, &device)?;
    if let Some(image) = &args.image {
        return run_image(&args, image, &model, &device);
    }
    let started = std::time::Instant::now();
    let report = benchmark(&args, &model, &model_sha256, &device)?;
    let images = report.results.first().map_or(0, |r| r.records.len());
    println!(
        "{} on {} ({} images × {} kinds × {} frames, {:.1} s)",
        args.model.display(),
        report.data.name,
        images,
        report.results.len(),
        report.frames,
        started.elapsed().as_secs_f64()
    );
    print!("{}", table(&report));
    if let Some(path) = &args.csv {
        write_atomic(path, report.to_csv().as_bytes())?;
    }
    if let Some(dir) = &args.report {
        let splits = args.data.open()?;
        let index = crate::benchmark_report::write(dir, &report, &model, splits.test.as_ref())?;
        println!("report: {}", index.display());
    }
    Ok(())
}

/// `--image`: one sequence, its decisions and flips.
fn run_image(
    args: &BenchmarkArgs,
    path: &Path,
    model: &DiagnosticModel,
    device: &Device,
) -> anyhow::Result<()> {
    let [kind] = &perturbations(&args.kinds)?[..] else {
        anyhow::bail!("--image shows one perturbation: give one --kinds kind");
    };
    let name = path.to_string_lossy();
    let image = Image::decode_with(&read(path)?, &name, &args.data.dicom.decode_options()?)?;
    let (frames, mut report) = futures_lite::future::block_on(image_sequence(
        model,
        image,
        *kind,
        args.frames,
        args.seed,
        device,
    ))?;
    report.backend = crate::backend::backend_name(device).into();
    report.model = args.model.to_string_lossy().into_owned();
    report.image = name.into_owned();
    for (i, f) in report.frames.iter().enumerate() {
        let top = f.probs.iter().fold(0.0f32, |m, p| m.max(*p));
        println!("frame {i:>2}: {} ({top:.3})", f.label);
    }
    println!(
        "{} on {}: {} of {} frames flipped (vs the {} frame), FP {:.3}",
        report.perturbation,
        report.image,
        report.flips,
        report.frames.len() - 1,
        report.reference.name(),
        report.flip_probability
    );
    if let Some(dir) = &args.out {
        crate::files::write_frames(dir, kind.name(), &frames)?;
    }
    if let Some(json) = &args.output.json {
        write_atomic(json, report.to_json().as_bytes())?;
    }
    Ok(())
}
