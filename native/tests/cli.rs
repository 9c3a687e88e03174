//! The `robustdx` binary end to end: small real runs, and bad input that must fail with a message
//! naming the file and the problem — never a panic.

use std::path::Path;
use std::process::{Command, Output};

fn robustdx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_robustdx"))
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("robustdx runs")
}

/// Starts robustdx in the background, output discarded (for runs a test kills).
fn spawn_robustdx<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_robustdx"))
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("robustdx starts")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs and expects failure with a clear message, not a panic.
fn fails_with(dir: &Path, args: &[&str], expected: &[&str]) {
    let out = robustdx(dir, args);
    let all = text(&out);
    assert!(!out.status.success(), "{args:?} succeeded:\n{all}");
    assert!(!all.contains("panicked"), "{args:?} panicked:\n{all}");
    for e in expected {
        assert!(all.contains(e), "{args:?}: expected '{e}' in:\n{all}");
    }
}

/// Trains `m.bpk` in `dir`: a narrow small-cnn on 32-pixel images of `data`, two epochs.
fn train_small(dir: &Path, data: &str) {
    let out = robustdx(
        dir,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            data,
            "--image-size",
            "32",
            "--width",
            "8",
            "--epochs",
            "2",
            "--out",
            "m.bpk",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

const DATA: &str = "synth-derm:n=96,test=48,size=32,seed=4";

#[test]
fn train_eval_resume_on_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            DATA,
            "--image-size",
            "32",
            "--epochs",
            "1",
            "--out",
            "m.bpk",
        ],
    );
    assert!(train.status.success(), "{}", text(&train));
    assert!(text(&train).contains("backend: cpu"), "{}", text(&train));
    assert!(d.join("m.bpk").exists() && d.join("m.bpk.ckpt").exists());

    let resumed = robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            DATA,
            "--epochs",
            "2",
            "--out",
            "m.bpk",
            "--resume",
        ],
    );
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        text(&resumed).contains("resuming m.bpk.ckpt after epoch 1"),
        "{}",
        text(&resumed)
    );
    assert!(text(&resumed).contains("epoch 2/2"), "{}", text(&resumed));

    let eval = robustdx(
        d,
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            DATA,
            "--json",
            "r.json",
            "--records",
            "r.jsonl",
        ],
    );
    assert!(eval.status.success(), "{}", text(&eval));
    let records = std::fs::read_to_string(d.join("r.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 48);
    let first: serde_json::Value = serde_json::from_str(records.lines().next().unwrap()).unwrap();
    assert_eq!(first["index"], 0);
    assert_eq!(first["clean_probs"].as_array().unwrap().len(), 2);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["data"]["samples"], 48);
    let accuracy = json["metrics"]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert_eq!(json["metrics"]["per_class"].as_array().unwrap().len(), 2);
    assert!(json["metrics"]["sensitivity"].is_number() && json["metrics"]["auc_macro"].is_number());
    assert_eq!(json["model"]["training"]["epochs"], 2);
    assert_eq!(json["records_file"], "r.jsonl");

    // A model for two classes cannot be evaluated on the fundus grades.
    fails_with(
        d,
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            "synth-fundus:n=8,test=8,size=32",
        ],
        &["the model predicts"],
    );
}

