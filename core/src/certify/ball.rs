//! An attack held against a certificate. The smoothed classifier's decision cannot change within
//! the certified L2 ball around the image, so an attack whose change is shorter than the radius
//! provably leaves that decision alone; beyond it the certificate says nothing. The comparison
//! and its words live here so that every shell says the same.

/// An attack's change on the image a certificate is about, both in pixel units of [0, 1]
/// images at the model's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackAgainstBall {
    /// The certified L2 radius R; `None`: the smoothed classifier abstained, there is no ball.
    pub radius: Option<f64>,
    /// ‖δ‖₂ of the change the attack found.
    pub delta_l2: f64,
    /// The L2 length of the farthest change the attack's L∞ budget allows: ε·√d, d the values
    /// of the model's input (every value moved by ε).
    pub budget_l2: f64,
}

/// The L2 length of the farthest change an L∞ budget of `eps` (pixel units) allows on an input
/// of `values` values: ε·√d, every value moved by ε.
pub fn linf_budget_l2(eps: f64, values: usize) -> f64 {
    eps * (values as f64).sqrt()
}

impl AttackAgainstBall {
    /// The attack's change `delta_l2` and L∞ budget `eps` (pixel units) on an input of `values`
    /// values, against a certificate of `radius`.
    pub fn new(radius: Option<f64>, delta_l2: f64, eps: f64, values: usize) -> Self {
        Self {
            radius,
            delta_l2,
            budget_l2: linf_budget_l2(eps, values),
        }
    }

    /// Whether the change found lies inside the certified ball (strictly: the guarantee holds
    /// for ‖δ‖₂ < R); `None` without a ball.
    pub fn attack_inside(&self) -> Option<bool> {
        self.radius.map(|r| self.delta_l2 < r)
    }

    /// Whether every change the L∞ budget allows lies inside the ball; `None` without a ball.
    pub fn budget_inside(&self) -> Option<bool> {
        self.radius.map(|r| self.budget_l2 < r)
    }

    /// The comparison in words, for a person: where the change lies and what that guarantees.
    pub fn describe(&self) -> String {
        let Some(radius) = self.radius else {
            return format!(
                "The smoothed classifier abstains on this image, so there is no certified ball: \
                 nothing is guaranteed at any distance, including the attack's (‖δ‖₂ = {:.3}).",
                self.delta_l2
            );
        };
        let found = if self.delta_l2 < radius {
            format!(
                "The attack's change (‖δ‖₂ = {:.3}) lies inside the certified ball (R = {radius:.3}): \
                 the smoothed classifier's decision provably does not change at the attacked image.",
                self.delta_l2
            )
        } else {
            format!(
                "The attack's change (‖δ‖₂ = {:.3}) lies outside the certified ball (R = {radius:.3}): \
                 no guarantee there; the smoothed decision may or may not change.",
                self.delta_l2
            )
        };
        let budget = if self.budget_l2 < radius {
            format!(
                " Its whole L∞ budget reaches at most ε·√d = {:.3}, inside the ball: no attack of \
                 this ε can change the smoothed decision.",
                self.budget_l2
            )
        } else {
            format!(
                " Its L∞ budget reaches up to ε·√d = {:.3}, beyond the ball: the certificate does \
                 not cover every attack of this ε.",
                self.budget_l2
            )
        };
        found + &budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_linf_ball_reaches_eps_times_the_root_of_the_pixel_count() {
        let reach = linf_budget_l2(1.0 / 255.0, 3 * 64 * 64);
        assert!((reach - 110.851_251_684_406_6 / 255.0).abs() < 1e-12);
    }

    #[test]
    fn an_attack_inside_the_ball_is_covered_and_one_outside_is_not() {
        // 64 × 64 RGB: d = 12 288, √d = 110.85; ε = 1/255 reaches 0.4347.
        let inside = AttackAgainstBall::new(Some(0.6), 0.41, 1.0 / 255.0, 3 * 64 * 64);
        assert!(
            (inside.budget_l2 - 0.434_7).abs() < 1e-4,
            "{}",
            inside.budget_l2
        );
        assert_eq!(inside.attack_inside(), Some(true));
        assert_eq!(inside.budget_inside(), Some(true));
        assert!(
            inside
                .describe()
                .contains("lies inside the certified ball (R = 0.600)")
        );
        assert!(inside.describe().contains("no attack of this ε"));
        let outside = AttackAgainstBall::new(Some(0.6), 3.1, 8.0 / 255.0, 3 * 64 * 64);
        assert_eq!(outside.attack_inside(), Some(false));
        assert_eq!(outside.budget_inside(), Some(false));
        assert!(
            outside.describe().contains("lies outside"),
            "{}",
            outside.describe()
        );
        // The guarantee is for ‖δ‖₂ < R: on the sphere itself it is not claimed.
        assert_eq!(
            AttackAgainstBall::new(Some(0.5), 0.5, 0.0, 1).attack_inside(),
            Some(false)
        );
        // A change found inside while the budget reaches beyond: both said.
        let both = AttackAgainstBall::new(Some(0.6), 0.2, 8.0 / 255.0, 3 * 64 * 64);
        assert_eq!(both.attack_inside(), Some(true));
        assert!(both.describe().contains("does not cover every attack"));
    }

    #[test]
    fn without_a_ball_nothing_is_inside() {
        let abstained = AttackAgainstBall::new(None, 0.0, 0.0, 100);
        assert_eq!(abstained.attack_inside(), None);
        assert_eq!(abstained.budget_inside(), None);
        assert!(abstained.describe().contains("abstains"));
    }
}
