//! Our convolution against burn's own `conv2d` on the same flex device: values, and the
//! gradients of x, weight and bias, on odd sizes, asymmetric padding, stride, dilation and groups.

use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData, Tolerance};
use robustdx_cpu_kernels::{conv2d, on_flex};

struct Case {
    x: [usize; 4],
    weight: [usize; 4],
    options: ConvOptions<2>,
    bias: bool,
}

fn cases() -> Vec<Case> {
    let case = |x, weight, options, bias| Case {
        x,
        weight,
        options,
        bias,
    };
    vec![
        // A small CNN's 3x3 "same" layer; a batch that does not divide by the threads.
        case(
            [3, 5, 13, 11],
            [7, 5, 3, 3],
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            false,
        ),
        // Strided, asymmetric padding, with bias.
        case(
            [2, 4, 9, 10],
            [6, 4, 3, 3],
            ConvOptions::new_with_padding([2, 2], [(0, 1), (1, 0)], [1, 1], 1),
            true,
        ),
        // A ResNet stem: 7x7, stride 2, padding 3.
        case(
            [2, 3, 17, 15],
            [8, 3, 7, 7],
            ConvOptions::new([2, 2], [3, 3], [1, 1], 1),
            false,
        ),
        // Pointwise, with bias (a bottleneck's 1x1).
        case(
            [4, 6, 5, 7],
            [9, 6, 1, 1],
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            true,
        ),
        // Grouped and depthwise.
        case(
            [2, 6, 8, 9],
            [4, 3, 3, 3],
            ConvOptions::new([1, 1], [1, 1], [1, 1], 2),
            true,
        ),
        case(
            [3, 4, 10, 10],
            [4, 1, 7, 7],
            ConvOptions::new([1, 1], [3, 3], [1, 1], 4),
            true,
        ),
        // Dilated, rectangular kernel, stride 3 by 1.
        case(
            [1, 3, 14, 12],
            [5, 3, 2, 3],
            ConvOptions::new_with_padding([3, 1], [(2, 1), (0, 2)], [2, 3], 1),
            false,
        ),
        // Images large enough that each image's columns are cut into bands of output rows: 2
        // bands (input gradient by col2im), 4 (by the flipped convolution), 3 (strided).
        case(
            [2, 3, 70, 66],
            [8, 3, 3, 3],
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            true,
        ),
        case(
            [2, 16, 40, 40],
            [4, 16, 3, 3],
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            false,
        ),
        case(
            [2, 32, 48, 48],
            [8, 32, 3, 3],
            ConvOptions::new([2, 2], [1, 1], [1, 1], 1),
            false,
        ),
        // A 16x16 patch embedding (ViT).
        case(
            [2, 3, 32, 32],
            [12, 3, 16, 16],
            ConvOptions::new([16, 16], [0, 0], [1, 1], 1),
            true,
        ),
    ]
}

/// Values spread over [−1.6, 1.6] in a pattern that never repeats within a row.
fn pattern(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
        .collect()
}

fn assert_close(actual: Tensor<4>, expected: Tensor<4>, what: &str) {
    let scale = expected.clone().abs().max().into_scalar::<f32>().max(1.0);
    let (actual, expected) = (actual.into_data(), expected.into_data());
    assert_eq!(actual.shape(), expected.shape(), "{what}");
    actual.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5 * scale));
}

#[test]
fn values_and_all_three_gradients_equal_burns_conv2d() {
    let device = Device::flex().autodiff();
    device.seed(5);
    for (index, case) in cases().into_iter().enumerate() {
        let x = Tensor::<4>::random(case.x, Distribution::Normal(0.0, 1.0), &device);
        let weight = Tensor::<4>::random(case.weight, Distribution::Normal(0.0, 0.5), &device);
        let bias = case.bias.then(|| {
            Tensor::<1>::random([case.weight[0]], Distribution::Normal(0.0, 1.0), &device)
        });
        let run = |ours: bool| {
            let (x, weight) = (x.clone().require_grad(), weight.clone().require_grad());
            let bias = bias.clone().map(|b| b.require_grad());
            assert!(on_flex(&x));
            let op = if ours { conv2d } else { burn_conv2d };
            let y = op(
                x.clone(),
                weight.clone(),
                bias.clone(),
                case.options.clone(),
            );
            // A non-uniform output gradient, so every position's weight matters (not drawn from
            // the device's random stream, which tests running beside this one also draw from).
            let probe = Tensor::<4>::from_data(
                TensorData::new(pattern(y.dims().iter().product()), y.dims()),
                &Device::flex(),
            );
            let grads = (y.clone() * probe.autodiff()).sum().backward();
            let bias_grad =
                bias.map(|b| b.grad(&grads).unwrap().reshape([1, 1, 1, case.weight[0]]));
            (
                y.inner(),
                x.grad(&grads).unwrap(),
                weight.grad(&grads).unwrap(),
                bias_grad,
            )
        };
        let theirs = run(false);
        let ours = run(true);
        let what = |part: &str| format!("case {index} ({:?}): {part}", case.options);
        assert_close(ours.0, theirs.0, &what("values"));
        assert_close(ours.1, theirs.1, &what("input gradient"));
        assert_close(ours.2, theirs.2, &what("weight gradient"));
        if let (Some(ours), Some(theirs)) = (ours.3, theirs.3) {
            assert_close(ours, theirs, &what("bias gradient"));
        }
    }
}

#[test]
fn only_the_gradients_asked_for_are_computed_and_they_match() {
    // An attack differentiates the input of a frozen model: no weight gradient.
    let device = Device::flex().autodiff();
    device.seed(9);
    let x = Tensor::<4>::random([2, 3, 9, 9], Distribution::Default, &device).require_grad();
    let weight = Tensor::<4>::random([4, 3, 3, 3], Distribution::Default, &device);
    let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let grad = |ours: bool| {
        let op = if ours { conv2d } else { burn_conv2d };
        let y = op(x.clone(), weight.clone(), None, options.clone());
        let grads = y.powf_scalar(2.0).sum().backward();
        assert!(weight.grad(&grads).is_none());
        x.grad(&grads).unwrap()
    };
    assert_close(grad(true), grad(false), "input gradient");
}

#[test]
fn without_autodiff_the_forward_pass_is_the_same() {
    let device = Device::flex();
    let x = Tensor::<4>::from_data(
        TensorData::new(
            (0..2 * 2 * 5 * 4)
                .map(|v| v as f32 / 10.0)
                .collect::<Vec<_>>(),
            [2, 2, 5, 4],
        ),
        &device,
    );
    let weight = Tensor::<4>::from_data(
        TensorData::new(
            (0..3 * 2 * 2 * 3)
                .map(|v| 1.0 - v as f32 / 20.0)
                .collect::<Vec<_>>(),
            [3, 2, 2, 3],
        ),
        &device,
    );
    let bias = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0], [3]), &device);
    let options = ConvOptions::new([1, 2], [1, 0], [1, 1], 1);
    assert_close(
        conv2d(
            x.clone(),
            weight.clone(),
            Some(bias.clone()),
            options.clone(),
        ),
        burn_conv2d(x, weight, Some(bias), options),
        "values",
    );
}
