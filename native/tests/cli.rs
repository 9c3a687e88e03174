//! The `robustdx` binary end to end: small real runs, and bad input that must fail with a message
//! naming the file and the problem — never a panic.

use std::path::Path;
use std::process::{Command, Output};

fn robustdx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_robustdx"))
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("robustdx runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs and expects failure with a clear message, not a panic.
fn fails_with(dir: &Path, args: &[&str], expected: &[&str]) {
    let out = robustdx(dir, args);
    let all = text(&out);
    assert!(!out.status.success(), "{args:?} succeeded:\n{all}");
    assert!(!all.contains("panicked"), "{args:?} panicked:\n{all}");
    for e in expected {
        assert!(all.contains(e), "{args:?}: expected '{e}' in:\n{all}");
    }
}

const DATA: &str = "synth-derm:n=96,test=48,size=32,seed=4";

#[test]
fn train_eval_resume_on_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            DATA,
            "--image-size",
            "32",
            "--epochs",
            "1",
            "--out",
            "m.bpk",
        ],
    );
    assert!(train.status.success(), "{}", text(&train));
    assert!(text(&train).contains("backend: cpu"), "{}", text(&train));
    assert!(d.join("m.bpk").exists() && d.join("m.bpk.ckpt").exists());

    let resumed = robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            DATA,
            "--epochs",
            "2",
            "--out",
            "m.bpk",
            "--resume",
        ],
    );
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        text(&resumed).contains("resuming m.bpk.ckpt after epoch 1"),
        "{}",
        text(&resumed)
    );
    assert!(text(&resumed).contains("epoch 2/2"), "{}", text(&resumed));

    let eval = robustdx(
        d,
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            DATA,
            "--json",
            "r.json",
        ],
    );
    assert!(eval.status.success(), "{}", text(&eval));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["data"]["samples"], 48);
    let accuracy = json["metrics"]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert_eq!(json["metrics"]["per_class"].as_array().unwrap().len(), 2);
    assert!(json["metrics"]["sensitivity"].is_number() && json["metrics"]["auc_macro"].is_number());
    assert_eq!(json["model"]["training"]["epochs"], 2);

    // A model for two classes cannot be evaluated on the fundus grades.
    fails_with(
        d,
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            "synth-fundus:n=8,test=8,size=32",
        ],
        &["the model predicts"],
    );
}

#[test]
fn preview_writes_a_contact_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let out = robustdx(
        dir.path(),
        &[
            "data",
            "preview",
            "--data",
            "synth-chest:n=8,size=48",
            "--count",
            "8",
            "--out",
            "sheet.png",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(dir.path().join("sheet.png")).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
}

#[test]
fn bad_input_fails_with_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(
        d,
        &["eval", "--model", "missing.bpk", "--backend", "cpu"],
        &["missing.bpk", "no such file"],
    );
    std::fs::write(d.join("junk.bpk"), b"this is not a model").unwrap();
    fails_with(
        d,
        &["eval", "--model", "junk.bpk", "--backend", "cpu"],
        &["junk.bpk", "not a robustdx model"],
    );
    fails_with(
        d,
        &["train", "--data", "imagenet", "--backend", "cpu"],
        &["unknown data source 'imagenet'"],
    );
    fails_with(
        d,
        &["train", "--data", "csv:nope.csv", "--backend", "cpu"],
        &["nope.csv"],
    );
    fails_with(
        d,
        &["train", "--data", "medmnist:nope.npz", "--backend", "cpu"],
        &["nope.npz"],
    );
    fails_with(
        d,
        &["train", "--data", "synth-derm:n=0", "--backend", "cpu"],
        &["n"],
    );
    fails_with(
        d,
        &[
            "train",
            "--lr=-1",
            "--data",
            "synth-derm:n=8",
            "--backend",
            "cpu",
        ],
        &["--lr"],
    );

    std::fs::write(d.join("labels.csv"), "image_id,diagnosis\nISIC_1,benign\n").unwrap();
    fails_with(
        d,
        &["train", "--data", "csv:labels.csv", "--backend", "cpu"],
        &["labels.csv", "no column named 'label'", "diagnosis"],
    );
    fails_with(
        d,
        &["train", "--resume", "--out", "none.bpk", "--backend", "cpu"],
        &["none.bpk.ckpt"],
    );
}
