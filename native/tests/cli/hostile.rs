//! The bad-input corpus, built at run time: every bad file is a non-zero exit with a message
//! naming the file (and row), never a panic; odd-but-valid input works.

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma};

use crate::util::{Dir, TestCommand, TinyModel, fixture};

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A 40×30 RGB PNG.
fn png() -> Vec<u8> {
    encode(
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(40, 30, |x, y| {
            image::Rgb([x as u8 * 6, y as u8 * 8, 90])
        })),
        ImageFormat::Png,
    )
}

/// A directory with the derm model as `m.bpk`.
fn with_model() -> Dir {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    dir
}

/// `predict --model m.bpk` and `rest`.
fn predict(dir: &Dir, rest: &[&str]) -> TestCommand {
    dir.robustdx(["predict", "--model", "m.bpk"]).args(rest)
}

#[test]
fn broken_images_are_named() {
    let dir = with_model();
    let png = png();
    for (name, bytes) in [
        ("zero.png", Vec::new()),
        ("text.png", b"a text file, not an image".to_vec()),
        ("truncated.png", png[..png.len() / 2].to_vec()),
    ] {
        dir.write(name, bytes);
        predict(&dir, &[name]).fails_with(&[name]);
    }
}

/// A valid PNG whose header (its CRC patched) claims 40 000 × 40 000 pixels.
#[test]
fn a_decompression_bomb_is_too_large() {
    let dir = with_model();
    let mut bomb = png();
    bomb[16..20].copy_from_slice(&40_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&40_000u32.to_be_bytes());
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    dir.write("bomb.png", bomb);
    predict(&dir, &["bomb.png"]).fails_with(&["bomb.png", "too large"]);
}

#[test]
fn broken_dicom_files_are_named_with_the_problem() {
    let dir = with_model();
    for (name, reason) in [
        ("no_pixel_data.dcm", "without pixel data"),
        ("bomb.dcm", "too large"),
        // Colour whose largest value would be 2⁰ − 1 = 0: every pixel 0 / 0 = NaN.
        ("rgb8_bits_stored0.dcm", "BitsStored 0"),
    ] {
        let path = fixture("dicom").join(name);
        predict(&dir, &[&path.to_string_lossy()]).fails_with(&[name, reason]);
    }
}

/// NumberOfFrames 2·10⁹ (inside the IS range) over one frame's 48 bytes: refused from the
/// header when `--dicom-frames all` counts the frames, before an entry is made for each, in
/// `predict` and in a folder data set.
#[test]
fn dicom_frames_beyond_the_pixel_data_are_refused_from_the_header() {
    let dir = with_model();
    std::fs::create_dir_all(dir.join("d/a")).unwrap();
    std::fs::create_dir_all(dir.join("d/b")).unwrap();
    let name = "frames_beyond_data.dcm";
    std::fs::copy(fixture("dicom").join(name), dir.join("d/a").join(name)).unwrap();
    std::fs::copy(fixture("dicom/multiframe8.dcm"), dir.join("d/b/ok.dcm")).unwrap();
    let path = fixture("dicom").join(name);
    let reason = "declares 2000000000 frame(s)";
    predict(&dir, &["--dicom-frames", "all", &path.to_string_lossy()]).fails_with(&[
        name,
        reason,
        "1 frame(s)",
    ]);
    dir.robustdx(["data", "export", "--data", "folder:d", "--holdout", "1"])
        .args(["--dicom-frames", "all", "--out", "out"])
        .fails_with(&[name, reason]);
}

/// A model whose input is 32 768 × 32 768 (each side within the limit, 2³⁰ pixels in all) is
/// refused by the same pixel cap as images, when imported.
#[test]
fn a_model_input_over_the_pixel_cap_is_refused() {
    let dir = Dir::new();
    let weights = fixture("torch/resnet-18.safetensors");
    dir.robustdx(["import", "--arch", "resnet-18", "--out", "big.bpk"])
        .args([
            "--weights",
            &weights.to_string_lossy(),
            "--image-size",
            "32768",
        ])
        .fails_with(&["32768×32768", "64 megapixels"]);
    assert!(!dir.exists("big.bpk"));
}

