//! The HTML report of a Robust-Benchmark: Flip Probability per kind (bar chart and table) and,
//! per kind, the frames of one image with the model's decision under each — the image the model
//! changed its mind on most often, so the report shows what flips look like.

use std::path::{Path, PathBuf};

use anyhow::Context;
use maud::{Markup, html};
use robustdx_core::data::{Dataset, Image};
use robustdx_core::model::DiagnosticModel;
use robustdx_core::perturb::{
    FlipProbability, FlipVariant, Reference, SequenceKey, model_frames, perturbation,
};
use robustdx_core::report::{BenchmarkReport, KindResult, flip_probability_chart};
use robustdx_core::robustness::decision;

use crate::files::write_atomic;
use crate::report::parts::{chart, head_row, optional, page, picture};

/// The strip of one kind: the frames of its most-flipping image.
struct Strip {
    kind: &'static str,
    schedule: String,
    index: usize,
    /// The image's id where it says more than its index.
    id: Option<String>,
    flips: usize,
    frames: Vec<Frame>,
}

/// One frame of a strip and the model's decision on it.
struct Frame {
    picture: Image,
    decision: String,
    /// The highest probability.
    top: f32,
    /// Decided otherwise than its reference frame.
    flipped: bool,
}

/// One kind's strip: the frames of its most-flipping image, each with its decision; none for a
/// kind without records.
fn strip(
    result: &KindResult,
    report: &BenchmarkReport,
    model: &DiagnosticModel,
    data: &dyn Dataset,
) -> anyhow::Result<Option<Strip>> {
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
        return Ok(None);
    };
    let kind = perturbation(&result.perturbation)?;
    let image = data.get(record.index)?.image;
    let pictures = model_frames(
        &card.input,
        image,
        kind,
        report.frames,
        SequenceKey::new(report.seed, record.index as u64),
    );
    let decisions = decided(record);
    let frames = pictures
        .into_iter()
        .zip(&decisions)
        .enumerate()
        .map(|(i, (picture, d))| Frame {
            picture,
            decision: d.describe(&card.class_names),
            top: record.probs[i].iter().fold(0.0f32, |m, p| m.max(*p)),
            flipped: fp.flipped(&decisions, i),
        })
        .collect();
    Ok(Some(Strip {
        kind: kind.name(),
        schedule: kind.schedule().describe(),
        index: record.index,
        // Generated images are named by their index: say it once.
        id: (record.id != record.index.to_string()).then(|| record.id.clone()),
        flips: fp.changed_frames(&decisions),
        frames,
    }))
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
    let mut strips = Vec::new();
    for r in &report.results {
        strips.extend(strip(r, report, model, data)?);
    }
    let html = render(report, &strips)?;
    let index = dir.join("index.html");
    write_atomic(&index, html.into_string().as_bytes())?;
    Ok(index)
}

