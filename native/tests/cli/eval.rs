//! `eval`: metrics as JSON, one record per image, and models that cannot be evaluated.

use robustdx_core::data::synthetic::SyntheticKind;

use crate::util::{Dir, TinyModel};

const DATA: &str = "synth-derm:n=96,test=48,size=32,seed=4";
const TEST_IMAGES: usize = 48;

fn evaluated() -> Dir {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm)
        .robustdx(["eval", "--model", "m.bpk", "--data", DATA])
        .args(["--json", "r.json", "--records", "r.jsonl"])
        .run_ok();
    dir
}

#[test]
fn eval_writes_one_record_per_test_image() {
    let dir = evaluated();
    let records = dir.read_to_string("r.jsonl");
    assert_eq!(records.lines().count(), TEST_IMAGES);
    let first: serde_json::Value = serde_json::from_str(records.lines().next().unwrap()).unwrap();
    assert_eq!(first["index"], 0);
    let classes = SyntheticKind::Derm.class_names().len();
    assert_eq!(first["clean_probs"].as_array().unwrap().len(), classes);
}

#[test]
fn eval_writes_the_metrics_and_the_model_card_as_json() {
    let dir = evaluated();
    let json = dir.json("r.json");
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["data"]["samples"], TEST_IMAGES);
    let accuracy = json["metrics"]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    let classes = SyntheticKind::Derm.class_names().len();
    assert_eq!(
        json["metrics"]["per_class"].as_array().unwrap().len(),
        classes
    );
    assert!(json["metrics"]["sensitivity"].is_number() && json["metrics"]["auc_macro"].is_number());
    assert_eq!(json["model"]["training"]["epochs"], 2);
    assert_eq!(json["records_file"], "r.jsonl");
}

/// The scores come with 95 % bootstrap intervals around them, the same for the same seed.
#[test]
fn eval_brackets_the_scores_with_bootstrap_intervals() {
    let dir = evaluated();
    let json = dir.json("r.json");
    let intervals = &json["intervals"];
    assert_eq!(intervals["level"], 0.95);
    assert_eq!(intervals["resamples"], 1000);
    for score in ["accuracy", "auc_macro", "sensitivity", "specificity"] {
        let (low, high) = (
            intervals[score]["low"].as_f64().unwrap(),
            intervals[score]["high"].as_f64().unwrap(),
        );
        let point = json["metrics"][score].as_f64().unwrap();
        assert!(
            low <= point && point <= high,
            "{score}: {point} not in [{low}, {high}]"
        );
    }
    let said = dir
        .robustdx(["eval", "--model", "m.bpk", "--data", DATA])
        .args([
            "--bootstrap",
            "200",
            "--ci-level",
            "0.9",
            "--json",
            "again.json",
        ])
        .run_ok();
    assert!(
        said.contains("90 % bootstrap intervals (200 resamples"),
        "{said}"
    );
    dir.robustdx(["eval", "--model", "m.bpk", "--data", DATA])
        .args(["--ci-level", "1.5"])
        .fails_with(&["--ci-level 1.5"]);
    dir.robustdx(["eval", "--model", "m.bpk", "--data", DATA])
        .args(["--bootstrap", "0", "--json", "none.json"])
        .run_ok();
    assert!(dir.json("none.json").get("intervals").is_none());
}

/// A model for two classes cannot be evaluated on the fundus grades.
#[test]
fn eval_refuses_data_with_other_classes() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm)
        .robustdx(["eval", "--model", "m.bpk"])
        .args(["--data", "synth-fundus:n=8,test=8,size=32"])
        .fails_with(&["the model predicts"]);
}

#[test]
fn eval_names_a_missing_model_file() {
    Dir::new()
        .robustdx(["eval", "--model", "missing.bpk"])
        .fails_with(&["missing.bpk", "no such file"]);
}

#[test]
fn eval_names_a_file_that_is_not_a_model() {
    let dir = Dir::new();
    dir.write("junk.bpk", b"this is not a model");
    dir.robustdx(["eval", "--model", "junk.bpk"])
        .fails_with(&["junk.bpk", "not a robustdx model"]);
}
