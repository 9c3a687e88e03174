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
    ] {
        let path = fixture("dicom").join(name);
        predict(&dir, &[&path.to_string_lossy()]).fails_with(&[name, reason]);
    }
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
    ] {
        dir.robustdx(["attack", "--model", "m.bpk"])
            .args(["--data", "synth-derm:n=8,test=4,size=32", flag, value])
            .fails_with(&[flag]);
    }
}
