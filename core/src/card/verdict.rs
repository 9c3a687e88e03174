//! The card's sentences for the parts the attack and certification reports have none for: the
//! clean scores, the everyday perturbations, and what the attack does inside. Each says the
//! number a clinician would ask for first, in words, with its uncertainty where there is one.

use crate::analysis::AnalysisFindings;
use crate::metrics::{Interval, MetricIntervals, Metrics};
use crate::report::BenchmarkReport;

/// "0.91 (95 % interval 0.86–0.95)".
fn with_interval(value: f64, interval: Option<Interval>, level: f64) -> String {
    match interval {
        Some(i) => format!(
            "{value:.2} ({:.0} % interval {:.2}–{:.2})",
            100.0 * level,
            i.low,
            i.high
        ),
        None => format!("{value:.2}"),
    }
}

/// The clean scores in one sentence: accuracy, and AUC with sensitivity / specificity (binary)
/// or exact match (multi-label), each with its bootstrap interval.
pub fn clean_verdict(metrics: &Metrics, intervals: &MetricIntervals) -> String {
    let level = intervals.level;
    let mut parts = vec![format!(
        "accuracy {}",
        with_interval(metrics.accuracy, Some(intervals.accuracy), level)
    )];
    if let Some(exact) = metrics.exact_match {
        parts.push(format!(
            "every finding right on {}",
            with_interval(exact, intervals.exact_match, level)
        ));
    }
    if let Some(auc) = metrics.auc_macro {
        parts.push(format!(
            "AUC {}",
            with_interval(auc, intervals.auc_macro, level)
        ));
    }
    if let (Some(sens), Some(spec)) = (metrics.sensitivity, metrics.specificity) {
        parts.push(format!(
            "sensitivity {} and specificity {}",
            with_interval(sens, intervals.sensitivity, level),
            with_interval(spec, intervals.specificity, level)
        ));
    }
    format!(
        "On {} clean test images: {}.",
        metrics.samples,
        parts.join(", ")
    )
}

/// The Robust-Benchmark in one sentence: how often a growing everyday change flips a call on
/// average, and which change flips it most.
pub fn benchmark_verdict(report: &BenchmarkReport) -> String {
    let variant = report.fp_variant;
    let worst = report.results.iter().max_by(|a, b| {
        a.flip_probability(variant)
            .total_cmp(&b.flip_probability(variant))
    });
    let Some(worst) = worst else {
        return "No everyday perturbation was run.".into();
    };
    format!(
        "Along {} kinds of growing everyday change ({} frames each) the call flips between \
         consecutive frames with probability {:.3} on average; {} flips it most ({:.3}), \
         leaving accuracy {:.2} at its last frame.",
        report.results.len(),
        report.frames,
        report.mean_flip_probability(),
        worst.perturbation.replace('_', " "),
        worst.flip_probability(variant),
        worst.last_frame.accuracy
    )
}

/// What the attack does inside, in one sentence: how far the deepest stage's features move,
/// whether the classes stay apart, and how much of where the model looks stays put.
pub fn inside_verdict(
    findings: &AnalysisFindings,
    attack: &str,
    mean_overlap: Option<f64>,
) -> String {
    let mut sentence = format!("Under {attack}");
    if let Some(deepest) = findings.feature_shift.last() {
        sentence.push_str(&format!(
            ", the deepest stage's features move by {:.0} % of their size",
            100.0 * deepest.relative_l2
        ));
    }
    match (findings.clean.silhouette, findings.adversarial.silhouette) {
        (Some(clean), Some(adversarial)) => sentence.push_str(&format!(
            "; the classes' separation (silhouette) goes from {clean:.2} to {adversarial:.2}"
        )),
        _ => sentence.push_str("; the classes' separation is undefined (one class)"),
    }
    if let Some(overlap) = mean_overlap {
        sentence.push_str(&format!(
            "; the regions Grad-CAM marks overlap {:.0} % before and after",
            100.0 * overlap
        ));
    }
    sentence.push('.');
    sentence
}
