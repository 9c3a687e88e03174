//! The card's charts, one function for the HTML card and the page: accuracy under each attack
//! against ε, Flip Probability per kind, certified accuracy against radius, and the Grad-CAM
//! strip. Each is an SVG document.

use super::cam_strip::cam_strip_svg;
use super::document::RobustnessCard;
use crate::Result;
use crate::report::{certified_accuracy_chart, flip_probability_chart, metric_against_eps};

/// A card's charts, each an SVG document.
#[derive(Debug, Clone, PartialEq)]
pub struct CardCharts {
    /// Accuracy under each attack against ε (the robustness curve).
    pub attacks: String,
    /// Flip Probability per everyday perturbation kind.
    pub benchmark: String,
    /// Certified accuracy against L2 radius per σ, when the card has a certification.
    pub certification: Option<String>,
    /// Grad-CAM before and after on the shown images, when there are any.
    pub cams: Option<String>,
}

/// Draws the card's charts.
pub fn card_charts(card: &RobustnessCard) -> Result<CardCharts> {
    Ok(CardCharts {
        attacks: metric_against_eps(&card.attacks.result, "accuracy under attack", &|r| {
            Some(r.metrics.adversarial.accuracy)
        })?,
        benchmark: flip_probability_chart(&card.benchmark.result)?,
        certification: card
            .certification
            .as_ref()
            .map(|c| certified_accuracy_chart(&c.result))
            .transpose()?,
        cams: (!card.cams.images.is_empty()).then(|| cam_strip_svg(&card.cams.images)),
    })
}
