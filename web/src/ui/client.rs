//! The page's side of the worker: starts it, sends jobs, and turns its messages into signals the
//! views read.

use std::cell::RefCell;

use js_sys::{Array, Uint8Array};
use leptos::prelude::*;
use robustdx_core::certify::ImageCertificateReport;
use robustdx_core::report::{ImageSequenceReport, SingleImageReport};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

use crate::protocol::{
    AttackJob, BackendKind, CertifyJob, Job, Pictures, SequenceJob, Timing, WorkerMessage,
};

/// trunk's loader shim for the `robustdx-worker` program (see index.html).
const WORKER_SCRIPT: &str = "./robustdx-worker_loader.js";

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
    /// The last job id handed out (every kind of job shares the count).
    static LAST_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// What the page knows about the current perturbation sequence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SequenceState {
    pub id: u32,
    pub running: bool,
    pub report: Option<ImageSequenceReport>,
    /// Each frame as a PNG data URL.
    pub frames: Vec<String>,
    pub timing: Option<Timing>,
    pub error: Option<String>,
}

/// A finished certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Certified {
    pub report: ImageCertificateReport,
    /// The first noisy copies the model saw, as PNG data URLs.
    pub copies: Vec<String>,
    /// d, the values of the image as the model takes it.
    pub input_values: usize,
    pub timing: Timing,
}

/// What the page knows about the current certificate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CertifyState {
    pub id: u32,
    pub running: bool,
    /// Noisy copies counted so far, of `total` (n0 + n).
    pub counted: u64,
    pub total: u64,
    pub finished: Option<Certified>,
    pub error: Option<String>,
}

/// A finished attack.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub report: SingleImageReport,
    pub pictures: Pictures,
    pub timing: Timing,
}

/// One step of a running attack as the worker reported it, kept for replaying.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceStep {
    pub loss: f32,
    pub probs: Vec<f32>,
    /// The iterate as a PNG data URL, when the worker drew this step.
    pub frame: Option<String>,
}

/// What the page knows about the current attack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunState {
    pub id: u32,
    pub running: bool,
    pub class_names: Vec<String>,
    pub steps: usize,
    /// Loss at the clean image and after each step so far.
    pub losses: Vec<f32>,
    pub clean_probs: Vec<f32>,
    /// The latest iterate and its probabilities.
    pub frame: Option<String>,
    pub frame_probs: Vec<f32>,
    pub finished: Option<Finished>,
    pub error: Option<String>,
    /// Every step so far, from the clean image (step 0).
    pub trace: Vec<TraceStep>,
    /// The last attack's result, shown while a live re-run (a moved ε slider) is under way so
    /// the view does not blink empty.
    pub previous: Option<Finished>,
}

/// The worker's backend, once it has said.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub kind: BackendKind,
    pub detail: String,
}

/// Handles to the worker's state; cheap to copy into closures.
#[derive(Clone, Copy)]
pub struct WorkerClient {
    pub backend: RwSignal<Option<Backend>>,
    pub run: RwSignal<RunState>,
    pub sequence: RwSignal<SequenceState>,
    pub certify: RwSignal<CertifyState>,
    /// Said when the worker was stopped or died and a fresh one started.
    pub notice: RwSignal<Option<String>>,
    /// The attack to run when the current one ends: only the newest of several asked for
    /// while one runs (a slider moved faster than the attack) is worth running.
    latest: StoredValue<Option<(AttackJob, Option<Vec<u8>>)>>,
}

impl WorkerClient {
    /// Starts the worker. Its first message says which backend it runs on.
    pub fn start() -> Self {
        let client = Self {
            backend: RwSignal::new(None),
            run: RwSignal::new(RunState::default()),
            sequence: RwSignal::new(SequenceState::default()),
            certify: RwSignal::new(CertifyState::default()),
            notice: RwSignal::new(None),
            latest: StoredValue::new(None),
        };
        client.spawn();
        client
    }

    /// A fresh worker in place of the current one (if any), which is stopped.
    fn spawn(&self) {
        let client = *self;
        if let Some(old) = WORKER.with(|w| w.borrow_mut().take()) {
            old.terminate();
        }
        client.backend.set(None);
        let worker = match Worker::new(WORKER_SCRIPT) {
            Ok(w) => w,
            Err(e) => {
                client.run.update(|r| {
                    r.error = Some(format!("cannot start the worker: {e:?}"));
                });
                return;
            }
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            match serde_json::from_str::<WorkerMessage>(&text) {
                Ok(message) => client.receive(message),
                Err(e) => client
                    .run
                    .update(|r| r.error = Some(format!("garbled message from the worker: {e}"))),
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_error =
            Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
                client.restart(format!(
                    "The worker stopped ({}); a fresh one has started: run it again.",
                    e.message()
                ));
            });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        WORKER.with(|w| *w.borrow_mut() = Some(worker));
    }

    /// Stops the worker (whatever it is running) and starts a fresh one; a job that was running
    /// ends with `message`, which the page also shows.
    fn restart(&self, message: String) {
        self.latest.set_value(None);
        self.run.update(|r| {
            if r.running {
                r.running = false;
                r.error = Some(message.clone());
            }
        });
        self.sequence.update(|s| {
            if s.running {
                s.running = false;
                s.error = Some(message.clone());
            }
        });
        self.certify.update(|c| {
            if c.running {
                c.running = false;
                c.error = Some(message.clone());
            }
        });
        self.notice.set(Some(message));
        self.spawn();
    }

    /// Cancels the running attack, sequence or certificate. A worker cannot be interrupted between two
    /// tensor operations, so it is stopped and a fresh one started (models load again).
    pub fn cancel(&self) {
        self.restart("Cancelled: the worker was stopped and a fresh one started.".into());
    }

