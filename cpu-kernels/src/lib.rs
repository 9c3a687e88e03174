//! robustdx's own CPU kernels: the 2-D convolution and both its gradients on burn's flex backend,
//! through burn's backend-extension mechanism (never a fork of burn). Each op is tested equal to
//! burn's own (values and gradients; odd sizes, padding, stride, dilation, groups).
//!
//! [`conv2d`] is a drop-in for `burn::tensor::module::conv2d`: on flex (with or without autodiff)
//! and `f32` it runs [`conv`]'s kernels; everywhere else (wgpu, other dtypes) burn's own op.

mod autodiff;
pub mod conv;
mod extension;
mod flex;
pub mod geometry;
pub mod im2col;
pub mod matmul;
#[cfg(not(target_arch = "wasm32"))]
pub mod op_timing;

pub use extension::CpuConvBackend;
pub use geometry::ConvGeometry;

use core::sync::atomic::{AtomicBool, Ordering};

use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};

/// Off: [`conv2d`] runs burn's own op everywhere. Only benchmarks switch it, to time the same
/// program before and after (`robustdx bench compare --burn-conv`).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Switches our kernels on (the default) or off for the whole process.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether `tensor` is a float32 tensor of the flex backend, with or without autodiff.
pub fn on_flex<const D: usize>(tensor: &Tensor<D>) -> bool {
    tensor.dtype() == DType::F32
        && match tensor.device().as_dispatch() {
            DispatchDevice::Flex(_) => true,
            DispatchDevice::Autodiff(device) => matches!(**device, DispatchDevice::Flex(_)),
            _ => false,
        }
}

/// `burn::tensor::module::conv2d(x, weight, bias, options)`, with our kernels where they apply.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let ours = ENABLED.load(Ordering::Relaxed)
        && on_flex(&x)
        && on_flex(&weight)
        && ConvGeometry::new(x.dims(), weight.dims(), &options).is_some();
    if !ours {
        return burn::tensor::module::conv2d(x, weight, bias, options);
    }
    let output = Tensor::from_dispatch(Dispatch::cpu_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ));
    match bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            output + bias.reshape([1, channels, 1, 1])
        }
        None => output,
    }
}
