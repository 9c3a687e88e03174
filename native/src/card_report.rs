//! `card.html`: a robustness card as one self-contained page — the verdicts first, then each part
//! with its chart, table, sentences and the command that reproduces it, then provenance.

use std::path::{Path, PathBuf};

use maud::{Markup, html};
use robustdx_core::card::{
    CardTable, RobustnessCard, all_verdicts, attack_table, benchmark_table, card_charts,
    clean_table, feature_shift_table, per_class_table, provenance_rows, separation_table,
};

use crate::files::write_atomic;
use crate::report::parts::{about_table, chart, head_row, page};

/// Writes `card.html` of `card` into `dir`; returns its path.
pub fn write(dir: &Path, card: &RobustnessCard) -> anyhow::Result<PathBuf> {
    let path = dir.join("card.html");
    write_atomic(&path, render(card)?.into_string().as_bytes())?;
    Ok(path)
}

const STYLE: &str = "
.level { display: inline-block; padding: 2px 10px; border-radius: 10px; background: #1f3a5f;
  color: #fff; font-size: 0.9em; vertical-align: middle; }
.verdict-box { border-left: 4px solid #1f3a5f; background: #f3f6fa; padding: 8px 16px; }
.verdict-box li { margin: 4px 0; }
pre.command { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: 6px; }
";

/// A table of the core's cells (`robustdx_core::card`'s tables, the page's too); the first
/// column names the row.
fn cells(table: CardTable) -> Markup {
    let (head, rows) = table;
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    html! {
        table {
            (head_row(&head))
            @for row in &rows {
                tr {
                    @for (i, cell) in row.iter().enumerate() {
                        @if i == 0 { td.left { (cell) } } @else { td { (cell) } }
                    }
                }
            }
        }
    }
}

fn clean_section(card: &RobustnessCard) -> Markup {
    let i = &card.clean.intervals;
    html! {
        h2 { "Clean performance" }
        p { (card.clean.verdict) }
        (cells(clean_table(card)))
        @if let Some(per_class) = per_class_table(card) { (cells(per_class)) }
        p.note {
            "Intervals: " (i.resamples) " bootstrap resamples of the test images (seed " (i.seed)
            ", percentile rule). Scores from the sweep's clean cell."
        }
    }
}

fn attack_section(card: &RobustnessCard, svg: &str) -> Markup {
    html! {
        h2 { "Under attack" }
        (chart(svg))
        (cells(attack_table(card)))
        ul { @for v in &card.attacks.verdicts { li { (v) } } }
        (command(&card.attacks.command))
    }
}

fn benchmark_section(card: &RobustnessCard, svg: &str) -> Markup {
    html! {
        h2 { "Everyday changes (Robust-Benchmark)" }
        (chart(svg))
        (cells(benchmark_table(card)))
        ul { @for v in &card.benchmark.verdicts { li { (v) } } }
        (command(&card.benchmark.command))
    }
}

fn certification_section(card: &RobustnessCard, svg: Option<&str>) -> Markup {
    html! {
        h2 { "Certified robustness (randomized smoothing)" }
        @match (&card.certification, svg) {
            (Some(part), Some(svg)) => {
                (chart(svg))
                (cells(part.result.table()))
                ul { @for v in &part.verdicts { li { (v) } } }
                (command(&part.command))
            }
            _ => p.note { "Not run: the model was not trained for smoothing and no σ was given." }
        }
    }
}

fn inside_section(card: &RobustnessCard, cams: Option<&str>) -> Markup {
    html! {
        h2 { "What the attack does inside" }
        ul { @for v in &card.inside.verdicts { li { (v) } } }
        (cells(feature_shift_table(card)))
        (cells(separation_table(card)))
        @if let Some(svg) = cams {
            h3 { "Grad-CAM before and after" }
            (chart(svg))
            @if let Some(overlap) = card.cams.mean_overlap {
                p.note {
                    "Overlap: intersection over union of each map's hottest fifth; mean "
                    (format!("{overlap:.2}")) " (1: the attack leaves the model looking where it "
                    "looked; 0: elsewhere entirely)."
                }
            }
        }
        (command(&card.inside.command))
    }
}

fn command(line: &str) -> Markup {
    html! { details { summary { "Reproduce this part" } pre.command { (line) } } }
}

/// What made the card, and each part's identity.
fn provenance(card: &RobustnessCard) -> Markup {
    let rows = provenance_rows(card);
    html! { h2 { "Provenance" } (about_table(rows)) }
}

/// The card's page.
fn render(card: &RobustnessCard) -> anyhow::Result<Markup> {
    let charts = card_charts(card)?;
    let model = &card.model;
    let body = html! {
        h1 { "Robustness card: " (model.file) " " span.level { (card.level) } }
        p {
            (model.architecture) " (" (model.task) ": " (model.class_names.join(", "))
            "), trained " (card.defense()) ", on " b { (card.data.name) } " ("
            (card.data.samples) " test images)."
        }
        div.verdict-box {
            h2 { "Verdict" }
            ul { @for v in all_verdicts(card) { li { (v) } } }
            @if !card.sanity.is_empty() {
                h3 { "Sanity flags" }
                ul { @for f in &card.sanity { li { (f.message) } } }
            }
            @if !card.not_run.is_empty() {
                p.note { "Not run: " (card.not_run.join("; ")) }
            }
            p.note {
                "A " (card.level) " card: compare it only with cards of the same level and data "
                "(fingerprint " (card.provenance.data_fingerprint.get(..12).unwrap_or("")) "…)."
            }
        }
        (clean_section(card))
        (attack_section(card, &charts.attacks))
        (benchmark_section(card, &charts.benchmark))
        (certification_section(card, charts.certification.as_deref()))
        (inside_section(card, charts.cams.as_deref()))
        (provenance(card))
    };
    Ok(page(&format!("robustdx card: {}", model.file), STYLE, body))
}
