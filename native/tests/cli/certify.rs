//! `certify`, randomized smoothing: certified accuracy per σ and radius as a table, JSON
//! (per-image votes and certificates), CSV and report; resumed σ by σ; sharded and merged; one
//! image's certificate as the page's record; the model's training σ as the default; bad settings
//! refused.

use std::sync::LazyLock;

use crate::util::{CHEST, DERM, Dir, TestCommand, TinyModel};

const TEST_IMAGES: usize = 16;

/// Two noise levels with few copies on the derm model, more flags in `extra`.
fn certify(dir: &Dir, extra: &[&str]) -> TestCommand {
    dir.robustdx(["certify", "--model", "m.bpk", "--data", DERM])
        .args([
            "--sigma",
            "0.12,0.25",
            "--n0",
            "10",
            "--n",
            "60",
            "--seed",
            "3",
        ])
        .args(extra)
}

/// What one certification said and wrote (`c.json`, `c.csv`, `rep/`), run once for the tests.
struct Certified {
    said: String,
    json: Vec<u8>,
    csv: String,
    html: String,
}

static CERTIFIED: LazyLock<Certified> = LazyLock::new(|| {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let said = certify(
        &dir,
        &["--json", "c.json", "--csv", "c.csv", "--report", "rep"],
    )
    .run_ok();
    Certified {
        said,
        json: dir.read("c.json"),
        csv: dir.read_to_string("c.csv"),
        html: dir.read_to_string("rep/index.html"),
    }
});

#[test]
fn the_json_holds_every_images_votes_and_a_table_per_sigma() {
    let json: serde_json::Value = serde_json::from_slice(&CERTIFIED.json).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["sigma"], 0.12);
    assert_eq!(json["radii"].as_array().unwrap().len(), 7);
    for result in results {
        let records = result["records"].as_array().unwrap();
        assert_eq!(records.len(), TEST_IMAGES);
        let mut certified_at_zero = 0;
        for record in records {
            let votes: u64 = record["estimation"]["heads"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert_eq!(votes, 60);
            if record["correct"] == true {
                certified_at_zero += 1;
                assert!(record["radius"].as_f64().unwrap() >= 0.0);
            }
        }
        let accuracy = result["certified_accuracy"][0]["accuracy"]
            .as_f64()
            .unwrap();
        assert_eq!(accuracy, certified_at_zero as f64 / TEST_IMAGES as f64);
    }
    let said = &CERTIFIED.said;
    assert!(
        said.contains("abstain") && said.contains("r = 0.25"),
        "{said}"
    );
    assert!(
        said.contains("\n0.12 ") && said.contains("\n0.25 "),
        "{said}"
    );
    assert!(
        said.contains("Smoothed at σ = 0.12, ") && said.contains("abstain."),
        "{said}"
    );
}

#[test]
fn the_csv_and_report_have_a_row_per_sigma_and_radius() {
    assert_eq!(CERTIFIED.csv.lines().count(), 1 + 2 * 7);
    assert!(CERTIFIED.csv.starts_with("sigma,radius,certified_accuracy"));
    let html = &CERTIFIED.html;
    assert!(html.contains("<svg") && html.contains("σ = 0.25"), "{html}");
    assert!(html.contains("Largest possible"), "{html}");
}

fn with_the_certification() -> Dir {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm)
        .write("c.json", &CERTIFIED.json);
    dir
}

#[test]
fn resume_reuses_the_noise_levels_run_with_the_same_settings() {
    let dir = with_the_certification();
    let said = certify(&dir, &["--json", "c.json", "--resume"]).run_ok();
    assert!(
        said.contains("σ=0.12: reused") && said.contains("σ=0.25: reused"),
        "{said}"
    );
    assert_eq!(dir.read("c.json"), CERTIFIED.json);
}

