//! The registries as the command line shows them (`models`, `attacks`), and a paper model trained
//! and evaluated from the command line.

use robustdx_core::attack::ATTACKS;
use robustdx_core::data::synthetic::CHEST_FINDINGS;
use robustdx_core::model::ARCHITECTURES;

use crate::util::Dir;

#[test]
fn models_lists_every_architecture() {
    let said = Dir::new().robustdx(["models"]).run_ok();
    let paper = [
        "small-cnn",
        "resnet-18",
        "attn-vgg",
        "inception-v3",
        "densenet-121",
    ];
    for name in paper
        .into_iter()
        .chain(ARCHITECTURES.iter().map(|a| a.name))
    {
        assert!(said.contains(name), "{name} missing:\n{said}");
    }
}

#[test]
fn attacks_lists_every_attack_with_its_defaults() {
    let said = Dir::new().robustdx(["attacks"]).run_ok();
    for name in ATTACKS.iter().map(|a| a.name) {
        assert!(said.contains(name), "{name} missing:\n{said}");
    }
    assert!(
        said.contains("apgd") && said.contains("steps=100"),
        "{said}"
    );
}

/// The CheXNet model, tiny: multi-label, one metric per finding.
#[test]
fn densenet_121_trains_and_evaluates_as_a_multi_label_model() {
    let dir = Dir::new();
    let data = "synth-chest:n=16,test=8,size=64,seed=2";
    let said = dir
        .robustdx(["train", "--model", "densenet-121", "--tiny", "--data", data])
        .args(["--epochs", "1", "--batch-size", "8", "--out", "c.bpk"])
        .run_ok();
    assert!(said.contains("densenet-121"), "{said}");
    dir.robustdx([
        "eval", "--model", "c.bpk", "--data", data, "--json", "e.json",
    ])
    .run_ok();
    let report = dir.json("e.json");
    assert_eq!(report["model"]["architecture"], "densenet-121");
    assert_eq!(report["model"]["task"], "multi-label");
    assert_eq!(
        report["metrics"]["per_class"].as_array().unwrap().len(),
        CHEST_FINDINGS.len()
    );
}
