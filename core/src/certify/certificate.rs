//! CERTIFY and PREDICT on counted votes (Cohen et al. 2019, Algorithm "CERTIFY" and "PREDICT";
//! locuslab/smoothing `Smooth.certify` / `Smooth.predict`): pure functions of the counts, so a
//! record's certificate can be recomputed from the votes it keeps.
//!
//! Multi-label models are robustdx's extension: each finding is its own binary smoothed
//! classifier (present or absent on the noisy copies), certified with α shared out over the
//! findings (Bonferroni), so that every finding's certificate holds at once with probability at
//! least 1 − α. An image's exact-match verdict is certified within the smallest finding radius.

use serde::{Deserialize, Serialize};

use super::bounds::{binomial_two_sided_p, clopper_pearson_lower, normal_quantile};
use super::votes::{Votes, most_voted};
use crate::Label;
use crate::robustness::Decision;

/// The failure probability each head is certified at, so that all `heads` hold together at
/// `alpha`.
pub fn alpha_per_head(alpha: f64, heads: usize) -> f64 {
    alpha / heads.max(1) as f64
}

/// The largest radius `n` estimation copies can certify at `sigma` and `alpha` (every copy
/// voting for the guess): σ·Φ⁻¹(α^(1/n)). Fewer copies give an honestly smaller guarantee, however
/// confident the model is.
pub fn max_certifiable_radius(sigma: f64, n: u64, alpha: f64) -> f64 {
    sigma * normal_quantile(clopper_pearson_lower(n, n, alpha))
}

/// One head's CERTIFY: the selection copies' guess, the estimation copies' bound on its
/// probability, and the radius that bound guarantees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadCertificate {
    /// The outcome the selection copies voted for most (a class; for a finding 0 absent, 1
    /// present).
    pub guess: usize,
    /// Estimation copies that voted for the guess (n_A).
    pub votes_for_guess: u64,
    /// p̲_A: the one-sided Clopper–Pearson lower bound on the guess's probability under noise.
    pub p_lower: f64,
    /// σ·Φ⁻¹(p̲_A), in pixel units of [0, 1] images (L2); `None`: abstained, p̲_A < ½.
    pub radius: Option<f64>,
}

impl HeadCertificate {
    /// CERTIFY for one head: the guess from `selection`, its bound from `estimation` at
    /// `alpha`, the radius at noise level `sigma`.
    pub fn new(selection: &[u64], estimation: &[u64], sigma: f64, alpha: f64) -> Self {
        let guess = most_voted(selection);
        let n: u64 = estimation.iter().sum();
        let votes_for_guess = estimation[guess];
        let p_lower = clopper_pearson_lower(votes_for_guess, n, alpha);
        let radius = (p_lower >= 0.5).then(|| sigma * normal_quantile(p_lower));
        Self {
            guess,
            votes_for_guess,
            p_lower,
            radius,
        }
    }
}

/// An image's CERTIFY: one head per class set (single-label) or per finding (multi-label).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Each head's certificate, in the model's output order.
    pub heads: Vec<HeadCertificate>,
}

impl Certificate {
    /// CERTIFY from an image's selection and estimation votes at noise level `sigma` and
    /// failure probability `alpha` (shared out over a multi-label model's findings).
    pub fn new(selection: &Votes, estimation: &Votes, sigma: f64, alpha: f64) -> Self {
        let alpha = alpha_per_head(alpha, estimation.heads.len());
        let heads = selection
            .heads
            .iter()
            .zip(&estimation.heads)
            .map(|(s, e)| HeadCertificate::new(s, e, sigma, alpha))
            .collect();
        Self { heads }
    }

    /// What the smoothed classifier decides (findings when `multi_label`, else a class), or
    /// `None` when it abstains (on any finding).
    pub fn decision(&self, multi_label: bool) -> Option<Decision> {
        if self.heads.iter().any(|h| h.radius.is_none()) {
            return None;
        }
        Some(if multi_label {
            Decision::Findings(self.heads.iter().map(|h| h.guess == 1).collect())
        } else {
            Decision::Class(self.heads[0].guess)
        })
    }

    /// The certified L2 radius of the whole decision: the smallest over the heads; `None` when
    /// it abstains.
    pub fn radius(&self) -> Option<f64> {
        self.heads
            .iter()
            .map(|h| h.radius)
            .try_fold(f64::INFINITY, |r, h| h.map(|h| r.min(h)))
    }

    /// Whether the smoothed decision is correct for `label` (every finding, for multi-label),
    /// not abstained.
    pub fn is_correct(&self, label: &Label) -> bool {
        let multi_label = matches!(label, Label::Findings(_));
        self.decision(multi_label)
            .is_some_and(|d| d.is_correct(label))
    }
}

