//! What a gradient attack climbs: a per-image score that rises as the image nears a wrong
//! decision. Cross-entropy is the classic one; AutoAttack adds the difference of logits ratio
//! (DLR), which is invariant to shifting and rescaling the logits, so a model cannot hide behind
//! saturated softmax outputs. DLR needs three classes (four for its targeted form), which binary
//! and few-class medical tasks do not have: there the score falls back to the plain logit margin
//! (Carlini & Wagner's), which a shift does not change either.

use burn::Tensor;
use burn::tensor::Int;

use crate::{TaskKind, task};

/// Keeps the DLR denominator off zero, as the reference's `1e-12`.
const DLR_GUARD: f32 = 1e-12;

/// Which score an attack climbs (higher: nearer a wrong decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The task's training loss against the truth: cross-entropy (single-label) or binary
    /// cross-entropy averaged over findings (multi-label).
    Task,
    /// Untargeted DLR, `-(z_y − max_{j≠y} z_j) / (z_π1 − z_π3)` (three or more classes). Binary:
    /// the margin `-(z_y − z_other)`. Multi-label: the smallest margin of any finding,
    /// `-min_j (2y_j − 1) z_j`, which turns positive when some finding flips.
    Dlr,
    /// Targeted DLR, `-(z_y − z_t) / (z_π1 − (z_π3 + z_π4) / 2)` for four or more classes;
    /// with three, the denominator is `z_π1 − z_π3`, and with two it is left out (the margin
    /// towards the other class). Multi-label: the margin of the one finding the target marks,
    /// `-(2y_t − 1) z_t`, positive once that finding flips.
    DlrTargeted,
    /// The plain logit margin, unnormalised (Carlini & Wagner's; Square's score):
    /// `-(z_y − max_{j≠y} z_j)` for any number of classes. Multi-label: as [`Loss::Dlr`],
    /// `-min_j (2y_j − 1) z_j`. Zero or above: the model decides the image wrongly.
    Margin,
    /// The plain logit gap towards the target, `z_t − z_y` (single-label), unnormalised: FAB's
    /// difference of logits, whose zero set is the decision boundary between truth and target
    /// and whose gradient is that of the linearised boundary. Multi-label: the target
    /// finding's margin `-(2y_t − 1) z_t`, zero where that finding's logit crosses 0.
    TargetMargin,
}

/// A [`Loss`] with the rows it is measured against.
#[derive(Debug, Clone)]
pub struct Objective {
    /// The score.
    pub loss: Loss,
    /// The truth `[batch, classes]`: one-hot, or multi-hot findings.
    pub truth: Tensor<2>,
    /// For [`Loss::DlrTargeted`]: one-hot rows `[batch, classes]` naming the target class (or
    /// the finding to flip).
    pub target: Option<Tensor<2>>,
}

impl Objective {
    /// The task's own loss against `truth`.
    pub fn task(truth: Tensor<2>) -> Self {
        Self {
            loss: Loss::Task,
            truth,
            target: None,
        }
    }

    /// Untargeted DLR (or its binary / multi-label form) against `truth`.
    pub fn dlr(truth: Tensor<2>) -> Self {
        Self {
            loss: Loss::Dlr,
            truth,
            target: None,
        }
    }

    /// The unnormalised logit margin against `truth` ([`Loss::Margin`]).
    pub fn margin(truth: Tensor<2>) -> Self {
        Self {
            loss: Loss::Margin,
            truth,
            target: None,
        }
    }

    /// Targeted DLR towards the one-hot `target` rows.
    pub fn dlr_targeted(truth: Tensor<2>, target: Tensor<2>) -> Self {
        Self {
            loss: Loss::DlrTargeted,
            truth,
            target: Some(target),
        }
    }

    /// The logit gap `z_t − z_y` towards the one-hot `target` rows (FAB's boundary function).
    pub fn target_margin(truth: Tensor<2>, target: Tensor<2>) -> Self {
        Self {
            loss: Loss::TargetMargin,
            truth,
            target: Some(target),
        }
    }

    /// The rows of images `rows` only (an attack that drops the images already broken).
    pub fn select(&self, rows: burn::Tensor<1, burn::tensor::Int>) -> Self {
        Self {
            loss: self.loss,
            truth: self.truth.clone().select(0, rows.clone()),
            target: self.target.clone().map(|t| t.select(0, rows)),
        }
    }

