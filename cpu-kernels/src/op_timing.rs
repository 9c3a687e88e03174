//! Times each op against burn's own on flex, for `robustdx bench kernels` (a benchmark: it
//! measures and asserts nothing; the tests that can fail are in `tests/equal_to_burn.rs`).

use std::time::{Duration, Instant};

use burn::backend::ops::ModuleOps;
use burn::tensor::TensorData;
use burn::tensor::ops::ConvOptions;
use burn_flex::{Flex, FlexTensor};

use crate::conv::{input_grad_by_col2im, input_grad_by_convolution};
use crate::extension::CpuConvBackend;
use crate::geometry::ConvGeometry;

/// One op timed both ways: burn's (flex's own kernels and burn's default backward passes) and
/// ours. The median of the timed runs.
#[derive(Debug, Clone)]
pub struct OpTiming {
    pub op: &'static str,
    pub burn: Duration,
    pub ours: Duration,
}

fn filled(shape: [usize; 4], seed: usize) -> FlexTensor {
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len)
        .map(|i| (((i * 37 + seed * 101) % 23) as f32 - 11.0) / 11.0)
        .collect();
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn median(mut work: impl FnMut(), runs: usize) -> Duration {
    work();
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Forward, input gradient and weight gradient of one convolution, each burn's way and ours;
/// `None` where the shapes make no convolution.
pub fn time_conv2d(
    x_shape: [usize; 4],
    weight_shape: [usize; 4],
    options: &ConvOptions<2>,
    runs: usize,
) -> Option<Vec<OpTiming>> {
    let geometry = ConvGeometry::new(x_shape, weight_shape, options)?;
    let out_shape = geometry.out_shape();
    let (x, weight, dy) = (
        filled(x_shape, 1),
        filled(weight_shape, 2),
        filled(out_shape, 3),
    );
    let opts = || options.clone();
    let mut timings = vec![
        OpTiming {
            op: "forward",
            burn: median(
                || drop(Flex::conv2d(x.clone(), weight.clone(), None, opts())),
                runs,
            ),
            ours: median(
                || drop(Flex::cpu_conv2d(x.clone(), weight.clone(), opts())),
                runs,
            ),
        },
        OpTiming {
            op: "input gradient",
            burn: median(
                || {
                    drop(Flex::conv2d_x_backward(
                        x.clone(),
                        weight.clone(),
                        dy.clone(),
                        opts(),
                    ))
                },
                runs,
            ),
            ours: median(
                || {
                    drop(Flex::cpu_conv2d_input_grad(
                        weight.clone(),
                        dy.clone(),
                        x_shape,
                        opts(),
                    ))
                },
                runs,
            ),
        },
    ];
    // The two forms of our input gradient, each on its own (the op above picks one).
    let (weight_values, dy_values) = (weight.to_contiguous(), dy.to_contiguous());
    let (w, g) = (
        weight_values.as_slice::<f32>()?,
        dy_values.as_slice::<f32>()?,
    );
    let burn_input_grad = timings[1].burn;
    if input_grad_by_convolution(g, w, &geometry).is_some() {
        timings.push(OpTiming {
            op: "input gradient: flipped convolution",
            burn: burn_input_grad,
            ours: median(|| drop(input_grad_by_convolution(g, w, &geometry)), runs),
        });
    }
    timings.push(OpTiming {
        op: "input gradient: gemm + col2im",
        burn: burn_input_grad,
        ours: median(|| drop(input_grad_by_col2im(g, w, &geometry)), runs),
    });
    timings.push(OpTiming {
        op: "weight gradient",
        burn: median(
            || {
                drop(Flex::conv2d_weight_backward(
                    x.clone(),
                    weight.clone(),
                    dy.clone(),
                    opts(),
                ))
            },
            runs,
        ),
        ours: median(
            || {
                drop(Flex::cpu_conv2d_weight_grad(
                    x.clone(),
                    dy.clone(),
                    weight_shape,
                    opts(),
                ))
            },
            runs,
        ),
    });
    Some(timings)
}
