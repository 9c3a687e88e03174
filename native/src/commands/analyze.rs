//! `robustdx analyze`: what an attack does inside a model — feature shift per stage, how well the
//! penultimate feature separates the classes before and after (scores and a t-SNE map), label
//! correlation (multi-label),
//! and Grad-CAM before and after for a few images. A table, JSON and an HTML report.
//!
//! `--resume` reuses the analysis in `--json` when its identity (attack and settings, model file
//! hash, data, seed, --limit, --shown, robustdx version) matches. `--shard i/n` analyses part of
//! the images and keeps each one's record (its penultimate features included) in the file, so
//! that `robustdx merge` recomputes every finding — the whole-set ones too — over all of them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::Device;
use clap::Args;
use maud::{Markup, html};
use robustdx_core::analysis::{
    AnalysisFindings, AnalysisIdentity, Analyzer, Separation, ShownImages,
};
use robustdx_core::attack::{AttackContext, AttackSpec, DEFAULT_ATTACK};
use robustdx_core::data::Image;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::report::{AnalysisReport, feature_shift_chart, heatmap_overlay, tsne_chart};
use serde_json::{Map, Value};

use crate::backend::{self, BackendChoice};
use crate::data_args::{DataArgs, positive};
use crate::files::write_atomic;
use crate::model_file::load_model_hashed;
use crate::report::parts::{chart, head_row, optional, page, picture};
use crate::result_file::{RunOutput, TestSplitHead};

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Model file written by robustdx
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// The attack making the adversarial images: fgsm, pgd or apgd (L∞, pixels)
    #[arg(long, default_value = DEFAULT_ATTACK)]
    pub attack: String,
    /// Budget in 1/255 pixel units
    #[arg(long, default_value_t = 8.0, allow_negative_numbers = true)]
    pub eps: f32,
    /// Iterations of PGD / APGD [default: the attack's]
    #[arg(long, value_parser = positive)]
    pub steps: Option<usize>,
    /// Analyse the first N test images
    #[arg(long, default_value_t = 200, value_parser = positive)]
    pub limit: usize,
    /// Grad-CAM before and after for the first N of them
    #[arg(long, default_value_t = 4)]
    pub shown: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 32, value_parser = positive)]
    pub batch_size: usize,
    #[command(flatten)]
    pub output: RunOutput,
    /// Write a self-contained HTML report (index.html) into this directory
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// The findings for the terminal.
pub fn table(findings: &AnalysisFindings) -> String {
    let mut out = String::from("stage  feature shift (‖A(x′) − A(x)‖ / ‖A(x)‖)\n");
    for s in &findings.feature_shift {
        out.push_str(&format!("{:>5}  {:.4}\n", s.stage, s.relative_l2));
    }
    out.push_str(&format!(
        "\n{:<12} {:>9} {:>11} {:>8}\n",
        "", "accuracy", "silhouette", "Fisher"
    ));
    for (name, s) in [
        ("clean", &findings.clean),
        ("adversarial", &findings.adversarial),
    ] {
        out.push_str(&format!(
            "{name:<12} {:>9.3} {:>11} {:>8}\n",
            s.accuracy,
            optional(s.silhouette),
            optional(s.fisher_ratio)
        ));
    }
    if let Some(c) = &findings.label_correlation {
        out.push_str(&format!(
            "\nlabel correlation, distance from the ground truth's: clean {:.3}, adversarial {:.3}\n",
            c.clean_distance, c.adversarial_distance
        ));
    }
    out
}

/// Runs the analysis on the test split (or a shard of it): the report and, when computed rather
/// than reused, the images behind its Grad-CAM examples.
pub fn analysis(
    args: &AnalyzeArgs,
    model: &DiagnosticModel,
    model_sha256: &str,
    device: &Device,
) -> anyhow::Result<(AnalysisReport, ShownImages)> {
    let mut settings = Map::new();
    if let Some(steps) = args.steps {
        settings.insert("steps".into(), Value::from(steps));
    }
    let entry = robustdx_core::attack::attack_info(&args.attack)?;
    anyhow::ensure!(
        !entry.needs_generator,
        "--attack {} needs a generator: analyse with an attack that follows the model's gradient",
        entry.name
    );
    let spec = AttackSpec::untargeted_linf(&args.attack, args.eps, &settings)
        .with_context(|| format!("--attack {} --eps {}", args.attack, args.eps))?;
    let shard = args.output.shard()?;
    let splits = args.data.open()?;
    let test = splits.test.as_ref();
    let head = TestSplitHead::new(&args.model, model, model_sha256, &args.data, &splits, shard)?;
    let identity = AnalysisIdentity::new(
        spec.clone(),
        head.subject(args.seed),
        args.limit,
        args.shown,
    );
    let file = args.output.open::<AnalysisReport>(shard)?;
    let analyzer = Analyzer {
        model,
        data: test,
        shard,
        batch_size: args.batch_size,
        context: AttackContext { generator: None },
        device,
    };
    let header = AnalysisReport::new(
        head.model,
        head.data,
        spec,
        args.seed,
        AnalysisFindings::default(),
    );
    Ok(futures_lite::future::block_on(analyzer.run(
        &identity,
        &file.previous,
        header,
        &mut file.events(),
    ))?)
}

