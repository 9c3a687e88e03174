//! Pictures for people: the perturbation made visible, attention maps laid over the image, and
//! images as data URLs for self-contained pages.

use base64::Engine;

use super::ColourScale;
use crate::data::Image;

/// The perturbation made visible: mid-grey is zero, full black / white the largest |δ|.
pub fn amplified_perturbation(clean: &Image, adversarial: &Image) -> Image {
    let delta: Vec<f32> = adversarial
        .pixels
        .iter()
        .zip(&clean.pixels)
        .map(|(a, c)| a - c)
        .collect();
    let largest = delta.iter().fold(0.0f32, |m, d| m.max(d.abs())).max(1e-12);
    let pixels = delta.iter().map(|d| 0.5 + 0.5 * d / largest).collect();
    Image::new(clean.channels, clean.height, clean.width, pixels)
}

/// `map` (one channel, any size) resized onto `image` and blended over it in the turbo colour
/// map (blue: its lowest value, red: its highest): normalised per map, the usual way attention and CAM
/// maps are read (a gate whose sigmoid sits near 0.6 everywhere still shows where it looks).
pub fn heatmap_overlay(image: &Image, map: &Image) -> Image {
    heatmap_overlay_in(ColourScale::Turbo, image, map)
}

/// [`heatmap_overlay`] in another colour scale (the page lets its reader choose).
pub fn heatmap_overlay_in(scale: ColourScale, image: &Image, map: &Image) -> Image {
    let mut map = map
        .clone()
        .with_channels(1)
        .resized(image.height, image.width);
    let (low, high) = map
        .pixels
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let range = high - low;
    for v in &mut map.pixels {
        *v = if range > 1e-6 {
            (*v - low) / range
        } else {
            0.5
        };
    }
    let rgb = image.clone().with_channels(3);
    let plane = image.height * image.width;
    let mut pixels = vec![0.0; 3 * plane];
    for i in 0..plane {
        let colour = scale.rgb(map.pixels[i]);
        for (c, value) in colour.iter().enumerate() {
            pixels[c * plane + i] = 0.5 * rgb.pixels[c * plane + i] + 0.5 * value;
        }
    }
    Image::new(3, image.height, image.width, pixels)
}

/// The image as a `data:image/png;base64,…` URL.
pub fn png_data_url(image: &Image) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(image.encode_png())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amplified_perturbation_maps_zero_to_grey_and_the_extremes_to_black_and_white() {
        let clean = Image::new(1, 1, 3, vec![0.5, 0.5, 0.5]);
        let adversarial = Image::new(1, 1, 3, vec![0.5, 0.52, 0.48]);
        let shown = amplified_perturbation(&clean, &adversarial);
        assert!((shown.pixels[0] - 0.5).abs() < 1e-6);
        assert!((shown.pixels[1] - 1.0).abs() < 1e-5);
        assert!(shown.pixels[2].abs() < 1e-5);
    }

    #[test]
    fn heatmap_is_blue_where_the_map_is_low_and_red_where_it_is_highest() {
        // Normalised per map: 0.55, 0.56, 0.65 become 0, 0.1, 1. Turbo starts near black, is
        // blue by 0.1 and ends in red.
        let black = Image::zeros(3, 1, 3);
        let map = Image::new(1, 1, 3, vec![0.55, 0.56, 0.65]);
        let overlay = heatmap_overlay(&black, &map);
        let r = |i: usize| overlay.pixels[i];
        let b = |i: usize| overlay.pixels[6 + i];
        assert!(b(1) > r(1), "low attention is blue");
        assert!(r(2) > b(2), "high attention is red");
        assert!(r(0) + b(0) < r(1) + b(1), "the lowest is the darkest");
    }

    #[test]
    fn data_url_carries_a_decodable_png() {
        let url = png_data_url(&Image::zeros(3, 2, 2));
        let payload = url.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap();
        assert_eq!(Image::decode(&bytes, "url").unwrap().width, 2);
    }
}
