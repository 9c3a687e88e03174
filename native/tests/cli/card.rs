//! `card` and `leaderboard`: a quick card's numbers are those of the separate commands run with
//! its recorded command lines; a resumed card recomputes nothing; shards join into the single
//! run's card; the leaderboard groups cards of other data or levels apart and refuses what is
//! not a card.

use std::sync::LazyLock;

use serde_json::Value;

use crate::util::{CHEST, DERM, Dir, TinyModel};

/// A quick card of the tiny derm model at σ 0.25, made once: its directory, what it printed
/// to stdout and stderr.
struct Made {
    dir: Dir,
    said: String,
}

fn card_args(data: &str) -> Vec<String> {
    [
        "card", "--model", "m.bpk", "--data", data, "--level", "quick", "--sigma", "0.25", "--out",
        "card",
    ]
    .map(String::from)
    .to_vec()
}

static DERM_CARD: LazyLock<Made> = LazyLock::new(|| {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let said = dir.robustdx(card_args(DERM)).run_ok();
    Made { dir, said }
});

/// The value at `path` (keys and indices) of a JSON document.
fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .fold(value, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[*key],
        })
}

/// Runs a part's recorded command line in `dir`, writing its result to `json` instead.
fn rerun_part(dir: &Dir, command: &str, json: &str) -> Value {
    let words: Vec<&str> = command.split(' ').collect();
    assert_eq!(words[0], "robustdx", "{command}");
    let mut args: Vec<String> = Vec::new();
    let mut iter = words[1..].iter();
    while let Some(&word) = iter.next() {
        if word == "--json" {
            iter.next();
            args.extend(["--json".into(), json.into()]);
        } else {
            args.push(word.into());
        }
    }
    dir.robustdx(&args).run_ok();
    dir.json(json)
}

#[test]
fn a_card_has_every_part_with_its_sentences_and_files() {
    let card = DERM_CARD.dir.json("card/card.json");
    assert_eq!(card["kind"], "robustness-card");
    assert_eq!(card["level"], "quick");
    assert_eq!(
        card["data"]["samples"], 16,
        "the whole split: fewer than the 40 sampled"
    );
    assert!(
        card["clean"]["verdict"]
            .as_str()
            .unwrap()
            .contains("16 clean test images")
    );
    let attacks = card["attacks"]["result"]["results"].as_array().unwrap();
    let eps: Vec<f64> = attacks.iter().map(|r| r["eps"].as_f64().unwrap()).collect();
    assert_eq!(eps, [0.0, 1.0, 4.0]);
    assert!(attacks.iter().all(|r| r["attack"] == "autoattack"));
    assert!(
        attacks
            .iter()
            .all(|r| r["records"].as_array().unwrap().is_empty())
    );
    assert_eq!(card["attacks"]["verdicts"].as_array().unwrap().len(), 2);
    assert_eq!(
        card["benchmark"]["result"]["results"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    assert_eq!(card["certification"]["result"]["results"][0]["sigma"], 0.25);
    assert_eq!(card["certification"]["result"]["n"], 500);
    let cams = card["cams"]["images"].as_array().unwrap();
    assert_eq!(cams.len(), 4);
    for cam in cams {
        let overlap = cam["overlap"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&overlap), "{overlap}");
        assert!(
            cam["clean_overlay"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
    }
    assert!(card["not_run"][0].as_str().unwrap().starts_with("GAP"));
    for part in ["attack", "benchmark", "certify", "analysis"] {
        assert!(
            DERM_CARD.dir.exists(format!("card/parts/{part}.json")),
            "{part}"
        );
    }
    let html = DERM_CARD.dir.read_to_string("card/card.html");
    for section in [
        "Verdict",
        "Clean performance",
        "Under attack",
        "Everyday changes",
        "Certified robustness",
        "What the attack does inside",
        "Provenance",
    ] {
        assert!(html.contains(section), "{section}");
    }
    assert_eq!(html.matches("<svg").count(), 4, "four charts");
    assert!(
        DERM_CARD.said.contains("clean: On 16 clean test images"),
        "{}",
        DERM_CARD.said
    );
}

#[test]
fn the_cards_numbers_are_the_separate_commands_numbers() {
    let dir = &DERM_CARD.dir;
    let card = dir.json("card/card.json");
    // Clean scores: `eval` on the same model and images, with the same bootstrap.
    dir.robustdx([
        "eval",
        "--model",
        "m.bpk",
        "--data",
        DERM,
        "--json",
        "eval.json",
    ])
    .run_ok();
    let eval = dir.json("eval.json");
    for score in ["accuracy", "auc_macro", "sensitivity", "specificity"] {
        let (a, b) = (
            card["clean"]["metrics"][score].as_f64().unwrap(),
            eval["metrics"][score].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-6, "{score}: card {a}, eval {b}");
    }
    assert_eq!(
        card["clean"]["intervals"]["accuracy"],
        eval["intervals"]["accuracy"]
    );
    // Every part: its recorded command, run alone.
    let parts = [
        ("attacks", "sep-attack.json", vec!["results"]),
        ("benchmark", "sep-benchmark.json", vec!["results"]),
        ("certification", "sep-certify.json", vec!["results"]),
        ("inside", "sep-analysis.json", vec!["feature_shift"]),
    ];
    for (part, json, field) in parts {
        let command = card[part]["command"].as_str().unwrap();
        let alone = rerun_part(dir, command, json);
        let (mine, theirs) = (at(&card[part]["result"], &field), at(&alone, &field));
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(items) = v.as_array_mut() {
                for item in items {
                    if item.get("records").is_some() {
                        item["records"] = Value::Array(Vec::new());
                    }
                }
            }
            v
        };
        match part {
            // Certificates keep their per-image records in the card (they draw the curve).
            "certification" => assert_eq!(mine, theirs, "{part}"),
            _ => assert_eq!(strip(mine), strip(theirs), "{part}"),
        }
    }
    // A new card reuses those separate runs instead of computing its parts again.
    let mut args = card_args(DERM);
    *args.last_mut().unwrap() = "card2".into(); // --out
    args.extend([
        "--reuse".into(),
        "sep-attack.json,sep-benchmark.json,sep-certify.json,sep-analysis.json".into(),
    ]);
    let output = dir.robustdx(&args).output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("reused (same identity)").count(),
        19,
        "{stderr}"
    );
    let again = dir.json("card2/card.json");
    for path in [
        vec!["clean"],
        vec!["attacks", "result", "results"],
        vec!["cams"],
    ] {
        assert_eq!(at(&again, &path), at(&card, &path), "{path:?}");
    }
}

#[test]
fn a_resumed_card_recomputes_nothing() {
    let dir = &DERM_CARD.dir;
    let before = dir.json("card/card.json");
    let mut args = card_args(DERM);
    args.push("--resume".into());
    let output = dir.robustdx(&args).output();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    // 3 sweep cells, 14 kinds, 1 noise level, 1 analysis.
    assert_eq!(
        stderr.matches("reused (same identity)").count(),
        19,
        "{stderr}"
    );
    assert!(!stderr.contains("recomputed"), "{stderr}");
    let mut after = dir.json("card/card.json");
    after["provenance"]["created"] = before["provenance"]["created"].clone();
    assert_eq!(before, after);
}

#[test]
fn shards_join_into_the_single_runs_card() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let mut args = card_args(DERM);
    for shard in ["0/2", "1/2"] {
        let mut sharded = args.clone();
        sharded.extend(["--shard".into(), shard.into()]);
        let said = dir.robustdx(&sharded).run_ok();
        assert!(said.contains("without --shard"), "{said}");
    }
    assert!(!dir.exists("card/card.json"));
    let said = dir.robustdx(&args).run_ok();
    assert!(said.contains("report:"), "{said}");
    let joined = dir.json("card/card.json");
    let single = DERM_CARD.dir.json("card/card.json");
    for path in [
        vec!["clean", "metrics"],
        vec!["attacks", "result", "results"],
        vec!["benchmark", "result", "results"],
        vec!["certification", "result", "results"],
        vec!["inside", "result", "feature_shift"],
        vec!["cams", "images"],
    ] {
        assert_eq!(at(&joined, &path), at(&single, &path), "{path:?}");
    }
    args.push("--resume".into());
    let stderr = String::from_utf8_lossy(&dir.robustdx(&args).output().stderr).into_owned();
    assert!(!stderr.contains("recomputed"), "{stderr}");
}