    /// Each image's score `[batch]`, from `logits` (plain or tracked: the rows follow them onto
    /// the autodiff graph).
    pub fn per_sample(&self, task_kind: TaskKind, logits: Tensor<2>) -> Tensor<1> {
        let on_graph = |t: &Tensor<2>| {
            if logits.is_autodiff() {
                t.clone().autodiff()
            } else {
                t.clone()
            }
        };
        let truth = on_graph(&self.truth);
        let [batch, classes] = logits.dims();
        let score = match (self.loss, task_kind.is_multi_label()) {
            (Loss::Task, _) => return task::per_sample_loss(task_kind, logits, truth),
            (Loss::Dlr | Loss::Margin, true) => signed_margins(logits, truth).min_dim(1).neg(),
            (Loss::DlrTargeted | Loss::TargetMargin, true) => {
                let target = on_graph(self.target.as_ref().expect("a targeted objective"));
                (signed_margins(logits, truth) * target).sum_dim(1).neg()
            }
            (Loss::Margin, false) => true_class_margin(logits, truth).neg(),
            (Loss::Dlr, false) => {
                let margin = true_class_margin(logits.clone(), truth);
                match classes {
                    0..=2 => margin.neg(),
                    _ => margin.neg() / scale(logits, false),
                }
            }
            (Loss::DlrTargeted, false) => {
                let target = on_graph(self.target.as_ref().expect("a targeted objective"));
                let margin = (logits.clone() * (truth - target)).sum_dim(1);
                match classes {
                    0..=2 => margin.neg(),
                    3 => margin.neg() / scale(logits, false),
                    _ => margin.neg() / scale(logits, true),
                }
            }
            (Loss::TargetMargin, false) => {
                let target = on_graph(self.target.as_ref().expect("a targeted objective"));
                (logits * (target - truth)).sum_dim(1)
            }
        };
        score.reshape([batch])
    }
}

/// `z_y − max_{j≠y} z_j` `[batch, 1]`: positive where the model decides the true class.
fn true_class_margin(logits: Tensor<2>, truth: Tensor<2>) -> Tensor<2> {
    let true_logit = (logits.clone() * truth.clone()).sum_dim(1);
    let runner_up = logits
        .mask_fill(truth.greater_elem(0.5), f32::NEG_INFINITY)
        .max_dim(1);
    true_logit - runner_up
}

/// `(2y − 1)·z` per finding: positive where the model decides the finding as the truth has it.
fn signed_margins(logits: Tensor<2>, truth: Tensor<2>) -> Tensor<2> {
    logits * truth.mul_scalar(2.0).sub_scalar(1.0)
}

/// DLR's scale over the sorted logits: the untargeted `z_π1 − z_π3`, or with `fourth` the
/// targeted `z_π1 − (z_π3 + z_π4)/2`, written in the reference's order of operations
/// (`z_π1 − ½z_π3 − ½z_π4 + 1e-12`) so the score rounds as torchattacks' does.
fn scale(logits: Tensor<2>, fourth: bool) -> Tensor<2> {
    let [batch, _] = logits.dims();
    let top = largest(logits, if fourth { 4 } else { 3 });
    let spread = if fourth {
        top[0].clone() - top[2].clone().mul_scalar(0.5) - top[3].clone().mul_scalar(0.5)
    } else {
        top[0].clone() - top[2].clone()
    };
    spread.add_scalar(DLR_GUARD).reshape([batch, 1])
}

