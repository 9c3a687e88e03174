//! The pieces every robustdx HTML report is built from: the page and its look, the core's charts,
//! pictures, tables and score cells. Reports are maud templates, so every string a template puts
//! in is escaped; the two exceptions (our own CSS, the core's SVG charts) each say why here.

use maud::{DOCTYPE, Markup, PreEscaped, Render, html};
use robustdx_core::data::Image;
use robustdx_core::report::png_data_url;

/// The look every robustdx report shares.
const STYLE: &str =
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

/// A self-contained page: `title` in the tab, the shared look and a report's own `extra_style`
/// (a constant: CSS is raw text, which escaping would break), then `body`.
pub(crate) fn page(title: &str, extra_style: &'static str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(STYLE)) (PreEscaped(extra_style)) }
            }
            body { (body) }
        }
    }
}

/// A chart drawn by the core (`robustdx_core::report`), inline. Its SVG is plotters' output,
/// which escapes every text and attribute it writes (class, data-set and model names included),
/// so it goes in as markup.
pub(crate) fn chart(svg: &str) -> PreEscaped<&str> {
    PreEscaped(svg)
}

/// A picture inline, as a PNG `data:` URL: nothing fetched, safe to mail.
pub(crate) fn picture(image: &Image) -> Markup {
    html! { img src=(png_data_url(image)); }
}

/// A table's header row.
pub(crate) fn head_row(names: &[&str]) -> Markup {
    html! { tr { @for name in names { th { (name) } } } }
}

/// A two-column table of (what, value) rows, the value in monospace: where a result came from.
pub(crate) fn about_table<K: Render, V: Render>(rows: impl IntoIterator<Item = (K, V)>) -> Markup {
    html! {
        table.about {
            @for (key, value) in rows { tr { th { (key) } td.left { (value) } } }
        }
    }
}

/// A score to three decimals, or a dash where there is none (an AUC without both classes).
pub(crate) fn optional(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3}"))
}

/// A string that would run as script if it reached a report unescaped.
#[cfg(test)]
pub(crate) const HOSTILE: &str = "<script>alert(1)</script>";

/// `html` shows `HOSTILE` only escaped, and at least once.
#[cfg(test)]
pub(crate) fn assert_escaped(html: &str) {
    assert!(!html.contains("<script"), "unescaped: {html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the hostile string is not shown: {html}"
    );
}

/// The sweep the page ships as its example, with `HOSTILE` as its model file, architecture,
/// class names, data set, first attack and the data its training saw.
#[cfg(test)]
pub(crate) fn hostile_sweep() -> robustdx_core::report::AttackReport {
    let text = include_str!("../../../web/assets/reports/small-cnn-derm.json");
    let mut record = robustdx_core::report::AttackReport::from_json(text, "fixture").unwrap();
    record.model.file = HOSTILE.into();
    record.model.architecture = HOSTILE.into();
    record.model.class_names = vec![HOSTILE.into(), "malignant".into()];
    record.data.name = HOSTILE.into();
    record.results[0].attack = HOSTILE.into();
    if let Some(training) = &mut record.model.training {
        training.data = HOSTILE.into();
    }
    record
}
