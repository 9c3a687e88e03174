//! 2-D convolution and its two gradients on NCHW `f32` slices, one image at a time: im2col into
//! a column matrix, then one matrix product per group, written straight into the image's output.
//!
//! - forward: `y_g = W_g · cols(x)_g`;
//! - input gradient: for stride 1, the forward convolution of `dy` with the flipped, transposed
//!   kernel; otherwise `cols = W_gᵀ · dy_g` folded back with col2im, each image on its own, so
//!   the scatter of one image never waits for another's;
//! - weight gradient: `dW_g = Σ_b dy_{b,g} · cols(x_b)_gᵀ`, summed over the batch in a fixed
//!   order whatever the number of threads.

use core::cell::Cell;
use core::ops::Range;

use crate::geometry::ConvGeometry;
use crate::im2col::{col2im_add, im2col};
use crate::matmul::{MatrixRef, Threads, matmul};

/// Images whose weight gradients are summed in one buffer, one after another; the buffers are
/// then added in order. Fixed, so the sum is the same on any number of threads.
const IMAGES_PER_PARTIAL_SUM: usize = 4;

/// Elements of one band of a column matrix (512 KB): small enough to stay in a core's cache
/// between its im2col and its matrix product; a whole image's columns (1.2 MB for an 8-channel
/// 64-px layer) went out to memory and back.
const BAND_ELEMENTS: usize = 128 * 1024;

/// The output rows of each band of one image's columns: the fewest bands of at most
/// [`BAND_ELEMENTS`] (at least a row each), cut evenly, so no band is a sliver too narrow for
/// the matrix product to run well.
fn bands(geometry: &ConvGeometry) -> impl Iterator<Item = Range<usize>> {
    let [out_h, out_w] = geometry.out_size;
    let count = (geometry.patch_len() * out_w * out_h)
        .div_ceil(BAND_ELEMENTS)
        .clamp(1, out_h);
    let rows = out_h.div_ceil(count);
    (0..out_h)
        .step_by(rows)
        .map(move |start| start..(start + rows).min(out_h))
}

/// Runs `work` on a buffer of `len` elements kept by this thread between calls (its contents
/// are whatever the last call left). Taken out of its cell while in use, so a call nested on
/// the same thread (rayon runs other jobs while it waits) gets a buffer of its own.
fn with_scratch<R>(len: usize, work: impl FnOnce(&mut [f32]) -> R) -> R {
    thread_local! {
        static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    }
    let mut buffer = SCRATCH.take();
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    let result = work(&mut buffer[..len]);
    SCRATCH.set(buffer);
    result
}

/// Runs `work(image_index, output_chunk)` for every image: on all threads, one image each, where
/// there are several images; otherwise on this thread, the matrix products using the others.
fn for_each_image<F>(output: &mut [f32], image_len: usize, work: F)
where
    F: Fn(usize, &mut [f32], Threads) + Sync + Send,
{
    let images = output.len() / image_len.max(1);
    #[cfg(feature = "rayon")]
    if images > 1 {
        use rayon::prelude::*;
        output
            .par_chunks_mut(image_len)
            .enumerate()
            .for_each(|(b, chunk)| work(b, chunk, Threads::One));
        return;
    }
    let threads = if images > 1 {
        Threads::One
    } else {
        Threads::All
    };
    for (b, chunk) in output.chunks_mut(image_len).enumerate() {
        work(b, chunk, threads);
    }
}

/// Group `group`'s rows of the weight, `[out / groups, patch_len]`.
fn group_kernel<'a>(weight: &'a [f32], geometry: &ConvGeometry, group: usize) -> MatrixRef<'a> {
    let (rows, patch) = (geometry.out_per_group(), geometry.patch_len());
    MatrixRef::row_major(
        &weight[group * rows * patch..(group + 1) * rows * patch],
        rows,
        patch,
    )
}

/// Image `b` of an input batch.
fn input_image<'a>(x: &'a [f32], geometry: &ConvGeometry, b: usize) -> &'a [f32] {
    &x[b * geometry.in_image()..(b + 1) * geometry.in_image()]
}

/// Image `b` of an output (or output-gradient) batch.
fn output_image<'a>(y: &'a [f32], geometry: &ConvGeometry, b: usize) -> &'a [f32] {
    &y[b * geometry.out_image()..(b + 1) * geometry.out_image()]
}

