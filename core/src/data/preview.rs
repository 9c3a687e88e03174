//! Contact sheets: a grid of sample images, each captioned with its label, for a quick look at
//! a data set (the `preview` command, reports, teaching slides).

use font8x8::UnicodeFonts;

use super::{Image, Sample};
use crate::Label;

const GAP: usize = 4;
const GLYPH: usize = 8;
const LINE: usize = GLYPH + 2;
const BACKGROUND: f32 = 0.12;
const INK: f32 = 0.95;

/// The caption of a label: the class name, or the findings joined (or "No Finding").
pub fn caption(label: &Label, class_names: &[String]) -> String {
    let name = |i: usize| {
        class_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("class {i}"))
    };
    match label {
        Label::Class(c) => name(*c),
        Label::Findings(flags) => {
            let on: Vec<String> = flags
                .iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .map(|(i, _)| name(i))
                .collect();
            if on.is_empty() {
                "No Finding".to_string()
            } else {
                on.join(", ")
            }
        }
    }
}

/// Tiles `samples` (converted to RGB) in rows of `columns`, with each label's caption under its
/// tile, wrapped to the tile's width.
pub fn contact_sheet(samples: &[Sample], class_names: &[String], columns: usize) -> Image {
    let columns = columns.clamp(1, samples.len().max(1));
    let rows = samples.len().div_ceil(columns);
    let tile_w = samples.iter().map(|s| s.image.width).max().unwrap_or(0);
    let tile_h = samples.iter().map(|s| s.image.height).max().unwrap_or(0);
    let chars_per_line = (tile_w / GLYPH).max(1);
    let captions: Vec<Vec<String>> = samples
        .iter()
        .map(|s| wrap(&caption(&s.label, class_names), chars_per_line))
        .collect();
    let caption_lines = captions.iter().map(Vec::len).max().unwrap_or(0);
    let cell_h = tile_h + caption_lines * LINE + GAP;
    let width = columns * (tile_w + GAP) + GAP;
    let height = rows * cell_h + GAP;

    let mut sheet = Image::new(3, height, width, vec![BACKGROUND; 3 * height * width]);
    for (i, (sample, lines)) in samples.iter().zip(&captions).enumerate() {
        let (left, top) = (
            GAP + (i % columns) * (tile_w + GAP),
            GAP + (i / columns) * cell_h,
        );
        let rgb = sample.image.clone().with_channels(3);
        for c in 0..3 {
            for y in 0..rgb.height {
                for x in 0..rgb.width {
                    sheet.pixels[(c * height + top + y) * width + left + x] = rgb.at(c, y, x);
                }
            }
        }
        for (l, line) in lines.iter().enumerate() {
            draw_text(&mut sheet, line, left, top + tile_h + 1 + l * LINE);
        }
    }
    sheet
}

/// Breaks `text` into lines of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        if line.is_empty() {
            line = word;
        } else if line.chars().count() + 1 + word.chars().count() <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Draws `text` in the 8x8 font with its top-left corner at (`left`, `top`), clipped.
fn draw_text(image: &mut Image, text: &str, left: usize, top: usize) {
    let plane = image.height * image.width;
    for (k, ch) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(ch)
            .or_else(|| font8x8::LATIN_FONTS.get(ch))
            .unwrap_or_else(|| font8x8::BASIC_FONTS.get('?').unwrap_or_default());
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..GLYPH {
                // Bit 0 is the leftmost pixel.
                if bits & (1 << col) == 0 {
                    continue;
                }
                let (x, y) = (left + k * GLYPH + col, top + row);
                if x < image.width && y < image.height {
                    for c in 0..3 {
                        image.pixels[c * plane + y * image.width + x] = INK;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(channels: usize, size: usize, label: Label) -> Sample {
        Sample {
            image: Image::new(channels, size, size, vec![0.5; channels * size * size]),
            label,
        }
    }

    #[test]
    fn captions_name_classes_and_findings() {
        let names: Vec<String> = ["Mass", "Nodule", "Effusion"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(caption(&Label::Class(1), &names), "Nodule");
        assert_eq!(
            caption(&Label::Findings(vec![true, false, true]), &names),
            "Mass, Effusion"
        );
        assert_eq!(
            caption(&Label::Findings(vec![false; 3]), &names),
            "No Finding"
        );
    }

    #[test]
    fn sheet_has_a_tile_and_caption_rows_per_sample() {
        let names = vec!["benign".to_string(), "malignant".to_string()];
        let samples: Vec<Sample> = (0..5).map(|i| sample(3, 32, Label::Class(i % 2))).collect();
        let sheet = contact_sheet(&samples, &names, 3);
        // 3 columns x 2 rows; "malignant" wraps to three lines of at most 4 characters at 32 px.
        assert_eq!(sheet.channels, 3);
        assert_eq!(sheet.width, 3 * (32 + GAP) + GAP);
        assert_eq!(sheet.height, 2 * (32 + 3 * LINE + GAP) + GAP);
        // The caption under the first tile has ink in it; the tile itself is untouched.
        let ink = (0..32).any(|x| (0..LINE).any(|y| sheet.at(0, GAP + 32 + y, GAP + x) == INK));
        assert!(ink);
        assert_eq!(sheet.at(1, GAP + 5, GAP + 5), 0.5);
    }

    #[test]
    fn gray_samples_become_rgb_tiles() {
        let samples = vec![sample(1, 16, Label::Findings(vec![false, true]))];
        let names = vec!["A".to_string(), "B".to_string()];
        let sheet = contact_sheet(&samples, &names, 4);
        assert_eq!((sheet.channels, sheet.width), (3, 16 + 2 * GAP));
        assert_eq!(sheet.height, 16 + LINE + 2 * GAP);
    }

    #[test]
    fn long_words_are_broken_and_short_ones_joined() {
        assert_eq!(
            wrap("Cardiomegaly, Mass", 8),
            vec!["Cardiome", "galy,", "Mass"]
        );
        assert_eq!(wrap("grade 0", 8), vec!["grade 0"]);
    }
}
