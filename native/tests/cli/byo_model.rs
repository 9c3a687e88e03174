//! The README's "Bring your own model": its three commands, read from the README, run on a tiny
//! torchvision-named ResNet-50 that `torch.save` wrote (`tests/fixtures/torch/resnet-50.pth`),
//! at the fixture's 64 pixels instead of 224.

use std::path::Path;

use crate::util::{Dir, fixture};

/// The `robustdx` command lines of the section's shell block, continuation lines joined.
fn readme_commands() -> Vec<Vec<String>> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(readme).unwrap();
    let section = readme
        .split("### Bring your own model")
        .nth(1)
        .expect("the README has a 'Bring your own model' section");
    let block = section.split("```sh").nth(1).unwrap();
    let block = block.split("```").next().unwrap().replace("\\\n", " ");
    block
        .lines()
        .filter_map(|line| line.trim().strip_prefix("robustdx "))
        .map(|line| line.split_whitespace().map(String::from).collect())
        .collect()
}

/// `per_class` images of each class under `folder`, one folder per class.
fn write_images(dir: &Dir, folder: &str, classes: &[&str], per_class: u32) {
    for (c, class) in classes.iter().enumerate() {
        std::fs::create_dir_all(dir.join(format!("{folder}/{class}"))).unwrap();
        for i in 0..per_class {
            let image = image::RgbImage::from_fn(64, 64, |x, y| {
                let v = (x * (3 + i) + y * (2 + c as u32) * 5) % 256;
                image::Rgb([v as u8, (255 - v) as u8, (40 * c as u32 + 60 * i) as u8])
            });
            image
                .save(dir.join(format!("{folder}/{class}/{i}.png")))
                .unwrap();
        }
    }
}

#[test]
fn the_readmes_three_commands_sweep_an_imported_resnet_50() {
    let commands = readme_commands();
    assert_eq!(commands.len(), 3, "{commands:?}");
    let weights = fixture("torch/resnet-50.pth")
        .to_string_lossy()
        .into_owned();
    let value_of = |args: &[String], flag: &str| {
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1].clone()
    };
    let classes = value_of(&commands[0], "--classes");
    let classes: Vec<&str> = classes.split(',').collect();
    let dir = Dir::new();
    write_images(&dir, "test-images", &classes, 2);

    // The fixture in place of the user's file, at its own size.
    let mut import = commands[0].clone();
    for arg in import.iter_mut() {
        if arg == "model.pth" {
            *arg = weights.clone();
        }
    }
    let size = import.iter().position(|a| a == "--image-size").unwrap();
    import[size + 1] = "64".into();
    let said = dir.robustdx(&import).run_ok();
    assert!(
        said.contains("resnet-50") && said.contains("3 classes"),
        "{said}"
    );

    dir.robustdx(&commands[1]).run_ok();
    let clean = dir.json(value_of(&commands[1], "--json"));
    dir.robustdx(&commands[2]).run_ok();
    let sweep = dir.json(value_of(&commands[2], "--json"));
    let report = value_of(&commands[2], "--report");
    assert!(dir.exists(format!("{report}/index.html")));

    // Every attack at every budget, on all six images; the clean cell is `eval`'s accuracy.
    let results = sweep["results"].as_array().unwrap();
    let attacks = value_of(&commands[2], "--attack");
    let budgets = value_of(&commands[2], "--eps");
    assert_eq!(
        results.len(),
        attacks.split(',').count() * budgets.split(',').count()
    );
    let accuracy = clean["metrics"]["accuracy"].as_f64().unwrap();
    for r in results {
        let m = &r["metrics"];
        if r["eps"] == 0.0 {
            assert_eq!(m["accuracy"].as_f64().unwrap(), accuracy, "{r}");
        }
        assert!(m["mean_linf"].as_f64().unwrap() <= r["eps"].as_f64().unwrap() / 255.0 + 1e-6);
    }
}

#[test]
fn a_resnet_18_file_is_not_read_as_a_resnet_50() {
    let dir = Dir::new();
    let weights = fixture("torch/resnet-18.safetensors");
    dir.robustdx(["import", "--arch", "resnet-50", "--weights"])
        .arg(&weights)
        .args(["--out", "x.bpk", "--image-size", "64"])
        .fails_with(&[
            "resnet-18.safetensors",
            "no tensor 'layer1.0.conv3.weight': is this a resnet-50 state dict?",
        ]);
    assert!(!dir.exists("x.bpk"));
}

