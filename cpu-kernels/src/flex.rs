//! The extension on burn's flex backend: our kernels on its `f32` storage. Anything they do not
//! cover (another dtype, shapes that make no convolution) goes to flex's own ops, which decide
//! as burn always has.

use burn::backend::TensorMetadata;
use burn::backend::ops::ModuleOps;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};
use burn_flex::{Flex, FlexTensor};

use crate::conv;
use crate::extension::CpuConvBackend;
use crate::geometry::ConvGeometry;

fn dims(tensor: &FlexTensor) -> [usize; 4] {
    let shape = tensor.shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

/// The `f32` elements of a contiguous tensor, in row-major order.
fn elements(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice::<f32>().expect("a contiguous f32 tensor")
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn all_f32(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

impl CpuConvBackend for Flex {
    fn cpu_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        match ConvGeometry::new(dims(&x), dims(&weight), &options) {
            // Flex's own depthwise kernel runs a one-channel group directly, without im2col
            // (measured 3x faster than ours by `bench kernels`); the gradients stay ours.
            Some(geometry) if all_f32(&[&x, &weight]) && !geometry.is_depthwise() => {
                let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
                tensor(
                    conv::conv2d(elements(&x), elements(&weight), &geometry),
                    geometry.out_shape(),
                )
            }
            _ => Flex::conv2d(x, weight, None, options),
        }
    }

    fn cpu_conv2d_input_grad(
        weight: FlexTensor,
        output_grad: FlexTensor,
        x_shape: [usize; 4],
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let geometry = ConvGeometry::new(x_shape, dims(&weight), &options)
            .filter(|g| all_f32(&[&weight, &output_grad]) && dims(&output_grad) == g.out_shape());
        let Some(geometry) = geometry else {
            let x = FlexTensor::zeros(x_shape.into(), output_grad.dtype());
            return Flex::conv2d_x_backward(x, weight, output_grad, options);
        };
        let (weight, output_grad) = (weight.to_contiguous(), output_grad.to_contiguous());
        tensor(
            conv::conv2d_input_grad(elements(&output_grad), elements(&weight), &geometry),
            x_shape,
        )
    }

    fn cpu_conv2d_weight_grad(
        x: FlexTensor,
        output_grad: FlexTensor,
        weight_shape: [usize; 4],
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let geometry = ConvGeometry::new(dims(&x), weight_shape, &options)
            .filter(|g| all_f32(&[&x, &output_grad]) && dims(&output_grad) == g.out_shape());
        let Some(geometry) = geometry else {
            let weight = FlexTensor::zeros(weight_shape.into(), x.dtype());
            return Flex::conv2d_weight_backward(x, weight, output_grad, options);
        };
        let (x, output_grad) = (x.to_contiguous(), output_grad.to_contiguous());
        tensor(
            conv::conv2d_weight_grad(elements(&x), elements(&output_grad), &geometry),
            weight_shape,
        )
    }
}
