//! Defended training (`train --defense`): the objective and the recipe recorded in the model
//! card, and the flags that would mix two objectives refused.

use std::sync::LazyLock;

use robustdx_core::defense::DEFENSES;

use crate::util::{Dir, TestCommand};

const DATA: &str = "synth-derm:n=48,test=8,size=32,seed=5";

/// `train` of a tiny model on `DATA` to `out`, more flags in `extra`.
fn train(dir: &Dir, out: &str, extra: &[&str]) -> TestCommand {
    dir.robustdx(["train", "--data", DATA, "--out", out])
        .args(extra)
}

/// A MART model trained with augmentation, class balance, focal loss and robust selection:
/// trained once for the tests here, which each get its files.
struct Defended {
    said: String,
    model: Vec<u8>,
    checkpoint: Vec<u8>,
}

static MART: LazyLock<Defended> = LazyLock::new(|| {
    let dir = Dir::new();
    let said = train(&dir, "m.bpk", &MART_FLAGS)
        .args(["--image-size", "32", "--width", "4", "--epochs", "2"])
        .args(["--batch-size", "16", "--no-eval"])
        .run_ok();
    Defended {
        said,
        model: dir.read("m.bpk"),
        checkpoint: dir.read("m.bpk.ckpt"),
    }
});

const MART_FLAGS: [&str; 12] = [
    "--defense",
    "mart",
    "--eps",
    "4",
    "--attack-steps",
    "2",
    "--augment",
    "--balance",
    "--select",
    "robust",
    "--loss",
    "focal",
];

/// A directory with the MART model and its checkpoint as `m.bpk` and `m.bpk.ckpt`.
fn with_mart() -> Dir {
    let dir = Dir::new();
    dir.write("m.bpk", &MART.model);
    dir.write("m.bpk.ckpt", &MART.checkpoint);
    dir
}

#[test]
fn defended_training_says_its_objective_and_the_kept_epoch() {
    let said = &MART.said;
    assert!(said.contains("objective: mart beta=6.0 eps=4.0"), "{said}");
    assert!(
        said.contains("validation") && said.contains("kept epoch"),
        "{said}"
    );
}

#[test]
fn models_shows_how_a_model_was_trained() {
    let line = with_mart().robustdx(["models", "m.bpk"]).run_ok();
    for part in [
        "mart",
        "eps=4.0",
        "focal γ=2",
        "augmented",
        "class-balanced",
        "kept epoch",
    ] {
        assert!(line.contains(part), "'{part}' missing from: {line}");
    }
}

#[test]
fn eval_shows_and_records_the_defense() {
    let dir = with_mart();
    let said = dir
        .robustdx([
            "eval", "--model", "m.bpk", "--data", DATA, "--json", "e.json",
        ])
        .run_ok();
    assert!(said.contains("trained: mart"), "{said}");
    let training = &dir.json("e.json")["model"]["training"];
    assert_eq!(training["defense"]["defense"], "mart");
    assert_eq!(training["defense"]["settings"]["steps"], 2);
    // Pixel units, the default, are written as cards always were: no key.
    assert!(
        training["defense"].get("convention").is_none(),
        "{training}"
    );
    assert_eq!(training["selected"]["by"]["by"], "robust");
}

/// Resuming with another objective would mix two.
#[test]
fn resume_refuses_another_defense() {
    let dir = with_mart();
    train(&dir, "m.bpk", &["--resume", "--defense", "trades"]).fails_with(&[
        "m.bpk.ckpt",
        "--defense mart",
        "change it mid-run",
    ]);
}

#[test]
fn resume_refuses_another_loss() {
    let dir = with_mart();
    let mut flags = MART_FLAGS.to_vec();
    *flags.last_mut().unwrap() = "ce";
    train(&dir, "m.bpk", &["--resume", "--no-eval"])
        .args(flags)
        .fails_with(&["--loss focal γ=2", "change it mid-run"]);
}

#[test]
fn a_setting_of_another_defense_is_named() {
    let dir = Dir::new();
    train(&dir, "n.bpk", &["--defense", "mpadvt", "--eps", "4"])
        .fails_with(&["--eps is not a setting of --defense mpadvt", "eps_max"]);
    assert!(!dir.exists("n.bpk"));
}

#[test]
fn an_unknown_defense_lists_the_known_ones() {
    let dir = Dir::new();
    let mut expected = vec!["unknown defense 'madry'", "pgd-at"];
    expected.extend(DEFENSES.iter().map(|d| d.name));
    train(&dir, "n.bpk", &["--defense", "madry"]).fails_with(&expected);
    assert!(!dir.exists("n.bpk"));
}

#[test]
fn a_negative_eps_is_refused() {
    let dir = Dir::new();
    train(&dir, "n.bpk", &["--defense", "trades", "--eps=-3"]).fails_with(&["ε must be"]);
    assert!(!dir.exists("n.bpk"));
}

/// `--convention paper`: the inner attack's ε in normalised units, as the seed trained. The card
/// records it for the defense and for robust selection, `models` says it, and a resumed run
/// keeps it.
#[test]
fn the_paper_convention_is_recorded_and_kept() {
    let dir = Dir::new();
    let said = train(
        &dir,
        "p.bpk",
        &["--defense", "pgd-at", "--convention", "paper"],
    )
    .args([
        "--attack-steps",
        "1",
        "--select",
        "robust",
        "--select-steps",
        "1",
    ])
    .args([
        "--image-size",
        "32",
        "--width",
        "4",
        "--epochs",
        "1",
        "--no-eval",
    ])
    .run_ok();
    assert!(said.contains("(normalised units"), "{said}");
    dir.robustdx([
        "eval", "--model", "p.bpk", "--data", DATA, "--json", "e.json",
    ])
    .run_ok();
    let training = &dir.json("e.json")["model"]["training"];
    assert_eq!(training["defense"]["convention"], "paper");
    assert_eq!(training["selected"]["by"]["convention"], "paper");
    let line = dir.robustdx(["models", "p.bpk"]).run_ok();
    assert!(line.contains("normalised units"), "{line}");
    train(&dir, "p.bpk", &["--resume", "--convention", "pixel"])
        .fails_with(&["--convention paper", "change it mid-run"]);
}

#[test]
fn clean_training_has_no_inner_attack_to_put_in_paper_units() {
    let dir = Dir::new();
    train(&dir, "n.bpk", &["--convention", "paper"]).fails_with(&["clean", "inner attack"]);
    assert!(!dir.exists("n.bpk"));
}

/// Gaussian augmentation, the base model of randomized smoothing: `--sigma` sets its σ, the
/// card records it, `defenses` lists it, and `--sigma` with a defense that has no noise is
/// refused.
#[test]
fn gaussian_augmentation_records_its_sigma() {
    let dir = Dir::new();
    let said = train(&dir, "g.bpk", &["--defense", "gaussian", "--sigma", "0.5"])
        .args(["--image-size", "32", "--width", "4", "--epochs", "1"])
        .args(["--no-eval"])
        .run_ok();
    assert!(said.contains("objective: gaussian sigma=0.5"), "{said}");
    let line = dir.robustdx(["models", "g.bpk"]).run_ok();
    assert!(line.contains("gaussian sigma=0.5"), "{line}");
    let listing = dir.robustdx(["defenses"]).run_ok();
    assert!(listing.contains("settings: sigma=0.25"), "{listing}");
    train(&dir, "n.bpk", &["--defense", "mart", "--sigma", "0.5"])
        .fails_with(&["--sigma is not a setting of --defense mart", "beta=6.0"]);
    assert!(!dir.exists("n.bpk"));
}
