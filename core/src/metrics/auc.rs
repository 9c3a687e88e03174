//! Area under the ROC curve, from ranks.

/// ROC AUC of `scores` for the binary ground truth `positive`, by the Mann–Whitney U statistic with
/// mid-ranks for ties (equals the trapezoidal ROC area, ties counted as 1/2). None when only one
/// class is present.
///
/// The rank sum is kept in integers (twice the mid-ranks), so the result is exact up to the final
/// division. Scores are compared by [`f64::total_cmp`]; callers should not pass NaN.
///
/// # Panics
/// When `scores` and `positive` differ in length.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(
        scores.len(),
        positive.len(),
        "roc_auc: one ground-truth flag per score"
    );
    let positives = positive.iter().filter(|&&p| p).count() as u128;
    let negatives = positive.len() as u128 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));

    // The tied run at sorted positions start..end (0-based) holds ranks start+1..=end, whose
    // mid-rank is (start + 1 + end) / 2; summing twice that keeps everything integral.
    let mut twice_rank_sum: u128 = 0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let twice_mid_rank = (start + 1 + end) as u128;
        let tied_positives = order[start..end].iter().filter(|&&i| positive[i]).count() as u128;
        twice_rank_sum += twice_mid_rank * tied_positives;
        start = end;
    }

    // U = R − P(P+1)/2 counts the (positive, negative) pairs the positive wins, ties as 1/2.
    let twice_u = twice_rank_sum - positives * (positives + 1);
    Some(twice_u as f64 / (2 * positives * negatives) as f64)
}

#[cfg(test)]
mod tests {
    use super::roc_auc;

    /// The definition: the share of (positive, negative) pairs where the positive scores higher,
    /// ties counted as one half.
    fn pair_count_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
        let mut wins = 0.0;
        let mut pairs = 0usize;
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if positive[i] && !positive[j] {
                    pairs += 1;
                    if si > sj {
                        wins += 1.0;
                    } else if si == sj {
                        wins += 0.5;
                    }
                }
            }
        }
        (pairs > 0).then(|| wins / pairs as f64)
    }

    #[test]
    fn hand_computed_without_ties() {
        // Positives 0.35 and 0.8, negatives 0.1 and 0.4. Pairs: 0.35>0.1 (1), 0.35<0.4 (0),
        // 0.8>0.1 (1), 0.8>0.4 (1): 3 of 4. By ranks: sorted 0.1,0.35,0.4,0.8 give the positives
        // ranks 2 and 4, R = 6, U = 6 − 2·3/2 = 3, AUC = 3 / (2·2) = 0.75.
        let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        assert_eq!(auc, Some(0.75));
    }

    #[test]
    fn hand_computed_with_a_tie() {
        // Positives 0.5 and 0.9, negatives 0.2 and 0.5. Pairs: 0.5>0.2 (1), 0.5=0.5 (1/2),
        // 0.9>0.2 (1), 0.9>0.5 (1): 3.5 of 4. By ranks: 0.2 → 1, the two 0.5s share (2+3)/2 = 2.5,
        // 0.9 → 4; R = 2.5 + 4 = 6.5, U = 6.5 − 3 = 3.5, AUC = 3.5 / 4 = 0.875.
        let auc = roc_auc(&[0.2, 0.5, 0.5, 0.9], &[false, false, true, true]);
        assert_eq!(auc, Some(0.875));
    }

    #[test]
    fn tie_across_many_samples() {
        // Positives 0.3, 0.3, 0.7; negatives 0.3, 0.1. Sorted: 0.1 → 1, the three 0.3s → 3,
        // 0.7 → 5. R = 3 + 3 + 5 = 11, U = 11 − 3·4/2 = 5, AUC = 5 / (3·2) = 5/6.
        // Pairs: each 0.3 positive beats 0.1 (1) and ties 0.3 (1/2), 0.7 beats both (2): 5 of 6.
        let auc = roc_auc(
            &[0.3, 0.1, 0.3, 0.7, 0.3],
            &[true, false, false, true, true],
        )
        .unwrap();
        assert!((auc - 5.0 / 6.0).abs() < 1e-15, "{auc}");
    }

    #[test]
    fn perfect_inverted_and_constant_scores() {
        let truth = [false, true, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.9, 0.2, 0.8, 0.7], &truth), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.1, 0.8, 0.2, 0.3], &truth), Some(0.0));
        assert_eq!(roc_auc(&[0.4; 5], &truth), Some(0.5));
    }

    #[test]
    fn undefined_for_one_class() {
        assert_eq!(roc_auc(&[0.1, 0.5, 0.9], &[true, true, true]), None);
        assert_eq!(roc_auc(&[0.1, 0.5, 0.9], &[false, false, false]), None);
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn agrees_with_pair_count_on_random_data() {
        // A fixed LCG (Numerical Recipes constants); scores quantised to 16 levels to force ties.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for trial in 0..50 {
            let n = 2 + (next() % 60) as usize;
            let scores: Vec<f64> = (0..n).map(|_| (next() % 16) as f64 / 15.0).collect();
            let truth: Vec<bool> = (0..n).map(|_| next() % 3 == 0).collect();
            let expected = pair_count_auc(&scores, &truth);
            let got = roc_auc(&scores, &truth);
            match (got, expected) {
                (Some(g), Some(e)) => assert!((g - e).abs() < 1e-12, "trial {trial}: {g} vs {e}"),
                (g, e) => assert_eq!(g, e, "trial {trial}"),
            }
        }
    }

    #[test]
    fn invariant_under_monotone_rescaling() {
        let scores = [0.3, 0.1, 0.3, 0.7, 0.3, 0.05];
        let truth = [true, false, false, true, true, false];
        let squashed: Vec<f64> = scores.iter().map(|s| (s * 10.0f64).exp()).collect();
        assert_eq!(roc_auc(&scores, &truth), roc_auc(&squashed, &truth));
    }
}
