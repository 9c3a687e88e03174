//! Charts of a robustness sweep as SVG text, drawn by plotters: the native HTML report and the
//! browser's results viewer show the same pictures.

use plotters::prelude::*;

use super::{AttackReport, AttackResult, BenchmarkReport};
use crate::{Error, Result};

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

fn drawing(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("cannot draw the chart: {e}"))
}

/// `value` (in [0, 1]) against ε, one line per attack, as an SVG document.
pub fn metric_against_eps(
    record: &AttackReport,
    title: &str,
    value: &dyn Fn(&AttackResult) -> Option<f64>,
) -> Result<String> {
    let mut attacks: Vec<&str> = record.results.iter().map(|r| r.attack.as_str()).collect();
    attacks.dedup();
    let lines: Vec<(String, Vec<(f32, f32)>)> = attacks
        .iter()
        .map(|attack| {
            let points = record
                .results
                .iter()
                .filter(|r| r.attack == *attack)
                .filter_map(|r| value(r).map(|v| (r.eps, v as f32)))
                .collect();
            (attack.to_string(), points)
        })
        .collect();
    lines_against_eps(title, &lines)
}

/// One line per model: `value` of each model's results of `attack` against ε — clean and
/// defended models side by side.
pub fn models_against_eps(
    models: &[(String, &AttackReport)],
    attack: &str,
    title: &str,
    value: &dyn Fn(&AttackResult) -> Option<f64>,
) -> Result<String> {
    let lines: Vec<(String, Vec<(f32, f32)>)> = models
        .iter()
        .map(|(name, record)| {
            let points = record
                .results
                .iter()
                .filter(|r| r.attack == attack)
                .filter_map(|r| value(r).map(|v| (r.eps, v as f32)))
                .collect();
            (name.clone(), points)
        })
        .collect();
    lines_against_eps(title, &lines)
}

/// Named lines of (ε, value in [0, 1]) points, as an SVG document.
fn lines_against_eps(title: &str, lines: &[(String, Vec<(f32, f32)>)]) -> Result<String> {
    value_lines(title, "ε (×1/255)", lines, true)
}

/// Certified accuracy against L2 radius, one step curve per noise level σ (Cohen et al.'s
/// figure): the share of images whose smoothed decision is correct and certified at least that
/// far.
pub fn certified_accuracy_chart(report: &super::CertifyReport) -> Result<String> {
    let lines: Vec<(String, Vec<(f32, f32)>)> = report
        .results
        .iter()
        .map(|result| {
            let curve = crate::certify::certified_curve(&result.records);
            // A step down at each radius: the level before it, then the level after.
            let mut points = Vec::with_capacity(2 * curve.len());
            for pair in curve.windows(2) {
                points.push((pair[0].radius as f32, pair[0].accuracy as f32));
                points.push((pair[1].radius as f32, pair[0].accuracy as f32));
            }
            if let Some(last) = curve.last() {
                points.push((last.radius as f32, last.accuracy as f32));
                points.push((last.radius as f32, 0.0));
            }
            (format!("σ = {}", result.sigma), points)
        })
        .collect();
    value_lines(
        "certified accuracy",
        "L2 radius (pixel units)",
        &lines,
        false,
    )
}

