//! `data preview` and `data export`, and data sources that cannot be read: each error names the
//! file or the source and the problem.

use robustdx_core::data::synthetic::SyntheticKind;

use crate::util::{DERM, Dir};

#[test]
fn preview_writes_a_contact_sheet() {
    let dir = Dir::new();
    dir.robustdx(["data", "preview", "--data", "synth-chest:n=8,size=48"])
        .args(["--count", "8", "--out", "sheet.png"])
        .run_ok();
    assert!(dir.read("sheet.png").starts_with(b"\x89PNG"), "not a PNG");
}

/// One folder per class, readable again as an image folder (`attack` reads it back).
#[test]
fn export_writes_one_folder_per_class() {
    let dir = Dir::new();
    dir.robustdx(["data", "export", "--data", DERM, "--split", "test"])
        .args(["--limit", "6", "--out", "png"])
        .run_ok();
    let files = SyntheticKind::Derm
        .class_names()
        .iter()
        .flat_map(|c| std::fs::read_dir(dir.join("png").join(c)).unwrap())
        .count();
    assert_eq!(files, 6);
}

#[test]
fn an_unknown_data_source_is_named() {
    Dir::new()
        .robustdx(["train", "--data", "imagenet"])
        .fails_with(&["unknown data source 'imagenet'"]);
}

#[test]
fn a_missing_csv_is_named() {
    Dir::new()
        .robustdx(["train", "--data", "csv:nope.csv"])
        .fails_with(&["nope.csv"]);
}

#[test]
fn a_missing_medmnist_file_is_named() {
    Dir::new()
        .robustdx(["train", "--data", "medmnist:nope.npz"])
        .fails_with(&["nope.npz"]);
}

#[test]
fn an_empty_synthetic_set_is_refused() {
    Dir::new()
        .robustdx(["train", "--data", "synth-derm:n=0"])
        .fails_with(&["n"]);
}

#[test]
fn a_csv_without_a_label_column_names_the_columns_it_has() {
    let dir = Dir::new();
    dir.write("labels.csv", "image_id,diagnosis\nISIC_1,benign\n");
    dir.robustdx(["train", "--data", "csv:labels.csv"])
        .fails_with(&["labels.csv", "no column named 'label'", "diagnosis"]);
}
