//! Model and generator files read from disk: once with the line that says what was read, or
//! quietly, or with the SHA-256 of the bytes that result identities name them by.

use std::path::Path;

use burn::tensor::Device;
use robustdx_core::attack::GenerativeAdversarialPerturbation;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::robustness::sha256_hex;

use crate::files::read;

/// Reads a model file onto `device` without announcing it.
pub fn load_model_quiet(path: &Path, device: &Device) -> anyhow::Result<DiagnosticModel> {
    Ok(DiagnosticModel::from_bytes(
        &read(path)?,
        &path.to_string_lossy(),
        device,
    )?)
}

/// Reads a model file onto `device`.
pub fn load_model(path: &Path, device: &Device) -> anyhow::Result<DiagnosticModel> {
    model_from_bytes(&read(path)?, path, device)
}

fn model_from_bytes(bytes: &[u8], path: &Path, device: &Device) -> anyhow::Result<DiagnosticModel> {
    let model = DiagnosticModel::from_bytes(bytes, &path.to_string_lossy(), device)?;
    eprintln!("model {}: {}", path.display(), describe_model(&model));
    Ok(model)
}

/// The architecture, task and how the model was trained, in one line.
pub fn describe_model(model: &DiagnosticModel) -> String {
    let card = &model.card;
    format!(
        "{}, {} ({}); trained: {}",
        card.architecture.name(),
        card.task,
        card.class_names.join(", "),
        card.training
            .as_ref()
            .map_or("not recorded (imported or untrained)".into(), |t| t
                .describe())
    )
}

/// A model file onto `device`, and the SHA-256 of its bytes (what result identities name it
/// by), from one read.
pub fn load_model_hashed(
    path: &Path,
    device: &Device,
) -> anyhow::Result<(DiagnosticModel, String)> {
    let bytes = read(path)?;
    Ok((model_from_bytes(&bytes, path, device)?, sha256_hex(&bytes)))
}

/// Reads a generator file onto `device`.
pub fn load_generator(
    path: &std::path::Path,
    device: &Device,
) -> anyhow::Result<GenerativeAdversarialPerturbation> {
    generator_from_bytes(&read(path)?, path, device)
}

fn generator_from_bytes(
    bytes: &[u8],
    path: &std::path::Path,
    device: &Device,
) -> anyhow::Result<GenerativeAdversarialPerturbation> {
    Ok(GenerativeAdversarialPerturbation::from_bytes(
        bytes,
        &path.to_string_lossy(),
        device,
    )?)
}

/// A generator file and the SHA-256 of its bytes (what result identities name it by), from one
/// read.
pub fn load_generator_hashed(
    path: &std::path::Path,
    device: &Device,
) -> anyhow::Result<(GenerativeAdversarialPerturbation, String)> {
    let bytes = read(path)?;
    let generator = generator_from_bytes(&bytes, path, device)?;
    Ok((generator, robustdx_core::robustness::sha256_hex(&bytes)))
}