/// `conv2d(x, weight)` without bias: `[batch, out_channels, out_h, out_w]`, row-major.
pub fn conv2d(x: &[f32], weight: &[f32], geometry: &ConvGeometry) -> Vec<f32> {
    assert_eq!(x.len(), geometry.batch * geometry.in_image());
    assert_eq!(weight.len(), geometry.weight_len());
    let (patch, plane, out_g) = (
        geometry.patch_len(),
        geometry.out_plane(),
        geometry.out_per_group(),
    );
    let out_w = geometry.out_size[1];
    let mut output = vec![0.0; geometry.batch * geometry.out_image()];
    for_each_image(&mut output, geometry.out_image(), |b, out, threads| {
        let image = input_image(x, geometry, b);
        for group in 0..geometry.groups {
            let kernel = group_kernel(weight, geometry, group);
            let out = &mut out[group * out_g * plane..(group + 1) * out_g * plane];
            if geometry.is_pointwise() {
                let channels = &image[group * patch * plane..(group + 1) * patch * plane];
                let columns = MatrixRef::row_major(channels, patch, plane);
                matmul(out, plane, kernel, columns, false, threads);
                continue;
            }
            for rows in bands(geometry) {
                let band = rows.len() * out_w;
                with_scratch(patch * band, |columns| {
                    im2col(image, geometry, group, rows.clone(), columns);
                    let columns = MatrixRef::row_major(columns, patch, band);
                    let out = &mut out[rows.start * out_w..];
                    matmul(out, plane, kernel, columns, false, threads);
                });
            }
        }
    });
    output
}

/// The gradient of `conv2d` with respect to its input: `[batch, in_channels, in_h, in_w]`. For
/// stride 1, the flipped convolution, unless `dy` has several times the input's channels: its
/// im2col copies `dy`'s channels where col2im adds into the input's, and `bench kernels`
/// measured col2im 1.3x faster on a first layer (3 → 32 channels) and the convolution ahead
/// from 2x (32 → 64) down. Strided convolutions have only the col2im form.
pub fn conv2d_input_grad(output_grad: &[f32], weight: &[f32], geometry: &ConvGeometry) -> Vec<f32> {
    let by_convolution = (geometry.out_channels < 4 * geometry.in_channels)
        .then(|| input_grad_by_convolution(output_grad, weight, geometry))
        .flatten();
    by_convolution.unwrap_or_else(|| input_grad_by_col2im(output_grad, weight, geometry))
}

/// The input gradient of a stride-1 convolution as the forward convolution of `dy` with the
/// flipped, transposed kernel; `None` for other strides or a padding beyond the kernel's reach.
pub fn input_grad_by_convolution(
    output_grad: &[f32],
    weight: &[f32],
    geometry: &ConvGeometry,
) -> Option<Vec<f32>> {
    let transposed = geometry.input_gradient_as_convolution()?;
    Some(conv2d(
        output_grad,
        &flipped_transposed(weight, geometry),
        &transposed,
    ))
}

/// The input gradient as `cols = W_gᵀ · dy_g` folded back onto the input with col2im, a band of
/// output rows at a time, each image on its own thread (no scatter waits for another image's).
pub fn input_grad_by_col2im(
    output_grad: &[f32],
    weight: &[f32],
    geometry: &ConvGeometry,
) -> Vec<f32> {
    assert_eq!(output_grad.len(), geometry.batch * geometry.out_image());
    assert_eq!(weight.len(), geometry.weight_len());
    let (patch, plane, out_g) = (
        geometry.patch_len(),
        geometry.out_plane(),
        geometry.out_per_group(),
    );
    let out_w = geometry.out_size[1];
    let mut input_grad = vec![0.0; geometry.batch * geometry.in_image()];
    for_each_image(
        &mut input_grad,
        geometry.in_image(),
        |b, image_grad, threads| {
            let dy = output_image(output_grad, geometry, b);
            for group in 0..geometry.groups {
                let kernel = group_kernel(weight, geometry, group);
                let dy = &dy[group * out_g * plane..(group + 1) * out_g * plane];
                for rows in bands(geometry) {
                    let band = rows.len() * out_w;
                    with_scratch(patch * band, |columns| {
                        let dy = MatrixRef::strided(&dy[rows.start * out_w..], out_g, band, plane);
                        matmul(columns, band, kernel.transposed(), dy, false, threads);
                        col2im_add(columns, geometry, group, rows.clone(), image_grad);
                    });
                }
            }
        },
    );
    input_grad
}

/// The kernel of the input gradient's convolution: `W'[g·in_g + c, o, i, j] = W[g·out_g + o, c,
/// kh − 1 − i, kw − 1 − j]`, shaped `[in_channels, out_channels / groups, kh, kw]`.
fn flipped_transposed(weight: &[f32], geometry: &ConvGeometry) -> Vec<f32> {
    let [kh, kw] = geometry.kernel;
    let (in_g, out_g) = (geometry.in_per_group(), geometry.out_per_group());
    let mut flipped = vec![0.0; weight.len()];
    for group in 0..geometry.groups {
        for o in 0..out_g {
            for c in 0..in_g {
                let source = ((group * out_g + o) * in_g + c) * kh * kw;
                let target = ((group * in_g + c) * out_g + o) * kh * kw;
                for tap in 0..kh * kw {
                    flipped[target + kh * kw - 1 - tap] = weight[source + tap];
                }
            }
        }
    }
    flipped
}

