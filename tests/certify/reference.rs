//! robustdx's CERTIFY and PREDICT against locuslab/smoothing's own `Smooth.certify` /
//! `Smooth.predict`, run on the same model, crops and σ (`tests/fixtures/certify/
//! make_certify_golden.py`). The noise differs — ours is keyed per copy, theirs is torch's
//! generator — so the two agree in distribution, not bit for bit.
//!
//! What "agree" means: a count k of n copies and the reference's K of N = 100 000 for the same
//! class must be compatible with one probability p, i.e. their two-sided 1 − 10⁻⁶ Clopper–Pearson
//! intervals overlap. Each interval misses the true p with probability at most 10⁻⁶, so a correct
//! implementation fails a comparison with probability at most 2·10⁻⁶ (the exact form of "within
//! five standard deviations", which also holds where p is within 10⁻⁴ of 1 and counts are
//! Poisson-like). The counts compatible with K of N make a band [k_lo, k_hi]; the radius is
//! increasing in k, so a certificate must lie between σΦ⁻¹(p̲(k_lo)) and σΦ⁻¹(p̲(k_hi)), and where
//! the whole band certifies (or abstains) so must we.

use burn::tensor::Device;
use futures_lite::future::block_on;
use robustdx_core::certify::{
    CertifySettings, NoiseKey, Smoothed, binomial_two_sided_p, clopper_pearson_lower,
    default_copies_per_batch, normal_quantile,
};
use robustdx_core::data::Image;
use robustdx_core::model::DiagnosticModel;
use serde_json::Value;

use super::{fixture, fixtures, number};

/// The two-sided probability that a compatibility interval misses the true p.
const MISS: f64 = 1e-6;

/// Estimation copies of each CERTIFY compared: the n of the reference's small run, so that its
/// radii and ours come from the same sample size.
const CERTIFY_COPIES: u64 = 2_000;

/// PREDICT's decision is compared where the reference's decision has at least this probability
/// under its own large-run frequencies (the script simulates it).
const PREDICT_CONFIDENCE: f64 = 0.99;

/// The two-sided 1 − `MISS` Clopper–Pearson interval of a proportion after k of n.
fn interval(k: u64, n: u64) -> (f64, f64) {
    let lower = clopper_pearson_lower(k, n, MISS / 2.0);
    let upper = 1.0 - clopper_pearson_lower(n - k, n, MISS / 2.0);
    (lower, upper)
}

/// The counts of `n` copies compatible with the reference's `reference` of `reference_n`.
fn compatible_counts(reference: u64, reference_n: u64, n: u64) -> (u64, u64) {
    let (low, high) = interval(reference, reference_n);
    let overlaps = |k| {
        let (l, h) = interval(k, n);
        l <= high && low <= h
    };
    let first = (0..=n).find(|&k| overlaps(k)).unwrap();
    let last = (0..=n).rev().find(|&k| overlaps(k)).unwrap();
    assert!((first..=last).all(overlaps), "the band is not contiguous");
    (first, last)
}

/// CERTIFY's radius for `votes` of `n` for the guess, `None` when it abstains.
fn radius(votes: u64, n: u64, sigma: f64, alpha: f64) -> Option<f64> {
    let p_lower = clopper_pearson_lower(votes, n, alpha);
    (p_lower >= 0.5).then(|| sigma * normal_quantile(p_lower))
}

