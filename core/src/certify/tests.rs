//! Randomized smoothing of models whose smoothed probabilities are known in closed form: an
//! affine model's decision is a half-space, whose probability under N(0, σ²I) noise is
//! Φ(distance / σ), so the exact certified radius is the distance to its boundary.

use futures_lite::future::block_on;

use super::*;
use crate::data::Image;
use crate::model::{DiagnosticModel, affine_model};
use crate::test_support::cpu;
use crate::{Label, TaskKind};

/// Side of the test images (grayscale): d = 64 pixels.
const SIZE: usize = 8;
/// The images' constant pixel value; normalised by the card's 0.5 / 0.25, it is 0.4.
const PIXEL: f32 = 0.6;
/// The grayscale normalisation's standard deviation (`InputSpec::with_default_stats`).
const NORM_STD: f64 = 0.25;

fn image() -> Image {
    Image::new(1, SIZE, SIZE, vec![PIXEL; SIZE * SIZE])
}

/// The L2 distance from the image to the boundary of logit `gain`·mean(x') + `bias` = 0: the
/// logit's gradient in pixels has norm |gain| / (NORM_STD·√d).
fn distance_to_boundary(gain: f64, bias: f64) -> f64 {
    let normalised = (PIXEL as f64 - 0.5) / NORM_STD;
    let logit = gain * normalised + bias;
    logit.abs() * NORM_STD * (SIZE as f64) / gain.abs()
}

fn certify(model: &DiagnosticModel, sigma: f64, n: u64, seed: u64, batch: usize) -> CertifiedImage {
    let smoothed = Smoothed::new(model, sigma).unwrap();
    let settings = CertifySettings {
        n0: 100,
        n,
        alpha: 0.001,
    };
    let key = NoiseKey { seed, index: 3 };
    block_on(smoothed.certify(image(), key, &settings, batch, &cpu(), &mut |_| {})).unwrap()
}

/// The radii CERTIFY can give when n_A lies within five standard deviations of its mean n·p_A.
fn radius_range(p: f64, n: u64, sigma: f64, alpha: f64) -> (f64, f64) {
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    let radius = |votes: f64| {
        let votes = votes.clamp(0.0, n as f64) as u64;
        sigma * normal_quantile(clopper_pearson_lower(votes, n, alpha))
    };
    (
        radius(n as f64 * p - 5.0 * sd),
        radius(n as f64 * p + 5.0 * sd),
    )
}

#[test]
fn the_radius_approaches_the_distance_to_the_decision_boundary() {
    // Class 1's margin is 1·0.4 − 0.3 = 0.1: a distance of 0.2 in pixels.
    let model = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, -0.3], &cpu());
    let exact = distance_to_boundary(1.0, -0.3);
    assert!((exact - 0.2).abs() < 1e-6);
    for sigma in [0.12, 0.25, 0.5] {
        let n = 4_000;
        let result = certify(&model, sigma, n, 0, 512);
        let head = &result.certificate.heads[0];
        assert_eq!(head.guess, 1);
        // Under noise the image stays in class 1's half-space with probability Φ(distance/σ).
        let p = statrs_phi(exact / sigma);
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        let votes = head.votes_for_guess as f64;
        assert!(
            (votes - n as f64 * p).abs() < 5.0 * sd,
            "σ {sigma}: {votes} votes, p {p}"
        );
        assert_eq!(result.estimation.copies(), n);
        assert_eq!(result.selection.copies(), 100);
        // The certificate never claims more than the truth, and no less than the bound allows.
        let radius = head.radius.expect("certified");
        let (low, high) = radius_range(p, n, sigma, 0.001);
        assert!(radius < exact, "σ {sigma}: {radius} ≥ {exact}");
        assert!(
            radius >= low && radius <= high,
            "σ {sigma}: {radius} not in [{low}, {high}]"
        );
        assert_eq!(result.certificate.radius(), Some(radius));
        assert!(result.certificate.is_correct(&Label::Class(1)));
    }
}

