//! `robustdx predict`: class probabilities for image files.

use std::path::PathBuf;

use clap::Args;
use robustdx_core::data::dicom::{DicomFrames, dicom_frame_count, is_dicom};
use robustdx_core::data::{DecodeOptions, Image};
use robustdx_core::report::{ImagePrediction, ModelSummary, PredictReport};

use crate::backend::{self, BackendChoice};
use crate::data_args::DicomArgs;
use crate::files::read;
use crate::model_file::load_model;

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model file written by robustdx
    #[arg(long)]
    model: PathBuf,
    /// Images (PNG, JPEG, BMP, TIFF, DICOM)
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    dicom: DicomArgs,
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

/// One image to predict: a file, or one frame of a multi-frame DICOM file
/// (`--dicom-frames all`, named `FILE#FRAME`).
pub struct ImageFile {
    pub path: PathBuf,
    pub name: String,
    pub options: DecodeOptions,
}

impl ImageFile {
    /// The file's image at the model's input size (decoded, then shrunk at once).
    pub fn load(&self, input: &robustdx_core::model::InputSpec) -> anyhow::Result<Image> {
        let bytes = read(&self.path)?;
        Ok(input.prepare(Image::decode_with(&bytes, &self.name, &self.options)?))
    }
}

/// The images `paths` hold, as `dicom` asks.
pub fn image_files(paths: &[PathBuf], dicom: &DicomArgs) -> anyhow::Result<Vec<ImageFile>> {
    let options = dicom.decode_options()?;
    let all_frames = dicom.frames()? == DicomFrames::All;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let name = path.to_string_lossy().into_owned();
        let frames = if all_frames {
            let bytes = read(path)?;
            if is_dicom(&bytes) {
                dicom_frame_count(&bytes, &name)?
            } else {
                1
            }
        } else {
            1
        };
        for frame in 0..frames {
            files.push(ImageFile {
                path: path.clone(),
                name: if frames > 1 {
                    format!("{name}#{frame}")
                } else {
                    name.clone()
                },
                options: DecodeOptions {
                    dicom_frame: frame,
                    ..options
                },
            });
        }
    }
    Ok(files)
}

pub fn run(args: PredictArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let files = image_files(&args.images, &args.dicom)?;
    let device = backend::select(backend)?;
    let model = load_model(&args.model, &device)?;
    // A chunk at a time, each image shrunk to the model's input as it is read: memory stays
    // bounded for long lists and large files. Nothing is printed before every file has been
    // read, so a bad file fails the command without partial output.
    let mut predictions = Vec::with_capacity(files.len());
    for chunk in files.chunks(CHUNK) {
        let images = chunk
            .iter()
            .map(|f| f.load(&model.card.input))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (file, probs) in chunk.iter().zip(model.predict_images(images, &device)?) {
            predictions.push(ImagePrediction::new(&file.name, &model.card, &probs));
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
    for file in image_files(&args.images, &args.dicom)? {
        let (path, name) = (&file.path, &file.name);
        let image = file.load(&model.card.input)?;
        let images = images_to_tensor(&[&image], device);
        let (maps, explained) =
            futures_lite::future::block_on(grad_cam(model, images, target, device))?;
        let stem = path
            .file_stem()
            .map_or("image".into(), |s| s.to_string_lossy());
        // Frames of one file get their own maps.
        let stem = match name.rsplit_once('#') {
            Some((_, frame)) if name.len() > path.to_string_lossy().len() => {
                format!("{stem}#{frame}")
            }
            _ => stem.into_owned(),
        };
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
