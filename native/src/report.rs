//! The HTML report of an attack sweep: one self-contained `index.html` (charts as inline SVG,
//! images as data URLs), readable offline and safe to mail.

use std::path::{Path, PathBuf};

use anyhow::Context;
use robustdx_core::model::ModelCard;
use robustdx_core::report::{
    AttackReport, amplified_perturbation, png_data_url, provenance, sanity_summary, settings_text,
    sweep_charts,
};
use robustdx_core::robustness::Decision;
use robustdx_core::robustness::{Example, decision};

use crate::files::write_atomic;

/// The look every robustdx report shares.
pub(crate) const STYLE: &str =
    "body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
.gallery td { text-align: center; vertical-align: top; }
.gallery img { width: 128px; image-rendering: pixelated; }
.charts { display: flex; gap: 1em; flex-wrap: wrap; }
.note { color: #666; font-size: 0.9em; }
.about th { text-align: left; } td.left { text-align: left; font-family: monospace; }
.flag { background: #fff3cd; border-left: 4px solid #c80; padding: 4px 8px; }
.ok { color: #276; margin: 0.2em 0; }
";

/// Example images per (attack, ε), in sweep order.
pub type Gallery = Vec<(String, f32, Vec<Example>)>;

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// "malignant 0.93" or the findings above threshold.
fn describe(card: &ModelCard, probs: &[f32]) -> String {
    match decision(card.task, probs) {
        Decision::Class(c) => format!("{} {:.2}", card.class_names[c], probs[c]),
        Decision::Findings(f) => {
            let on: Vec<String> = f
                .iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .map(|(k, _)| format!("{} {:.2}", card.class_names[k], probs[k]))
                .collect();
            if on.is_empty() {
                "no finding".into()
            } else {
                on.join(", ")
            }
        }
    }
}

fn truth(card: &ModelCard, label: &robustdx_core::Label) -> String {
    Decision::from(label).describe(&card.class_names)
}

/// Writes `dir/index.html`; returns its path.
pub fn write(
    dir: &Path,
    record: &AttackReport,
    card: &ModelCard,
    examples: &Gallery,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the report directory", dir.display()))?;
    let charts: String = sweep_charts(record)?
        .into_iter()
        .map(|(_, svg)| svg)
        .collect();
    let mut rows = String::new();
    for r in &record.results {
        let m = &r.metrics;
        let opt = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3}"));
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td><td>{:.3}</td></tr>\n",
            r.attack, escape(&settings_text(r)), r.eps, m.adversarial.accuracy, opt(m.adversarial.auc_macro), opt(m.adversarial.sensitivity),
            opt(m.adversarial.specificity), m.fooling_rate, m.success_rate, m.mean_linf * 255.0, m.mean_l2
        ));
    }
    let about: String = provenance(record)
        .into_iter()
        .map(|(k, v)| {
            format!(
                "<tr><th>{k}</th><td class=\"left\">{}</td></tr>",
                escape(&v)
            )
        })
        .collect();
    let summary = sanity_summary(record);
    let flags = match summary.is_empty() {
        true => {
            "<p class=\"note\">No sanity checks recorded (an older result file).</p>".to_string()
        }
        false => summary
            .iter()
            .map(|(warn, text)| match warn {
                true => format!("<p class=\"flag\">⚠ {}</p>", escape(text)),
                false => format!("<p class=\"ok\">✓ {}</p>", escape(text)),
            })
            .collect(),
    };
    // Examples: for each attack, its largest ε.
    let mut gallery = String::new();
    let mut attacks: Vec<&str> = examples.iter().map(|(a, _, _)| a.as_str()).collect();
    attacks.dedup();
    for attack in attacks {
        let Some((_, eps, shown)) = examples
            .iter()
            .filter(|(a, _, _)| a == attack)
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            continue;
        };
        gallery.push_str(&format!("<h3>{attack}, ε = {eps}/255</h3>\n<table class=\"gallery\"><tr><th>truth</th><th>clean</th><th>adversarial</th><th>perturbation (amplified)</th></tr>\n"));
        for e in shown {
            gallery.push_str(&format!(
                "<tr><td>#{} {}</td><td><img src=\"{}\"><br>{}</td><td><img src=\"{}\"><br>{}</td><td><img src=\"{}\"></td></tr>\n",
                e.index,
                escape(&truth(card, &e.label)),
                png_data_url(&e.clean),
                escape(&describe(card, &e.clean_probs)),
                png_data_url(&e.adversarial),
                escape(&describe(card, &e.adversarial_probs)),
                png_data_url(&amplified_perturbation(&e.clean, &e.adversarial)),
            ));
        }
        gallery.push_str("</table>\n");
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>robustdx report: {model}</title>
<style>{STYLE}</style></head><body>
<h1>Robustness of {model}</h1>
<p>{arch} ({task}, classes: {classes}), evaluated on <b>{data}</b> ({samples} test images) by {tool} {version}.</p>
<table class="about">{about}</table>
<p class="note">ε is the L∞ (or L2) budget in 1/255 pixel units; ε = 0 is the clean model. Fooled: share of images whose decision changed.
Success: untargeted — share of correctly classified images made wrong; targeted — share now decided as the target.</p>
<h2>Sanity checks</h2>
{flags}
<div class="charts">{charts}</div>
<table><tr><th>attack</th><th>settings</th><th>ε×255</th><th>accuracy</th><th>AUC</th><th>sensitivity</th><th>specificity</th><th>fooled</th><th>success</th><th>mean ‖δ‖∞×255</th><th>mean ‖δ‖₂</th></tr>
{rows}</table>
<h2>Examples</h2>
{gallery}
</body></html>
"#,
        model = escape(&record.model.file),
        arch = escape(&record.model.architecture),
        task = record.model.task,
        classes = escape(&card.class_names.join(", ")),
        data = escape(&record.data.name),
        samples = record.data.samples,
        tool = record.tool.name,
        version = record.tool.version,
    );
    let index = dir.join("index.html");
    write_atomic(&index, html.as_bytes())?;
    Ok(index)
}
