//! `bench compare`: robustdx's side of the speed table against PyTorch + torchattacks.

use crate::util::Dir;

/// Without PyTorch: robustdx's side of the table and how to get the other.
#[test]
fn bench_compare_without_pytorch_says_how_to_get_it() {
    let dir = Dir::new();
    // The script's folder holds the AutoAttack golden its row runs on.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/attacks/speed_torchattacks.py"
    );
    let all = dir
        .robustdx(["bench", "compare", "--python", "/nonexistent/python"])
        .args(["--runs", "1", "--script", script])
        .run_ok();
    assert!(
        all.contains("cannot import torch and torchattacks"),
        "{all}"
    );
    for row in [
        "| PGD-10 | small-cnn (width 32, 64 px, batch 32) | cpu |",
        "| PGD-10 | attn-vgg (width 8, 64 px, batch 32) | cpu |",
        "| APGD-CE-10 | small-cnn (width 32, 64 px, batch 32) | cpu |",
        "ResNet-18 10-class fixture (width 4, 64 px, 32 photo crops) | cpu |",
    ] {
        assert!(all.contains(row), "{row} missing:\n{all}");
    }
}