/// `weights` (a safetensors file) with every float32 tensor stored as `dtype` ("BF16" or
/// "F64"), and the first value of the last one replaced by `poison`'s bytes.
fn safetensors_as(weights: &[u8], dtype: &str, poison: f64) -> Vec<u8> {
    let header_len = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&weights[8..8 + header_len]).unwrap();
    let data = &weights[8 + header_len..];
    let width = if dtype == "BF16" { 2 } else { 8 };
    let encode = |v: f32| -> Vec<u8> {
        if dtype == "BF16" {
            // bfloat16 is float32's top half (truncated; exact for the poison values).
            v.to_le_bytes()[2..].to_vec()
        } else {
            f64::from(v).to_le_bytes().to_vec()
        }
    };
    let mut names: Vec<&String> = header.keys().filter(|k| *k != "__metadata__").collect();
    names.sort_by_key(|k| header[*k]["data_offsets"][0].as_u64().unwrap());
    let (mut out_header, mut out_data) = (serde_json::Map::new(), Vec::new());
    let last_float = names
        .iter()
        .rev()
        .find(|n| header[**n]["dtype"] == "F32")
        .copied()
        .unwrap();
    for name in names {
        let mut entry = header[name].clone();
        let [start, end] = [0, 1].map(|i| entry["data_offsets"][i].as_u64().unwrap() as usize);
        let bytes = &data[start..end];
        let begin = out_data.len();
        if entry["dtype"] == "F32" {
            entry["dtype"] = dtype.into();
            for (i, b) in bytes.chunks_exact(4).enumerate() {
                let v = f32::from_le_bytes(b.try_into().unwrap());
                if name == last_float && i == 0 {
                    out_data.extend(if dtype == "BF16" {
                        encode(poison as f32)
                    } else {
                        poison.to_le_bytes().to_vec()
                    });
                } else {
                    out_data.extend(encode(v));
                }
            }
            assert_eq!(out_data.len() - begin, bytes.len() / 4 * width);
        } else {
            out_data.extend_from_slice(bytes);
        }
        entry["data_offsets"] = serde_json::json!([begin, out_data.len()]);
        out_header.insert(name.clone(), entry);
    }
    let text = serde_json::Value::Object(out_header).to_string();
    [
        (text.len() as u64).to_le_bytes().to_vec(),
        text.into_bytes(),
        out_data,
    ]
    .concat()
}

/// NaN and ∞ weights stored as bfloat16 or float64 are refused like float32 ones, and so are
/// float64 weights beyond float32's range; the same weights without them import.
#[test]
fn non_finite_weights_in_bf16_and_f64_are_refused() {
    let dir = Dir::new();
    let weights = std::fs::read(fixture("torch/resnet-18.safetensors")).unwrap();
    let import = |file: &str| {
        dir.robustdx(["import", "--arch", "resnet-18", "--weights", file])
            .args(["--out", "m.bpk", "--image-size", "64"])
    };
    for (file, dtype, poison) in [
        ("nan_bf16.safetensors", "BF16", f64::NAN),
        ("inf_bf16.safetensors", "BF16", f64::INFINITY),
        ("nan_f64.safetensors", "F64", f64::NAN),
        ("huge_f64.safetensors", "F64", 1e300),
    ] {
        dir.write(file, safetensors_as(&weights, dtype, poison));
        import(file).fails_with(&[file, "NaN or infinite"]);
        assert!(!dir.exists("m.bpk"), "{file}");
    }
    dir.write("ok_bf16.safetensors", safetensors_as(&weights, "BF16", 0.5));
    import("ok_bf16.safetensors").run_ok();
}

