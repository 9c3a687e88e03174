//! DICOM files, as hospitals hand them over. dicom-rs parses the file and undoes the transfer
//! syntax (explicit / implicit VR, either endian, deflate, RLE, JPEG baseline / extended /
//! lossless) and applies the modality LUT (rescale slope and intercept); the rest is ours: the
//! VOI window (the file's, a chosen one, or the image's min–max), MONOCHROME1's inversion, YBR and
//! palette colour, and a size check before anything is decoded.

use std::str::FromStr;

use crate::{Error, Result};

/// How a monochrome image's values become intensities in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum DicomWindow {
    /// The file's first window (centre / width, with its VOI LUT function) where it has one,
    /// else the image's own min–max.
    #[default]
    Auto,
    /// The image's min–max, whatever the file says.
    MinMax,
    /// This window, whatever the file says.
    Fixed {
        /// The value mapped to mid-gray, in the image's stored (rescaled) units.
        center: f64,
        /// The range of values spread over black to white (> 0).
        width: f64,
    },
}

impl FromStr for DicomWindow {
    type Err = Error;

    /// `auto`, `none` (min–max) or `C,W` (centre, width > 0).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::MinMax),
            other => {
                let bad = || {
                    Error::invalid(format!(
                        "--dicom-window {other}: expected auto, none or CENTER,WIDTH (e.g. 40,400)"
                    ))
                };
                let (c, w) = other.split_once(',').ok_or_else(bad)?;
                let (center, width): (f64, f64) = (
                    c.trim().parse().map_err(|_| bad())?,
                    w.trim().parse().map_err(|_| bad())?,
                );
                if !(center.is_finite() && width.is_finite() && width >= 1.0) {
                    return Err(Error::invalid(format!(
                        "--dicom-window {other}: the centre must be a number and the width at least 1"
                    )));
                }
                Ok(Self::Fixed { center, width })
            }
        }
    }
}

/// Which frames of a multi-frame file are images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DicomFrames {
    /// The first frame only.
    #[default]
    First,
    /// Every frame, each an image of its own.
    All,
}

impl FromStr for DicomFrames {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "first" => Ok(Self::First),
            "all" => Ok(Self::All),
            other => Err(Error::invalid(format!(
                "--dicom-frames {other}: expected first or all"
            ))),
        }
    }
}

/// Whether `bytes` are a DICOM Part 10 file: `DICM` after the 128-byte preamble (or, for files
/// written without the preamble, at the start).
pub fn is_dicom(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM") || bytes.starts_with(b"DICM")
}

/// The VOI LUT function of a window (PS3.3 C.11.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WindowFunction {
    /// `LINEAR` (PS3.3 C.11.2.1.2.1), the default.
    #[default]
    Linear,
    /// `LINEAR_EXACT` (C.11.2.1.3.2): the window without `LINEAR`'s half-unit offsets.
    LinearExact,
    /// `SIGMOID` (C.11.2.1.3.1).
    Sigmoid,
}

/// `value` through the window (`center`, `width`) as an intensity in [0, 1], by the standard's
/// formulas (PS3.3 C.11.2.1.2.1 and C.11.2.1.3.1).
pub fn window(value: f64, center: f64, width: f64, function: WindowFunction) -> f32 {
    let v = match function {
        WindowFunction::Linear => {
            // LINEAR's centre is offset by ½ and its width by 1 (integer-valued data).
            let (c, w) = (center - 0.5, (width - 1.0).max(1e-9));
            if value <= c - w / 2.0 {
                0.0
            } else if value > c + w / 2.0 {
                1.0
            } else {
                (value - c) / w + 0.5
            }
        }
        WindowFunction::LinearExact => {
            let w = width.max(1e-9);
            ((value - center) / w + 0.5).clamp(0.0, 1.0)
        }
        WindowFunction::Sigmoid => 1.0 / (1.0 + (-4.0 * (value - center) / width.max(1e-9)).exp()),
    };
    v.clamp(0.0, 1.0) as f32
}

/// YBR_FULL to RGB (PS3.3 C.7.6.3.1.2), values in [0, max].
pub fn ybr_full_to_rgb(y: f64, cb: f64, cr: f64, max: f64) -> [f64; 3] {
    let half = (max + 1.0) / 2.0;
    let (cb, cr) = (cb - half, cr - half);
    [
        (y + 1.402 * cr).clamp(0.0, max),
        (y - 0.344_136 * cb - 0.714_136 * cr).clamp(0.0, max),
        (y + 1.772 * cb).clamp(0.0, max),
    ]
}

