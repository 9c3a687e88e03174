//! Drawing shared by the synthetic generators: soft-edged masks (discs, capsules, harmonic blobs),
//! smooth value noise, blur and grain, composited onto a planar canvas.
//!
//! Every coordinate and length is in pixels of a square `size` x `size` image; the generators
//! scale their normalised geometry by `size`, so one design renders alike at 64 and at 299.
//! Edges are anti-aliased with a smoothstep about one pixel wide, which keeps small shapes
//! (a 1.5-pixel microaneurysm at 64x64) visible and stable instead of flickering on the grid.

use rand::Rng;

use crate::data::Image;

/// 0 below `edge0`, 1 above `edge1`, a smooth cubic in between (either order of edges).
pub(super) fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

pub(super) fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

pub(super) fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        lerp(a[0], b[0], t),
        lerp(a[1], b[1], t),
        lerp(a[2], b[2], t),
    ]
}

/// Pixel rows and columns whose centres lie in `[lo, hi]`, clipped to the image.
fn span(lo: f32, hi: f32, size: usize) -> std::ops::Range<usize> {
    let start = (lo - 0.5).ceil().max(0.0) as usize;
    let end = ((hi - 0.5).floor() + 1.0).clamp(0.0, size as f32) as usize;
    start.min(end)..end
}

/// One square channel of values: a coverage mask or a gray layer.
#[derive(Debug, Clone)]
pub(super) struct Plane {
    pub size: usize,
    pub data: Vec<f32>,
}

impl Plane {
    pub fn new(size: usize, value: f32) -> Self {
        Self {
            size,
            data: vec![value; size * size],
        }
    }

    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.size + x]
    }

    /// Raises every pixel centre in the box to `shape(x, y)` where that is higher.
    pub fn stamp(&mut self, x: (f32, f32), y: (f32, f32), shape: impl Fn(f32, f32) -> f32) {
        for py in span(y.0, y.1, self.size) {
            let fy = py as f32 + 0.5;
            let row = &mut self.data[py * self.size..(py + 1) * self.size];
            for px in span(x.0, x.1, self.size) {
                let v = shape(px as f32 + 0.5, fy);
                if v > row[px] {
                    row[px] = v;
                }
            }
        }
    }

    /// A disc of radius `r` with an edge `soft` pixels wide, at strength `value`.
    pub fn disc(&mut self, cx: f32, cy: f32, r: f32, soft: f32, value: f32) {
        let reach = r + soft;
        self.stamp(
            (cx - reach, cx + reach),
            (cy - reach, cy + reach),
            |x, y| {
                let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
                value * smoothstep(r + 0.5 * soft, r - 0.5 * soft, d)
            },
        );
    }

    /// A segment with round caps whose radius goes from `ra` at `a` to `rb` at `b`.
    pub fn capsule(&mut self, a: (f32, f32), b: (f32, f32), ra: f32, rb: f32, value: f32) {
        let reach = ra.max(rb) + 1.0;
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = (dx * dx + dy * dy).max(1e-6);
        self.stamp(
            (a.0.min(b.0) - reach, a.0.max(b.0) + reach),
            (a.1.min(b.1) - reach, a.1.max(b.1) + reach),
            |x, y| {
                let t = (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0);
                let d = ((x - a.0 - t * dx).powi(2) + (y - a.1 - t * dy).powi(2)).sqrt();
                let r = lerp(ra, rb, t);
                // Lines thinner than a pixel fade instead of vanishing.
                let strength = (r / 0.5).min(1.0);
                value * strength * smoothstep(r.max(0.5) + 0.5, r.max(0.5) - 0.5, d)
            },
        );
    }

    /// A polyline through `points` whose radius tapers linearly from `r0` to `r1`.
    pub fn polyline(&mut self, points: &[(f32, f32)], r0: f32, r1: f32, value: f32) {
        let n = points.len().saturating_sub(1).max(1) as f32;
        for (i, pair) in points.windows(2).enumerate() {
            let ra = lerp(r0, r1, i as f32 / n);
            let rb = lerp(r0, r1, (i + 1) as f32 / n);
            self.capsule(pair[0], pair[1], ra, rb, value);
        }
    }

    /// The harmonic blob `blob` with an edge `soft` pixels wide.
    pub fn blob(&mut self, blob: &Blob, soft: f32, value: f32) {
        let reach = blob.max_radius() + soft;
        self.stamp(
            (blob.cx - reach, blob.cx + reach),
            (blob.cy - reach, blob.cy + reach),
            |x, y| value * blob.coverage(x, y, soft),
        );
    }

    /// Separable gaussian blur (edges clamped); a no-op for `sigma` under 0.4 pixels, whose
    /// kernel would leave the pixels all but unchanged.
    pub fn blur(&mut self, sigma: f32) {
        if sigma < 0.4 {
            return;
        }
        let radius = (3.0 * sigma).ceil() as isize;
        let kernel: Vec<f32> = (-radius..=radius)
            .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f32 = kernel.iter().sum();
        let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
        let n = self.size as isize;
        let mut tmp = vec![0.0; self.data.len()];
        for y in 0..n {
            for x in 0..n {
                let mut acc = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let sx = (x + k as isize - radius).clamp(0, n - 1);
                    acc += w * self.data[(y * n + sx) as usize];
                }
                tmp[(y * n + x) as usize] = acc;
            }
        }
        for y in 0..n {
            for x in 0..n {
                let mut acc = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let sy = (y + k as isize - radius).clamp(0, n - 1);
                    acc += w * tmp[(sy * n + x) as usize];
                }
                self.data[(y * n + x) as usize] = acc;
            }
        }
    }
}

