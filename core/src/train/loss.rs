//! The classification term of a training objective: cross-entropy (BCE for multi-label tasks),
//! or the focal loss (Lin et al. 2017) the seed study trains melanoma models with.

use burn::Tensor;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use crate::{Error, Result, TaskKind, task};

/// What the classifier is fitted to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ClassificationLoss {
    /// Softmax cross-entropy; per-label binary cross-entropy averaged over labels (multi-label).
    #[default]
    CrossEntropy,
    /// `-(1 - p_t)^γ log p_t`: well-classified samples count less, so a rare class is not
    /// drowned by easy examples of the common one. Multi-label: per label, averaged.
    Focal {
        /// γ ≥ 0: how much confident samples are discounted (0 is cross-entropy; 2 is usual).
        gamma: f32,
    },
}

impl ClassificationLoss {
    /// `ce`, or `focal` with `gamma`.
    pub fn parse(name: &str, gamma: f32) -> Result<Self> {
        match name {
            "ce" | "cross-entropy" => Ok(Self::CrossEntropy),
            "focal" if gamma.is_finite() && gamma >= 0.0 => Ok(Self::Focal { gamma }),
            "focal" => Err(Error::invalid(format!("--gamma must be ≥ 0, got {gamma}"))),
            other => Err(Error::invalid(format!(
                "unknown loss '{other}' (ce or focal)"
            ))),
        }
    }

    /// Each sample's loss `[batch]` against one-hot / multi-hot `targets`.
    pub fn per_sample(&self, kind: TaskKind, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        let gamma = match *self {
            Self::Focal { gamma } if gamma > 0.0 => gamma,
            // γ = 0 is cross-entropy, computed as such (no 0⁰ in the gradient).
            _ => return task::per_sample_loss(kind, logits, targets),
        };
        let [batch, _] = logits.dims();
        let per_sample = if kind.is_multi_label() {
            // Per label: p_t = p for a present finding, 1 - p for an absent one.
            let log_p = log_sigmoid(logits.clone());
            let log_not_p = log_sigmoid(logits.neg());
            let log_pt = log_p * targets.clone() + log_not_p * targets.neg().add_scalar(1.0);
            focal_term(log_pt, gamma).mean_dim(1)
        } else {
            let log_p = log_softmax(logits, 1);
            (focal_term(log_p, gamma) * targets).sum_dim(1)
        };
        per_sample.reshape([batch])
    }

    /// The batch mean, shape `[1]`.
    pub fn mean(&self, kind: TaskKind, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        self.per_sample(kind, logits, targets).mean()
    }

    /// `cross-entropy` or `focal γ=…`, for model cards and listings.
    pub fn describe(&self) -> String {
        match self {
            Self::CrossEntropy => "cross-entropy".into(),
            Self::Focal { gamma } => format!("focal γ={gamma}"),
        }
    }
}

/// `-(1 - p)^γ log p` from `log p`. The weight is kept off 0: where p rounds to 1, the
/// derivative γ·w^(γ-1) of w^γ would be infinite for γ < 1 and make the gradient NaN.
fn focal_term(log_p: Tensor<2>, gamma: f32) -> Tensor<2> {
    let weight = log_p.clone().exp().neg().add_scalar(1.0).clamp_min(1e-12);
    weight.powf_scalar(gamma) * log_p.neg()
}

/// `log σ(x)`: burn's stable op. (Written as `min(x, 0) − log(1 + e^{−|x|})` it has kinks at 0
/// whose subgradients do not add up to σ'(0)·/σ(0) = ½, and a logit of exactly 0 got the wrong
/// gradient; the finite-difference test of multi-label MART caught it.)
pub(crate) fn log_sigmoid(x: Tensor<2>) -> Tensor<2> {
    burn::tensor::activation::log_sigmoid(x)
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;
    use crate::test_support::cpu;

    fn t(values: &[f32], rows: usize) -> Tensor<2> {
        let cols = values.len() / rows;
        Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]), &cpu())
    }

    fn host(x: Tensor<1>) -> Vec<f32> {
        x.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn focal_loss_by_hand() {
        // Logits (ln 3, 0): p = (0.75, 0.25). True class 0: -(0.25)^2 ln 0.75; class 1:
        // -(0.75)^2 ln 0.25.
        let logits = t(&[3f32.ln(), 0.0, 3f32.ln(), 0.0], 2);
        let targets = t(&[1.0, 0.0, 0.0, 1.0], 2);
        let focal = ClassificationLoss::Focal { gamma: 2.0 };
        let got = host(focal.per_sample(TaskKind::Binary, logits.clone(), targets.clone()));
        let want = [
            -(0.25f32.powi(2)) * 0.75f32.ln(),
            -(0.75f32.powi(2)) * 0.25f32.ln(),
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
        // γ = 0 is cross-entropy.
        let ce = host(ClassificationLoss::CrossEntropy.per_sample(
            TaskKind::Binary,
            logits.clone(),
            targets.clone(),
        ));
        let zero = host(ClassificationLoss::Focal { gamma: 0.0 }.per_sample(
            TaskKind::Binary,
            logits,
            targets,
        ));
        for (a, b) in ce.iter().zip(&zero) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn multi_label_focal_by_hand() {
        // One sample, two labels: logit 0 (p = 0.5, present) and ln 4 (p = 0.8, absent).
        let logits = t(&[0.0, 4f32.ln()], 1);
        let targets = t(&[1.0, 0.0], 1);
        let got = host(ClassificationLoss::Focal { gamma: 2.0 }.per_sample(
            TaskKind::MultiLabel,
            logits,
            targets,
        ))[0];
        let want = 0.5 * (-(0.5f32.powi(2)) * 0.5f32.ln() - 0.8f32.powi(2) * 0.2f32.ln());
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    /// Where p rounds to 1 in f32 the gradient stays finite, for γ below 1 too.
    #[test]
    fn confident_predictions_keep_a_finite_gradient() {
        for gamma in [0.0, 0.5, 2.0] {
            let logits = t(&[40.0, -40.0, 0.3, 0.1], 2).autodiff().require_grad();
            let targets = t(&[1.0, 0.0, 0.0, 1.0], 2).autodiff();
            let loss =
                ClassificationLoss::Focal { gamma }.mean(TaskKind::Binary, logits.clone(), targets);
            let grads = loss.backward();
            let grad: Vec<f32> = logits
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec()
                .unwrap();
            assert!(grad.iter().all(|g| g.is_finite()), "γ = {gamma}: {grad:?}");
        }
    }

    #[test]
    fn unknown_losses_and_negative_gamma_are_refused() {
        assert!(ClassificationLoss::parse("hinge", 2.0).is_err());
        assert!(ClassificationLoss::parse("focal", -1.0).is_err());
        assert_eq!(
            ClassificationLoss::parse("focal", 2.0).unwrap(),
            ClassificationLoss::Focal { gamma: 2.0 }
        );
    }
}
