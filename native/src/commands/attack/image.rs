//! `robustdx attack --image FILE`: one image under one attack, pushed away from the model's own
//! decision, with the loss after every step. The browser page runs the same core function, so
//! the two give the same numbers (PGD starts at the image itself here, as it does there).

use std::path::Path;

use anyhow::Context;
use burn::tensor::Device;
use robustdx_core::attack::attack_info;
use robustdx_core::data::Image;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::registry::parse_assignments;
use robustdx_core::report::SingleImageReport;
use robustdx_core::robustness::{SingleImageSettings, attack_single_image};

use super::{AttackArgs, ConventionArg, NormArg};
use crate::files::{read, write_atomic};

/// The one attack and ε an image run takes, and the sweep options it refuses.
fn settings(args: &AttackArgs) -> anyhow::Result<SingleImageSettings> {
    let [kind] = &args.attack[..] else {
        anyhow::bail!("--image attacks with one --attack at a time");
    };
    let eps = match args.eps[..] {
        [] => 8.0,
        [eps] => eps,
        _ => anyhow::bail!("--image attacks at one --eps at a time"),
    };
    anyhow::ensure!(
        args.target.is_none() && !args.least_likely,
        "--image pushes the image away from the model's own decision: --target and \
         --least-likely are for sweeps"
    );
    anyhow::ensure!(
        args.norm == NormArg::Linf
            && args.convention == ConventionArg::Pixel
            && args.restarts.unwrap_or(1) == 1,
        "--image runs the pixel-space L∞ attack with one start"
    );
    let entry = attack_info(kind)?;
    let settings = SingleImageSettings {
        attack: entry.name.into(),
        eps,
        steps: args.steps.unwrap_or(10),
        step_size: args.step_size,
        random_start: false,
        settings: parse_assignments(entry.name, &entry.defaults(), &args.set)?,
    };
    settings.validate().context("--image")?;
    Ok(settings)
}

pub fn run(
    args: &AttackArgs,
    image_path: &Path,
    model: &DiagnosticModel,
    device: &Device,
) -> anyhow::Result<SingleImageReport> {
    let settings = settings(args)?;
    let name = image_path.to_string_lossy();
    let image = Image::decode_with(
        &read(image_path)?,
        &name,
        &args.data.dicom.decode_options()?,
    )?;
    let needs_generator = attack_info(&settings.attack)?.needs_generator;
    let generator = match (&args.generator, needs_generator) {
        (Some(path), true) => Some(crate::model_file::load_generator(path, device)?),
        (None, true) => anyhow::bail!("--attack {} needs --generator FILE", settings.attack),
        _ => None,
    };
    let outcome = futures_lite::future::block_on(attack_single_image(
        model,
        generator.as_ref(),
        image,
        &settings,
        device,
        |_| {},
    ))?;
    let mut report = outcome.report;
    report.backend = crate::backend::backend_name(device).into();
    report.model = args.model.to_string_lossy().into_owned();
    report.image = name.into_owned();
    println!(
        "{}: {} ({:.3}) → {} ({:.3}) under {} ε={}/255, ‖δ‖∞ = {:.2}/255",
        report.image,
        report.clean.label,
        report.clean.probs.iter().fold(0.0f32, |m, p| m.max(*p)),
        report.adversarial.label,
        report
            .adversarial
            .probs
            .iter()
            .fold(0.0f32, |m, p| m.max(*p)),
        settings.attack,
        settings.eps,
        report.linf
    );
    let curve: Vec<String> = report.loss.iter().map(|l| format!("{l:.4}")).collect();
    println!("loss: {}", curve.join(" "));
    if let Some(path) = &args.output.json {
        write_atomic(path, report.to_json().as_bytes())?;
    }
    Ok(report)
}