/// A closed shape whose radius varies with angle as a short Fourier series:
/// `r(θ) = radius · (1 + Σ_k a_k cos kθ + b_k sin kθ)`. Low orders make ellipses and
/// asymmetric lobes, high orders make a ragged border.
#[derive(Debug, Clone)]
pub(super) struct Blob {
    pub cx: f32,
    pub cy: f32,
    pub radius: f32,
    /// (order k, a_k, b_k), sorted by order.
    harmonics: Vec<(u32, f32, f32)>,
    /// Sum of the harmonics' amplitudes: the radius stays within radius · (1 ± spread).
    spread: f32,
}

impl Blob {
    pub fn circle(cx: f32, cy: f32, radius: f32) -> Self {
        Self {
            cx,
            cy,
            radius,
            harmonics: Vec::new(),
            spread: 0.0,
        }
    }

    /// Adds `amplitude · cos(k(θ - phase))` (relative to the mean radius).
    pub fn harmonic(mut self, k: u32, amplitude: f32, phase: f32) -> Self {
        let (s, c) = (k as f32 * phase).sin_cos();
        self.harmonics.push((k, amplitude * c, amplitude * s));
        self.harmonics.sort_by_key(|h| h.0);
        self.spread += amplitude.abs();
        self
    }

    /// Adds orders `ks` with amplitudes drawn from `amplitude` and random phases.
    pub fn random_harmonics(
        mut self,
        rng: &mut impl Rng,
        ks: std::ops::RangeInclusive<u32>,
        amplitude: std::ops::Range<f32>,
    ) -> Self {
        for k in ks {
            let a = rng.random_range(amplitude.clone());
            let phase = rng.random_range(0.0..std::f32::consts::TAU);
            self = self.harmonic(k, a, phase);
        }
        self
    }

    /// The radius towards the unit direction (`cos`, `sin`); never below a fifth of the mean.
    pub fn radius_towards(&self, cos: f32, sin: f32) -> f32 {
        let (mut ck, mut sk) = (1.0f32, 0.0f32);
        let mut k = 0;
        let mut factor = 1.0;
        for &(order, a, b) in &self.harmonics {
            while k < order {
                (ck, sk) = (ck * cos - sk * sin, sk * cos + ck * sin);
                k += 1;
            }
            factor += a * ck + b * sk;
        }
        self.radius * factor.max(0.2)
    }

    pub fn max_radius(&self) -> f32 {
        self.radius * (1.0 + self.spread)
    }

    fn min_radius(&self) -> f32 {
        self.radius * (1.0 - self.spread).max(0.2)
    }

    /// Distance from the centre over the boundary radius in that direction (1 on the border).
    pub fn relative_distance(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let d = (dx * dx + dy * dy).sqrt();
        if d < 1e-4 {
            return 0.0;
        }
        d / self.radius_towards(dx / d, dy / d)
    }

