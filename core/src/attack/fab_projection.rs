//! FAB's projections: the smallest step `d` (in L∞ or L2) that takes a point `t` of the unit
//! box onto the hyperplane `w·x = b` while `t + d` stays in the box. Each row of the `[rows, n]`
//! inputs is its own problem. The step is piecewise linear in its length λ (pixels saturate at
//! 0 or 1 one by one, in the order of their breakpoints), so both algorithms sort the
//! breakpoints, accumulate the reachable `w·d` with `cumsum`, binary-search the piece where the
//! hyperplane is met and solve it in closed form. They follow fra31/auto-attack's
//! `fab_projections.py` operation for operation (torchattacks 3.5.1 has the same code), with
//! the reference's boolean-indexed branches computed for every row and chosen by mask, so the
//! gathers and the ⌈log₂ n⌉ search steps stay on the device. The sort is burn's: on the CPU
//! backend in place, on wgpu (which has no GPU sort in burn 0.22) a blocking read to the host,
//! so the browser, where blocking reads are refused, cannot run FAB.

use burn::Tensor;
use burn::tensor::{Bool, Int};

/// The reference's stand-in for "no breakpoint" in the L2 projection.
const FAR: f32 = 1e12;
/// Below this, a component of `w` counts as zero in the L2 projection.
const TINY_WEIGHT: f32 = 1e-8;

/// Running sums along each row, in blocks: a plain f32 running sum over an image's ~10⁴ pixels
/// drifts by ~10⁻³ relative, and the projections take differences of these sums that nearly
/// cancel (the reference's PyTorch CPU `cumsum` accumulates in f64). Summing within blocks of
/// 128, then over the block totals, keeps each sum within ~(128 + n/128) roundings.
fn cumsum_rows(values: Tensor<2>) -> Tensor<2> {
    const BLOCK: usize = 128;
    let [m, n] = values.dims();
    if n <= BLOCK {
        return values.cumsum(1);
    }
    let blocks = n.div_ceil(BLOCK);
    let padded = if blocks * BLOCK > n {
        let zeros = Tensor::zeros([m, blocks * BLOCK - n], &values.device());
        Tensor::cat(vec![values, zeros], 1)
    } else {
        values
    };
    let within = padded.reshape([m, blocks, BLOCK]).cumsum(2);
    let totals = within.clone().narrow(2, BLOCK - 1, 1).cumsum(1);
    let before = Tensor::cat(
        vec![
            Tensor::zeros([m, 1, 1], &within.device()),
            totals.narrow(1, 0, blocks - 1),
        ],
        1,
    );
    (within + before)
        .reshape([m, blocks * BLOCK])
        .narrow(1, 0, n)
}

/// Each row's sum `[m]`, in blocks of 128 like [`cumsum_rows`]: the hyperplane offsets are
/// sums over every pixel that nearly cancel.
pub(crate) fn sum_rows(values: Tensor<2>) -> Tensor<1> {
    const BLOCK: usize = 128;
    let [m, n] = values.dims();
    let blocks = n.div_ceil(BLOCK);
    let padded = if blocks * BLOCK > n {
        let zeros = Tensor::zeros([m, blocks * BLOCK - n], &values.device());
        Tensor::cat(vec![values, zeros], 1)
    } else {
        values
    };
    padded
        .reshape([m, blocks, BLOCK])
        .sum_dim(2)
        .sum_dim(1)
        .reshape([m])
}

/// `rows [m]` as a column `[m, 1]`, to broadcast over a row of `n` values.
fn column(rows: Tensor<1>) -> Tensor<2> {
    let [m] = rows.dims();
    rows.reshape([m, 1])
}

/// Column `k` of each row of `values` (`k [m, 1]`), as `[m]`.
fn at(values: &Tensor<2>, k: &Tensor<2, Int>) -> Tensor<1> {
    let [m, _] = values.dims();
    values.clone().gather(1, k.clone()).reshape([m])
}

/// The last column of `values`, as `[m]`.
fn last(values: &Tensor<2>) -> Tensor<1> {
    let [m, n] = values.dims();
    values.clone().narrow(1, n - 1, 1).reshape([m])
}

/// Row by row, `yes` where `mask [m]` holds, else `no`.
fn where_rows(mask: &Tensor<1, Bool>, yes: Tensor<2>, no: Tensor<2>) -> Tensor<2> {
    let shape = yes.dims();
    let [m, _] = shape;
    no.mask_where(mask.clone().reshape([m, 1]).expand(shape), yes)
}

