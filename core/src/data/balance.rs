//! Class-balanced sampling: each epoch draws as many images as the split holds, with
//! replacement, so that every class is equally likely to be drawn — a rare melanoma class is seen
//! as often as the common benign one.
//!
//! A multi-label image is weighted by the mean of the inverse frequencies of the findings it has
//! (images without a finding by that of "no finding"), which raises rare findings without
//! promising an exact balance no multi-label set can have.

use rand::SeedableRng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;

use crate::{Error, Label, Result};

/// Each image's sampling weight.
pub fn balance_weights(labels: &[Label]) -> Vec<f64> {
    let mut counts: std::collections::HashMap<Option<usize>, usize> = Default::default();
    let keys = |label: &Label| -> Vec<Option<usize>> {
        match label {
            Label::Class(c) => vec![Some(*c)],
            Label::Findings(f) => {
                let present: Vec<_> = (0..f.len()).filter(|&k| f[k]).map(Some).collect();
                if present.is_empty() {
                    vec![None]
                } else {
                    present
                }
            }
        }
    };
    for label in labels {
        for key in keys(label) {
            *counts.entry(key).or_default() += 1;
        }
    }
    labels
        .iter()
        .map(|label| {
            let keys = keys(label);
            keys.iter().map(|k| 1.0 / counts[k] as f64).sum::<f64>() / keys.len() as f64
        })
        .collect()
}

/// `labels.len()` indices drawn with replacement by [`balance_weights`], from `seed`.
pub fn balanced_order(labels: &[Label], seed: u64) -> Result<Vec<usize>> {
    let weights = balance_weights(labels);
    let sampler = WeightedIndex::new(&weights)
        .map_err(|e| Error::invalid(format!("cannot balance classes: {e}")))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..labels.len())
        .map(|_| sampler.sample(&mut rng))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rare_class_is_drawn_as_often_as_a_common_one() {
        // 90 benign, 10 malignant.
        let labels: Vec<Label> = (0..100)
            .map(|i| Label::Class(usize::from(i >= 90)))
            .collect();
        let weights = balance_weights(&labels);
        assert!((weights[0] - 1.0 / 90.0).abs() < 1e-12);
        assert!((weights[95] - 1.0 / 10.0).abs() < 1e-12);
        let mut malignant = 0;
        for seed in 0..50 {
            let order = balanced_order(&labels, seed).unwrap();
            assert_eq!(order.len(), 100);
            malignant += order.iter().filter(|&&i| i >= 90).count();
        }
        let share = malignant as f64 / 5000.0;
        assert!((share - 0.5).abs() < 0.03, "{share}");
        assert_eq!(
            balanced_order(&labels, 4).unwrap(),
            balanced_order(&labels, 4).unwrap()
        );
    }

    #[test]
    fn a_repeat_gets_a_draw_key_of_its_own() {
        // Image 2 drawn three times: its index, then index + len, index + 2 len.
        assert_eq!(crate::data::draw_keys(&[2, 0, 2, 1, 2], 3), [2, 0, 5, 1, 8]);
        // Without repeats, each position is keyed by its image.
        assert_eq!(crate::data::draw_keys(&[1, 0, 2], 3), [1, 0, 2]);
    }

    #[test]
    fn multi_label_weights_by_hand() {
        let f = |v: &[bool]| Label::Findings(v.to_vec());
        // Finding 0 on three images, finding 1 on one, one image with none.
        let labels = [
            f(&[true, false]),
            f(&[true, false]),
            f(&[true, true]),
            f(&[false, false]),
        ];
        let w = balance_weights(&labels);
        assert!((w[0] - 1.0 / 3.0).abs() < 1e-12);
        assert!((w[2] - (1.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        assert!((w[3] - 1.0).abs() < 1e-12);
    }
}
