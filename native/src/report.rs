//! The HTML report of an attack sweep: one self-contained `index.html` (charts as inline SVG,
//! images as data URLs), readable offline and safe to mail.

use std::path::{Path, PathBuf};

use anyhow::Context;
use maud::{Markup, html};
use robustdx_core::model::ModelCard;
use robustdx_core::report::{
    AttackReport, amplified_perturbation, attack_verdict, provenance, sanity_summary,
    settings_text, sweep_charts,
};
use robustdx_core::robustness::Decision;
use robustdx_core::robustness::{Example, decision};

use crate::files::write_atomic;
use parts::{about_table, chart, head_row, optional, page, picture};

pub(crate) mod parts;

/// Example images per (attack, ε), in sweep order.
pub type Gallery = Vec<(String, f32, Vec<Example>)>;

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
    let html = render(record, card, examples)?;
    let index = dir.join("index.html");
    write_atomic(&index, html.into_string().as_bytes())?;
    Ok(index)
}

/// The report's template.
fn render(record: &AttackReport, card: &ModelCard, examples: &Gallery) -> anyhow::Result<Markup> {
    let charts = sweep_charts(record)?;
    let summary = sanity_summary(record);
    let model = &record.model.file;
    let body = html! {
        h1 { "Robustness of " (model) }
        p {
            (record.model.architecture) " (" (record.model.task) ", classes: "
            (card.class_names.join(", ")) "), evaluated on " b { (record.data.name) }
            " (" (record.data.samples) " test images) by " (record.tool.name) " "
            (record.tool.version) "."
        }
        (about_table(provenance(record)))
        p.note {
            "ε is the L∞ (or L2) budget in 1/255 pixel units; ε = 0 is the clean model. "
            "Fooled: share of images whose decision changed. Success: untargeted — share of "
            "correctly classified images made wrong; targeted — share now decided as the target."
        }
        h2 { "Sanity checks" }
        @if summary.is_empty() {
            p.note { "No sanity checks recorded (an older result file)." }
        }
        @for (warn, text) in &summary {
            @if *warn { p.flag { "⚠ " (text) } } @else { p.ok { "✓ " (text) } }
        }
        div.charts { @for (_, svg) in &charts { (chart(svg)) } }
        table {
            (head_row(&[
                "attack", "settings", "ε×255", "accuracy", "AUC", "sensitivity", "specificity",
                "fooled", "success", "mean ‖δ‖∞×255", "mean ‖δ‖₂",
            ]))
            @for r in &record.results {
                @let (m, adversarial) = (&r.metrics, &r.metrics.adversarial);
                tr {
                    td { (r.attack) }
                    td { (settings_text(r)) }
                    td { (r.eps) }
                    td { (format!("{:.3}", adversarial.accuracy)) }
                    td { (optional(adversarial.auc_macro)) }
                    td { (optional(adversarial.sensitivity)) }
                    td { (optional(adversarial.specificity)) }
                    td { (format!("{:.3}", m.fooling_rate)) }
                    td { (format!("{:.3}", m.success_rate)) }
                    td { (format!("{:.2}", m.mean_linf * 255.0)) }
                    td { (format!("{:.3}", m.mean_l2)) }
                }
            }
        }
        h2 { "In words" }
        ul.verdicts {
            @for r in record.results.iter().filter(|r| r.eps > 0.0) {
                li { (attack_verdict(record, r)) }
            }
        }
        h2 { "Examples" }
        (gallery(card, examples))
    };
    Ok(page(&format!("robustdx report: {model}"), "", body))
}

/// For each attack, its examples at its largest ε: the truth, the clean and adversarial images
/// with their decisions, and the perturbation.
fn gallery(card: &ModelCard, examples: &Gallery) -> Markup {
    let mut attacks: Vec<&str> = examples.iter().map(|(a, _, _)| a.as_str()).collect();
    attacks.dedup();
    let largest = attacks.into_iter().filter_map(|attack| {
        examples
            .iter()
            .filter(|(a, _, _)| a == attack)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    });
    html! {
        @for (attack, eps, shown) in largest {
            h3 { (attack) ", ε = " (eps) "/255" }
            table.gallery {
                (head_row(&["truth", "clean", "adversarial", "perturbation (amplified)"]))
                @for e in shown {
                    tr {
                        td { "#" (e.index) " " (truth(card, &e.label)) }
                        td { (picture(&e.clean)) br; (describe(card, &e.clean_probs)) }
                        td { (picture(&e.adversarial)) br; (describe(card, &e.adversarial_probs)) }
                        td { (picture(&amplified_perturbation(&e.clean, &e.adversarial))) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use robustdx_core::data::Image;
    use robustdx_core::model::{ArchitectureConfig, InputSpec, ModelOptions};
    use robustdx_core::{Label, TaskKind};

    use super::*;
    use crate::report::parts::{HOSTILE, assert_escaped, hostile_sweep};

    #[test]
    fn hostile_names_come_out_escaped() {
        let record = hostile_sweep();
        let options = ModelOptions {
            channels: 3,
            classes: 2,
            width: Some(4),
            input_size: 2,
        };
        let card = ModelCard {
            architecture: ArchitectureConfig::from_name("small-cnn", &options).unwrap(),
            input: InputSpec::with_default_stats(3, 2),
            task: TaskKind::Binary,
            class_names: record.model.class_names.clone(),
            training: None,
        };
        let image = Image::new(3, 2, 2, vec![0.5; 12]);
        let example = Example {
            index: 7,
            label: Label::Class(0),
            clean: image.clone(),
            adversarial: image,
            clean_probs: vec![0.9, 0.1],
            adversarial_probs: vec![0.2, 0.8],
        };
        let gallery = vec![(HOSTILE.to_string(), 8.0, vec![example])];
        let html = render(&record, &card, &gallery).unwrap().into_string();
        assert_escaped(&html);
        assert!(html.contains("Sanity checks") && html.contains("<h2>Examples</h2>"));
        // Every attacked cell in a sentence, the clean one not.
        let attacked = record.results.iter().filter(|r| r.eps > 0.0).count();
        assert!(attacked > 0);
        assert_eq!(
            html.matches("correct calls wrong").count(),
            attacked,
            "{html}"
        );
    }
}
