//! The sizes one 2-D convolution indexes by, checked once so the kernels can index freely.

use burn::tensor::ops::ConvOptions;

/// One 2-D convolution over an NCHW batch, with a `[out, in / groups, kh, kw]` weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub in_channels: usize,
    /// Height and width of the input.
    pub in_size: [usize; 2],
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// `(begin, end)` padding of height and width.
    pub padding: [(usize, usize); 2],
    pub groups: usize,
    /// Height and width of the output.
    pub out_size: [usize; 2],
}

impl ConvGeometry {
    /// The geometry of `conv2d(x, weight, options)`, or `None` where the shapes do not make a
    /// convolution (channels that do not divide into the groups, a kernel larger than the padded
    /// input, a zero size).
    pub fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Option<Self> {
        let [batch, in_channels, in_h, in_w] = x;
        let [out_channels, in_per_group, kernel_h, kernel_w] = weight;
        let groups = options.groups;
        if groups == 0
            || in_channels != in_per_group.checked_mul(groups)?
            || out_channels % groups != 0
            || [batch, in_channels, out_channels, kernel_h, kernel_w].contains(&0)
        {
            return None;
        }
        let out = |axis: usize, size: usize, kernel: usize| -> Option<usize> {
            let (begin, end) = options.padding[axis];
            let span = options.dilation[axis].checked_mul(kernel - 1)? + 1;
            let padded = size.checked_add(begin)?.checked_add(end)?;
            (padded >= span && options.stride[axis] > 0)
                .then(|| (padded - span) / options.stride[axis] + 1)
        };
        let out_size = [out(0, in_h, kernel_h)?, out(1, in_w, kernel_w)?];
        [batch, out_channels, out_size[0], out_size[1]]
            .iter()
            .chain(&[in_channels, in_h, in_w])
            .try_fold(1usize, |n, &d| n.checked_mul(d))?;
        Some(Self {
            batch,
            in_channels,
            in_size: [in_h, in_w],
            out_channels,
            kernel: [kernel_h, kernel_w],
            stride: options.stride,
            dilation: options.dilation,
            padding: options.padding,
            groups,
            out_size,
        })
    }

    /// `[batch, out_channels, out_h, out_w]`: the shape of the output and of its gradient.
    pub fn out_shape(&self) -> [usize; 4] {
        [
            self.batch,
            self.out_channels,
            self.out_size[0],
            self.out_size[1],
        ]
    }

    pub fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    pub fn out_per_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Elements of one patch of one group: a row of the weight, a column of im2col.
    pub fn patch_len(&self) -> usize {
        self.in_per_group() * self.kernel[0] * self.kernel[1]
    }

