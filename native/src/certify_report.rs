//! The HTML report of a certification: certified accuracy against L2 radius per noise level
//! (chart and table), abstentions, per-finding tables for multi-label models, and what the
//! numbers guarantee, in words.

use std::path::{Path, PathBuf};

use maud::{Markup, html};
use robustdx_core::certify::linf_budget_l2;
use robustdx_core::report::{CertifyReport, certified_accuracy_chart, certify_verdict};

use crate::files::write_atomic;
use crate::report::parts::{about_table, chart, head_row, page};

/// Writes `index.html` of `report` into `dir`; returns its path.
pub fn write(dir: &Path, report: &CertifyReport) -> anyhow::Result<PathBuf> {
    let index = dir.join("index.html");
    write_atomic(&index, render(report)?.into_string().as_bytes())?;
    Ok(index)
}

/// What the numbers were made from, per noise level: what `--resume` compares.
fn provenance(report: &CertifyReport) -> Markup {
    let rows = report.results.iter().flat_map(|r| {
        let id = &r.identity;
        let made_by = r.robustdx_version.as_deref().unwrap_or("not recorded");
        [
            (
                format!("σ = {}: model sha256", r.sigma),
                id.subject.model_sha256.clone(),
            ),
            (
                format!("σ = {}: data", r.sigma),
                format!(
                    "{} ({} split, fingerprint {})",
                    id.subject.data,
                    id.subject.split,
                    id.subject
                        .data_fingerprint
                        .as_deref()
                        .unwrap_or("not recorded")
                ),
            ),
            (
                format!("σ = {}: settings", r.sigma),
                format!(
                    "n0 {}, n {}, α {}, seed {}, revision {}, robustdx {made_by}",
                    id.n0, id.n, id.alpha, id.subject.seed, id.revision
                ),
            ),
        ]
    });
    html! { h3 { "Provenance" } (about_table(rows)) }
}

/// The report's template.
fn render(report: &CertifyReport) -> anyhow::Result<Markup> {
    let model = &report.model;
    let input = &model.input;
    let values = input.values();
    let images = report.results.first().map_or(0, |r| r.records.len());
    let (head, rows) = report.table();
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let body = html! {
        h1 { "Certified robustness of " (model.file) }
        p {
            (model.architecture) " (" (model.task) ", classes: " (model.class_names.join(", "))
            ") on " b { (report.data.name) } " (" (images) " of " (report.data.samples)
            " test images), randomized smoothing with n0 = " (report.n0) ", n = " (report.n)
            " noisy copies per image, α = " (report.alpha) ", seed " (report.seed) ", by "
            (report.tool.name) " " (report.tool.version) "."
        }
        @if let Some(skipped) = report.data.skipped_text() {
            p.note { (skipped) }
        }
        p.note {
            "Randomized smoothing (Cohen, Rosenfeld & Kolter, 2019): the smoothed model decides what "
            "the base model decides most often on the image plus Gaussian noise of standard "
            "deviation σ. Its decision provably cannot change within the certified L2 radius "
            "σ·Φ⁻¹(p̲A), where p̲A is a Clopper–Pearson lower bound on the top decision's share of "
            "the noisy copies; each certificate is wrong with probability at most α. Below p̲A = ½ it "
            "abstains. Certified accuracy at radius r: the share of images decided correctly and "
            "certified at least r far (abstentions count as wrong). Radii are in pixel units of "
            "[0, 1] images. \"Largest possible\": the radius of an image on which all n copies agree, "
            "σ·Φ⁻¹(α^(1/n)) — no image can be certified further with this n. An L∞ attack of ε = 1/255 reaches L2 "
            (format!("{:.2}", linf_budget_l2(1.0 / 255.0, values))) " on this model's "
            (input.channels) "×" (input.height) "×" (input.width) " input, one of 4/255 reaches "
            (format!("{:.2}", linf_budget_l2(4.0 / 255.0, values))) "."
        }
        @if model.task.is_multi_label() {
            p.note {
                "Multi-label: each finding is certified as its own binary smoothed classifier, α "
                "shared over the findings (so all hold together with probability 1 − α); an image "
                "counts as correct when every finding is, within the smallest finding's radius."
            }
        }
        (chart(&certified_accuracy_chart(report)?))
        table {
            (head_row(&head))
            @for row in &rows {
                tr { @for cell in row { td { (cell) } } }
            }
        }
        ul.verdicts {
            @for r in &report.results { li { (certify_verdict(report, r)) } }
        }
        @for r in &report.results {
            @if let Some(findings) = &r.finding_certified_accuracy {
                h3 { "Per finding, σ = " (r.sigma) }
                table {
                    (head_row(&[&["finding"][..], &head[3..]].concat()))
                    @for (name, row) in model.class_names.iter().zip(findings) {
                        tr {
                            td.left { (name) }
                            @for v in row { td { (format!("{v:.3}")) } }
                        }
                    }
                }
            }
        }
        (provenance(report))
    };
    Ok(page(&format!("robustdx certify: {}", model.file), "", body))
}

