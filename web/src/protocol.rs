//! Messages between the page and the worker, as JSON text (an uploaded image's bytes travel
//! beside the text as a `Uint8Array`).

use robustdx_core::certify::ImageCertificateReport;
use robustdx_core::report::{ColourScale, ImageSequenceReport, SingleImageReport};
use robustdx_core::robustness::SingleImageSettings;
use serde::{Deserialize, Serialize};

/// The largest image the page accepts, in bytes and in pixels per side: beyond these a decode
/// would take the tab's memory, not make a better demo.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
pub const MAX_SIDE: u32 = 8192;

/// Where the worker runs the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn-wgpu on the browser's WebGPU adapter.
    Webgpu,
    /// burn's CPU backend (flex) compiled to WebAssembly.
    Cpu,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Webgpu => "webgpu",
            BackendKind::Cpu => "cpu",
        }
    }
}

/// The image to attack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ImageSource {
    /// A shipped sample, fetched by the worker from the page's own origin.
    Url(String),
    /// The visitor's file: its bytes come with the message; never leaves the browser.
    Upload,
}

/// Page → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttackJob {
    pub id: u32,
    pub model_url: String,
    /// The GAP generator trained against this model, if there is one.
    pub generator_url: Option<String>,
    /// A name for messages and the record (a sample's file, the upload's file name).
    pub image_name: String,
    pub image: ImageSource,
    pub settings: SingleImageSettings,
    /// The colour scale Grad-CAM and attention maps are drawn in.
    #[serde(default)]
    pub colour_scale: ColourScale,
    /// A picture of every step, for replaying the attack step by step (otherwise at most one
    /// every 100 ms, which is all an animation needs).
    #[serde(default)]
    pub every_frame: bool,
}

/// Page → worker: one image's perturbation sequence and the model's decision on each frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceJob {
    pub id: u32,
    pub model_url: String,
    pub image_name: String,
    pub image: ImageSource,
    /// A kind of the core's registry (`gaussian_noise`, `rotate`, …).
    pub perturbation: String,
    pub frames: usize,
    /// Keys the draws, as `robustdx benchmark --image --seed` (the image is image 0).
    pub seed: u64,
}

/// Page → worker: one image's certificate by randomized smoothing (the core's `certify_image`,
/// as `robustdx certify --image` runs it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertifyJob {
    pub id: u32,
    pub model_url: String,
    pub image_name: String,
    pub image: ImageSource,
    /// The noise level, pixel units of [0, 1] images.
    pub sigma: f64,
    /// Selection copies.
    pub n0: u64,
    /// Estimation copies.
    pub n: u64,
    /// The probability that the certificate is wrong.
    pub alpha: f64,
    /// Keys the noise (the image is image 0 of its own run).
    pub seed: u64,
}

/// Page → worker, as JSON tagged by `job`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "lowercase")]
pub enum Job {
    Attack(AttackJob),
    Sequence(SequenceJob),
    Certify(CertifyJob),
}

impl Job {
    pub fn id(&self) -> u32 {
        match self {
            Job::Attack(j) => j.id,
            Job::Sequence(j) => j.id,
            Job::Certify(j) => j.id,
        }
    }
}

/// Pictures of an outcome, as PNG data URLs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pictures {
    pub clean: String,
    pub adversarial: String,
    pub perturbation: String,
    pub attention_clean: Vec<String>,
    pub attention_adversarial: Vec<String>,
    /// Grad-CAM before and after, laid over the images.
    pub cam_clean: String,
    pub cam_adversarial: String,
}

/// How long the worker took, for the page's footer and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Loading (and caching) the model and image.
    pub load_ms: f64,
    /// From the job's start to its result.
    pub total_ms: f64,
    /// Mean time per attack step, from the loaded model to the last step (for PGD: gradient,
    /// update, the read-back of the probabilities and, at most every 100 ms, a frame).
    pub per_step_ms: f64,
    /// Grad-CAM before and after the attack, with their overlays (attack jobs only): from the
    /// last step's frame to the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cam_ms: Option<f64>,
}

/// Worker → page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum WorkerMessage {
    /// Sent once, when the worker is ready for jobs.
    Ready {
        backend: BackendKind,
        /// The adapter, or why there is none.
        detail: String,
    },
    /// Step 0 is the clean image; the last step is the result.
    Step {
        id: u32,
        class_names: Vec<String>,
        step: usize,
        steps: usize,
        loss: f32,
        /// The iterate as a PNG data URL; absent on steps between two animation frames.
        adversarial: Option<String>,
        probs: Vec<f32>,
    },
    Done {
        id: u32,
        report: Box<SingleImageReport>,
        pictures: Box<Pictures>,
        timing: Timing,
    },
    /// A finished perturbation sequence: the record and each frame as a PNG data URL.
    Sequence {
        id: u32,
        report: Box<ImageSequenceReport>,
        frames: Vec<String>,
        timing: Timing,
    },
    /// A certificate under way: noisy copies counted of n0 + n.
    Counted {
        id: u32,
        counted: u64,
        total: u64,
    },
    /// A finished certificate: the record, the first noisy copies the model saw as PNG data
    /// URLs, and d, the values of the image as the model takes it (for ε·√d).
    Certified {
        id: u32,
        report: Box<ImageCertificateReport>,
        copies: Vec<String>,
        input_values: usize,
        timing: Timing,
    },
    Failed {
        id: u32,
        message: String,
    },
}
