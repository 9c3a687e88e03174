//! What an attack does inside a model: where it looks (Grad-CAM) and how far each stage's
//! features move.

mod feature_shift;
mod grad_cam;

#[cfg(test)]
mod tests;

pub use feature_shift::{StageShift, feature_shift};
pub use grad_cam::{CamTarget, cam_from, grad_cam, grad_cam_at_layer};