/// `train --init`: adversarial fine-tuning of an imported torchvision model; the new model says
/// what it started from.
#[test]
fn an_imported_model_is_fine_tuned_with_a_defense() {
    let dir = Dir::new();
    write_images(&dir, "test-images", &["keratosis", "melanoma", "nevus"], 4);
    dir.robustdx(["import", "--arch", "resnet-50", "--weights"])
        .arg(fixture("torch/resnet-50.pth"))
        .args([
            "--image-size",
            "64",
            "--classes",
            "keratosis,melanoma,nevus",
        ])
        .args(["--out", "model.bpk"])
        .run_ok();
    let started = robustdx_core::robustness::sha256_hex(&dir.read("model.bpk"));
    dir.robustdx([
        "train",
        "--init",
        "model.bpk",
        "--data",
        "folder:test-images",
    ])
    .args(["--defense", "pgd-at", "--eps", "2", "--attack-steps", "2"])
    .args([
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--no-eval",
        "--out",
        "tuned.bpk",
    ])
    .run_ok();
    let said = dir.robustdx(["models", "tuned.bpk"]).run_ok();
    assert!(
        said.contains("resnet-50")
            && said.contains("pgd-at")
            && said.contains(&format!("fine-tuned from {}", &started[..12])),
        "{said}"
    );
    for (model, out) in [
        ("model.bpk", "a.safetensors"),
        ("tuned.bpk", "b.safetensors"),
    ] {
        dir.robustdx(["export", "--model", model, "--out", out])
            .run_ok();
    }
    assert_ne!(
        dir.read("a.safetensors"),
        dir.read("b.safetensors"),
        "nothing was trained"
    );

    // Another task's data is refused, naming both sets of classes.
    dir.robustdx([
        "train",
        "--init",
        "model.bpk",
        "--data",
        "synth-derm:n=16,test=4,size=64",
    ])
    .args(["--epochs", "1", "--out", "x.bpk"])
    .fails_with(&["--init", "keratosis, melanoma, nevus", "benign, malignant"]);
    assert!(!dir.exists("x.bpk"));
}

/// Every gradient and score attack of the registry, the Robust-Benchmark and the analyses on
/// each newer architecture's PyTorch fixture (GAP's generator is trained against any model the
/// same way; its tests use the small CNN).
#[test]
fn every_attack_the_benchmark_and_the_analyses_run_on_the_newer_architectures() {
    let fixtures: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("torch/fixtures.json")).unwrap())
            .unwrap();
    let dir = Dir::new();
    for entry in fixtures.iter().filter(|f| f["input_gradient"] == true) {
        let arch = entry["arch"].as_str().unwrap();
        // As many classes as the head has outputs, an image each.
        let classes = &["a", "b", "c", "d"][..entry["classes"].as_u64().unwrap() as usize];
        let (images, names) = (format!("images-{arch}"), classes.join(","));
        write_images(&dir, &images, classes, 1);
        let model = format!("{arch}.bpk");
        dir.robustdx(["import", "--arch", arch, "--weights"])
            .arg(fixture(&format!(
                "torch/{}",
                entry["weights_file"].as_str().unwrap()
            )))
            .args(["--image-size", "64", "--classes", &names, "--out", &model])
            .run_ok();
        let data = format!("folder:{images}");
        let on = |command: &str| {
            dir.robustdx([
                command,
                "--model",
                &model,
                "--data",
                &data,
                "--holdout",
                "1",
            ])
        };
        on("attack")
            .args([
                "--attack",
                "fgsm,pgd,apgd,apgd-t,fab-t,square",
                "--eps",
                "0,2",
            ])
            .args([
                "--steps",
                "2",
                "--set",
                "queries=10",
                "--set",
                "target_classes=1",
            ])
            .args(["--json", "sweep.json"])
            .run_ok();
        let sweep = dir.json("sweep.json");
        assert_eq!(sweep["results"].as_array().unwrap().len(), 12, "{arch}");
        on("benchmark")
            .args(["--kinds", "gaussian_noise,motion_blur", "--frames", "3"])
            .args(["--json", "bench.json"])
            .run_ok();
        on("analyze")
            .args([
                "--attack", "pgd", "--eps", "2", "--steps", "2", "--limit", "3",
            ])
            .args(["--json", "inside.json"])
            .run_ok();
        // Feature shift at every stage: ResNet's and ConvNeXt's four, EfficientNet's seven, each
        // of the ViT fixture's two blocks; and Grad-CAM maps.
        let inside = dir.json("inside.json");
        let stages = inside["feature_shift"].as_array().unwrap().len();
        let expected = match arch {
            "efficientnet-b0" => 7,
            "vit-b-16" => 2,
            _ => 4,
        };
        assert_eq!(stages, expected, "{arch}");
        assert!(!inside["cams"].as_array().unwrap().is_empty(), "{arch}");
    }
}