/// Φ, for the closed forms.
fn statrs_phi(x: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().cdf(x)
}

#[test]
fn an_image_on_the_boundary_abstains() {
    // Margin 0.4 − 0.4 = 0: each class wins half the noisy copies, p̲_A < ½.
    let model = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, -0.4], &cpu());
    let result = certify(&model, 0.25, 2_000, 0, 512);
    let votes = &result.estimation.heads[0];
    assert!(
        (votes[1] as f64 - 1_000.0).abs() < 5.0 * 500f64.sqrt(),
        "{votes:?}"
    );
    assert_eq!(result.certificate.radius(), None);
    assert_eq!(result.certificate.decision(false), None);
    assert!(!result.certificate.is_correct(&Label::Class(1)));
    assert!(!result.certificate.is_correct(&Label::Class(0)));
}

#[test]
fn counts_do_not_depend_on_how_copies_are_batched() {
    let model = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, -0.38], &cpu());
    let whole = certify(&model, 0.5, 1_000, 7, 1_000);
    assert_eq!(certify(&model, 0.5, 1_000, 7, 1), whole);
    assert_eq!(certify(&model, 0.5, 1_000, 7, 37), whole);
    // Another seed draws other noise (and, near the boundary, other counts).
    assert_ne!(
        certify(&model, 0.5, 1_000, 8, 37).estimation,
        whole.estimation
    );
}

#[test]
fn each_finding_is_certified_and_the_image_keeps_the_smallest_radius() {
    // Finding 0: 0.4 − 0.3 = 0.1 (distance 0.2); finding 1: −0.4 + 0.6 = 0.2 (distance 0.4).
    let model = affine_model(
        TaskKind::MultiLabel,
        SIZE,
        &[1.0, -1.0],
        &[-0.3, 0.6],
        &cpu(),
    );
    let (sigma, n) = (0.25, 4_000);
    let result = certify(&model, sigma, n, 0, 512);
    let cert = &result.certificate;
    assert_eq!(cert.heads.len(), 2);
    // α is shared over the two findings.
    for (head, exact) in cert.heads.iter().zip([
        distance_to_boundary(1.0, -0.3),
        distance_to_boundary(-1.0, 0.6),
    ]) {
        assert_eq!(head.guess, 1, "present");
        let (low, high) = radius_range(statrs_phi(exact / sigma), n, sigma, 0.0005);
        let radius = head.radius.unwrap();
        assert!(
            radius < exact && radius >= low && radius <= high,
            "{radius} vs {exact}"
        );
    }
    assert_eq!(cert.radius(), cert.heads[0].radius);
    assert!(cert.is_correct(&Label::Findings(vec![true, true])));
    assert!(!cert.is_correct(&Label::Findings(vec![true, false])));
}

#[test]
fn predict_decides_clear_images_and_abstains_on_the_boundary() {
    let device = cpu();
    let key = NoiseKey { seed: 0, index: 0 };
    let clear = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, -0.3], &device);
    let smoothed = Smoothed::new(&clear, 0.25).unwrap();
    let prediction = block_on(smoothed.predict(image(), key, 1_000, 0.001, 256, &device)).unwrap();
    let (class, p_value) = prediction.heads[0];
    assert_eq!(class, Some(1));
    assert!(p_value < 1e-6, "{p_value}");
    let boundary = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, -0.4], &device);
    let smoothed = Smoothed::new(&boundary, 0.25).unwrap();
    let prediction = block_on(smoothed.predict(image(), key, 1_000, 0.001, 256, &device)).unwrap();
    assert_eq!(prediction.heads[0].0, None, "{:?}", prediction.votes);
}