/// Named lines of (x, value in [0, 1]) points, as an SVG document, with dots at the points when
/// `dots`. Points a result file could hold but no chart can (a non-finite or negative x, a value
/// off [0, 1]) are left out or clamped, so an odd file still draws.
fn value_lines(
    title: &str,
    x_desc: &str,
    lines: &[(String, Vec<(f32, f32)>)],
    dots: bool,
) -> Result<String> {
    let lines: Vec<(String, Vec<(f32, f32)>)> = lines
        .iter()
        .map(|(name, points)| {
            let kept = points
                .iter()
                .filter(|(x, y)| x.is_finite() && *x >= 0.0 && *x <= 1e6 && y.is_finite())
                .map(|&(x, y)| (x, y.clamp(0.0, 1.0)))
                .collect();
            (name.clone(), kept)
        })
        .collect();
    let lines = &lines[..];
    let max_eps = lines
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0))
        .fold(1.0f32, f32::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (440, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f32..max_eps * 1.05, 0f32..1.02f32)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(title)
            .draw()
            .map_err(drawing)?;
        for (i, (name, points)) in lines.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(drawing)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            if dots {
                chart
                    .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                    .map_err(drawing)?;
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// The headline charts of a sweep: (title, SVG) for accuracy, AUC where the task has one, and
/// the fooling rate.
pub fn sweep_charts(record: &AttackReport) -> Result<Vec<(&'static str, String)>> {
    let mut charts = vec![(
        "accuracy",
        metric_against_eps(record, "accuracy", &|r| {
            Some(r.metrics.adversarial.accuracy)
        })?,
    )];
    if record
        .results
        .iter()
        .any(|r| r.metrics.adversarial.auc_macro.is_some())
    {
        charts.push((
            "AUC",
            metric_against_eps(record, "AUC", &|r| r.metrics.adversarial.auc_macro)?,
        ));
    }
    charts.push((
        "fooling rate",
        metric_against_eps(record, "fooling rate", &|r| Some(r.metrics.fooling_rate))?,
    ));
    Ok(charts)
}

/// The attack loss against the step (0 = the clean image), as an SVG document.
pub fn loss_curve(loss: &[f32], steps: usize) -> Result<String> {
    let top = loss
        .iter()
        .copied()
        .filter(|l| l.is_finite())
        .fold(0.0f32, f32::max);
    let points: Vec<(f32, f32)> = loss
        .iter()
        .enumerate()
        .map(|(k, &l)| (k as f32, l))
        .collect();
    integer_curve(
        None,
        (360, 220),
        0.0..steps.max(1) as f32,
        (top * 1.1).max(1e-3),
        ("step", "loss"),
        &points,
    )
}

/// Feature shift against depth: the mean relative L2 distance of each stage's activations, clean
/// to adversarial, one point per stage, as an SVG document.
pub fn feature_shift_chart(shift: &[crate::analysis::StageShift]) -> Result<String> {
    let top = shift
        .iter()
        .map(|s| s.relative_l2 as f32)
        .fold(0.0f32, f32::max);
    let points: Vec<(f32, f32)> = shift
        .iter()
        .map(|s| (s.stage as f32, s.relative_l2 as f32))
        .collect();
    integer_curve(
        Some("Feature shift over depth"),
        (440, 300),
        0.5..shift.len().max(1) as f32 + 0.5,
        (top * 1.15).max(1e-3),
        ("stage", "‖A(x′) − A(x)‖ / ‖A(x)‖"),
        &points,
    )
}

/// One line with a dot per point over whole-number x (steps, stages): the x axis is labelled
/// 0, 1, 2 …, not 0.0, 1.0, ….
fn integer_curve(
    caption: Option<&str>,
    size: (u32, u32),
    x: std::ops::Range<f32>,
    top: f32,
    (x_desc, y_desc): (&str, &str),
    points: &[(f32, f32)],
) -> Result<String> {
    // A file's odd numbers (NaN, ±∞, 1e300) are not drawn; the axis stays finite.
    let points: Vec<(f32, f32)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && y.abs() < 1e30)
        .collect();
    let top = if top.is_finite() && top < 1e30 {
        top
    } else {
        points.iter().map(|p| p.1).fold(1e-3, f32::max)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut builder = ChartBuilder::on(&root);
        if let Some(caption) = caption {
            builder.caption(caption, ("sans-serif", 18));
        }
        let whole = (x.end - x.start).round().max(1.0) as usize;
        let mut chart = builder
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(x, 0f32..top)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_labels((whole + 1).min(12))
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-3 {
                    format!("{}", v.round() as i64)
                } else {
                    String::new()
                }
            })
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(LineSeries::new(points.to_vec(), COLORS[1].stroke_width(2)))
            .map_err(drawing)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new(*p, 3, COLORS[1].filled())),
            )
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// The Flip Probability of each kind of a benchmark (its `fp_variant`'s), one bar each, with
/// the mean as a vertical line, as an SVG document.
pub fn flip_probability_chart(report: &BenchmarkReport) -> Result<String> {
    let bars: Vec<(&str, f64)> = report
        .results
        .iter()
        .map(|r| {
            (
                r.perturbation.as_str(),
                r.flip_probability(report.fp_variant),
            )
        })
        .collect();
    let n = bars.len().max(1);
    let top = bars.iter().map(|b| b.1).fold(0.02f64, f64::max) * 1.15;
    let mean = report.mean_flip_probability();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 60 + 22 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Flip Probability per perturbation", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..top, (0..n).into_segmented())
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                // The first kind at the top.
                SegmentValue::CenterOf(j) if *j < n => {
                    bars.get(n - 1 - j).map_or(String::new(), |b| b.0.into())
                }
                _ => String::new(),
            })
            .x_desc("Flip Probability")
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                // The first kind at the top, as its label.
                let row = n - 1 - i;
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (*v, SegmentValue::Exact(row + 1)),
                    ],
                    COLORS[0].filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(drawing)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![
                    (mean, SegmentValue::Exact(0)),
                    (mean, SegmentValue::Exact(n)),
                ],
                COLORS[1].stroke_width(2),
            )))
            .map_err(drawing)?
            .label(format!("mean {mean:.3}"))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], COLORS[1].stroke_width(2))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// d3's category10 without its grey (index 7), which is kept for "other": the groups beyond the