/// The strips' own look: a flipped frame is framed in red.
const STRIP_STYLE: &str = "
.strip td { text-align: center; font-size: 0.8em; vertical-align: top; border: 2px solid #ddd; }
.strip td.flip { border: 2px solid #d62728; background: #fdecea; }
.strip img { width: 80px; image-rendering: pixelated; }
";

/// The report's template.
fn render(report: &BenchmarkReport, strips: &[Strip]) -> anyhow::Result<Markup> {
    let paper_variant = report.model.task.is_multi_label();
    let frames = report.frames;
    let model = &report.model.file;
    let mut head = vec!["perturbation", "flips against", "FP"];
    if paper_variant {
        head.push("FP (the paper's variant, 0 to frames − 1)");
    }
    head.extend(["last-frame accuracy", "last-frame AUC"]);
    let body = html! {
        h1 { "Robust-Benchmark of " (model) }
        p {
            (report.model.architecture) " (" (report.model.task) ", classes: "
            (report.model.class_names.join(", ")) ") on " b { (report.data.name) } " ("
            (report.data.samples) " test images): " (report.results.len()) " kinds × " (frames)
            " frames, seed " (report.seed) ", by " (report.tool.name) " " (report.tool.version) "."
        }
        @if let Some(skipped) = report.data.skipped_text() {
            p.note { (skipped) }
        }
        p.note {
            "Flip Probability (FP): per image, the share of frames 2.." (frames) " whose decision "
            "differs from the reference frame — the clean first frame for the three noises, the "
            "previous frame otherwise — averaged over images. Multi-label models: per finding at "
            "0.5, averaged over findings (0 to 1); the paper's variant (the seed study's) counts against the "
            "first frame and sums over frames (0 to " (frames.saturating_sub(1)) "). Last-frame "
            "scores: the model on each sequence's last frame."
        }
        (chart(&flip_probability_chart(report)?))
        table {
            (head_row(&head))
            @for r in &report.results {
                tr {
                    td.left { (r.perturbation) }
                    td {
                        @match r.reference {
                            Reference::First => "first frame",
                            Reference::Previous => "previous frame",
                        }
                    }
                    td { (format!("{:.4}", r.flip_probability)) }
                    @if paper_variant { td { (format!("{:.3}", r.flip_probability_paper)) } }
                    td { (format!("{:.3}", r.last_frame.accuracy)) }
                    td { (optional(r.last_frame.auc_macro)) }
                }
            }
            tr {
                th.left { "mean" }
                td {}
                td { (format!("{:.4}", report.mean_flip_probability())) }
            }
        }
        h2 { "Sequences" }
        p.note {
            "Per kind, the image whose decision changed most often; frames framed in red decided "
            "otherwise than their reference frame."
        }
        @for s in strips {
            h3 {
                (s.kind) " "
                span.note {
                    "(" (s.schedule) "; image #" (s.index)
                    @if let Some(id) = &s.id { " " (id) }
                    ", " (s.flips) " flip" @if s.flips != 1 { "s" } ")"
                }
            }
            table.strip {
                tr {
                    @for (i, f) in s.frames.iter().enumerate() {
                        td class=[f.flipped.then_some("flip")] {
                            (picture(&f.picture)) br;
                            (i) ": " (f.decision) " " (format!("{:.2}", f.top))
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &format!("robustdx benchmark: {model}"),
        STRIP_STYLE,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use robustdx_core::report::{BenchmarkIdentity, DataSummary};
    use robustdx_core::robustness::Subject;

    use super::*;
    use crate::report::parts::{HOSTILE, assert_escaped, hostile_sweep};

    #[test]
    fn hostile_names_come_out_escaped() {
        let sweep = hostile_sweep();
        let data = DataSummary {
            name: HOSTILE.into(),
            split: "test".into(),
            samples: 1,
            shard: None,
            skipped: Vec::new(),
        };
        let mut report = BenchmarkReport::new(sweep.model, data, 2, 0, FlipVariant::Normalized);
        report.results.push(KindResult {
            perturbation: "rotate".into(),
            reference: Reference::Previous,
            identity: BenchmarkIdentity {
                perturbation: "rotate".into(),
                revision: 0,
                frames: 2,
                subject: Subject {
                    model_sha256: String::new(),
                    data: HOSTILE.into(),
                    data_fingerprint: None,
                    split: "test".into(),
                    seed: 0,
                },
            },
            robustdx_version: None,
            flip_probability: 0.5,
            flip_probability_paper: 0.5,
            last_frame: sweep.results[0].metrics.adversarial.clone(),
            records: Vec::new(),
        });
        let frame = |flipped| Frame {
            picture: Image::new(1, 1, 1, vec![0.5]),
            decision: HOSTILE.into(),
            top: 0.9,
            flipped,
        };
        let strip = Strip {
            kind: "rotate",
            schedule: "0° to 30°".into(),
            index: 3,
            id: Some(HOSTILE.into()),
            flips: 1,
            frames: vec![frame(false), frame(true)],
        };
        let html = render(&report, &[strip]).unwrap().into_string();
        assert_escaped(&html);
        assert_eq!(html.matches("<td class=\"flip\">").count(), 1, "{html}");
        assert!(html.contains("image #3 &lt;script&gt;"), "{html}");
    }
}
