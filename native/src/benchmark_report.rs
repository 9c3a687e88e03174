//! The HTML report of a Robust-Benchmark: Flip Probability per kind (bar chart and table) and,
//! per kind, the frames of one image with the model's decision under each — the image the model
//! changed its mind on most often, so the report shows what flips look like.

use std::path::{Path, PathBuf};

use anyhow::Context;
use robustdx_core::data::Dataset;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::perturb::{
    FlipProbability, FlipVariant, Reference, SequenceKey, model_frames, perturbation,
};
use robustdx_core::report::{BenchmarkReport, KindResult, flip_probability_chart, png_data_url};
use robustdx_core::robustness::decision;

use crate::files::write_atomic;
use crate::report::{STYLE, escape};

/// One kind's strip: the frames of its most-flipping image, each with its decision; a flipped
/// frame is framed in red.
fn strip(
    result: &KindResult,
    report: &BenchmarkReport,
    model: &DiagnosticModel,
    data: &dyn Dataset,
) -> anyhow::Result<String> {
    let card = &model.card;
    let fp = FlipProbability::new(result.reference, FlipVariant::Normalized);
    let decided = |r: &robustdx_core::perturb::SequenceRecord| -> Vec<_> {
        r.probs.iter().map(|p| decision(card.task, p)).collect()
    };
    let Some(record) = result
        .records
        .iter()
        .max_by_key(|r| (fp.changed_frames(&decided(r)), std::cmp::Reverse(r.index)))
    else {
        return Ok(String::new());
    };
    let kind = perturbation(&result.perturbation)?;
    let image = data.get(record.index)?.image;
    let frames = model_frames(
        &card.input,
        image,
        kind,
        report.frames,
        SequenceKey::new(report.seed, record.index as u64),
    );
    let decisions = decided(record);
    let flips = fp.changed_frames(&decisions);
    let mut cells = String::new();
    for (i, (frame, d)) in frames.iter().zip(&decisions).enumerate() {
        let flipped = fp.flipped(&decisions, i);
        let top = record.probs[i].iter().fold(0.0f32, |m, p| m.max(*p));
        cells.push_str(&format!(
            "<td class=\"{}\"><img src=\"{}\"><br>{i}: {} {top:.2}</td>",
            if flipped { "flip" } else { "" },
            png_data_url(frame),
            escape(&d.describe(&card.class_names)),
        ));
    }
    Ok(format!(
        "<h3>{} <span class=\"note\">({}; image #{}{}, {} flip{})</span></h3>\n<table class=\"strip\"><tr>{cells}</tr></table>\n",
        kind.name(),
        escape(&kind.schedule().describe()),
        record.index,
        // Generated images are named by their index: say it once.
        if record.id == record.index.to_string() {
            String::new()
        } else {
            format!(" {}", escape(&record.id))
        },
        flips,
        if flips == 1 { "" } else { "s" },
    ))
}

/// Writes `dir/index.html`; returns its path. `data` is the split the report was run on.
pub fn write(
    dir: &Path,
    report: &BenchmarkReport,
    model: &DiagnosticModel,
    data: &dyn Dataset,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the report directory", dir.display()))?;
    let seed_variant = report.model.task.is_multi_label();
    let mut rows = String::new();
    for r in &report.results {
        rows.push_str(&format!(
            "<tr><td class=\"left\">{}</td><td>{}</td><td>{:.4}</td>{}<td>{:.3}</td><td>{}</td></tr>\n",
            r.perturbation,
            match r.reference {
                Reference::First => "first frame",
                Reference::Previous => "previous frame",
            },
            r.flip_probability,
            if seed_variant {
                format!("<td>{:.3}</td>", r.flip_probability_paper)
            } else {
                String::new()
            },
            r.last_frame.accuracy,
            r.last_frame
                .auc_macro
                .map_or("–".into(), |a| format!("{a:.3}")),
        ));
    }
    let mut strips = String::new();
    for r in &report.results {
        strips.push_str(&strip(r, report, model, data)?);
    }
    let chart = flip_probability_chart(report)?;
    let seed_head = if seed_variant {
        "<th>FP (seed's variant, 0 to frames − 1)</th>"
    } else {
        ""
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>robustdx benchmark: {model}</title>
<style>{STYLE}
.strip td {{ text-align: center; font-size: 0.8em; vertical-align: top; border: 2px solid #ddd; }}
.strip td.flip {{ border: 2px solid #d62728; background: #fdecea; }}
.strip img {{ width: 80px; image-rendering: pixelated; }}
</style></head><body>
<h1>Robust-Benchmark of {model}</h1>
<p>{arch} ({task}, classes: {classes}) on <b>{data}</b> ({samples} test images): {kinds} kinds × {frames} frames, seed {seed}, by {tool} {version}.</p>
<p class="note">Flip Probability (FP): per image, the share of frames 2..{frames} whose decision differs from the reference frame — the clean first frame for the three noises, the previous frame otherwise — averaged over images.
Multi-label models: per finding at 0.5, averaged over findings (0 to 1); the seed study's variant counts against the first frame and sums over frames (0 to {last}).
Last-frame scores: the model on each sequence's last frame.</p>
{chart}
<table><tr><th>perturbation</th><th>flips against</th><th>FP</th>{seed_head}<th>last-frame accuracy</th><th>last-frame AUC</th></tr>
{rows}<tr><th class="left">mean</th><td></td><td>{mean:.4}</td></tr></table>
<h2>Sequences</h2>
<p class="note">Per kind, the image whose decision changed most often; frames framed in red decided otherwise than their reference frame.</p>
{strips}
</body></html>
"#,
        model = escape(&report.model.file),
        arch = escape(&report.model.architecture),
        task = report.model.task,
        classes = escape(&report.model.class_names.join(", ")),
        data = escape(&report.data.name),
        samples = report.data.samples,
        kinds = report.results.len(),
        frames = report.frames,
        last = report.frames.saturating_sub(1),
        seed = report.seed,
        tool = report.tool.name,
        version = report.tool.version,
        mean = report.mean_flip_probability(),
    );
    let index = dir.join("index.html");
    write_atomic(&index, html.as_bytes())?;
    Ok(index)
}
