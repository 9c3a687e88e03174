//! PyTorch equality: tiny torchvision-named models built and run by
//! `tests/fixtures/torch/make_fixtures.py` import into our architectures and give the same
//! logits (and, for AttnVGG, the same attention maps and feature) on the same input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::Tensor;
use burn::store::{ModuleStore, PytorchStore};
use burn::tensor::{Device, TensorData};
use robustdx_core::Label;
use robustdx_core::analysis::{CamTarget, grad_cam_at_layer};
use robustdx_core::attack::AttackedModel;
use robustdx_core::model::{
    Classifier, DiagnosticModel, ImportOptions, import_torch, read_safetensors,
};
use robustdx_core::task;
use robustdx_tests::max_abs_diff;

const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/torch")
}

/// The script's input: a multiplicative-hash sequence over the flat index, exact in both languages.
fn fixed_input(size: usize) -> Vec<f32> {
    (0..2 * 3 * size * size)
        .map(|i| ((i as u64 * 2_654_435_761) % (1 << 32)) as f64 / (1u64 << 32) as f64)
        .map(|x| x as f32)
        .collect()
}

/// The tensors of a safetensors file, as f32 (or f64 for `input_sum`) vectors by name.
fn read_expected(file: &Path) -> HashMap<String, Vec<f64>> {
    let bytes = std::fs::read(file).unwrap();
    read_safetensors(&bytes, &file.display().to_string())
        .unwrap()
        .into_iter()
        .map(|t| {
            let values = match t.dtype {
                burn::tensor::DType::I64 => t
                    .to_bytes()
                    .unwrap()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
                burn::tensor::DType::F64 => t
                    .to_bytes()
                    .unwrap()
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
                _ => t
                    .to_bytes()
                    .unwrap()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
            };
            (t.name.clone(), values)
        })
        .collect()
}

fn as_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// The fixture model of `entry`, imported from its torchvision-named weights.
fn import_fixture(entry: &serde_json::Value, device: &Device) -> DiagnosticModel {
    let arch = entry["arch"].as_str().unwrap();
    let size = entry["size"].as_u64().unwrap() as usize;
    let weights = fixtures().join(entry["weights_file"].as_str().unwrap());
    let bytes = std::fs::read(&weights).unwrap();
    let source = weights.display().to_string();
    let options = ImportOptions {
        input_size: Some(size),
        ..Default::default()
    };
    let tensors = read_safetensors(&bytes, &source).unwrap();
    import_torch(arch, tensors, &source, &options, device)
        .unwrap()
        .model
}

fn fixture_entries() -> Vec<serde_json::Value> {
    let index = std::fs::read_to_string(fixtures().join("fixtures.json")).unwrap();
    serde_json::from_str(&index).unwrap()
}

/// `gradient_tolerance`: of the input gradient's largest magnitude (1e-4 on the CPU; the GPU
/// backends sum in other orders).
fn check_fixture(entry: &serde_json::Value, device: &Device, gradient_tolerance: f32) {
    let arch = entry["arch"].as_str().unwrap();
    let size = entry["size"].as_u64().unwrap() as usize;
    let model = import_fixture(entry, device);
    assert_eq!(
        model.card.num_classes(),
        entry["classes"].as_u64().unwrap() as usize,
        "{arch}: class count from the head's shape"
    );

    let expected = read_expected(&fixtures().join(entry["logits_file"].as_str().unwrap()));
    let input = fixed_input(size);
    let sum: f64 = input.iter().map(|&x| x as f64).sum();
    assert!(
        (sum - expected["input_sum"][0]).abs() < 1e-6 * sum,
        "{arch}: input differs from the script's"
    );
    let x = Tensor::<4>::from_data(TensorData::new(input, [2, 3, size, size]), device);
    if entry["input_gradient"] == true {
        let want = &expected["input_gradient"];
        check_input_gradient(arch, &model, x.clone(), want, device, gradient_tolerance);
    }
    let out = model.forward_all(x);
    let diff = max_abs_diff(&to_vec(out.logits), &as_f32(&expected["logits"]));
    eprintln!("{arch}: max |logit - PyTorch| = {diff:.2e}");
    assert!(
        diff <= TOLERANCE,
        "{arch}: logits differ from PyTorch by {diff}"
    );
    if arch == "attn-vgg" {
        for (i, map) in out.attention.into_iter().enumerate() {
            let want = as_f32(&expected[&format!("attention{}", i + 1)]);
            let diff = max_abs_diff(&to_vec(map), &want);
            assert!(
                diff <= TOLERANCE,
                "attention map {} differs by {diff}",
                i + 1
            );
        }
        let diff = max_abs_diff(&to_vec(out.feature), &as_f32(&expected["feature"]));
        assert!(diff <= TOLERANCE, "feature differs by {diff}");
    }
}

