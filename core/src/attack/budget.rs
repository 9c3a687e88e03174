//! How far an attack may move an image: the norm ball around it and the valid pixel range.

use burn::Tensor;
use burn::tensor::{Bool, Device, Int, TensorData};
use serde::{Deserialize, Serialize};

use super::{SampleKeys, Stream};
use crate::model::InputSpec;
use crate::{Error, Result};

/// The norm of the ε-ball around the clean image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// The largest change of any one value is at most ε.
    Linf,
    /// The Euclidean length of the whole change is at most ε.
    L2,
}

/// Where ε is measured and what the pixels are clipped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Convention {
    /// ε in pixel units ([0, 1] images), clip to [0, 1]: the attack a real image can carry.
    Pixel,
    /// The seed study's code: ε in normalised units ((x - mean) / std), clip to the batch's
    /// normalised min / max. L∞ only.
    Paper,
}

/// The threat model of one attack run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// The ball's norm.
    pub norm: Norm,
    /// In pixel units for [`Convention::Pixel`], normalised units for [`Convention::Paper`].
    pub eps: f32,
    /// Where ε is measured and what pixels are clipped to.
    pub convention: Convention,
}

impl Budget {
    /// An L∞ budget of `eps` in pixel units (8/255 is `8.0 / 255.0`), clipped to [0, 1].
    pub fn linf(eps: f32) -> Self {
        Self {
            norm: Norm::Linf,
            eps,
            convention: Convention::Pixel,
        }
    }

    /// Checks that ε is finite and ≥ 0, fits the pixel range (L∞ pixel), and that the paper
    /// convention is L∞.
    pub fn validate(&self) -> Result<()> {
        if !self.eps.is_finite() || self.eps < 0.0 {
            return Err(Error::invalid(format!(
                "ε must be a finite number ≥ 0, got {}",
                self.eps
            )));
        }
        if self.convention == Convention::Pixel && self.norm == Norm::Linf && self.eps > 1.0 {
            return Err(Error::invalid(format!(
                "ε = {} (×255 = {}) exceeds the whole pixel range",
                self.eps,
                self.eps * 255.0
            )));
        }
        if self.convention == Convention::Paper && self.norm != Norm::Linf {
            return Err(Error::invalid(
                "the paper convention is defined for L∞ only",
            ));
        }
        Ok(())
    }

    /// The feasible set around `images` under this budget.
    pub fn region(&self, images: &Tensor<4>, input: &InputSpec) -> Region {
        match self.convention {
            Convention::Pixel => Region {
                norm: self.norm,
                eps: Bound::Scalar(self.eps),
                lower: Bound::Scalar(0.0),
                upper: Bound::Scalar(1.0),
            },
            Convention::Paper => {
                let device = images.device();
                let channel = |values: Vec<f32>| {
                    let n = values.len();
                    Bound::Channel(Box::new(Tensor::from_data(
                        TensorData::new(values, [1, n, 1, 1]),
                        &device,
                    )))
                };
                let normalised = normalise(images.clone(), input);
                let low: f32 = normalised.clone().min().into_scalar();
                let high: f32 = normalised.max().into_scalar();
                let (mean, std) = (&input.mean, &input.std);
                let pixel = |z: f32| mean.iter().zip(std).map(|(m, s)| z * s + m).collect();
                Region {
                    norm: self.norm,
                    eps: channel(std.iter().map(|s| self.eps * s).collect()),
                    lower: channel(pixel(low)),
                    upper: channel(pixel(high)),
                }
            }
        }
    }
}

fn normalise(images: Tensor<4>, input: &InputSpec) -> Tensor<4> {
    let device = images.device();
    let c = input.channels;
    let mean = Tensor::<4>::from_data(TensorData::new(input.mean.clone(), [1, c, 1, 1]), &device);
    let std = Tensor::<4>::from_data(TensorData::new(input.std.clone(), [1, c, 1, 1]), &device);
    (images - mean) / std
}

/// A bound that is one number, or one number per channel (`[1, C, 1, 1]`).
#[derive(Debug, Clone)]
pub enum Bound {
    Scalar(f32),
    Channel(Box<Tensor<4>>),
}

impl Bound {
    fn at_least(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Bound::Scalar(v) => x.clamp_min(*v),
            Bound::Channel(t) => {
                let shape = x.dims();
                x.max_pair(t.clone().expand(shape))
            }
        }
    }

    fn at_most(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Bound::Scalar(v) => x.clamp_max(*v),
            Bound::Channel(t) => {
                let shape = x.dims();
                x.min_pair(t.clone().expand(shape))
            }
        }
    }

    fn neg(&self) -> Bound {
        match self {
            Bound::Scalar(v) => Bound::Scalar(-v),
            Bound::Channel(t) => Bound::Channel(Box::new(t.as_ref().clone().neg())),
        }
    }
}

/// The set an adversarial image must stay in: within ε of the clean image, within the pixel
/// range.
#[derive(Debug, Clone)]
pub struct Region {
    /// The norm of the ball.
    pub norm: Norm,
    /// The radius: one number, or one per channel (the paper convention's ε × std).
    pub eps: Bound,
    /// Lowest allowed pixel value, one number or one per channel.
    pub lower: Bound,
    /// Highest allowed pixel value, one number or one per channel.
    pub upper: Bound,
}

/// Per-sample L2 norm, shaped `[batch, 1, 1, 1]` to broadcast over an image.
pub(crate) fn l2_norms(x: Tensor<4>) -> Tensor<4> {
    let [b, _, _, _] = x.dims();
    x.powi_scalar(2)
        .sum_dims(&[1, 2, 3])
        .sqrt()
        .reshape([b, 1, 1, 1])
}