/// Without the `dicom` feature (the page): a clear refusal.
#[cfg(not(feature = "dicom"))]
pub fn decode_dicom(_: &[u8], name: &str, _: DicomWindow, _: u32) -> Result<super::Image> {
    Err(Error::format(
        name,
        "a DICOM file: this build reads PNG, JPEG, BMP and TIFF; the robustdx command line reads DICOM",
    ))
}

/// Without the `dicom` feature (the page): a clear refusal.
#[cfg(not(feature = "dicom"))]
pub fn dicom_frame_count(_: &[u8], name: &str) -> Result<u32> {
    decode_dicom(&[], name, DicomWindow::Auto, 0).map(|_| 1)
}

#[cfg(feature = "dicom")]
pub use with_dicom_rs::{decode_dicom, dicom_frame_count};

#[cfg(feature = "dicom")]
mod with_dicom_rs {
    use dicom_dictionary_std::tags;
    use dicom_object::file::ReadPreamble;
    use dicom_object::{DefaultDicomObject, OpenFileOptions};
    use dicom_pixeldata::{
        ConvertOptions, PixelDecoder, PlanarConfiguration, VoiLutFunction, VoiLutOption,
        WindowLevel,
    };

    use super::{DicomWindow, WindowFunction, window, ybr_full_to_rgb};
    use crate::data::Image;
    use crate::data::image::check_size;
    use crate::{Error, Result};

    fn open(bytes: &[u8], name: &str) -> Result<DefaultDicomObject> {
        let (body, preamble) = if bytes.get(128..132) == Some(b"DICM") {
            (bytes, ReadPreamble::Always)
        } else if bytes.starts_with(b"DICM") {
            (bytes, ReadPreamble::Never)
        } else {
            return Err(Error::format(name, "not a DICOM file (no DICM marker)"));
        };
        OpenFileOptions::new()
            .read_preamble(preamble)
            .from_reader(body)
            .map_err(|e| Error::format(name, format!("not a readable DICOM file: {e}")))
    }

