//! Opens a native `robustdx attack --json` file and draws its table and curves, with the same
//! charts as the native HTML report. The file is read in the browser, never sent anywhere.

use leptos::prelude::*;
use robustdx_core::attack::short_name;
use robustdx_core::report::{
    AttackReport, provenance, sanity_summary, settings_text, sweep_charts,
};

use super::files::{fetch_text, file_text};
use crate::manifest::asset_url;

/// The example record shipped with the page (a sweep of its first model).
const EXAMPLE: &str = "reports/small-cnn-derm.json";

fn parse(text: &str, name: &str) -> Result<AttackReport, String> {
    AttackReport::from_json(text, name).map_err(|e| e.to_string())
}

#[component]
pub fn ResultsViewer() -> impl IntoView {
    let record = RwSignal::new(None::<Result<AttackReport, String>>);
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            leptos::task::spawn_local(async move {
                let parsed = match file_text(&file).await {
                    Ok(text) => parse(&text, &file.name()),
                    Err(e) => Err(e),
                };
                record.set(Some(parsed));
            });
        }
    };
    let open_example = move |_| {
        leptos::task::spawn_local(async move {
            let url = asset_url(EXAMPLE);
            record.set(Some(fetch_text(&url).await.and_then(|t| parse(&t, &url))));
        });
    };
    view! {
        <section class="viewer">
            <h2>"Result files"</h2>
            <p class="note">"Open the JSON record a native sweep wrote ("<code>"robustdx attack … --json FILE"</code>") to see its table and curves."</p>
            <div class="row">
                <input type="file" accept=".json,application/json" data-testid="viewer-file" on:change=on_pick/>
                <button data-testid="viewer-example" on:click=open_example>"open the example"</button>
            </div>
            {move || record.get().map(|r| match r {
                Err(e) => view! { <p class="error" data-testid="viewer-error" role="alert">{e}</p> }.into_any(),
                Ok(record) => view! { <Record record/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn Record(record: AttackReport) -> impl IntoView {
    let charts = sweep_charts(&record).unwrap_or_default();
    let opt = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3}"));
    view! {
        <p>{format!("{} ({}, {}) on {} ({} test images), robustdx {}",
            record.model.file, record.model.architecture, record.model.task, record.data.name, record.data.samples, record.tool.version)}</p>
        <table class="about" data-testid="viewer-identity">
            {provenance(&record).into_iter().map(|(k, v)| view! { <tr><th>{k}</th><td><code>{v}</code></td></tr> }).collect_view()}
        </table>
        <div data-testid="viewer-sanity">
            {let summary = sanity_summary(&record);
            if summary.is_empty() {
                view! { <p class="note">"No sanity checks recorded (a file from an older robustdx)."</p> }.into_any()
            } else {
                summary.into_iter().map(|(warn, text)| if warn {
                    view! { <p class="error" role="alert">{format!("⚠ {text}")}</p> }.into_any()
                } else {
                    view! { <p class="note">{format!("✓ {text}")}</p> }.into_any()
                }).collect_view().into_any()
            }}
        </div>
        <div class="charts" data-testid="viewer-charts">
            {charts.into_iter().map(|(_, svg)| view! { <div class="chart" inner_html=svg></div> }).collect_view()}
        </div>
        <table data-testid="viewer-table">
            <tr><th>"attack"</th><th>"settings"</th><th>"ε×255"</th><th>"accuracy"</th><th>"AUC"</th><th>"sensitivity"</th><th>"specificity"</th><th>"fooled"</th><th>"success"</th><th>"mean ‖δ‖∞×255"</th></tr>
            {record.results.iter().map(|r| {
                let m = &r.metrics;
                view! { <tr>
                    <td>{r.attack.clone()}</td><td>{settings_text(r)}</td><td>{r.eps}</td><td>{format!("{:.3}", m.adversarial.accuracy)}</td>
                    <td>{opt(m.adversarial.auc_macro)}</td><td>{opt(m.adversarial.sensitivity)}</td><td>{opt(m.adversarial.specificity)}</td>
                    <td>{format!("{:.3}", m.fooling_rate)}</td><td>{format!("{:.3}", m.success_rate)}</td><td>{format!("{:.2}", m.mean_linf * 255.0)}</td>
                </tr> }
            }).collect_view()}
        </table>
        // A suite's cells: what each member broke, as AutoAttack's log shows it.
        {record.results.iter().filter(|r| !r.metrics.contributions.is_empty()).map(|r| {
            let m = &r.metrics;
            let clean = m.accuracy_before_suite().unwrap_or_default();
            view! {
                <table data-testid="viewer-contributions">
                    <caption>{format!("{} at ε = {}/255: each attack on the images the earlier left standing", short_name(&r.attack), r.eps)}</caption>
                    <tr><th>"attack"</th><th>"broke"</th><th>"robust accuracy after it"</th></tr>
                    <tr><td>"clean"</td><td></td><td>{format!("{clean:.3}")}</td></tr>
                    {m.contributions.iter().map(|c| view! {
                        <tr><td>{c.display_name()}</td><td>{c.broken}</td><td>{format!("{:.3}", c.robust_accuracy)}</td></tr>
                    }).collect_view()}
                </table>
            }
        }).collect_view()}
    }
}
