//! Opens a native `robustdx attack --json` or `robustdx certify --json` file and draws its table
//! and curves, with the same charts as the native HTML report, or a `robustdx card` file as the
//! card. The file is read in the browser, never sent anywhere.

use leptos::prelude::*;
use robustdx_core::attack::short_name;
use robustdx_core::card::{CARD_KIND, RobustnessCard};
use robustdx_core::report::{
    AttackReport, CertifyReport, certified_accuracy_chart, provenance, sanity_summary,
    settings_text, sweep_charts,
};

use super::card::CardView;
use super::files::{fetch_text, file_text};
use crate::manifest::asset_url;

/// The example record shipped with the page (a sweep of its first model).
const EXAMPLE: &str = "reports/small-cnn-derm.json";

/// A result file the viewer draws.
#[derive(Clone)]
enum ResultFile {
    /// `robustdx attack --json`.
    Sweep(Box<AttackReport>),
    /// `robustdx certify --json`: certified accuracy per σ and radius.
    Certification(Box<CertifyReport>),
    /// `robustdx card`'s `card.json`.
    Card(Box<RobustnessCard>),
}

fn parse(text: &str, name: &str) -> Result<ResultFile, String> {
    // A card says what it is; only a certification has radii; anything else is read as a sweep,
    // whose errors name what a sweep lacks.
    let value = serde_json::from_str::<serde_json::Value>(text).ok();
    let field = |name: &str| value.as_ref().and_then(|v| v.get(name));
    if field("kind").and_then(|k| k.as_str()) == Some(CARD_KIND) {
        RobustnessCard::from_json(text, name)
            .map(|c| ResultFile::Card(Box::new(c)))
            .map_err(|e| e.to_string())
    } else if field("radii").is_some() {
        CertifyReport::from_json(text, name)
            .map(|r| ResultFile::Certification(Box::new(r)))
            .map_err(|e| e.to_string())
    } else {
        AttackReport::from_json(text, name)
            .map(|r| ResultFile::Sweep(Box::new(r)))
            .map_err(|e| e.to_string())
    }
}

#[component]
pub fn ResultsViewer() -> impl IntoView {
    let record = RwSignal::new(None::<Result<ResultFile, String>>);
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
            <p class="note">"Open the JSON record a native sweep or certification wrote ("<code>"robustdx attack … --json FILE"</code>", "<code>"robustdx certify … --json FILE"</code>") to see its table and curves, or a robustness card ("<code>"card.json"</code>" from "<code>"robustdx card"</code>") to see the card."</p>
            <div class="row">
                <input type="file" accept=".json,application/json" data-testid="viewer-file" on:change=on_pick/>
                <button data-testid="viewer-example" on:click=open_example>"open the example"</button>
            </div>
            {move || record.get().map(|r| match r {
                Err(e) => view! { <p class="error" data-testid="viewer-error" role="alert">{e}</p> }.into_any(),
                Ok(ResultFile::Sweep(record)) => view! { <Record record=*record/> }.into_any(),
                Ok(ResultFile::Certification(report)) => view! { <Certification report=*report/> }.into_any(),
                Ok(ResultFile::Card(card)) => view! { <CardView card=*card/> }.into_any(),
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

/// A certification: the certified-accuracy curves and the table the native report shows.
#[component]
fn Certification(report: CertifyReport) -> impl IntoView {
    let chart = certified_accuracy_chart(&report).unwrap_or_default();
    let (head, rows) = report.table();
    let images = report.results.first().map_or(0, |r| r.records.len());
    view! {
        <p>{format!("{} ({}, {}) on {} ({} test images): randomized smoothing, n0 = {}, n = {}, α = {}, robustdx {}",
            report.model.file, report.model.architecture, report.model.task, report.data.name, images,
            report.n0, report.n, report.alpha, report.tool.version)}</p>
        <p class="note">"Certified accuracy at radius r: the share of images the smoothed model decides correctly and provably keeps within L2 distance r (pixel units), each certificate wrong with probability at most α. \"Largest possible\": no image can be certified further with this n."</p>
        <div class="charts" data-testid="viewer-charts"><div class="chart" inner_html=chart></div></div>
        <table data-testid="viewer-certified">
            <tr>{head.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr>
            {rows.into_iter().map(|row| view! {
                <tr>{row.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
            }).collect_view()}
        </table>
    }
}
