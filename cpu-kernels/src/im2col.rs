//! im2col and its adjoint col2im for one image and one group.
//!
//! Row `(c, i, j)` of the column matrix (`[patch_len, out_h · out_w]`, the order of a weight
//! row) holds input channel `c` as kernel tap `(i, j)` sees it at every output position: the
//! plane shifted, strided, and zero where the tap falls in the padding. With stride 1 each
//! output row is one contiguous copy.
//!
//! Both work on a band of output rows (`out_rows`), so a column matrix can stay in cache
//! between its im2col and its matrix product.

use core::ops::Range;

use crate::geometry::ConvGeometry;

/// Writes the column matrix of `image` (`[in_channels, h, w]`) for `group` and the output rows
/// `out_rows` into `columns` (`[patch_len, out_rows.len() · out_w]`).
pub fn im2col(
    image: &[f32],
    geometry: &ConvGeometry,
    group: usize,
    out_rows: Range<usize>,
    columns: &mut [f32],
) {
    let [_, out_w] = geometry.out_size;
    let [in_h, in_w] = geometry.in_size;
    let band = out_rows.len() * out_w;
    let stride_w = geometry.stride[1];
    assert!(out_rows.end <= geometry.out_size[0]);
    assert_eq!(columns.len(), geometry.patch_len() * band);
    assert_eq!(image.len(), geometry.in_image());
    let first_channel = group * geometry.in_per_group();
    let mut rows = columns.chunks_exact_mut(band);
    for channel in first_channel..first_channel + geometry.in_per_group() {
        let plane = &image[channel * in_h * in_w..(channel + 1) * in_h * in_w];
        for i in 0..geometry.kernel[0] {
            let (row_lo, row_hi, row_offset) = geometry.valid_outputs(0, i);
            for j in 0..geometry.kernel[1] {
                let (col_lo, col_hi, col_offset) = geometry.valid_outputs(1, j);
                let row = rows.next().expect("one row per channel and tap");
                for (oh, out_row) in out_rows.clone().zip(row.chunks_exact_mut(out_w)) {
                    if oh < row_lo || oh >= row_hi || col_lo == col_hi {
                        out_row.fill(0.0);
                        continue;
                    }
                    let ih = (oh as isize * geometry.stride[0] as isize + row_offset) as usize;
                    let input_row = &plane[ih * in_w..(ih + 1) * in_w];
                    out_row[..col_lo].fill(0.0);
                    out_row[col_hi..].fill(0.0);
                    let first = (col_lo as isize * stride_w as isize + col_offset) as usize;
                    if stride_w == 1 {
                        out_row[col_lo..col_hi]
                            .copy_from_slice(&input_row[first..first + col_hi - col_lo]);
                    } else {
                        for (k, value) in out_row[col_lo..col_hi].iter_mut().enumerate() {
                            *value = input_row[first + k * stride_w];
                        }
                    }
                }
            }
        }
    }
}

