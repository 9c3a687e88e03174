//! `robustdx certify`: randomized smoothing's certified robustness (Cohen et al. 2019) — every
//! test image's smoothed decision with a certified L2 radius, and the certified accuracy at
//! fixed radii, per noise level σ. A table, a JSON record written after every σ (so `--resume`
//! picks up a stopped run), CSV, an HTML report, shards for clusters; `--image` certifies one.

use std::path::{Path, PathBuf};

use clap::Args;
use robustdx_core::certify::{
    CertifyRun, CertifySettings, DEFAULT_RADII, certify_image, default_copies_per_batch,
};
use robustdx_core::data::Image;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::report::{CertifyIdentity, CertifyReport, certify_verdict};

use crate::backend::{self, BackendChoice};
use crate::data_args::{DataArgs, positive};
use crate::files::{read, write_atomic};
use crate::model_file::load_model_hashed;
use crate::result_file::{RunOutput, TestSplitHead};
use crate::text_table::{Align, aligned};

#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// Model file written by robustdx (best trained with --defense gaussian at the same σ)
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Noise levels σ, comma-separated, in pixel units of [0, 1] images (Cohen et al.: 0.12,
    /// 0.25, 0.5, 1.0) [default: the σ the model was trained at with --defense gaussian]
    #[arg(long, value_delimiter = ',')]
    pub sigma: Vec<f64>,
    /// Noisy copies per image that pick the class to certify
    #[arg(long, default_value_t = 100)]
    pub n0: u64,
    /// Noisy copies per image that bound its probability (more copies, larger radii)
    #[arg(long, default_value_t = 100_000)]
    pub n: u64,
    /// The probability that a certificate is wrong
    #[arg(long, default_value_t = 0.001)]
    pub alpha: f64,
    /// Keys every image's noise: same seed, same records for any batch size or shard
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Noisy copies per forward pass [default: about a million input values' worth, at
    /// most 1 000]
    #[arg(long, value_parser = positive)]
    pub batch_size: Option<usize>,
    /// L2 radii the table reports certified accuracy at, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub radii: Vec<f64>,
    #[command(flatten)]
    pub output: RunOutput,
    /// Also write certified accuracy per σ and radius as CSV
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML report (index.html) into this directory
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// One image instead of a data set: its votes, bound and radius at one --sigma (--json:
    /// the page's record; --out DIR: the first noisy copies as PNG)
    #[arg(long, conflicts_with_all = ["resume", "csv", "report", "shard"])]
    pub image: Option<PathBuf>,
    /// With --image: write the first noisy copies the model saw here as PNG files
    #[arg(long, requires = "image")]
    pub out: Option<PathBuf>,
}

impl CertifyArgs {
    fn settings(&self) -> anyhow::Result<CertifySettings> {
        let settings = CertifySettings {
            n0: self.n0,
            n: self.n,
            alpha: self.alpha,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// `--sigma`, or the σ the model was trained to be smoothed at.
    fn sigmas(&self, model: &DiagnosticModel) -> anyhow::Result<Vec<f64>> {
        if !self.sigma.is_empty() {
            for &sigma in &self.sigma {
                robustdx_core::certify::check_sigma(sigma)?;
            }
            return Ok(self.sigma.clone());
        }
        training_sigma(model)?.map(|s| vec![s]).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: give --sigma (the model was not trained for smoothing with --defense gaussian, so it names no σ)",
                self.model.display()
            )
        })
    }

    fn copies_per_batch(&self, model: &DiagnosticModel) -> usize {
        let input = &model.card.input;
        self.batch_size
            .unwrap_or_else(|| default_copies_per_batch(input.values()))
    }
}

/// The σ `model` was trained to be smoothed at (`--defense gaussian`); `None` for a model trained
/// otherwise, imported or untrained.
pub fn training_sigma(model: &DiagnosticModel) -> anyhow::Result<Option<f64>> {
    let trained = match &model.card.training {
        Some(training) => training.recipe.defense.smoothing_sigma()?,
        None => None,
    };
    // Through its decimal text, so that a card's 0.12 (an f32) is the 0.12 a user types.
    Ok(trained.map(|s| s.to_string().parse::<f64>()).transpose()?)
}