    fn int(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<u64> {
        obj.element_opt(tag).ok().flatten()?.to_int::<u64>().ok()
    }

    fn ints(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<Vec<i64>> {
        obj.element_opt(tag)
            .ok()
            .flatten()?
            .to_multi_int::<i64>()
            .ok()
    }

    fn text(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<String> {
        let element = obj.element_opt(tag).ok().flatten()?;
        // Padded to an even length with a space (or, by some writers, a NUL).
        Some(
            element
                .to_str()
                .ok()?
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string(),
        )
    }

    fn first_float(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<f64> {
        obj.element_opt(tag)
            .ok()
            .flatten()?
            .to_multi_float64()
            .ok()?
            .first()
            .copied()
    }

    /// Pixel data dicom-pixeldata does not turn into values, read here: 1 bit allocated (packed
    /// without padding, frames included), 32-bit integers, and the float pixel data elements.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum OwnStorage {
        Bits1,
        Int32 { signed: bool, stored: u32 },
        Float32,
        Float64,
    }

    impl OwnStorage {
        fn describe(self) -> &'static str {
            match self {
                OwnStorage::Bits1 => "1-bit",
                OwnStorage::Int32 { .. } => "32-bit integer",
                OwnStorage::Float32 => "32-bit float",
                OwnStorage::Float64 => "64-bit float",
            }
        }
    }

    /// What the header says about the pixels, checked before anything is decoded.
    struct Header {
        rows: u64,
        columns: u64,
        frames: u64,
        /// `None`: dicom-pixeldata decodes it (8 and 16 bits, every codec built in).
        own: Option<OwnStorage>,
    }

    /// The header's sizes, checked before decoding: rows and columns within the size limit, 1 or
    /// 3 samples, BitsStored within BitsAllocated, and as many frames as the pixel data holds.
    fn header(obj: &DefaultDicomObject, name: &str) -> Result<Header> {
        let element = |tag| obj.element_opt(tag).ok().flatten();
        let (pixels, float_bits) = match (
            element(tags::PIXEL_DATA),
            element(tags::FLOAT_PIXEL_DATA),
            element(tags::DOUBLE_FLOAT_PIXEL_DATA),
        ) {
            (Some(e), _, _) => (e, None),
            (None, Some(e), _) => (e, Some(32)),
            (None, None, Some(e)) => (e, Some(64)),
            (None, None, None) => {
                return Err(Error::format(name, "a DICOM file without pixel data"));
            }
        };
        let rows = int(obj, tags::ROWS).ok_or_else(|| Error::format(name, "no Rows"))?;
        let columns = int(obj, tags::COLUMNS).ok_or_else(|| Error::format(name, "no Columns"))?;
        let frames = int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1);
        let samples = int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        if samples != 1 && samples != 3 {
            return Err(Error::format(
                name,
                format!("{samples} samples per pixel (1 or 3 are read)"),
            ));
        }
        check_size(name, columns, rows)?;
        let allocated = match float_bits {
            Some(bits) => bits,
            None => int(obj, tags::BITS_ALLOCATED)
                .ok_or_else(|| Error::format(name, "no BitsAllocated"))?,
        };
        let stored = int(obj, tags::BITS_STORED).unwrap_or(allocated);
        if float_bits.is_none() && !(1..=allocated).contains(&stored) {
            return Err(Error::format(
                name,
                format!("BitsStored {stored} (must be 1 to BitsAllocated, {allocated})"),
            ));
        }
        let own = match (float_bits, allocated) {
            (Some(32), _) => Some(OwnStorage::Float32),
            (Some(_), _) => Some(OwnStorage::Float64),
            (None, 1) => Some(OwnStorage::Bits1),
            (None, 32) => Some(OwnStorage::Int32 {
                signed: int(obj, tags::PIXEL_REPRESENTATION) == Some(1),
                stored: stored as u32,
            }),
            _ => None,
        };
        if own.is_some() && samples != 1 {
            return Err(Error::format(
                name,
                format!(
                    "colour with {allocated} bits allocated (1-bit, 32-bit and float pixel data are read as gray)"
                ),
            ));
        }
        // NumberOfFrames is a number in the header; the pixel data must hold that many frames
        // before anything (a list of frames, a frame) is made from it.
        if let Some(fragments) = pixels.value().fragments() {
            // Every frame takes at least one fragment.
            let fragments = fragments.len() as u64;
            if frames > fragments {
                return Err(Error::format(
                    name,
                    format!(
                        "declares {frames} frames but its pixel data holds {fragments} fragment(s)"
                    ),
                ));
            }
        } else {
            let have = pixels
                .value()
                .primitive()
                .map_or(0, |value| value.calculate_byte_len() as u128 * 8);
            // Uncompressed YBR_FULL_422 keeps two samples a pixel (chroma shared by two pixels).
            let stored_samples =
                if text(obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref() == Some("YBR_FULL_422") {
                    2
                } else {
                    samples
                };
            let frame_bits = u128::from(rows)
                * u128::from(columns)
                * u128::from(stored_samples)
                * u128::from(allocated);
            if u128::from(frames) * frame_bits > have {
                return Err(Error::format(
                    name,
                    format!(
                        "declares {frames} frame(s) of {columns}×{rows} but its pixel data holds {} byte(s), {} frame(s)",
                        have / 8,
                        have / frame_bits
                    ),
                ));
            }
        }
        Ok(Header {
            rows,
            columns,
            frames,
            own,
        })
    }

    /// How many frames the file holds (read from its header, checked against its pixel data;
    /// nothing is decoded).
    pub fn dicom_frame_count(bytes: &[u8], name: &str) -> Result<u32> {
        let frames = header(&open(bytes, name)?, name)?.frames;
        u32::try_from(frames).map_err(|_| Error::format(name, format!("{frames} frames")))
    }

    /// Frame `frame` (0-based) of a DICOM file as an image in [0, 1]: monochrome through the
    /// modality LUT and `window` (MONOCHROME1 inverted), colour (RGB, YBR_FULL, YBR_FULL_422,
    /// PALETTE COLOR) scaled from its stored bits.
    pub fn decode_dicom(
        bytes: &[u8],
        name: &str,
        window_choice: DicomWindow,
        frame: u32,
    ) -> Result<Image> {
        let obj = open(bytes, name)?;
        let Header {
            rows,
            columns,
            frames,
            own,
        } = header(&obj, name)?;
        if u64::from(frame) >= frames {
            return Err(Error::format(
                name,
                format!("has {frames} frame(s), frame {frame} was asked for"),
            ));
        }
        if let Some(storage) = own {
            return decode_own(
                &obj,
                name,
                storage,
                window_choice,
                frame,
                rows as usize,
                columns as usize,
            );
        }
        let syntax = obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        let cannot = |e: dicom_pixeldata::Error| {
            Error::format(
                name,
                format!("cannot decode its pixel data (transfer syntax {syntax}): {e}"),
            )
        };
        let decoded = obj.decode_pixel_data_frame(frame).map_err(cannot)?;
        let (h, w) = (rows as usize, columns as usize);
        let plane = h * w;
        let photometric = decoded.photometric_interpretation().as_str().to_string();
        // decode_pixel_data_frame keeps only the asked frame: it is frame 0 of the result.
        if decoded.samples_per_pixel() == 3 {
            let max = ((1u64 << decoded.bits_stored().min(16)) - 1) as f64;
            let raw: Vec<f64> = match decoded.bits_allocated() {
                8 => decoded
                    .frame_data(0)
                    .map_err(cannot)?
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
                16 => decoded
                    .frame_data_ow(0)
                    .map_err(cannot)?
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
                bits => {
                    return Err(Error::format(
                        name,
                        format!("colour with {bits} bits allocated"),
                    ));
                }
            };
            if raw.len() < 3 * plane {
                return Err(Error::format(name, "truncated pixel data"));
            }
            // Planar configuration 1 stores RRR…GGG…BBB; the decoders' output is interleaved.
            let planar = decoded.planar_configuration() == PlanarConfiguration::PixelFirst;
            let sample = |i: usize, c: usize| {
                if planar {
                    raw[c * plane + i]
                } else {
                    raw[3 * i + c]
                }
            };
            let mut pixels = vec![0.0f32; 3 * plane];
            for i in 0..plane {
                let rgb = match photometric.as_str() {
                    "RGB" => [sample(i, 0), sample(i, 1), sample(i, 2)],
                    "YBR_FULL" | "YBR_FULL_422" => {
                        ybr_full_to_rgb(sample(i, 0), sample(i, 1), sample(i, 2), max)
                    }
                    other => {
                        return Err(Error::format(
                            name,
                            format!("photometric interpretation {other} is not read"),
                        ));
                    }
                };
                for c in 0..3 {
                    pixels[c * plane + i] = (rgb[c] / max) as f32;
                }
            }
            return Ok(Image::new(3, h, w, pixels));
        }
        if photometric == "PALETTE COLOR" {
            return palette(&obj, name, &decoded, h, w);
        }
        if !photometric.starts_with("MONOCHROME") {
            return Err(Error::format(
                name,
                format!("photometric interpretation {photometric} is not read"),
            ));
        }
        // Modality LUT only: the window is ours.
        let values: Vec<f64> = decoded
            .to_vec_frame_with_options::<f64>(
                0,
                &ConvertOptions::new().with_voi_lut(VoiLutOption::Identity),
            )
            .map_err(cannot)?;
        if values.len() < plane {
            return Err(Error::format(name, "truncated pixel data"));
        }
        let function = match decoded
            .voi_lut_function()
            .ok()
            .flatten()
            .and_then(|f| f.first())
        {
            Some(VoiLutFunction::LinearExact) => WindowFunction::LinearExact,
            Some(VoiLutFunction::Sigmoid) => WindowFunction::Sigmoid,
            _ => WindowFunction::Linear,
        };
        let file_window = decoded
            .window()
            .ok()
            .flatten()
            .and_then(|w| w.first().copied())
            .map(|WindowLevel { center, width }| (center, width, function));
        Ok(monochrome(
            &values[..plane],
            file_window,
            window_choice,
            photometric == "MONOCHROME1",
            h,
            w,
        ))
    }

    /// Monochrome values (after the modality LUT) as intensities: through the file's window
    /// (`Auto`), a chosen one, or min–max; MONOCHROME1 inverted (its lowest value is white).
    fn monochrome(
        values: &[f64],
        file_window: Option<(f64, f64, WindowFunction)>,
        window_choice: DicomWindow,
        monochrome1: bool,
        h: usize,
        w: usize,
    ) -> Image {
        let chosen = match window_choice {
            DicomWindow::Auto => file_window,
            DicomWindow::MinMax => None,
            DicomWindow::Fixed { center, width } => Some((center, width, WindowFunction::Linear)),
        };
        let mut pixels: Vec<f32> = match chosen {
            Some((center, width, function)) => values
                .iter()
                .map(|&v| window(v, center, width, function))
                .collect(),
            None => {
                let (lo, hi) = values
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                        (lo.min(v), hi.max(v))
                    });
                let span = hi - lo;
                values
                    .iter()
                    .map(|&v| {
                        if span > 0.0 {
                            ((v - lo) / span) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect()
            }
        };
        if monochrome1 {
            for p in &mut pixels {
                *p = 1.0 - *p;
            }
        }
        Image::new(1, h, w, pixels)
    }

    /// Frame `frame` of pixel data stored as [`OwnStorage`] (uncompressed by definition: no
    /// codec carries 1-bit or float samples), through the modality LUT and the window as
    /// dicom-pixeldata's values are.
    fn decode_own(
        obj: &DefaultDicomObject,
        name: &str,
        storage: OwnStorage,
        window_choice: DicomWindow,
        frame: u32,
        h: usize,
        w: usize,
    ) -> Result<Image> {
        let plane = h * w;
        let start = frame as usize * plane;
        let syntax = obj.meta().transfer_syntax().trim_end_matches('\0');
        let tag = match storage {
            OwnStorage::Float32 => tags::FLOAT_PIXEL_DATA,
            OwnStorage::Float64 => tags::DOUBLE_FLOAT_PIXEL_DATA,
            OwnStorage::Bits1 | OwnStorage::Int32 { .. } => tags::PIXEL_DATA,
        };
        let element = obj
            .element(tag)
            .map_err(|e| Error::format(name, format!("cannot read its pixel data: {e}")))?;
        let Some(value) = element.value().primitive() else {
            return Err(Error::format(
                name,
                format!(
                    "cannot decode its pixel data (transfer syntax {syntax}): {} samples are only read uncompressed",
                    storage.describe()
                ),
            ));
        };
        // Values are held in this machine's byte order; a big-endian file's pixel data (its VR
        // OW) was read as 16-bit words, which would put 1-bit and 32-bit samples out of order.
        if matches!(storage, OwnStorage::Bits1 | OwnStorage::Int32 { .. })
            && syntax == "1.2.840.10008.1.2.2"
        {
            return Err(Error::format(
                name,
                format!(
                    "{} pixel data in a big-endian file is not read",
                    storage.describe()
                ),
            ));
        }
        let bytes = value.to_bytes();
        // header() checked that every frame is there.
        let values: Vec<f64> = match storage {
            OwnStorage::Bits1 => (start..start + plane)
                .map(|bit| f64::from((bytes[bit / 8] >> (bit % 8)) & 1))
                .collect(),
            OwnStorage::Int32 { signed, stored } => bytes[4 * start..4 * (start + plane)]
                .chunks_exact(4)
                .map(|b| {
                    // The low `stored` bits hold the sample (sign-extended from its top one).
                    let raw = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                    let unused = 32 - stored;
                    if signed {
                        f64::from(((raw << unused) as i32) >> unused)
                    } else {
                        f64::from((raw << unused) >> unused)
                    }
                })
                .collect(),
            OwnStorage::Float32 => bytes[4 * start..4 * (start + plane)]
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            OwnStorage::Float64 => bytes[8 * start..8 * (start + plane)]
                .chunks_exact(8)
                .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        };
        let bad = values.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(Error::format(
                name,
                format!("its pixel data holds {bad} NaN or infinite value(s)"),
            ));
        }
        // The modality LUT of integer samples; float pixel data carries real values already.
        let values = match storage {
            OwnStorage::Bits1 | OwnStorage::Int32 { .. } => {
                let slope = first_float(obj, tags::RESCALE_SLOPE).unwrap_or(1.0);
                let intercept = first_float(obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0);
                values.iter().map(|v| v * slope + intercept).collect()
            }
            OwnStorage::Float32 | OwnStorage::Float64 => values,
        };
        let function = match text(obj, tags::VOILUT_FUNCTION).as_deref() {
            Some("LINEAR_EXACT") => WindowFunction::LinearExact,
            Some("SIGMOID") => WindowFunction::Sigmoid,
            _ => WindowFunction::Linear,
        };
        let file_window = first_float(obj, tags::WINDOW_CENTER)
            .zip(first_float(obj, tags::WINDOW_WIDTH))
            .map(|(center, width)| (center, width, function));
        let photometric = text(obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
        if !photometric.starts_with("MONOCHROME") {
            return Err(Error::format(
                name,
                format!(
                    "photometric interpretation {photometric} with {} samples is not read",
                    storage.describe()
                ),
            ));
        }
        Ok(monochrome(
            &values,
            file_window,
            window_choice,
            photometric == "MONOCHROME1",
            h,
            w,
        ))
    }

    /// PALETTE COLOR: each stored index through the red, green and blue lookup tables (PS3.3
    /// C.7.6.3.1.5): descriptor = (entries, first mapped value, bits per entry).
    fn palette(
        obj: &DefaultDicomObject,
        name: &str,
        decoded: &dicom_pixeldata::DecodedPixelData<'_>,
        h: usize,
        w: usize,
    ) -> Result<Image> {
        let plane = h * w;
        let indices: Vec<i64> = decoded
            .to_vec_frame_with_options::<i64>(
                0,
                &ConvertOptions::new().with_modality_lut(dicom_pixeldata::ModalityLutOption::None),
            )
            .map_err(|e| Error::format(name, format!("cannot decode its pixel data: {e}")))?;
        if indices.len() < plane {
            return Err(Error::format(name, "truncated pixel data"));
        }
        let tables = [
            (
                tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            ),
            (
                tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            ),
            (
                tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            ),
        ];
        let mut pixels = vec![0.0f32; 3 * plane];
        for (c, (descriptor, data)) in tables.into_iter().enumerate() {
            let missing = || Error::format(name, "PALETTE COLOR without its lookup tables");
            let d = ints(obj, descriptor).ok_or_else(missing)?;
            let [entries, first, bits] = d[..] else {
                return Err(Error::format(name, "a palette descriptor needs 3 values"));
            };
            // 0 entries means 65536 (the standard's way of writing 2¹⁶).
            let entries = if entries == 0 {
                65536
            } else {
                entries.unsigned_abs() as usize
            };
            // Entries are stored one per 16-bit word; 8-bit ones in its low byte.
            let (mask, top) = match bits {
                8 => (0xff, 255.0),
                16 => (0xffff, 65535.0),
                other => {
                    return Err(Error::format(
                        name,
                        format!("palette entries of {other} bits (8 or 16 are read)"),
                    ));
                }
            };
            let table: Vec<f64> = ints(obj, data)
                .ok_or_else(missing)?
                .iter()
                .map(|&v| (v & mask) as f64 / top)
                .collect();
            if table.is_empty() {
                return Err(Error::format(name, "an empty palette lookup table"));
            }
            let last = table.len().min(entries) - 1;
            for (i, &index) in indices[..plane].iter().enumerate() {
                // Below the first mapped value: the first entry; above the last: the last.
                let k = (index - first).clamp(0, last as i64) as usize;
                pixels[c * plane + i] = table[k] as f32;
            }
        }
        Ok(Image::new(3, h, w, pixels))
    }
}

#[cfg(all(test, feature = "dicom"))]
mod tests {
    use super::*;
    use crate::data::{DecodeOptions, Image, MemorySource, OpenOptions, open_image_folder};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/dicom");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}")).expect("a committed fixture")
    }