    /// Anti-aliased coverage of the pixel centre (x, y) with an edge `soft` pixels wide.
    pub fn coverage(&self, x: f32, y: f32, soft: f32) -> f32 {
        let soft = soft.max(1.0);
        let (dx, dy) = (x - self.cx, y - self.cy);
        let d2 = dx * dx + dy * dy;
        // Most pixels lie clearly outside or inside: skip the harmonic sum for them.
        let outer = self.max_radius() + 0.5 * soft;
        if d2 >= outer * outer {
            return 0.0;
        }
        let inner = (self.min_radius() - 0.5 * soft).max(0.0);
        if d2 <= inner * inner {
            return 1.0;
        }
        let d = d2.sqrt();
        let r = self.radius_towards(dx / d, dy / d);
        smoothstep(r + 0.5 * soft, r - 0.5 * soft, d)
    }
}

/// Smooth random field in [-1, 1]: random values on a `cells` x `cells` lattice, interpolated
/// with a smoothstep. Several octaves give skin texture, film mottle, patchy consolidation.
#[derive(Debug, Clone)]
pub(super) struct ValueNoise {
    cells: usize,
    lattice: Vec<f32>,
}

impl ValueNoise {
    pub fn new(rng: &mut impl Rng, cells: usize) -> Self {
        let n = (cells + 1) * (cells + 1);
        Self {
            cells,
            lattice: (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
        }
    }

    /// The field sampled at the pixel centres of a `size` x `size` image (the unit square).
    pub fn raster(&self, size: usize) -> Plane {
        let c = self.cells as f32;
        let w = self.cells + 1;
        let axis: Vec<(usize, f32)> = (0..size)
            .map(|i| {
                let f = ((i as f32 + 0.5) / size as f32 * c).min(c - 1e-3);
                let k = f as usize;
                (k, smoothstep(0.0, 1.0, f - k as f32))
            })
            .collect();
        let mut data = Vec::with_capacity(size * size);
        for &(iy, ty) in &axis {
            let top = &self.lattice[iy * w..(iy + 1) * w];
            let bottom = &self.lattice[(iy + 1) * w..(iy + 2) * w];
            for &(ix, tx) in &axis {
                let t = lerp(top[ix], top[ix + 1], tx);
                let b = lerp(bottom[ix], bottom[ix + 1], tx);
                data.push(lerp(t, b, ty));
            }
        }
        Plane { size, data }
    }
}

/// Two octaves of value noise, coarse `cells` plus a finer layer at half the weight.
#[derive(Debug, Clone)]
pub(super) struct Texture {
    coarse: ValueNoise,
    fine: ValueNoise,
}

impl Texture {
    pub fn new(rng: &mut impl Rng, cells: usize) -> Self {
        Self {
            coarse: ValueNoise::new(rng, cells),
            fine: ValueNoise::new(rng, cells * 3),
        }
    }

    /// The texture sampled at the pixel centres of a `size` x `size` image.
    pub fn raster(&self, size: usize) -> Plane {
        let mut plane = self.coarse.raster(size);
        let fine = self.fine.raster(size);
        for (v, f) in plane.data.iter_mut().zip(&fine.data) {
            *v = (*v + 0.5 * f) / 1.5;
        }
        plane
    }
}

/// A planar image under construction: 1 (gray) or 3 (RGB) channels, values clamped to
/// [0, 1] only when finished. A gray canvas takes the first component of a colour.
#[derive(Debug, Clone)]
pub(super) struct Canvas {
    pub size: usize,
    pub channels: usize,
    pub data: Vec<f32>,
}

impl Canvas {
    pub fn new(channels: usize, size: usize) -> Self {
        Self {
            size,
            channels,
            data: vec![0.0; channels * size * size],
        }
    }

    /// Sets every pixel to `colour(x, y)` (pixel-centre coordinates).
    pub fn paint(&mut self, colour: impl Fn(f32, f32) -> [f32; 3]) {
        let plane = self.size * self.size;
        for y in 0..self.size {
            for x in 0..self.size {
                let c = colour(x as f32 + 0.5, y as f32 + 0.5);
                for (ch, &value) in c.iter().take(self.channels).enumerate() {
                    self.data[ch * plane + y * self.size + x] = value;
                }
            }
        }
    }