/// ±1 per row: +1 where `value ≥ 0`.
fn sign_of(value: Tensor<1>) -> Tensor<1> {
    value
        .greater_equal_elem(0.0)
        .float()
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// The binary search of both projections: in each row, the last index `k` of `0..n` (searched
/// as the reference does, `⌈log₂ n⌉` halvings of `[0, n − 1]`) where `above(k)` holds.
fn search(
    m: usize,
    n: usize,
    device: &burn::tensor::Device,
    above: impl Fn(&Tensor<2, Int>) -> Tensor<1, Bool>,
) -> Tensor<2, Int> {
    let mut low = Tensor::<1>::zeros([m], device);
    let mut high = Tensor::<1>::full([m], (n - 1) as f32, device);
    let halvings = (n as f64).log2().ceil() as usize;
    for _ in 0..halvings {
        let middle = (low.clone() + high.clone()).div_scalar(2.0).floor();
        let k = column(middle.clone()).int();
        let up = above(&k);
        low = low.mask_where(up.clone(), middle.clone());
        high = middle.mask_where(up, high);
    }
    column(low).int()
}

/// The smallest L∞ step from each row of `t` onto its hyperplane `w·x = b`, within [0, 1]
/// (fra31's `projection_linf`).
pub(crate) fn projection_linf(t: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    let [m, n] = t.dims();
    let device = t.device();
    let side = sign_of(sum_rows(w.clone() * t.clone()) - b.clone());
    let w = w * column(side.clone());
    let b = b * side;
    let moves = w.clone().not_equal_elem(0.0).float();
    // a = 1 where w < 0: the box corner that lowers w·x is 1 there, 0 elsewhere.
    let a = w.clone().lower_elem(0.0).float();
    let d = (a.clone() - t.clone()) * moves.clone();
    // Each pixel's breakpoint: how far it can move before it reaches that corner.
    let p = a.clone() - t.clone() * (a.clone().mul_scalar(2.0).sub_scalar(1.0));
    let order = p.clone().argsort(1);
    let b = b - sum_rows(w.clone() * t);
    let b0 = sum_rows(w.clone() * d.clone());
    let descending = order.clone().flip([1]);
    let ws = w.clone().gather(1, descending.clone());
    let bs2 = ws.clone().neg() * d.clone().gather(1, descending);
    let s = cumsum_rows(ws.abs());
    let sb = cumsum_rows(bs2) + column(b0.clone());

    let smallest = at(&p, &order.clone().narrow(1, 0, 1));
    let b2 = last(&sb) - last(&s) * smallest;
    let whole = (b.clone() - b2).greater_elem(0.0);
    let within = (b.clone() - b0)
        .greater_elem(0.0)
        .bool_and(whole.clone().bool_not());

    let k = search(m, n, &device, |k| {
        let current = order
            .clone()
            .gather(1, k.clone().neg().add_scalar(n as i64 - 1));
        let b2 = at(&sb, k) - at(&s, k) * at(&p, &current);
        (b.clone() - b2).greater_elem(0.0)
    });

    let lambda_whole = column(((b.clone() - last(&sb)) / last(&s).neg()).clamp_min(0.0));
    let d_whole = a.clone().mul_scalar(2.0).sub_scalar(1.0) * lambda_whole;
    let lambda = column(((b - at(&sb, &k)) / at(&s, &k).neg()).clamp_min(0.0));
    let d_within = d.clone().min_pair(lambda.clone()) * a.clone()
        + d.clone().max_pair(lambda.neg()) * a.neg().add_scalar(1.0);
    let d = where_rows(&whole, d_whole, where_rows(&within, d_within, d));
    d * moves
}

/// The smallest L2 step from each row of `t` onto its hyperplane `w·x = b`, within [0, 1]
/// (fra31's `projection_l2`).
pub(crate) fn projection_l2(t: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    let [m, n] = t.dims();
    let device = t.device();
    let c = sum_rows(w.clone() * t.clone()) - b;
    let side = sign_of(c.clone());
    let w = w * column(side.clone());
    let c = c * side;
    let flat = w.clone().abs().lower_elem(TINY_WEIGHT);
    // Each pixel's breakpoint: the step length along −w at which it reaches 0 or 1.
    let r = (t.clone() / w.clone())
        .max_pair((t.sub_scalar(1.0)) / w.clone())
        .clamp(-FAR, FAR)
        .mask_fill(flat.clone(), FAR);
    let r = r.clone().mask_fill(r.equal_elem(-FAR), FAR);
    let (rs, order) = r.clone().sort_with_indices(1);
    let rs2 = Tensor::cat(
        vec![
            rs.clone().narrow(1, 1, n - 1),
            Tensor::zeros([m, 1], &device),
        ],
        1,
    );
    let rs = rs.clone().mask_fill(rs.equal_elem(FAR), 0.0);
    let rs2 = rs2.clone().mask_fill(rs2.equal_elem(FAR), 0.0);
    let w3s = w.clone().powi_scalar(2).gather(1, order);
    let w5 = column(sum_rows(w3s.clone()));
    let ws = w5.clone() - cumsum_rows(w3s);
    let moves = flat.bool_not().float();
    let d = (r.clone() * w.clone()).neg() * moves.clone();
    let first = rs.clone().narrow(1, 0, 1);
    let s = Tensor::cat(
        vec![
            w5.clone().neg() * first.clone(),
            cumsum_rows((rs2.neg() + rs.clone()) * ws.clone()) - w5.clone() * first,
        ],
        1,
    );

    let free = (s.clone().narrow(1, 0, 1).reshape([m]) + c.clone()).lower_elem(0.0);
    let boxed = (sum_rows(d.clone() * w.clone()) + c.clone()).greater_elem(0.0);
    let within = free.clone().bool_or(boxed).bool_not();

    let k = search(m, n, &device, |k| (at(&s, k) + c.clone()).greater_elem(0.0));

    let d_free = column((c.clone() / w5.reshape([m])).neg()) * w.clone();
    let ws_k = at(&ws, &k);
    let alpha = (at(&s, &k) + c) / ws_k.clone() + at(&rs, &k);
    let alpha = column(alpha.mask_fill(ws_k.equal_elem(0.0), 0.0));
    let saturated = alpha.clone().greater(r).float();
    let d_within = d.clone() * saturated.clone() - alpha * w * saturated.neg().add_scalar(1.0);
    let d = where_rows(&free, d_free, where_rows(&within, d_within, d));
    d * moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::cpu;
    use burn::tensor::TensorData;

    fn rows(values: &[&[f32]]) -> Tensor<2> {
        let n = values[0].len();
        let flat: Vec<f32> = values.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [values.len(), n]), &cpu())
    }

    fn vector(values: &[f32]) -> Tensor<1> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), &cpu())
    }

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    fn close(ours: &[f32], expected: &[f32]) {
        assert_eq!(ours.len(), expected.len());
        for (a, b) in ours.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{ours:?} vs {expected:?}");
        }
    }

    /// Two pixels at t = (0.2, 0.5), hyperplane x₁ + x₂ = 1.5.
    /// L∞: both move by the same λ towards the plane, 0.2 + λ + 0.5 + λ = 1.5 → λ = 0.4.
    /// L2: along the normal (1, 1), d = (0.4, 0.4) as well. With 2x₁ + x₂ = 1.5 instead the
    /// two differ: the gap is 1.5 − 0.9 = 0.6, so L∞ moves both pixels by λ = 0.6/3 = 0.2 and
    /// L2 along the normal, d = 0.6·(2, 1)/5 = (0.24, 0.12).
    #[test]
    fn inside_the_box_the_projections_are_the_textbook_ones() {
        let t = rows(&[&[0.2, 0.5], &[0.2, 0.5]]);
        let w = rows(&[&[1.0, 1.0], &[2.0, 1.0]]);
        let b = vector(&[1.5, 1.5]);
        close(
            &host(projection_linf(t.clone(), w.clone(), b.clone())),
            &[0.4, 0.4, 0.2, 0.2],
        );
        close(&host(projection_l2(t, w, b)), &[0.4, 0.4, 0.24, 0.12]);
    }

    /// The box binds: t = (0.9, 0.1), plane x₁ + x₂ = 1.6. Unconstrained, L∞ would move both
    /// by 0.3 and L2 likewise, taking x₁ to 1.2; in the box x₁ stops at 1 (d₁ = 0.1) and x₂
    /// carries the rest, d₂ = 0.5, the smallest L∞ and L2 step that reaches the plane. From
    /// the other side (plane x₁ + x₂ = 0.4, t = (0.9, 0.1)): x₂ stops at 0 (d₂ = −0.1) and
    /// x₁ moves by −0.5.
    #[test]
    fn pixels_stop_at_the_edge_of_the_box() {
        let t = rows(&[&[0.9, 0.1], &[0.9, 0.1]]);
        let w = rows(&[&[1.0, 1.0], &[1.0, 1.0]]);
        let b = vector(&[1.6, 0.4]);
        let expected = [0.1, 0.5, -0.5, -0.1];
        close(
            &host(projection_linf(t.clone(), w.clone(), b.clone())),
            &expected,
        );
        close(&host(projection_l2(t, w, b)), &expected);
    }

    /// A plane the box cannot reach (x₁ + x₂ = 3): both go to the nearest corner, (1, 1). A
    /// zero weight never moves its pixel: w = (0, 2), plane 2x₂ = 1 from (0.3, 0.2) moves x₂
    /// by 0.3 and x₁ not at all. A zero gradient (w = 0, a flat model) moves nothing, and no
    /// division by its zero length leaks a NaN.
    #[test]
    fn out_of_reach_planes_and_zero_weights() {
        let t = rows(&[&[0.2, 0.5], &[0.3, 0.2], &[0.3, 0.6]]);
        let w = rows(&[&[1.0, 1.0], &[0.0, 2.0], &[0.0, 0.0]]);
        let b = vector(&[3.0, 1.0, 0.3]);
        let expected = [0.8, 0.5, 0.0, 0.3, 0.0, 0.0];
        close(
            &host(projection_linf(t.clone(), w.clone(), b.clone())),
            &expected,
        );
        close(&host(projection_l2(t, w, b)), &expected);
    }

    /// A point already on its plane does not move. Five pixels (the search takes ⌈log₂ 5⌉ = 3
    /// halvings): t = (0.1, 0.9, 0.4, 0.7, 0), w = (1, −3, 0.5, 2, −1), plane w·x = 1.3, so
    /// the gap is 1.3 − (−1.0) = 2.3. L∞: every pixel moves by λ towards the plane; x₅ sits at
    /// 0 and cannot fall, x₄ reaches 1 after 0.3, so 6.5·0.3 + 4.5·(λ − 0.3) = 2.3, λ = 0.37̅7.
    /// L2: along w over the free pixels until x₄ saturates; x₄ gets its 0.3 and the rest of
    /// the gap, 1.7, goes along (1, −3, 0.5) / 10.25: (0.16585, −0.49756, 0.08293).
    #[test]
    fn the_step_lands_on_the_plane_inside_the_box() {
        let t = rows(&[&[0.5, 0.5, 0.5, 0.5, 0.5], &[0.1, 0.9, 0.4, 0.7, 0.0]]);
        let w = rows(&[&[1.0, -1.0, 2.0, 0.5, 0.0], &[1.0, -3.0, 0.5, 2.0, -1.0]]);
        let b = vector(&[1.25, 1.3]);
        let lambda = 0.3 + (2.3 - 6.5 * 0.3) / 4.5;
        let linf = host(projection_linf(t.clone(), w.clone(), b.clone()));
        close(
            &linf,
            &[0.0, 0.0, 0.0, 0.0, 0.0, lambda, -lambda, lambda, 0.3, 0.0],
        );
        let free = 1.7 / 10.25;
        let l2 = host(projection_l2(t, w, b));
        close(
            &l2,
            &[
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                free,
                -3.0 * free,
                0.5 * free,
                0.3,
                0.0,
            ],
        );
    }

    /// The blocked running sums and row sums equal the exact ones (f64 on the host) across block
    /// edges and the zero padding: 2 rows of 300 values, blocks of 128.
    #[test]
    fn blocked_sums_are_the_running_sums() {
        let values: Vec<f32> = (0..600)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let t = Tensor::<2>::from_data(TensorData::new(values.clone(), [2, 300]), &cpu());
        let running = host(cumsum_rows(t.clone()));
        let totals: Vec<f32> = sum_rows(t).into_data().try_to_vec().unwrap();
        for (row, chunk) in values.chunks(300).enumerate() {
            let mut exact = 0.0f64;
            for (k, v) in chunk.iter().enumerate() {
                exact += *v as f64;
                let ours = running[row * 300 + k] as f64;
                assert!(
                    (ours - exact).abs() < 1e-4,
                    "row {row} at {k}: {ours} vs {exact}"
                );
            }
            assert!(
                (totals[row] as f64 - exact).abs() < 1e-4,
                "row {row}: {}",
                totals[row]
            );
        }
    }
}