/// Odd but valid: 16-bit gray, RGBA, 1×1, very wide, DICOM with and without an extension, each
/// frame of a multi-frame DICOM.
#[test]
fn odd_but_valid_images_are_predicted() {
    let dir = with_model();
    let gray16 = ImageBuffer::<Luma<u16>, _>::from_fn(20, 20, |x, _| Luma([x as u16 * 3000]));
    dir.write(
        "g16.png",
        encode(DynamicImage::ImageLuma16(gray16), ImageFormat::Png),
    );
    let rgba = image::RgbaImage::from_pixel(5, 5, image::Rgba([200, 10, 10, 0]));
    dir.write(
        "rgba.png",
        encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
    );
    let one = image::RgbImage::from_pixel(1, 1, image::Rgb([9, 9, 9]));
    dir.write(
        "one.bmp",
        encode(DynamicImage::ImageRgb8(one), ImageFormat::Bmp),
    );
    let wide = image::GrayImage::from_pixel(5000, 2, Luma([128]));
    dir.write(
        "wide.tif",
        encode(DynamicImage::ImageLuma8(wide), ImageFormat::Tiff),
    );
    for (from, to) in [
        ("mono16_rle.dcm", "IM0001"),
        ("multiframe8.dcm", "cine.dcm"),
        ("ybr_full8.dcm", "colour.dcm"),
    ] {
        std::fs::copy(fixture("dicom").join(from), dir.join(to)).unwrap();
    }
    let all = predict(&dir, &["--dicom-frames", "all", "--dicom-window", "none"])
        .args(["g16.png", "rgba.png", "one.bmp", "wide.tif"])
        .args(["IM0001", "cine.dcm", "colour.dcm"])
        .run_ok();
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
}

#[test]
fn a_dicom_window_needs_a_center_and_a_width() {
    let dir = with_model();
    let one = image::RgbImage::from_pixel(1, 1, image::Rgb([9, 9, 9]));
    dir.write(
        "one.bmp",
        encode(DynamicImage::ImageRgb8(one), ImageFormat::Bmp),
    );
    predict(&dir, &["--dicom-window", "40", "one.bmp"])
        .fails_with(&["--dicom-window 40", "CENTER,WIDTH"]);
}

/// `data export` of `csv:CSV`, half of it held out.
fn export(dir: &Dir, csv: &str) -> TestCommand {
    dir.robustdx(["data", "export", "--data", &format!("csv:{csv}")])
        .args(["--holdout", "0.5", "--out", "out"])
}

/// Empty, binary, ragged, a missing image, an empty label: each named by file (and row).
#[test]
fn broken_csvs_are_named() {
    let dir = Dir::new();
    dir.write("a.png", png());
    for (csv, content) in [
        ("empty.csv", &b""[..]),
        ("binary.csv", &b"\x00\xff\xfe\x01\x02PNG\x00"[..]),
        (
            "ragged.csv",
            &b"image_id,label\na,benign\na,benign,extra\n"[..],
        ),
        (
            "missing.csv",
            &b"image_id,label\na,benign\nb,malignant\n"[..],
        ),
        ("nolabel.csv", &b"image_id,label\na,benign\na,\n"[..]),
    ] {
        dir.write(csv, content);
        export(&dir, csv).fails_with(&[csv]);
    }
}

#[test]
fn a_bom_before_the_csv_header_is_fine() {
    let dir = Dir::new();
    dir.write("a.png", png());
    dir.write("b.png", png());
    dir.write(
        "bom.csv",
        b"\xef\xbb\xbfimage_id,label\na,benign\nb,malignant\n",
    );
    export(&dir, "bom.csv").run_ok();
}

