//! `attack --shard` and `merge`: shards of a sweep merge into the single run, and the per-image
//! records export as CSV or JSON lines.

use std::sync::LazyLock;

use crate::util::{Dir, TestCommand, TinyModel};

const DATA: &str = "synth-derm:n=64,test=30,size=32,seed=7";
const TEST_IMAGES: usize = 30;
/// PGD and APGD at two budgets.
const CELLS: usize = 2 * 2;

fn attack(dir: &Dir) -> TestCommand {
    dir.robustdx(["attack", "--model", "m.bpk", "--data", DATA])
        .args(["--attack", "pgd,apgd", "--eps", "2,8", "--steps", "3"])
}

/// The single run (`whole.json`, `whole.csv`) and its three shards (`s0.json` …), run once for
/// the tests here: each file's name and bytes.
static RUNS: LazyLock<Vec<(String, Vec<u8>)>> = LazyLock::new(|| {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    attack(&dir)
        .args(["--json", "whole.json", "--records", "whole.csv"])
        .run_ok();
    for i in 0..3 {
        attack(&dir)
            .args([
                "--json",
                &format!("s{i}.json"),
                "--shard",
                &format!("{i}/3"),
            ])
            .args(["--batch-size", "4"])
            .run_ok();
    }
    ["whole.json", "whole.csv", "s0.json", "s1.json", "s2.json"]
        .into_iter()
        .map(|name| (name.to_string(), dir.read(name)))
        .collect()
});

/// A directory with the runs' files.
fn with_runs() -> Dir {
    let dir = Dir::new();
    for (name, bytes) in RUNS.iter() {
        dir.write(name, bytes);
    }
    dir
}

#[test]
fn merged_shards_equal_the_single_run() {
    let dir = with_runs();
    dir.robustdx(["merge", "--out", "m.json", "s2.json", "s0.json", "s1.json"])
        .args(["--records", "m.jsonl"])
        .run_ok();
    let (whole, merged) = (dir.json("whole.json"), dir.json("m.json"));
    assert_eq!(merged["results"], whole["results"]);
    assert_eq!(merged["sanity"], whole["sanity"]);
    assert_eq!(merged["data"], whole["data"]);
    let lines = dir.read_to_string("m.jsonl");
    assert_eq!(lines.lines().count(), CELLS * TEST_IMAGES);
}

#[test]
fn records_csv_has_a_row_per_image_and_cell() {
    let dir = with_runs();
    assert_eq!(dir.json("whole.json")["records_file"], "whole.csv");
    let csv = dir.read_to_string("whole.csv");
    assert_eq!(csv.lines().count(), 1 + CELLS * TEST_IMAGES, "{csv}");
    assert!(csv.starts_with("attack,eps_255,index,id,label"), "{csv}");
}

#[test]
fn merge_names_a_missing_shard() {
    with_runs()
        .robustdx(["merge", "--out", "x.json", "s0.json", "s1.json"])
        .fails_with(&["shard 2/3 missing"]);
}

#[test]
fn merge_refuses_a_shard_given_twice() {
    with_runs()
        .robustdx(["merge", "--out", "x.json", "s0.json", "s1.json"])
        .args(["s1.json", "s2.json"])
        .fails_with(&["given twice"]);
}

#[test]
fn merge_refuses_a_file_that_is_not_a_shard() {
    with_runs()
        .robustdx(["merge", "--out", "x.json", "whole.json"])
        .fails_with(&["whole.json", "not a shard"]);
}

#[test]
fn a_shard_beyond_the_count_is_refused() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm)
        .robustdx(["attack", "--model", "m.bpk", "--data", DATA])
        .args(["--json", "y.json", "--shard", "3/3"])
        .fails_with(&["--shard 3/3"]);
}
