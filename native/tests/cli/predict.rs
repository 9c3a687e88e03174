//! `predict --cam DIR`: one Grad-CAM overlay per image, explaining the decision or a chosen
//! class; a class the model does not have is an error naming it.

use robustdx_core::data::synthetic::SyntheticKind;

use crate::util::{Dir, TinyModel};

const DATA: &str = "synth-derm:n=96,test=48,size=32,seed=4";

/// A directory with the derm model and one exported image; the image's path.
fn with_an_image() -> (Dir, String) {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let image = dir.export_images(DATA, 2, "img");
    (dir, image.to_string_lossy().into_owned())
}

#[test]
fn predict_cam_writes_an_overlay_per_image() {
    let (dir, image) = with_an_image();
    let said = dir
        .robustdx(["predict", "--model", "m.bpk", &image, "--cam", "cams"])
        .run_ok();
    assert!(said.contains("Grad-CAM for"), "{said}");
    let stem = std::path::Path::new(&image)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let decoded = image::open(dir.join("cams").join(format!("{stem}.cam.png"))).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (32, 32));
}

#[test]
fn predict_cam_names_a_class_the_model_does_not_have() {
    let (dir, image) = with_an_image();
    let classes = SyntheticKind::Derm.class_names().len();
    dir.robustdx(["predict", "--model", "m.bpk", &image, "--cam", "cams"])
        .args(["--cam-class", "9"])
        .fails_with(&["class 9", &format!("{classes} classes")]);
}
