//! A bounds-checked view of the `gemm` crate (the matrix kernel under flex's own convolution
//! and matmul) for row-major slices, read as they are or transposed.

/// A matrix read out of a slice: element `(r, c)` is `data[r · row_stride + c · col_stride]`.
#[derive(Clone, Copy)]
pub struct MatrixRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatrixRef<'a> {
    /// `data` as a row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "a {rows}x{cols} matrix");
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// A `rows × cols` block whose rows start `row_stride` apart in `data` (a band of columns
    /// of a wider row-major matrix).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(cols <= row_stride || rows <= 1, "rows overlap");
        assert!(
            rows == 0 || (rows - 1) * row_stride + cols <= data.len(),
            "block out of bounds"
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The same elements, rows and columns swapped (no copy).
    pub fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// Whether the product may spread over threads (when the caller does not already).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Threads {
    One,
    All,
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`; `dst` is row-major, its rows
/// `dst_row_stride` apart (`n` for a whole matrix, more for a band of a wider one).
pub fn matmul(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: MatrixRef,
    rhs: MatrixRef,
    accumulate: bool,
    threads: Threads,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions");
    if m == 0 || n == 0 {
        return;
    }
    assert!(n <= dst_row_stride, "rows of the product overlap");
    assert!(
        (m - 1) * dst_row_stride + n <= dst.len(),
        "a {m}x{n} product out of bounds"
    );
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_row_stride).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let parallelism = match threads {
        #[cfg(feature = "rayon")]
        Threads::All => gemm::Parallelism::Rayon(0),
        _ => gemm::Parallelism::None,
    };
    // SAFETY: the asserts above and the constructors bound every index gemm forms: the largest
    // is (rows − 1) · row_stride + (cols − 1) · col_stride < data.len() for each operand and
    // (m − 1) · dst_row_stride + n − 1 < dst.len(). The operands are shared borrows that do not
    // alias `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_of_plain_and_transposed_views_match_the_definition() {
        // a: 2x3, b: 3x2 (stored as its 2x3 transpose).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b_t = [7.0, 9.0, 11.0, 8.0, 10.0, 12.0];
        let mut product = [f32::NAN; 4];
        matmul(
            &mut product,
            2,
            MatrixRef::row_major(&a, 2, 3),
            MatrixRef::row_major(&b_t, 2, 3).transposed(),
            false,
            Threads::One,
        );
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12]
        assert_eq!(product, [58.0, 64.0, 139.0, 154.0]);
        matmul(
            &mut product,
            2,
            MatrixRef::row_major(&a, 2, 3),
            MatrixRef::row_major(&b_t, 2, 3).transposed(),
            true,
            Threads::All,
        );
        assert_eq!(product, [116.0, 128.0, 278.0, 308.0]);
        // Into the second column of a 2x3 matrix, from the first two columns of `a`.
        let mut wide = [0.0; 6];
        matmul(
            &mut wide[1..],
            3,
            MatrixRef::strided(&a, 2, 2, 3),
            MatrixRef::row_major(&[1.0, 10.0], 2, 1),
            false,
            Threads::One,
        );
        assert_eq!(wide, [0.0, 21.0, 0.0, 0.0, 54.0, 0.0]);
    }
}
