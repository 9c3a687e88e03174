//! The perturbation-sequence view: the chosen model and image under one of the Robust-Benchmark's
//! 14 kinds, frame by frame, with the model's decision under each frame and the flips counted.
//! The worker runs the core's `image_sequence`, as `robustdx benchmark --image` does natively.

use leptos::prelude::*;
use robustdx_core::page_link::PageLink;
use robustdx_core::perturb::{PERTURBATIONS, Reference, perturbation};

use super::attack::Chosen;
use super::client::WorkerClient;
use crate::manifest::{ShippedModel, asset_url};
use crate::protocol::SequenceJob;

/// Frames per sequence, as the seed study's benchmark.
const FRAMES: usize = 10;

/// The kind the view starts with: the plainest of everyday changes.
pub const FIRST_KIND: &str = "gaussian_noise";

/// The job for `model`, `image` and the sequence `kind`, keyed by `seed`.
pub fn sequence_job(
    model: &ShippedModel,
    image: &Chosen,
    kind: String,
    seed: u64,
) -> (SequenceJob, Option<Vec<u8>>) {
    let (image_name, source, upload) = image.for_job();
    let job = SequenceJob {
        id: 0,
        model_url: asset_url(&model.file),
        image_name,
        image: source,
        perturbation: kind,
        frames: FRAMES,
        seed,
    };
    (job, upload)
}

#[component]
pub fn SequencePanel(
    client: WorkerClient,
    model: Signal<ShippedModel>,
    chosen: RwSignal<Option<Chosen>>,
    link: RwSignal<PageLink>,
) -> impl IntoView {
    let kind = RwSignal::new(FIRST_KIND.to_string());
    // The seed is part of the page's link.
    let seed = Signal::derive(move || link.with(|l| l.seed).unwrap_or(0));
    let about = move || {
        perturbation(&kind.get()).map_or(String::new(), |k| {
            format!("{}; frame i: {}", k.about(), k.schedule().describe())
        })
    };
    let run = move |_| {
        let Some(image) = chosen.get_untracked() else {
            return;
        };
        let (job, upload) = sequence_job(
            &model.get_untracked(),
            &image,
            kind.get_untracked(),
            seed.get_untracked(),
        );
        client.submit_sequence(job, upload);
    };
    let sequence = client.sequence;
    view! {
        <section class="sequence">
            <h3>"Everyday perturbations (Robust-Benchmark)"</h3>
            <div class="row">
                <label>"Perturbation "
                    <select data-testid="perturb-kind" prop:value=move || kind.get()
                        on:change=move |ev| kind.set(event_target_value(&ev))>
                        // The core's registry: a new kind shows up here by being registered
                        // (variants kept for comparison, run only when named, stay off the page).
                        {PERTURBATIONS.iter().filter(|k| k.by_default()).map(|k| view! {
                            <option value=k.name() title=k.about()>{k.name().replace('_', " ")}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"seed "
                    <input type="number" min="0" class="narrow" data-testid="perturb-seed" prop:value=move || seed.get().to_string()
                        on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { link.update(|l| l.seed = Some(v)) } }/>
                </label>
                <button class="run" data-testid="perturb-run" on:click=run
                    disabled=move || client.backend.get().is_none() || sequence.with(|s| s.running) || chosen.get().is_none()>
                    {move || if sequence.with(|s| s.running) { "Running…" } else { "Run sequence" }}
                </button>
                <button data-testid="perturb-cancel" class:hidden=move || !sequence.with(|s| s.running)
                    on:click=move |_| client.cancel()>"Cancel"</button>
            </div>
            <p class="note">{about}</p>
            {move || sequence.with(|s| {
                if let Some(e) = &s.error {
                    return view! { <p class="error" data-testid="perturb-error" role="alert">{e.clone()}</p> }.into_any();
                }
                let Some(report) = &s.report else {
                    return view! { <p class="note">{if s.running { "Making the frames…" } else { "" }}</p> }.into_any();
                };
                let decisions: Vec<&str> = report.frames.iter().map(|f| f.label.as_str()).collect();
                let flipped = |i: usize| i > 0 && decisions[i] != decisions[report.reference.frame_for(i)];
                let against = match report.reference {
                    Reference::First => "the clean first frame",
                    Reference::Previous => "the frame before",
                };
                let ms = s.timing.map_or(0.0, |t| t.total_ms);
                view! {
                    <div data-testid="sequence">
                        <p data-testid="sequence-summary"><strong>{format!("{} of {} frames flipped", report.flips, report.frames.len() - 1)}</strong>
                            {format!(" (against {against}); Flip Probability {:.2}; {:.0} ms on {}", report.flip_probability, ms, report.backend)}</p>
                        <div class="strip">
                            {s.frames.iter().zip(&report.frames).enumerate().map(|(i, (src, f))| {
                                let top = f.probs.iter().fold(0.0f32, |m, p| m.max(*p));
                                view! {
                                    <figure class:flip=flipped(i) data-testid=format!("frame-{i}")>
                                        <img src=src.clone() width="96" height="96" alt=format!("frame {i}")/>
                                        <figcaption>{format!("{i}: {} {top:.2}", f.label)}</figcaption>
                                    </figure>
                                }
                            }).collect_view()}
                        </div>
                        <pre class="hidden" data-testid="sequence-json">{report.to_json()}</pre>
                    </div>
                }.into_any()
            })}
        </section>
    }
}