/// The positions `rows` as an index tensor (to select a batch's images still standing).
pub(crate) fn row_indices(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(values, [rows.len()]), device)
}

/// `full` with its images `ids` replaced by the images of `rows`, in order (the results of a
/// run on the images still standing, put back in their batch).
pub(crate) fn place_images(full: Tensor<4>, rows: Tensor<4>, ids: &[usize]) -> Tensor<4> {
    if ids.is_empty() {
        return full;
    }
    let b = full.dims()[0];
    let device = full.device();
    let (mut from, mut replaced) = (vec![0usize; b], vec![false; b]);
    for (at, &id) in ids.iter().enumerate() {
        from[id] = at;
        replaced[id] = true;
    }
    let gathered = rows.select(0, row_indices(&from, &device));
    let replaced = Tensor::<1, Bool>::from_data(TensorData::new(replaced, [b]), &device);
    where_images(&replaced, gathered, full)
}

/// Image by image, `yes` where `mask [batch]` holds, else `no` (restarts keep each image's
/// strongest run).
pub(crate) fn where_images(mask: &Tensor<1, Bool>, yes: Tensor<4>, no: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = yes.dims();
    no.mask_where(mask.clone().reshape([b, 1, 1, 1]).expand([b, c, h, w]), yes)
}

impl Region {
    /// The nearest point of the region to `adversarial` (around `clean`).
    pub fn project(&self, clean: &Tensor<4>, adversarial: Tensor<4>) -> Tensor<4> {
        let delta = adversarial - clean.clone();
        let delta = match (self.norm, &self.eps) {
            (Norm::Linf, eps) => eps.neg().at_least(eps.at_most(delta)),
            (Norm::L2, Bound::Scalar(eps)) => {
                // Scale down only the perturbations that are longer than ε.
                let scale = l2_norms(delta.clone())
                    .clamp_min(1e-12)
                    .recip()
                    .mul_scalar(*eps);
                delta.clone() * scale.clamp_max(1.0)
            }
            (Norm::L2, Bound::Channel(_)) => unreachable!("validated: L2 is pixel-space only"),
        };
        self.upper
            .at_most(self.lower.at_least(clean.clone() + delta))
    }

    /// A uniformly random point of the region: uniform in the L∞ box, or a random direction
    /// scaled by a uniform fraction of ε for L2 (as torchattacks does). Drawn per image from
    /// `keys` on `stream` (two streams: the direction and the radius).
    pub fn random_start(&self, clean: &Tensor<4>, keys: &SampleKeys, stream: Stream) -> Tensor<4> {
        let device = clean.device();
        let shape = clean.dims();
        let [_, c, h, w] = shape;
        let delta = match (&self.norm, &self.eps) {
            (Norm::Linf, eps) => {
                let unit = keys.uniform(2 * stream, [c, h, w], -1.0, 1.0, &device);
                match eps {
                    Bound::Scalar(e) => unit.mul_scalar(*e),
                    Bound::Channel(t) => unit * t.clone().expand(shape),
                }
            }
            (Norm::L2, eps) => {
                let Bound::Scalar(eps) = eps else {
                    unreachable!("validated: L2 is pixel-space only")
                };
                let direction = keys.normal(2 * stream, [c, h, w], &device);
                let radius = keys.uniform(2 * stream + 1, [1, 1, 1], 0.0, 1.0, &device);
                let norms = l2_norms(direction.clone()).clamp_min(1e-12);
                direction / norms * radius.mul_scalar(*eps)
            }
        };
        self.project(clean, clean.clone() + delta)
    }

    /// Whether the region is one L∞ box of the same ε everywhere, clipped to [0, 1]: the case the
    /// fused GPU kernel handles.
    pub fn uniform_linf(&self) -> Option<f32> {
        match (&self.norm, &self.eps, &self.lower, &self.upper) {
            (Norm::Linf, Bound::Scalar(e), Bound::Scalar(l), Bound::Scalar(u))
                if *l == 0.0 && *u == 1.0 =>
            {
                Some(*e)
            }
            _ => None,
        }
    }
}

impl Region {
    /// A step of `size` (in ε's units) in the steepest direction of `gradient` for this norm:
    /// its sign for L∞, its unit vector for L2. `direction` is +1 to ascend, -1 to descend.
    pub fn steepest_step(
        &self,
        gradient: Tensor<4>,
        size: f32,
        eps: f32,
        direction: f32,
    ) -> Tensor<4> {
        let unit = match self.norm {
            Norm::Linf => gradient.sign(),
            Norm::L2 => gradient.clone() / l2_norms(gradient).clamp_min(1e-12),
        };
        match &self.eps {
            Bound::Scalar(_) => unit.mul_scalar(size * direction),
            // Per-channel ε (paper convention): steps scale like ε does, channel by channel.
            Bound::Channel(t) => {
                let shape = unit.dims();
                unit * t
                    .clone()
                    .expand(shape)
                    .mul_scalar(size * direction / eps.max(f32::MIN_POSITIVE))
            }
        }
    }

    /// One PGD update: step, then project. On wgpu, the L∞ pixel-space case runs as one fused
    /// kernel (`shaders/`).
    pub fn update(
        &self,
        clean: &Tensor<4>,
        adversarial: Tensor<4>,
        gradient: Tensor<4>,
        size: f32,
        eps: f32,
        direction: f32,
    ) -> Tensor<4> {
        #[cfg(feature = "gpu-kernels")]
        if self.uniform_linf().is_some()
            && let Some(next) = robustdx_shaders::fused_pgd_linf_step(
                &adversarial,
                &gradient,
                clean,
                size * direction,
                eps,
            )
        {
            return next;
        }
        let step = self.steepest_step(gradient, size, eps, direction);
        self.project(clean, adversarial + step)
    }
}
