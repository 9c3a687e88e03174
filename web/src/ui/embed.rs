//! Embed mode for web reports: one widget configured by the URL
//! (`?embed&model=…&image=…&attack=…&eps=…&steps=…`, each with a default: the first shipped model,
//! its first sample, PGD, ε = 8/255, 10 steps). It runs on load and, when done, writes the
//! result as JSON into `[data-testid="result"]` for the host page (and the tests) to read.

use leptos::prelude::*;
use robustdx_core::attack::{DEFAULT_ATTACK, attack_info};
use robustdx_core::robustness::SingleImageSettings;

use super::attack::{Chosen, job};
use super::client::WorkerClient;
use super::outcome::Outcome;
use super::{BackendNotice, query};
use crate::manifest::Manifest;

/// The widget's job, from the URL; a bad parameter is an error naming it.
fn configured(
    manifest: &Manifest,
) -> Result<(crate::protocol::AttackJob, Option<Vec<u8>>), String> {
    let q = query();
    let param = |name: &str| q.get(name).filter(|v| !v.is_empty());
    let model = match param("model") {
        Some(id) => manifest.model(&id).ok_or_else(|| {
            let known: Vec<&str> = manifest.models.iter().map(|m| m.id.as_str()).collect();
            format!(
                "model={id}: no such shipped model (have: {})",
                known.join(", ")
            )
        })?,
        None => manifest.models.first().ok_or("the page ships no models")?,
    };
    let sample = match param("image") {
        Some(id) => manifest
            .sample(&id)
            .ok_or_else(|| format!("image={id}: no such sample image"))?,
        None => manifest
            .samples_for(model)
            .next()
            .ok_or("no sample image suits this model")?,
    };
    let attack = param("attack").unwrap_or_else(|| DEFAULT_ATTACK.into());
    let entry = attack_info(&attack).map_err(|e| format!("attack: {e}"))?;
    let number = |name: &str, default: f32| -> Result<f32, String> {
        param(name).map_or(Ok(default), |v| {
            v.parse::<f32>()
                .map_err(|_| format!("{name}={v}: not a number"))
        })
    };
    let default_steps = entry.default_steps().unwrap_or(1) as f32;
    let steps = number("steps", default_steps)?;
    if steps.fract() != 0.0 || steps < 0.0 {
        return Err(format!("steps={steps}: a whole number of steps, please"));
    }
    let settings = SingleImageSettings {
        attack: entry.name.into(),
        eps: number("eps", 8.0)?,
        steps: steps as usize,
        step_size: param("step_size")
            .map(|v| {
                v.parse::<f32>()
                    .map_err(|_| format!("step_size={v}: not a number"))
            })
            .transpose()?,
        random_start: false,
        settings: Default::default(),
    };
    settings.validate().map_err(|e| e.to_string())?;
    if entry.needs_generator && model.generator.is_none() {
        return Err(format!(
            "attack={}: model {} ships no GAP generator",
            entry.name, model.id
        ));
    }
    Ok(job(
        model,
        &Chosen::Sample {
            id: sample.id.clone(),
            file: sample.file.clone(),
        },
        settings,
        Default::default(),
    ))
}

#[component]
pub fn EmbedWidget(
    client: WorkerClient,
    manifest: RwSignal<Option<Result<Manifest, String>>>,
) -> impl IntoView {
    let started = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    Effect::new(move || {
        if started.get() || client.backend.get().is_none() {
            return;
        }
        match manifest.get() {
            None => {}
            Some(Err(e)) => problem.set(Some(e)),
            Some(Ok(m)) => {
                started.set(true);
                match configured(&m) {
                    Ok((job, upload)) => client.submit(job, upload),
                    Err(e) => problem.set(Some(e)),
                }
            }
        }
    });
    let result = move || {
        client.run.with(|r| {
            r.finished.as_ref().map(|f| {
                let mut value = serde_json::to_value(&f.report).unwrap_or_default();
                value["timing"] = serde_json::to_value(f.timing).unwrap_or_default();
                let text = serde_json::to_string(&value).unwrap_or_default();
                view! { <pre class="result" data-testid="result">{text}</pre> }
            })
        })
    };
    view! {
        <div class="embed">
            <BackendNotice client/>
            {move || problem.get().map(|e| view! { <p class="error" data-testid="error" role="alert">{e}</p> })}
            <Outcome client/>
            <details><summary>"result (JSON)"</summary>{result}</details>
        </div>
    }
}