#[test]
fn preview_writes_a_contact_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let out = robustdx(
        dir.path(),
        &[
            "data",
            "preview",
            "--data",
            "synth-chest:n=8,size=48",
            "--count",
            "8",
            "--out",
            "sheet.png",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(dir.path().join("sheet.png")).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
}

#[test]
fn bad_input_fails_with_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(
        d,
        &["eval", "--model", "missing.bpk", "--backend", "cpu"],
        &["missing.bpk", "no such file"],
    );
    std::fs::write(d.join("junk.bpk"), b"this is not a model").unwrap();
    fails_with(
        d,
        &["eval", "--model", "junk.bpk", "--backend", "cpu"],
        &["junk.bpk", "not a robustdx model"],
    );
    fails_with(
        d,
        &["train", "--data", "imagenet", "--backend", "cpu"],
        &["unknown data source 'imagenet'"],
    );
    fails_with(
        d,
        &["train", "--data", "csv:nope.csv", "--backend", "cpu"],
        &["nope.csv"],
    );
    fails_with(
        d,
        &["train", "--data", "medmnist:nope.npz", "--backend", "cpu"],
        &["nope.npz"],
    );
    fails_with(
        d,
        &["train", "--data", "synth-derm:n=0", "--backend", "cpu"],
        &["n"],
    );
    fails_with(
        d,
        &[
            "train",
            "--lr=-1",
            "--data",
            "synth-derm:n=8",
            "--backend",
            "cpu",
        ],
        &["--lr"],
    );

    std::fs::write(d.join("labels.csv"), "image_id,diagnosis\nISIC_1,benign\n").unwrap();
    fails_with(
        d,
        &["train", "--data", "csv:labels.csv", "--backend", "cpu"],
        &["labels.csv", "no column named 'label'", "diagnosis"],
    );
    fails_with(
        d,
        &["train", "--resume", "--out", "none.bpk", "--backend", "cpu"],
        &["none.bpk.ckpt"],
    );
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/torch")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn import_predict_export_round_trip_with_pytorch_weights() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weights = fixture("resnet-18.safetensors");
    let out = robustdx(
        d,
        &[
            "import",
            "--backend",
            "cpu",
            "--arch",
            "resnet-18",
            "--weights",
            &weights,
            "--out",
            "r.bpk",
            "--image-size",
            "64",
            "--classes",
            "nevus,melanoma,other",
        ],
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("resnet-18, 44871 parameters") && all.contains("3 classes"),
        "{all}"
    );

    // One image at the model's size, one that must be resized, one that is not an image.
    let square = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 90])
    });
    square.save(d.join("a.png")).unwrap();
    let wide = image::RgbImage::from_fn(100, 80, |x, _| image::Rgb([200, (x * 2) as u8, 10]));
    wide.save(d.join("b.jpg")).unwrap();
    let out = robustdx(
        d,
        &[
            "predict",
            "--backend",
            "cpu",
            "--model",
            "r.bpk",
            "a.png",
            "b.jpg",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
    let out = robustdx(
        d,
        &["predict", "--backend", "cpu", "--model", "r.bpk", "a.png"],
    );
    assert!(
        text(&out).contains("melanoma") && text(&out).contains("a.png"),
        "{}",
        text(&out)
    );
    std::fs::write(d.join("notes.png"), "not really a picture").unwrap();
    fails_with(
        d,
        &[
            "predict",
            "--backend",
            "cpu",
            "--model",
            "r.bpk",
            "a.png",
            "notes.png",
        ],
        &["notes.png"],
    );

    // Export gives back the file we imported: same keys, same values.
    let out = robustdx(
        d,
        &[
            "export",
            "--backend",
            "cpu",
            "--model",
            "r.bpk",
            "--out",
            "r.safetensors",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
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
    let original = read(Path::new(&weights));
    let exported = read(&d.join("r.safetensors"));
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&exported), names(&original));
    for ((name, a), (_, b)) in exported.iter().zip(&original) {
        if !name.ends_with("num_batches_tracked") {
            assert_eq!(a, b, "{name}");
        }
    }
}

#[test]
fn import_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weights = fixture("resnet-18.safetensors");
    fails_with(
        d,
        &[
            "import",
            "--arch",
            "densenet-121",
            "--weights",
            &weights,
            "--out",
            "x.bpk",
        ],
        &["resnet-18.safetensors", "no tensor 'features.conv0.weight'"],
    );
    fails_with(
        d,
        &[
            "import",
            "--arch",
            "vgg-11",
            "--weights",
            &weights,
            "--out",
            "x.bpk",
        ],
        &["unknown model 'vgg-11'", "attn-vgg"],
    );
    std::fs::write(d.join("w.txt"), "weights?").unwrap();
    fails_with(
        d,
        &[
            "import",
            "--arch",
            "resnet-18",
            "--weights",
            "w.txt",
            "--out",
            "x.bpk",
        ],
        &["w.txt", ".safetensors"],
    );
    std::fs::write(d.join("w.pt"), "not a zip").unwrap();
    fails_with(
        d,
        &[
            "import",
            "--arch",
            "resnet-18",
            "--weights",
            "w.pt",
            "--out",
            "x.bpk",
        ],
        &["w.pt", "not a readable PyTorch file"],
    );
    assert!(!d.join("x.bpk").exists(), "a failed import left a file");
}

#[test]
fn the_paper_models_train_and_evaluate_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = robustdx(d, &["models"]);
    for name in [
        "small-cnn",
        "resnet-18",
        "attn-vgg",
        "inception-v3",
        "densenet-121",
    ] {
        assert!(text(&out).contains(name), "{}", text(&out));
    }
    let data = "synth-chest:n=16,test=8,size=64,seed=2";
    let out = robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--model",
            "densenet-121",
            "--tiny",
            "--data",
            data,
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--out",
            "c.bpk",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("densenet-121"), "{}", text(&out));
    let out = robustdx(
        d,
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            "c.bpk",
            "--data",
            data,
            "--json",
            "e.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("e.json")).unwrap()).unwrap();
    assert_eq!(report["model"]["architecture"], "densenet-121");
    assert_eq!(report["model"]["task"], "multi-label");
    assert_eq!(report["metrics"]["per_class"].as_array().unwrap().len(), 6);
}

