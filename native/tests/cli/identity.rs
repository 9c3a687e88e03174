//! Identities that cannot go stale: a result records the fingerprint of the split it measured
//! (every image's id, size and modification time), so `--resume` recomputes after an image of
//! the evaluated split is added or replaced and `merge` refuses shards of changed data; the
//! paper convention's shards cut between batches and merge to the single run; each cell records
//! the robustdx version that computed it.

use crate::util::{Dir, TestCommand, TinyModel, first_png};

/// The derm model's data, a few images of each split written as class folders.
const SOURCE: &str = "synth-derm:n=64,test=16,size=32,seed=5";

/// `imgs/train` and `imgs/test`, six images each, one folder per class, and `spare/`, images of
/// other data; returns the first test image.
fn with_folder(dir: &Dir) -> std::path::PathBuf {
    dir.with_model(TinyModel::Derm);
    dir.robustdx(["data", "export", "--data", SOURCE, "--split", "train"])
        .args(["--out", "imgs/train", "--limit", "6"])
        .run_ok();
    dir.export_images("synth-derm:n=4,test=4,size=32,seed=99", 4, "spare");
    dir.export_images(SOURCE, 6, "imgs/test")
}

/// FGSM at ε 0 and 4/255 on the folder's test split, written to `json`.
fn sweep(dir: &Dir, json: &str) -> TestCommand {
    dir.robustdx(["attack", "--model", "m.bpk", "--data", "folder:imgs"])
        .args(["--attack", "fgsm", "--eps", "0,4", "--batch-size", "4"])
        .args(["--json", json])
}

/// Replaces `image` by an image of other data (same name, other bytes).
fn replace(dir: &Dir, image: &std::path::Path) {
    let bytes = std::fs::read(first_png(&dir.join("spare"))).unwrap();
    assert_ne!(bytes, std::fs::read(image).unwrap());
    std::fs::write(image, bytes).unwrap();
}

#[test]
fn resume_recomputes_after_an_image_of_the_split_changed_and_reuses_otherwise() {
    let dir = Dir::new();
    let image = with_folder(&dir);
    sweep(&dir, "a.json").run_ok();
    let fingerprint = &dir.json("a.json")["results"][0]["identity"]["data_fingerprint"];
    assert_eq!(fingerprint.as_str().unwrap().len(), 64, "{fingerprint}");

    // Nothing touched: every cell reused.
    let said = sweep(&dir, "a.json").arg("--resume").run_ok();
    assert_eq!(said.matches("reused (same identity)").count(), 2, "{said}");
    // A training image changed: not the evaluated split, still reused.
    replace(&dir, &first_png(&dir.join("imgs/train")));
    let said = sweep(&dir, "a.json").arg("--resume").run_ok();
    assert_eq!(said.matches("reused (same identity)").count(), 2, "{said}");

    // A test image replaced under the same name: both cells recomputed, saying why.
    replace(&dir, &image);
    let said = sweep(&dir, "a.json").arg("--resume").run_ok();
    assert_eq!(
        said.matches("recomputed (data fingerprint").count(),
        2,
        "{said}"
    );
    let said = sweep(&dir, "a.json").arg("--resume").run_ok();
    assert_eq!(said.matches("reused (same identity)").count(), 2, "{said}");

    // An image added: recomputed, over the seven images now there.
    let added = image.with_file_name("added.png");
    std::fs::copy(&image, &added).unwrap();
    let said = sweep(&dir, "a.json").arg("--resume").run_ok();
    assert_eq!(
        said.matches("recomputed (data fingerprint").count(),
        2,
        "{said}"
    );
    let records = &dir.json("a.json")["results"][1]["records"];
    assert_eq!(records.as_array().unwrap().len(), 7);
    // And removed again: the six images, recomputed once more.
    std::fs::remove_file(&added).unwrap();
    let said = sweep(&dir, "a.json").arg("--resume").run_ok();
    assert_eq!(
        said.matches("recomputed (data fingerprint").count(),
        2,
        "{said}"
    );
}

/// A result written before fingerprints existed is read, and not reused: it says why.
#[test]
fn a_result_without_a_fingerprint_is_recomputed_saying_so() {
    let dir = Dir::new();
    with_folder(&dir);
    sweep(&dir, "a.json").run_ok();
    let mut old = dir.json("a.json");
    for cell in old["results"].as_array_mut().unwrap() {
        let identity = cell["identity"].as_object_mut().unwrap();
        assert!(identity.remove("data_fingerprint").is_some());
    }
    dir.write("a.json", serde_json::to_vec_pretty(&old).unwrap());
    let said = sweep(&dir, "a.json").arg("--resume").run_ok();
    assert_eq!(
        said.matches("recomputed (data fingerprint not recorded → ")
            .count(),
        2,
        "{said}"
    );
}

