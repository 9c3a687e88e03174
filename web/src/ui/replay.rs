//! A stepwise attack (PGD) step by step: play, pause or step through the trace the worker
//! reported, with the iterate, the probabilities and the loss curve growing up to the step
//! shown. While the attack runs the view follows its newest step.

use std::time::Duration;

use leptos::prelude::*;
use robustdx_core::report::loss_curve;

use super::client::RunState;
use super::outcome::PredictionBars;

/// The pause between two steps while playing.
const STEP_INTERVAL: Duration = Duration::from_millis(450);

#[component]
pub fn Replay(run: Signal<RunState>) -> impl IntoView {
    // None: follow the newest step.
    let cursor = RwSignal::new(None::<usize>);
    let playing = RwSignal::new(false);
    let last = move || run.with(|r| r.trace.len().saturating_sub(1));
    let shown = move || cursor.get().unwrap_or_else(last).min(last());
    // A new run starts the view at its newest step again.
    let run_id = Memo::new(move |_| run.with(|r| r.id));
    Effect::new(move || {
        run_id.track();
        cursor.set(None);
        playing.set(false);
    });
    Effect::new(move || {
        if !playing.get() {
            return;
        }
        let at = shown();
        if at >= last() {
            playing.set(false);
            return;
        }
        set_timeout(
            move || {
                if playing.get_untracked() {
                    cursor.set(Some(at + 1));
                }
            },
            STEP_INTERVAL,
        );
    });
    let play = move |_| {
        if shown() >= last() {
            cursor.set(Some(0));
        }
        playing.set(true);
    };
    let step = move |_| {
        playing.set(false);
        cursor.set(Some((shown() + 1).min(last())));
    };
    let back = move |_| {
        playing.set(false);
        cursor.set(Some(shown().saturating_sub(1)));
    };
    let body = move || {
        run.with(|r| {
            let at = shown();
            let step = r.trace.get(at)?;
            let frame = r.trace[..=at].iter().rev().find_map(|s| s.frame.clone());
            let losses: Vec<f32> = r.trace[..=at].iter().map(|s| s.loss).collect();
            let svg = loss_curve(&losses, r.steps).unwrap_or_default();
            let clean = r.trace[0].probs.clone();
            Some(view! {
                <p data-testid="replay-status" data-step=at.to_string()>
                    {format!("step {at} of {}: loss {:.4}", r.steps, step.loss)}
                </p>
                <div class="numbers">
                    {frame.map(|src| view! {
                        <figure data-testid="replay-frame">
                            <img src=src alt=format!("the image after step {at}") width="160" height="160"/>
                            <figcaption>{format!("after step {at}")}</figcaption>
                        </figure>
                    })}
                    <div class="bars-pair">
                        <PredictionBars title="clean" class_names=r.class_names.clone() probs=clean testid="replay-bars-clean"/>
                        <PredictionBars title="at this step" class_names=r.class_names.clone() probs=step.probs.clone() testid="replay-bars"/>
                    </div>
                    <div class="chart" data-testid="replay-chart" inner_html=svg></div>
                </div>
            })
        })
    };
    view! {
        <section class="replay" data-testid="replay" class:hidden=move || run.with(|r| r.steps <= 1 || r.trace.is_empty())>
            <h3>"Step by step"</h3>
            <div class="row" role="group" aria-label="replay the attack">
                <button data-testid="replay-back" on:click=back aria-label="one step back">"◀ step"</button>
                {move || if playing.get() {
                    view! { <button data-testid="replay-pause" on:click=move |_| playing.set(false)>"Pause"</button> }.into_any()
                } else {
                    view! { <button data-testid="replay-play" on:click=play>"Play"</button> }.into_any()
                }}
                <button data-testid="replay-step" on:click=step aria-label="one step forward">"step ▶"</button>
            </div>
            {body}
        </section>
    }
}