    pub fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }

    pub fn out_plane(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }

    /// Elements of one input image.
    pub fn in_image(&self) -> usize {
        self.in_channels * self.in_plane()
    }

    /// Elements of one output image.
    pub fn out_image(&self) -> usize {
        self.out_channels * self.out_plane()
    }

    pub fn weight_len(&self) -> usize {
        self.out_channels * self.patch_len()
    }

    /// A 1x1 kernel with stride 1 and no padding reads each input plane as it is: its im2col
    /// matrix is the image itself.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [(0, 0); 2]
    }

    /// One input and one output channel per group.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.in_per_group() == 1 && self.out_per_group() == 1
    }

    /// The input gradient of a stride-1 convolution is itself a stride-1 convolution of the
    /// output gradient with the flipped, transposed kernel, padded by `dilation · (k − 1) −
    /// padding` on each side: `None` where a padding exceeds the kernel's reach (the padding
    /// would be negative) or the stride is not 1.
    pub fn input_gradient_as_convolution(&self) -> Option<Self> {
        if self.stride != [1, 1] {
            return None;
        }
        let padding = [0, 1].map(|axis| {
            let reach = self.dilation[axis] * (self.kernel[axis] - 1);
            let (begin, end) = self.padding[axis];
            Some((reach.checked_sub(begin)?, reach.checked_sub(end)?))
        });
        let padding = [padding[0]?, padding[1]?];
        Some(Self {
            batch: self.batch,
            in_channels: self.out_channels,
            in_size: self.out_size,
            out_channels: self.in_channels,
            kernel: self.kernel,
            stride: [1, 1],
            dilation: self.dilation,
            padding,
            groups: self.groups,
            out_size: self.in_size,
        })
    }

    /// For tap `tap` of `axis`, the output positions whose input position lies inside the image
    /// (`lo..hi`), and the input position of output position 0 (may be negative).
    pub(crate) fn valid_outputs(&self, axis: usize, tap: usize) -> (usize, usize, isize) {
        let offset = (tap * self.dilation[axis]) as isize - self.padding[axis].0 as isize;
        let stride = self.stride[axis] as isize;
        let size = self.in_size[axis] as isize;
        let out = self.out_size[axis] as isize;
        // First o with o·stride + offset ≥ 0, and first o with o·stride + offset ≥ size.
        let first_at_least = |bound: isize| -> isize {
            let need = bound - offset;
            if need <= 0 {
                0
            } else {
                (need + stride - 1) / stride
            }
        };
        let lo = first_at_least(0).min(out);
        let hi = first_at_least(size).clamp(lo, out);
        (lo as usize, hi as usize, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(
        stride: usize,
        padding: (usize, usize),
        dilation: usize,
        groups: usize,
    ) -> ConvOptions<2> {
        ConvOptions::new_with_padding([stride; 2], [padding; 2], [dilation; 2], groups)
    }

    #[test]
    fn output_sizes_follow_the_convolution_formula() {
        let g = ConvGeometry::new([2, 4, 7, 9], [6, 2, 3, 3], &options(2, (1, 0), 2, 2)).unwrap();
        // (7 + 1 + 0 − 5) / 2 + 1 = 2 and (9 + 1 − 5) / 2 + 1 = 3.
        assert_eq!(g.out_size, [2, 3]);
        assert_eq!(g.patch_len(), 2 * 9);
        assert_eq!(g.out_per_group(), 3);
    }

    #[test]
    fn shapes_that_make_no_convolution_are_refused() {
        // 5 input channels do not divide into 2 groups.
        assert!(ConvGeometry::new([1, 5, 8, 8], [4, 2, 3, 3], &options(1, (1, 1), 1, 2)).is_none());
        // A 5x5 kernel on a 3x3 input without padding.
        assert!(ConvGeometry::new([1, 1, 3, 3], [1, 1, 5, 5], &options(1, (0, 0), 1, 1)).is_none());
        // An empty batch.
        assert!(ConvGeometry::new([0, 1, 3, 3], [1, 1, 1, 1], &options(1, (0, 0), 1, 1)).is_none());
    }

    #[test]
    fn the_input_gradient_convolution_maps_the_output_size_back_to_the_input_size() {
        let g = ConvGeometry::new(
            [1, 3, 10, 7],
            [4, 3, 3, 5],
            &ConvOptions::new_with_padding([1, 1], [(1, 2), (0, 4)], [1, 2], 1),
        )
        .unwrap();
        let back = g.input_gradient_as_convolution().unwrap();
        assert_eq!(back.in_size, g.out_size);
        assert_eq!(back.out_size, g.in_size);
        assert_eq!(back.padding, [(1, 0), (8, 4)]);
        // Stride 2 has no such form; nor a padding beyond the kernel's reach.
        let strided = ConvGeometry::new([1, 3, 10, 7], [4, 3, 3, 3], &options(2, (1, 1), 1, 1));
        assert!(strided.unwrap().input_gradient_as_convolution().is_none());
        let wide = ConvGeometry::new([1, 3, 10, 7], [4, 3, 3, 3], &options(1, (3, 3), 1, 1));
        assert!(wide.unwrap().input_gradient_as_convolution().is_none());
    }

    #[test]
    fn valid_outputs_are_those_whose_tap_lands_inside_the_image() {
        let g = ConvGeometry::new([1, 1, 5, 5], [1, 1, 3, 3], &options(2, (1, 1), 1, 1)).unwrap();
        assert_eq!(g.out_size, [3, 3]);
        for tap in 0..3 {
            let (lo, hi, offset) = g.valid_outputs(0, tap);
            for o in 0..3 {
                let input = o as isize * 2 + offset;
                assert_eq!(
                    (lo..hi).contains(&o),
                    (0..5).contains(&input),
                    "tap {tap}, output {o}"
                );
            }
        }
    }
}