/// Adds the column matrix `columns` of `group` and output rows `out_rows` back onto `image`
/// (`[in_channels, h, w]`): the adjoint of [`im2col`], so every input position receives the sum
/// of the columns that read it.
pub fn col2im_add(
    columns: &[f32],
    geometry: &ConvGeometry,
    group: usize,
    out_rows: Range<usize>,
    image: &mut [f32],
) {
    let [_, out_w] = geometry.out_size;
    let [in_h, in_w] = geometry.in_size;
    let band = out_rows.len() * out_w;
    let stride_w = geometry.stride[1];
    assert!(out_rows.end <= geometry.out_size[0]);
    assert_eq!(columns.len(), geometry.patch_len() * band);
    assert_eq!(image.len(), geometry.in_image());
    let first_channel = group * geometry.in_per_group();
    let mut rows = columns.chunks_exact(band);
    for channel in first_channel..first_channel + geometry.in_per_group() {
        let plane = &mut image[channel * in_h * in_w..(channel + 1) * in_h * in_w];
        for i in 0..geometry.kernel[0] {
            let (row_lo, row_hi, row_offset) = geometry.valid_outputs(0, i);
            for j in 0..geometry.kernel[1] {
                let (col_lo, col_hi, col_offset) = geometry.valid_outputs(1, j);
                let row = rows.next().expect("one row per channel and tap");
                for oh in row_lo.max(out_rows.start)..row_hi.min(out_rows.end) {
                    let ih = (oh as isize * geometry.stride[0] as isize + row_offset) as usize;
                    let input_row = &mut plane[ih * in_w..(ih + 1) * in_w];
                    let local = oh - out_rows.start;
                    let out_row = &row[local * out_w..(local + 1) * out_w];
                    let first = (col_lo as isize * stride_w as isize + col_offset) as usize;
                    if stride_w == 1 {
                        let span = col_hi - col_lo;
                        for (target, value) in input_row[first..first + span]
                            .iter_mut()
                            .zip(&out_row[col_lo..col_hi])
                        {
                            *target += value;
                        }
                    } else {
                        for (k, value) in out_row[col_lo..col_hi].iter().enumerate() {
                            input_row[first + k * stride_w] += value;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::ops::ConvOptions;

    fn geometry(stride: usize, padding: (usize, usize), dilation: usize) -> ConvGeometry {
        ConvGeometry::new(
            [1, 2, 5, 6],
            [1, 2, 3, 2],
            &ConvOptions::new_with_padding([stride, 1], [padding, (1, 0)], [dilation, 1], 1),
        )
        .unwrap()
    }

    /// The entry a column matrix must hold, straight from the definition.
    fn expected(image: &[f32], g: &ConvGeometry, row: usize, position: usize) -> f32 {
        let [kh, kw] = g.kernel;
        let (channel, i, j) = (row / (kh * kw), row / kw % kh, row % kw);
        let (oh, ow) = (position / g.out_size[1], position % g.out_size[1]);
        let ih = (oh * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0].0 as isize;
        let iw = (ow * g.stride[1] + j * g.dilation[1]) as isize - g.padding[1].0 as isize;
        let [h, w] = g.in_size.map(|s| s as isize);
        if (0..h).contains(&ih) && (0..w).contains(&iw) {
            image[channel * g.in_plane() + (ih * w + iw) as usize]
        } else {
            0.0
        }
    }

    #[test]
    fn im2col_holds_each_tap_of_each_output_position() {
        for g in [
            geometry(1, (1, 1), 1),
            geometry(2, (2, 0), 1),
            geometry(1, (0, 3), 2),
        ] {
            let image: Vec<f32> = (0..g.in_image()).map(|v| v as f32 + 1.0).collect();
            // The whole image, and a band of output rows that starts inside it.
            for rows in [0..g.out_size[0], 1..g.out_size[0]] {
                let band = rows.len() * g.out_size[1];
                let mut columns = vec![f32::NAN; g.patch_len() * band];
                im2col(&image, &g, 0, rows.clone(), &mut columns);
                for row in 0..g.patch_len() {
                    for local in 0..band {
                        let position = rows.start * g.out_size[1] + local;
                        assert_eq!(
                            columns[row * band + local],
                            expected(&image, &g, row, position),
                            "{g:?}: row {row}, position {position}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for any x and c.
        for g in [
            geometry(1, (1, 1), 1),
            geometry(2, (2, 0), 1),
            geometry(3, (0, 3), 2),
        ] {
            let image: Vec<f32> = (0..g.in_image())
                .map(|v| ((v * 7) % 11) as f32 - 5.0)
                .collect();
            let columns: Vec<f32> = (0..g.patch_len() * g.out_plane())
                .map(|v| ((v * 5) % 13) as f32 - 6.0)
                .collect();
            let mut unfolded = vec![0.0; columns.len()];
            im2col(&image, &g, 0, 0..g.out_size[0], &mut unfolded);
            // Folded back one output row at a time: the bands add up to the whole.
            let mut folded = vec![0.0; image.len()];
            for oh in 0..g.out_size[0] {
                let rows: Vec<f32> = (0..g.patch_len())
                    .flat_map(|r| {
                        let start = r * g.out_plane() + oh * g.out_size[1];
                        columns[start..start + g.out_size[1]].to_vec()
                    })
                    .collect();
                col2im_add(&rows, &g, 0, oh..oh + 1, &mut folded);
            }
            let lhs: f32 = unfolded.iter().zip(&columns).map(|(a, b)| a * b).sum();
            let rhs: f32 = image.iter().zip(&folded).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs, "{g:?}");
        }
    }
}
