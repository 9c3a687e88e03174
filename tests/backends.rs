//! The same model, the same input: the CPU backend (flex) and wgpu must agree on the forward pass
//! and on the input gradient an attack follows.

use burn::Tensor;
use burn::tensor::Device;
use robustdx_core::data::images_to_tensor;
use robustdx_core::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use robustdx_core::model::{Classifier, DiagnosticModel};
use robustdx_core::{Label, task};
use robustdx_tests::{max_abs_diff, wgpu_device};

/// Logits of the inference model, and the gradient of the loss w.r.t. the input pixels.
fn logits_and_input_gradient(
    model: &DiagnosticModel,
    images: &[f32],
    labels: &[Label],
    device: &Device,
) -> (Vec<f32>, Vec<f32>) {
    let card = &model.card;
    let shape = [
        labels.len(),
        card.input.channels,
        card.input.height,
        card.input.width,
    ];
    let data = burn::tensor::TensorData::new(images.to_vec(), shape);
    let x = Tensor::<4>::from_data(data.clone(), device);
    let logits = model
        .valid()
        .logits(x)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();

    let ad = device.clone().autodiff();
    let frozen = model.frozen(device);
    let x = Tensor::<4>::from_data(data, &ad).require_grad();
    let targets = task::targets_tensor(labels, card.task, card.num_classes(), &ad).unwrap();
    let loss = task::loss(card.task, frozen.logits(x.clone()), targets);
    let grads = loss.backward();
    let grad = x
        .grad(&grads)
        .expect("input gradient")
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    (logits, grad)
}

#[test]
fn cpu_and_wgpu_agree_on_logits_and_input_gradients() {
    let Some(gpu) = wgpu_device() else { return };
    let cpu = Device::flex();
    cpu.seed(5);
    let splits = synthetic::open(
        SyntheticKind::Derm,
        &SyntheticConfig {
            n: 8,
            test: 1,
            size: 32,
            seed: 9,
        },
    );
    let samples: Vec<_> = (0..8).map(|i| splits.train.get(i).unwrap()).collect();
    let model =
        DiagnosticModel::create("small-cnn", splits.train.info(), 32, Some(8), &cpu).unwrap();
    let on_gpu =
        DiagnosticModel::from_bytes(&model.to_bytes().unwrap(), "in-memory", &gpu).unwrap();

    let images = images_to_tensor(&samples.iter().map(|s| &s.image).collect::<Vec<_>>(), &cpu)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let labels: Vec<Label> = samples.iter().map(|s| s.label.clone()).collect();
    let (cpu_logits, cpu_grad) = logits_and_input_gradient(&model, &images, &labels, &cpu);
    let (gpu_logits, gpu_grad) = logits_and_input_gradient(&on_gpu, &images, &labels, &gpu);

    let logit_diff = max_abs_diff(&cpu_logits, &gpu_logits);
    let grad_scale = cpu_grad.iter().fold(0.0f32, |m, g| m.max(g.abs()));
    let grad_diff = max_abs_diff(&cpu_grad, &gpu_grad);
    eprintln!(
        "flex vs wgpu: max |logit diff| {logit_diff:.2e}, max |grad diff| {grad_diff:.2e} (grad scale {grad_scale:.2e})"
    );
    assert!(grad_scale > 0.0, "the input gradient is all zero");
    assert!(logit_diff < 1e-4, "logits differ by {logit_diff}");
    assert!(
        grad_diff < 1e-3 * grad_scale,
        "input gradients differ by {grad_diff} (scale {grad_scale})"
    );
}