/// The `k` largest logits of each row, largest first, each `[batch, 1]`: the values a
/// descending sort puts first, with the same gradient (to the position each came from). Taken
/// as `k` rounds of argmax, gather and masking out, because burn's wgpu backend sorts through a
/// blocking read of the device, which a browser's WebGPU refuses (the page runs APGD-T there).
fn largest(logits: Tensor<2>, k: usize) -> Vec<Tensor<2>> {
    let [batch, classes] = logits.dims();
    let device = logits.device();
    let columns = Tensor::<1, Int>::arange(0..classes as i64, &device)
        .reshape([1, classes])
        .expand([batch, classes]);
    let mut remaining = logits.clone();
    let mut top = Vec::with_capacity(k);
    for _ in 0..k {
        let at = remaining.clone().argmax(1);
        top.push(logits.clone().gather(1, at.clone()));
        let taken = columns.clone().equal(at.expand([batch, classes]));
        remaining = remaining.mask_fill(taken, f32::NEG_INFINITY);
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::cpu;
    use burn::tensor::TensorData;

    fn tensor(rows: &[&[f32]]) -> Tensor<2> {
        let k = rows[0].len();
        let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(values, [rows.len(), k]), &cpu())
    }

    fn scores(objective: &Objective, task_kind: TaskKind, logits: &[&[f32]]) -> Vec<f32> {
        objective
            .per_sample(task_kind, tensor(logits))
            .into_data()
            .try_to_vec()
            .unwrap()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    /// Hand-computed DLR: logits (3, 1, 0.5, −1), truth 0 → −(3 − 1)/(3 − 0.5) = −0.8; truth 2
    /// → −(0.5 − 3)/(3 − 0.5) = 1. Targeted at 1 with truth 0: −(3 − 1)/(3 − (0.5 − 1)/2) =
    /// −2/3.25. Adding 7 to every logit or doubling them changes nothing.
    #[test]
    fn dlr_matches_hand_computed_values_and_ignores_shift_and_scale() {
        let logits: &[&[f32]] = &[&[3.0, 1.0, 0.5, -1.0], &[3.0, 1.0, 0.5, -1.0]];
        let truth = tensor(&[&[1.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 1.0, 0.0]]);
        let dlr = Objective::dlr(truth.clone());
        close(&scores(&dlr, TaskKind::MultiClass, logits), &[-0.8, 1.0]);
        let moved: &[&[f32]] = &[&[20.0, 16.0, 15.0, 12.0], &[13.0, 11.0, 10.5, 9.0]];
        close(&scores(&dlr, TaskKind::MultiClass, moved)[1..], &[1.0]);
        let targeted = Objective::dlr_targeted(
            truth.clone().narrow(0, 0, 1),
            tensor(&[&[0.0, 1.0, 0.0, 0.0]]),
        );
        close(
            &scores(&targeted, TaskKind::MultiClass, &logits[..1]),
            &[-2.0 / 3.25],
        );
    }

    /// Binary: the plain margin; three classes targeted: the denominator z_π1 − z_π3.
    #[test]
    fn few_classes_fall_back_to_the_margin_and_the_shorter_scale() {
        let truth = tensor(&[&[0.0, 1.0]]);
        let binary: &[&[f32]] = &[&[2.0, -0.5]];
        close(
            &scores(&Objective::dlr(truth.clone()), TaskKind::Binary, binary),
            &[2.5],
        );
        let towards_0 = Objective::dlr_targeted(truth, tensor(&[&[1.0, 0.0]]));
        close(&scores(&towards_0, TaskKind::Binary, binary), &[2.5]);
        let three =
            Objective::dlr_targeted(tensor(&[&[1.0, 0.0, 0.0]]), tensor(&[&[0.0, 0.0, 1.0]]));
        // −(4 − 1)/(4 − 1) with sorted logits (4, 2, 1).
        close(
            &scores(&three, TaskKind::MultiClass, &[&[4.0, 2.0, 1.0]]),
            &[-1.0],
        );
    }

    /// The plain margin, hand-computed: logits (3, 1, 0.5, −1), truth 0 → −(3 − 1) = −2, truth 2
    /// → −(0.5 − 3) = 2.5; binary (2, −0.5) with truth 1 → 2.5. Adding 7 to every logit changes
    /// nothing, doubling them doubles it (unlike DLR). Multi-label: the smallest finding margin.
    #[test]
    fn margin_is_the_unnormalised_logit_gap() {
        let truth = tensor(&[&[1.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 1.0, 0.0]]);
        let margin = Objective::margin(truth);
        let logits: &[&[f32]] = &[&[3.0, 1.0, 0.5, -1.0], &[3.0, 1.0, 0.5, -1.0]];
        close(&scores(&margin, TaskKind::MultiClass, logits), &[-2.0, 2.5]);
        let shifted: &[&[f32]] = &[&[10.0, 8.0, 7.5, 6.0], &[10.0, 8.0, 7.5, 6.0]];
        close(
            &scores(&margin, TaskKind::MultiClass, shifted),
            &[-2.0, 2.5],
        );
        let doubled: &[&[f32]] = &[&[6.0, 2.0, 1.0, -2.0], &[6.0, 2.0, 1.0, -2.0]];
        close(
            &scores(&margin, TaskKind::MultiClass, doubled),
            &[-4.0, 5.0],
        );
        let binary = Objective::margin(tensor(&[&[0.0, 1.0]]));
        close(&scores(&binary, TaskKind::Binary, &[&[2.0, -0.5]]), &[2.5]);
        let findings = Objective::margin(tensor(&[&[1.0, 0.0, 1.0]]));
        close(
            &scores(&findings, TaskKind::MultiLabel, &[&[2.0, -1.0, 0.75]]),
            &[-0.75],
        );
    }

    /// Multi-label: findings (present, absent, present) with logits (2, −1, −0.25): the third is
    /// already wrong, so the untargeted score is its margin 0.25; flipping the first targets 2.
    #[test]
    fn multi_label_scores_are_finding_margins() {
        let truth = tensor(&[&[1.0, 0.0, 1.0]]);
        let logits: &[&[f32]] = &[&[2.0, -1.0, -0.25]];
        close(
            &scores(&Objective::dlr(truth.clone()), TaskKind::MultiLabel, logits),
            &[0.25],
        );
        let flip_first = Objective::dlr_targeted(truth, tensor(&[&[1.0, 0.0, 0.0]]));
        close(&scores(&flip_first, TaskKind::MultiLabel, logits), &[-2.0]);
        let flip_second =
            Objective::target_margin(tensor(&[&[1.0, 0.0, 1.0]]), tensor(&[&[0.0, 1.0, 0.0]]));
        close(&scores(&flip_second, TaskKind::MultiLabel, logits), &[-1.0]);
    }

    /// The target margin is the raw gap z_t − z_y, unscaled whatever the class count: logits
    /// (3, 1, 0.5, −1), truth 0, target 2 → −2.5 (DLR would divide by 3.25); truth 2, target 0
    /// → 2.5; binary (2, −0.5), truth 1, target 0 → 2.5. Its input gradient is that of
    /// z_t − z_y: +1 on the target's logit, −1 on the truth's.
    #[test]
    fn target_margin_is_the_unscaled_logit_gap() {
        let logits: &[&[f32]] = &[&[3.0, 1.0, 0.5, -1.0], &[3.0, 1.0, 0.5, -1.0]];
        let gap = Objective::target_margin(
            tensor(&[&[1.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 1.0, 0.0]]),
            tensor(&[&[0.0, 0.0, 1.0, 0.0], &[1.0, 0.0, 0.0, 0.0]]),
        );
        close(&scores(&gap, TaskKind::MultiClass, logits), &[-2.5, 2.5]);
        let binary = Objective::target_margin(tensor(&[&[0.0, 1.0]]), tensor(&[&[1.0, 0.0]]));
        close(&scores(&binary, TaskKind::Binary, &[&[2.0, -0.5]]), &[2.5]);

        let z = tensor(&logits[..1]).autodiff().require_grad();
        let one = Objective::target_margin(
            tensor(&[&[1.0, 0.0, 0.0, 0.0]]),
            tensor(&[&[0.0, 0.0, 1.0, 0.0]]),
        );
        let grads = one
            .per_sample(TaskKind::MultiClass, z.clone())
            .sum()
            .backward();
        let gradient: Vec<f32> = z.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        assert_eq!(gradient, [-1.0, 0.0, 1.0, 0.0]);
    }

    /// The sort-free top four equal a descending sort, ties included, and carry its gradient:
    /// d(z_π1 − z_π3)/dz is +1 at the largest logit and −1 at the third.
    #[test]
    fn the_largest_logits_equal_a_sort_and_carry_its_gradient() {
        let rows: &[&[f32]] = &[&[0.5, 3.0, -1.0, 3.0, 2.0], &[1.0, -2.0, 4.0, 0.0, 0.5]];
        let top: Vec<Vec<f32>> = largest(tensor(rows), 4)
            .into_iter()
            .map(|t| t.into_data().try_to_vec().unwrap())
            .collect();
        let sorted = tensor(rows).sort_descending(1);
        for (k, column) in top.iter().enumerate() {
            let expected: Vec<f32> = sorted
                .clone()
                .narrow(1, k, 1)
                .into_data()
                .try_to_vec()
                .unwrap();
            assert_eq!(column, &expected, "rank {k}");
        }
        let z = tensor(&rows[1..]).autodiff().require_grad();
        let spread = scale(z.clone(), false).sum();
        let gradient: Vec<f32> = z
            .grad(&spread.backward())
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(gradient, [0.0, 0.0, 1.0, 0.0, -1.0]);
    }
}