/// Shards made before and after an image changed measured different data: merge refuses them,
/// naming the shard and the difference.
#[test]
fn merge_refuses_shards_of_changed_data() {
    let dir = Dir::new();
    let image = with_folder(&dir);
    sweep(&dir, "s0.json").args(["--shard", "0/2"]).run_ok();
    replace(&dir, &image);
    sweep(&dir, "s1.json").args(["--shard", "1/2"]).run_ok();
    dir.robustdx(["merge", "--out", "m.json", "s0.json", "s1.json"])
        .fails_with(&["s1.json", "data fingerprint"]);
    assert!(!dir.exists("m.json"), "no half-written result");
}

/// `--convention paper` clips to each batch's range: its shards cut between batches of
/// `--batch-size` images, so that merged they equal the single run at that batch size.
#[test]
fn paper_convention_shards_merge_to_the_single_run() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let paper = |json: &str| {
        dir.robustdx(["attack", "--model", "m.bpk", "--data", SOURCE])
            .args(["--attack", "fgsm", "--eps", "4", "--convention", "paper"])
            .args(["--batch-size", "6", "--json", json])
    };
    paper("whole.json").run_ok();
    let whole = dir.json("whole.json");
    assert_eq!(whole["results"][0]["identity"]["batch_size"], 6);
    for i in 0..3 {
        paper(&format!("s{i}.json"))
            .args(["--shard", &format!("{i}/3")])
            .run_ok();
    }
    // 16 images in batches of 6: [0, 6), [6, 12), [12, 16) — by image the cuts were 5 and 10.
    let first =
        |i: usize| dir.json(format!("s{i}.json"))["results"][0]["records"][0]["index"].clone();
    assert_eq!([first(0), first(1), first(2)], [0, 6, 12]);
    dir.robustdx(["merge", "--out", "m.json", "s0.json", "s1.json", "s2.json"])
        .run_ok();
    assert_eq!(dir.json("m.json")["results"], whole["results"]);
}

/// Each cell records the robustdx version that computed it; a reused cell keeps its own.
#[test]
fn each_cell_records_the_version_that_computed_it() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let sweep = |eps: &str| {
        dir.robustdx(["attack", "--model", "m.bpk", "--data", SOURCE])
            .args([
                "--attack", "fgsm", "--eps", eps, "--json", "a.json", "--resume",
            ])
    };
    sweep("0,4").run_ok();
    let mut record = dir.json("a.json");
    let version =
        |record: &serde_json::Value, k: usize| record["results"][k]["robustdx_version"].clone();
    assert_eq!(version(&record, 0), env!("CARGO_PKG_VERSION"));
    record["results"][0]["robustdx_version"] = "0.0.1".into();
    dir.write("a.json", serde_json::to_vec_pretty(&record).unwrap());
    let said = sweep("0,4,8").run_ok();
    assert_eq!(said.matches("reused (same identity)").count(), 2, "{said}");
    let record = dir.json("a.json");
    assert_eq!(
        version(&record, 0),
        "0.0.1",
        "a reused cell keeps its version"
    );
    assert_eq!(version(&record, 2), env!("CARGO_PKG_VERSION"));
}

/// The sweep, the Robust-Benchmark and the analysis of one folder record one fingerprint, and a
/// changed test image changes each's: every result identity holds it.
#[test]
fn every_kind_of_result_records_the_splits_fingerprint() {
    let dir = Dir::new();
    let image = with_folder(&dir);
    let runs = |dir: &Dir| {
        sweep(dir, "a.json").run_ok();
        let on_folder = ["--model", "m.bpk", "--data", "folder:imgs"];
        dir.robustdx(["benchmark"])
            .args(on_folder)
            .args(["--kinds", "rotate", "--frames", "2", "--json", "b.json"])
            .run_ok();
        dir.robustdx(["analyze"])
            .args(on_folder)
            .args([
                "--steps", "1", "--limit", "4", "--shown", "1", "--json", "c.json",
            ])
            .run_ok();
        [
            dir.json("a.json")["results"][0]["identity"]["data_fingerprint"].clone(),
            dir.json("b.json")["results"][0]["identity"]["data_fingerprint"].clone(),
            dir.json("c.json")["identity"]["data_fingerprint"].clone(),
        ]
    };
    let before = runs(&dir);
    assert!(
        before[0].as_str().is_some_and(|f| f.len() == 64),
        "{before:?}"
    );
    assert_eq!(before[1], before[0]);
    assert_eq!(before[2], before[0]);
    replace(&dir, &image);
    let after = runs(&dir);
    assert_ne!(after[0], before[0]);
    assert_eq!(after[1], after[0]);
    assert_eq!(after[2], after[0]);
}
