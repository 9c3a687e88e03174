//! `attack --resume`: a cell is reused only when its identity (attack and settings, budget, model
//! file, data) is the same; a killed sweep resumes to the records of one never interrupted; two
//! processes never write the same result.

use std::sync::LazyLock;

use crate::util::{Dir, TestCommand, TinyModel};

const DATA: &str = "synth-derm:n=64,test=40,size=32,seed=6";
const TEST_IMAGES: usize = 40;

/// FGSM and PGD at each of `eps` with `steps`, resumed from `json` if it exists.
fn sweep(dir: &Dir, json: &str, steps: &str, eps: &str) -> TestCommand {
    dir.robustdx(["attack", "--model", "m.bpk", "--data", DATA])
        .args(["--attack", "fgsm,pgd", "--eps", eps, "--steps", steps])
        .args(["--batch-size", "8", "--json", json, "--resume"])
}

/// `a.json` of a sweep at ε 0 and 4/255 with two steps, run once for the tests here.
static TWO_STEPS: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    sweep(&dir, "a.json", "2", "0,4").run_ok();
    dir.read("a.json")
});

#[test]
fn each_cell_records_its_identity_and_its_images() {
    let record: serde_json::Value = serde_json::from_slice(&TWO_STEPS).unwrap();
    let cell = &record["results"][3];
    assert_eq!(cell["identity"]["attack"]["settings"]["steps"], 2);
    assert_eq!(cell["identity"]["model_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(cell["records"].as_array().unwrap().len(), TEST_IMAGES);
    assert_eq!(cell["records"][0]["id"], "0");
}

/// Other `--steps`: the PGD cells are recomputed (and say why); FGSM takes no steps and is
/// reused; the same settings again reuse every cell.
#[test]
fn resume_recomputes_only_the_cells_whose_settings_changed() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm).write("a.json", &*TWO_STEPS);
    let said = sweep(&dir, "a.json", "3", "0,4").run_ok();
    assert_eq!(
        said.matches("recomputed (steps 2 → 3)").count(),
        2,
        "{said}"
    );
    assert_eq!(said.matches("fgsm ε=4/255: reused").count(), 1, "{said}");
    let said = sweep(&dir, "a.json", "3", "0,4").run_ok();
    assert_eq!(said.matches("reused (same identity)").count(), 4, "{said}");
}

/// A retrained model at the same path is another model.
#[test]
fn resume_recomputes_every_cell_for_a_retrained_model() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    sweep(&dir, "a.json", "3", "0,4").run_ok();
    dir.robustdx([
        "train",
        "--data",
        DATA,
        "--image-size",
        "32",
        "--width",
        "8",
    ])
    .args(["--epochs", "1", "--seed", "9", "--out", "m.bpk"])
    .run_ok();
    let said = sweep(&dir, "a.json", "3", "0,4").run_ok();
    assert_eq!(
        said.matches("recomputed (model sha256").count(),
        4,
        "{said}"
    );
}

const EPS: &str = "1,2,3,4,5,6";
const CELLS: usize = 2 * 6;

/// Starts the six-budget sweep to `k.json` in the background and waits for its first cell.
fn start_killable(dir: &Dir) -> std::process::Child {
    let child = sweep(dir, "k.json", "4", EPS).spawn();
    while !dir.exists("k.json") {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

/// Killed after its first cell with SIGKILL, resumed: the same records as a run that was never
/// interrupted.
#[test]
fn a_killed_sweep_resumes_to_the_records_of_an_uninterrupted_one() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    sweep(&dir, "whole.json", "4", EPS).run_ok();
    let mut child = start_killable(&dir);
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = dir.json("k.json")["results"].as_array().unwrap().len();
    eprintln!("killed after {partial} of {CELLS} cells (finished early: {finished_early})");
    assert!(
        partial < CELLS || finished_early,
        "killed after {partial} cells"
    );
    let said = sweep(&dir, "k.json", "4", EPS).run_ok();
    assert_eq!(said.matches("reused").count(), partial, "{said}");
    assert_eq!(cells(&dir.json("k.json")), cells(&dir.json("whole.json")));
}

/// While a sweep runs, a second process may not write the same result.
#[test]
fn a_second_process_may_not_write_a_running_sweeps_result() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let mut child = start_killable(&dir);
    let busy = sweep(&dir, "k.json", "4", EPS).output();
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    if !finished_early {
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&busy.stdout),
            String::from_utf8_lossy(&busy.stderr)
        );
        assert!(!busy.status.success(), "{said}");
        assert!(said.contains("another robustdx process"), "{said}");
    }
}

/// The cells' records and metrics, for comparing runs.
fn cells(record: &serde_json::Value) -> Vec<(serde_json::Value, serde_json::Value)> {
    record["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["records"].clone(), r["metrics"].clone()))
        .collect()
}