/// PREDICT for one head: the most voted outcome, or `None` (abstain) when the binomial test of
/// the top two counts does not reject an even split at `alpha`.
pub fn predict_head(counts: &[u64], alpha: f64) -> (Option<usize>, f64) {
    let top = most_voted(counts);
    let runner_up = counts
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != top)
        .map(|(_, &c)| c)
        .max()
        .unwrap_or(0);
    let p_value = binomial_two_sided_p(counts[top], counts[top] + runner_up);
    ((p_value <= alpha).then_some(top), p_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn votes(heads: &[&[u64]]) -> Votes {
        Votes {
            heads: heads.iter().map(|h| h.to_vec()).collect(),
        }
    }

    #[test]
    fn a_confident_head_is_certified_with_sigma_times_the_normal_quantile() {
        let selection = votes(&[&[2, 97, 1]]);
        let estimation = votes(&[&[40, 9_900, 60]]);
        let cert = Certificate::new(&selection, &estimation, 0.25, 0.001);
        let head = &cert.heads[0];
        assert_eq!((head.guess, head.votes_for_guess), (1, 9_900));
        let p_lower = clopper_pearson_lower(9_900, 10_000, 0.001);
        assert_eq!(head.p_lower, p_lower);
        assert!(p_lower < 0.99 && p_lower > 0.98, "{p_lower}");
        assert!((head.radius.unwrap() - 0.25 * normal_quantile(p_lower)).abs() < 1e-15);
        assert_eq!(cert.decision(false), Some(Decision::Class(1)));
        assert!(cert.is_correct(&Label::Class(1)));
        assert!(!cert.is_correct(&Label::Class(0)));
    }

    #[test]
    fn the_largest_radius_is_reached_when_every_copy_agrees() {
        let largest = max_certifiable_radius(0.25, 1_000, 0.001);
        assert!((largest - 0.25 * normal_quantile(0.001f64.powf(1e-3))).abs() < 1e-12);
        assert!((largest - 0.615).abs() < 0.001, "{largest}");
        let all = HeadCertificate::new(&[0, 10], &[0, 1_000], 0.25, 0.001);
        assert_eq!(all.radius, Some(largest));
        // More copies, a larger guarantee.
        assert!(max_certifiable_radius(0.25, 100_000, 0.001) > largest);
    }

    #[test]
    fn below_one_half_it_abstains() {
        // The selection's guess wins only half the estimation copies: p̲_A < ½.
        let cert = Certificate::new(&votes(&[&[60, 40]]), &votes(&[&[500, 500]]), 0.5, 0.001);
        assert_eq!(cert.heads[0].radius, None);
        assert_eq!(cert.radius(), None);
        assert_eq!(cert.decision(false), None);
        assert!(!cert.is_correct(&Label::Class(0)));
        // A wrong guess from the selection is certified against, whatever the estimation says.
        let cert = Certificate::new(&votes(&[&[60, 40]]), &votes(&[&[10, 990]]), 0.5, 0.001);
        assert_eq!(cert.heads[0].guess, 0);
        assert_eq!(cert.decision(false), None);
    }

    #[test]
    fn findings_share_alpha_and_the_image_keeps_the_smallest_radius() {
        let selection = votes(&[&[90, 10], &[5, 95]]);
        let estimation = votes(&[&[900, 100], &[20, 980]]);
        let cert = Certificate::new(&selection, &estimation, 0.25, 0.002);
        let first = clopper_pearson_lower(900, 1_000, 0.001);
        let second = clopper_pearson_lower(980, 1_000, 0.001);
        assert_eq!(cert.heads[0].p_lower, first);
        assert_eq!(cert.heads[1].p_lower, second);
        let radius = 0.25 * normal_quantile(first);
        assert!((cert.radius().unwrap() - radius).abs() < 1e-15);
        assert_eq!(
            cert.decision(true),
            Some(Decision::Findings(vec![false, true]))
        );
        assert!(cert.is_correct(&Label::Findings(vec![false, true])));
        assert!(!cert.is_correct(&Label::Findings(vec![true, true])));
        // One finding abstaining makes the whole image abstain.
        let unsure = votes(&[&[900, 100], &[510, 490]]);
        let cert = Certificate::new(&selection, &unsure, 0.25, 0.002);
        assert!(cert.heads[0].radius.is_some());
        assert_eq!(cert.radius(), None);
    }

    #[test]
    fn predict_abstains_unless_the_top_two_differ_significantly() {
        assert_eq!(predict_head(&[3, 50, 47], 0.001).0, None);
        let (top, p) = predict_head(&[3, 90, 7], 0.001);
        assert_eq!(top, Some(1));
        assert!((p - binomial_two_sided_p(90, 97)).abs() < 1e-15);
        // Every copy for one class: the other heads' zero counts are the runner-up.
        assert_eq!(predict_head(&[0, 0, 20], 0.001).0, Some(2));
        assert_eq!(predict_head(&[0, 0, 5], 0.001).0, None);
    }
}
