//! Where Square's windows go and what its L2 windows hold. The positions are random (drawn per
//! image); the L2 pattern and the start's tiling are fixed functions of the window size, which
//! the golden test holds against the reference's `eta` and its start loop.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// An `side × side` square of an image, its top-left pixel at (`top`, `left`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub top: usize,
    pub left: usize,
    pub side: usize,
}

impl Window {
    /// A window of `side` at a random place in an `height × width` image. As in the reference
    /// (`random_int(0, h - s)`, a floor of `U·(h − s)`), the corner is drawn from
    /// `0..height − side`: a window never touches the last row or column unless it spans the
    /// image.
    pub fn draw(rng: &mut ChaCha8Rng, height: usize, width: usize, side: usize) -> Self {
        let mut corner = |extent: usize| rng.random_range(0..extent.saturating_sub(side).max(1));
        let top = corner(height);
        let left = corner(width);
        Self { top, left, side }
    }

    /// Writes `1` over the window's rows into `rows` (one image's `height` entries) and over its
    /// columns into `columns`: their outer product is the window's mask.
    pub fn mark(&self, rows: &mut [f32], columns: &mut [f32]) {
        rows[self.top..self.top + self.side].fill(1.0);
        columns[self.left..self.left + self.side].fill(1.0);
    }

    /// Writes `pattern` (`side × side`, row-major) over the window of `canvas` (one image
    /// plane, `width` columns).
    pub fn paint(&self, canvas: &mut [f32], width: usize, pattern: &[f32]) {
        for (r, row) in pattern.chunks(self.side).enumerate() {
            let at = (self.top + r) * width + self.left;
            canvas[at..at + self.side].copy_from_slice(row);
        }
    }
}

/// The reference's `eta_rectangles(x, y)`: nested rectangles around the centre of an `x × y`
/// block, the k-th (k = 0, 1, …) reaching k rows and columns out and adding 1/(k + 1)², so the
/// values fall off like the inverse square of the (Chebyshev) distance from the centre; scaled
/// to unit L2 norm. Row-major, in f64.
fn rectangles(x: usize, y: usize) -> Vec<f64> {
    let mut block = vec![0.0f64; x * y];
    let (centre_x, centre_y) = (x / 2 + 1, y / 2 + 1);
    for k in 0..centre_x.max(centre_y) {
        let weight = 1.0 / ((k + 1) * (k + 1)) as f64;
        let rows = (centre_x - 1).saturating_sub(k)..(centre_x + k).min(x);
        let columns = (centre_y - 1).saturating_sub(k)..(centre_y + k).min(y);
        for r in rows {
            for c in columns.clone() {
                block[r * y + c] += weight;
            }
        }
    }
    normalised(block)
}

fn normalised(mut values: Vec<f64>) -> Vec<f64> {
    let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
    values
}

/// The reference's `eta(s)` before its random transpose: the top ⌊s/2⌋ rows one block of
/// [`rectangles`], the rest the same shape negated, the whole of unit L2 norm. A window of
/// Square L2 puts its mass as this pair of opposite bumps, which keeps the perturbation's
/// energy where the window is while changing the image's mean little.
pub(crate) fn eta(side: usize) -> Vec<f32> {
    let upper = side / 2;
    let mut pattern = rectangles(upper, side);
    pattern.extend(rectangles(side - upper, side).into_iter().map(|v| -v));
    normalised(pattern).into_iter().map(|v| v as f32).collect()
}

/// `pattern` (`side × side`) transposed: the reference transposes `eta(s)` with probability ½.
pub(crate) fn transposed(pattern: &[f32], side: usize) -> Vec<f32> {
    (0..side * side)
        .map(|i| pattern[(i % side) * side + i / side])
        .collect()
}

