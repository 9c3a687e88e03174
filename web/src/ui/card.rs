//! A robustness card on the page, in the order and with the charts and tables of the native
//! `card.html`: the verdicts, then the clean scores, the attacks, the everyday changes, the
//! certification, what the attack does inside, and provenance. Its cells and charts come from
//! the core, so the page and the file cannot disagree.

use leptos::prelude::*;
use robustdx_core::card::{
    CardTable, RobustnessCard, all_verdicts, attack_table, benchmark_table, card_charts,
    clean_table, feature_shift_table, per_class_table, provenance_rows, separation_table,
};

/// A table of cells (head first), scrolling sideways on a narrow screen.
#[component]
pub fn CellsTable(
    table: CardTable,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let (head, rows) = table;
    view! {
        <div class="table-scroll">
            <table data-testid=testid>
                <tr>{head.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr>
                {rows.into_iter().map(|row| view! {
                    <tr>{row.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                }).collect_view()}
            </table>
        </div>
    }
}

/// An SVG the core drew.
fn chart(svg: String) -> impl IntoView {
    view! { <div class="chart" inner_html=svg></div> }
}

fn sentences(verdicts: &[String]) -> impl IntoView + use<> {
    let items = verdicts.to_vec();
    view! { <ul>{items.into_iter().map(|v| view! { <li>{v}</li> }).collect_view()}</ul> }
}

fn command(line: &str) -> impl IntoView + use<> {
    let line = line.to_string();
    view! { <details><summary>"Reproduce this part"</summary><pre class="command">{line}</pre></details> }
}

/// The card's title line: model, level, what it is and what it was measured on.
#[component]
pub fn CardHeading(card: RobustnessCard) -> impl IntoView {
    let model = &card.model;
    let about = format!(
        "{} ({}: {}), trained {}, on {} ({} test images).",
        model.architecture,
        model.task,
        model.class_names.join(", "),
        card.defense(),
        card.data.name,
        card.data.samples
    );
    view! {
        <h2 data-testid="card-model">"Robustness card: " {model.file.clone()} " "
            <span class="level" data-testid="card-level">{card.level.name()}</span></h2>
        <p>{about}</p>
    }
}

/// Every verdict in one box, with the sanity flags and what was not run.
#[component]
pub fn VerdictBox(card: RobustnessCard) -> impl IntoView {
    let verdicts: Vec<String> = all_verdicts(&card).into_iter().map(String::from).collect();
    let flags: Vec<String> = card.sanity.iter().map(|f| f.message.clone()).collect();
    let not_run = (!card.not_run.is_empty()).then(|| card.not_run.join("; "));
    let fingerprint = card
        .provenance
        .data_fingerprint
        .get(..12)
        .unwrap_or("")
        .to_string();
    view! {
        <div class="verdict-box">
            <h3>"Verdict"</h3>
            <ul data-testid="card-verdicts">
                {verdicts.into_iter().map(|v| view! { <li>{v}</li> }).collect_view()}
            </ul>
            {(!flags.is_empty()).then(|| view! {
                <h4>"Sanity flags"</h4>
                <ul data-testid="card-sanity">{flags.into_iter().map(|f| view! { <li class="error">{f}</li> }).collect_view()}</ul>
            })}
            {not_run.map(|n| view! { <p class="note">"Not run: " {n}</p> })}
            <p class="note">{format!(
                "A {} card: compare it only with cards of the same level and data (fingerprint {fingerprint}…).",
                card.level
            )}</p>
        </div>
    }
}

/// The whole card.
#[component]
pub fn CardView(card: RobustnessCard) -> impl IntoView {
    let charts = match card_charts(&card) {
        Ok(charts) => charts,
        Err(e) => {
            return view! { <p class="error" data-testid="card-error" role="alert">{e.to_string()}</p> }
                .into_any();
        }
    };
    let intervals = &card.clean.intervals;
    let interval_note = format!(
        "Intervals: {} bootstrap resamples of the test images (seed {}, percentile rule). Scores from the sweep's clean cell.",
        intervals.resamples, intervals.seed
    );
    let certification = match (&card.certification, charts.certification) {
        (Some(part), Some(svg)) => view! {
            {chart(svg)}
            <CellsTable table=part.result.table() testid="card-certified"/>
            {sentences(&part.verdicts)}
            {command(&part.command)}
        }
        .into_any(),
        _ => view! { <p class="note">"Not run: the model was not trained for smoothing and no σ was given."</p> }
            .into_any(),
    };
    let cams = charts.cams.map(|svg| {
        let overlap = card.cams.mean_overlap.map(|o| format!(
            "Overlap: intersection over union of each map's hottest fifth; mean {o:.2} (1: the attack leaves the model looking where it looked; 0: elsewhere entirely)."
        ));
        view! {
            <h4>"Grad-CAM before and after"</h4>
            <div class="chart wide" data-testid="card-cams" inner_html=svg></div>
            {overlap.map(|o| view! { <p class="note">{o}</p> })}
        }
    });
    view! {
        <article class="card" data-testid="card-view">
            <CardHeading card=card.clone()/>
            <VerdictBox card=card.clone()/>
            <h3>"Clean performance"</h3>
            <p data-testid="card-clean-verdict">{card.clean.verdict.clone()}</p>
            <CellsTable table=clean_table(&card) testid="card-clean"/>
            {per_class_table(&card).map(|table| view! { <CellsTable table/> })}
            <p class="note">{interval_note}</p>
            <h3>"Under attack"</h3>
            <div data-testid="card-attack-chart">{chart(charts.attacks)}</div>
            <CellsTable table=attack_table(&card) testid="card-attacks"/>
            {sentences(&card.attacks.verdicts)}
            {command(&card.attacks.command)}
            <h3>"Everyday changes (Robust-Benchmark)"</h3>
            {chart(charts.benchmark)}
            <CellsTable table=benchmark_table(&card) testid="card-benchmark"/>
            {sentences(&card.benchmark.verdicts)}
            {command(&card.benchmark.command)}
            <h3>"Certified robustness (randomized smoothing)"</h3>
            {certification}
            <h3>"What the attack does inside"</h3>
            {sentences(&card.inside.verdicts)}
            <CellsTable table=feature_shift_table(&card)/>
            <CellsTable table=separation_table(&card)/>
            {cams}
            {command(&card.inside.command)}
            <h3>"Provenance"</h3>
            <div class="table-scroll">
                <table class="about" data-testid="card-provenance">
                    {provenance_rows(&card).into_iter().map(|(k, v)| view! { <tr><th>{k}</th><td><code>{v}</code></td></tr> }).collect_view()}
                </table>
            </div>
        </article>
    }
    .into_any()
}
