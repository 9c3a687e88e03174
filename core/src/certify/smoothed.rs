//! The smoothed classifier g(x) = argmax_c P(f(x + N(0, σ²I)) = c), estimated by counting the base
//! model's decisions on noisy copies of an image. Every copy's noise is keyed by (seed, image
//! index, draw, copy), so a count never depends on how copies or images are batched, on a shard
//! or on the backend's own generator; copies are drawn on the host and go through the model in
//! batches of whatever size fits.

use std::ops::Range;

use burn::Tensor;
use burn::tensor::{Device, TensorData};

use super::certificate::{Certificate, predict_head};
use super::votes::Votes;
use crate::attack::{SampleKeys, Stream};
use crate::data::Image;
use crate::model::DiagnosticModel;
use crate::{Error, Result};

/// The largest noise level accepted (in pixel units of [0, 1] images): four times the whole pixel
/// range, far past Cohen et al.'s largest (1.0); a larger value is more likely σ in 1/255 units
/// (64 for 0.25) than meant.
pub const MAX_SIGMA: f64 = 4.0;

/// Noisy copies per forward pass when none is asked for: as many as make about a million input
/// values (81 copies of a 64 × 64 RGB image, 6 of a 224 × 224 one), at most 1 000. A first
/// convolution 32 channels wide then holds about 43 MB of activations, well within what a WebGPU
/// adapter binds at once (lavapipe refused the 170 MB buffer of eight times as many copies).
pub fn default_copies_per_batch(values_per_image: usize) -> usize {
    (1_000_000 / values_per_image.max(1)).clamp(1, 1_000)
}

/// The most input values one pass of copies holds (256 MB of f32), whatever batch is asked:
/// a `--batch-size` meant for small images must not ask a 224-px model for gigabytes.
pub const MAX_VALUES_PER_PASS: usize = 64 << 20;

/// The copies one pass takes when `asked` are asked for, for an image of `values` values: at
/// least one, at most [`MAX_VALUES_PER_PASS`] values' worth.
pub fn copies_per_pass(asked: usize, values: usize) -> usize {
    asked.clamp(1, (MAX_VALUES_PER_PASS / values.max(1)).max(1))
}

/// Which of the independent draws of noisy copies a count comes from; each has its own streams,
/// so CERTIFY's selection and estimation copies never share noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// CERTIFY's n0 copies that guess the top class.
    Selection,
    /// CERTIFY's n copies that bound its probability.
    Estimation,
    /// PREDICT's n copies.
    Prediction,
}

impl Draw {
    /// The stream of copy 0; copy k reads `first_stream + k`. Far above the streams attacks use
    /// (restarts and targets number in the thousands).
    fn first_stream(self) -> Stream {
        let tag: u64 = match self {
            Draw::Selection => 1,
            Draw::Estimation => 2,
            Draw::Prediction => 3,
        };
        tag << 48
    }
}

/// Who an image is, for its noise: the run's seed and the image's index in its split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoiseKey {
    /// The run's seed.
    pub seed: u64,
    /// The image's index in its split (0 for a lone image).
    pub index: u64,
}

impl NoiseKey {
    fn sample_keys(self) -> SampleKeys {
        SampleKeys::new(self.seed, vec![self.index])
    }
}

/// CERTIFY's sample sizes and failure probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CertifySettings {
    /// Selection copies (the reference's 100).
    pub n0: u64,
    /// Estimation copies (the reference's 100 000).
    pub n: u64,
    /// The probability that a certificate is wrong (the reference's 0.001).
    pub alpha: f64,
}

impl Default for CertifySettings {
    fn default() -> Self {
        Self {
            n0: 100,
            n: 100_000,
            alpha: 0.001,
        }
    }
}

impl CertifySettings {
    /// The most copies of one image a count takes.
    pub const MAX_COPIES: u64 = 1 << 32;

    /// Checks the settings a user gave.
    pub fn validate(&self) -> Result<()> {
        for (name, n) in [("n0", self.n0), ("n", self.n)] {
            if !(1..=Self::MAX_COPIES).contains(&n) {
                return Err(Error::invalid(format!(
                    "--{name} {n}: the noisy copies per image must be 1 to {}",
                    Self::MAX_COPIES
                )));
            }
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::invalid(format!(
                "--alpha {}: the failure probability must lie strictly between 0 and 1",
                self.alpha
            )));
        }
        Ok(())
    }
}

/// Checks a noise level a user gave.
pub fn check_sigma(sigma: f64) -> Result<()> {
    if sigma.is_finite() && sigma > 0.0 && sigma <= MAX_SIGMA {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "--sigma {sigma}: the noise level must be above 0 and at most {MAX_SIGMA} (pixel units of [0, 1] images)"
        )))
    }
}

/// One image's CERTIFY: both draws' votes and the certificate they give.
#[derive(Debug, Clone, PartialEq)]
pub struct CertifiedImage {
    /// The n0 selection copies' votes.
    pub selection: Votes,
    /// The n estimation copies' votes.
    pub estimation: Votes,
    /// The guess, its bound and radius, per head.
    pub certificate: Certificate,
}

