//! Certified robustness by randomized smoothing (Cohen, Rosenfeld & Kolter, ICML 2019): the
//! smoothed classifier's decision cannot change within an L2 radius σ·Φ⁻¹(p̲_A) of the image, with
//! probability at least 1 − α over the noise drawn. An attack can only say "not broken"; a
//! certificate is a guarantee.

mod ball;
mod bounds;
mod certificate;
mod run;
mod single_image;
mod smoothed;
mod votes;

pub use ball::{AttackAgainstBall, linf_budget_l2};
pub use bounds::{binomial_two_sided_p, clopper_pearson_lower, normal_quantile};
pub use certificate::{
    Certificate, HeadCertificate, alpha_per_head, max_certifiable_radius, predict_head,
};
pub use run::{
    CERTIFY_REVISION, CertificateRecord, CertifyRun, DEFAULT_RADII, certified_accuracy,
    certified_curve, check_radii, sigma_result,
};
pub use single_image::{ImageCertificateReport, certify_image};
pub use smoothed::{
    CertifiedImage, CertifySettings, Draw, MAX_SIGMA, MAX_VALUES_PER_PASS, NoiseKey, Smoothed,
    SmoothedPrediction, check_sigma, copies_per_pass, default_copies_per_batch,
};
pub use votes::{Votes, most_voted};

#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod tests;
