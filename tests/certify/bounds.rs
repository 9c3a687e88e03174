//! robustdx's three statistics (`robustdx_core::certify::{clopper_pearson_lower,
//! normal_quantile, binomial_two_sided_p}`) against the values the reference's own libraries give
//! (`tests/fixtures/certify/make_bounds.py`: statsmodels' Clopper–Pearson, scipy's `norm.ppf` and
//! `binomtest`) and against mpmath's 40-digit answers.
//!
//! Φ⁻¹ agrees to a few ulps everywhere. The other two go through statrs' regularised incomplete
//! beta, whose prefactor exp(ln Γ(a + b) − ln Γ(a) − ln Γ(b) + a ln x + b ln(1 − x)) subtracts
//! terms of size n·ln n to get a number of size 1: each carries a rounding of ε·n·ln n, so the
//! result's relative error grows with n (measured: 5e-13 at n = 100, 1.3e-12 at 1 000, 1.8e-11 at
//! 10 000, 9.5e-10 at 100 000, scipy's Boost being exact to 1e-12 there). The tolerance follows
//! that law with a factor of about two to spare; a certificate's radius moves by far less than
//! one vote would move it.

use robustdx_core::certify::{binomial_two_sided_p, clopper_pearson_lower, normal_quantile};
use serde_json::Value;

use super::{fixture, number};

/// Relative tolerance of a statistic computed through the incomplete beta with n trials.
fn incomplete_beta_tolerance(trials: u64) -> f64 {
    let n = trials as f64;
    (8.0 * f64::EPSILON * n * n.ln()).max(1e-12)
}

/// Relative tolerance of Φ⁻¹: a few ulps (statrs ports Boost's erfc⁻¹).
const NORMAL_QUANTILE_TOLERANCE: f64 = 1e-15;

/// One value of ours beside the reference's, with the tolerance it is held to.
struct Comparison {
    case: String,
    ours: f64,
    theirs: f64,
    tolerance: f64,
}

impl Comparison {
    /// |ours − theirs| relative to theirs, as a multiple of the tolerance; an exact zero must be
    /// matched exactly.
    fn excess(&self) -> f64 {
        let error = if self.theirs == 0.0 {
            if self.ours == 0.0 { 0.0 } else { f64::INFINITY }
        } else {
            ((self.ours - self.theirs) / self.theirs).abs()
        };
        error / self.tolerance
    }
}

/// The comparison furthest outside (or least inside) its tolerance.
fn worst(comparisons: &[Comparison]) -> &Comparison {
    comparisons
        .iter()
        .max_by(|a, b| a.excess().total_cmp(&b.excess()))
        .unwrap()
}

/// Asserts every comparison within its tolerance, and prints the closest call, so a tolerance
/// looser than needed shows.
fn check(name: &str, comparisons: &[Comparison]) {
    for c in comparisons {
        assert!(
            c.excess() <= 1.0,
            "{name} {}: {:e} vs {:e}, {:.1} times the tolerance {:.0e}",
            c.case,
            c.ours,
            c.theirs,
            c.excess(),
            c.tolerance
        );
    }
    let w = worst(comparisons);
    eprintln!(
        "{name}: {} cases, closest {:.2} of the tolerance at {} ({:e} vs {:e})",
        comparisons.len(),
        w.excess(),
        w.case,
        w.ours,
        w.theirs
    );
}

/// The fixture's cases of one function.
fn cases(name: &str) -> Vec<Value> {
    let cases = fixture("bounds.json")[name].as_array().unwrap().clone();
    assert!(cases.len() > 20, "{name}: only {} cases", cases.len());
    cases
}

/// Our Clopper–Pearson bound (by `bound`) beside the fixture's `reference` column.
fn clopper_pearson(reference: &str, bound: impl Fn(u64, u64, f64) -> f64) -> Vec<Comparison> {
    cases("clopper_pearson_lower")
        .iter()
        .map(|case| {
            let successes = case["successes"].as_u64().unwrap();
            let trials = case["trials"].as_u64().unwrap();
            let alpha = number(&case["alpha"]);
            Comparison {
                case: format!("nA {successes} of n {trials}, α {alpha}"),
                ours: bound(successes, trials, alpha),
                theirs: number(&case[reference]),
                tolerance: incomplete_beta_tolerance(trials),
            }
        })
        .collect()
}

