//! The card's Grad-CAM strip: each shown image with its clean and its adversarial Grad-CAM laid
//! over it, and how much of where the model looks the attack moved (the overlap of the maps'
//! hottest fifth). One SVG, drawn the same by the HTML card and the page.

use serde::{Deserialize, Serialize};

use crate::analysis::CamExample;
use crate::data::Image;
use crate::report::{heatmap_overlay, png_data_url};
use crate::{Error, Result};

/// The share of a map's pixels counted as "where the model looks".
pub const HOTTEST_SHARE: f64 = 0.2;

/// Thumbnails are at most this many pixels a side (a card stays small for any input size).
const THUMBNAIL_SIDE: usize = 96;

/// One shown image of a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CamThumbnail {
    /// Its file, or its index for generated images.
    pub id: String,
    /// The decision on the clean image, in words.
    pub clean_decision: String,
    /// The decision on the attacked image, in words.
    pub adversarial_decision: String,
    /// The image with its clean Grad-CAM, as a PNG data URL.
    pub clean_overlay: String,
    /// The image with its adversarial Grad-CAM (the attack's change is below what the eye
    /// sees at these budgets, so the clean image carries both maps), as a PNG data URL.
    pub adversarial_overlay: String,
    /// Intersection over union of the two maps' hottest fifth, in [0, 1].
    pub overlap: f64,
}

/// Intersection over union of the `share` hottest pixels of two maps of equal size: 1 when the
/// attack leaves the model looking at the same place, 0 when it looks elsewhere entirely. Ties
/// at the threshold count in, so a flat map marks everything.
pub fn hottest_overlap(a: &[f32], b: &[f32], share: f64) -> Result<f64> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::invalid(format!(
            "Grad-CAM maps of {} and {} pixels: the overlap needs two maps of one size",
            a.len(),
            b.len()
        )));
    }
    if !(share > 0.0 && share <= 1.0) {
        return Err(Error::invalid(format!("share {share}: in (0, 1]")));
    }
    let hottest = |map: &[f32]| -> Vec<bool> {
        let mut sorted: Vec<f32> = map.to_vec();
        sorted.sort_by(|x, y| y.total_cmp(x));
        let keep = ((share * map.len() as f64).ceil() as usize).clamp(1, map.len());
        let threshold = sorted[keep - 1];
        map.iter().map(|&v| v >= threshold).collect()
    };
    let (ha, hb) = (hottest(a), hottest(b));
    let both = ha.iter().zip(&hb).filter(|(x, y)| **x && **y).count();
    let either = ha.iter().zip(&hb).filter(|(x, y)| **x || **y).count();
    Ok(both as f64 / either as f64)
}

