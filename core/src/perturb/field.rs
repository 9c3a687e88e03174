//! Where a kind's frames are made, as the seed's `Benchmark/make_robustness_p.py` makes them: it
//! opens every image resized to a 256-pixel shorter side (`Resize(256)`) and shows the model the
//! 224-pixel centre of it (`CenterCrop(224)`). The noises, blurs, snow, spatter and brightness
//! change that centre crop; the moving-camera kinds (and zoom blur) warp the whole 256-pixel
//! image and crop after, so what a shift or turn brings into view is the image's own surround,
//! not black.
//!
//! robustdx does the same at any model size: the surround is 256/224 of the model's input (256 ×
//! 256 for a 224-pixel model), made from the source image (downsampled when the source is larger,
//! upsampled when it is not, as for the model-sized synthetic sets). Like the seed's test
//! transform `Resize((256, 256))` and robustdx's own clean evaluation, it takes the model's aspect
//! ratio; torchvision's `Resize(256)` keeps the source's, which is the same for square images.

use super::{Perturbation, SequenceKey};
use crate::data::Image;
use crate::model::InputSpec;

/// The seed's surround: the shorter side its frames are warped at (`Resize(256)`), against
/// [`REFERENCE_SIDE`](super::REFERENCE_SIDE) for the crop the model sees.
pub const SURROUND_SIDE: f64 = 256.0;

/// Which image a kind changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The centre crop, the model's own view (noises, blurs, snow, spatter, brightness).
    Crop,
    /// The surround, cropped after: content moves in from outside the model's view (translate,
    /// rotate, tilt, scale, shear, zoom blur).
    Surround,
}

/// The surround of a `height` × `width` input: 256/224 of each side, rounded.
pub fn surround_size(height: usize, width: usize) -> (usize, usize) {
    let side =
        |n: usize| ((n as f64 * SURROUND_SIDE / super::REFERENCE_SIDE).round() as usize).max(n);
    (side(height), side(width))
}

/// How much a length the seed gives at its 256-pixel surround is at this surround's size.
pub(crate) fn surround_scale(surround: &Image) -> f64 {
    surround.height.min(surround.width) as f64 / SURROUND_SIDE
}

/// The frames of `image`'s sequence under `kind` as the model sees them: the image brought to
/// the model's channels at the surround's size, changed in the kind's [`Field`], cropped to the
/// model's input at the centre.
pub fn model_frames(
    input: &InputSpec,
    image: Image,
    kind: &dyn Perturbation,
    frames: usize,
    key: SequenceKey,
) -> Vec<Image> {
    let (height, width) = (input.height, input.width);
    let (surround_height, surround_width) = surround_size(height, width);
    let surround = image
        .with_channels(input.channels)
        .resized(surround_height, surround_width);
    match kind.field() {
        Field::Crop => kind.sequence(&surround.centre_cropped(height, width), frames, key),
        Field::Surround => kind
            .sequence(&surround, frames, key)
            .into_iter()
            .map(|frame| frame.centre_cropped(height, width))
            .collect(),
    }
}
