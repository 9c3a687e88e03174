//! `attack` over a data set: a sweep of attacks × budgets as JSON, CSV and an offline report,
//! resumed cell by cell; GAP with a trained generator; the budgets and names it refuses.

use std::sync::LazyLock;

use robustdx_core::attack::ATTACKS;

use crate::util::{DERM, Dir, TestCommand, TinyModel};

const ATTACKS_SWEPT: [&str; 2] = ["fgsm", "pgd"];
const EPS: [&str; 2] = ["0", "8"];

/// FGSM and PGD at ε 0 and 8/255 on the derm model, writing `a.json`, `a.csv` and `rep/`.
fn sweep(dir: &Dir) -> TestCommand {
    dir.robustdx(["attack", "--model", "m.bpk", "--data", DERM])
        .args([
            "--attack",
            &ATTACKS_SWEPT.join(","),
            "--eps",
            &EPS.join(","),
        ])
        .args(["--steps", "3", "--json", "a.json", "--csv", "a.csv"])
        .args(["--report", "rep"])
}

/// What one sweep said and wrote, run once for the tests here.
struct Swept {
    said: String,
    json: Vec<u8>,
    csv: String,
    html: String,
}

static SWEPT: LazyLock<Swept> = LazyLock::new(|| {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let said = sweep(&dir).run_ok();
    Swept {
        said,
        json: dir.read("a.json"),
        csv: dir.read_to_string("a.csv"),
        html: dir.read_to_string("rep/index.html"),
    }
});

fn record() -> serde_json::Value {
    serde_json::from_slice(&SWEPT.json).unwrap()
}

fn results() -> Vec<serde_json::Value> {
    record()["results"].as_array().unwrap().clone()
}

#[test]
fn sweep_json_has_every_cell_within_its_budget() {
    assert_eq!(record()["schema_version"], 2);
    let results = results();
    assert_eq!(results.len(), ATTACKS_SWEPT.len() * EPS.len());
    for r in &results {
        let m = &r["metrics"];
        let linf = m["mean_linf"].as_f64().unwrap();
        assert!(linf <= r["eps"].as_f64().unwrap() / 255.0 + 1e-6, "{r}");
        if r["eps"] == 0.0 {
            assert_eq!(m["fooling_rate"], 0.0);
        }
    }
}

/// PGD at 8/255 does not leave the clean accuracy standing.
#[test]
fn pgd_lowers_the_accuracy() {
    let results = results();
    let accuracy = |attack: &str, eps: f64| {
        results
            .iter()
            .find(|r| r["attack"] == attack && r["eps"] == eps)
            .unwrap()["metrics"]["accuracy"]
            .as_f64()
            .unwrap()
    };
    assert!(accuracy("pgd", 8.0) < accuracy("pgd", 0.0), "{results:?}");
}

#[test]
fn sweep_csv_has_a_header_and_a_line_per_cell() {
    let csv = &SWEPT.csv;
    assert_eq!(
        csv.lines().count(),
        1 + ATTACKS_SWEPT.len() * EPS.len(),
        "{csv}"
    );
}

/// The report has its chart and images inline, and fetches nothing from elsewhere (an SVG
/// namespace URI is a name, not a request).
#[test]
fn sweep_report_works_offline() {
    let said = &SWEPT.said;
    assert!(said.contains("report: rep/index.html"), "{said}");
    let html = &SWEPT.html;
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,"));
    for fetch in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(
            !html.contains(fetch),
            "the report must work offline: {fetch}"
        );
    }
}

#[test]
fn a_resumed_sweep_reuses_every_cell() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm).write("a.json", &SWEPT.json);
    let said = sweep(&dir).arg("--resume").run_ok();
    assert_eq!(
        said.matches("reused (same identity)").count(),
        ATTACKS_SWEPT.len() * EPS.len(),
        "{said}"
    );
}

/// `attack` of the derm model on its data, more flags in `extra`.
fn attack(dir: &Dir, extra: &[&str]) -> TestCommand {
    dir.with_model(TinyModel::Derm)
        .robustdx(["attack", "--model", "m.bpk", "--data", DERM])
        .args(extra)
}

