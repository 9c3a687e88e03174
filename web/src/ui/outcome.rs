//! What an attack did, drawn: images before / after, the perturbation, Grad-CAM and attention
//! maps, the prediction bars and the loss curve. The lab and the embed widget both show it.

use leptos::prelude::*;
use robustdx_core::report::loss_curve;

use super::client::{Finished, RunState, WorkerClient};

/// One bar per class (or finding) with its probability.
#[component]
pub fn PredictionBars(
    title: &'static str,
    class_names: Vec<String>,
    probs: Vec<f32>,
    testid: &'static str,
) -> impl IntoView {
    let best = probs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    view! {
        <div class="bars" data-testid=testid>
            <h4>{title}</h4>
            {class_names.into_iter().zip(probs).enumerate().map(|(i, (name, p))| view! {
                <div class="bar" class:top=Some(i) == best>
                    <span class="name">{name}</span>
                    <span class="track"><span class="fill" style=format!("width:{:.1}%", 100.0 * p)></span></span>
                    <span class="value">{format!("{p:.3}")}</span>
                </div>
            }).collect_view()}
        </div>
    }
}

fn figure(src: String, caption: String, testid: &'static str) -> impl IntoView {
    view! {
        <figure data-testid=testid><img src=src alt=caption.clone() width="160" height="160"/><figcaption>{caption}</figcaption></figure>
    }
}

/// The whole outcome of the client's current run, live while it runs.
#[component]
pub fn Outcome(client: WorkerClient) -> impl IntoView {
    view! { <RunOutcome run=client.run.into()/> }
}

/// The result a view shows: the finished one, or while a one-step attack re-runs (a moved ε
/// slider) the one before it, so the view changes in place instead of blinking empty.
fn shown(r: &RunState) -> Option<&Finished> {
    r.finished.as_ref().or_else(|| {
        (r.running && r.steps <= 1)
            .then_some(r.previous.as_ref())
            .flatten()
    })
}

/// What the run in `run` did; `clean_only` shows the model's decision on the clean image and
/// its Grad-CAM alone (the tour's first chapter).
#[component]
pub fn RunOutcome(run: Signal<RunState>, #[prop(optional)] clean_only: bool) -> impl IntoView {
    let status = move || {
        run.with(|r: &RunState| {
            if let Some(e) = &r.error {
                return view! { <p class="error" data-testid="error" role="alert">{e.clone()}</p> }.into_any();
            }
            let step = r.losses.len().saturating_sub(1);
            match (shown(r), r.running) {
                (Some(f), _) if clean_only => {
                    let rep = &f.report;
                    let top = rep.clean.probs.iter().fold(0.0f32, |m, p| m.max(*p));
                    view! {
                        <p class="verdict" data-testid="verdict">
                            {format!("The model says {} (probability {top:.3}).", rep.clean.label)}
                        </p>
                    }.into_any()
                }
                (Some(f), running) => {
                    let rep = &f.report;
                    let verdict = if rep.flipped {
                        format!("The prediction flipped: {} → {}.", rep.clean.label, rep.adversarial.label)
                    } else {
                        format!("The prediction held: {}.", rep.clean.label)
                    };
                    view! {
                        <p class="verdict" class:flipped=rep.flipped class:stale=running data-testid=if running { "verdict-previous" } else { "verdict" }
                            data-eps=rep.settings.eps.to_string()>{verdict}
                            {format!(" ‖δ‖∞ = {:.2}/255. {} on {}: {:.0} ms in all, {:.1} ms per step{}.",
                                rep.linf, rep.settings.attack.to_uppercase(), rep.backend, f.timing.total_ms, f.timing.per_step_ms,
                                f.timing.cam_ms.map_or(String::new(), |ms| format!(", Grad-CAM {ms:.0} ms")))}
                            {rep.queries.map(|q| view! { <span data-testid="queries">{format!(" {q} model queries (scores only, no gradients).")}</span> })}
                        </p>
                    }.into_any()
                }
                (None, true) => view! { <p class="verdict" data-testid="progress">{format!("step {step} of {}…", r.steps)}</p> }.into_any(),
                (None, false) => view! { <p class="verdict">"Pick a model, an image and an attack, then run it."</p> }.into_any(),
            }
        })
    };
    let pictures = move || {
        run.with(|r| {
            if let Some(f) = shown(r) {
                let p = &f.pictures;
                if clean_only {
                    return view! {
                        <div class="pictures">
                            {figure(p.clean.clone(), "the image".into(), "clean-image")}
                            {figure(p.cam_clean.clone(), "Grad-CAM: where the decision comes from".into(), "cam-clean")}
                        </div>
                    }.into_any();
                }
                let attention = p.attention_clean.iter().zip(&p.attention_adversarial).enumerate().map(|(k, (a, b))| view! {
                    {figure(a.clone(), format!("attention {} before", k + 1), "attention-clean")}
                    {figure(b.clone(), format!("attention {} after", k + 1), "attention-adversarial")}
                }).collect_view();
                view! {
                    <div class="pictures">
                        {figure(p.clean.clone(), "clean".into(), "clean-image")}
                        {figure(p.adversarial.clone(), "adversarial".into(), "adversarial-image")}
                        {figure(p.perturbation.clone(), "perturbation (amplified)".into(), "perturbation-image")}
                        {figure(p.cam_clean.clone(), "Grad-CAM before".into(), "cam-clean")}
                        {figure(p.cam_adversarial.clone(), "Grad-CAM after".into(), "cam-adversarial")}
                        {attention}
                    </div>
                }.into_any()
            } else if let Some(frame) = &r.frame {
                view! { <div class="pictures">{figure(frame.clone(), format!("step {}", r.losses.len().saturating_sub(1)), "frame")}</div> }.into_any()
            } else {
                ().into_any()
            }
        })
    };
    let bars = move || {
        run.with(|r| {
            let finished = shown(r);
            let class_names = finished.map_or(r.class_names.clone(), |f| f.report.class_names.clone());
            if class_names.is_empty() {
                return ().into_any();
            }
            let before = finished.map_or(r.clean_probs.clone(), |f| f.report.clean.probs.clone());
            if clean_only {
                return view! {
                    <div class="bars-pair">
                        <PredictionBars title="the model's probabilities" class_names probs=before testid="bars-clean"/>
                    </div>
                }.into_any();
            }
            let after = finished.map_or(r.frame_probs.clone(), |f| f.report.adversarial.probs.clone());
            view! {
                <div class="bars-pair">
                    <PredictionBars title="before" class_names=class_names.clone() probs=before testid="bars-clean"/>
                    <PredictionBars title="after" class_names probs=after testid="bars-adversarial"/>
                </div>
            }.into_any()
        })
    };
    let chart = move || {
        run.with(|r| {
            (!clean_only && r.losses.len() > 1).then(|| {
                let svg = loss_curve(&r.losses, r.steps).unwrap_or_default();
                view! { <div class="chart" data-testid="loss-chart" inner_html=svg></div> }
            })
        })
    };
    // The record itself, for a reader's "view source" and the browser tests' comparisons.
    let record = move || {
        run.with(|r| {
            r.finished.as_ref().map(|f| {
                let text = serde_json::to_string(&f.report).unwrap_or_default();
                view! { <pre class="hidden" data-testid="report-json">{text}</pre> }
            })
        })
    };
    view! {
        <section class="outcome" data-testid="outcome" data-run=move || run.with(|r| r.id)>
            {status}
            {pictures}
            <div class="numbers">{bars}{chart}</div>
            {record}
        </section>
    }
}