/// The gradient an attack follows — of the summed cross-entropy against labels 0 and 1, with
/// respect to the raw pixels, through the model's own normalisation and its folded copy
/// ([`AttackedModel`]) — equals PyTorch's autograd on the unfolded model, within `tolerance` of
/// the gradient's largest magnitude.
fn check_input_gradient(
    arch: &str,
    model: &DiagnosticModel,
    x: Tensor<4>,
    expected: &[f64],
    device: &Device,
    tolerance: f32,
) {
    let labels = [Label::Class(0), Label::Class(1)];
    let targets =
        task::targets_tensor(&labels, model.card.task, model.card.num_classes(), device).unwrap();
    let (_, gradient) = AttackedModel::new(model, device)
        .loss_and_gradient(x, targets)
        .unwrap();
    let (ours, want) = (to_vec(gradient), as_f32(expected));
    let scale = want.iter().fold(0f32, |m, g| m.max(g.abs()));
    let diff = max_abs_diff(&ours, &want);
    eprintln!("{arch}: max |input gradient - PyTorch| = {diff:.2e} (largest {scale:.2e})");
    assert!(scale > 0.0, "{arch}: the fixture's gradient is zero");
    assert!(
        diff <= tolerance * scale,
        "{arch}: the input gradient differs from PyTorch's by {diff} (largest {scale})"
    );
}

#[test]
fn imported_torchvision_models_match_pytorch_logits() {
    let device = Device::flex();
    let entries = fixture_entries();
    assert_eq!(entries.len(), 8);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["input_gradient"] == true)
            .count(),
        4
    );
    for entry in &entries {
        check_fixture(entry, &device, TOLERANCE);
    }
}

/// The ViT on the page's backend (wgpu; lavapipe where there is no GPU): the same logits and
/// input gradients as PyTorch's through attention, layer norm and GELU, the operations no other
/// architecture has. (All four newer ones agree there — measured: logits within 8e-6, input
/// gradients within 2e-4 of their largest value — but on lavapipe each takes minutes to compile
/// its kernels, so the suite runs the one with operations of its own.)
#[test]
fn the_vit_matches_pytorch_on_wgpu() {
    let Some(gpu) = robustdx_tests::wgpu_device() else {
        return;
    };
    let vit = fixture_entries()
        .into_iter()
        .find(|e| e["arch"] == "vit-b-16")
        .unwrap();
    let start = std::time::Instant::now();
    check_fixture(&vit, &gpu, 1e-3);
    eprintln!("vit-b-16: {:.0?} on wgpu", start.elapsed());
}

#[test]
fn a_pt_file_imports_like_its_safetensors_twin() {
    let device = Device::flex();
    let options = ImportOptions {
        input_size: Some(64),
        ..Default::default()
    };
    let pt = fixtures().join("resnet-18.pt");
    let tensors: Vec<_> = PytorchStore::from_file(&pt)
        .get_all_tensors()
        .unwrap()
        .values()
        .cloned()
        .collect();
    let from_pt = import_torch("resnet-18", tensors, "resnet-18.pt", &options, &device).unwrap();
    let st = fixtures().join("resnet-18.safetensors");
    let tensors = read_safetensors(&std::fs::read(&st).unwrap(), "st").unwrap();
    let from_st = import_torch("resnet-18", tensors, "st", &options, &device).unwrap();
    let x = Tensor::<4>::from_data(TensorData::new(fixed_input(64), [2, 3, 64, 64]), &device);
    let a = to_vec(from_pt.model.logits(x.clone()));
    let b = to_vec(from_st.model.logits(x));
    assert_eq!(a, b);
}

