//! `import` and `export`: PyTorch weights in and out, and `predict` on the imported model.

use std::path::Path;

use robustdx_core::model::ARCHITECTURES;

use crate::util::{Dir, fixture};

fn weights() -> String {
    fixture("torch/resnet-18.safetensors")
        .to_string_lossy()
        .into_owned()
}

/// Imports the ResNet-18 fixture as `r.bpk` (64 pixels, three classes); what it said.
fn import(dir: &Dir) -> String {
    dir.robustdx(["import", "--arch", "resnet-18", "--weights", &weights()])
        .args(["--out", "r.bpk", "--image-size", "64"])
        .args(["--classes", "nevus,melanoma,other"])
        .run_ok()
}

/// An image at the model's size (`a.png`) and one that must be resized (`b.jpg`).
fn write_images(dir: &Dir) {
    let square = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 90])
    });
    square.save(dir.join("a.png")).unwrap();
    let wide = image::RgbImage::from_fn(100, 80, |x, _| image::Rgb([200, (x * 2) as u8, 10]));
    wide.save(dir.join("b.jpg")).unwrap();
}

#[test]
fn import_says_the_architecture_and_the_classes() {
    let all = import(&Dir::new());
    assert!(
        all.contains("resnet-18, 44871 parameters") && all.contains("3 classes"),
        "{all}"
    );
}

#[test]
fn predict_json_gives_each_image_probabilities_that_sum_to_one() {
    let dir = Dir::new();
    import(&dir);
    write_images(&dir);
    let stdout = dir
        .robustdx(["predict", "--model", "r.bpk", "a.png", "b.jpg", "--json"])
        .stdout_ok();
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["schema_version"], 2);
    let predictions = report["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    for p in predictions {
        let probs: Vec<f64> = p["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["probability"].as_f64().unwrap())
            .collect();
        assert_eq!(probs.len(), 3);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{p}");
    }
}

#[test]
fn predict_names_the_image_and_the_class() {
    let dir = Dir::new();
    import(&dir);
    write_images(&dir);
    let said = dir
        .robustdx(["predict", "--model", "r.bpk", "a.png"])
        .run_ok();
    assert!(
        said.contains("melanoma") && said.contains("a.png"),
        "{said}"
    );
}

#[test]
fn predict_names_a_file_that_is_not_an_image() {
    let dir = Dir::new();
    import(&dir);
    write_images(&dir);
    dir.write("notes.png", "not really a picture");
    dir.robustdx(["predict", "--model", "r.bpk", "a.png", "notes.png"])
        .fails_with(&["notes.png"]);
}

/// Export gives back the file we imported: same keys, same values.
#[test]
fn export_gives_back_the_imported_weights() {
    let dir = Dir::new();
    import(&dir);
    dir.robustdx(["export", "--model", "r.bpk", "--out", "r.safetensors"])
        .run_ok();
    let read = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let mut tensors: Vec<(String, Vec<u8>)> =
            robustdx_core::model::read_safetensors(&bytes, "x")
                .unwrap()
                .into_iter()
                .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
                .collect();
        tensors.sort();
        tensors
    };
    let original = read(Path::new(&weights()));
    let exported = read(&dir.join("r.safetensors"));
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&exported), names(&original));
    for ((name, a), (_, b)) in exported.iter().zip(&original) {
        if !name.ends_with("num_batches_tracked") {
            assert_eq!(a, b, "{name}");
        }
    }
}

/// `import --arch ARCH --weights WEIGHTS --out x.bpk` fails with `expected`, leaving no file.
fn import_fails(dir: &Dir, arch: &str, weights: &str, expected: &[&str]) {
    dir.robustdx(["import", "--arch", arch, "--weights", weights])
        .args(["--out", "x.bpk"])
        .fails_with(expected);
    assert!(!dir.exists("x.bpk"), "a failed import left a file");
}

#[test]
fn import_names_the_tensor_another_architecture_needs() {
    import_fails(
        &Dir::new(),
        "densenet-121",
        &weights(),
        &["resnet-18.safetensors", "no tensor 'features.conv0.weight'"],
    );
}

#[test]
fn import_of_an_unknown_architecture_lists_the_known_ones() {
    let mut expected = vec!["unknown model 'vgg-11'", "attn-vgg"];
    expected.extend(ARCHITECTURES.iter().map(|a| a.name));
    import_fails(&Dir::new(), "vgg-11", &weights(), &expected);
}

#[test]
fn import_names_a_file_of_another_format() {
    let dir = Dir::new();
    dir.write("w.txt", "weights?");
    import_fails(&dir, "resnet-18", "w.txt", &["w.txt", ".safetensors"]);
}

#[test]
fn import_names_a_pytorch_file_it_cannot_read() {
    let dir = Dir::new();
    dir.write("w.pt", "not a zip");
    import_fails(
        &dir,
        "resnet-18",
        "w.pt",
        &["w.pt", "not a readable PyTorch file"],
    );
}
