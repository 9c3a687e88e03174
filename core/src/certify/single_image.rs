//! "Certify this image": one image's CERTIFY with everything a person looking at it wants — the
//! votes, the bound, the radius, the decision in words and a few of the noisy copies the model
//! saw. The page and `robustdx certify --image` both make it here, so their numbers agree.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::certificate::HeadCertificate;
use super::smoothed::{CertifySettings, Draw, NoiseKey, Smoothed};
use super::votes::Votes;
use crate::Result;
use crate::data::Image;
use crate::model::DiagnosticModel;
use crate::report::{SCHEMA_VERSION, ToolInfo};

/// One image's certificate, as the page shows it and `robustdx certify --image --json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageCertificateReport {
    /// [`SCHEMA_VERSION`] when written; checked first when read.
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// Where it ran: `webgpu` or `cpu` in a browser, `wgpu` or `cpu` natively.
    pub backend: String,
    /// The model file as the user named it.
    pub model: String,
    /// The image file as the user named it.
    pub image: String,
    /// The noise level (pixel units of [0, 1] images).
    pub sigma: f64,
    /// Selection copies.
    pub n0: u64,
    /// Estimation copies.
    pub n: u64,
    /// The probability that the certificate is wrong.
    pub alpha: f64,
    /// Keys the noise (the image is image 0 of its own run).
    pub seed: u64,
    /// Class (or finding) names, the order of the votes.
    pub class_names: Vec<String>,
    /// Whether the heads are findings (multi-label) rather than one class choice.
    pub multi_label: bool,
    /// The selection copies' votes.
    pub selection: Votes,
    /// The estimation copies' votes.
    pub estimation: Votes,
    /// Per head: the guess, its bound p̲_A and radius.
    pub heads: Vec<HeadCertificate>,
    /// The smoothed decision in words; `None`: it abstains.
    pub decision: Option<String>,
    /// The certified L2 radius of the whole decision (the smallest finding's); `None`: abstains.
    pub radius: Option<f64>,
}

impl ImageCertificateReport {
    /// Pretty-printed JSON, the form result files take.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// Parses a record, checking its schema version. `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        crate::report::parse_versioned(text, file, "image certificate")
    }
}

/// CERTIFY on one image at `sigma` with the noise of `seed` (the image is image 0 of its own
/// run), `batch_size` copies per forward pass; `progress` hears copies counted of n0 + n. Also
/// returns the first `show` selection copies, clamped to [0, 1] for display (the model saw them
/// unclamped).
#[allow(clippy::too_many_arguments)]
pub async fn certify_image(
    model: &DiagnosticModel,
    image: Image,
    sigma: f64,
    settings: &CertifySettings,
    seed: u64,
    batch_size: usize,
    show: usize,
    device: &Device,
    progress: &mut dyn FnMut(u64),
) -> Result<(ImageCertificateReport, Vec<Image>)> {
    let smoothed = Smoothed::new(model, sigma)?;
    let key = NoiseKey { seed, index: 0 };
    let prepared = smoothed.prepare(image.clone());
    let shown = (show as u64).min(settings.n0);
    let copies = smoothed
        .noisy_copies(&prepared, key, Draw::Selection, 0..shown)
        .chunks(prepared.pixels.len())
        .map(|p| {
            let pixels = p.iter().map(|v| v.clamp(0.0, 1.0)).collect();
            Image::new(prepared.channels, prepared.height, prepared.width, pixels)
        })
        .collect();
    let result = smoothed
        .certify(image, key, settings, batch_size, device, progress)
        .await?;
    let card = &model.card;
    let multi_label = card.task.is_multi_label();
    let report = ImageCertificateReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo::this(),
        backend: String::new(),
        model: String::new(),
        image: String::new(),
        sigma,
        n0: settings.n0,
        n: settings.n,
        alpha: settings.alpha,
        seed,
        class_names: card.class_names.clone(),
        multi_label,
        decision: result
            .certificate
            .decision(multi_label)
            .map(|d| d.describe(&card.class_names)),
        radius: result.certificate.radius(),
        heads: result.certificate.heads,
        selection: result.selection,
        estimation: result.estimation,
    };
    Ok((report, copies))
}
