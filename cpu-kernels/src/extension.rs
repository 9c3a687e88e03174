//! The convolution as a burn backend extension: flex runs our kernels, and autodiff records one
//! node whose backward pass calls our two gradient kernels instead of burn's default
//! `conv_transpose2d` (input gradient) and swapped-shape `conv2d` (weight gradient).

use burn::backend::backend_extension;
use burn::backend::tensor::FloatTensor;
use burn::tensor::ops::ConvOptions;

#[backend_extension(Flex, Autodiff)]
pub trait CpuConvBackend: burn::backend::Backend {
    /// `conv2d(x, weight)` without bias, differentiable in both.
    fn cpu_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// The input gradient of [`cpu_conv2d`](Self::cpu_conv2d) for an input of shape `x_shape`.
    fn cpu_conv2d_input_grad(
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        x_shape: [usize; 4],
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// The weight gradient of [`cpu_conv2d`](Self::cpu_conv2d) for a weight of shape `weight_shape`.
    fn cpu_conv2d_weight_grad(
        x: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        weight_shape: [usize; 4],
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}