fn counts(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

/// The reference's class, `None` for its ABSTAIN (−1).
fn class(value: &Value) -> Option<usize> {
    let class = value.as_i64().unwrap();
    (class >= 0).then_some(class as usize)
}

/// Most votes, the first on a tie (numpy's argmax).
fn argmax(counts: &[u64]) -> usize {
    let top = *counts.iter().max().unwrap();
    counts.iter().position(|&c| c == top).unwrap()
}

/// The 10-class fixture ResNet-18 (`tests/fixtures/attacks/make_models.py`), with ImageNet
/// normalisation as its first step.
fn model(device: &Device) -> DiagnosticModel {
    robustdx_tests::fixture_resnet18(
        &fixtures("attacks").join("resnet-18-10.safetensors"),
        device,
    )
}

/// The 64 × 64 crop of the fixture photograph at (top, left).
fn crop(photo: &Image, top: usize, left: usize) -> Image {
    let mut pixels = Vec::with_capacity(3 * 64 * 64);
    for c in 0..3 {
        for row in top..top + 64 {
            let at = (c * photo.height + row) * photo.width + left;
            pixels.extend_from_slice(&photo.pixels[at..at + 64]);
        }
    }
    Image::new(3, 64, 64, pixels)
}

/// One (crop, σ) of the fixture, with the reference's runs.
struct Case {
    name: String,
    image: Image,
    sigma: f64,
    golden: Value,
}

fn cases() -> (Vec<Case>, Value) {
    let golden = fixture("certify_golden.json");
    let photo = Image::decode(
        &std::fs::read(fixtures("perturb").join("photo.png")).unwrap(),
        "photo.png",
    )
    .unwrap();
    let cases = golden["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let top_left = counts(&case["top_left"]);
            let sigma = number(&case["sigma"]);
            Case {
                name: format!("crop {top_left:?} at σ {sigma}"),
                image: crop(&photo, top_left[0] as usize, top_left[1] as usize),
                sigma,
                golden: case.clone(),
            }
        })
        .collect();
    (cases, golden)
}

/// The reference's large run (N = 100 000 estimation copies): what a run at n copies may see.
struct Reference {
    /// Its estimation counts per class.
    counts: Vec<u64>,
    /// The class it certified, or its most voted class when it abstained.
    class: usize,
}

impl Reference {
    fn new(case: &Case) -> Self {
        let run = &case.golden["reference"];
        let counts = counts(&run["estimation"]);
        assert_eq!(counts.iter().sum::<u64>(), run["n"].as_u64().unwrap());
        let class = class(&run["prediction"]).unwrap_or_else(|| argmax(&counts));
        Self { counts, class }
    }

    /// The counts of `class` among n copies compatible with the reference's.
    fn band(&self, class: usize, n: u64) -> (u64, u64) {
        compatible_counts(self.counts[class], self.counts.iter().sum(), n)
    }

    /// CERTIFY's radii at the ends of `class`'s band (`None`: abstain).
    fn radii(&self, class: usize, n: u64, sigma: f64, alpha: f64) -> (Option<f64>, Option<f64>) {
        let (low, high) = self.band(class, n);
        (radius(low, n, sigma, alpha), radius(high, n, sigma, alpha))
    }

    /// CERTIFY's decision at n copies when the band determines it: `Some(Some(class))` when its
    /// whole band certifies, `Some(None)` when it abstains throughout, `None` when it straddles
    /// the threshold.
    fn certify_decision(&self, n: u64, sigma: f64, alpha: f64) -> Option<Option<usize>> {
        match self.radii(self.class, n, sigma, alpha) {
            (Some(_), _) => Some(Some(self.class)),
            (_, None) => Some(None),
            _ => None,
        }
    }

    /// Checks a CERTIFY run at n copies by `who`: its votes for its `guess` within the guess's
    /// band, its radius (if any) between the band's.
    fn check_certify(&self, who: &str, run: &CertifyRun, n: u64, sigma: f64, alpha: f64) {
        let band = self.band(run.guess, n);
        assert!(
            (band.0..=band.1).contains(&run.votes),
            "{who}: {} votes for class {}, compatible are {band:?}",
            run.votes,
            run.guess
        );
        let radii = self.radii(run.guess, n, sigma, alpha);
        match (run.radius, radii) {
            (Some(r), (low, Some(high))) => {
                let low = low.unwrap_or(0.0);
                assert!(
                    low <= r && r <= high,
                    "{who}: radius {r} outside [{low}, {high}]"
                );
            }
            (Some(r), (_, None)) => panic!("{who}: radius {r} where the whole band abstains"),
            (None, (Some(low), _)) => panic!("{who}: abstained where the band certifies ≥ {low}"),
            (None, (None, _)) => {}
        }
        if let Some(decision) = self.certify_decision(n, sigma, alpha) {
            assert_eq!(
                run.decision(),
                decision,
                "{who}: the band determines the decision"
            );
        }
    }
}

