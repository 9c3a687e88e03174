//! The seed study's picture of feature discriminability: a 2-D t-SNE map of the penultimate
//! feature of clean and adversarial images, embedded together so that an adversarial point sits
//! where its feature has moved to, among the clean points of the classes. bhtsne does the
//! embedding (Barnes-Hut, θ = 0.5, Euclidean); what is ours is making it repeatable: the start is
//! drawn from the seed (N(0, 10⁻⁴), as van der Maaten's reference code), and the fit runs on a
//! one-thread pool, since bhtsne's parallel sums change with the threads' timing.

use serde::{Deserialize, Serialize};

/// This analysis in the [registry](super::ANALYSES).
pub(super) const ENTRY: super::AnalysisEntry = super::AnalysisEntry {
    name: "t-sne",
    about: "a joint 2-D t-SNE map of the clean and adversarial penultimate features",
    revision: 0,
};

/// Where each clean and each adversarial image's penultimate feature lands in one joint map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsneMap {
    /// The t-SNE perplexity used: 30, lowered for small sets.
    pub perplexity: f64,
    /// Gradient-descent iterations of the fit.
    pub epochs: usize,
    /// Seeds the start, so the same features give the same map.
    pub seed: u64,
    /// One point per image, in the order of the images.
    pub clean: Vec<[f32; 2]>,
    /// One point per image, in the same order as `clean`.
    pub adversarial: Vec<[f32; 2]>,
    /// Each image's group (index into `group_names`): its class, or its set of findings.
    pub groups: Vec<usize>,
    /// What each group is: a class name, or a set of findings.
    pub group_names: Vec<String>,
    /// Whether each image was decided right before and after the attack: the fooled ones are
    /// right clean and wrong adversarial.
    pub clean_right: Vec<bool>,
    /// See `clean_right`.
    pub adversarial_right: Vec<bool>,
}

impl TsneMap {
    /// Images decided right clean and wrong after the attack.
    pub fn fooled(&self) -> impl Iterator<Item = bool> + '_ {
        self.clean_right
            .iter()
            .zip(&self.adversarial_right)
            .map(|(&c, &a)| c && !a)
    }
}

/// bhtsne's default, and scikit-learn's is near (30).
pub const EPOCHS: usize = 1000;
/// The usual perplexity; lowered for small sets, since each point needs 3 × perplexity
/// neighbours.
pub const PERPLEXITY: f64 = 30.0;
/// Fewer points than this give no map (the perplexity would fall under 2).
pub const MIN_POINTS: usize = 7;

/// The perplexity used for `n` points: 30, or (n − 1) / 3 when that is smaller.
pub fn perplexity_for(n: usize) -> f64 {
    PERPLEXITY.min((n.saturating_sub(1) / 3) as f64)
}

/// The 2-D t-SNE embedding of `points` (rows of one length), `epochs` iterations from a start
/// drawn from `seed`: the same points and seed give the same map, bit for bit. `None` for fewer
/// than `MIN_POINTS` points.
#[cfg(feature = "tsne")]
pub fn embed(
    points: &[Vec<f32>],
    seed: u64,
    epochs: usize,
) -> crate::Result<Option<Vec<[f32; 2]>>> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    let n = points.len();
    if n < MIN_POINTS {
        return Ok(None);
    }
    let dims = points[0].len();
    if let Some(i) = points.iter().position(|p| p.len() != dims) {
        return Err(crate::Error::invalid(format!(
            "t-SNE: point {i} has {} values, point 0 has {dims}",
            points[i].len()
        )));
    }
    if let Some(i) = points.iter().position(|p| p.iter().any(|v| !v.is_finite())) {
        return Err(crate::Error::invalid(format!(
            "t-SNE: the feature of point {i} is not finite (NaN or infinite)"
        )));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let start = Normal::new(0.0f32, 1e-4).expect("a positive spread");
    let initial: Vec<f32> = (0..n * 2).map(|_| start.sample(&mut rng)).collect();
    let rows: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| crate::Error::invalid(format!("t-SNE: cannot start its thread: {e}")))?;
    let flat = pool.install(|| {
        let mut tsne: bhtsne::tSNE<f32, &[f32]> = bhtsne::tSNE::new(&rows);
        tsne.perplexity(perplexity_for(n) as f32)
            .epochs(epochs)
            .initial_embedding(initial)
            .barnes_hut(0.5, |a: &&[f32], b: &&[f32]| {
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| (x - y) * (x - y))
                    .sum::<f32>()
                    .sqrt()
            });
        tsne.embedding()
    });
    if flat.iter().any(|v| !v.is_finite()) {
        return Err(crate::Error::invalid(
            "t-SNE diverged (a coordinate is not finite)",
        ));
    }
    Ok(Some(flat.chunks(2).map(|p| [p[0], p[1]]).collect()))
}