pub fn run(args: AnalyzeArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    let (model, sha) = load_model_hashed(&args.model, &device)?;
    let started = std::time::Instant::now();
    let (report, shown) = analysis(&args, &model, &sha, &device)?;
    let spec = &report.attack;
    let findings = &report.findings;
    println!(
        "{} on {}: {} images under {} ({:.1} s)",
        args.model.display(),
        report.data.name,
        findings.samples,
        spec.describe(),
        started.elapsed().as_secs_f64()
    );
    print!("{}", table(findings));
    if let Some(dir) = &args.report {
        let index = write_report(dir, &report, &shown)?;
        println!("report: {}", index.display());
    }
    Ok(())
}

/// A heat map of a matrix in [−1, 1] as an HTML table (blue negative, red positive).
fn matrix_table(title: &str, names: &[String], m: &[Vec<f64>]) -> Markup {
    let colour = |v: f64| {
        let (r, g, b) = if v >= 0.0 {
            (255.0, 255.0 * (1.0 - v), 255.0 * (1.0 - v))
        } else {
            (255.0 * (1.0 + v), 255.0 * (1.0 + v), 255.0)
        };
        format!("background: rgb({r:.0},{g:.0},{b:.0})")
    };
    html! {
        table.matrix {
            caption { (title) }
            tr { th {} @for n in names { th.rot { (n) } } }
            @for (name, row) in names.iter().zip(m) {
                tr {
                    th { (name) }
                    @for &v in row { td style=(colour(v)) { (format!("{v:.2}")) } }
                }
            }
        }
    }
}

fn separation_row(name: &str, s: &Separation) -> Markup {
    html! {
        tr {
            th { (name) }
            td { (format!("{:.3}", s.accuracy)) }
            td { (optional(s.silhouette)) }
            td { (optional(s.fisher_ratio)) }
        }
    }
}

/// Writes `dir/index.html`; returns its path.
fn write_report(
    dir: &Path,
    report: &AnalysisReport,
    shown: &ShownImages,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the report directory", dir.display()))?;
    let html = render(report, shown)?;
    let index = dir.join("index.html");
    write_atomic(&index, html.into_string().as_bytes())?;
    Ok(index)
}

/// The analysis report's own look: smaller pictures, compact matrices.
const ANALYSIS_STYLE: &str = "
.gallery img { width: 112px; }
.matrix td { font-size: 0.75em; padding: 2px 4px; } .matrix caption { font-weight: bold; }
";

