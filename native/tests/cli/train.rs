//! `train`: a model file and its checkpoint, resuming after the last finished epoch, and the
//! flags it refuses. (Defended training is in `defense`.)

use std::sync::LazyLock;

use crate::util::{DERM, Dir};

const DATA: &str = "synth-derm:n=96,test=48,size=32,seed=4";

/// What a one-epoch training on `DATA` at 32 pixels said and wrote (`m.bpk`, `m.bpk.ckpt`), made
/// once for the tests here.
struct Trained {
    said: String,
    model: Option<Vec<u8>>,
    checkpoint: Option<Vec<u8>>,
}

static ONE_EPOCH: LazyLock<Trained> = LazyLock::new(|| {
    let dir = Dir::new();
    let said = dir
        .robustdx(["train", "--data", DATA, "--image-size", "32"])
        .args(["--epochs", "1", "--out", "m.bpk"])
        .run_ok();
    let file = |name: &str| dir.exists(name).then(|| dir.read(name));
    Trained {
        said,
        model: file("m.bpk"),
        checkpoint: file("m.bpk.ckpt"),
    }
});

#[test]
fn train_writes_the_model_and_its_checkpoint() {
    let said = &ONE_EPOCH.said;
    assert!(said.contains("backend: cpu"), "{said}");
    assert!(ONE_EPOCH.model.is_some() && ONE_EPOCH.checkpoint.is_some());
}

#[test]
fn resume_continues_after_the_last_finished_epoch() {
    let dir = Dir::new();
    let file = |bytes: &Option<Vec<u8>>| bytes.clone().expect("written by the first epoch");
    dir.write("m.bpk", file(&ONE_EPOCH.model));
    dir.write("m.bpk.ckpt", file(&ONE_EPOCH.checkpoint));
    let said = dir
        .robustdx(["train", "--data", DATA, "--epochs", "2", "--out", "m.bpk"])
        .arg("--resume")
        .run_ok();
    assert!(said.contains("resuming m.bpk.ckpt after epoch 1"), "{said}");
    assert!(said.contains("epoch 2/2"), "{said}");
    dir.robustdx([
        "eval", "--model", "m.bpk", "--data", DATA, "--json", "e.json",
    ])
    .run_ok();
    assert_eq!(dir.json("e.json")["model"]["training"]["epochs"], 2);
}

/// Killed after its first checkpoint and resumed without `--epochs`: the run's own 5 epochs.
#[test]
fn a_resumed_training_keeps_its_own_epochs() {
    let dir = Dir::new();
    let data = "synth-derm:n=384,test=8,size=32,seed=8";
    let mut child = dir
        .robustdx([
            "train",
            "--data",
            data,
            "--image-size",
            "32",
            "--width",
            "4",
        ])
        .args(["--epochs", "5", "--batch-size", "16", "--out", "m.bpk"])
        .spawn();
    while !dir.exists("m.bpk.ckpt") {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let said = dir
        .robustdx(["train", "--data", data, "--out", "m.bpk", "--resume"])
        .run_ok();
    assert!(said.contains("--epochs 5"), "{said}");
    dir.robustdx([
        "eval", "--model", "m.bpk", "--data", data, "--json", "e.json",
    ])
    .run_ok();
    assert_eq!(dir.json("e.json")["model"]["training"]["epochs"], 5);
}

/// `--devices 2` on the CPU: two replicas share its one device, and the model's card records
/// the count as part of the recipe.
#[test]
fn two_devices_train_a_model_whose_recipe_says_so() {
    let dir = Dir::new();
    let said = dir
        .robustdx([
            "train",
            "--data",
            DATA,
            "--image-size",
            "32",
            "--width",
            "4",
        ])
        .args(["--epochs", "1", "--batch-size", "16", "--devices", "2"])
        .args(["--out", "m.bpk", "--no-eval"])
        .run_ok();
    assert!(said.contains("2 replicas on the one CPU device"), "{said}");
    dir.robustdx([
        "eval", "--model", "m.bpk", "--data", DATA, "--json", "e.json",
    ])
    .run_ok();
    let training = &dir.json("e.json")["model"]["training"];
    assert_eq!(training["devices"], 2, "{training}");
    assert_eq!(training["epochs"], 1, "{training}");
    let listed = dir.robustdx(["models", "m.bpk"]).run_ok();
    assert!(listed.contains("data-parallel on 2 devices"), "{listed}");
}

#[test]
fn a_device_count_that_cannot_cut_the_batch_is_refused() {
    let dir = Dir::new();
    let train = || dir.robustdx(["train", "--data", "synth-derm:n=8", "--out", "x.bpk"]);
    train()
        .args(["--devices", "0"])
        .fails_with(&["--devices", "at least 1"]);
    train()
        .args(["--devices", "9", "--batch-size", "8"])
        .fails_with(&[
            "--devices 9",
            "batch of 8 images",
            "--batch-size of at least 9",
        ]);
    train()
        .args(["--devices", "two"])
        .fails_with(&["--devices", "not a whole number"]);
}

/// On wgpu the second replica needs a second GPU: without one (lavapipe alone, here) the run
/// stops with a message naming the flag and the missing GPU, not a panic, before training.
#[test]
fn two_devices_on_wgpu_need_a_second_gpu() {
    let dir = Dir::new();
    let run = dir
        .robustdx([
            "--backend",
            "wgpu",
            "train",
            "--data",
            "synth-derm:n=8,size=32",
        ])
        .args(["--image-size", "32", "--width", "4", "--epochs", "1"])
        .args(["--batch-size", "4", "--devices", "2", "--out", "m.bpk"]);
    let output = run.output();
    if output.status.success() {
        // A machine with two GPUs trains.
        assert!(dir.exists("m.bpk"));
        return;
    }
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!said.contains("panicked"), "{said}");
    assert!(
        said.contains("--devices 2: wgpu has no discrete GPU 1 for replica 2")
            || said.contains("--backend wgpu: no wgpu adapter"),
        "{said}"
    );
    assert!(!dir.exists("m.bpk"));
}

#[test]
fn a_resumed_run_keeps_its_device_count() {
    let dir = Dir::new();
    let file = |bytes: &Option<Vec<u8>>| bytes.clone().expect("written by the first epoch");
    dir.write("m.bpk", file(&ONE_EPOCH.model));
    dir.write("m.bpk.ckpt", file(&ONE_EPOCH.checkpoint));
    dir.robustdx(["train", "--data", DATA, "--epochs", "2", "--out", "m.bpk"])
        .args(["--resume", "--devices", "2"])
        .fails_with(&["--devices 1", "--devices 2", "mid-run"]);
}

#[test]
fn resume_without_a_checkpoint_names_the_missing_file() {
    Dir::new()
        .robustdx(["train", "--resume", "--out", "none.bpk"])
        .fails_with(&["none.bpk.ckpt"]);
}

#[test]
fn a_negative_learning_rate_is_refused() {
    Dir::new()
        .robustdx(["train", "--lr=-1", "--data", "synth-derm:n=8"])
        .fails_with(&["--lr"]);
}

/// `--holdout 1` puts every image in the test split: fine to evaluate, nothing to train on.
#[test]
fn an_empty_train_split_is_refused() {
    let dir = Dir::new();
    dir.robustdx(["data", "export", "--data", DERM, "--split", "test"])
        .args(["--limit", "6", "--out", "png"])
        .run_ok();
    dir.robustdx(["train", "--data", "folder:png", "--holdout", "1"])
        .args(["--out", "x.bpk"])
        .fails_with(&["train split is empty"]);
}