/// The gradient of `conv2d` with respect to its weight: `[out_channels, in_channels / groups,
/// kh, kw]`.
pub fn conv2d_weight_grad(x: &[f32], output_grad: &[f32], geometry: &ConvGeometry) -> Vec<f32> {
    assert_eq!(x.len(), geometry.batch * geometry.in_image());
    assert_eq!(output_grad.len(), geometry.batch * geometry.out_image());
    let (patch, plane, out_g) = (
        geometry.patch_len(),
        geometry.out_plane(),
        geometry.out_per_group(),
    );
    let out_w = geometry.out_size[1];
    let weight_len = geometry.weight_len();
    let partials = geometry.batch.div_ceil(IMAGES_PER_PARTIAL_SUM);
    let mut sums = vec![0.0; partials * weight_len];
    let threads = if partials > 1 {
        Threads::One
    } else {
        Threads::All
    };
    let partial_sum = |index: usize, sum: &mut [f32]| {
        let first = index * IMAGES_PER_PARTIAL_SUM;
        for b in first..(first + IMAGES_PER_PARTIAL_SUM).min(geometry.batch) {
            let image = input_image(x, geometry, b);
            let dy = output_image(output_grad, geometry, b);
            for group in 0..geometry.groups {
                let sum = &mut sum[group * out_g * patch..(group + 1) * out_g * patch];
                let dy = &dy[group * out_g * plane..(group + 1) * out_g * plane];
                if geometry.is_pointwise() {
                    let channels = &image[group * patch * plane..(group + 1) * patch * plane];
                    let columns = MatrixRef::row_major(channels, patch, plane).transposed();
                    let dy = MatrixRef::row_major(dy, out_g, plane);
                    matmul(sum, patch, dy, columns, b != first, threads);
                    continue;
                }
                for rows in bands(geometry) {
                    let band = rows.len() * out_w;
                    let accumulate = b != first || rows.start > 0;
                    with_scratch(patch * band, |columns| {
                        im2col(image, geometry, group, rows.clone(), columns);
                        let columns = MatrixRef::row_major(columns, patch, band).transposed();
                        let dy = MatrixRef::strided(&dy[rows.start * out_w..], out_g, band, plane);
                        matmul(sum, patch, dy, columns, accumulate, threads);
                    });
                }
            }
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        sums.par_chunks_mut(weight_len)
            .enumerate()
            .for_each(|(index, sum)| partial_sum(index, sum));
    }
    #[cfg(not(feature = "rayon"))]
    for (index, sum) in sums.chunks_mut(weight_len).enumerate() {
        partial_sum(index, sum);
    }
    let (total, rest) = sums.split_at_mut(weight_len);
    for partial in rest.chunks_exact(weight_len) {
        for (t, p) in total.iter_mut().zip(partial) {
            *t += p;
        }
    }
    sums.truncate(weight_len);
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::ops::ConvOptions;

    /// A convolution straight from its definition, in f64.
    fn reference(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f64> {
        let [kh, kw] = g.kernel;
        let (in_g, out_g) = (g.in_per_group(), g.out_per_group());
        let mut y = vec![0.0; g.batch * g.out_image()];
        for b in 0..g.batch {
            for o in 0..g.out_channels {
                let group = o / out_g;
                for oh in 0..g.out_size[0] {
                    for ow in 0..g.out_size[1] {
                        let mut sum = 0.0f64;
                        for c in 0..in_g {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let ih = (oh * g.stride[0] + i * g.dilation[0]) as isize
                                        - g.padding[0].0 as isize;
                                    let iw = (ow * g.stride[1] + j * g.dilation[1]) as isize
                                        - g.padding[1].0 as isize;
                                    if ih < 0
                                        || iw < 0
                                        || ih >= g.in_size[0] as isize
                                        || iw >= g.in_size[1] as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((b * g.in_channels + group * in_g + c)
                                        * g.in_size[0]
                                        + ih as usize)
                                        * g.in_size[1]
                                        + iw as usize;
                                    let wi = ((o * in_g + c) * kh + i) * kw + j;
                                    sum += x[xi] as f64 * w[wi] as f64;
                                }
                            }
                        }
                        y[((b * g.out_channels + o) * g.out_size[0] + oh) * g.out_size[1] + ow] =
                            sum;
                    }
                }
            }
        }
        y
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + seed * 101) % 23) as f32 - 11.0) / 7.0)
            .collect()
    }

    fn geometries() -> Vec<ConvGeometry> {
        let cases: [([usize; 4], [usize; 4], ConvOptions<2>); 6] = [
            (
                [2, 3, 7, 6],
                [4, 3, 3, 3],
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            ),
            (
                [3, 4, 9, 8],
                [6, 2, 3, 2],
                ConvOptions::new_with_padding([2, 1], [(1, 0), (2, 1)], [1, 2], 2),
            ),
            (
                [1, 2, 5, 5],
                [3, 2, 1, 1],
                ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            ),
            (
                [5, 4, 6, 7],
                [4, 1, 3, 3],
                ConvOptions::new([1, 1], [1, 1], [1, 1], 4),
            ),
            (
                [2, 3, 11, 10],
                [5, 3, 4, 3],
                ConvOptions::new([3, 2], [2, 1], [1, 1], 1),
            ),
            (
                [6, 2, 6, 6],
                [2, 2, 3, 3],
                ConvOptions::new([1, 1], [0, 0], [2, 2], 1),
            ),
        ];
        cases
            .into_iter()
            .map(|(x, w, o)| ConvGeometry::new(x, w, &o).unwrap())
            .collect()
    }

    fn assert_close(actual: &[f32], expected: &[f64], what: &str) {
        assert_eq!(actual.len(), expected.len(), "{what}");
        for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (*a as f64 - e).abs() <= 1e-4 * (1.0 + e.abs()),
                "{what}[{k}]: {a} vs {e}"
            );
        }
    }

    #[test]
    fn the_forward_convolution_matches_its_definition() {
        for g in geometries() {
            let (x, w) = (values(g.batch * g.in_image(), 1), values(g.weight_len(), 2));
            assert_close(
                &conv2d(&x, &w, &g),
                &reference(&x, &w, &g),
                &format!("{g:?}"),
            );
        }
    }

    /// Both gradients from the definition: <conv(x, w), dy> is linear in x and in w, so its
    /// gradient entry k is the inner product with x (or w) set to the k-th unit vector.
    #[test]
    fn both_gradients_match_the_adjoint_of_the_definition() {
        for g in geometries() {
            let (x, w) = (values(g.batch * g.in_image(), 3), values(g.weight_len(), 4));
            let dy = values(g.batch * g.out_image(), 5);
            let pairing = |x: &[f32], w: &[f32]| -> f64 {
                reference(x, w, &g)
                    .iter()
                    .zip(&dy)
                    .map(|(y, d)| y * *d as f64)
                    .sum()
            };
            let unit = |n: usize, k: usize| -> Vec<f32> {
                (0..n).map(|i| (i == k) as u8 as f32).collect()
            };
            let input_grad: Vec<f64> = (0..x.len())
                .map(|k| pairing(&unit(x.len(), k), &w))
                .collect();
            let weight_grad: Vec<f64> = (0..w.len())
                .map(|k| pairing(&x, &unit(w.len(), k)))
                .collect();
            assert_close(
                &conv2d_input_grad(&dy, &w, &g),
                &input_grad,
                &format!("dx {g:?}"),
            );
            // Both forms, whichever the choice above took.
            let by_col2im = input_grad_by_col2im(&dy, &w, &g);
            assert_close(&by_col2im, &input_grad, &format!("dx by col2im {g:?}"));
            if let Some(by_convolution) = input_grad_by_convolution(&dy, &w, &g) {
                assert_close(
                    &by_convolution,
                    &input_grad,
                    &format!("dx by convolution {g:?}"),
                );
            }
            assert_close(
                &conv2d_weight_grad(&x, &dy, &g),
                &weight_grad,
                &format!("dw {g:?}"),
            );
        }
    }

    #[test]
    fn the_weight_gradient_sums_the_batch_in_the_same_order_on_any_thread_count() {
        let g = &geometries()[0];
        let g = ConvGeometry {
            batch: 9,
            ..g.clone()
        };
        let (x, dy) = (
            values(g.batch * g.in_image(), 6),
            values(g.batch * g.out_image(), 7),
        );
        let pool = |threads| rayon_free_or_pool(threads, || conv2d_weight_grad(&x, &dy, &g));
        assert_eq!(pool(1), pool(2));
    }

    #[cfg(feature = "rayon")]
    fn rayon_free_or_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(work)
    }

    #[cfg(not(feature = "rayon"))]
    fn rayon_free_or_pool<T: Send>(_threads: usize, work: impl FnOnce() -> T + Send) -> T {
        work()
    }
}
