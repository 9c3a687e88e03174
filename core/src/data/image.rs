//! A decoded image: planar (CHW) `f32` pixels in [0, 1], the layout burn's conv layers take.

use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, Luma, Rgb};

use super::dicom::{DicomWindow, decode_dicom, is_dicom};
use crate::{Error, Result};

/// The longest side read: a decompression bomb declares 40 000 × 40 000 pixels in a few hundred
/// bytes; it is refused from its header.
pub const MAX_SIDE: u64 = 32_768;
/// The most pixels read (8192 × 8192, twice a full-field mammogram): 800 MB as RGB `f32`.
pub const MAX_PIXELS: u64 = 1 << 26;
/// What a decoder may allocate (the `image` crate's limit): 16-bit RGBA at `MAX_PIXELS`.
const MAX_DECODE_BYTES: u64 = 8 * MAX_PIXELS;

/// Whether a `width` × `height` image is within [`MAX_SIDE`] and [`MAX_PIXELS`]: the one cap for
/// image files and for a model card's input.
pub(crate) fn within_pixel_cap(width: u64, height: u64) -> bool {
    width <= MAX_SIDE && height <= MAX_SIDE && width.saturating_mul(height) <= MAX_PIXELS
}

/// The cap [`within_pixel_cap`] checks, in words.
pub(crate) fn pixel_cap_text() -> String {
    format!(
        "at most {MAX_SIDE} on a side and {} megapixels",
        MAX_PIXELS >> 20
    )
}

/// Refuses a `width` × `height` image over [`MAX_SIDE`] or [`MAX_PIXELS`], naming the file.
pub(crate) fn check_size(name: &str, width: u64, height: u64) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::format(name, "image has no pixels"));
    }
    if !within_pixel_cap(width, height) {
        return Err(Error::format(
            name,
            format!(
                "{width}×{height} pixels is too large to read ({})",
                pixel_cap_text()
            ),
        ));
    }
    Ok(())
}

fn not_image(name: &str, e: impl std::fmt::Display) -> Error {
    Error::format(name, format!("not a readable image: {e}"))
}

fn reader<'a>(
    bytes: &'a [u8],
    name: &str,
) -> Result<image::ImageReader<std::io::Cursor<&'a [u8]>>> {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| not_image(name, e))
}

/// The width and height a (non-DICOM) image file declares in its header.
fn dimensions(bytes: &[u8], name: &str) -> Result<(u32, u32)> {
    reader(bytes, name)?
        .into_dimensions()
        .map_err(|e| not_image(name, e))
}

/// Decodes a (non-DICOM) image file, refusing from its header what is too large to read, with
/// the `image` crate's allocation limit as a second guard.
fn decode_dynamic(bytes: &[u8], name: &str) -> Result<DynamicImage> {
    let (width, height) = dimensions(bytes, name)?;
    check_size(name, width as u64, height as u64)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut decoder = reader(bytes, name)?;
    decoder.limits(limits);
    let decoded = decoder.decode().map_err(|e| not_image(name, e))?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(Error::format(name, "image has no pixels"));
    }
    Ok(decoded)
}

/// Choices for files that need them: which window and frame of a DICOM file.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DecodeOptions {
    /// Which window turns a monochrome DICOM image's values into intensities.
    pub dicom_window: DicomWindow,
    /// 0-based.
    pub dicom_frame: u32,
}

/// A decoded image with 1 (grayscale) or 3 (RGB) channels, pixels in [0, 1], planar CHW.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels × height × width` values in [0, 1], channel-major (planar CHW).
    pub pixels: Vec<f32>,
}

impl Image {
    /// An image from planar pixels. Panics unless `channels` is 1 or 3 and `pixels` has exactly
    /// `channels × height × width` values.
    pub fn new(channels: usize, height: usize, width: usize, pixels: Vec<f32>) -> Self {
        assert!(
            channels == 1 || channels == 3,
            "1 or 3 channels, got {channels}"
        );
        assert_eq!(pixels.len(), channels * height * width, "pixel count");
        Self {
            channels,
            height,
            width,
            pixels,
        }
    }