/// The strip's thumbnails: each example's maps over its clean image (`images[i]` is the image
/// of `cams[i]`, at any size).
pub fn cam_thumbnails(cams: &[CamExample], images: &[Image]) -> Result<Vec<CamThumbnail>> {
    if cams.len() != images.len() {
        return Err(Error::invalid(format!(
            "{} Grad-CAM examples but {} images",
            cams.len(),
            images.len()
        )));
    }
    cams.iter()
        .zip(images)
        .map(|(cam, image)| {
            let scale = THUMBNAIL_SIDE as f64 / image.height.max(image.width) as f64;
            let (height, width) = if scale < 1.0 {
                (
                    ((image.height as f64 * scale).round() as usize).max(1),
                    ((image.width as f64 * scale).round() as usize).max(1),
                )
            } else {
                (image.height, image.width)
            };
            let image = image.clone().resized(height, width);
            let overlay = |map: &[f32]| -> Result<String> {
                if map.len() != cam.height * cam.width {
                    return Err(Error::invalid(format!(
                        "Grad-CAM of image {}: {} values for a {}×{} map",
                        cam.id,
                        map.len(),
                        cam.height,
                        cam.width
                    )));
                }
                let map = Image::new(1, cam.height, cam.width, map.to_vec());
                Ok(png_data_url(&heatmap_overlay(&image, &map)))
            };
            Ok(CamThumbnail {
                id: cam.id.clone(),
                clean_decision: cam.clean_decision.clone(),
                adversarial_decision: cam.adversarial_decision.clone(),
                clean_overlay: overlay(&cam.clean_cam)?,
                adversarial_overlay: overlay(&cam.adversarial_cam)?,
                overlap: hottest_overlap(&cam.clean_cam, &cam.adversarial_cam, HOTTEST_SHARE)?,
            })
        })
        .collect()
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The strip as an SVG document: one column per image, clean above adversarial, each with its
/// decision, and the overlap under them.
pub fn cam_strip_svg(thumbnails: &[CamThumbnail]) -> String {
    let (cell, gap, label) = (120usize, 16usize, 34usize);
    let width = thumbnails.len().max(1) * (cell + gap) + 110;
    let height = 2 * (cell + label) + 40;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\" \
         role=\"img\" aria-label=\"Grad-CAM before and after the attack\">"
    );
    for (row, name) in ["clean", "attacked"].iter().enumerate() {
        let y = row * (cell + label) + cell / 2;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{y}\" font-weight=\"bold\">{name}</text>"
        ));
    }
    for (i, t) in thumbnails.iter().enumerate() {
        let x = 110 + i * (cell + gap);
        for (row, (url, decision)) in [
            (&t.clean_overlay, &t.clean_decision),
            (&t.adversarial_overlay, &t.adversarial_decision),
        ]
        .into_iter()
        .enumerate()
        {
            let y = row * (cell + label);
            svg.push_str(&format!(
                "<image x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" \
                 preserveAspectRatio=\"xMidYMid meet\" style=\"image-rendering:pixelated\" \
                 href=\"{}\"/><text x=\"{x}\" y=\"{}\">{}</text>",
                escape(url),
                y + cell + 14,
                escape(decision)
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{x}\" y=\"{}\">overlap {:.2}</text>",
            2 * (cell + label) + 16,
            t.overlap
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_of_hand_made_maps() {
        // Ten pixels, the hottest fifth is two of them.
        let a = [9.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let same = hottest_overlap(&a, &a, 0.2).unwrap();
        assert_eq!(same, 1.0);
        // One of two hot pixels shared: 1 / 3.
        let b = [9.0, 0.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert!((hottest_overlap(&a, &b, 0.2).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // Elsewhere entirely.
        let c = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0, 9.0];
        assert_eq!(hottest_overlap(&a, &c, 0.2).unwrap(), 0.0);
        // Scaling a map does not move where it looks.
        let scaled: Vec<f32> = b.iter().map(|v| v * 0.01).collect();
        assert_eq!(
            hottest_overlap(&a, &b, 0.2).unwrap(),
            hottest_overlap(&a, &scaled, 0.2).unwrap()
        );
    }

    #[test]
    fn maps_of_different_sizes_or_a_bad_share_are_refused() {
        assert!(hottest_overlap(&[1.0, 2.0], &[1.0], 0.2).is_err());
        assert!(hottest_overlap(&[], &[], 0.2).is_err());
        assert!(hottest_overlap(&[1.0], &[1.0], 0.0).is_err());
    }

    #[test]
    fn thumbnails_carry_each_map_and_fit_the_side() {
        let cam = CamExample {
            index: 3,
            id: "lesion <3>".into(),
            height: 4,
            width: 4,
            clean_decision: "malignant".into(),
            adversarial_decision: "benign".into(),
            clean_cam: (0..16).map(|v| v as f32).collect(),
            adversarial_cam: (0..16).rev().map(|v| v as f32).collect(),
        };
        let image = Image::new(3, 200, 100, vec![0.5; 3 * 200 * 100]);
        let thumbs = cam_thumbnails(std::slice::from_ref(&cam), &[image]).unwrap();
        assert_eq!(thumbs.len(), 1);
        assert!(
            thumbs[0]
                .clean_overlay
                .starts_with("data:image/png;base64,")
        );
        assert_ne!(thumbs[0].clean_overlay, thumbs[0].adversarial_overlay);
        // Opposite corners are hottest: no overlap.
        assert_eq!(thumbs[0].overlap, 0.0);
        let svg = cam_strip_svg(&thumbs);
        assert!(svg.contains(">malignant<"), "the clean decision is shown");
        assert!(svg.contains("benign") && svg.contains("overlap 0.00"));
        assert!(!svg.contains("<3>"), "text is escaped");
        assert!(cam_thumbnails(&[cam], &[]).is_err());
    }
}