/// One image's PREDICT: the votes, and per head the decision (or abstention) with its p-value.
#[derive(Debug, Clone, PartialEq)]
pub struct SmoothedPrediction {
    /// The n copies' votes.
    pub votes: Votes,
    /// Per head: the most voted outcome when the binomial test is significant, and its p-value.
    pub heads: Vec<(Option<usize>, f64)>,
}

/// A base model smoothed with Gaussian noise of standard deviation `sigma` (pixel units, added
/// to the model's input before its own normalisation, not clamped, as in the reference).
pub struct Smoothed {
    model: DiagnosticModel,
    sigma: f64,
}

impl Smoothed {
    /// `model` smoothed at `sigma`; an error when `sigma` is out of range.
    pub fn new(model: &DiagnosticModel, sigma: f64) -> Result<Self> {
        check_sigma(sigma)?;
        Ok(Self {
            model: model.valid(),
            sigma,
        })
    }

    /// The noise level.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The base model.
    pub fn model(&self) -> &DiagnosticModel {
        &self.model
    }

    /// `image` as the model takes it (channels, size): what the noise is added to.
    pub fn prepare(&self, image: Image) -> Image {
        self.model.card.input.prepare(image)
    }

    /// The pixels of noisy copies `copies` of a prepared `image` in `draw`, one after another.
    pub fn noisy_copies(
        &self,
        image: &Image,
        key: NoiseKey,
        draw: Draw,
        copies: Range<u64>,
    ) -> Vec<f32> {
        let first = draw.first_stream();
        let mut values = key.sample_keys().normal_copies(
            0,
            first + copies.start..first + copies.end,
            image.pixels.len(),
        );
        let sigma = self.sigma as f32;
        for copy in values.chunks_mut(image.pixels.len()) {
            for (v, &p) in copy.iter_mut().zip(&image.pixels) {
                *v = p + sigma * *v;
            }
        }
        values
    }

    /// The base model's votes on `count` noisy copies of a prepared `image` in `draw`,
    /// `batch_size` copies per forward pass; `progress` hears the copies counted so far.
    #[allow(clippy::too_many_arguments)]
    pub async fn votes(
        &self,
        image: &Image,
        key: NoiseKey,
        draw: Draw,
        count: u64,
        batch_size: usize,
        device: &Device,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Votes> {
        let card = &self.model.card;
        let mut votes = Votes::empty(card.task, card.num_classes());
        let batch = copies_per_pass(batch_size, image.pixels.len()) as u64;
        let mut done = 0;
        while done < count {
            let copies = done..(done + batch).min(count);
            let b = (copies.end - copies.start) as usize;
            let values = self.noisy_copies(image, key, draw, copies.clone());
            let input = Tensor::from_data(
                TensorData::new(values, [b, image.channels, image.height, image.width]),
                device,
            );
            let probs = crate::readback::floats(self.model.probabilities(input)).await?;
            for row in probs.chunks(card.num_classes()) {
                votes.add(card.task, row);
            }
            done = copies.end;
            progress(done);
        }
        Ok(votes)
    }

    /// CERTIFY for one (raw) image: n0 selection copies guess each head's outcome, n fresh
    /// estimation copies bound its probability; `progress` hears the copies counted of n0 + n.
    pub async fn certify(
        &self,
        image: Image,
        key: NoiseKey,
        settings: &CertifySettings,
        batch_size: usize,
        device: &Device,
        progress: &mut dyn FnMut(u64),
    ) -> Result<CertifiedImage> {
        settings.validate()?;
        let image = self.prepare(image);
        let n0 = settings.n0;
        let selection = self
            .votes(
                &image,
                key,
                Draw::Selection,
                n0,
                batch_size,
                device,
                progress,
            )
            .await?;
        let estimation = self
            .votes(
                &image,
                key,
                Draw::Estimation,
                settings.n,
                batch_size,
                device,
                &mut |done| progress(n0 + done),
            )
            .await?;
        let certificate = Certificate::new(&selection, &estimation, self.sigma, settings.alpha);
        Ok(CertifiedImage {
            selection,
            estimation,
            certificate,
        })
    }

    /// PREDICT for one (raw) image from `n` copies at failure probability `alpha` (shared out
    /// over a multi-label model's findings, as CERTIFY's).
    pub async fn predict(
        &self,
        image: Image,
        key: NoiseKey,
        n: u64,
        alpha: f64,
        batch_size: usize,
        device: &Device,
    ) -> Result<SmoothedPrediction> {
        CertifySettings { n0: 1, n, alpha }.validate()?;
        let image = self.prepare(image);
        let votes = self
            .votes(
                &image,
                key,
                Draw::Prediction,
                n,
                batch_size,
                device,
                &mut |_| {},
            )
            .await?;
        let alpha = super::certificate::alpha_per_head(alpha, votes.heads.len());
        let heads = votes.heads.iter().map(|h| predict_head(h, alpha)).collect();
        Ok(SmoothedPrediction { votes, heads })
    }
}
