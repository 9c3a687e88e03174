//! The fused PGD update for L∞ budgets in pixel space: one pass over the image instead of the six
//! element-wise tensor ops (sign, scale, add, subtract, clamp to the ball, clamp to [0, 1]) and
//! their five intermediate tensors.
//!
//! `adv' = clamp(x + clamp(adv + step · sign(grad) − x, −ε, ε), 0, 1)`

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::{Cube, DispatchDevice};
use burn::tensor::{DType, Tensor};
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use cubecl::std::tensor::layout::linear::{LinearView, LinearViewMut};
use cubecl::{RuntimeId, calculate_cube_count_elemwise, tensor_vector_size_parallel};

#[cube(launch)]
fn pgd_step_kernel<F: Float, N: Size>(
    adversarial: LinearView<'_, Vector<F, N>>,
    gradient: LinearView<'_, Vector<F, N>>,
    clean: LinearView<'_, Vector<F, N>>,
    mut output: LinearViewMut<'_, Vector<F, N>>,
    step: InputScalar,
    eps: InputScalar,
    #[define(F)] _dtype: ElemType,
) {
    if !output.is_in_bounds(ABSOLUTE_POS) {
        terminate!();
    }
    let a = adversarial.read(ABSOLUTE_POS);
    let g = gradient.read(ABSOLUTE_POS);
    let x = clean.read(ABSOLUTE_POS);
    let zero = Vector::zero();
    let one = Vector::one();
    let minus_one = Vector::new(F::new(-1.0_f32));
    let sign = select_many(
        g.greater_than(&zero),
        one,
        select_many(g.less_than(&zero), minus_one, zero),
    );
    let eps = Vector::new(eps.get::<F>());
    let delta = clamp(a + Vector::new(step.get::<F>()) * sign - x, -eps, eps);
    output.write(ABSOLUTE_POS, clamp(x + delta, zero, one));
}

/// Whether `t` is a float32 tensor on a wgpu device (WebGPU included).
fn on_wgpu(t: &Tensor<4>) -> bool {
    t.dtype() == DType::F32
        && matches!(t.device().as_dispatch(), DispatchDevice::Cube(d) if d.runtime() == RuntimeId::Wgpu)
}

fn vector_size(t: &CubeTensor) -> usize {
    tensor_vector_size_parallel(
        t.client.io_optimized_vector_sizes(t.dtype.size()),
        t.meta.shape(),
        t.meta.strides(),
        t.meta.num_dims() - 1,
    )
}

/// The fused update on wgpu; `None` where it does not apply (another backend, another dtype,
/// shapes that differ), and the caller runs the tensor-op path. `step` carries the direction:
/// positive to ascend the loss, negative to descend it.
pub fn fused_pgd_linf_step(
    adversarial: &Tensor<4>,
    gradient: &Tensor<4>,
    clean: &Tensor<4>,
    step: f32,
    eps: f32,
) -> Option<Tensor<4>> {
    // Gradients come off an autodiff graph; the kernel works on the plain tensors under it.
    let (a, g, x) = (
        adversarial.clone().inner(),
        gradient.clone().inner(),
        clean.clone().inner(),
    );
    if !(on_wgpu(&a) && on_wgpu(&g) && on_wgpu(&x)) || a.dims() != g.dims() || a.dims() != x.dims()
    {
        return None;
    }
    let primitive = |t: Tensor<4>| t.try_into_primitive::<Cube>().ok();
    let (a, g, x) = (primitive(a)?, primitive(g)?, primitive(x)?);
    let client = a.client.clone();
    let output = empty_device_dtype(
        client.clone(),
        a.device.clone(),
        a.meta.shape().clone(),
        DType::F32,
    );
    let elements = a.meta.num_elements();
    if elements == 0 {
        return Some(Tensor::from_primitive::<Cube>(output));
    }
    let vector = [&a, &g, &x, &output]
        .into_iter()
        .map(vector_size)
        .min()
        .unwrap_or(1);
    let units = elements / vector;
    let cube_dim = CubeDim::new(&client, units);
    let cube_count = calculate_cube_count_elemwise(&client, units, cube_dim);
    pgd_step_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        vector,
        a.into_linear_view(),
        g.into_linear_view(),
        x.into_linear_view(),
        output.clone().into_linear_view(),
        InputScalar::new(step, dtype_to_storage_type(DType::F32)),
        InputScalar::new(eps, dtype_to_storage_type(DType::F32)),
        dtype_to_storage_type(DType::F32),
    );
    Some(Tensor::from_primitive::<Cube>(output))
}