    fn receive(&self, message: WorkerMessage) {
        match message {
            WorkerMessage::Ready { backend, detail } => self.backend.set(Some(Backend {
                kind: backend,
                detail,
            })),
            WorkerMessage::Step {
                id,
                class_names,
                step,
                steps,
                loss,
                adversarial,
                probs,
            } => self.run.update(|r| {
                if r.id != id {
                    return;
                }
                r.class_names = class_names;
                r.steps = steps;
                r.losses.truncate(step);
                r.losses.push(loss);
                r.trace.truncate(step);
                r.trace.push(TraceStep {
                    loss,
                    probs: probs.clone(),
                    frame: adversarial.clone(),
                });
                if step == 0 {
                    r.clean_probs = probs.clone();
                }
                if adversarial.is_some() {
                    r.frame = adversarial;
                }
                r.frame_probs = probs;
            }),
            WorkerMessage::Done {
                id,
                report,
                pictures,
                timing,
            } => {
                self.run.update(|r| {
                    if r.id != id {
                        return;
                    }
                    r.running = false;
                    r.losses = report.loss.clone();
                    r.finished = Some(Finished {
                        report: *report,
                        pictures: *pictures,
                        timing,
                    });
                });
                self.run_latest();
            }
            WorkerMessage::Sequence {
                id,
                report,
                frames,
                timing,
            } => self.sequence.update(|s| {
                if s.id != id {
                    return;
                }
                s.running = false;
                s.report = Some(*report);
                s.frames = frames;
                s.timing = Some(timing);
            }),
            WorkerMessage::Counted { id, counted, total } => self.certify.update(|c| {
                if c.id == id {
                    c.counted = counted;
                    c.total = total;
                }
            }),
            WorkerMessage::Certified {
                id,
                report,
                copies,
                input_values,
                timing,
            } => self.certify.update(|c| {
                if c.id != id {
                    return;
                }
                c.running = false;
                c.counted = c.total;
                c.finished = Some(Certified {
                    report: *report,
                    copies,
                    input_values,
                    timing,
                });
            }),
            WorkerMessage::Failed { id, message } => {
                if self.certify.with_untracked(|c| c.id == id && id != 0) {
                    self.certify.update(|c| {
                        c.running = false;
                        c.error = Some(message);
                    });
                    return;
                }
                if self.sequence.with_untracked(|s| s.id == id && id != 0) {
                    self.sequence.update(|s| {
                        s.running = false;
                        s.error = Some(message);
                    });
                    return;
                }
                self.run.update(|r| {
                    if id != 0 && r.id != id {
                        return;
                    }
                    r.running = false;
                    r.error = Some(message);
                });
                self.run_latest();
            }
        }
    }

    pub fn is_running(&self) -> bool {
        self.run.with(|r| r.running)
    }

    /// Runs `job` now, or when the running attack ends, in place of any job waiting there.
    pub fn submit_latest(&self, job: AttackJob, upload: Option<Vec<u8>>) {
        if self.run.with_untracked(|r| r.running) {
            self.latest.set_value(Some((job, upload)));
        } else {
            self.submit(job, upload);
        }
    }

    fn run_latest(&self) {
        if let Some((job, upload)) = self.latest.try_update_value(|l| l.take()).flatten() {
            self.submit(job, upload);
        }
    }

    /// Sends an attack (its id is assigned here); `upload` carries the visitor's image bytes.
    pub fn submit(&self, mut job: AttackJob, upload: Option<Vec<u8>>) {
        job.id = next_id();
        let previous = self
            .run
            .with_untracked(|r| r.finished.clone().or_else(|| r.previous.clone()));
        self.run.set(RunState {
            id: job.id,
            running: true,
            steps: job.settings.steps_taken(),
            previous,
            ..RunState::default()
        });
        if let Err(e) = post(&Job::Attack(job), upload) {
            self.run.update(|r| {
                r.running = false;
                r.error = Some(e);
            });
        }
    }

    /// Sends a perturbation sequence (its id is assigned here).
    pub fn submit_sequence(&self, mut job: SequenceJob, upload: Option<Vec<u8>>) {
        job.id = next_id();
        self.sequence.set(SequenceState {
            id: job.id,
            running: true,
            ..SequenceState::default()
        });
        if let Err(e) = post(&Job::Sequence(job), upload) {
            self.sequence.update(|s| {
                s.running = false;
                s.error = Some(e);
            });
        }
    }

    /// Sends a certificate (its id is assigned here).
    pub fn submit_certify(&self, mut job: CertifyJob, upload: Option<Vec<u8>>) {
        job.id = next_id();
        self.certify.set(CertifyState {
            id: job.id,
            running: true,
            total: job.n0 + job.n,
            ..CertifyState::default()
        });
        if let Err(e) = post(&Job::Certify(job), upload) {
            self.certify.update(|c| {
                c.running = false;
                c.error = Some(e);
            });
        }
    }
}

fn next_id() -> u32 {
    LAST_ID.with(|last| {
        last.set(last.get() + 1);
        last.get()
    })
}

/// `[job as JSON, uploaded bytes or null]` to the worker.
fn post(job: &Job, upload: Option<Vec<u8>>) -> Result<(), String> {
    let text = serde_json::to_string(job).expect("jobs serialise");
    let message = Array::new();
    message.push(&JsValue::from_str(&text));
    match upload {
        Some(bytes) => message.push(&Uint8Array::from(bytes.as_slice())),
        None => message.push(&JsValue::NULL),
    };
    WORKER
        .with(|w| match w.borrow().as_ref() {
            Some(worker) => worker.post_message(&message).map_err(|e| format!("{e:?}")),
            None => Err("the worker is not running".into()),
        })
        .map_err(|e| format!("cannot reach the worker: {e}"))
}