    /// Mixes `colour` in wherever `mask` is positive, by `mask · opacity`.
    pub fn blend(&mut self, mask: &Plane, colour: [f32; 3], opacity: f32) {
        self.blend_with(mask, opacity, |_, _| colour);
    }

    /// Like [`Canvas::blend`], with a colour that varies per pixel.
    pub fn blend_with(
        &mut self,
        mask: &Plane,
        opacity: f32,
        colour: impl Fn(f32, f32) -> [f32; 3],
    ) {
        let plane = self.size * self.size;
        for (i, &m) in mask.data.iter().enumerate() {
            if m <= 0.0 {
                continue;
            }
            let (x, y) = ((i % self.size) as f32 + 0.5, (i / self.size) as f32 + 0.5);
            let c = colour(x, y);
            let t = (m * opacity).min(1.0);
            for (ch, &value) in c.iter().take(self.channels).enumerate() {
                let p = &mut self.data[ch * plane + i];
                *p = lerp(*p, value, t);
            }
        }
    }

    /// Multiplies each pixel by `gain(x, y)`.
    pub fn modulate(&mut self, gain: impl Fn(f32, f32) -> f32) {
        let plane = self.size * self.size;
        for i in 0..plane {
            let g = gain((i % self.size) as f32 + 0.5, (i / self.size) as f32 + 0.5);
            for ch in 0..self.channels {
                self.data[ch * plane + i] *= g;
            }
        }
    }

    /// Blurs each channel.
    pub fn blur(&mut self, sigma: f32) {
        if sigma < 0.4 {
            return;
        }
        let plane = self.size * self.size;
        for ch in 0..self.channels {
            let mut p = Plane {
                size: self.size,
                data: self.data[ch * plane..(ch + 1) * plane].to_vec(),
            };
            p.blur(sigma);
            self.data[ch * plane..(ch + 1) * plane].copy_from_slice(&p.data);
        }
    }

    /// Adds sensor grain of standard deviation about `sigma`, the same in every channel.
    pub fn grain(&mut self, rng: &mut impl Rng, sigma: f32) {
        let plane = self.size * self.size;
        // Sum of two uniforms: a cheap, bounded, bell-shaped noise with std sigma.
        let scale = sigma * 6.0f32.sqrt() / 65536.0;
        for i in 0..plane {
            // Both uniforms from one draw: 16 bits each is plenty for grain.
            let bits = rng.random::<u32>();
            let n = ((bits & 0xFFFF) as f32 + (bits >> 16) as f32 - 65535.0) * scale;
            for ch in 0..self.channels {
                self.data[ch * plane + i] += n;
            }
        }
    }

    pub fn into_image(self) -> Image {
        let pixels = self.data.into_iter().map(|v| v.clamp(0.0, 1.0)).collect();
        Image::new(self.channels, self.size, self.size, pixels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disc_covers_its_area() {
        let mut p = Plane::new(32, 0.0);
        p.disc(16.0, 16.0, 8.0, 1.0, 1.0);
        let area: f32 = p.data.iter().sum();
        let expected = std::f32::consts::PI * 64.0;
        assert!(
            (area - expected).abs() < 0.05 * expected,
            "{area} vs {expected}"
        );
        assert_eq!(p.at(16, 16), 1.0);
        assert_eq!(p.at(0, 0), 0.0);
    }

    #[test]
    fn blob_radius_follows_its_harmonics() {
        let blob = Blob::circle(0.0, 0.0, 10.0).harmonic(2, 0.3, 0.0);
        assert!((blob.radius_towards(1.0, 0.0) - 13.0).abs() < 1e-4);
        assert!((blob.radius_towards(0.0, 1.0) - 7.0).abs() < 1e-4);
        assert!((blob.relative_distance(13.0, 0.0) - 1.0).abs() < 1e-4);
    }

    #[test]
    fn blur_keeps_the_mean() {
        let mut p = Plane::new(16, 0.0);
        p.disc(8.0, 8.0, 3.0, 1.0, 1.0);
        let before: f32 = p.data.iter().sum();
        p.blur(1.0);
        let after: f32 = p.data.iter().sum();
        assert!((before - after).abs() < 0.02 * before);
        assert!(p.at(8, 8) < 1.0);
    }
}
