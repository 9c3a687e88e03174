//! `robustdx analyze` as a resumable, shardable run: a resumed analysis with the same identity
//! computes nothing, a changed setting is recomputed saying why, and shards merge into the
//! single run's findings.

use std::path::Path;
use std::process::{Command, Output};

const DATA: &str = "synth-chest:n=32,test=9,size=32,seed=2";

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

fn succeeds(dir: &Path, args: &[&str]) -> String {
    let out = robustdx(dir, args);
    assert!(out.status.success(), "{args:?}:\n{}", text(&out));
    text(&out)
}

fn fails_with(dir: &Path, args: &[&str], expected: &str) {
    let out = robustdx(dir, args);
    let all = text(&out);
    assert!(!out.status.success(), "{args:?} succeeded:\n{all}");
    assert!(!all.contains("panicked"), "{args:?} panicked:\n{all}");
    assert!(
        all.contains(expected),
        "{args:?}: expected '{expected}' in:\n{all}"
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A small model on `DATA`, trained once per test in `dir`.
fn train(dir: &Path) {
    succeeds(
        dir,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            DATA,
            "--image-size",
            "32",
            "--width",
            "8",
            "--epochs",
            "1",
            "--out",
            "m.bpk",
        ],
    );
}

/// `analyze` of the first 7 images under PGD with `steps`, then `rest`.
fn analyze<'a>(steps: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "analyze",
        "--backend",
        "cpu",
        "--model",
        "m.bpk",
        "--data",
        DATA,
        "--attack",
        "pgd",
        "--eps",
        "8",
        "--steps",
        steps,
        "--limit",
        "7",
        "--shown",
        "3",
        "--batch-size",
        "2",
    ];
    args.extend_from_slice(rest);
    args
}

#[test]
fn a_resumed_analysis_reuses_an_exact_match_and_recomputes_a_changed_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train(d);
    succeeds(d, &analyze("2", &["--json", "a.json"]));
    let first = std::fs::read(d.join("a.json")).unwrap();
    let record = json(&d.join("a.json"));
    assert_eq!(record["identity"]["limit"], 7);
    assert_eq!(record["identity"]["attack"]["settings"]["steps"], 2);
    assert!(
        record.get("records").is_none(),
        "a whole run keeps no records"
    );

    let out = succeeds(d, &analyze("2", &["--json", "a.json", "--resume"]));
    assert!(
        out.contains("analysis under pgd ε=8/255 steps=2: reused (same identity)"),
        "{out}"
    );
    assert!(!out.contains("recomputed"), "{out}");
    assert_eq!(
        std::fs::read(d.join("a.json")).unwrap(),
        first,
        "the same file"
    );

    let out = succeeds(d, &analyze("3", &["--json", "a.json", "--resume"]));
    assert!(out.contains("recomputed (steps 2 → 3)"), "{out}");
    assert_eq!(
        json(&d.join("a.json"))["identity"]["attack"]["settings"]["steps"],
        3
    );

    fails_with(
        d,
        &analyze("3", &["--json", "a.json", "--resume", "--shard", "0/2"]),
        "recorded for shard none, not 0/2",
    );
    fails_with(d, &analyze("3", &["--resume"]), "--json");
}

#[test]
fn analysis_shards_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train(d);
    succeeds(d, &analyze("2", &["--json", "whole.json"]));
    for (shard, file) in [("0/3", "s0.json"), ("1/3", "s1.json"), ("2/3", "s2.json")] {
        succeeds(d, &analyze("2", &["--json", file, "--shard", shard]));
        let part = json(&d.join(file));
        assert_eq!(
            part["records"].as_array().unwrap().len(),
            part["samples"].as_u64().unwrap() as usize,
            "a shard keeps every image's record"
        );
    }
    let out = succeeds(
        d,
        &[
            "merge",
            "--out",
            "merged.json",
            "s2.json",
            "s0.json",
            "s1.json",
        ],
    );
    assert!(out.contains("feature shift"), "{out}");
    let (merged, whole) = (json(&d.join("merged.json")), json(&d.join("whole.json")));
    for key in [
        "identity",
        "samples",
        "feature_shift",
        "clean",
        "adversarial",
        "label_correlation",
        "tsne",
        "cams",
        "data",
    ] {
        assert_eq!(merged[key], whole[key], "{key}");
    }
    assert!(merged.get("records").is_none());

    fails_with(
        d,
        &["merge", "--out", "m.json", "s0.json", "s1.json"],
        "shard 2/3 missing",
    );
    fails_with(
        d,
        &["merge", "--out", "m.json", "whole.json"],
        "not a shard",
    );
    fails_with(
        d,
        &[
            "merge", "--out", "m.json", "--csv", "m.csv", "s0.json", "s1.json", "s2.json",
        ],
        "--csv is for sweeps and benchmarks",
    );
    succeeds(d, &analyze("3", &["--json", "t1.json", "--shard", "1/3"]));
    fails_with(
        d,
        &["merge", "--out", "m.json", "s0.json", "t1.json", "s2.json"],
        "other settings",
    );
}
