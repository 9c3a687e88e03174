//! The worker side: picks the backend once (WebGPU when the browser offers an adapter, else
//! burn's CPU backend), loads models and images, runs attacks and posts every step back to the
//! page. Everything here runs off the page's thread; every device read is asynchronous.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Array, Reflect, Uint8Array};
use robustdx_core::attack::GenerativeAdversarialPerturbation;
use robustdx_core::certify::{CertifySettings, certify_image, default_copies_per_batch};
use robustdx_core::data::Image;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::perturb::{image_sequence, perturbation};
use robustdx_core::report::{ColourScale, heatmap_overlay_in, png_data_url};
use robustdx_core::robustness::attack_single_image;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, Response};

use crate::protocol::{
    AttackJob, BackendKind, CertifyJob, ImageSource, Job, MAX_SIDE, MAX_UPLOAD_BYTES, Pictures,
    SequenceJob, Timing, WorkerMessage,
};

/// The shortest time between two animation frames: a fast model shows every step, a slow one
/// (or a large image) does not spend its time encoding pictures nobody can follow.
const FRAME_INTERVAL_MS: f64 = 100.0;

/// The noisy copies a certificate shows: enough to see what the model saw.
const SHOWN_COPIES: usize = 4;

struct Engine {
    device: Device,
    backend: BackendKind,
    models: HashMap<String, Rc<DiagnosticModel>>,
    generators: HashMap<String, Rc<GenerativeAdversarialPerturbation>>,
}

impl Engine {
    fn device_and_backend(&self) -> (Device, BackendKind) {
        (self.device.clone(), self.backend)
    }
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &WorkerMessage) {
    let text = serde_json::to_string(message).expect("messages serialise");
    // Posting to our own page cannot fail short of the page being gone.
    let _ = scope().post_message(&JsValue::from_str(&text));
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn js_error(value: JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Asks the browser for a WebGPU adapter first (so a missing one is a plain answer, not an
/// error deep in wgpu), then lets burn-wgpu take it.
async fn choose_backend() -> (Device, BackendKind, String) {
    let navigator = scope().navigator();
    let gpu = Reflect::get(&navigator, &JsValue::from_str("gpu")).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return (
            Device::flex(),
            BackendKind::Cpu,
            "this browser has no WebGPU".into(),
        );
    }
    let request = Reflect::get(&gpu, &JsValue::from_str("requestAdapter"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(&gpu).ok())
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
    let adapter = match request {
        Some(promise) => JsFuture::from(promise).await.unwrap_or(JsValue::NULL),
        None => JsValue::NULL,
    };
    if adapter.is_null() || adapter.is_undefined() {
        return (
            Device::flex(),
            BackendKind::Cpu,
            "the browser offers no WebGPU adapter".into(),
        );
    }
    let described = describe_adapter(&adapter);
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, _)) => (device, BackendKind::Webgpu, described),
        Err(e) => (
            Device::flex(),
            BackendKind::Cpu,
            format!("WebGPU could not start on {described}: {e}"),
        ),
    }
}