/// The tiles of the L2 start: squares of side ⌊h/5⌋ in a grid starting ⌊(h − 5⌊h/5⌋)/2⌋ pixels
/// in (on both axes, as the reference computes it from the height), ⌊h/side⌋ rows by ⌊w/side⌋
/// columns of them, each keeping only the tiles that fit in the image (the reference fails on
/// the sizes where one does not).
pub(crate) fn start_tiles(height: usize, width: usize) -> Vec<Window> {
    let side = (height / 5).max(1);
    let inset = (height - 5 * side) / 2;
    let along = |extent: usize| {
        (0..extent / side)
            .map(move |k| inset + k * side)
            .filter(move |&at| at + side <= extent)
    };
    along(height)
        .flat_map(|top| along(width).map(move |left| Window { top, left, side }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// eta(2): `rectangles(1, 2)` is centred on column 1: ring 0 gives it 1, ring 1 adds ¼ to
    /// both, (¼, 5/4); the bottom row is the same negated; over the norm √(2 · 13/8) = √3.25.
    /// eta(3): the top row is
    /// `rectangles(1, 3)`: its centre (column 1) gets 1 from ring 0, and ring 1 adds ¼ to all
    /// three, (¼, 5/4, ¼); the bottom two rows are `rectangles(2, 3)`, centred on row 1, column 1:
    /// (¼, ¼, ¼) over (¼, 5/4, ¼), negated. Each block has unit norm, then the whole.
    #[test]
    fn eta_is_a_pair_of_opposite_bumps_of_unit_norm() {
        assert_eq!(eta(1), [-1.0]);
        let close = |ours: Vec<f32>, expected: &[f64]| {
            assert_eq!(ours.len(), expected.len());
            for (a, b) in ours.iter().zip(expected) {
                assert!((*a as f64 - b).abs() < 1e-7, "{ours:?} vs {expected:?}");
            }
        };
        let two = [0.25, 1.25, -0.25, -1.25].map(|v: f64| v / 3.25f64.sqrt());
        close(eta(2), &two);
        let top = normalised(vec![0.25, 1.25, 0.25]);
        let bottom = normalised(vec![0.25, 0.25, 0.25, 0.25, 1.25, 0.25]);
        let mut expected = top;
        expected.extend(bottom.iter().map(|v| -v));
        close(eta(3), &normalised(expected));
        for side in [4, 5, 12, 57] {
            let pattern = eta(side);
            let norm: f32 = pattern.iter().map(|v| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-5, "{side}: {norm}");
            assert!(pattern[..side * (side / 2)].iter().all(|&v| v > 0.0));
            assert!(pattern[side * (side / 2)..].iter().all(|&v| v < 0.0));
        }
        assert_eq!(transposed(&[1.0, 2.0, 3.0, 4.0], 2), [1.0, 3.0, 2.0, 4.0]);
    }

    /// 64 px: tiles of 12 from pixel 2 (5 × 5 of them); 24 px: 6 tiles of 4 per axis would end
    /// past the edge, so the last is dropped.
    #[test]
    fn start_tiles_follow_the_reference_grid() {
        let tiles = start_tiles(64, 64);
        assert_eq!(tiles.len(), 25);
        assert_eq!(
            tiles[0],
            Window {
                top: 2,
                left: 2,
                side: 12
            }
        );
        assert_eq!(
            tiles[24],
            Window {
                top: 50,
                left: 50,
                side: 12
            }
        );
        let tiles = start_tiles(24, 24);
        assert_eq!(tiles.len(), 25);
        assert!(tiles.iter().all(|t| t.top + 4 <= 24 && t.left + 4 <= 24));
    }

    /// Corners stay in `0..h − s` (never the last row or column unless the window spans the
    /// image) and cover that whole range.
    #[test]
    fn windows_land_where_the_reference_puts_them() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = [false; 4];
        for _ in 0..400 {
            let w = Window::draw(&mut rng, 8, 6, 4);
            assert!(w.top < 4 && w.left < 2, "{w:?}");
            seen[w.top] = true;
        }
        assert_eq!(seen, [true; 4]);
        assert_eq!(
            Window::draw(&mut rng, 5, 5, 5),
            Window {
                top: 0,
                left: 0,
                side: 5
            }
        );
        let (mut rows, mut columns) = (vec![0.0; 5], vec![0.0; 5]);
        Window {
            top: 1,
            left: 3,
            side: 2,
        }
        .mark(&mut rows, &mut columns);
        assert_eq!(
            (rows, columns),
            (vec![0., 1., 1., 0., 0.], vec![0., 0., 0., 1., 1.])
        );
        let mut canvas = vec![0.0; 9];
        Window {
            top: 1,
            left: 1,
            side: 2,
        }
        .paint(&mut canvas, 3, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(canvas, [0., 0., 0., 0., 1., 2., 0., 3., 4.]);
    }
}
