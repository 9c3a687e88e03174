//! `attack --image`: one image attacked, written as the record the browser page shows.

use crate::util::{DERM, Dir, TestCommand, TinyModel};

/// A directory with the derm model and one of its test images; the image's path.
fn with_an_image() -> (Dir, String) {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let image = dir.export_images(DERM, 1, "png");
    (dir, image.to_string_lossy().into_owned())
}

/// `attack` of `image`, more flags in `extra`.
fn attack(dir: &Dir, image: &str, extra: &[&str]) -> TestCommand {
    dir.robustdx(["attack", "--model", "m.bpk", "--image", image])
        .args(extra)
}

const PGD: [&str; 8] = [
    "--attack", "pgd", "--eps", "8", "--steps", "4", "--json", "one.json",
];

#[test]
fn one_image_attack_writes_the_pages_record() {
    let (dir, image) = with_an_image();
    let said = attack(&dir, &image, &PGD).run_ok();
    assert!(said.contains("loss: "), "{said}");
    let record = dir.json("one.json");
    assert_eq!(record["backend"], "cpu");
    assert_eq!(record["attack"], "pgd");
    assert_eq!(record["loss"].as_array().unwrap().len(), 4 + 1, "{record}");
    assert!(record["linf"].as_f64().unwrap() <= 8.0 + 1e-3);
    for key in ["clean", "adversarial"] {
        let probs = record[key]["probs"].as_array().unwrap();
        let sum: f64 = probs.iter().map(|p| p.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{key}: {record}");
    }
}

/// Same inputs, same numbers.
#[test]
fn one_image_attack_is_deterministic() {
    let (dir, image) = with_an_image();
    attack(&dir, &image, &PGD).run_ok();
    let first = dir.json("one.json");
    attack(&dir, &image, &PGD).run_ok();
    assert_eq!(first["loss"], dir.json("one.json")["loss"]);
}

#[test]
fn a_file_that_is_not_an_image_is_named() {
    let (dir, _) = with_an_image();
    dir.write("notes.txt", "not an image");
    attack(&dir, "notes.txt", &[]).fails_with(&["notes.txt", "not a readable image"]);
}

#[test]
fn one_image_takes_one_eps() {
    let (dir, image) = with_an_image();
    attack(&dir, &image, &["--eps", "2,4"]).fails_with(&["one --eps"]);
}

#[test]
fn a_target_is_checked() {
    let (dir, image) = with_an_image();
    attack(&dir, &image, &["--target", "1"]).fails_with(&["--target"]);
}

#[test]
fn eps_must_be_between_0_and_255() {
    let (dir, image) = with_an_image();
    attack(&dir, &image, &["--eps", "999"]).fails_with(&["between 0 and 255"]);
}