/// Our Φ⁻¹ (by `quantile`) beside the fixture's `reference` column.
fn normal(reference: &str, quantile: impl Fn(f64) -> f64) -> Vec<Comparison> {
    cases("normal_quantile")
        .iter()
        .map(|case| {
            let p = number(&case["p"]);
            Comparison {
                case: format!("p {p:e}"),
                ours: quantile(p),
                theirs: number(&case[reference]),
                tolerance: NORMAL_QUANTILE_TOLERANCE,
            }
        })
        .collect()
}

/// Our binomial test (by `test`) beside the fixture's `reference` column.
fn binomial(reference: &str, test: impl Fn(u64, u64) -> f64) -> Vec<Comparison> {
    cases("binomial_two_sided_p")
        .iter()
        .map(|case| {
            let (k, n) = (case["k"].as_u64().unwrap(), case["n"].as_u64().unwrap());
            Comparison {
                case: format!("k {k} of n {n}"),
                ours: test(k, n),
                theirs: number(&case[reference]),
                tolerance: incomplete_beta_tolerance(n),
            }
        })
        .collect()
}

#[test]
fn clopper_pearson_matches_the_references_bound() {
    check(
        "Clopper–Pearson vs statsmodels",
        &clopper_pearson("statsmodels", clopper_pearson_lower),
    );
    check(
        "Clopper–Pearson vs mpmath",
        &clopper_pearson("exact", clopper_pearson_lower),
    );
}

#[test]
fn the_normal_quantile_matches_scipy_into_the_tails() {
    check("Φ⁻¹ vs scipy", &normal("scipy", normal_quantile));
    check("Φ⁻¹ vs mpmath", &normal("exact", normal_quantile));
}

#[test]
fn the_binomial_test_matches_scipys_binomtest() {
    check(
        "binomial test vs scipy",
        &binomial("scipy", binomial_two_sided_p),
    );
    check(
        "binomial test vs mpmath",
        &binomial("exact", binomial_two_sided_p),
    );
}

/// The tolerances are tight enough to catch the mistakes these functions invite: the quantile
/// at the wrong end of the distribution, a one-sided test, the bound of a two-sided interval.
#[test]
fn a_wrong_tail_is_far_outside_the_tolerances() {
    let two_sided_interval = |k, n, alpha: f64| clopper_pearson_lower(k, n, alpha / 2.0);
    let upper_end = |k, n, alpha: f64| clopper_pearson_lower(k, n, 1.0 - alpha);
    let one_sided = |k, n| binomial_two_sided_p(k, n) / 2.0;
    let mirrored = |p: f64| normal_quantile(1.0 - p);
    for (name, comparisons) in [
        (
            "Clopper–Pearson at α/2",
            clopper_pearson("statsmodels", two_sided_interval),
        ),
        (
            "Clopper–Pearson at 1 − α",
            clopper_pearson("statsmodels", upper_end),
        ),
        ("one-sided binomial test", binomial("scipy", one_sided)),
        ("Φ⁻¹(1 − p)", normal("scipy", mirrored)),
    ] {
        // Every case where the mistake changes the value at all (not nA = 0, p = ½ or a tie) is
        // out by far more than its tolerance.
        let caught = comparisons.iter().filter(|c| c.excess() > 1e3).count();
        let unchanged = comparisons.iter().filter(|c| c.excess() == 0.0).count();
        assert_eq!(
            caught + unchanged,
            comparisons.len(),
            "{name}: {} slips through",
            worst_below(&comparisons, 1e3).case
        );
        assert!(caught > comparisons.len() / 2, "{name}: {caught} caught");
    }
}

/// The comparison furthest outside its tolerance yet below `limit` times it.
fn worst_below(comparisons: &[Comparison], limit: f64) -> &Comparison {
    comparisons
        .iter()
        .filter(|c| c.excess() <= limit && c.excess() > 0.0)
        .max_by(|a, b| a.excess().total_cmp(&b.excess()))
        .unwrap()
}