#[test]
fn resume_recomputes_for_more_copies_saying_why() {
    let dir = with_the_certification();
    let said = dir
        .robustdx(["certify", "--model", "m.bpk", "--data", DERM])
        .args(["--sigma", "0.12", "--n0", "10", "--n", "80", "--seed", "3"])
        .args(["--json", "c.json", "--resume"])
        .run_ok();
    assert!(said.contains("n 60 → 80"), "{said}");
}

/// Shards merged equal the single run (the multi-label model: a head per finding).
#[test]
fn certification_shards_merge_into_the_single_run() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    let run = |extra: &[&str]| {
        dir.robustdx(["certify", "--model", "m.bpk", "--data", CHEST])
            .args(["--sigma", "0.25", "--n0", "8", "--n", "40"])
            .args(extra)
            .run_ok()
    };
    run(&["--json", "single.json", "--batch-size", "40"]);
    for i in 0..2 {
        run(&[
            "--json",
            &format!("s{i}.json"),
            "--shard",
            &format!("{i}/2"),
            "--batch-size",
            "7",
        ]);
    }
    let said = dir
        .robustdx(["merge", "--out", "merged.json", "s1.json", "s0.json"])
        .run_ok();
    assert!(said.contains("r = 0.5"), "{said}");
    let single = dir.json("single.json");
    assert_eq!(single["results"], dir.json("merged.json")["results"]);
    let findings = single["model"]["class_names"].as_array().unwrap().len();
    assert_eq!(
        single["results"][0]["finding_certified_accuracy"]
            .as_array()
            .unwrap()
            .len(),
        findings
    );
}

#[test]
fn one_image_writes_the_pages_record_and_its_noisy_copies() {
    let dir = Dir::new();
    let image = dir.export_images(DERM, 1, "img");
    let said = dir
        .with_model(TinyModel::Derm)
        .robustdx(["certify", "--model", "m.bpk", "--image"])
        .arg(&image)
        .args([
            "--sigma", "0.25", "--n0", "20", "--n", "100", "--json", "one.json", "--out", "noisy",
        ])
        .run_ok();
    let one = dir.json("one.json");
    let votes: u64 = one["estimation"]["heads"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(votes, 100);
    assert_eq!(one["backend"], "cpu");
    assert!(said.contains("at σ 0.25:"), "{said}");
    for i in 0..4 {
        assert!(dir.exists(format!("noisy/noisy_{i:02}.png")));
    }
}

/// A model trained with Gaussian augmentation is certified at its own σ when none is given;
/// any other model needs --sigma.
#[test]
fn the_training_sigma_is_the_default_and_its_absence_is_explained() {
    let dir = Dir::new();
    dir.robustdx([
        "train",
        "--data",
        DERM,
        "--image-size",
        "32",
        "--width",
        "4",
    ])
    .args([
        "--epochs",
        "1",
        "--defense",
        "gaussian",
        "--sigma",
        "0.12",
        "--out",
        "g.bpk",
    ])
    .run_ok();
    dir.robustdx(["certify", "--model", "g.bpk", "--data", DERM])
        .args(["--n0", "5", "--n", "10", "--json", "g.json"])
        .run_ok();
    assert_eq!(dir.json("g.json")["results"][0]["sigma"], 0.12);
    dir.with_model(TinyModel::Derm)
        .robustdx(["certify", "--model", "m.bpk", "--data", DERM])
        .fails_with(&["m.bpk", "give --sigma"]);
}

#[test]
fn settings_out_of_range_are_refused() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let base = || dir.robustdx(["certify", "--model", "m.bpk", "--data", DERM]);
    base().args(["--sigma", "0"]).fails_with(&["--sigma 0"]);
    base()
        .args(["--sigma", "0.25", "--alpha", "1.5"])
        .fails_with(&["--alpha 1.5"]);
    base()
        .args(["--sigma", "0.25", "--n", "0"])
        .fails_with(&["--n 0"]);
    base()
        .args(["--sigma", "0.25", "--radii", "0,-1"])
        .fails_with(&["--radii -1"]);
}
