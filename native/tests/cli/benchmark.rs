//! `benchmark`, the Robust-Benchmark: Flip Probability per perturbation kind as a table, JSON
//! (per-frame records), CSV and report; resumed kind by kind; sharded and merged; one image's
//! sequence as PNGs and as the page's record; bad kinds and frame counts refused.

use std::sync::LazyLock;

use robustdx_core::perturb::{MAX_FRAMES, PERTURBATIONS};

use crate::util::{CHEST, Dir, TestCommand, TinyModel};

const KINDS: [&str; 2] = ["rotate", "gaussian_noise"];
const FRAMES: usize = 4;
const TEST_IMAGES: usize = 9;

/// Rotation and Gaussian noise, four frames each, on the chest model.
fn benchmark_seeded(dir: &Dir, seed: &str) -> TestCommand {
    dir.robustdx(["benchmark", "--model", "m.bpk", "--data", CHEST])
        .args(["--kinds", &KINDS.join(","), "--frames", &FRAMES.to_string()])
        .args(["--seed", seed])
}

/// The benchmark with seed 3, more flags in `extra`.
fn benchmark(dir: &Dir, extra: &[&str]) -> TestCommand {
    benchmark_seeded(dir, "3").args(extra)
}

/// What one benchmark said and wrote (`b.json`, `b.csv`, `rep/`), run once for the tests here.
struct Benchmarked {
    said: String,
    json: Vec<u8>,
    csv: String,
    html: String,
}

static BENCHMARKED: LazyLock<Benchmarked> = LazyLock::new(|| {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    let said = benchmark(&dir, &["--json", "b.json", "--csv", "b.csv"])
        .args(["--report", "rep", "--fp-variant", "seed"])
        .run_ok();
    Benchmarked {
        said,
        json: dir.read("b.json"),
        csv: dir.read_to_string("b.csv"),
        html: dir.read_to_string("rep/index.html"),
    }
});

/// Registry order, whatever order `--kinds` gave.
#[test]
fn the_table_lists_the_kinds_in_registry_order() {
    let said = &BENCHMARKED.said;
    let in_registry: Vec<&str> = PERTURBATIONS
        .iter()
        .map(|p| p.name())
        .filter(|name| KINDS.contains(name))
        .collect();
    assert_eq!(in_registry, ["gaussian_noise", "rotate"]);
    let at = |kind: &str| said.find(kind).unwrap_or_else(|| panic!("{kind}: {said}"));
    assert!(
        at(in_registry[0]) < at(in_registry[1]) && said.contains("FP (paper)"),
        "{said}"
    );
}

#[test]
fn the_json_has_a_result_per_kind_with_each_images_frames() {
    let record: serde_json::Value = serde_json::from_slice(&BENCHMARKED.json).unwrap();
    // `seed`, the older spelling, is read as `paper`.
    assert_eq!(record["fp_variant"], "paper");
    let results = record["results"].as_array().unwrap();
    assert_eq!(results.len(), KINDS.len());
    assert_eq!(results[0]["reference"], "first");
    assert_eq!(results[1]["reference"], "previous");
    let records = results[1]["records"].as_array().unwrap();
    assert_eq!(records.len(), TEST_IMAGES);
    assert_eq!(records[0]["probs"].as_array().unwrap().len(), FRAMES);
    for r in results {
        let fp = r["flip_probability"].as_f64().unwrap();
        let seed_fp = r["flip_probability_paper"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&fp) && (0.0..=3.0).contains(&seed_fp),
            "{r}"
        );
    }
}

#[test]
fn the_csv_has_a_header_and_a_line_per_kind() {
    let csv = &BENCHMARKED.csv;
    assert_eq!(csv.lines().count(), 1 + KINDS.len(), "{csv}");
    assert!(
        csv.starts_with("perturbation,reference,frames,flip_probability"),
        "{csv}"
    );
}

#[test]
fn the_report_has_a_chart_and_a_strip_of_frames_per_kind() {
    let html = &BENCHMARKED.html;
    assert!(html.contains("Flip Probability per perturbation") && html.contains("<svg"));
    assert_eq!(
        html.matches("<h3>").count(),
        KINDS.len(),
        "one strip per kind"
    );
    assert_eq!(
        html.matches("data:image/png;base64").count(),
        KINDS.len() * FRAMES,
        "{FRAMES} frames per strip"
    );
}