/// Model files: garbage, truncated, NaN weights (a byte pattern of NaN over the weights).
#[test]
fn broken_model_files_are_named_with_the_problem() {
    let dir = Dir::new();
    dir.write("a.png", png());
    let model = TinyModel::Derm.bytes();
    dir.write("garbage.bpk", b"\x89 not a model at all");
    dir.write("cut.bpk", &model[..model.len() / 2]);
    let mut nan = model.to_vec();
    let tail = nan.len() - 64;
    for chunk in nan[tail..].chunks_mut(4) {
        chunk.copy_from_slice(&f32::NAN.to_le_bytes()[..chunk.len()]);
    }
    dir.write("nan.bpk", nan);
    for (file, reason) in [
        ("garbage.bpk", "not a robustdx model"),
        ("cut.bpk", "cut.bpk"),
        ("nan.bpk", "NaN or infinite"),
    ] {
        dir.robustdx(["predict", "--model", file, "a.png"])
            .fails_with(&[file, reason]);
    }
}

#[test]
fn absurd_attack_flags_are_refused() {
    let dir = with_model();
    for (flag, value) in [
        ("--eps", "1e9"),
        ("--eps", "NaN"),
        ("--batch-size", "0"),
        ("--steps", "0"),
        // Huge shard numbers: an error, never an overflow of `images × index`.
        ("--shard", "18446744073709551614/18446744073709551615"),
        ("--shard", "5/10000000"),
    ] {
        dir.robustdx(["attack", "--model", "m.bpk"])
            .args(["--data", "synth-derm:n=8,test=4,size=32", flag, value])
            .fails_with(&[flag]);
    }
}

/// 10⁹ steps for each attack that takes steps: refused above the documented cap before anything
/// runs (APGD's history, too, grows as it goes instead of being sized by the count).
#[test]
fn a_billion_steps_are_refused_for_every_attack() {
    let dir = with_model();
    for attack in ["pgd", "apgd"] {
        dir.robustdx(["attack", "--model", "m.bpk", "--attack", attack])
            .args([
                "--data",
                "synth-derm:n=8,test=4,size=32",
                "--steps",
                "1000000000",
            ])
            .fails_with(&[attack, "1000000000 steps", "cap of 10000", "--steps"]);
    }
}

/// A folder with one unreadable image among many: the run stops naming it; with
/// `--skip-unreadable` it runs on the rest and the result lists what was left out.
#[test]
fn an_unreadable_image_stops_the_run_unless_it_may_be_skipped() {
    let dir = with_model();
    dir.robustdx(["data", "export", "--data", "synth-derm:n=16,test=8,size=32"])
        .args(["--split", "test", "--out", "png"])
        .run_ok();
    let classes: Vec<_> = std::fs::read_dir(dir.join("png"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let broken = classes[0].join("zz_broken.png");
    std::fs::write(&broken, b"not a png").unwrap();
    let attack = || {
        dir.robustdx(["attack", "--model", "m.bpk", "--data", "folder:png"])
            .args(["--holdout", "1", "--attack", "fgsm", "--eps", "4"])
            .args(["--json", "r.json", "--report", "rep"])
    };
    attack().fails_with(&["zz_broken.png", "not a readable image", "--skip-unreadable"]);
    attack().arg("--skip-unreadable").run_ok();
    let result = dir.json("r.json");
    assert_eq!(result["data"]["samples"], 8);
    let skipped = result["data"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("zz_broken.png")
            && skipped[0]["error"]
                .as_str()
                .unwrap()
                .contains("not a readable image"),
        "{skipped:?}"
    );
    let html = dir.read_to_string("rep/index.html");
    assert!(
        html.contains("--skip-unreadable") && html.contains("zz_broken.png"),
        "the report's provenance lists it"
    );
    // The benchmark's result and report say so too.
    dir.robustdx(["benchmark", "--model", "m.bpk", "--data", "folder:png"])
        .args(["--holdout", "1", "--kinds", "brightness", "--frames", "3"])
        .args(["--json", "b.json", "--report", "bench", "--skip-unreadable"])
        .run_ok();
    assert_eq!(
        dir.json("b.json")["data"]["skipped"],
        result["data"]["skipped"]
    );
    let html = dir.read_to_string("bench/index.html");
    assert!(
        html.contains("1 unreadable image(s) left out"),
        "the benchmark report lists it"
    );
}
