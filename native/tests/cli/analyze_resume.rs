//! `robustdx analyze` as a resumable, shardable run: a resumed analysis with the same identity
//! computes nothing, a changed setting is recomputed saying why, and shards merge into the
//! single run's findings.

use crate::util::{CHEST, Dir, TestCommand, TinyModel};

/// `analyze` of the first 7 images of the chest model's test split under PGD with `steps`.
fn analyze(dir: &Dir, steps: &str) -> TestCommand {
    dir.robustdx(["analyze", "--model", "m.bpk", "--data", CHEST])
        .args(["--attack", "pgd", "--eps", "8", "--steps", steps])
        .args(["--limit", "7", "--shown", "3", "--batch-size", "2"])
}

fn chest() -> Dir {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    dir
}

#[test]
fn a_whole_analysis_records_its_identity_and_no_records() {
    let dir = chest();
    analyze(&dir, "2").args(["--json", "a.json"]).run_ok();
    let record = dir.json("a.json");
    assert_eq!(record["identity"]["limit"], 7);
    assert_eq!(record["identity"]["attack"]["settings"]["steps"], 2);
    assert!(
        record.get("records").is_none(),
        "a whole run keeps no records"
    );
}

#[test]
fn a_resumed_analysis_reuses_an_exact_match_and_leaves_the_file() {
    let dir = chest();
    analyze(&dir, "2").args(["--json", "a.json"]).run_ok();
    let first = dir.read("a.json");
    let out = analyze(&dir, "2")
        .args(["--json", "a.json", "--resume"])
        .run_ok();
    assert!(
        out.contains("analysis under pgd ε=8/255 steps=2: reused (same identity)"),
        "{out}"
    );
    assert!(!out.contains("recomputed"), "{out}");
    assert_eq!(dir.read("a.json"), first, "the same file");
}

#[test]
fn a_resumed_analysis_recomputes_a_changed_setting_saying_why() {
    let dir = chest();
    analyze(&dir, "2").args(["--json", "a.json"]).run_ok();
    let out = analyze(&dir, "3")
        .args(["--json", "a.json", "--resume"])
        .run_ok();
    assert!(out.contains("recomputed (steps 2 → 3)"), "{out}");
    assert_eq!(
        dir.json("a.json")["identity"]["attack"]["settings"]["steps"],
        3
    );
    analyze(&dir, "3")
        .args(["--json", "a.json", "--resume", "--shard", "0/2"])
        .fails_with(&["recorded for shard none, not 0/2"]);
    analyze(&dir, "3").arg("--resume").fails_with(&["--json"]);
}

/// The whole run and its three shards, each with every image's record.
fn whole_and_shards(dir: &Dir) {
    analyze(dir, "2").args(["--json", "whole.json"]).run_ok();
    for (shard, file) in [("0/3", "s0.json"), ("1/3", "s1.json"), ("2/3", "s2.json")] {
        analyze(dir, "2")
            .args(["--json", file, "--shard", shard])
            .run_ok();
        let part = dir.json(file);
        assert_eq!(
            part["records"].as_array().unwrap().len(),
            part["samples"].as_u64().unwrap() as usize,
            "a shard keeps every image's record"
        );
    }
}

#[test]
fn analysis_shards_merge_in_any_order_into_the_single_run() {
    let dir = chest();
    whole_and_shards(&dir);
    let out = dir
        .robustdx([
            "merge",
            "--out",
            "merged.json",
            "s2.json",
            "s0.json",
            "s1.json",
        ])
        .run_ok();
    assert!(out.contains("feature shift"), "{out}");
    let (merged, whole) = (dir.json("merged.json"), dir.json("whole.json"));
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
}

#[test]
fn analysis_merges_refuse_missing_whole_mixed_and_csv() {
    let dir = chest();
    whole_and_shards(&dir);
    let merge = |files: &[&str]| dir.robustdx(["merge", "--out", "m.json"]).args(files);
    merge(&["s0.json", "s1.json"]).fails_with(&["shard 2/3 missing"]);
    merge(&["whole.json"]).fails_with(&["not a shard"]);
    merge(&["--csv", "m.csv", "s0.json", "s1.json", "s2.json"])
        .fails_with(&["--csv is for sweeps, benchmarks and certifications"]);
    analyze(&dir, "3")
        .args(["--json", "t1.json", "--shard", "1/3"])
        .run_ok();
    merge(&["s0.json", "t1.json", "s2.json"]).fails_with(&["other settings"]);
}
