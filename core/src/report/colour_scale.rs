//! The colour scales heat maps (Grad-CAM, attention) are drawn in. Turbo is the seed study's;
//! cividis and viridis stay readable to colour-blind viewers and in greyscale, which turbo does
//! not (its red and green ends look alike to a deuteranope).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A colour scale from 0 (a map's lowest value) to 1 (its highest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColourScale {
    /// Google's improved JET: dark blue at 0 to dark red at 1 (d3's polynomial fit of it, as
    /// the pictures have always been drawn).
    #[default]
    Turbo,
    /// Nuñez, Anderton & Renslow (2018): dark blue to yellow, the same to every viewer.
    Cividis,
    /// matplotlib's default: purple through teal to yellow, perceptually uniform.
    Viridis,
}

impl ColourScale {
    /// Every scale, in the order a picker offers them.
    pub const ALL: [ColourScale; 3] = [Self::Turbo, Self::Cividis, Self::Viridis];

    /// Its name in links and settings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Turbo => "turbo",
            Self::Cividis => "cividis",
            Self::Viridis => "viridis",
        }
    }

    /// The scale called `name`; an unknown name is an error listing the known ones.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                Error::invalid(format!(
                    "no colour scale '{name}' (have: {})",
                    known.join(", ")
                ))
            })
    }

    /// The colour at `v` (clamped to [0, 1]) as RGB in [0, 1].
    pub fn rgb(self, v: f32) -> [f32; 3] {
        let gradient = match self {
            Self::Turbo => colorous::TURBO,
            Self::Cividis => colorous::CIVIDIS,
            Self::Viridis => colorous::VIRIDIS,
        };
        let c = gradient.eval_continuous(v.clamp(0.0, 1.0) as f64);
        [c.r, c.g, c.b].map(|x| x as f32 / 255.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(scale: ColourScale, v: f32) -> [i32; 3] {
        scale.rgb(v).map(|x| (x * 255.0).round() as i32)
    }

    fn assert_near(scale: ColourScale, v: f32, expected: [i32; 3], tolerance: i32) {
        let got = bytes(scale, v);
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() <= tolerance,
                "{} at {v}: {got:?}, published {expected:?}",
                scale.name()
            );
        }
    }

    #[test]
    fn viridis_matches_its_published_table() {
        // matplotlib's viridis: #440154, #21918C (entry 128 of 256), #FDE725.
        assert_near(ColourScale::Viridis, 0.0, [0x44, 0x01, 0x54], 1);
        assert_near(ColourScale::Viridis, 128.0 / 255.0, [0x21, 0x91, 0x8c], 1);
        assert_near(ColourScale::Viridis, 1.0, [0xfd, 0xe7, 0x25], 1);
    }

    #[test]
    fn cividis_matches_the_published_scale_within_its_polynomial_fit() {
        // Nuñez et al.'s end points #00204D and #FFEA46 and matplotlib's middle #7C7B78; the
        // scale is evaluated as d3's sixth-order fit of the table, a few levels off at most.
        assert_near(ColourScale::Cividis, 0.0, [0x00, 0x20, 0x4d], 5);
        assert_near(ColourScale::Cividis, 0.5, [0x7c, 0x7b, 0x78], 5);
        assert_near(ColourScale::Cividis, 1.0, [0xff, 0xea, 0x46], 5);
    }

    #[test]
    fn cividis_and_viridis_grow_brighter_all_the_way_turbo_does_not() {
        // Why they read in greyscale: luminance rises monotonically from 0 to 1.
        let luminance = |s: ColourScale, v: f32| {
            let [r, g, b] = s.rgb(v);
            0.2126 * r + 0.7152 * g + 0.0722 * b
        };
        for scale in [ColourScale::Cividis, ColourScale::Viridis] {
            for i in 0..20 {
                let (a, b) = (i as f32 / 20.0, (i + 1) as f32 / 20.0);
                assert!(
                    luminance(scale, b) > luminance(scale, a),
                    "{} at {a}",
                    scale.name()
                );
            }
        }
        assert!(luminance(ColourScale::Turbo, 1.0) < luminance(ColourScale::Turbo, 0.5));
    }

    #[test]
    fn names_round_trip_and_an_unknown_one_is_named() {
        for scale in ColourScale::ALL {
            assert_eq!(ColourScale::parse(scale.name()).unwrap(), scale);
        }
        let e = ColourScale::parse("jet").unwrap_err().to_string();
        assert!(e.contains("'jet'") && e.contains("cividis"), "{e}");
    }
}
