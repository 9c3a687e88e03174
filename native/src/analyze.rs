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
use clap::Args;
use robustdx_core::analysis::{
    AnalysisFindings, AnalysisIdentity, Analyzer, Separation, ShownImages,
};
use robustdx_core::attack::{AttackContext, AttackSpec, Convention, DEFAULT_ATTACK, Goal, Norm};
use robustdx_core::data::Image;
use robustdx_core::report::{
    AnalysisReport, ToolInfo, feature_shift_chart, heatmap_overlay, png_data_url, tsne_chart,
};
use serde_json::{Map, Value};

use crate::backend::{self, BackendChoice};
use crate::data_args::{DataArgs, positive};
use crate::eval::load_model_hashed;
use crate::files::write_atomic;
use crate::report::{STYLE, escape};
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

fn optional(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3}"))
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

pub fn run(args: AnalyzeArgs, backend: BackendChoice) -> anyhow::Result<()> {
    let device = backend::select(backend)?;
    let (model, sha) = load_model_hashed(&args.model, &device)?;
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
    let spec = AttackSpec::new(
        &args.attack,
        args.eps,
        Norm::Linf,
        Convention::Pixel,
        Goal::Untargeted,
        &settings,
    )
    .with_context(|| format!("--attack {} --eps {}", args.attack, args.eps))?;
    let shard = args.output.shard()?;
    let splits = args.data.open()?;
    let test = splits.test.as_ref();
    let head = TestSplitHead::new(&args.model, &model, &sha, &args.data, &splits, shard);
    let identity = AnalysisIdentity {
        attack: spec.clone(),
        model_sha256: sha.clone(),
        data: head.data_identity.clone(),
        split: "test".into(),
        seed: args.seed,
        limit: args.limit,
        shown: args.shown,
        version: ToolInfo::this().version,
    };
    let file = args.output.open::<AnalysisReport>(shard)?;
    let analyzer = Analyzer {
        model: &model,
        data: test,
        shard,
        batch_size: args.batch_size,
        context: AttackContext { generator: None },
        device: &device,
    };
    let started = std::time::Instant::now();
    let header = AnalysisReport::new(
        head.model,
        head.data,
        spec.clone(),
        args.seed,
        AnalysisFindings::default(),
    );
    let (report, shown) = futures_lite::future::block_on(analyzer.run(
        &identity,
        &file.previous,
        header,
        &mut file.events(),
    ))?;
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
fn matrix_table(title: &str, names: &[String], m: &[Vec<f64>]) -> String {
    let mut out = format!(
        "<table class=\"matrix\"><caption>{}</caption><tr><th></th>",
        escape(title)
    );
    for n in names {
        out.push_str(&format!("<th class=\"rot\">{}</th>", escape(n)));
    }
    out.push_str("</tr>");
    for (name, row) in names.iter().zip(m) {
        out.push_str(&format!("<tr><th>{}</th>", escape(name)));
        for &v in row {
            let (r, g, b) = if v >= 0.0 {
                (255.0, 255.0 * (1.0 - v), 255.0 * (1.0 - v))
            } else {
                (255.0 * (1.0 + v), 255.0 * (1.0 + v), 255.0)
            };
            out.push_str(&format!(
                "<td style=\"background: rgb({r:.0},{g:.0},{b:.0})\">{v:.2}</td>"
            ));
        }
        out.push_str("</tr>");
    }
    out + "</table>"
}

fn separation_row(name: &str, s: &Separation) -> String {
    format!(
        "<tr><th>{name}</th><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
        s.accuracy,
        optional(s.silhouette),
        optional(s.fisher_ratio)
    )
}

/// Writes `dir/index.html`; returns its path.
fn write_report(
    dir: &Path,
    report: &AnalysisReport,
    shown: &ShownImages,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the report directory", dir.display()))?;
    let f = &report.findings;
    let chart = feature_shift_chart(&f.feature_shift)?;
    let shift_rows: String = f
        .feature_shift
        .iter()
        .map(|s| format!("<tr><td>{}</td><td>{:.4}</td></tr>", s.stage, s.relative_l2))
        .collect();
    let mut cams = String::new();
    for (example, (clean, adversarial)) in f.cams.iter().zip(shown) {
        let map = |values: &[f32]| Image::new(1, example.height, example.width, values.to_vec());
        cams.push_str(&format!(
            "<tr><td>#{} {}</td><td><img src=\"{}\"><br>{}</td><td><img src=\"{}\"></td><td><img src=\"{}\"><br>{}</td><td><img src=\"{}\"></td></tr>\n",
            example.index,
            // Generated images are named by their index: say it once.
            if example.id == example.index.to_string() {
                String::new()
            } else {
                escape(&example.id)
            },
            png_data_url(clean),
            escape(&example.clean_decision),
            png_data_url(&heatmap_overlay(clean, &map(&example.clean_cam))),
            png_data_url(adversarial),
            escape(&example.adversarial_decision),
            png_data_url(&heatmap_overlay(adversarial, &map(&example.adversarial_cam))),
        ));
    }
    if shown.len() < f.cams.len() {
        cams.push_str(
            "<tr><td colspan=\"5\">The images behind the maps are kept only by the run that \
             computed them: this analysis was reused (--resume) or merged. Run it again without \
             --resume to see them.</td></tr>\n",
        );
    }
    let tsne = match &f.tsne {
        Some(map) => format!(
            "<h2>t-SNE of the penultimate feature</h2><p class=\"note\">Clean and adversarial features embedded together (perplexity {:.0}, {} iterations, seed {}): an adversarial point sits where the attack moved its feature, among the clean classes. Colour: the true class; ×: fooled (right clean, wrong after).</p>{}",
            map.perplexity,
            map.epochs,
            map.seed,
            tsne_chart(map)?
        ),
        None => format!(
            "<h2>t-SNE of the penultimate feature</h2><p class=\"note\">No map: it needs at least {} images.</p>",
            robustdx_core::analysis::tsne::MIN_POINTS.div_ceil(2)
        ),
    };
    let correlation = f.label_correlation.as_ref().map_or(String::new(), |c| {
        let names = &report.model.class_names;
        format!(
            "<h2>Label correlation</h2><p class=\"note\">Finding-by-finding correlation (phi) of the ground truth and of the decisions; distance from the ground truth's matrix (Frobenius): clean {:.3}, adversarial {:.3}.</p><div class=\"charts\">{}{}{}</div>",
            c.clean_distance,
            c.adversarial_distance,
            matrix_table("ground truth", names, &c.truth),
            matrix_table("clean decisions", names, &c.clean),
            matrix_table("adversarial decisions", names, &c.adversarial),
        )
    });
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>robustdx analysis: {model}</title>
<style>{STYLE}
.gallery img {{ width: 112px; }}
.matrix td {{ font-size: 0.75em; padding: 2px 4px; }} .matrix caption {{ font-weight: bold; }}
</style></head><body>
<h1>What {attack} does inside {model}</h1>
<p>{arch} ({task}) on <b>{data}</b>: the first {samples} test images, attacked with {attack}, seed {seed}; by {tool} {version}.</p>
<h2>Feature shift</h2>
<p class="note">Per stage, the mean over images of ‖A(x′) − A(x)‖₂ / ‖A(x)‖₂: how far the attack has moved the activations at that depth.</p>
<div class="charts">{chart}<table><tr><th>stage</th><th>relative shift</th></tr>{shift_rows}</table></div>
<h2>Class separation of the penultimate feature</h2>
<p class="note">Silhouette (−1 to 1) and Fisher ratio (between- over within-class scatter) of the feature the head reads, grouped by the true class (multi-label: by the set of findings).</p>
<table><tr><th></th><th>accuracy</th><th>silhouette</th><th>Fisher ratio</th></tr>{clean_row}{adversarial_row}</table>
{tsne}
{correlation}
<h2>Grad-CAM before and after</h2>
<p class="note">Each map explains that image's own decision (red: most, blue: least).</p>
<table class="gallery"><tr><th>image</th><th>clean</th><th>Grad-CAM</th><th>adversarial</th><th>Grad-CAM</th></tr>
{cams}</table>
</body></html>
"#,
        model = escape(&report.model.file),
        attack = escape(&report.attack.describe()),
        arch = escape(&report.model.architecture),
        task = report.model.task,
        data = escape(&report.data.name),
        samples = f.samples,
        seed = report.seed,
        tool = report.tool.name,
        version = report.tool.version,
        clean_row = separation_row("clean", &f.clean),
        adversarial_row = separation_row("adversarial", &f.adversarial),
    );
    let index = dir.join("index.html");
    write_atomic(&index, html.as_bytes())?;
    Ok(index)
}
