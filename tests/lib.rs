//! Helpers for the workspace-level tests: cross-backend agreement now, the browser end-to-end
//! test later.

use burn::tensor::{Device, DeviceKind};

/// The wgpu device (any adapter: lavapipe in CI). A machine without a Vulkan / Metal / DX12
/// driver fails loudly unless `ROBUSTDX_SKIP_WGPU` is set, so CI can never skip by accident.
pub fn wgpu_device() -> Option<Device> {
    // One process may initialise wgpu only once; every test of a binary shares the device.
    static DEVICE: std::sync::OnceLock<Option<Device>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| match Device::wgpu_options()
            .device_kind(DeviceKind::DefaultDevice)
            .init()
        {
            Ok(device) => Some(device),
            Err(e) if std::env::var_os("ROBUSTDX_SKIP_WGPU").is_some() => {
                eprintln!("ROBUSTDX_SKIP_WGPU set and no wgpu adapter ({e}): skipping");
                None
            }
            Err(e) => panic!(
                "no wgpu adapter ({e}): install mesa-vulkan-drivers, or set ROBUSTDX_SKIP_WGPU=1"
            ),
        })
        .clone()
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// `tests/fixtures/<dir>`: the committed outputs of the fixture scripts.
pub fn fixtures(dir: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
}

/// A torchvision-named ResNet-18 state dict (a fixture script's `.safetensors`) imported for
/// 64-pixel inputs, with ImageNet normalisation as its first step.
pub fn fixture_resnet18(
    path: &std::path::Path,
    device: &Device,
) -> robustdx_core::model::DiagnosticModel {
    use robustdx_core::model::{ImportOptions, import_torch, read_safetensors};
    let tensors = read_safetensors(&std::fs::read(path).unwrap(), "resnet-18").unwrap();
    let options = ImportOptions {
        input_size: Some(64),
        ..Default::default()
    };
    import_torch("resnet-18", tensors, "resnet-18", &options, device)
        .unwrap()
        .model
}