#[cfg(test)]
mod tests {
    use robustdx_core::certify::{CertifySettings, sigma_result};
    use robustdx_core::report::{CertifyIdentity, DataSummary, ModelSummary};
    use robustdx_core::robustness::Subject;

    use super::*;
    use crate::report::parts::{HOSTILE, assert_escaped, hostile_sweep};

    /// A certification of `model` on data named `data` at σ = 0.25 with radii 0 and 0.5, its
    /// one level without records.
    fn certification(model: ModelSummary, data: &str) -> CertifyReport {
        let summary = DataSummary {
            name: data.into(),
            split: "test".into(),
            samples: 0,
            shard: None,
            skipped: Vec::new(),
        };
        let settings = CertifySettings::default();
        let mut report = CertifyReport::new(model, summary, &settings, 0, vec![0.0, 0.5]);
        let identity = CertifyIdentity::new(
            0.25,
            &settings,
            Subject {
                model_sha256: String::new(),
                data: data.into(),
                data_fingerprint: None,
                split: "test".into(),
                seed: 0,
            },
        );
        let result = sigma_result(identity, Vec::new(), &report.radii);
        report.results.push(result);
        report
    }

    #[test]
    fn hostile_names_come_out_escaped_and_the_table_has_every_radius() {
        let report = certification(hostile_sweep().model, HOSTILE);
        let html = render(&report).unwrap().into_string();
        assert_escaped(&html);
        assert!(html.contains("<th>r = 0.5</th>"), "{html}");
        assert!(html.contains("<svg"), "{html}");
    }

    #[test]
    fn a_multi_label_certification_has_a_table_per_finding() {
        let mut model = hostile_sweep().model;
        model.task = robustdx_core::TaskKind::MultiLabel;
        model.class_names = vec!["effusion".into(), "nodule".into()];
        let mut report = certification(model, "synth-chest");
        let result = &mut report.results[0];
        result.finding_certified_accuracy = Some(vec![vec![0.9, 0.4], vec![0.8, 0.1]]);
        let html = render(&report).unwrap().into_string();
        assert!(html.contains("Per finding, σ = 0.25"), "{html}");
        assert!(
            html.contains("<td class=\"left\">nodule</td><td>0.800</td><td>0.100</td>"),
            "{html}"
        );
        assert!(html.contains("α shared over the findings"), "{html}");
        // The largest radius of each finding is that of α / 2.
        let largest = robustdx_core::certify::max_certifiable_radius(0.25, 100_000, 0.0005);
        assert!(html.contains(&format!("<td>{largest:.3}</td>")), "{html}");
        let unshared = robustdx_core::certify::max_certifiable_radius(0.25, 100_000, 0.001);
        assert!(format!("{largest:.3}") != format!("{unshared:.3}"));
    }
}
