//! `card.html`: a robustness card as one self-contained page — the verdicts first, then each part
//! with its chart, table, sentences and the command that reproduces it, then provenance.

use std::path::{Path, PathBuf};

use maud::{Markup, html};
use robustdx_core::card::{RobustnessCard, card_charts};
use robustdx_core::metrics::Interval;

use crate::files::write_atomic;
use crate::report::parts::{about_table, chart, head_row, optional, page};

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

/// "0.912 [0.874, 0.945]".
fn with_interval(value: Option<f64>, interval: Option<Interval>) -> String {
    match (value, interval) {
        (Some(v), Some(i)) => format!("{v:.3} [{:.3}, {:.3}]", i.low, i.high),
        (value, _) => optional(value),
    }
}

fn clean_section(card: &RobustnessCard) -> Markup {
    let m = &card.clean.metrics;
    let i = &card.clean.intervals;
    let rows = [
        ("accuracy", Some(m.accuracy), Some(i.accuracy)),
        ("exact match", m.exact_match, i.exact_match),
        (
            "balanced accuracy",
            m.balanced_accuracy,
            i.balanced_accuracy,
        ),
        ("AUC (macro)", m.auc_macro, i.auc_macro),
        ("sensitivity", m.sensitivity, i.sensitivity),
        ("specificity", m.specificity, i.specificity),
    ];
    html! {
        h2 { "Clean performance" }
        p { (card.clean.verdict) }
        table {
            (head_row(&["score", &format!("value [{:.0} % bootstrap interval]", 100.0 * i.level)]))
            @for (name, value, interval) in rows {
                @if value.is_some() {
                    tr { td.left { (name) } td { (with_interval(value, interval)) } }
                }
            }
        }
        @if card.model.task.is_multi_label() || m.per_class.len() > 2 {
            table {
                (head_row(&["class / finding", "AUC"]))
                @for c in &m.per_class {
                    tr { td.left { (c.name) } td { (optional(c.auc)) } }
                }
            }
        }
        p.note {
            "Intervals: " (i.resamples) " bootstrap resamples of the test images (seed " (i.seed)
            ", percentile rule). Scores from the sweep's clean cell."
        }
    }
}

fn attack_section(card: &RobustnessCard, svg: &str) -> Markup {
    let report = &card.attacks.result;
    let multi_label = card.model.task.is_multi_label();
    html! {
        h2 { "Under attack" }
        (chart(svg))
        table {
            (head_row(&["attack", "ε × 255", if multi_label { "exact match" } else { "accuracy" },
                "AUC", "fooling rate", "mean ‖δ‖∞ × 255"]))
            @for r in &report.results {
                tr {
                    td.left { (r.attack) }
                    td { (r.eps) }
                    td { (format!("{:.3}", r.metrics.robust_accuracy())) }
                    td { (optional(r.metrics.adversarial.auc_macro)) }
                    td { (format!("{:.3}", r.metrics.fooling_rate)) }
                    td { (format!("{:.2}", r.metrics.mean_linf * 255.0)) }
                }
            }
        }
        ul { @for v in &card.attacks.verdicts { li { (v) } } }
        (command(&card.attacks.command))
    }
}

fn benchmark_section(card: &RobustnessCard, svg: &str) -> Markup {
    let report = &card.benchmark.result;
    html! {
        h2 { "Everyday changes (Robust-Benchmark)" }
        (chart(svg))
        table {
            (head_row(&["perturbation", "Flip Probability", "last-frame accuracy"]))
            @for r in &report.results {
                tr {
                    td.left { (r.perturbation) }
                    td { (format!("{:.4}", r.flip_probability(report.fp_variant))) }
                    td { (format!("{:.3}", r.last_frame.accuracy)) }
                }
            }
            tr { td.left { b { "mean" } } td { b { (format!("{:.4}", report.mean_flip_probability())) } } td {} }
        }
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
                @let (head, rows) = part.result.table();
                @let head: Vec<&str> = head.iter().map(String::as_str).collect();
                table {
                    (head_row(&head))
                    @for row in &rows { tr { @for cell in row { td { (cell) } } } }
                }
                ul { @for v in &part.verdicts { li { (v) } } }
                (command(&part.command))
            }
            _ => p.note { "Not run: the model was not trained for smoothing and no σ was given." }
        }
    }
}

fn inside_section(card: &RobustnessCard, cams: Option<&str>) -> Markup {
    let findings = &card.inside.result.findings;
    html! {
        h2 { "What the attack does inside" }
        ul { @for v in &card.inside.verdicts { li { (v) } } }
        table {
            (head_row(&["stage", "feature shift ‖A(x′) − A(x)‖ / ‖A(x)‖"]))
            @for s in &findings.feature_shift {
                tr { td { (s.stage) } td { (format!("{:.4}", s.relative_l2)) } }
            }
        }
        table {
            (head_row(&["", "accuracy", "silhouette", "Fisher ratio"]))
            @for (name, s) in [("clean", &findings.clean), ("attacked", &findings.adversarial)] {
                tr {
                    td.left { (name) }
                    td { (format!("{:.3}", s.accuracy)) }
                    td { (optional(s.silhouette)) }
                    td { (optional(s.fisher_ratio)) }
                }
            }
        }
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
    let training = card.model.training.as_ref().map_or_else(
        || "none recorded (imported or untrained)".to_string(),
        |t| {
            format!(
                "{} on {} ({} epochs, batch {}, {} lr {}, seed {})",
                t.recipe.defense.defense,
                t.data,
                t.epochs,
                t.batch_size,
                t.optimizer,
                t.learning_rate,
                t.seed
            )
        },
    );
    let rows = vec![
        ("model file", card.model.file.clone()),
        (
            "model sha256",
            card.model
                .sha256
                .clone()
                .unwrap_or_else(|| "not recorded".into()),
        ),
        ("training", training),
        (
            "data",
            format!("{} ({} test images)", card.data.name, card.data.samples),
        ),
        ("data fingerprint", card.provenance.data_fingerprint.clone()),
        (
            "level",
            format!(
                "{} (battery revision {})",
                card.level, card.battery_revision
            ),
        ),
        ("backend", card.provenance.backend.clone()),
        ("created", card.provenance.created.clone()),
        ("tool", format!("{} {}", card.tool.name, card.tool.version)),
    ];
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
            ul {
                li { (card.clean.verdict) }
                @for v in &card.attacks.verdicts { li { (v) } }
                @for v in &card.benchmark.verdicts { li { (v) } }
                @if let Some(c) = &card.certification { @for v in &c.verdicts { li { (v) } } }
                @for v in &card.inside.verdicts { li { (v) } }
            }
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