/// A directory with the chest model and the benchmark's `b.json`.
fn with_the_benchmark() -> Dir {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest)
        .write("b.json", &BENCHMARKED.json);
    dir
}

#[test]
fn resume_reuses_the_kinds_run_with_the_same_settings() {
    let dir = with_the_benchmark();
    let said = benchmark(&dir, &["--json", "b.json", "--resume"]).run_ok();
    assert!(said.contains("rotate: reused"), "{said}");
}

#[test]
fn resume_recomputes_the_kinds_for_another_seed_saying_why() {
    let dir = with_the_benchmark();
    let said = benchmark_seeded(&dir, "4")
        .args(["--json", "b.json", "--resume"])
        .run_ok();
    assert!(said.contains("recomputed (seed 3 → 4)"), "{said}");
}

/// Shards merged equal the single run.
#[test]
fn benchmark_shards_merge_into_the_single_run() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    benchmark(&dir, &["--json", "single.json"]).run_ok();
    for i in 0..2 {
        benchmark(&dir, &["--json", &format!("s{i}.json")])
            .args(["--shard", &format!("{i}/2")])
            .run_ok();
    }
    dir.robustdx(["merge", "--out", "merged.json", "s1.json", "s0.json"])
        .run_ok();
    assert_eq!(
        dir.json("single.json")["results"],
        dir.json("merged.json")["results"]
    );
}

#[test]
fn merge_names_the_missing_benchmark_shard() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    benchmark(&dir, &["--json", "s0.json", "--shard", "0/2"]).run_ok();
    dir.robustdx(["merge", "--out", "m2.json", "s0.json"])
        .fails_with(&["shard 1/2 missing"]);
}

#[test]
fn data_perturb_writes_a_png_per_frame() {
    let dir = Dir::new();
    let image = dir.export_images(CHEST, 1, "img");
    dir.robustdx(["data", "perturb", "--kind", "spatter", "--image"])
        .arg(&image)
        .args(["--out", "frames", "--frames", "5"])
        .run_ok();
    for i in 0..5 {
        assert!(dir.exists(format!("frames/spatter_{i:02}.png")));
    }
}

/// One image, the default ten frames: the page's record.
#[test]
fn benchmark_of_one_image_writes_the_pages_record() {
    let dir = Dir::new();
    let image = dir.export_images(CHEST, 1, "img");
    let said = dir
        .with_model(TinyModel::Chest)
        .robustdx(["benchmark", "--model", "m.bpk", "--image"])
        .arg(&image)
        .args([
            "--kinds",
            "gaussian_noise",
            "--seed",
            "3",
            "--json",
            "one.json",
        ])
        .run_ok();
    let one = dir.json("one.json");
    assert_eq!(one["perturbation"], "gaussian_noise");
    assert_eq!(one["frames"].as_array().unwrap().len(), 10);
    assert!(
        said.contains("frames flipped (vs the first frame)"),
        "{said}"
    );
}

#[test]
fn an_unknown_kind_lists_the_kinds() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest);
    let mut expected = vec!["unknown perturbation 'fog'", "spatter"];
    expected.extend(PERTURBATIONS.iter().map(|p| p.name()));
    benchmark(&dir, &["--kinds", "fog"]).fails_with(&expected);
}

#[test]
fn frames_must_be_between_2_and_the_maximum() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Chest)
        .robustdx(["benchmark", "--model", "m.bpk", "--data", CHEST])
        .args(["--kinds", &KINDS.join(","), "--frames", "1"])
        .fails_with(&["--frames 1", &format!("2 to {MAX_FRAMES}")]);
}

#[test]
fn data_perturb_names_a_missing_image() {
    Dir::new()
        .robustdx([
            "data",
            "perturb",
            "--kind",
            "snow",
            "--image",
            "nothing.png",
        ])
        .args(["--out", "x"])
        .fails_with(&["nothing.png"]);
}
