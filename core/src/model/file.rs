//! The model file: a burnpack (burn's own weight format) whose metadata carries the model card.

use burn::store::{BurnpackStore, FloatCastAdapter, HalfPrecisionAdapter, ModuleSnapshot};
use burn::tensor::{Bytes, DType, Device};

use super::{DiagnosticModel, ModelCard};
use crate::{Error, Result};

/// Version of the card layout inside model files; bumped on incompatible changes.
pub const MODEL_FILE_VERSION: u32 = 1;
const CARD_KEY: &str = "robustdx.card";
const VERSION_KEY: &str = "robustdx.model_file_version";

/// An error about a weights file (model or generator), naming it.
pub(crate) fn model_error(file: &str, reason: impl ToString) -> Error {
    Error::Model {
        file: file.to_string(),
        reason: reason.to_string(),
    }
}

/// Reads only the card of a model file.
pub fn read_card(bytes: &[u8], file: &str) -> Result<ModelCard> {
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| model_error(file, format!("not a robustdx model file (burnpack): {e}")))?;
    let metadata = reader.metadata();
    let card = metadata
        .get(CARD_KEY)
        .ok_or_else(|| model_error(file, "a burnpack file, but without a robustdx model card"))?;
    let version: u32 = metadata
        .get(VERSION_KEY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if version != MODEL_FILE_VERSION {
        return Err(model_error(
            file,
            format!(
                "model file version {version}, this robustdx reads version {MODEL_FILE_VERSION}"
            ),
        ));
    }
    let card: ModelCard = serde_json::from_str(card)
        .map_err(|e| model_error(file, format!("unreadable model card: {e}")))?;
    card.input
        .validate()
        .map_err(|e| model_error(file, e.to_string()))?;
    for side in [card.input.height, card.input.width] {
        card.architecture
            .check_input_size(side)
            .map_err(|e| model_error(file, e.to_string()))?;
    }
    if card.class_names.len() != card.architecture.classes() {
        return Err(model_error(
            file,
            format!(
                "its card names {} classes, its {} has {} outputs",
                card.class_names.len(),
                card.architecture.name(),
                card.architecture.classes()
            ),
        ));
    }
    Ok(card)
}

/// Rejects weights that are NaN or infinite: such a model would "work" and predict garbage.
pub(crate) fn check_all_finite(bytes: &[u8], file: &str) -> Result<()> {
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| model_error(file, e))?;
    for tensor in reader.into_tensors().map_err(|e| model_error(file, e))? {
        let (name, dtype, _, _, data) = tensor.into_parts().map_err(|e| model_error(file, e))?;
        check_finite(&name, dtype, &data, file)?;
    }
    Ok(())
}

/// Rejects one tensor's NaN or infinite values, whatever float type holds them (32, 16, bfloat16,
/// 64 bit), and 64-bit values beyond float32's range, which become infinite when the weights are
/// converted to the float32 our models compute in.
pub(crate) fn check_finite(name: &str, dtype: DType, data: &[u8], file: &str) -> Result<()> {
    let count = |width: usize, bad: &dyn Fn(&[u8]) -> bool| {
        data.chunks_exact(width).filter(|b| bad(b)).count()
    };
    let (bad, what) = match dtype {
        DType::F32 => (
            count(4, &|b| {
                !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()
            }),
            "NaN or infinite values",
        ),
        DType::F16 => (
            count(2, &|b| !half::f16::from_le_bytes([b[0], b[1]]).is_finite()),
            "NaN or infinite values",
        ),
        DType::BF16 => (
            count(2, &|b| !half::bf16::from_le_bytes([b[0], b[1]]).is_finite()),
            "NaN or infinite values",
        ),
        DType::F64 => (
            count(8, &|b| {
                let v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
                !(v.is_finite() && v.abs() <= f64::from(f32::MAX))
            }),
            "NaN or infinite values (or values beyond float32's range)",
        ),
        _ => (0, ""),
    };
    if bad > 0 {
        return Err(model_error(
            file,
            format!("tensor '{name}' holds {bad} {what}"),
        ));
    }
    Ok(())
}

/// How a model file stores its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightPrecision {
    /// 32-bit floats, as trained.
    Full,
    /// Convolution and linear weights as 16-bit floats (burn's `HalfPrecisionAdapter`): half
    /// the file, for shipping (the page). Batch norm keeps 32 bits, its running variance would
    /// underflow. A half file is a model of its own: its numbers differ from the full one's by
    /// the rounding, and its hash identifies it.
    Half,
}