#[test]
fn a_negative_eps_is_refused() {
    attack(&Dir::new(), &["--eps", "-1"]).fails_with(&["ε"]);
}

#[test]
fn an_eps_above_255_is_refused() {
    attack(&Dir::new(), &["--eps", "300"]).fails_with(&["ε"]);
}

#[test]
fn an_unknown_attack_lists_the_known_ones() {
    let mut expected = vec!["unknown attack 'cw'"];
    expected.extend(ATTACKS.iter().map(|a| a.name));
    attack(&Dir::new(), &["--attack", "cw"]).fails_with(&expected);
}

#[test]
fn gap_needs_a_generator() {
    attack(&Dir::new(), &["--attack", "gap"]).fails_with(&["--generator"]);
}

/// GAP: train a generator, attack with it, rescaled to each ε.
#[test]
fn gap_attacks_with_a_trained_generator() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm)
        .robustdx(["gap", "train", "--model", "m.bpk", "--data", DERM])
        .args(["--out", "g.bpk", "--width", "4", "--epochs", "1"])
        .args(["--lr", "2e-3"])
        .run_ok();
    let said = attack(&dir, &["--attack", "gap", "--generator", "g.bpk"])
        .args(["--eps", "2,8"])
        .run_ok();
    assert!(said.contains("gap"), "{said}");
}

#[test]
fn a_generator_that_is_not_a_model_is_named() {
    let dir = Dir::new();
    dir.write("bad.bpk", "nope");
    attack(&dir, &["--attack", "gap", "--generator", "bad.bpk"]).fails_with(&["bad.bpk"]);
}

/// Evaluation-only commands can take every image of a folder (`--holdout 1`), with the file
/// names as the records' ids.
#[test]
fn attack_takes_every_image_of_a_folder_named_by_file() {
    let dir = Dir::new();
    dir.robustdx(["data", "export", "--data", DERM, "--split", "test"])
        .args(["--limit", "6", "--out", "png"])
        .run_ok();
    dir.with_model(TinyModel::Derm)
        .robustdx(["attack", "--model", "m.bpk", "--data", "folder:png"])
        .args(["--holdout", "1", "--attack", "fgsm", "--eps", "4"])
        .args(["--json", "all.json"])
        .run_ok();
    let all = dir.json("all.json");
    assert_eq!(all["data"]["samples"], 6);
    let id = all["results"][0]["records"][0]["id"].as_str().unwrap();
    assert!(id.starts_with("png/") && id.ends_with(".png"), "{id}");
}

#[test]
fn set_gives_each_attack_of_the_sweep_the_settings_it_has() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    dir.robustdx(["attack", "--model", "m.bpk", "--data", DERM])
        .args(["--attack", "fgsm,pgd", "--eps", "4"])
        .args([
            "--set",
            "steps=2",
            "--set",
            "step_size=0.5",
            "--json",
            "s.json",
        ])
        .run_ok();
    let results = dir.json("s.json")["results"].as_array().unwrap().clone();
    let settings = |attack: &str| {
        results
            .iter()
            .find(|r| r["attack"] == attack)
            .map(|r| r["settings"].clone())
            .unwrap()
    };
    assert_eq!(settings("pgd")["steps"], 2);
    assert_eq!(settings("pgd")["step_size"], 0.5);
    assert_eq!(settings("fgsm"), serde_json::json!({}));
}

#[test]
fn set_of_a_setting_no_attack_has_is_an_error_listing_theirs() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    dir.robustdx(["attack", "--model", "m.bpk", "--data", DERM])
        .args(["--attack", "pgd", "--set", "momentum=0.9"])
        .fails_with(&["--set momentum=0.9", "no attack of the sweep", "steps"]);
    dir.robustdx(["attack", "--model", "m.bpk", "--data", DERM])
        .args(["--attack", "pgd", "--set", "steps"])
        .fails_with(&["key=value"]);
}