/// "vendor architecture (description)", and whether it is a software fallback, from the
/// adapter's `info` (browsers may blank these out for privacy).
fn describe_adapter(adapter: &JsValue) -> String {
    let info = Reflect::get(adapter, &JsValue::from_str("info")).unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| {
        Reflect::get(&info, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let flag = |target: &JsValue| {
        Reflect::get(target, &JsValue::from_str("isFallbackAdapter"))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let mut words: Vec<String> = [field("vendor"), field("architecture"), field("description")]
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect();
    words.dedup();
    let mut text = if words.is_empty() {
        "the browser's adapter".to_string()
    } else {
        words.join(" ")
    };
    if flag(&info) || flag(adapter) {
        text.push_str(" (a software fallback adapter: correct but slow)");
    }
    text
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = JsFuture::from(scope().fetch_with_str(url))
        .await
        .map_err(|e| format!("{url}: cannot fetch: {}", js_error(e)))?;
    let response: Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(
        response
            .array_buffer()
            .map_err(|e| format!("{url}: {}", js_error(e)))?,
    )
    .await
    .map_err(|e| format!("{url}: {}", js_error(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Decodes an image, refusing what is too large before spending memory on it; one more than
/// twice the model's input (`fit`: height, width) is shrunk to it while still 8 or 16 bits a
/// sample (an 8192-px upload never exists as full-size `f32`).
pub fn decode_image(
    bytes: &[u8],
    name: &str,
    fit: Option<(usize, usize)>,
) -> Result<Image, String> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(format!(
            "{name}: {:.1} MB is too large (the page takes images up to {} MB)",
            bytes.len() as f64 / 1e6,
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ));
    }
    Image::decode_fitted(bytes, name, MAX_SIDE, fit).map_err(|e| e.to_string())
}

/// The file at `url`, built once by `build` and kept in `cache` (models and generators are
/// fetched and put on the device once per worker, however many attacks use them).
async fn cached<T>(
    engine: &RefCell<Engine>,
    cache: fn(&mut Engine) -> &mut HashMap<String, Rc<T>>,
    url: &str,
    build: fn(&[u8], &str, &Device) -> robustdx_core::Result<T>,
) -> Result<Rc<T>, String> {
    if let Some(kept) = cache(&mut engine.borrow_mut()).get(url) {
        return Ok(kept.clone());
    }
    let bytes = fetch_bytes(url).await?;
    let device = engine.borrow().device.clone();
    let built = Rc::new(build(&bytes, url, &device).map_err(|e| e.to_string())?);
    cache(&mut engine.borrow_mut()).insert(url.into(), built.clone());
    Ok(built)
}

async fn run(engine: &RefCell<Engine>, job: Job, upload: Option<Vec<u8>>) -> WorkerMessage {
    let id = job.id();
    let done = match job {
        Job::Attack(job) => run_job(engine, job, upload).await,
        Job::Sequence(job) => run_sequence(engine, job, upload).await,
        Job::Certify(job) => run_certify(engine, job, upload).await,
    };
    done.unwrap_or_else(|message| WorkerMessage::Failed { id, message })
}

/// A job's image (a shipped sample fetched from the page's origin, or the visitor's bytes) and
/// its model (fetched and put on the device once).
async fn load(
    engine: &RefCell<Engine>,
    source: &ImageSource,
    name: &str,
    upload: Option<Vec<u8>>,
    model_url: &str,
) -> Result<(Image, Rc<DiagnosticModel>), String> {
    let bytes = match source {
        ImageSource::Url(url) => fetch_bytes(url).await?,
        ImageSource::Upload => upload.ok_or("the uploaded image did not arrive")?,
    };
    let model = cached(
        engine,
        |e| &mut e.models,
        model_url,
        DiagnosticModel::from_bytes,
    )
    .await?;
    let input = &model.card.input;
    let image = decode_image(&bytes, name, Some((input.height, input.width)))?;
    Ok((image, model))
}

/// One image's perturbation sequence: the core's `image_sequence`, as `robustdx benchmark
/// --image` runs it.
async fn run_sequence(
    engine: &RefCell<Engine>,
    job: SequenceJob,
    upload: Option<Vec<u8>>,
) -> Result<WorkerMessage, String> {
    let start = now_ms();
    let kind = perturbation(&job.perturbation).map_err(|e| e.to_string())?;
    let (image, model) = load(engine, &job.image, &job.image_name, upload, &job.model_url).await?;
    let (device, backend) = engine.borrow().device_and_backend();
    let loaded = now_ms();
    let (frames, mut report) = image_sequence(&model, image, kind, job.frames, job.seed, &device)
        .await
        .map_err(|e| e.to_string())?;
    let end = now_ms();
    report.backend = backend.name().into();
    report.model = job.model_url.clone();
    report.image = job.image_name.clone();
    Ok(WorkerMessage::Sequence {
        id: job.id,
        report: Box::new(report),
        frames: frames.iter().map(png_data_url).collect(),
        timing: Timing {
            load_ms: loaded - start,
            total_ms: end - start,
            per_step_ms: (end - loaded) / job.frames.max(1) as f64,
            cam_ms: None,
        },
    })
}

/// Noisy copies per forward pass on `backend` for an input of `values` values: the core's
/// default on WebGPU (sized to the buffers an adapter binds); small batches on the CPU fallback,
/// so the page hears progress every fraction of a second (measured: 25 and 100 copies a pass
/// take the same 3.4 s for 132 copies of a 64 × 64 image).
fn copies_per_batch(backend: BackendKind, values: usize) -> usize {
    match backend {
        BackendKind::Webgpu => default_copies_per_batch(values),
        BackendKind::Cpu => CPU_COPIES_PER_BATCH,
    }
}

const CPU_COPIES_PER_BATCH: usize = 25;

/// One image's certificate: the core's `certify_image`, as `robustdx certify --image` runs it,
/// with the copies counted posted as it goes.
async fn run_certify(
    engine: &RefCell<Engine>,
    job: CertifyJob,
    upload: Option<Vec<u8>>,
) -> Result<WorkerMessage, String> {
    let start = now_ms();
    let settings = CertifySettings {
        n0: job.n0,
        n: job.n,
        alpha: job.alpha,
    };
    settings.validate().map_err(|e| e.to_string())?;
    let (image, model) = load(engine, &job.image, &job.image_name, upload, &job.model_url).await?;
    let (device, backend) = engine.borrow().device_and_backend();
    let input_values = model.card.input.values();
    let loaded = now_ms();
    let (id, total) = (job.id, job.n0 + job.n);
    let (mut report, copies) = certify_image(
        &model,
        image,
        job.sigma,
        &settings,
        job.seed,
        copies_per_batch(backend, input_values),
        SHOWN_COPIES,
        &device,
        &mut |counted| post(&WorkerMessage::Counted { id, counted, total }),
    )
    .await
    .map_err(|e| e.to_string())?;
    let end = now_ms();
    report.backend = backend.name().into();
    report.model = job.model_url.clone();
    report.image = job.image_name.clone();
    Ok(WorkerMessage::Certified {
        id,
        report: Box::new(report),
        copies: copies.iter().map(png_data_url).collect(),
        input_values,
        timing: Timing {
            load_ms: loaded - start,
            total_ms: end - start,
            // Per noisy copy.
            per_step_ms: (end - loaded) / total as f64,
            cam_ms: None,
        },
    })
}

async fn run_job(
    engine: &RefCell<Engine>,
    job: AttackJob,
    upload: Option<Vec<u8>>,
) -> Result<WorkerMessage, String> {
    let start = now_ms();
    let (image, model) = load(engine, &job.image, &job.image_name, upload, &job.model_url).await?;
    let generator = match &job.generator_url {
        Some(url) => Some(
            cached(
                engine,
                |e| &mut e.generators,
                url,
                GenerativeAdversarialPerturbation::from_bytes,
            )
            .await?,
        ),
        None => None,
    };
    let (device, backend) = engine.borrow().device_and_backend();
    let loaded = now_ms();
    let id = job.id;
    let class_names = model.card.class_names.clone();
    // The last step's frame comes right before Grad-CAM: what follows it is the maps.
    let last_step_at = std::cell::Cell::new(loaded);
    let last_frame_at = std::cell::Cell::new(f64::NEG_INFINITY);
    let outcome = attack_single_image(
        &model,
        generator.as_deref(),
        image,
        &job.settings,
        &device,
        |progress| {
            let now = now_ms();
            let last = progress.step == progress.steps;
            if last {
                last_step_at.set(now);
            }
            // Every step reports its loss and probabilities; the picture (a PNG encode and a
            // copy to the page) only every FRAME_INTERVAL_MS, and always the first and last.
            let picture = job.every_frame
                || progress.step == 0
                || last
                || now - last_frame_at.get() >= FRAME_INTERVAL_MS;
            if picture {
                last_frame_at.set(now);
            }
            post(&WorkerMessage::Step {
                id,
                class_names: class_names.clone(),
                step: progress.step,
                steps: progress.steps,
                loss: progress.loss,
                adversarial: picture.then(|| png_data_url(&progress.adversarial)),
                probs: progress.probs,
            })
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let end = now_ms();
    let mut report = outcome.report;
    report.backend = backend.name().into();
    report.model = job.model_url.clone();
    report.image = job.image_name.clone();
    // The core draws heat maps in turbo; another scale is drawn again from the maps themselves.
    let scale = job.colour_scale;
    let redraw = |image: &Image, maps: &[Image]| -> Vec<Image> {
        maps.iter()
            .map(|m| heatmap_overlay_in(scale, image, m))
            .collect()
    };
    let (cam_clean, cam_adversarial, attention_clean, attention_adversarial) =
        match &report.grad_cam {
            Some(maps) if scale != ColourScale::Turbo => {
                let map = |v: &Vec<f32>| Image::new(1, maps.height, maps.width, v.clone());
                (
                    heatmap_overlay_in(scale, &outcome.clean, &map(&maps.clean)),
                    heatmap_overlay_in(scale, &outcome.adversarial, &map(&maps.adversarial)),
                    redraw(&outcome.clean, &outcome.attention_maps_clean),
                    // As the core draws them: over the clean image, to compare like with like.
                    redraw(&outcome.clean, &outcome.attention_maps_adversarial),
                )
            }
            _ => (
                outcome.cam_clean,
                outcome.cam_adversarial,
                outcome.attention_clean,
                outcome.attention_adversarial,
            ),
        };
    let pictures = Pictures {
        clean: png_data_url(&outcome.clean),
        adversarial: png_data_url(&outcome.adversarial),
        perturbation: png_data_url(&outcome.perturbation),
        cam_clean: png_data_url(&cam_clean),
        cam_adversarial: png_data_url(&cam_adversarial),
        attention_clean: attention_clean.iter().map(png_data_url).collect(),
        attention_adversarial: attention_adversarial.iter().map(png_data_url).collect(),
    };
    Ok(WorkerMessage::Done {
        id,
        report: Box::new(report),
        pictures: Box::new(pictures),
        timing: Timing {
            load_ms: loaded - start,
            total_ms: end - start,
            // The attack's steps alone: Grad-CAM after the last one has its own figure.
            per_step_ms: (last_step_at.get() - loaded) / job.settings.steps_taken().max(1) as f64,
            cam_ms: Some(end - last_step_at.get()),
        },
    })
}

/// The page's message: `[job as JSON, uploaded bytes or null]`.
fn parse(data: JsValue) -> Result<(Job, Option<Vec<u8>>), String> {
    let parts: Array = data.dyn_into().map_err(|_| "malformed message")?;
    let text = parts.get(0).as_string().ok_or("malformed message")?;
    let job: Job = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let bytes = parts
        .get(1)
        .dyn_into::<Uint8Array>()
        .ok()
        .map(|a| a.to_vec());
    Ok((job, bytes))
}

/// Entry point of the worker program.
pub fn start() {
    spawn_local(async {
        let (device, backend, detail) = choose_backend().await;
        let engine = Rc::new(RefCell::new(Engine {
            device,
            backend,
            models: HashMap::new(),
            generators: HashMap::new(),
        }));
        let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let engine = engine.clone();
            spawn_local(async move {
                match parse(event.data()) {
                    Ok((job, upload)) => post(&run(&engine, job, upload).await),
                    Err(message) => post(&WorkerMessage::Failed { id: 0, message }),
                }
            });
        });
        scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
        handler.forget();
        post(&WorkerMessage::Ready { backend, detail });
    });
}