/// One CERTIFY run's outcome.
#[derive(Debug)]
struct CertifyRun {
    guess: usize,
    votes: u64,
    radius: Option<f64>,
}

impl CertifyRun {
    fn decision(&self) -> Option<usize> {
        self.radius.map(|_| self.guess)
    }
}

#[test]
fn certify_agrees_with_the_reference_on_the_fixture_model() {
    let device = Device::flex();
    let model = model(&device);
    let (cases, golden) = cases();
    let n0 = golden["n0"].as_u64().unwrap();
    let alpha = number(&golden["alpha"]);
    let settings = CertifySettings {
        n0,
        n: CERTIFY_COPIES,
        alpha,
    };
    let (mut certified, mut abstained) = (0, 0);
    for (index, case) in cases.iter().enumerate() {
        let reference = Reference::new(case);
        let n = CERTIFY_COPIES;

        // The reference's own run at our n: the tolerance must hold for it too.
        let run = &case.golden["test"];
        assert_eq!(run["n"].as_u64().unwrap(), n);
        let guess = argmax(&counts(&run["selection"]));
        let theirs = CertifyRun {
            guess,
            votes: counts(&run["estimation"])[guess],
            radius: class(&run["prediction"]).map(|_| number(&run["radius"])),
        };
        assert_eq!(class(&run["prediction"]), theirs.decision());
        let who = format!("{}, the reference", case.name);
        reference.check_certify(&who, &theirs, n, case.sigma, alpha);

        let smoothed = Smoothed::new(&model, case.sigma).unwrap();
        let key = NoiseKey {
            seed: 0,
            index: index as u64,
        };
        let batch = default_copies_per_batch(3 * 64 * 64);
        let result = block_on(smoothed.certify(
            case.image.clone(),
            key,
            &settings,
            batch,
            &device,
            &mut |_| {},
        ))
        .unwrap();
        assert_eq!(result.selection.copies(), n0);
        assert_eq!(result.estimation.copies(), n);
        let head = &result.certificate.heads[0];
        let ours = CertifyRun {
            guess: head.guess,
            votes: head.votes_for_guess,
            radius: head.radius,
        };
        reference.check_certify(
            &format!("{}, robustdx", case.name),
            &ours,
            n,
            case.sigma,
            alpha,
        );

        let determined = reference.certify_decision(n, case.sigma, alpha);
        match determined {
            Some(Some(_)) => certified += 1,
            Some(None) => abstained += 1,
            None => {}
        }
        eprintln!(
            "{}: robustdx {ours:?}, reference {theirs:?}; class {} compatible {:?} → radii {:?}, \
             decision {determined:?}",
            case.name,
            reference.class,
            reference.band(reference.class, n),
            reference.radii(reference.class, n, case.sigma, alpha),
        );
    }
    // The crops are chosen so that most decisions are determined, both ways.
    assert!(
        certified >= 3 && abstained >= 1,
        "{certified} certified, {abstained} abstained"
    );
}

