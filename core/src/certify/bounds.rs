//! The statistics randomized smoothing rests on (Cohen, Rosenfeld & Kolter 2019, and
//! locuslab/smoothing's `core.py`): a one-sided Clopper–Pearson lower bound on the top class's
//! probability, the two-sided binomial test PREDICT abstains by, and the normal quantile that turns
//! a probability into a radius. The special functions come from statrs.

use statrs::distribution::{Beta, ContinuousCDF, Normal};
use statrs::function::beta::beta_reg;

/// The one-sided (1 − α) Clopper–Pearson lower bound on a binomial proportion after `successes`
/// of `trials`: the α quantile of Beta(successes, trials − successes + 1), 0 when nothing
/// succeeded (the reference's `proportion_confint(nA, n, alpha=2α, method="beta")[0]`).
///
/// `successes ≤ trials`, `trials ≥ 1` and `0 < alpha < 1` are the caller's to check (the
/// settings are validated once per run).
pub fn clopper_pearson_lower(successes: u64, trials: u64, alpha: f64) -> f64 {
    debug_assert!(successes <= trials && trials > 0 && alpha > 0.0 && alpha < 1.0);
    if successes == 0 {
        return 0.0;
    }
    Beta::new(successes as f64, (trials - successes + 1) as f64)
        .expect("both shapes are at least 1")
        .inverse_cdf(alpha)
}

/// The two-sided p-value of `k` successes in `n` fair coin flips (scipy's `binomtest(k, n,
/// 0.5)`): by symmetry, twice the lower tail at min(k, n − k), at most 1. PREDICT abstains when
/// the top two classes' counts do not differ at level α.
pub fn binomial_two_sided_p(k: u64, n: u64) -> f64 {
    debug_assert!(k <= n);
    if n == 0 {
        return 1.0;
    }
    let m = k.min(n - k);
    // P(X ≤ m) for X ~ Binomial(n, ½) is the regularised incomplete beta I_½(n − m, m + 1); read
    // directly, not as 1 − the upper tail, so that small p-values keep their digits.
    (2.0 * beta_reg((n - m) as f64, (m + 1) as f64, 0.5)).min(1.0)
}

/// Φ⁻¹(p), the standard normal quantile, for p in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binomial(n, ½) probabilities summed by hand.
    fn lower_tail(m: u64, n: u64) -> f64 {
        let mut total = 0.0;
        let mut choose = 1.0f64;
        for i in 0..=m {
            if i > 0 {
                choose *= (n - i + 1) as f64 / i as f64;
            }
            total += choose;
        }
        total / 2f64.powi(n as i32)
    }

    #[test]
    fn clopper_pearson_has_its_closed_forms_at_the_ends() {
        // All successes: Beta(n, 1) has CDF pⁿ, so the bound is α^(1/n).
        for (n, alpha) in [(10u64, 0.001), (100, 0.05), (100_000, 0.001)] {
            let lower = clopper_pearson_lower(n, n, alpha);
            assert!(
                (lower - alpha.powf(1.0 / n as f64)).abs() < 1e-12,
                "{n} {alpha} {lower}"
            );
        }
        // One success of one trial: Beta(1, 1) is uniform, the bound is α itself.
        assert!((clopper_pearson_lower(1, 1, 0.05) - 0.05).abs() < 1e-12);
        // One success of n: Beta(1, n) has CDF 1 − (1 − p)ⁿ, the bound is 1 − (1 − α)^(1/n).
        let lower = clopper_pearson_lower(1, 20, 0.01);
        assert!((lower - (1.0 - 0.99f64.powf(1.0 / 20.0))).abs() < 1e-12);
        assert_eq!(clopper_pearson_lower(0, 50, 0.001), 0.0);
    }

    #[test]
    fn clopper_pearson_lies_below_the_estimate_and_tightens_with_samples() {
        let mut previous = 0.0;
        for n in [100u64, 1_000, 10_000, 100_000] {
            let lower = clopper_pearson_lower(n * 9 / 10, n, 0.001);
            assert!(lower < 0.9 && lower > previous, "{n}: {lower}");
            previous = lower;
        }
        // A smaller α (more confidence) is a lower bound.
        assert!(clopper_pearson_lower(90, 100, 0.001) < clopper_pearson_lower(90, 100, 0.05));
    }

    #[test]
    fn the_binomial_test_matches_sums_by_hand() {
        for (k, n) in [
            (0u64, 1u64),
            (3, 10),
            (7, 10),
            (12, 20),
            (0, 30),
            (30, 30),
            (45, 60),
        ] {
            let expected = (2.0 * lower_tail(k.min(n - k), n)).min(1.0);
            let p = binomial_two_sided_p(k, n);
            assert!(
                (p - expected).abs() < 1e-12 * expected.max(1e-300),
                "{k}/{n}: {p} vs {expected}"
            );
        }
        // An even split is no evidence at all.
        assert_eq!(binomial_two_sided_p(50, 100), 1.0);
        // Tiny p-values keep their digits: 2·2⁻¹⁰⁰⁰ for a thousand of a thousand.
        let p = binomial_two_sided_p(1_000, 1_000);
        assert!(
            (p.ln() - (2f64.ln() - 1000.0 * 2f64.ln())).abs() < 1e-9,
            "{p}"
        );
    }

    #[test]
    fn the_normal_quantile_inverts_known_points() {
        assert!(normal_quantile(0.5).abs() < 1e-12);
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-9);
        assert!((normal_quantile(0.999) - 3.090_232_306_167_813_5).abs() < 1e-9);
        assert!((normal_quantile(0.1) + 1.281_551_565_544_600_5).abs() < 1e-9);
    }
}
