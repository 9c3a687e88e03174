//! Every convolution of every architecture runs through [`conv2d`]: burn's `Conv2d` holds the
//! weights (and so the file formats), and on burn's CPU backend our own kernels
//! (`cpu-kernels/`) run it and both its gradients, where burn's default backward passes are a
//! serial scatter and a swapped-shape convolution.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

/// `conv.forward(x)`.
pub(crate) fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let options = ConvOptions::new_with_padding(
        conv.stride,
        padding_pairs(
            &conv.padding,
            [height, width],
            conv.kernel_size,
            conv.stride,
        ),
        conv.dilation,
        conv.groups,
    );
    let (weight, bias) = (conv.weight.val(), conv.bias.as_ref().map(|b| b.val()));
    #[cfg(feature = "cpu-kernels")]
    return robustdx_cpu_kernels::conv2d(x, weight, bias, options);
    #[cfg(not(feature = "cpu-kernels"))]
    burn::tensor::module::conv2d(x, weight, bias, options)
}

/// `(begin, end)` padding of height and width, as burn's `Conv2d::forward` computes it (its own
/// function is private): "same" pads `(out − 1)·stride + kernel − size`, the odd one at the end.
fn padding_pairs(
    padding: &PaddingConfig2d,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [(usize, usize); 2] {
    match *padding {
        PaddingConfig2d::Valid => [(0, 0); 2],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => [0, 1].map(|axis| {
            let out = size[axis].div_ceil(stride[axis]);
            if out == 0 {
                return (0, 0);
            }
            let total = ((out - 1) * stride[axis] + kernel[axis]).saturating_sub(size[axis]);
            (total / 2, total - total / 2)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution, Tolerance};

    #[test]
    fn equals_burns_conv2d_forward_for_every_padding_kind() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 4, 11, 10], Distribution::Default, &device);
        for (padding, stride, groups) in [
            (PaddingConfig2d::Same, 1, 1),
            (PaddingConfig2d::Same, 2, 1),
            (PaddingConfig2d::Valid, 2, 2),
            (PaddingConfig2d::Explicit(2, 0, 1, 3), 2, 1),
        ] {
            let conv = Conv2dConfig::new([4, 6], [3, 3])
                .with_padding(padding)
                .with_stride([stride, stride])
                .with_groups(groups)
                .init(&device);
            conv2d(&conv, x.clone())
                .into_data()
                .assert_approx_eq::<f32>(
                    &conv.forward(x.clone()).into_data(),
                    Tolerance::absolute(1e-5),
                );
        }
    }
}