impl DiagnosticModel {
    /// The model as a burnpack file, card included.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_as(WeightPrecision::Full)
    }

    /// The model as a burnpack file with its weights stored at `precision`.
    pub fn to_bytes_as(&self, precision: WeightPrecision) -> Result<Vec<u8>> {
        let card = serde_json::to_string(&self.card).map_err(|e| Error::invalid(e.to_string()))?;
        let mut store = BurnpackStore::from_bytes(None)
            .metadata(CARD_KEY, card)
            .metadata(VERSION_KEY, MODEL_FILE_VERSION.to_string());
        if precision == WeightPrecision::Half {
            store = store.with_to_adapter(HalfPrecisionAdapter::new());
        }
        self.network
            .save_into(&mut store)
            .map_err(|e| Error::invalid(format!("cannot serialise the model: {e}")))?;
        let bytes = store
            .get_bytes()
            .map_err(|e| Error::invalid(format!("cannot serialise the model: {e}")))?;
        Ok(bytes.to_vec())
    }

    /// Loads a model file onto `device`. `file` names it in errors.
    pub fn from_bytes(bytes: &[u8], file: &str, device: &Device) -> Result<Self> {
        let card = read_card(bytes, file)?;
        check_all_finite(bytes, file)?;
        let mut model = Self::from_card(card, device);
        // Weights stored in 16 bits (a half file) widen to the 32 bits the model computes in.
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())))
            .with_from_adapter(FloatCastAdapter::to(DType::F32));
        model.network.load_from(&mut store).map_err(|e| {
            model_error(
                file,
                format!(
                    "weights do not match its {} card: {e}",
                    model.card.architecture.name()
                ),
            )
        })?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use burn::Tensor;
    use burn::tensor::{Distribution, Tolerance};

    use super::*;
    use crate::model::Classifier;
    use crate::test_support::{LeftRight, cpu, rewrite_burnpack, seeded_small_cnn};

    fn model(width: usize) -> DiagnosticModel {
        seeded_small_cnn(&LeftRight::new(4, 16).info, 16, width, 3)
    }

    #[test]
    fn save_then_load_gives_identical_logits_and_card() {
        let device = cpu();
        let original = model(4);
        let bytes = original.to_bytes().unwrap();
        let loaded = DiagnosticModel::from_bytes(&bytes, "m.bpk", &device).unwrap();
        assert_eq!(loaded.card, original.card);
        let x = {
            let _rng = crate::test_support::rng_lock();
            Tensor::<4>::random([2, 3, 16, 16], Distribution::Uniform(0.0, 1.0), &device)
        };
        let a = original.logits(x.clone()).into_data();
        let b = loaded.logits(x).into_data();
        a.assert_approx_eq::<f32>(&b, Tolerance::absolute(0.0));
        assert_eq!(read_card(&bytes, "m.bpk").unwrap(), original.card);
    }

    #[test]
    fn a_half_file_is_about_half_the_size_and_computes_the_same_to_its_rounding() {
        let device = cpu();
        let original = model(8);
        let full = original.to_bytes().unwrap();
        let half = original.to_bytes_as(WeightPrecision::Half).unwrap();
        assert!(
            (half.len() as f64) < 0.6 * full.len() as f64,
            "{} vs {} bytes",
            half.len(),
            full.len()
        );
        let loaded = DiagnosticModel::from_bytes(&half, "half.bpk", &device).unwrap();
        assert_eq!(loaded.card, original.card);
        let x = {
            let _rng = crate::test_support::rng_lock();
            Tensor::<4>::random([4, 3, 16, 16], Distribution::Uniform(0.0, 1.0), &device)
        };
        let (a, b) = (original.logits(x.clone()), loaded.logits(x));
        // 16-bit weights carry ~3 significant digits: close, and not bit for bit.
        let scale = a.clone().abs().max().into_scalar::<f32>().max(1.0);
        let diff = (a.clone() - b.clone()).abs().max().into_scalar::<f32>();
        assert!(diff > 0.0 && diff < 1e-2 * scale, "max difference {diff}");
        // Its weights, written again in full precision, are exactly what it loaded.
        let widened = loaded.to_bytes().unwrap();
        let again = DiagnosticModel::from_bytes(&widened, "w.bpk", &device).unwrap();
        again
            .logits(Tensor::<4>::ones([1, 3, 16, 16], &device))
            .into_data()
            .assert_approx_eq::<f32>(
                &loaded
                    .logits(Tensor::<4>::ones([1, 3, 16, 16], &device))
                    .into_data(),
                Tolerance::absolute(0.0),
            );
    }

    #[test]
    fn weights_of_another_architecture_are_rejected_by_name() {
        let mut wider = model(8);
        wider.card = model(4).card;
        let err =
            DiagnosticModel::from_bytes(&wider.to_bytes().unwrap(), "odd.bpk", &cpu()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("odd.bpk:") && text.contains("do not match"),
            "{text}"
        );
    }

    #[test]
    fn non_model_bytes_are_rejected_by_name() {
        let err =
            DiagnosticModel::from_bytes(b"PK\x03\x04 not a model", "x.bpk", &cpu()).unwrap_err();
        assert!(
            err.to_string().contains("x.bpk") && err.to_string().contains("not a robustdx model"),
            "{err}"
        );
    }

    #[test]
    fn nan_weights_are_rejected() {
        let poisoned = rewrite_burnpack(model(4).to_bytes().unwrap(), |_| {}, true);
        let err = DiagnosticModel::from_bytes(&poisoned, "nan.bpk", &cpu()).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
    }

    /// Every float type a weight file may hold: one good value passes, a NaN or ∞ is counted;
    /// float64 beyond float32's range is refused too (it would become ∞ when converted).
    #[test]
    fn non_finite_weights_are_found_in_every_float_type() {
        let check = |dtype, bytes: Vec<u8>| check_finite("w", dtype, &bytes, "m.bpk");
        let bf16 = |v: f32| half::bf16::from_f32(v).to_le_bytes().to_vec();
        let f16 = |v: f32| half::f16::from_f32(v).to_le_bytes().to_vec();
        for (dtype, good, bad) in [
            (
                DType::F32,
                1.5f32.to_le_bytes().to_vec(),
                f32::NAN.to_le_bytes().to_vec(),
            ),
            (DType::F16, f16(1.5), f16(f32::INFINITY)),
            (DType::BF16, bf16(1.5), bf16(f32::NAN)),
            (DType::BF16, bf16(-2.0), bf16(f32::NEG_INFINITY)),
            (
                DType::F64,
                1.5f64.to_le_bytes().to_vec(),
                f64::NAN.to_le_bytes().to_vec(),
            ),
            (
                DType::F64,
                (-1e38f64).to_le_bytes().to_vec(),
                1e39f64.to_le_bytes().to_vec(),
            ),
            (
                DType::F64,
                0.0f64.to_le_bytes().to_vec(),
                (-f64::MAX).to_le_bytes().to_vec(),
            ),
        ] {
            check(dtype, [good.clone(), good.clone()].concat()).unwrap();
            let err = check(dtype, [good.clone(), bad.clone(), good, bad].concat())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("m.bpk:") && err.contains("tensor 'w' holds 2 NaN or infinite"),
                "{dtype:?}: {err}"
            );
        }
    }

    /// A card whose input is within each side's limit but over the pixel cap (32 768²: 12 GB a
    /// batch of one) is refused when the file is read, as an image of that size would be.
    #[test]
    fn a_card_with_an_input_over_the_pixel_cap_is_refused() {
        let with_input = |side: usize| {
            rewrite_burnpack(
                model(4).to_bytes().unwrap(),
                |metadata| {
                    let card = metadata.get_mut(CARD_KEY).unwrap();
                    let mut json: serde_json::Value = serde_json::from_str(card).unwrap();
                    json["input"]["height"] = side.into();
                    json["input"]["width"] = side.into();
                    *card = json.to_string();
                },
                false,
            )
        };
        let err = read_card(&with_input(32_768), "big.bpk")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("big.bpk:")
                && err.contains("32768×32768")
                && err.contains("64 megapixels"),
            "{err}"
        );
        // 8192² is the cap itself: read.
        assert_eq!(
            read_card(&with_input(8192), "edge.bpk")
                .unwrap()
                .input
                .height,
            8192
        );
    }
}