/// nine largest.
const TSNE_PALETTE: [usize; 9] = [0, 1, 2, 3, 4, 5, 6, 8, 9];
const TSNE_COLOURED_GROUPS: usize = TSNE_PALETTE.len();
const TSNE_OTHER: RGBColor = RGBColor(170, 170, 170);

/// The t-SNE map as two panels on the same axes, an SVG document: clean features coloured by
/// their true group, then adversarial ones (the clean map faint behind them), the fooled images
/// (right clean, wrong after) drawn as crosses; a legend of the groups below, off the points.
pub fn tsne_chart(map: &crate::analysis::TsneMap) -> Result<String> {
    let mut order: Vec<usize> = (0..map.group_names.len()).collect();
    let size = |g: usize| map.groups.iter().filter(|&&x| x == g).count();
    order.sort_by_key(|&g| std::cmp::Reverse(size(g)));
    let palette = |g: usize| -> RGBColor {
        match order.iter().position(|&x| x == g) {
            Some(rank) if rank < TSNE_COLOURED_GROUPS => {
                let c = colorous::CATEGORY10[TSNE_PALETTE[rank]];
                RGBColor(c.r, c.g, c.b)
            }
            _ => TSNE_OTHER,
        }
    };
    let all = map.clean.iter().chain(&map.adversarial);
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in all {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    if !(lo[0].is_finite() && lo[1].is_finite()) {
        return Err(Error::invalid("the t-SNE map has no points"));
    }
    let pad = |k: usize| ((hi[k] - lo[k]) * 0.05).max(1e-3);
    let (xs, ys) = (
        lo[0] - pad(0)..hi[0] + pad(0),
        lo[1] - pad(1)..hi[1] + pad(1),
    );
    let fooled: Vec<bool> = map.fooled().collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 430)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let (panels, legend) = root.split_vertically(370);
        let (left, right) = panels.split_horizontally(380);
        for (area, adversarial) in [(&left, false), (&right, true)] {
            let caption = if adversarial {
                format!(
                    "adversarial ({} of {} fooled: ×)",
                    fooled.iter().filter(|&&f| f).count(),
                    fooled.len()
                )
            } else {
                "clean".to_string()
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 16))
                .margin(10)
                .build_cartesian_2d(xs.clone(), ys.clone())
                .map_err(drawing)?;
            // t-SNE's axes have no units: a frame, no ticks.
            chart
                .configure_mesh()
                .disable_mesh()
                .disable_x_axis()
                .disable_y_axis()
                .draw()
                .map_err(drawing)?;
            chart
                .plotting_area()
                .draw(&Rectangle::new(
                    [(xs.start, ys.start), (xs.end, ys.end)],
                    BLACK.mix(0.4),
                ))
                .map_err(drawing)?;
            let points = if adversarial {
                chart
                    .draw_series(
                        map.clean
                            .iter()
                            .map(|p| Circle::new((p[0], p[1]), 2, BLACK.mix(0.08).filled())),
                    )
                    .map_err(drawing)?;
                &map.adversarial
            } else {
                &map.clean
            };
            for (i, p) in points.iter().enumerate() {
                let colour = palette(map.groups[i]);
                let at = (p[0], p[1]);
                if adversarial && fooled[i] {
                    chart
                        .draw_series(std::iter::once(Cross::new(at, 4, colour.stroke_width(2))))
                        .map_err(drawing)?;
                } else {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            at,
                            3,
                            colour.mix(0.8).filled(),
                        )))
                        .map_err(drawing)?;
                }
            }
        }
        let style = ("sans-serif", 13).into_font().color(&BLACK);
        let (mut x, mut y) = (16i32, 14i32);
        let mut named: Vec<(String, RGBColor)> = order
            .iter()
            .take(TSNE_COLOURED_GROUPS)
            .map(|&g| (map.group_names[g].clone(), palette(g)))
            .collect();
        if order.len() > TSNE_COLOURED_GROUPS {
            named.push(("other".into(), TSNE_OTHER));
        }
        for (name, colour) in named {
            // About 7 px a character at 13 px: wrap before the right edge.
            let width = 24 + 7 * name.chars().count() as i32;
            if x > 16 && x + width > 744 {
                (x, y) = (16, y + 22);
            }
            legend
                .draw(&Circle::new((x, y), 4, colour.filled()))
                .map_err(drawing)?;
            legend
                .draw(&Text::new(name, (x + 8, y - 7), style.clone()))
                .map_err(drawing)?;
            x += width;
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_curve_draws_one_marker_per_value() {
        let svg = loss_curve(&[0.1, 0.5, 0.9], 2).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        // Steps are whole numbers on the axis: 1, not 1.0.
        assert!(svg.contains("\n1\n</text>"), "{svg}");
        assert!(!svg.contains("\n1.0\n</text>"), "{svg}");
    }

    /// Each bar sits on its own kind's label: the longest bar (the first kind's) is beside the
    /// first kind's label, at the top.
    #[test]
    fn flip_probability_bars_line_up_with_their_labels() {
        use crate::metrics::Metrics;
        use crate::perturb::{FlipVariant, Reference};
        use crate::report::ModelSummary;
        use crate::report::{BenchmarkIdentity, BenchmarkReport, DataSummary, KindResult};
        use crate::robustness::Subject;
        let text = include_str!("../../../web/assets/reports/small-cnn-derm.json");
        let sweep = AttackReport::from_json(text, "fixture").unwrap();
        let model: ModelSummary = sweep.model.clone();
        let metrics: Metrics = sweep.results[0].metrics.adversarial.clone();
        let mut report = BenchmarkReport::new(
            model,
            DataSummary {
                name: "d".into(),
                split: "test".into(),
                samples: 1,
                shard: None,
                skipped: Vec::new(),
            },
            10,
            0,
            FlipVariant::Normalized,
        );
        let kinds = [
            ("gaussian_noise", 0.4),
            ("rotate", 0.05),
            ("shear", 0.1),
            ("snow", 0.02),
        ];
        for (kind, fp) in kinds {
            report.results.push(KindResult {
                perturbation: kind.into(),
                reference: Reference::Previous,
                identity: BenchmarkIdentity {
                    perturbation: kind.into(),
                    revision: 0,
                    frames: 10,
                    subject: Subject::unrecorded(),
                },
                robustdx_version: None,
                flip_probability: fp,
                flip_probability_paper: fp,
                last_frame: metrics.clone(),
                records: Vec::new(),
            });
        }
        let svg = flip_probability_chart(&report).unwrap();
        // The y of a label's text and the vertical middle of each bar's rectangle.
        let number = |tag: &str, attr: &str| -> f64 {
            let at = tag.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
            tag[at..].split('"').next().unwrap().parse().unwrap()
        };
        let label_y = |name: &str| {
            let end = svg.find(&format!("\n{name}\n</text>")).unwrap();
            let start = svg[..end].rfind("<text").unwrap();
            number(&svg[start..end], "y")
        };
        let widest = svg
            .match_indices("<rect")
            .map(|(at, _)| &svg[at..at + svg[at..].find('>').unwrap()])
            .filter(|r| r.contains("fill=\"#1F77B4\""))
            .max_by(|a, b| number(a, "width").total_cmp(&number(b, "width")))
            .unwrap();
        let middle = number(widest, "y") + number(widest, "height") / 2.0;
        let nearest = kinds
            .into_iter()
            .map(|k| k.0)
            .min_by(|a, b| {
                (label_y(a) - middle)
                    .abs()
                    .total_cmp(&(label_y(b) - middle).abs())
            })
            .unwrap();
        assert_eq!(nearest, "gaussian_noise", "{svg}");
        assert!(
            label_y("gaussian_noise") < label_y("snow"),
            "first kind on top"
        );
    }

    /// A result file with absurd numbers (ε of 10³⁰ or −1, accuracy 5 or NaN-like infinities,
    /// an infinite loss) still draws, without them.
    #[test]
    fn absurd_numbers_in_a_result_file_still_draw() {
        let text = include_str!("../../../web/assets/reports/small-cnn-derm.json");
        let mut record = AttackReport::from_json(text, "fixture").unwrap();
        let n = record.results.len();
        record.results[0].eps = 1e30;
        record.results[1 % n].eps = -1.0;
        record.results[2 % n].metrics.adversarial.accuracy = 5.0;
        record.results[3 % n].metrics.fooling_rate = f64::INFINITY;
        let charts = sweep_charts(&record).unwrap();
        assert_eq!(charts.len(), 3);
        assert!(charts.iter().all(|(_, svg)| svg.contains("<svg")));
        let svg = loss_curve(&[1.0, f32::INFINITY, f32::NAN, 1e38, 2.0], 4).unwrap();
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn sweep_charts_skip_auc_when_no_result_has_one() {
        let text = include_str!("../../../web/assets/reports/small-cnn-derm.json");
        let mut record = AttackReport::from_json(text, "fixture").unwrap();
        let with_auc = sweep_charts(&record).unwrap();
        assert_eq!(with_auc.len(), 3);
        for r in &mut record.results {
            r.metrics.adversarial.auc_macro = None;
        }
        let titles: Vec<&str> = sweep_charts(&record).unwrap().iter().map(|c| c.0).collect();
        assert_eq!(titles, ["accuracy", "fooling rate"]);
    }
}