#[test]
fn predict_agrees_with_the_reference_on_the_fixture_model() {
    let device = Device::flex();
    let model = model(&device);
    let (cases, golden) = cases();
    let alpha = number(&golden["alpha"]);
    let (mut predicted, mut abstained) = (0, 0);
    for (index, case) in cases.iter().enumerate() {
        let reference = Reference::new(case);
        let run = &case.golden["predict"];
        let n = run["n"].as_u64().unwrap();
        let theirs = class(&run["prediction"]);
        let their_counts = counts(&run["counts"]);

        let smoothed = Smoothed::new(&model, case.sigma).unwrap();
        let key = NoiseKey {
            seed: 1,
            index: index as u64,
        };
        let batch = default_copies_per_batch(3 * 64 * 64);
        let result =
            block_on(smoothed.predict(case.image.clone(), key, n, alpha, batch, &device)).unwrap();
        let ours = result.heads[0].0;
        let our_counts = &result.votes.heads[0];
        assert_eq!(our_counts.iter().sum::<u64>(), n);

        // Every class's count, ours and the reference's, compatible with the large run.
        for class in 0..reference.counts.len() {
            let band = reference.band(class, n);
            for (who, count) in [
                ("robustdx", our_counts[class]),
                ("the reference", their_counts[class]),
            ] {
                assert!(
                    (band.0..=band.1).contains(&count),
                    "{}, {who}: {count} copies for class {class}, compatible are {band:?}",
                    case.name
                );
            }
        }

        // The decision is determined when the test of the top two counts comes out the same
        // at both corners of their bands.
        let mut by_votes: Vec<usize> = (0..reference.counts.len()).collect();
        by_votes.sort_by_key(|&c| std::cmp::Reverse(reference.counts[c]));
        let (top, runner_up) = (
            reference.band(by_votes[0], n),
            reference.band(by_votes[1], n),
        );
        let significant = |a: u64, b: u64| a > b && binomial_two_sided_p(a, a + b) <= alpha;
        let tied = |a: u64, b: u64| binomial_two_sided_p(a, a + b) > alpha;
        let determined = if significant(top.0, runner_up.1) {
            Some(Some(by_votes[0]))
        } else if tied(top.1, runner_up.0) && tied(top.0, runner_up.1) {
            Some(None)
        } else {
            None
        };
        let probability = number(&run["decision_probability"]);
        match determined {
            Some(decision) => {
                assert_eq!(ours, decision, "{}: robustdx", case.name);
                assert_eq!(theirs, decision, "{}: the reference", case.name);
            }
            // Not determined at 10⁻⁶: compared where the reference's decision is still what
            // its frequencies give with probability ≥ PREDICT_CONFIDENCE (a near tie, which
            // PREDICT is built to abstain on with probability about 1 − α).
            None if probability >= PREDICT_CONFIDENCE => {
                assert_eq!(
                    ours, theirs,
                    "{}: decided with probability {probability}",
                    case.name
                )
            }
            None => {}
        }
        if determined.is_some() || probability >= PREDICT_CONFIDENCE {
            match theirs {
                Some(_) => predicted += 1,
                None => abstained += 1,
            }
        }
        eprintln!(
            "{}: robustdx {ours:?}, reference {theirs:?} (probability {probability}), \
             determined {determined:?}",
            case.name
        );
    }
    assert!(
        predicted >= 3 && abstained >= 1,
        "{predicted} predictions, {abstained} abstentions compared"
    );
}

/// The compatibility band is the exact form of a normal-approximation band: two intervals of
/// z = Φ⁻¹(1 − MISS/2) ≈ 4.89 standard deviations each must touch, so k/n may stray from K/N by
/// z·(√(p(1 − p)/n) + √(p(1 − p)/N)).
#[test]
fn the_compatible_counts_are_the_binomial_spread_on_both_sides() {
    let z = normal_quantile(1.0 - MISS / 2.0);
    assert!((z - 4.89).abs() < 0.01, "{z}");
    for (reference, reference_n, n) in [
        (50_000u64, 100_000u64, 2_000u64),
        (67_900, 100_000, 2_000),
        (92_597, 100_000, 500),
    ] {
        let p = reference as f64 / reference_n as f64;
        let spread = |copies: u64| (p * (1.0 - p) / copies as f64).sqrt();
        let half_width = z * (spread(n) + spread(reference_n)) * n as f64;
        let centre = p * n as f64;
        let (low, high) = compatible_counts(reference, reference_n, n);
        // Clopper–Pearson is exact: a little wider than the normal approximation, and skewed
        // towards ½ (by 15 % of the width at p = 0.93, n = 500).
        for (end, approximate) in [(low, centre - half_width), (high, centre + half_width)] {
            assert!(
                (end as f64 - approximate).abs() <= 0.2 * half_width,
                "{reference} of {reference_n} at n {n}: band ({low}, {high}) vs {approximate}"
            );
        }
    }
    // Every copy for one class: the band reaches n, and how far below it goes is the Poisson
    // tail of the few misses N = 100 000 copies cannot rule out.
    let (low, high) = compatible_counts(100_000, 100_000, 2_000);
    assert_eq!(high, 2_000);
    assert!((1_990..2_000).contains(&low), "{low}");
    // A class that never won stays out of reach of a certificate.
    assert_eq!(compatible_counts(0, 100_000, 2_000).0, 0);
    assert!(compatible_counts(0, 100_000, 2_000).1 < 10);
}
