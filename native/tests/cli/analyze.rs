//! `analyze`: what an attack does inside a model — feature shift per stage, class separation
//! (t-SNE) clean and adversarial, label correlation for a multi-label model, Grad-CAM maps for
//! the shown images — in the JSON and the report.

use std::sync::LazyLock;

use crate::util::{CHEST, Dir, TestCommand, TinyModel};

const LIMIT: usize = 6;
const SHOWN: usize = 2;

/// PGD at 8/255 on the first six chest images, two of them shown, in batches of `batch`.
fn analyze_pgd(dir: &Dir, batch: &str, json: &str) -> TestCommand {
    dir.robustdx(["analyze", "--model", "m.bpk", "--data", CHEST])
        .args(["--attack", "pgd", "--eps", "8", "--steps", "3"])
        .args(["--limit", &LIMIT.to_string(), "--shown", &SHOWN.to_string()])
        .args(["--batch-size", batch, "--json", json])
}

/// What one analysis said and wrote (batches of 4), run once for the tests here.
struct Analysed {
    said: String,
    record: serde_json::Value,
    html: String,
}

static ANALYSED: LazyLock<Analysed> = LazyLock::new(|| {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    let said = analyze_pgd(&dir, "4", "a.json")
        .args(["--report", "rep"])
        .run_ok();
    Analysed {
        said,
        record: dir.json("a.json"),
        html: dir.read_to_string("rep/index.html"),
    }
});

#[test]
fn analyze_says_what_it_found() {
    let said = &ANALYSED.said;
    assert!(
        said.contains("feature shift") && said.contains("label correlation"),
        "{said}"
    );
}

#[test]
fn the_features_shift_at_every_stage() {
    let record = &ANALYSED.record;
    assert_eq!(record["samples"], LIMIT);
    assert_eq!(record["attack"]["attack"], "pgd");
    let shift = record["feature_shift"].as_array().unwrap();
    assert!(shift.len() >= 2);
    assert!(
        shift
            .iter()
            .all(|s| s["relative_l2"].as_f64().unwrap() > 0.0)
    );
}

#[test]
fn the_shown_images_have_grad_cam_maps_across_batches() {
    let cams = ANALYSED.record["cams"].as_array().unwrap();
    assert_eq!(cams.len(), SHOWN, "the shown images, across batches of 4");
    assert_eq!(cams[0]["clean_cam"].as_array().unwrap().len(), 32 * 32);
}

#[test]
fn a_multi_label_model_gets_label_correlation_and_a_tsne_map() {
    let record = &ANALYSED.record;
    assert!(record["label_correlation"]["truth"].is_array());
    let tsne = &record["tsne"];
    assert_eq!(tsne["clean"].as_array().unwrap().len(), LIMIT);
    assert_eq!(tsne["adversarial"].as_array().unwrap().len(), LIMIT);
    assert_eq!(tsne["groups"].as_array().unwrap().len(), LIMIT);
}

#[test]
fn the_report_shows_each_finding() {
    let html = &ANALYSED.html;
    assert!(html.contains("Feature shift over depth") && html.contains("Label correlation"));
    assert!(html.contains("t-SNE of the penultimate feature") && html.contains("fooled: ×"));
    assert_eq!(
        html.matches("data:image/png;base64").count(),
        4 * SHOWN,
        "4 pictures per shown image"
    );
}

/// Same seed, same numbers, whatever the batch size: the t-SNE map included.
#[test]
fn the_batch_size_changes_no_number() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    analyze_pgd(&dir, "6", "b.json").run_ok();
    let other = dir.json("b.json");
    assert_eq!(other["tsne"], ANALYSED.record["tsne"]);
    assert_eq!(other["feature_shift"], ANALYSED.record["feature_shift"]);
}

fn analyze(dir: &Dir, extra: &[&str]) -> TestCommand {
    dir.with_model(TinyModel::Chest)
        .robustdx(["analyze", "--model", "m.bpk", "--data", CHEST])
        .args(extra)
}

#[test]
fn gap_needs_a_generator() {
    analyze(&Dir::new(), &["--attack", "gap"]).fails_with(&["--attack gap needs a generator"]);
}

#[test]
fn a_negative_eps_is_refused() {
    analyze(&Dir::new(), &["--eps", "-3"]).fails_with(&["--eps -3"]);
}