/// Grad-CAM at each architecture's layer (ResNet `layer4`, DenseNet `norm5`, Inception
/// `Mixed_7c`, AttnVGG `features[-1]`, EfficientNet and ConvNeXt `features[-1]`, ViT the last
/// block's `ln_1` reshaped to the patch grid) equals PyTorch's with jacobgil's formula
/// (`make_grad_cam.py`, which checks the four newer ones against pytorch-grad-cam 1.5.5 itself):
/// the same explained class and the same normalised map, to 1e-4.
#[test]
fn grad_cam_equals_pytorch() {
    let device = Device::flex();
    let expected = read_expected(&fixtures().join("grad_cam.expected.safetensors"));
    for entry in fixture_entries() {
        let arch = entry["arch"].as_str().unwrap();
        let size = entry["size"].as_u64().unwrap() as usize;
        let model = import_fixture(&entry, &device);
        let x = Tensor::<4>::from_data(
            TensorData::new(fixed_input(size), [2, 3, size, size]),
            &device,
        );
        let (maps, classes) = futures_lite::future::block_on(grad_cam_at_layer(
            &model,
            x,
            CamTarget::Predicted,
            &device,
        ))
        .unwrap();
        let want_classes: Vec<usize> = expected[&format!("{arch}.class")]
            .iter()
            .map(|&c| c as usize)
            .collect();
        assert_eq!(classes, want_classes, "{arch}: explained classes");
        let ours: Vec<f32> = maps.iter().flat_map(|m| m.pixels.clone()).collect();
        let diff = max_abs_diff(&ours, &as_f32(&expected[&format!("{arch}.cam")]));
        eprintln!(
            "{arch}: max |cam - PyTorch| = {diff:.2e} ({}x{} maps)",
            maps[0].height, maps[0].width
        );
        assert!(
            diff <= TOLERANCE,
            "{arch}: Grad-CAM differs from PyTorch by {diff}"
        );
    }
}

/// DenseNet's usual Grad-CAM layer in pytorch-grad-cam, `features[-1]` (= `norm5`), is followed
/// by torchvision's in-place ReLU: the library's hook keeps post-ReLU activations on the CPU and
/// pre-ReLU ones on CUDA (its `.cpu()` copies first), with the pre-ReLU gradient on both
/// (`make_densenet_hook.py` runs the library and records this). robustdx explains the post-ReLU
/// activation with its own gradient: `make_grad_cam.py`'s map, which is neither of the library's.
#[test]
fn densenet_grad_cam_explains_the_activation_the_head_pools() {
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("densenet_hook.json")).unwrap(),
    )
    .unwrap();
    let facts = &record["facts"];
    assert_eq!(facts["cpu"]["activation_is_post_relu"], true);
    assert_eq!(facts["copied_as_on_cuda"]["activation_is_pre_relu"], true);
    for case in ["cpu", "copied_as_on_cuda"] {
        assert_eq!(facts[case]["gradient_max_diff_from_d_norm5"], 0.0, "{case}");
    }

    let device = Device::flex();
    let entry = fixture_entries()
        .into_iter()
        .find(|e| e["arch"] == "densenet-121")
        .unwrap();
    let size = entry["size"].as_u64().unwrap() as usize;
    let model = import_fixture(&entry, &device);
    let x = Tensor::<4>::from_data(
        TensorData::new(fixed_input(size), [2, 3, size, size]),
        &device,
    );
    let (maps, classes) =
        futures_lite::future::block_on(grad_cam_at_layer(&model, x, CamTarget::Predicted, &device))
            .unwrap();
    let library = read_expected(&fixtures().join("densenet_hook.expected.safetensors"));
    let library_classes: Vec<usize> = library["class"].iter().map(|&c| c as usize).collect();
    assert_eq!(classes, library_classes);
    let ours: Vec<f32> = maps.iter().flat_map(|m| m.pixels.clone()).collect();
    let explained = read_expected(&fixtures().join("grad_cam.expected.safetensors"));
    assert!(max_abs_diff(&ours, &as_f32(&explained["densenet-121.cam"])) <= TOLERANCE);
    for variant in ["cpu", "copied"] {
        let diff = max_abs_diff(&ours, &as_f32(&library[&format!("{variant}.cam")]));
        eprintln!("densenet-121: max |robustdx - pytorch-grad-cam ({variant})| = {diff:.3}");
        assert!(
            diff > 0.1,
            "{variant}: robustdx's map is pytorch-grad-cam's ({diff})"
        );
    }
}
