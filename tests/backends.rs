//! The same model, the same input: the CPU backend (flex) and wgpu must agree on the forward pass
//! and on the input gradient an attack follows.

use burn::Tensor;
use burn::tensor::{Device, TensorData};
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

/// A fresh `arch` of `width` on the CPU (initialised from `seed`), the same weights on `gpu`,
/// and `n` synthetic dermoscopy images of 32 pixels (drawn from `data_seed`) with their labels.
struct OnBoth {
    cpu: DiagnosticModel,
    gpu: DiagnosticModel,
    images: Vec<f32>,
    labels: Vec<Label>,
}

fn on_both(arch: &str, width: usize, n: usize, seed: u64, data_seed: u64, gpu: &Device) -> OnBoth {
    let cpu = Device::flex();
    cpu.seed(seed);
    let config = SyntheticConfig {
        n,
        test: 1,
        size: 32,
        seed: data_seed,
    };
    let splits = synthetic::open(SyntheticKind::Derm, &config);
    let samples: Vec<_> = (0..n).map(|i| splits.train.get(i).unwrap()).collect();
    let model = DiagnosticModel::create(arch, splits.train.info(), 32, Some(width), &cpu).unwrap();
    let on_gpu = DiagnosticModel::from_bytes(&model.to_bytes().unwrap(), "in-memory", gpu).unwrap();
    let images = images_to_tensor(&samples.iter().map(|s| &s.image).collect::<Vec<_>>(), &cpu)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    OnBoth {
        cpu: model,
        gpu: on_gpu,
        images,
        labels: samples.iter().map(|s| s.label.clone()).collect(),
    }
}

/// Logits and input gradients of the pair agree across the two backends.
fn assert_logits_and_gradients_agree(pair: &OnBoth, gpu: &Device) {
    let (images, labels) = (&pair.images, &pair.labels);
    let (cpu_logits, cpu_grad) =
        logits_and_input_gradient(&pair.cpu, images, labels, &Device::flex());
    let (gpu_logits, gpu_grad) = logits_and_input_gradient(&pair.gpu, images, labels, gpu);
    let logit_diff = max_abs_diff(&cpu_logits, &gpu_logits);
    let grad_scale = cpu_grad.iter().fold(0.0f32, |m, g| m.max(g.abs()));
    let grad_diff = max_abs_diff(&cpu_grad, &gpu_grad);
    eprintln!(
        "{} flex vs wgpu: max |logit diff| {logit_diff:.2e}, max |grad diff| {grad_diff:.2e} (grad scale {grad_scale:.2e})",
        pair.cpu.card.architecture.name()
    );
    assert!(grad_scale > 0.0, "the input gradient is all zero");
    assert!(logit_diff < 1e-4, "logits differ by {logit_diff}");
    assert!(
        grad_diff < 1e-3 * grad_scale,
        "input gradients differ by {grad_diff} (scale {grad_scale})"
    );
}

#[test]
fn cpu_and_wgpu_agree_on_logits_and_input_gradients() {
    let Some(gpu) = wgpu_device() else { return };
    assert_logits_and_gradients_agree(&on_both("small-cnn", 8, 8, 5, 9, &gpu), &gpu);
}

/// The tensor-op form of the L∞ PGD update, the reference the fused kernel must equal.
fn plain_pgd_step(
    adv: Tensor<4>,
    grad: Tensor<4>,
    clean: Tensor<4>,
    step: f32,
    eps: f32,
) -> Tensor<4> {
    let delta = (adv + grad.sign().mul_scalar(step) - clean.clone()).clamp(-eps, eps);
    (clean + delta).clamp(0.0, 1.0)
}

#[test]
fn fused_pgd_kernel_equals_the_tensor_op_path() {
    use burn::tensor::Distribution;
    use robustdx_shaders::fused_pgd_linf_step;
    let Some(gpu) = wgpu_device() else { return };
    let cpu = Device::flex();
    assert!(
        fused_pgd_linf_step(
            &Tensor::zeros([1, 1, 2, 2], &cpu),
            &Tensor::zeros([1, 1, 2, 2], &cpu),
            &Tensor::zeros([1, 1, 2, 2], &cpu),
            0.1,
            0.1
        )
        .is_none(),
        "the kernel is for wgpu only"
    );
    // Odd sizes (no vectorisation), exact-zero gradients, points outside the ball and the range.
    for shape in [[3, 3, 17, 13], [2, 1, 8, 8], [1, 3, 64, 64]] {
        for (step, eps) in [(2.0 / 255.0, 8.0 / 255.0), (-0.01, 0.03), (0.5, 0.2)] {
            cpu.seed(7);
            let clean = Tensor::<4>::random(shape, Distribution::Uniform(0.0, 1.0), &cpu);
            let adv =
                clean.clone() + Tensor::<4>::random(shape, Distribution::Uniform(-0.1, 0.1), &cpu);
            let grad = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &cpu).mask_fill(
                Tensor::<4>::random(shape, Distribution::Uniform(0.0, 1.0), &cpu).lower_elem(0.1),
                0.0,
            );
            let on = |t: &Tensor<4>| Tensor::<4>::from_data(t.to_data(), &gpu);
            let fused = fused_pgd_linf_step(&on(&adv), &on(&grad), &on(&clean), step, eps)
                .expect("wgpu float32 tensors take the kernel");
            let plain = plain_pgd_step(adv, grad, clean, step, eps);
            let diff = max_abs_diff(
                &fused.into_data().try_to_vec::<f32>().unwrap(),
                &plain.into_data().try_to_vec::<f32>().unwrap(),
            );
            assert!(
                diff <= 1e-6,
                "{shape:?} step {step} eps {eps}: fused differs by {diff}"
            );
        }
    }
}