    fn decode(name: &str, window: &str, frame: u32) -> Result<Image> {
        let options = DecodeOptions {
            dicom_window: window.parse()?,
            dicom_frame: frame,
        };
        Image::decode_with(&fixture(name), name, &options)
    }

    fn assert_close(got: &[f32], want: &[serde_json::Value], tolerance: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: pixel count");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let w = w.as_f64().unwrap();
            assert!(
                (*g as f64 - w).abs() <= tolerance,
                "{what}: pixel {i} is {g}, pydicom says {w}"
            );
        }
    }

    /// Every encoding the fixture script writes decodes to what pydicom's own transforms give
    /// (modality LUT, window, MONOCHROME1, YBR, palette), to 1e-5 (YBR to half a level: pydicom
    /// rounds); the JPEG to 3 % (two decoders of one lossy stream). JPEG 2000, lossy included,
    /// to 1e-5: openjp2 is OpenJPEG ported, the decoder pydicom's plugin runs.
    #[test]
    fn dicom_fixtures_decode_as_pydicom_says() {
        let expected: serde_json::Value =
            serde_json::from_slice(&fixture("expected.json")).unwrap();
        let cases = expected.as_object().unwrap();
        assert_eq!(cases.len(), 18);
        for (name, case) in cases {
            let window = case["window"].as_str().unwrap();
            let frame = case["frame"].as_u64().unwrap() as u32;
            let image = decode(name, window, frame).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (image.channels, image.height, image.width),
                (
                    case["channels"].as_u64().unwrap() as usize,
                    case["height"].as_u64().unwrap() as usize,
                    case["width"].as_u64().unwrap() as usize
                ),
                "{name}"
            );
            let tolerance = match name.split('_').next() {
                Some("jpeg") => 0.03,
                // pydicom rounds the converted colours to integers; robustdx keeps them exact.
                Some("ybr") => 0.5 / 255.0 + 1e-6,
                _ => 1e-5,
            };
            assert_close(
                &image.pixels,
                case["pixels"].as_array().unwrap(),
                tolerance,
                name,
            );
            let frames = dicom_frame_count(&fixture(name), name).unwrap();
            assert_eq!(frames as u64, case["frames"].as_u64().unwrap(), "{name}");
            if let Some(also) = case.get("also").and_then(|a| a.as_object()) {
                for (window, pixels) in also {
                    let image = decode(name, window, 0).unwrap();
                    assert_close(
                        &image.pixels,
                        pixels.as_array().unwrap(),
                        1e-5,
                        &format!("{name} --dicom-window {window}"),
                    );
                }
            }
        }
    }

    #[test]
    fn broken_dicom_files_are_refused_by_name() {
        let err = decode("no_pixel_data.dcm", "auto", 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no_pixel_data.dcm") && err.contains("without pixel data"),
            "{err}"
        );
        let err = decode("bomb.dcm", "auto", 0).unwrap_err().to_string();
        assert!(
            err.contains("bomb.dcm") && err.contains("40000×40000") && err.contains("too large"),
            "{err}"
        );
        // 2·10⁹ frames declared over one frame's bytes: refused by the frame count itself, which
        // `--dicom-frames all` asks before it makes an entry per frame.
        let err = dicom_frame_count(&fixture("frames_beyond_data.dcm"), "frames_beyond_data.dcm")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("frames_beyond_data.dcm")
                && err.contains("declares 2000000000 frame(s)")
                && err.contains("48 byte(s), 1 frame(s)"),
            "{err}"
        );
        let err = decode("rgb8_bits_stored0.dcm", "auto", 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rgb8_bits_stored0.dcm") && err.contains("BitsStored 0"),
            "{err}"
        );
        // Float pixel data holding a NaN (its last value): refused, not a NaN pixel.
        let mut nan = fixture("float32.dcm");
        let end = nan.len();
        nan[end - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
        let err = Image::decode(&nan, "nan.dcm").unwrap_err().to_string();
        assert!(
            err.contains("nan.dcm") && err.contains("1 NaN or infinite value(s)"),
            "{err}"
        );
        // A codec not built in (JPEG-LS): the JPEG 2000 fixture relabelled, which names the file
        // and the transfer syntax.
        let mut jpeg_ls = fixture("jpeg2000_lossless12.dcm");
        let uid = b"1.2.840.10008.1.2.4.90";
        let at = jpeg_ls
            .windows(uid.len())
            .position(|w| w == uid)
            .expect("its transfer syntax");
        jpeg_ls[at..at + uid.len()].copy_from_slice(b"1.2.840.10008.1.2.4.80");
        let err = Image::decode(&jpeg_ls, "ls.dcm").unwrap_err().to_string();
        assert!(
            err.contains("ls.dcm") && err.contains("transfer syntax 1.2.840.10008.1.2.4.80"),
            "{err}"
        );
        // An encapsulated file claiming more frames than it has fragments.
        let mut many = fixture("jpeg2000_lossy8.dcm");
        let at = many
            .windows(4)
            .position(|w| w == [0x28, 0x00, 0x10, 0x00])
            .expect("the Rows element");
        let frames_element = b"\x28\x00\x08\x00IS\x04\x00999 ";
        many.splice(at..at, frames_element.iter().copied());
        let err = Image::decode(&many, "many.dcm").unwrap_err().to_string();
        assert!(
            err.contains("many.dcm")
                && err.contains("declares 999 frames")
                && err.contains("1 fragment(s)"),
            "{err}"
        );
        let err = decode("multiframe8.dcm", "auto", 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("3 frame(s)"), "{err}");
        // Truncated anywhere: an error naming the file (or, cut inside trailing elements, an
        // image), never a panic.
        let whole = fixture("mono12_window_explicit_le.dcm");
        for cut in (0..whole.len()).step_by(7) {
            if let Err(e) = Image::decode(&whole[..cut], "cut.dcm") {
                assert!(e.to_string().contains("cut.dcm"), "{e}");
            }
        }
        let err = Image::decode(&whole[..whole.len() - 20], "cut.dcm")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cut.dcm"), "{err}");
    }

    /// PS3.3 C.11.2.1.2.1 by hand: centre 40, width 400 → linear between 39.5 − 199.5 and
    /// 39.5 + 199.5.
    #[test]
    fn window_by_hand() {
        assert_eq!(window(-160.0, 40.0, 400.0, WindowFunction::Linear), 0.0);
        assert_eq!(window(239.1, 40.0, 400.0, WindowFunction::Linear), 1.0);
        let mid = window(40.0, 40.0, 400.0, WindowFunction::Linear) as f64;
        assert!((mid - (0.5 / 399.0 + 0.5)).abs() < 1e-6, "{mid}");
        assert_eq!(window(40.0, 40.0, 400.0, WindowFunction::LinearExact), 0.5);
        assert_eq!(window(40.0, 40.0, 400.0, WindowFunction::Sigmoid), 0.5);
        assert_eq!(
            ybr_full_to_rgb(128.0, 128.0, 128.0, 255.0),
            [128.0, 128.0, 128.0]
        );
        assert_eq!(
            "40,400".parse::<DicomWindow>().unwrap(),
            DicomWindow::Fixed {
                center: 40.0,
                width: 400.0
            }
        );
        assert_eq!("none".parse::<DicomWindow>().unwrap(), DicomWindow::MinMax);
        for bad in ["40", "40,0", "a,b", "40,400,1"] {
            let e = bad.parse::<DicomWindow>().unwrap_err().to_string();
            assert!(e.contains("--dicom-window"), "{e}");
        }
        assert!("every".parse::<DicomFrames>().is_err());
    }

    /// A folder of DICOM files named without an extension (as PACS exports come) is read, and
    /// `--dicom-frames all` makes each frame an image of its own.
    #[test]
    fn folders_read_dicom_files_and_their_frames() {
        let source = MemorySource::new()
            .with("d/a/IM0001", fixture("multiframe8.dcm"))
            .with("d/a/IM0002", fixture("mono16_rle.dcm"))
            .with("d/b/x.dcm", fixture("mono16_explicit_be.dcm"))
            .with("d/b/y.DCM", fixture("mono8_monochrome1_deflated.dcm"))
            .with("d/b/notes", b"not an image".to_vec())
            .into_shared();
        let options = OpenOptions {
            holdout: 0.5,
            ..OpenOptions::default()
        };
        let splits = open_image_folder(source.clone(), "d", &options).unwrap();
        assert_eq!(splits.train.len() + splits.test.len(), 4);
        let all = OpenOptions {
            holdout: 0.5,
            dicom_frames: DicomFrames::All,
            ..OpenOptions::default()
        };
        let splits = open_image_folder(source, "d", &all).unwrap();
        let mut ids: Vec<String> = [&splits.train, &splits.test]
            .iter()
            .flat_map(|d| (0..d.len()).map(|i| d.id(i)))
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "d/a/IM0001#0",
                "d/a/IM0001#1",
                "d/a/IM0001#2",
                "d/a/IM0002",
                "d/b/x.dcm",
                "d/b/y.DCM"
            ]
        );
        // The frames of one file never straddle the train / test split.
        let in_train = |id: &str| (0..splits.train.len()).any(|i| splits.train.id(i) == id);
        assert_eq!(in_train("d/a/IM0001#0"), in_train("d/a/IM0001#1"));
        assert_eq!(in_train("d/a/IM0001#0"), in_train("d/a/IM0001#2"));
        for d in [&splits.train, &splits.test] {
            for i in 0..d.len() {
                let image = d.get(i).unwrap().image;
                assert_eq!((image.height, image.width), (6, 8), "{}", d.id(i));
            }
        }
    }
}
