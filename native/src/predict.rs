//! `robustdx predict`: class probabilities for image files.

use std::path::PathBuf;

use clap::Args;
use robustdx_core::data::Image;
use robustdx_core::report::{ImagePrediction, ModelSummary, PredictReport};

use crate::backend::{self, BackendChoice};
use crate::eval::load_model;
use crate::files::read;

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model file written by robustdx
    #[arg(long)]
    model: PathBuf,
    /// Images (PNG, JPEG, BMP, TIFF)
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print the predictions as JSON (versioned schema) instead of a table
    #[arg(long)]
    json: bool,
    /// Also write each image's Grad-CAM map, laid over the image, as DIR/NAME.cam.png (the map
    /// explains the decision, or --cam-class)
    #[arg(long)]
    cam: Option<PathBuf>,
    /// The class (single-label) or finding (multi-label) index the maps explain
    #[arg(long, requires = "cam")]
    cam_class: Option<usize>,
}

/// Images per forward pass: bounds memory for long file lists.
const CHUNK: usize = 16;

pub fn run(args: PredictArgs, backend: BackendChoice) -> anyhow::Result<()> {
    // Decode everything first: a bad file fails the command before any output.
    let images = args
        .images
        .iter()
        .map(|path| Ok(Image::decode(&read(path)?, &path.to_string_lossy())?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let device = backend::select(backend)?;
    let model = load_model(&args.model, &device)?;
    let mut predictions = Vec::with_capacity(images.len());
    let mut names = args.images.iter();
    let mut images = images.into_iter().peekable();
    while images.peek().is_some() {
        let chunk: Vec<Image> = images.by_ref().take(CHUNK).collect();
        for probs in model.predict_images(chunk, &device)? {
            let name = names.next().expect("one name per image").to_string_lossy();
            predictions.push(ImagePrediction::new(&name, &model.card, &probs));
        }
    }
    if let Some(dir) = &args.cam {
        write_cams(&args, dir, &model, &device)?;
    }
    if args.json {
        let summary = ModelSummary::new(&args.model.to_string_lossy(), &model.card);
        let report = PredictReport::new(summary, predictions);
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let classes = &model.card.class_names;
    let width = classes.iter().map(|c| c.len().max(6)).collect::<Vec<_>>();
    print!("{:<32} {:<16}", "image", "prediction");
    for (class, w) in classes.iter().zip(&width) {
        print!(" {class:>w$}");
    }
    println!();
    for p in &predictions {
        print!("{:<32} {:<16}", p.image, p.predicted.join("+"));
        for (c, w) in p.probabilities.iter().zip(&width) {
            print!(" {:>w$.4}", c.probability);
        }
        println!();
    }
    Ok(())
}

/// `--cam DIR`: each image's Grad-CAM map over the image as the model sees it.
fn write_cams(
    args: &PredictArgs,
    dir: &std::path::Path,
    model: &robustdx_core::model::DiagnosticModel,
    device: &burn::tensor::Device,
) -> anyhow::Result<()> {
    use robustdx_core::analysis::{CamTarget, grad_cam};
    use robustdx_core::data::images_to_tensor;
    let target = args
        .cam_class
        .map_or(CamTarget::Predicted, CamTarget::Class);
    for path in &args.images {
        let name = path.to_string_lossy();
        let image = model
            .card
            .input
            .prepare(Image::decode(&read(path)?, &name)?);
        let images = images_to_tensor(&[&image], device);
        let (maps, explained) =
            futures_lite::future::block_on(grad_cam(model, images, target, device))?;
        let stem = path
            .file_stem()
            .map_or("image".into(), |s| s.to_string_lossy());
        let out = dir.join(format!("{stem}.cam.png"));
        let overlay = robustdx_core::report::heatmap_overlay(&image, &maps[0]);
        crate::files::write_atomic(&out, &overlay.encode_png())?;
        eprintln!(
            "{name}: Grad-CAM for {} → {}",
            model.card.class_names[explained[0]],
            out.display()
        );
    }
    Ok(())
}