/// The analysis report's template.
fn render(report: &AnalysisReport, shown: &ShownImages) -> anyhow::Result<Markup> {
    let f = &report.findings;
    let model = &report.model.file;
    let attack = report.attack.describe();
    let tsne = f
        .tsne
        .as_ref()
        .map(|map| Ok::<_, anyhow::Error>((map, tsne_chart(map)?)));
    let tsne = tsne.transpose()?;
    let body = html! {
        h1 { "What " (attack) " does inside " (model) }
        p {
            (report.model.architecture) " (" (report.model.task) ") on " b { (report.data.name) }
            ": the first " (f.samples) " test images, attacked with " (attack) ", seed "
            (report.seed) "; by " (report.tool.name) " " (report.tool.version) "."
        }
        @if let Some(skipped) = report.data.skipped_text() {
            p.note { (skipped) }
        }
        h2 { "Feature shift" }
        p.note {
            "Per stage, the mean over images of ‖A(x′) − A(x)‖₂ / ‖A(x)‖₂: how far the attack has "
            "moved the activations at that depth."
        }
        div.charts {
            (chart(&feature_shift_chart(&f.feature_shift)?))
            table {
                (head_row(&["stage", "relative shift"]))
                @for s in &f.feature_shift {
                    tr { td { (s.stage) } td { (format!("{:.4}", s.relative_l2)) } }
                }
            }
        }
        h2 { "Class separation of the penultimate feature" }
        p.note {
            "Silhouette (−1 to 1) and Fisher ratio (between- over within-class scatter) of the "
            "feature the head reads, grouped by the true class (multi-label: by the set of "
            "findings)."
        }
        table {
            (head_row(&["", "accuracy", "silhouette", "Fisher ratio"]))
            (separation_row("clean", &f.clean))
            (separation_row("adversarial", &f.adversarial))
        }
        h2 { "t-SNE of the penultimate feature" }
        @if let Some((map, svg)) = &tsne {
            p.note {
                "Clean and adversarial features embedded together (perplexity "
                (format!("{:.0}", map.perplexity)) ", " (map.epochs) " iterations, seed " (map.seed)
                "): an adversarial point sits where the attack moved its feature, among the clean "
                "classes. Colour: the true class; ×: fooled (right clean, wrong after)."
            }
            (chart(svg))
        } @else {
            p.note {
                "No map: it needs at least "
                (robustdx_core::analysis::tsne::MIN_POINTS.div_ceil(2)) " images."
            }
        }
        @if let Some(c) = &f.label_correlation {
            @let names = &report.model.class_names;
            h2 { "Label correlation" }
            p.note {
                "Finding-by-finding correlation (phi) of the ground truth and of the decisions; "
                "distance from the ground truth's matrix (Frobenius): clean "
                (format!("{:.3}", c.clean_distance)) ", adversarial "
                (format!("{:.3}", c.adversarial_distance)) "."
            }
            div.charts {
                (matrix_table("ground truth", names, &c.truth))
                (matrix_table("clean decisions", names, &c.clean))
                (matrix_table("adversarial decisions", names, &c.adversarial))
            }
        }
        h2 { "Grad-CAM before and after" }
        p.note { "Each map explains that image's own decision (red: most, blue: least)." }
        table.gallery {
            (head_row(&["image", "clean", "Grad-CAM", "adversarial", "Grad-CAM"]))
            @for (example, (clean, adversarial)) in f.cams.iter().zip(shown) {
                @let map = |values: &[f32]| {
                    Image::new(1, example.height, example.width, values.to_vec())
                };
                tr {
                    td {
                        "#" (example.index) " "
                        // Generated images are named by their index: say it once.
                        @if example.id != example.index.to_string() { (example.id) }
                    }
                    td { (picture(clean)) br; (example.clean_decision) }
                    td { (picture(&heatmap_overlay(clean, &map(&example.clean_cam)))) }
                    td { (picture(adversarial)) br; (example.adversarial_decision) }
                    td { (picture(&heatmap_overlay(adversarial, &map(&example.adversarial_cam)))) }
                }
            }
            @if shown.len() < f.cams.len() {
                tr {
                    td colspan="5" {
                        "The images behind the maps are kept only by the run that computed \
                         them: this analysis was reused (--resume) or merged. Run it again \
                         without --resume to see them."
                    }
                }
            }
        }
    };
    Ok(page(
        &format!("robustdx analysis: {model}"),
        ANALYSIS_STYLE,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use robustdx_core::analysis::{CamExample, LabelCorrelation, StageShift, TsneMap};
    use robustdx_core::report::DataSummary;

    use super::*;
    use crate::report::parts::{HOSTILE, assert_escaped, hostile_sweep};

    #[test]
    fn hostile_names_come_out_escaped() {
        let model = hostile_sweep().model;
        let data = DataSummary {
            name: HOSTILE.into(),
            split: "test".into(),
            samples: 2,
            shard: None,
            skipped: Vec::new(),
        };
        let spec =
            AttackSpec::untargeted_linf(robustdx_core::attack::DEFAULT_ATTACK, 8.0, &Map::new())
                .unwrap();
        let separation = Separation {
            accuracy: 0.5,
            silhouette: Some(0.1),
            fisher_ratio: None,
        };
        let matrix = vec![vec![1.0, -0.5], vec![-0.5, 1.0]];
        let findings = AnalysisFindings {
            identity: None,
            robustdx_version: None,
            samples: 2,
            feature_shift: vec![
                StageShift {
                    stage: 1,
                    relative_l2: 0.1,
                },
                StageShift {
                    stage: 2,
                    relative_l2: 0.3,
                },
            ],
            clean: separation,
            adversarial: separation,
            label_correlation: Some(LabelCorrelation {
                truth: matrix.clone(),
                clean: matrix.clone(),
                adversarial: matrix,
                clean_distance: 0.0,
                adversarial_distance: 0.5,
            }),
            tsne: Some(TsneMap {
                perplexity: 2.0,
                epochs: 10,
                seed: 0,
                clean: vec![[0.0, 0.0], [1.0, 1.0]],
                adversarial: vec![[0.5, 0.0], [1.0, 0.5]],
                groups: vec![0, 1],
                group_names: vec![HOSTILE.into(), "malignant".into()],
                clean_right: vec![true, true],
                adversarial_right: vec![false, true],
            }),
            cams: vec![CamExample {
                index: 0,
                id: HOSTILE.into(),
                height: 2,
                width: 2,
                clean_decision: HOSTILE.into(),
                adversarial_decision: HOSTILE.into(),
                clean_cam: vec![0.0, 0.5, 1.0, 0.5],
                adversarial_cam: vec![1.0, 0.5, 0.0, 0.5],
            }],
            records: Vec::new(),
        };
        let report = AnalysisReport::new(model, data, spec, 0, findings);
        let image = Image::new(3, 2, 2, vec![0.5; 12]);
        let html = render(&report, &vec![(image.clone(), image)])
            .unwrap()
            .into_string();
        assert_escaped(&html);
        assert!(html.contains("Label correlation") && html.contains("fooled: ×"));
        assert_eq!(html.matches("data:image/png;base64").count(), 4);
    }
}