#[test]
fn attack_sweep_writes_json_csv_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = "synth-derm:n=64,test=16,size=32,seed=5";
    train_small(d, data);
    let sweep = [
        "attack",
        "--backend",
        "cpu",
        "--model",
        "m.bpk",
        "--data",
        data,
        "--attack",
        "fgsm,pgd",
        "--eps",
        "0,8",
        "--steps",
        "3",
        "--json",
        "a.json",
        "--csv",
        "a.csv",
        "--report",
        "rep",
    ];
    let out = robustdx(d, &sweep);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("report: rep/index.html"),
        "{}",
        text(&out)
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a.json")).unwrap()).unwrap();
    assert_eq!(record["schema_version"], 2);
    let results = record["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        let m = &r["metrics"];
        let linf = m["mean_linf"].as_f64().unwrap();
        assert!(linf <= r["eps"].as_f64().unwrap() / 255.0 + 1e-6, "{r}");
        if r["eps"] == 0.0 {
            assert_eq!(m["fooling_rate"], 0.0);
        }
    }
    // PGD at 8/255 does not leave the clean accuracy standing.
    let accuracy = |attack: &str, eps: f64| {
        results
            .iter()
            .find(|r| r["attack"] == attack && r["eps"] == eps)
            .unwrap()["metrics"]["accuracy"]
            .as_f64()
            .unwrap()
    };
    assert!(accuracy("pgd", 8.0) < accuracy("pgd", 0.0), "{record}");
    let csv = std::fs::read_to_string(d.join("a.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    let html = std::fs::read_to_string(d.join("rep/index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,"));
    // Nothing fetched from elsewhere (an SVG namespace URI is a name, not a request).
    for fetch in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(
            !html.contains(fetch),
            "the report must work offline: {fetch}"
        );
    }

    let mut resumed: Vec<&str> = sweep.to_vec();
    resumed.push("--resume");
    let out = robustdx(d, &resumed);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).matches("reused (same identity)").count(),
        4,
        "{}",
        text(&out)
    );

    fails_with(
        d,
        &["attack", "--model", "m.bpk", "--data", data, "--eps", "-1"],
        &["ε"],
    );
    fails_with(
        d,
        &["attack", "--model", "m.bpk", "--data", data, "--eps", "300"],
        &["ε"],
    );
    fails_with(
        d,
        &[
            "attack", "--model", "m.bpk", "--data", data, "--attack", "gap",
        ],
        &["--generator"],
    );

    // GAP: train a generator, attack with it, rescaled to each ε.
    let out = robustdx(
        d,
        &[
            "gap",
            "train",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            data,
            "--out",
            "g.bpk",
            "--width",
            "4",
            "--epochs",
            "1",
            "--lr",
            "2e-3",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = robustdx(
        d,
        &[
            "attack",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            data,
            "--attack",
            "gap",
            "--generator",
            "g.bpk",
            "--eps",
            "2,8",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("gap"), "{}", text(&out));
    std::fs::write(d.join("bad.bpk"), "nope").unwrap();
    fails_with(
        d,
        &[
            "attack",
            "--model",
            "m.bpk",
            "--data",
            data,
            "--attack",
            "gap",
            "--generator",
            "bad.bpk",
        ],
        &["bad.bpk"],
    );
}

#[test]
fn data_export_then_attack_one_image_with_the_browser_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = "synth-derm:n=64,test=16,size=32,seed=5";
    let out = robustdx(
        d,
        &[
            "data", "export", "--data", data, "--split", "test", "--limit", "6", "--out", "png",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // One folder per class, readable again as an image folder.
    let files: Vec<_> = ["benign", "malignant"]
        .iter()
        .flat_map(|c| std::fs::read_dir(d.join("png").join(c)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 6);
    train_small(d, data);
    // Evaluation-only commands can take every image of a folder (--holdout 1), with file names
    // as the records' ids.
    let all = robustdx(
        d,
        &[
            "attack",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            "folder:png",
            "--holdout",
            "1",
            "--attack",
            "fgsm",
            "--eps",
            "4",
            "--json",
            "all.json",
        ],
    );
    assert!(all.status.success(), "{}", text(&all));
    let all = json(&d.join("all.json"));
    assert_eq!(all["data"]["samples"], 6);
    let id = all["results"][0]["records"][0]["id"].as_str().unwrap();
    assert!(id.starts_with("png/") && id.ends_with(".png"), "{id}");
    fails_with(
        d,
        &[
            "train",
            "--data",
            "folder:png",
            "--holdout",
            "1",
            "--out",
            "x.bpk",
        ],
        &["train split is empty"],
    );
    let image = files[0].to_string_lossy().into_owned();
    let args = [
        "attack",
        "--backend",
        "cpu",
        "--model",
        "m.bpk",
        "--image",
        &image,
        "--attack",
        "pgd",
        "--eps",
        "8",
        "--steps",
        "4",
        "--json",
        "one.json",
    ];
    let out = robustdx(d, &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("loss: "), "{}", text(&out));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("one.json")).unwrap()).unwrap();
    assert_eq!(record["backend"], "cpu");
    assert_eq!(record["attack"], "pgd");
    assert_eq!(record["loss"].as_array().unwrap().len(), 5);
    assert!(record["linf"].as_f64().unwrap() <= 8.0 + 1e-3);
    for key in ["clean", "adversarial"] {
        let probs = record[key]["probs"].as_array().unwrap();
        let sum: f64 = probs.iter().map(|p| p.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{key}: {record}");
    }
    // Same inputs, same numbers.
    let again = robustdx(d, &args);
    assert!(again.status.success());
    let second: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("one.json")).unwrap()).unwrap();
    assert_eq!(record["loss"], second["loss"]);

    std::fs::write(d.join("notes.txt"), "not an image").unwrap();
    fails_with(
        d,
        &["attack", "--model", "m.bpk", "--image", "notes.txt"],
        &["notes.txt", "not a readable image"],
    );
    fails_with(
        d,
        &[
            "attack", "--model", "m.bpk", "--image", &image, "--eps", "2,4",
        ],
        &["one --eps"],
    );
    fails_with(
        d,
        &[
            "attack", "--model", "m.bpk", "--image", &image, "--target", "1",
        ],
        &["--target"],
    );
    fails_with(
        d,
        &[
            "attack", "--model", "m.bpk", "--image", &image, "--eps", "999",
        ],
        &["between 0 and 255"],
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The cells' records and metrics, for comparing runs.
fn cells(path: &Path) -> Vec<(serde_json::Value, serde_json::Value)> {
    json(path)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["records"].clone(), r["metrics"].clone()))
        .collect()
}

#[test]
fn resume_reuses_only_identical_cells_and_a_killed_sweep_resumes_to_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = "synth-derm:n=64,test=40,size=32,seed=6";
    train_small(d, data);
    let sweep = |json: &str, steps: &str, eps: &str| -> Vec<String> {
        [
            "attack",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            data,
            "--attack",
            "fgsm,pgd",
            "--eps",
            eps,
            "--steps",
            steps,
            "--batch-size",
            "8",
            "--json",
            json,
            "--resume",
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = robustdx(d, &args);
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    run(&sweep("a.json", "2", "0,4"));
    let record = json(&d.join("a.json"));
    let cell = &record["results"][3];
    assert_eq!(cell["identity"]["attack"]["settings"]["steps"], 2);
    assert_eq!(cell["identity"]["model_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(cell["records"].as_array().unwrap().len(), 40);
    assert_eq!(cell["records"][0]["id"], "0");

    // Other --steps: the PGD cells are recomputed (and say why); FGSM takes no steps and is
    // reused.
    let out = run(&sweep("a.json", "3", "0,4"));
    assert_eq!(out.matches("recomputed (steps 2 → 3)").count(), 2, "{out}");
    assert_eq!(out.matches("fgsm ε=4/255: reused").count(), 1, "{out}");
    let out = run(&sweep("a.json", "3", "0,4"));
    assert_eq!(out.matches("reused (same identity)").count(), 4, "{out}");

    // A retrained model at the same path is another model.
    let retrain = robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            data,
            "--image-size",
            "32",
            "--width",
            "8",
            "--epochs",
            "1",
            "--seed",
            "9",
            "--out",
            "m.bpk",
        ],
    );
    assert!(retrain.status.success(), "{}", text(&retrain));
    let out = run(&sweep("a.json", "3", "0,4"));
    assert_eq!(out.matches("recomputed (model sha256").count(), 4, "{out}");

    // Killed after its first cell with SIGKILL, resumed: the same records as a run that was
    // never interrupted.
    let eps = "1,2,3,4,5,6";
    run(&sweep("whole.json", "4", eps));
    let args = sweep("k.json", "4", eps);
    let mut child = spawn_robustdx(d, &args);
    while !d.join("k.json").exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // While it runs, a second process may not write the same result.
    let second: Vec<&str> = args.iter().map(String::as_str).collect();
    let busy = robustdx(d, &second);
    let finished_early = child.try_wait().unwrap().is_some();
    if !finished_early {
        assert!(!busy.status.success(), "{}", text(&busy));
        assert!(
            text(&busy).contains("another robustdx process"),
            "{}",
            text(&busy)
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = json(&d.join("k.json"))["results"].as_array().unwrap().len();
    eprintln!("killed after {partial} of 12 cells (finished early: {finished_early})");
    assert!(
        partial < 12 || finished_early,
        "killed after {partial} cells"
    );
    let out = run(&args);
    assert_eq!(out.matches("reused").count(), partial, "{out}");
    assert_eq!(cells(&d.join("k.json")), cells(&d.join("whole.json")));
}

#[test]
fn shards_merge_into_the_single_run_and_records_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = "synth-derm:n=64,test=30,size=32,seed=7";
    train_small(d, data);
    let attack = |extra: &[&str]| {
        let mut args = vec![
            "attack",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            data,
            "--attack",
            "pgd,apgd",
            "--eps",
            "2,8",
            "--steps",
            "3",
        ];
        args.extend_from_slice(extra);
        let out = robustdx(d, &args);
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    attack(&["--json", "whole.json", "--records", "whole.csv"]);
    for i in 0..3 {
        attack(&[
            "--json",
            &format!("s{i}.json"),
            "--shard",
            &format!("{i}/3"),
            "--batch-size",
            "4",
        ]);
    }
    let merge = robustdx(
        d,
        &[
            "merge",
            "--out",
            "m.json",
            "s2.json",
            "s0.json",
            "s1.json",
            "--records",
            "m.jsonl",
        ],
    );
    assert!(merge.status.success(), "{}", text(&merge));
    let (whole, merged) = (json(&d.join("whole.json")), json(&d.join("m.json")));
    assert_eq!(merged["results"], whole["results"]);
    assert_eq!(merged["sanity"], whole["sanity"]);
    assert_eq!(merged["data"], whole["data"]);
    assert_eq!(whole["records_file"], "whole.csv");
    let csv = std::fs::read_to_string(d.join("whole.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4 * 30, "{csv}");
    assert!(csv.starts_with("attack,eps_255,index,id,label"), "{csv}");
    let lines = std::fs::read_to_string(d.join("m.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 4 * 30);

    fails_with(
        d,
        &["merge", "--out", "x.json", "s0.json", "s1.json"],
        &["shard 2/3 missing"],
    );
    fails_with(
        d,
        &[
            "merge", "--out", "x.json", "s0.json", "s1.json", "s1.json", "s2.json",
        ],
        &["given twice"],
    );
    fails_with(
        d,
        &["merge", "--out", "x.json", "whole.json"],
        &["whole.json", "not a shard"],
    );
    fails_with(
        d,
        &[
            "attack", "--model", "m.bpk", "--data", data, "--json", "y.json", "--shard", "3/3",
        ],
        &["--shard 3/3"],
    );
    fails_with(
        d,
        &[
            "attack", "--model", "m.bpk", "--data", data, "--attack", "cw",
        ],
        &["unknown attack 'cw'"],
    );
    let list = robustdx(d, &["attacks"]);
    assert!(
        text(&list).contains("apgd") && text(&list).contains("steps=100"),
        "{}",
        text(&list)
    );
}

#[test]
fn a_resumed_training_keeps_its_own_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = "synth-derm:n=384,test=8,size=32,seed=8";
    let args = [
        "train",
        "--backend",
        "cpu",
        "--data",
        data,
        "--image-size",
        "32",
        "--width",
        "4",
        "--epochs",
        "5",
        "--batch-size",
        "16",
        "--out",
        "m.bpk",
    ];
    let mut child = spawn_robustdx(d, &args);
    while !d.join("m.bpk.ckpt").exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            data,
            "--out",
            "m.bpk",
            "--resume",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--epochs 5"), "{}", text(&out));
    let card = robustdx(
        d,
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            data,
            "--json",
            "e.json",
        ],
    );
    assert!(card.status.success(), "{}", text(&card));
    assert_eq!(json(&d.join("e.json"))["model"]["training"]["epochs"], 5);
}

#[test]
fn defended_training_with_selection_records_its_recipe_and_refuses_mixed_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = "synth-derm:n=48,test=8,size=32,seed=5";
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--backend",
            "cpu",
            "--data",
            data,
            "--image-size",
            "32",
            "--width",
            "4",
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--out",
            "m.bpk",
            "--no-eval",
        ];
        args.extend_from_slice(extra);
        robustdx(d, &args)
    };
    let out = train(&[
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
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("objective: mart beta=6.0 eps=4.0"), "{said}");
    assert!(
        said.contains("validation") && said.contains("kept epoch"),
        "{said}"
    );
    // The card says how the model was trained, and eval / models show it.
    let listed = robustdx(d, &["models", "--backend", "cpu", "m.bpk"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let line = text(&listed);
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
    let eval = robustdx(
        d,
        &[
            "eval",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            data,
            "--json",
            "e.json",
        ],
    );
    assert!(
        eval.status.success() && text(&eval).contains("trained: mart"),
        "{}",
        text(&eval)
    );
    let training = &json(&d.join("e.json"))["model"]["training"];
    assert_eq!(training["defense"]["defense"], "mart");
    assert_eq!(training["defense"]["settings"]["steps"], 2);
    assert_eq!(training["selected"]["by"]["by"], "robust");
    // Resuming with another objective would mix two; a flag of another defense is named.
    let refused = |out: &str, extra: &[&str], expected: &[&str]| {
        let mut args = vec!["train", "--backend", "cpu", "--data", data, "--out", out];
        args.extend_from_slice(extra);
        fails_with(d, &args, expected);
    };
    refused(
        "m.bpk",
        &["--resume", "--defense", "trades"],
        &["m.bpk.ckpt", "--defense mart", "change it mid-run"],
    );
    refused(
        "m.bpk",
        &[
            "--resume",
            "--defense",
            "mart",
            "--eps",
            "4",
            "--attack-steps",
            "2",
            "--no-eval",
            "--balance",
            "--augment",
            "--select",
            "robust",
            "--loss",
            "ce",
        ],
        &["--loss focal γ=2", "change it mid-run"],
    );
    refused(
        "n.bpk",
        &["--defense", "mpadvt", "--eps", "4"],
        &["--eps is not a setting of --defense mpadvt", "eps_max"],
    );
    refused(
        "n.bpk",
        &["--defense", "madry"],
        &["unknown defense 'madry'", "pgd-at"],
    );
    refused(
        "n.bpk",
        &["--defense", "trades", "--eps=-3"],
        &["ε must be"],
    );
    assert!(!d.join("n.bpk").exists());
}

/// The Robust-Benchmark end to end: table, JSON (per-frame records), CSV and report; a resumed
/// run reuses matching kinds; shards merge into the single run; one image's sequence as PNGs and
/// as the page's record; bad kinds and frame counts refused.
#[test]
fn benchmark_writes_json_csv_report_resumes_merges_and_shows_one_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_small(d, "synth-chest:n=32,test=9,size=32,seed=2");
    let base = [
        "benchmark",
        "--backend",
        "cpu",
        "--model",
        "m.bpk",
        "--data",
        "synth-chest:n=32,test=9,size=32,seed=2",
        "--kinds",
        "rotate,gaussian_noise",
        "--frames",
        "4",
        "--seed",
        "3",
    ];
    fn join<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    let with = |extra: &[&'static str]| join(&base, extra);
    let out = robustdx(
        d,
        &with(&[
            "--json",
            "b.json",
            "--csv",
            "b.csv",
            "--report",
            "rep",
            "--fp-variant",
            "seed",
        ]),
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    // Registry order, whatever order --kinds gave.
    let noise = all.find("gaussian_noise").unwrap();
    assert!(
        noise < all.find("rotate").unwrap() && all.contains("FP (paper)"),
        "{all}"
    );
    let record = json(&d.join("b.json"));
    // `seed`, the older spelling, is read as `paper`.
    assert_eq!(record["fp_variant"], "paper");
    let results = record["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["reference"], "first");
    assert_eq!(results[1]["reference"], "previous");
    let records = results[1]["records"].as_array().unwrap();
    assert_eq!(records.len(), 9);
    assert_eq!(records[0]["probs"].as_array().unwrap().len(), 4);
    for r in results {
        let fp = r["flip_probability"].as_f64().unwrap();
        let seed_fp = r["flip_probability_paper"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&fp) && (0.0..=3.0).contains(&seed_fp),
            "{r}"
        );
    }
    let csv = std::fs::read_to_string(d.join("b.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.starts_with("perturbation,reference,frames,flip_probability"),
        "{csv}"
    );
    let html = std::fs::read_to_string(d.join("rep/index.html")).unwrap();
    assert!(html.contains("Flip Probability per perturbation") && html.contains("<svg"));
    assert_eq!(html.matches("<h3>").count(), 2, "one strip per kind");
    assert_eq!(
        html.matches("data:image/png;base64").count(),
        8,
        "4 frames per strip"
    );

    // Resume: same settings reuse both kinds; another seed recomputes them, saying why.
    let out = robustdx(d, &with(&["--json", "b.json", "--resume"]));
    assert!(text(&out).contains("rotate: reused"), "{}", text(&out));
    let mut reseeded = with(&["--json", "b.json", "--resume"]);
    let at = reseeded.iter().position(|a| *a == "3").unwrap();
    reseeded[at] = "4";
    let out = robustdx(d, &reseeded);
    assert!(
        text(&out).contains("recomputed (seed 3 → 4)"),
        "{}",
        text(&out)
    );

    // Shards merged equal the single run (seed 3 again).
    robustdx(d, &with(&["--json", "single.json"]));
    for i in 0..2 {
        let shard = format!("{i}/2");
        let file = format!("s{i}.json");
        let out = robustdx(d, &join(&base, &["--json", &file, "--shard", &shard]));
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = robustdx(d, &["merge", "--out", "merged.json", "s1.json", "s0.json"]);
    assert!(out.status.success(), "{}", text(&out));
    let (single, merged) = (json(&d.join("single.json")), json(&d.join("merged.json")));
    assert_eq!(single["results"], merged["results"]);
    fails_with(
        d,
        &["merge", "--out", "m2.json", "s0.json"],
        &["shard 1/2 missing"],
    );

    // One image: the frames as PNG and the page's record.
    let out = robustdx(
        d,
        &[
            "data",
            "export",
            "--data",
            "synth-chest:n=32,test=9,size=32,seed=2",
            "--out",
            "img",
            "--limit",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let image = walk_png(&d.join("img"));
    let image = image.to_str().unwrap();
    let out = robustdx(
        d,
        &[
            "data", "perturb", "--kind", "spatter", "--image", image, "--out", "frames",
            "--frames", "5",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    for i in 0..5 {
        assert!(d.join(format!("frames/spatter_{i:02}.png")).exists());
    }
    let out = robustdx(
        d,
        &[
            "benchmark",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--image",
            image,
            "--kinds",
            "gaussian_noise",
            "--seed",
            "3",
            "--json",
            "one.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let one = json(&d.join("one.json"));
    assert_eq!(one["perturbation"], "gaussian_noise");
    assert_eq!(one["frames"].as_array().unwrap().len(), 10);
    assert!(
        text(&out).contains("frames flipped (vs the first frame)"),
        "{}",
        text(&out)
    );

    fails_with(
        d,
        &with(&["--kinds", "fog"]),
        &["unknown perturbation 'fog'", "spatter"],
    );
    fails_with(
        d,
        &[&base[..9], &["--frames", "1"]].concat(),
        &["--frames 1", "2 to 31"],
    );
    fails_with(
        d,
        &[
            "data",
            "perturb",
            "--kind",
            "snow",
            "--image",
            "nothing.png",
            "--out",
            "x",
        ],
        &["nothing.png"],
    );
}

/// The first PNG under `dir`.
fn walk_png(dir: &Path) -> std::path::PathBuf {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            return walk_png(&path);
        }
        if path.extension().is_some_and(|e| e == "png") {
            return path;
        }
    }
    panic!("no PNG under {}", dir.display())
}

/// `predict --cam DIR`: one Grad-CAM overlay per image, explaining the decision or a chosen
/// class; a class the model does not have is an error naming it.
#[test]
fn predict_writes_grad_cam_overlays() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_small(d, DATA);
    let out = robustdx(
        d,
        &[
            "data", "export", "--data", DATA, "--out", "img", "--limit", "2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let image = walk_png(&d.join("img"));
    let image = image.to_str().unwrap();
    let out = robustdx(
        d,
        &[
            "predict",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            image,
            "--cam",
            "cams",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Grad-CAM for"), "{}", text(&out));
    let stem = std::path::Path::new(image)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let png = d.join("cams").join(format!("{stem}.cam.png"));
    let decoded = image::open(&png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (32, 32));
    fails_with(
        d,
        &[
            "predict",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            image,
            "--cam",
            "cams",
            "--cam-class",
            "9",
        ],
        &["class 9", "2 classes"],
    );
}

/// `analyze`: feature shift per stage, class separation clean and adversarial, label correlation
/// for a multi-label model, Grad-CAM maps for the shown images in the JSON and the report.
#[test]
fn analyze_writes_findings_and_a_report() {
    const DATA: &str = "synth-chest:n=32,test=9,size=32,seed=2";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_small(d, DATA);
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "analyze",
            "--backend",
            "cpu",
            "--model",
            "m.bpk",
            "--data",
            DATA,
        ];
        args.extend_from_slice(extra);
        args
    };
    let pgd = |batch: &'static str, json: &'static str| {
        args(&[
            "--attack",
            "pgd",
            "--eps",
            "8",
            "--steps",
            "3",
            "--limit",
            "6",
            "--shown",
            "2",
            "--batch-size",
            batch,
            "--json",
            json,
        ])
    };
    let mut first = pgd("4", "a.json");
    first.extend(["--report", "rep"]);
    let out = robustdx(d, &first);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("feature shift") && all.contains("label correlation"),
        "{all}"
    );
    let record = json(&d.join("a.json"));
    assert_eq!(record["samples"], 6);
    assert_eq!(record["attack"]["attack"], "pgd");
    let shift = record["feature_shift"].as_array().unwrap();
    assert!(shift.len() >= 2);
    assert!(
        shift
            .iter()
            .all(|s| s["relative_l2"].as_f64().unwrap() > 0.0)
    );
    let cams = record["cams"].as_array().unwrap();
    assert_eq!(cams.len(), 2, "the shown images, across batches of 4");
    assert_eq!(cams[0]["clean_cam"].as_array().unwrap().len(), 32 * 32);
    assert!(record["label_correlation"]["truth"].is_array());
    let tsne = &record["tsne"];
    assert_eq!(tsne["clean"].as_array().unwrap().len(), 6);
    assert_eq!(tsne["adversarial"].as_array().unwrap().len(), 6);
    assert_eq!(tsne["groups"].as_array().unwrap().len(), 6);
    let html = std::fs::read_to_string(d.join("rep/index.html")).unwrap();
    assert!(html.contains("Feature shift over depth") && html.contains("Label correlation"));
    assert!(html.contains("t-SNE of the penultimate feature") && html.contains("fooled: ×"));
    // Same seed, same numbers, whatever the batch size: the t-SNE map included.
    let again = robustdx(d, &pgd("6", "b.json"));
    assert!(again.status.success(), "{}", text(&again));
    let other = json(&d.join("b.json"));
    assert_eq!(other["tsne"], record["tsne"]);
    assert_eq!(other["feature_shift"], record["feature_shift"]);
    assert_eq!(
        html.matches("data:image/png;base64").count(),
        8,
        "4 pictures per shown image"
    );
    fails_with(
        d,
        &args(&["--attack", "gap"]),
        &["--attack gap needs a generator"],
    );
    fails_with(d, &args(&["--eps", "-3"]), &["--eps -3"]);
}

/// `predict --backend cpu` and `rest`.
fn predict_args<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["predict", "--backend", "cpu"];
    args.extend_from_slice(rest);
    args
}

fn dicom_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/dicom")
        .join(name)
}

/// The bad-input corpus, built at run time: every bad file is a non-zero exit with a message
/// naming the file (and row), never a panic; odd-but-valid input works.
#[test]
fn hostile_input_fails_cleanly_and_odd_input_works() {
    use image::{DynamicImage, ImageBuffer, ImageFormat, Luma};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_small(d, "synth-derm:n=32,test=8,size=32,seed=1");
    let encode = |image: DynamicImage, format: ImageFormat| {
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    };
    let png = encode(
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(40, 30, |x, y| {
            image::Rgb([x as u8 * 6, y as u8 * 8, 90])
        })),
        ImageFormat::Png,
    );
    let mut bomb = png.clone();
    bomb[16..20].copy_from_slice(&40_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&40_000u32.to_be_bytes());
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    for (name, bytes) in [
        ("zero.png", Vec::new()),
        ("text.png", b"a text file, not an image".to_vec()),
        ("truncated.png", png[..png.len() / 2].to_vec()),
        ("bomb.png", bomb),
    ] {
        std::fs::write(d.join(name), bytes).unwrap();
        fails_with(d, &predict_args(&["--model", "m.bpk", name]), &[name]);
    }
    fails_with(
        d,
        &predict_args(&["--model", "m.bpk", "bomb.png"]),
        &["too large"],
    );
    for (name, reason) in [
        ("no_pixel_data.dcm", "without pixel data"),
        ("bomb.dcm", "too large"),
    ] {
        let path = dicom_fixture(name);
        let path = path.to_string_lossy();
        fails_with(
            d,
            &predict_args(&["--model", "m.bpk", &path]),
            &[name, reason],
        );
    }

    // Odd but valid: 16-bit gray, RGBA, 1×1, very wide, DICOM with and without an extension,
    // each frame of a multi-frame DICOM.
    let gray16 = ImageBuffer::<Luma<u16>, _>::from_fn(20, 20, |x, _| Luma([x as u16 * 3000]));
    std::fs::write(
        d.join("g16.png"),
        encode(DynamicImage::ImageLuma16(gray16), ImageFormat::Png),
    )
    .unwrap();
    let rgba = image::RgbaImage::from_pixel(5, 5, image::Rgba([200, 10, 10, 0]));
    std::fs::write(
        d.join("rgba.png"),
        encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
    )
    .unwrap();
    let one = image::RgbImage::from_pixel(1, 1, image::Rgb([9, 9, 9]));
    std::fs::write(
        d.join("one.bmp"),
        encode(DynamicImage::ImageRgb8(one), ImageFormat::Bmp),
    )
    .unwrap();
    let wide = image::GrayImage::from_pixel(5000, 2, Luma([128]));
    std::fs::write(
        d.join("wide.tif"),
        encode(DynamicImage::ImageLuma8(wide), ImageFormat::Tiff),
    )
    .unwrap();
    std::fs::copy(dicom_fixture("mono16_rle.dcm"), d.join("IM0001")).unwrap();
    std::fs::copy(dicom_fixture("multiframe8.dcm"), d.join("cine.dcm")).unwrap();
    std::fs::copy(dicom_fixture("ybr_full8.dcm"), d.join("colour.dcm")).unwrap();
    let out = robustdx(
        d,
        &predict_args(&[
            "--model",
            "m.bpk",
            "--dicom-frames",
            "all",
            "--dicom-window",
            "none",
            "g16.png",
            "rgba.png",
            "one.bmp",
            "wide.tif",
            "IM0001",
            "cine.dcm",
            "colour.dcm",
        ]),
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for name in [
        "g16.png",
        "rgba.png",
        "one.bmp",
        "wide.tif",
        "IM0001",
        "cine.dcm#0",
        "cine.dcm#2",
        "colour.dcm",
    ] {
        assert!(all.contains(name), "{name} missing:\n{all}");
    }
    fails_with(
        d,
        &predict_args(&["--model", "m.bpk", "--dicom-window", "40", "one.bmp"]),
        &["--dicom-window 40", "CENTER,WIDTH"],
    );

    // CSVs: empty, binary, ragged, a missing image, an empty label (named by file and row); a
    // BOM before the header is fine.
    std::fs::write(d.join("a.png"), &png).unwrap();
    let export = |csv: &str| {
        vec![
            "data".to_string(),
            "export".into(),
            "--data".into(),
            format!("csv:{csv}"),
            "--holdout".into(),
            "0.5".into(),
            "--out".into(),
            "out".into(),
        ]
    };
    for (csv, content, expected) in [
        ("empty.csv", &b""[..], "empty.csv"),
        (
            "binary.csv",
            &b"\x00\xff\xfe\x01\x02PNG\x00"[..],
            "binary.csv",
        ),
        (
            "ragged.csv",
            &b"image_id,label\na,benign\na,benign,extra\n"[..],
            "ragged.csv",
        ),
        (
            "missing.csv",
            &b"image_id,label\na,benign\nb,malignant\n"[..],
            "missing.csv",
        ),
        (
            "nolabel.csv",
            &b"image_id,label\na,benign\na,\n"[..],
            "nolabel.csv",
        ),
    ] {
        std::fs::write(d.join(csv), content).unwrap();
        let args = export(csv);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(d, &args, &[expected]);
    }
    std::fs::write(d.join("b.png"), &png).unwrap();
    std::fs::write(
        d.join("bom.csv"),
        b"\xef\xbb\xbfimage_id,label\na,benign\nb,malignant\n",
    )
    .unwrap();
    let args = export("bom.csv");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = robustdx(d, &args);
    assert!(out.status.success(), "a BOM is fine: {}", text(&out));

    // Model files: garbage, truncated, NaN weights (a byte pattern of NaN over the weights).
    let model = std::fs::read(d.join("m.bpk")).unwrap();
    std::fs::write(d.join("garbage.bpk"), b"\x89 not a model at all").unwrap();
    std::fs::write(d.join("cut.bpk"), &model[..model.len() / 2]).unwrap();
    let mut nan = model.clone();
    let tail = nan.len() - 64;
    for chunk in nan[tail..].chunks_mut(4) {
        chunk.copy_from_slice(&f32::NAN.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(d.join("nan.bpk"), &nan).unwrap();
    for (file, reason) in [
        ("garbage.bpk", "not a robustdx model"),
        ("cut.bpk", "cut.bpk"),
        ("nan.bpk", "NaN or infinite"),
    ] {
        fails_with(
            d,
            &predict_args(&["--model", file, "a.png"]),
            &[file, reason],
        );
    }

    // Absurd flags.
    for (flag, value) in [
        ("--eps", "1e9"),
        ("--eps", "NaN"),
        ("--batch-size", "0"),
        ("--steps", "0"),
    ] {
        fails_with(
            d,
            &[
                "attack",
                "--backend",
                "cpu",
                "--model",
                "m.bpk",
                "--data",
                "synth-derm:n=8,test=4,size=32",
                flag,
                value,
            ],
            &[flag],
        );
    }
}

/// `bench compare` without PyTorch: robustdx's side of the table and how to get the other.
#[test]
fn bench_compare_without_pytorch_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = robustdx(
        dir.path(),
        &[
            "bench",
            "compare",
            "--python",
            "/nonexistent/python",
            "--runs",
            "1",
        ],
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("cannot import torch and torchattacks"),
        "{all}"
    );
    for row in [
        "| PGD-10 | small-cnn (width 32, 64 px, batch 32) | cpu |",
        "| PGD-10 | attn-vgg (width 8, 64 px, batch 32) | cpu |",
        "| APGD-CE-10 | small-cnn (width 32, 64 px, batch 32) | cpu |",
    ] {
        assert!(all.contains(row), "{row} missing:\n{all}");
    }
}