#[test]
fn the_leaderboard_groups_other_data_and_levels_apart() {
    let chest = Dir::new();
    chest.with_model(TinyModel::Chest);
    let mut args = card_args(CHEST);
    args.truncate(args.len() - 4); // no σ: a model not trained for smoothing
    args.extend(["--out".into(), "card".into()]);
    chest.robustdx(&args).run_ok();
    let chest_card = chest.json("card/card.json");
    assert!(chest_card.get("certification").is_none());
    assert!(
        chest_card["clean"]["verdict"]
            .as_str()
            .unwrap()
            .contains("every finding right")
    );

    let dir = &DERM_CARD.dir;
    let derm = dir.join("card/card.json");
    let chest_file = chest.join("card/card.json");
    // The derm card at another level: never ranked beside the quick one.
    let mut standard = dir.json("card/card.json");
    standard["level"] = "standard".into();
    standard["model"]["sha256"] = "another".into();
    dir.write("standard.json", serde_json::to_vec(&standard).unwrap());
    let said = dir
        .robustdx(["leaderboard", "--out", "board"])
        .arg(&derm)
        .arg(&chest_file)
        .arg(dir.join("standard.json"))
        .run_ok();
    let board = dir.json("board/leaderboard.json");
    let groups = board["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{said}");
    assert!(
        groups
            .iter()
            .all(|g| g["rows"].as_array().unwrap().len() == 1)
    );
    let html = dir.read_to_string("board/leaderboard.html");
    assert_eq!(html.matches("<table class=\"board\"").count(), 3);
    assert!(html.contains("aria-sort") && html.contains("<button"));
    assert!(said.contains("AA ε=4/255"), "{said}");

    // The same model twice in one group is refused, naming both files.
    let err = dir
        .robustdx(["leaderboard", "--out", "board2"])
        .arg(&derm)
        .arg(&derm)
        .run_err();
    assert!(err.contains("same model file"), "{err}");
    // Other files are refused by name.
    dir.write("not-a-card.json", br#"{"schema_version": 2}"#);
    let err = dir
        .robustdx(["leaderboard", "not-a-card.json", "--out", "board3"])
        .run_err();
    assert!(
        err.contains("not-a-card.json") && err.contains("not a robustness card"),
        "{err}"
    );
}

#[test]
fn an_unknown_level_is_refused() {
    let dir = Dir::new();
    let err = dir
        .robustdx(["card", "--model", "m.bpk", "--level", "thorough"])
        .run_err();
    assert!(err.contains("quick, standard, full"), "{err}");
}
