//! An [`Image`] as imageproc sees it: one `Luma<f32>` buffer per channel (our layout is planar, so
//! a plane is a slice, no shuffling), and back.

use image::imageops::FilterType;
use image::{ImageBuffer, Luma};

use crate::data::Image;

pub(crate) type Plane = ImageBuffer<Luma<f32>, Vec<f32>>;

/// The image's channels as separate buffers.
pub(crate) fn planes(image: &Image) -> Vec<Plane> {
    let plane = image.height * image.width;
    image
        .pixels
        .chunks(plane)
        .map(|p| {
            Plane::from_raw(image.width as u32, image.height as u32, p.to_vec())
                .expect("plane matches its dimensions")
        })
        .collect()
}

/// The channels back as an image, pixels clipped to [0, 1].
pub(crate) fn from_planes(planes: Vec<Plane>) -> Image {
    let (width, height) = planes[0].dimensions();
    let channels = planes.len();
    let pixels = planes
        .into_iter()
        .flat_map(|p| p.into_raw())
        .map(clip)
        .collect();
    Image::new(channels, height as usize, width as usize, pixels)
}

/// `f` on every channel.
pub(crate) fn map_planes(image: &Image, f: impl Fn(&Plane) -> Plane) -> Image {
    from_planes(planes(image).iter().map(f).collect())
}

/// `f` on every pixel value, clipped to [0, 1] after.
pub(crate) fn map_pixels(image: &Image, mut f: impl FnMut(f32) -> f32) -> Image {
    Image::new(
        image.channels,
        image.height,
        image.width,
        image.pixels.iter().map(|&v| clip(f(v))).collect(),
    )
}

pub(crate) fn clip(v: f32) -> f32 {
    v.clamp(0.0, 1.0)
}

/// Luminance (ITU-R BT.601, as OpenCV's RGB2GRAY), or the one channel of a gray image.
pub(crate) fn luminance(image: &Image) -> Vec<f32> {
    image.clone().with_channels(1).pixels
}

/// The size at which `image` would have the seed's 224-pixel shorter side: layers drawn with the
/// seed's pixel numbers (snow flakes, water drops) are made at this size and then resized, so
/// they look the same relative to the image at any resolution.
pub(crate) fn reference_size(image: &Image) -> (u32, u32) {
    let scale = super::pixel_scale(image);
    let side = |n: usize| ((n as f64 / scale).round() as u32).max(1);
    (side(image.width), side(image.height))
}

/// `plane` resampled to `width` × `height` (bilinear, antialiased when shrinking).
pub(crate) fn resize_plane(plane: &Plane, width: u32, height: u32) -> Plane {
    if plane.dimensions() == (width, height) {
        return plane.clone();
    }
    image::imageops::resize(plane, width, height, FilterType::Triangle)
}