#[test]
fn pgd_agrees_on_cpu_and_wgpu() {
    use robustdx_core::attack::{Attack, AttackedModel, ProjectedGradientDescent, SampleKeys};
    let Some(gpu) = wgpu_device() else { return };
    let cpu = Device::flex();
    let pair = on_both("small-cnn", 8, 8, 3, 2, &gpu);
    let labels = &pair.labels;
    // The random start is drawn on the host, keyed by (seed, image), so both backends start at
    // the same point and then walk the same deterministic path.
    let random_start = true;
    let attack = ProjectedGradientDescent {
        random_start,
        ..ProjectedGradientDescent::linf(8.0 / 255.0, 10)
    };
    let run = |model: &DiagnosticModel, device: &Device| {
        let data = TensorData::new(pair.images.clone(), [labels.len(), 3, 32, 32]);
        let attacked = AttackedModel::new(model, device);
        let adv = attack
            .perturb(
                &attacked,
                Tensor::from_data(data, device),
                labels,
                &SampleKeys::sequential(5, labels.len()),
            )
            .unwrap();
        let logits = attacked
            .logits(adv.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        (adv.into_data().try_to_vec::<f32>().unwrap(), logits)
    };
    let (cpu_adv, cpu_logits) = run(&pair.cpu, &cpu);
    let (gpu_adv, gpu_logits) = run(&pair.gpu, &gpu);
    let same = cpu_adv
        .iter()
        .zip(&gpu_adv)
        .filter(|(a, b)| (*a - *b).abs() < 1e-5)
        .count();
    let share = same as f64 / cpu_adv.len() as f64;
    let logit_diff = max_abs_diff(&cpu_logits, &gpu_logits);
    eprintln!(
        "PGD-10 (random start: {random_start}) flex vs wgpu: {share:.4} of pixels equal, max \
         |logit diff| {logit_diff:.2e}"
    );
    // A gradient within rounding of zero may take the other sign on the other backend.
    assert!(
        share > 0.999,
        "random start {random_start}: only {share} of the adversarial pixels agree"
    );
    assert!(
        logit_diff < 1e-2,
        "random start {random_start}: adversarial logits differ by {logit_diff}"
    );
}

/// AttnVGG's attention gates up-sample the global map; the input gradient through them must
/// exist on the GPU backend too (burn's own bilinear backward does not run on wgpu) and agree
/// with the CPU.
#[test]
fn attn_vgg_input_gradients_agree_on_cpu_and_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    assert_logits_and_gradients_agree(&on_both("attn-vgg", 4, 2, 4, 1, &gpu), &gpu);
}

/// Randomized smoothing draws its noise on the host, keyed by (seed, image, copy): both backends
/// see the same noisy copies, so they cast the same votes up to copies whose decision sits
/// within rounding of the boundary, and give the same certificate.
#[test]
fn certification_agrees_on_cpu_and_wgpu() {
    use robustdx_core::certify::{CertifySettings, NoiseKey, Smoothed};
    use robustdx_core::data::Image;
    let Some(gpu) = wgpu_device() else { return };
    let pair = on_both("small-cnn", 8, 2, 7, 4, &gpu);
    let settings = CertifySettings {
        n0: 20,
        n: 200,
        alpha: 0.001,
    };
    let image = Image::new(3, 32, 32, pair.images[..3 * 32 * 32].to_vec());
    let certify = |model: &DiagnosticModel, device: &Device| {
        let smoothed = Smoothed::new(model, 0.25).unwrap();
        futures_lite::future::block_on(smoothed.certify(
            image.clone(),
            NoiseKey { seed: 1, index: 0 },
            &settings,
            64,
            device,
            &mut |_| {},
        ))
        .unwrap()
    };
    let on_cpu = certify(&pair.cpu, &Device::flex());
    let on_gpu = certify(&pair.gpu, &gpu);
    let moved: u64 = on_cpu.estimation.heads[0]
        .iter()
        .zip(&on_gpu.estimation.heads[0])
        .map(|(a, b)| a.abs_diff(*b))
        .sum::<u64>()
        / 2;
    eprintln!(
        "certify flex vs wgpu: votes {:?} vs {:?}",
        on_cpu.estimation.heads[0], on_gpu.estimation.heads[0]
    );
    assert!(moved <= 2, "{moved} of 200 copies voted otherwise");
    assert_eq!(
        on_cpu.certificate.heads[0].guess,
        on_gpu.certificate.heads[0].guess
    );
    if moved == 0 {
        assert_eq!(on_cpu.certificate, on_gpu.certificate);
    }
}