/// Certifies the test split (or a shard of it) at every σ asked.
pub fn certify(
    args: &CertifyArgs,
    model: &DiagnosticModel,
    model_sha256: &str,
    device: &burn::tensor::Device,
) -> anyhow::Result<CertifyReport> {
    let settings = args.settings()?;
    let sigmas = args.sigmas(model)?;
    let radii = if args.radii.is_empty() {
        DEFAULT_RADII.to_vec()
    } else {
        args.radii.clone()
    };
    robustdx_core::certify::check_radii(&radii)?;
    let shard = args.output.shard()?;
    let splits = args.data.open()?;
    let test = splits.test.as_ref();
    let head = TestSplitHead::new(&args.model, model, model_sha256, &args.data, &splits, shard)?;
    let identities: Vec<CertifyIdentity> = sigmas
        .iter()
        .map(|&sigma| CertifyIdentity::new(sigma, &settings, head.subject(args.seed)))
        .collect();
    let file = args.output.open::<CertifyReport>(shard)?;
    let run = CertifyRun {
        model,
        data: test,
        shard,
        copies_per_batch: args.copies_per_batch(model),
        device,
    };
    let header = CertifyReport::new(head.model, head.data, &settings, args.seed, radii);
    Ok(run.run(&identities, &file.previous, header, &mut file.events())?)
}

/// The certification's table for the terminal: per σ, abstentions, the largest radius its n
/// allows and certified accuracy at each radius.
pub fn table(report: &CertifyReport) -> String {
    let (head, rows) = report.table();
    let mut out = aligned(&head, &rows, Align::Right);
    out.push_str(&format!(
        "certified accuracy: correct and certified at least that far (L2, pixel units); n0 {}, n {}, α {}\n",
        report.n0, report.n, report.alpha
    ));
    for result in &report.results {
        out.push_str(&certify_verdict(report, result));
        out.push('\n');
    }
    out
}

pub fn run(args: CertifyArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    let (model, model_sha256) = load_model_hashed(&args.model, &device)?;
    if let Some(image) = &args.image {
        return run_image(&args, image, &model, &device);
    }
    let started = std::time::Instant::now();
    let report = certify(&args, &model, &model_sha256, &device)?;
    let images = report.results.first().map_or(0, |r| r.records.len());
    println!(
        "{} on {} ({} images × {} σ × {} copies, {:.1} s)",
        args.model.display(),
        report.data.name,
        images,
        report.results.len(),
        report.n0 + report.n,
        started.elapsed().as_secs_f64()
    );
    print!("{}", table(&report));
    if let Some(path) = &args.csv {
        write_atomic(path, report.to_csv().as_bytes())?;
    }
    if let Some(dir) = &args.report {
        let index = crate::certify_report::write(dir, &report)?;
        println!("report: {}", index.display());
    }
    Ok(())
}

/// `--image`: one image's certificate.
fn run_image(
    args: &CertifyArgs,
    path: &Path,
    model: &DiagnosticModel,
    device: &burn::tensor::Device,
) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let [sigma] = args.sigmas(model)?[..] else {
        anyhow::bail!("--image certifies at one noise level: give one --sigma");
    };
    let name = path.to_string_lossy();
    let image = Image::decode_with(&read(path)?, &name, &args.data.dicom.decode_options()?)?;
    let (mut report, copies) = futures_lite::future::block_on(certify_image(
        model,
        image,
        sigma,
        &settings,
        args.seed,
        args.copies_per_batch(model),
        4,
        device,
        &mut |_| {},
    ))?;
    report.backend = crate::backend::backend_name(device).into();
    report.model = args.model.to_string_lossy().into_owned();
    report.image = name.into_owned();
    for (head, (votes, name)) in report.heads.iter().zip(
        report
            .estimation
            .heads
            .iter()
            .zip(head_names(&report.class_names, report.multi_label)),
    ) {
        println!(
            "{name}: votes {votes:?}, guess {}, p̲A {:.4}, radius {}",
            head.guess,
            head.p_lower,
            head.radius.map_or("abstains".into(), |r| format!("{r:.4}"))
        );
    }
    println!(
        "{} at σ {sigma}: {} (n0 {}, n {}, α {})",
        report.image,
        match (&report.decision, report.radius) {
            (Some(d), Some(r)) => format!("{d}, certified within L2 radius {r:.4}"),
            _ => "abstains (p̲A < ½)".into(),
        },
        report.n0,
        report.n,
        report.alpha
    );
    if let Some(dir) = &args.out {
        crate::files::write_frames(dir, "noisy", &copies)?;
    }
    if let Some(json) = &args.output.json {
        write_atomic(json, report.to_json().as_bytes())?;
    }
    Ok(())
}

/// What each vote head is: "classes" for a single-label model, each finding's name otherwise.
fn head_names(class_names: &[String], multi_label: bool) -> Vec<String> {
    if multi_label {
        class_names.to_vec()
    } else {
        vec![format!("classes ({})", class_names.join(", "))]
    }
}
