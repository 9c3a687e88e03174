//! How well a feature separates the classes, as numbers: the silhouette score (Rousseeuw 1987;
//! Euclidean, mean over points) and the Fisher ratio (between-class over within-class scatter).
//! The seed study showed t-SNE pictures of clean and adversarial features; these say the same in
//! two numbers per condition.

/// This analysis in the [registry](super::ANALYSES).
pub(super) const ENTRY: super::AnalysisEntry = super::AnalysisEntry {
    name: "separation",
    about: "silhouette and Fisher ratio of the penultimate features by class, clean and adversarial",
    revision: 0,
};

/// Mean silhouette of `points` (rows) grouped by `labels`: per point (b − a) / max(a, b), a its
/// mean distance to its own group, b the smallest mean distance to another group; a point alone
/// in its group scores 0. `None` with fewer than two groups.
pub fn silhouette(points: &[Vec<f32>], labels: &[usize]) -> Option<f64> {
    let groups = labels.iter().copied().max().map_or(0, |m| m + 1);
    let sizes = (0..groups)
        .map(|g| labels.iter().filter(|&&l| l == g).count())
        .collect::<Vec<_>>();
    if sizes.iter().filter(|&&n| n > 0).count() < 2 {
        return None;
    }
    let distance = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut total = 0.0;
    for (i, p) in points.iter().enumerate() {
        let mut sums = vec![0.0; groups];
        for (j, q) in points.iter().enumerate() {
            if i != j {
                sums[labels[j]] += distance(p, q);
            }
        }
        let own = labels[i];
        if sizes[own] < 2 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..groups)
            .filter(|&g| g != own && sizes[g] > 0)
            .map(|g| sums[g] / sizes[g] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    Some(total / points.len() as f64)
}

/// Fisher ratio of `points` grouped by `labels`: Σ_g n_g ‖μ_g − μ‖² / Σ_i ‖x_i − μ_{g(i)}‖² (the
/// traces of the between- and within-class scatter matrices). `None` with fewer than two groups
/// or no spread within them.
pub fn fisher_ratio(points: &[Vec<f32>], labels: &[usize]) -> Option<f64> {
    let dims = points.first()?.len();
    let groups = labels.iter().copied().max()? + 1;
    let mut means = vec![vec![0.0f64; dims]; groups];
    let mut sizes = vec![0usize; groups];
    let mut overall = vec![0.0f64; dims];
    for (p, &l) in points.iter().zip(labels) {
        sizes[l] += 1;
        for (k, &v) in p.iter().enumerate() {
            means[l][k] += v as f64;
            overall[k] += v as f64;
        }
    }
    if sizes.iter().filter(|&&n| n > 0).count() < 2 {
        return None;
    }
    for (mean, &n) in means.iter_mut().zip(&sizes) {
        mean.iter_mut().for_each(|v| *v /= n.max(1) as f64);
    }
    overall.iter_mut().for_each(|v| *v /= points.len() as f64);
    let between: f64 = means
        .iter()
        .zip(&sizes)
        .map(|(m, &n)| {
            n as f64
                * m.iter()
                    .zip(&overall)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
        })
        .sum();
    let within: f64 = points
        .iter()
        .zip(labels)
        .map(|(p, &l)| {
            p.iter()
                .zip(&means[l])
                .map(|(&v, m)| (v as f64 - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    (within > 0.0).then(|| between / within)
}