    /// A black image.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Self::new(
            channels,
            height,
            width,
            vec![0.0; channels * height * width],
        )
    }

    /// Decodes PNG / JPEG / BMP / TIFF / DICOM bytes. `name` (usually the file path) goes into
    /// errors. Grayscale files stay one channel; everything else becomes RGB (alpha dropped,
    /// palette and CMYK converted); 16-bit files keep their 16 bits.
    pub fn decode(bytes: &[u8], name: &str) -> Result<Self> {
        Self::decode_with(bytes, name, &DecodeOptions::default())
    }

    /// [`Image::decode`] with DICOM's choices (window, frame). Images over [`MAX_SIDE`] on a side
    /// or [`MAX_PIXELS`] in all are refused from their header, before anything is allocated.
    pub fn decode_with(bytes: &[u8], name: &str, options: &DecodeOptions) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::format(name, "an empty file (0 bytes)"));
        }
        if is_dicom(bytes) {
            return decode_dicom(bytes, name, options.dicom_window, options.dicom_frame);
        }
        Ok(Self::from_dynamic(decode_dynamic(bytes, name)?))
    }

    /// Like [`Image::decode`], but refuses images larger than `max_side` pixels on a side before
    /// decoding them (a decoded image takes 12 bytes per pixel).
    pub fn decode_within(bytes: &[u8], name: &str, max_side: u32) -> Result<Self> {
        Self::decode_fitted(bytes, name, max_side, None)
    }

    /// Like [`Image::decode_within`]; where `fit` (height, width) is given and the image is more
    /// than twice as large, it is shrunk to `fit` (the same triangle filter as [`Image::resized`])
    /// while still 8 or 16 bits a sample, so a large upload never exists as `f32` at full size.
    pub fn decode_fitted(
        bytes: &[u8],
        name: &str,
        max_side: u32,
        fit: Option<(usize, usize)>,
    ) -> Result<Self> {
        let too_large = |width, height| {
            Error::format(
                name,
                format!("{width}×{height} pixels is too large (at most {max_side} on a side)"),
            )
        };
        // DICOM (and an empty file) has no cheap header read here: checked once decoded.
        if bytes.is_empty() || is_dicom(bytes) {
            let image = Self::decode(bytes, name)?;
            if image.width > max_side as usize || image.height > max_side as usize {
                return Err(too_large(image.width as u32, image.height as u32));
            }
            return Ok(image);
        }
        let (width, height) = dimensions(bytes, name)?;
        if width > max_side || height > max_side {
            return Err(too_large(width, height));
        }
        let decoded = decode_dynamic(bytes, name)?;
        Ok(Self::from_dynamic(match fit {
            Some((h, w)) if height as usize > 2 * h && width as usize > 2 * w => {
                decoded.resize_exact(w as u32, h as u32, FilterType::Triangle)
            }
            _ => decoded,
        }))
    }

    fn from_dynamic(decoded: DynamicImage) -> Self {
        let (width, height) = (decoded.width() as usize, decoded.height() as usize);
        let plane = height * width;
        if decoded.color().has_color() {
            // 8-bit files straight from their bytes (no full-size f32 RGB copy in between);
            // 16-bit and float ones through f32, which scales 16 bits to [0, 1].
            let mut pixels = vec![0.0; 3 * plane];
            match decoded {
                DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => {
                    let rgb = decoded.into_rgb8();
                    for (i, p) in rgb.pixels().enumerate() {
                        for c in 0..3 {
                            pixels[c * plane + i] = p.0[c] as f32 / 255.0;
                        }
                    }
                }
                other => {
                    let rgb = other.into_rgb32f();
                    for (i, p) in rgb.pixels().enumerate() {
                        for c in 0..3 {
                            pixels[c * plane + i] = p.0[c].clamp(0.0, 1.0);
                        }
                    }
                }
            }
            Self::new(3, height, width, pixels)
        } else {
            let gray = decoded.into_luma16();
            let pixels = gray.pixels().map(|p| p.0[0] as f32 / 65535.0).collect();
            Self::new(1, height, width, pixels)
        }
    }

    /// Value of channel `c` at row `y`, column `x`.
    pub fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.pixels[(c * self.height + y) * self.width + x]
    }

    /// The image with `channels` channels: gray is replicated to RGB, RGB becomes luminance
    /// (ITU-R BT.601 weights, as PIL's `convert("L")`).
    pub fn with_channels(self, channels: usize) -> Self {
        let plane = self.height * self.width;
        match (self.channels, channels) {
            (a, b) if a == b => self,
            (1, 3) => {
                let mut pixels = Vec::with_capacity(3 * plane);
                for _ in 0..3 {
                    pixels.extend_from_slice(&self.pixels);
                }
                Self::new(3, self.height, self.width, pixels)
            }
            (3, 1) => {
                let (r, rest) = self.pixels.split_at(plane);
                let (g, b) = rest.split_at(plane);
                let pixels = (0..plane)
                    .map(|i| 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i])
                    .collect();
                Self::new(1, self.height, self.width, pixels)
            }
            (a, b) => panic!("cannot convert {a} channels to {b}"),
        }
    }

    /// The image resampled to `height` x `width` (bilinear, antialiased when shrinking).
    /// An image already at that size is returned untouched: no resampling blur.
    pub fn resized(self, height: usize, width: usize) -> Self {
        if self.height == height && self.width == width {
            return self;
        }
        let (w, h) = (self.width as u32, self.height as u32);
        let plane = self.height * self.width;
        let mut pixels = Vec::with_capacity(self.channels * height * width);
        for c in 0..self.channels {
            let channel = self.pixels[c * plane..(c + 1) * plane].to_vec();
            let buffer = ImageBuffer::<Luma<f32>, _>::from_raw(w, h, channel)
                .expect("plane matches its dimensions");
            let out =
                image::imageops::resize(&buffer, width as u32, height as u32, FilterType::Triangle);
            pixels.extend(out.into_raw().into_iter().map(|v| v.clamp(0.0, 1.0)));
        }
        Self::new(self.channels, height, width, pixels)
    }

    /// The `height` × `width` centre of the image, placed as torchvision's `CenterCrop` places it
    /// (the top-left offset `(side − crop) / 2` rounded half to even, as Python's `round`).
    /// Panics if the crop is larger than the image.
    pub fn centre_cropped(&self, height: usize, width: usize) -> Self {
        assert!(
            height <= self.height && width <= self.width,
            "a {height}×{width} crop of a {}×{} image",
            self.height,
            self.width
        );
        if (height, width) == (self.height, self.width) {
            return self.clone();
        }
        let offset =
            |side: usize, crop: usize| ((side - crop) as f64 / 2.0).round_ties_even() as usize;
        let (top, left) = (offset(self.height, height), offset(self.width, width));
        let plane = self.height * self.width;
        let mut pixels = Vec::with_capacity(self.channels * height * width);
        for c in 0..self.channels {
            for y in top..top + height {
                let row = c * plane + y * self.width;
                pixels.extend_from_slice(&self.pixels[row + left..row + left + width]);
            }
        }
        Self::new(self.channels, height, width, pixels)
    }

    /// 8-bit RGB copy, for previews and reports.
    pub fn to_rgb8(&self) -> ImageBuffer<Rgb<u8>, Vec<u8>> {
        let rgb = self.clone().with_channels(3);
        let plane = rgb.height * rgb.width;
        ImageBuffer::from_fn(rgb.width as u32, rgb.height as u32, |x, y| {
            let i = y as usize * rgb.width + x as usize;
            let q = |c: usize| (rgb.pixels[c * plane + i].clamp(0.0, 1.0) * 255.0).round() as u8;
            Rgb([q(0), q(1), q(2)])
        })
    }

    /// PNG bytes of the image (lossless), for previews and reports.
    pub fn encode_png(&self) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(self.to_rgb8())
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("PNG encoding into memory cannot fail");
        out.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_keeps_pixels_and_channels() {
        let img = Image::new(3, 2, 3, (0..18).map(|v| v as f32 / 17.0).collect());
        let back = Image::decode(&img.encode_png(), "mem.png").unwrap();
        assert_eq!((back.channels, back.height, back.width), (3, 2, 3));
        for (a, b) in img.pixels.iter().zip(&back.pixels) {
            assert!((a - b).abs() <= 0.5 / 255.0 + 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn decode_within_refuses_oversized_images_and_non_images_by_name() {
        let png = Image::zeros(3, 4, 6).encode_png();
        assert_eq!(Image::decode_within(&png, "a.png", 6).unwrap().width, 6);
        let big = Image::decode_within(&png, "a.png", 5)
            .unwrap_err()
            .to_string();
        assert!(big.contains("a.png") && big.contains("6×4"), "{big}");
        let text = Image::decode_within(b"hello", "notes.txt", 64)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("notes.txt") && text.contains("not a readable image"),
            "{text}"
        );
    }

    #[test]
    fn grayscale_file_decodes_to_one_channel() {
        let gray = image::GrayImage::from_fn(4, 2, |x, _| Luma([(x * 60) as u8]));
        let mut bytes = std::io::Cursor::new(Vec::new());
        gray.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        let img = Image::decode(bytes.get_ref(), "g.png").unwrap();
        assert_eq!(img.channels, 1);
        assert!((img.at(0, 1, 3) - 180.0 / 255.0).abs() < 1e-4);
    }

    fn encode(image: DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// 16-bit files keep their 16 bits: 1000 / 65535 is not a multiple of 1 / 255.
    #[test]
    fn sixteen_bit_files_are_scaled_from_sixteen_bits() {
        let gray =
            image::ImageBuffer::<Luma<u16>, _>::from_raw(3, 1, vec![0u16, 1000, 65535]).unwrap();
        for format in [image::ImageFormat::Png, image::ImageFormat::Tiff] {
            let img = Image::decode(
                &encode(DynamicImage::ImageLuma16(gray.clone()), format),
                "g16",
            )
            .unwrap();
            assert_eq!(img.channels, 1);
            assert_eq!(img.pixels, [0.0, 1000.0 / 65535.0, 1.0], "{format:?}");
        }
        let rgb =
            image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(1, 1, vec![1000u16, 30000, 65535])
                .unwrap();
        let img = Image::decode(
            &encode(DynamicImage::ImageRgb16(rgb), image::ImageFormat::Png),
            "c16",
        )
        .unwrap();
        assert_eq!(img.channels, 3);
        for (got, want) in img
            .pixels
            .iter()
            .zip([1000.0f32 / 65535.0, 30000.0 / 65535.0, 1.0])
        {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    /// Palette and RGBA become RGB (alpha dropped); a CMYK JPEG becomes RGB; 1×1 and very wide
    /// images are fine.
    #[test]
    fn odd_but_valid_images_decode() {
        // A 2×1 palette PNG: red, then blue.
        let mut bytes = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut bytes, 2, 1);
            encoder.set_color(png::ColorType::Indexed);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_palette(vec![255, 0, 0, 0, 0, 255]);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&[0, 1]).unwrap();
        }
        let img = Image::decode(&bytes, "palette.png").unwrap();
        assert_eq!(
            (img.channels, img.pixels.clone()),
            (3, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        );
        let rgba = image::RgbaImage::from_raw(1, 1, vec![51, 102, 153, 0]).unwrap();
        let img = Image::decode(
            &encode(DynamicImage::ImageRgba8(rgba), image::ImageFormat::Png),
            "a.png",
        )
        .unwrap();
        assert_eq!(img.pixels, [0.2, 0.4, 0.6]);
        // CMYK JPEG (as print workflows write them): 8×8 of one colour.
        let mut cmyk = Vec::new();
        jpeg_encoder::Encoder::new(&mut cmyk, 100)
            .encode(
                &[0u8, 255, 255, 0].repeat(64),
                8,
                8,
                jpeg_encoder::ColorType::Cmyk,
            )
            .unwrap();
        let img = Image::decode(&cmyk, "cmyk.jpg").unwrap();
        assert_eq!((img.channels, img.height, img.width), (3, 8, 8));
        let tiny = Image::decode(&Image::zeros(3, 1, 1).encode_png(), "1x1.png").unwrap();
        assert_eq!((tiny.height, tiny.width), (1, 1));
        let wide = Image::decode(&Image::zeros(1, 1, 10_000).encode_png(), "wide.png").unwrap();
        assert_eq!((wide.height, wide.width), (1, 10_000));
    }

    /// A PNG that declares 40 000 × 40 000 pixels in a few dozen bytes is refused from its
    /// header, naming the file, before anything is allocated; so is an empty file.
    #[test]
    fn decompression_bombs_and_empty_files_are_refused() {
        let mut bomb = Image::zeros(1, 1, 1).encode_png();
        // IHDR's width and height follow the signature (8), length (4) and type (4).
        bomb[16..20].copy_from_slice(&40_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&40_000u32.to_be_bytes());
        let crc = crc32fast::hash(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = Image::decode(&bomb, "bomb.png").unwrap_err().to_string();
        assert!(
            err.contains("bomb.png") && err.contains("40000×40000") && err.contains("too large"),
            "{err}"
        );
        let err = Image::decode(&[], "empty.png").unwrap_err().to_string();
        assert!(
            err.contains("empty.png") && err.contains("empty file"),
            "{err}"
        );
        // Truncated anywhere: an error naming the file, never a panic.
        let whole = Image::new(3, 4, 5, (0..60).map(|v| v as f32 / 60.0).collect()).encode_png();
        for cut in 0..whole.len() - 12 {
            let err = Image::decode(&whole[..cut], "cut.png")
                .unwrap_err()
                .to_string();
            assert!(err.contains("cut.png"), "{err}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Random bytes, and real PNG / JPEG / BMP / TIFF / DICOM files with random bytes
        /// written over them, give an image or an error, never a panic.
        #[test]
        fn random_bytes_never_panic(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            format in 0usize..4,
            at in 0usize..4096,
        ) {
            let _ = Image::decode(&noise, "random");
            let formats = [
                image::ImageFormat::Png,
                image::ImageFormat::Jpeg,
                image::ImageFormat::Bmp,
                image::ImageFormat::Tiff,
            ];
            let rgb = image::RgbImage::from_fn(9, 7, |x, y| image::Rgb([x as u8 * 20, y as u8 * 30, 7]));
            let mut file = encode(DynamicImage::ImageRgb8(rgb), formats[format]);
            let at = at % file.len();
            let end = (at + noise.len()).min(file.len());
            file[at..end].copy_from_slice(&noise[..end - at]);
            let _ = Image::decode(&file, "noisy");
            // DICOM: the preamble and marker, then noise.
            let mut dicom = vec![0u8; 128];
            dicom.extend_from_slice(b"DICM");
            dicom.extend_from_slice(&noise);
            let _ = Image::decode(&dicom, "noisy.dcm");
        }
    }

    #[test]
    fn centre_crop_places_the_window_as_torchvision_does() {
        // 1 × 4 × 5, values = their index: a 2 × 2 crop starts at row round(1.0) = 1 and column
        // round(1.5) = 2 (half to even, as Python's round), a 3 × 2 one at row round(0.5) = 0.
        let img = Image::new(1, 4, 5, (0..20).map(|v| v as f32).collect());
        assert_eq!(img.centre_cropped(2, 2).pixels, vec![7.0, 8.0, 12.0, 13.0]);
        assert_eq!(
            img.centre_cropped(3, 2).pixels,
            vec![2.0, 3.0, 7.0, 8.0, 12.0, 13.0]
        );
        assert_eq!(img.centre_cropped(4, 5), img);
        // Planes are cropped alike.
        let rgb = Image::new(3, 2, 2, (0..12).map(|v| v as f32).collect());
        assert_eq!(rgb.centre_cropped(1, 1).pixels, vec![0.0, 4.0, 8.0]);
    }

    #[test]
    fn garbage_bytes_give_an_error_naming_the_file() {
        let err = Image::decode(b"definitely not a png", "scans/case7.png").unwrap_err();
        assert!(err.to_string().contains("scans/case7.png"), "{err}");
    }

    #[test]
    fn same_size_is_not_resampled_and_other_sizes_are() {
        let img = Image::new(1, 4, 4, (0..16).map(|v| v as f32 / 15.0).collect());
        assert_eq!(img.clone().resized(4, 4), img);
        let small = img.resized(2, 2);
        assert_eq!((small.height, small.width, small.pixels.len()), (2, 2, 4));
        // Averaging keeps the mean brightness.
        let mean: f32 = small.pixels.iter().sum::<f32>() / 4.0;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
    }

    #[test]
    fn channel_conversions() {
        let gray = Image::new(1, 1, 2, vec![0.25, 1.0]);
        let rgb = gray.clone().with_channels(3);
        assert_eq!(rgb.pixels, vec![0.25, 1.0, 0.25, 1.0, 0.25, 1.0]);
        let back = rgb.with_channels(1);
        for (a, b) in back.pixels.iter().zip(&gray.pixels) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