#[test]
fn settings_out_of_range_are_refused() {
    let model = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, 0.0], &cpu());
    for sigma in [0.0, -0.25, f64::NAN, f64::INFINITY, 5.0] {
        let err = Smoothed::new(&model, sigma).err().expect("refused");
        assert!(err.to_string().contains("--sigma"), "{err}");
    }
    for (settings, flag) in [
        (
            CertifySettings {
                n0: 0,
                ..Default::default()
            },
            "--n0",
        ),
        (
            CertifySettings {
                n: 0,
                ..Default::default()
            },
            "--n ",
        ),
        (
            CertifySettings {
                alpha: 0.0,
                ..Default::default()
            },
            "--alpha",
        ),
        (
            CertifySettings {
                alpha: 1.0,
                ..Default::default()
            },
            "--alpha",
        ),
        (
            CertifySettings {
                alpha: f64::NAN,
                ..Default::default()
            },
            "--alpha",
        ),
    ] {
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains(flag), "{err}");
    }
    CertifySettings::default().validate().unwrap();
}

#[test]
fn noisy_copies_are_the_image_plus_sigma_times_keyed_normal_noise() {
    let model = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, 0.0], &cpu());
    let smoothed = Smoothed::new(&model, 0.5).unwrap();
    let key = NoiseKey { seed: 1, index: 2 };
    let copies = smoothed.noisy_copies(&image(), key, Draw::Estimation, 0..200);
    let noise: Vec<f64> = copies.iter().map(|&v| (v - PIXEL) as f64 / 0.5).collect();
    let mean = noise.iter().sum::<f64>() / noise.len() as f64;
    let var = noise.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / noise.len() as f64;
    assert!(
        mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
        "{mean} {var}"
    );
    // Not clamped to the pixel range: the reference adds noise before the normalisation.
    assert!(copies.iter().any(|&v| v < 0.0) && copies.iter().any(|&v| v > 1.0));
    // The selection's copies are other noise.
    assert_ne!(
        smoothed.noisy_copies(&image(), key, Draw::Selection, 0..1),
        copies[..SIZE * SIZE]
    );
}

#[test]
fn an_image_certificate_reports_what_certify_found_and_the_copies_seen() {
    let device = cpu();
    let model = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, -0.3], &device);
    let settings = CertifySettings {
        n0: 50,
        n: 500,
        alpha: 0.01,
    };
    let (report, copies) = block_on(certify_image(
        &model,
        image(),
        0.25,
        &settings,
        4,
        64,
        3,
        &device,
        &mut |_| {},
    ))
    .unwrap();
    let smoothed = Smoothed::new(&model, 0.25).unwrap();
    let key = NoiseKey { seed: 4, index: 0 };
    let direct =
        block_on(smoothed.certify(image(), key, &settings, 500, &device, &mut |_| {})).unwrap();
    assert_eq!(report.heads, direct.certificate.heads);
    assert_eq!(
        (report.selection.clone(), report.estimation.clone()),
        (direct.selection, direct.estimation)
    );
    assert_eq!(report.radius, direct.certificate.radius());
    assert_eq!(report.decision.as_deref(), Some("c1"));
    // The copies shown are the selection's first, clamped for display.
    assert_eq!(copies.len(), 3);
    let first = smoothed.noisy_copies(&image(), key, Draw::Selection, 0..1);
    let clamped: Vec<f32> = first.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    assert_eq!(copies[0].pixels, clamped);
    let back = ImageCertificateReport::from_json(&report.to_json(), "c.json").unwrap();
    assert_eq!(back, report);
}

#[test]
fn a_pass_of_copies_is_capped_whatever_batch_is_asked() {
    assert_eq!(copies_per_pass(0, 12_288), 1);
    assert_eq!(copies_per_pass(81, 12_288), 81);
    // A billion copies of a 64-px RGB image would be 49 TB: capped at 256 MB.
    assert_eq!(copies_per_pass(1_000_000_000, 12_288), (64 << 20) / 12_288);
    assert_eq!(copies_per_pass(10, usize::MAX), 1);
    // And the votes are the same as with a small batch.
    let model = affine_model(TaskKind::Binary, SIZE, &[0.0, 1.0], &[0.0, -0.38], &cpu());
    assert_eq!(
        certify(&model, 0.5, 300, 7, 1_000_000_000),
        certify(&model, 0.5, 300, 7, 16)
    );
}
