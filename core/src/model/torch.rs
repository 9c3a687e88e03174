//! PyTorch interchange: torchvision-named weights in and out. The shell reads a `.safetensors` or
//! `.pt` file into tensors with burn-store; here they are matched by name and shape onto one of
//! our architectures, and written back out under the same names.

use std::collections::{BTreeMap, HashMap};

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter};
use burn::tensor::{Bytes, DType, Device};
use burn_pack::Tensor as PackTensor;

use super::file::{check_finite, model_error};
use super::{ArchitectureConfig, ArchitectureInfo, DiagnosticModel, InputSpec, ModelCard};
use super::{WeightShapes, architecture};
use crate::{Error, Result, TaskKind};

/// Choices `import` cannot read off the weights; each `None` takes torchvision's convention.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Default: multi-label for densenet-121, single-label otherwise.
    pub task: Option<TaskKind>,
    /// Default: the architecture's native size (224; 299 for inception-v3).
    pub input_size: Option<usize>,
    /// Default: ImageNet's mean / std.
    pub mean: Option<Vec<f32>>,
    /// Default: ImageNet's std.
    pub std: Option<Vec<f32>>,
    /// Default: `class_0`, `class_1`, ….
    pub class_names: Option<Vec<String>>,
}

/// An imported model, and what of the file was not used.
#[derive(Debug)]
pub struct TorchImport {
    /// The model, its card filled from the options and the weights' shapes.
    pub model: DiagnosticModel,
    /// Buffers that carry no weights (`num_batches_tracked`), dropped.
    pub ignored: Vec<String>,
}

/// Keys of batch norm's step counter, which PyTorch saves and nothing reads at inference.
const STEP_COUNTER: &str = "num_batches_tracked";

/// Builds a `arch` model from torchvision-named `tensors` (read from `source`, which names the
/// file in errors). Width, classes and input channels come from the tensor shapes.
pub fn import_torch(
    arch: &str,
    tensors: Vec<PackTensor>,
    source: &str,
    options: &ImportOptions,
    device: &Device,
) -> Result<TorchImport> {
    let info = architecture(arch)?;
    let mut ignored = Vec::new();
    let wrapper = wrapper_prefix(&tensors);
    let mut file: BTreeMap<String, PackTensor> = BTreeMap::new();
    for mut tensor in tensors {
        tensor.name = tensor.name[wrapper.len()..].to_string();
        if tensor.name.ends_with(STEP_COUNTER) {
            ignored.push(tensor.name);
        } else {
            file.insert(tensor.name.clone(), to_f32(tensor, source)?);
        }
    }
    let shapes = file
        .iter()
        .map(|(name, t)| (name.clone(), t.shape.to_vec()))
        .collect();
    let weights = WeightShapes::new(shapes, info.name, source);
    let architecture = ArchitectureConfig::from_weights(info, &weights)?;
    let card = import_card(info, &architecture, options)?;
    let mut model = DiagnosticModel::from_card(card, device);

    // Our parameters, under PyTorch's names, with the shapes PyTorch gives them.
    let ours: Vec<(String, String, Vec<usize>)> = model
        .network
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| {
            let torch = architecture.torch_name(&t.name);
            (t.name, torch, t.shape.to_vec())
        })
        .collect();
    check_names_and_shapes(&ours, &file, source)?;

    let mut renamed = Vec::with_capacity(ours.len());
    for (path, torch, _) in &ours {
        let mut tensor = file.remove(torch).expect("checked above");
        check_tensor_finite(&tensor, source)?;
        tensor.name = path.clone();
        renamed.push(tensor);
    }
    let result = model
        .network
        .apply(renamed, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(model_error(source, result));
    }
    Ok(TorchImport { model, ignored })
}

/// Reads the tensors of a `.safetensors` file (`source` names it in errors).
pub fn read_safetensors(bytes: &[u8], source: &str) -> Result<Vec<PackTensor>> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| model_error(source, format!("not a safetensors file: {e}")))?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            use safetensors::Dtype as S;
            let dtype = match view.dtype() {
                S::F64 => DType::F64,
                S::F32 => DType::F32,
                S::F16 => DType::F16,
                S::BF16 => DType::BF16,
                S::I64 => DType::I64,
                S::I32 => DType::I32,
                other => {
                    return Err(model_error(
                        source,
                        format!("tensor '{name}' has unsupported type {other:?}"),
                    ));
                }
            };
            let bytes = Bytes::from_bytes_vec(view.data().to_vec());
            Ok(PackTensor::new(
                name,
                dtype,
                view.shape().to_vec(),
                None,
                bytes,
            ))
        })
        .collect()
}

/// Weights stored in half or double precision become float32, what our models compute in.
fn to_f32(tensor: PackTensor, source: &str) -> Result<PackTensor> {
    let convert: fn(&[u8]) -> f32 = match tensor.dtype {
        DType::F32 => return Ok(tensor),
        DType::F64 => |b| f64::from_le_bytes(b.try_into().unwrap()) as f32,
        DType::F16 => |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
        DType::BF16 => |b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        other => {
            return Err(model_error(
                source,
                format!("tensor '{}' is {other:?}, not a float weight", tensor.name),
            ));
        }
    };
    let width = tensor.dtype.size();
    let (name, _, shape, id, bytes) = tensor.into_parts().map_err(|e| model_error(source, e))?;
    let data: Vec<u8> = bytes
        .chunks_exact(width)
        .flat_map(|b| convert(b).to_le_bytes())
        .collect();
    Ok(PackTensor::new(
        name,
        DType::F32,
        shape,
        id,
        Bytes::from_bytes_vec(data),
    ))
}

/// The prefix every key shares when a state dict was saved wrapped: inside a training
/// checkpoint (`state_dict.`, `model.`) and/or from `nn.DataParallel` (`module.`).
fn wrapper_prefix(tensors: &[PackTensor]) -> String {
    let mut prefix = String::new();
    'strip: loop {
        for wrapper in ["module.", "state_dict.", "model."] {
            let candidate = format!("{prefix}{wrapper}");
            if !tensors.is_empty() && tensors.iter().all(|t| t.name.starts_with(&candidate)) {
                prefix = candidate;
                continue 'strip;
            }
        }
        return prefix;
    }
}

/// Every mismatch at once, so a user fixes a file in one go.
fn check_names_and_shapes(
    ours: &[(String, String, Vec<usize>)],
    file: &BTreeMap<String, PackTensor>,
    source: &str,
) -> Result<()> {
    let expected: HashMap<&str, &Vec<usize>> =
        ours.iter().map(|(_, t, s)| (t.as_str(), s)).collect();
    let missing: Vec<&str> = ours
        .iter()
        .map(|(_, t, _)| t.as_str())
        .filter(|t| !file.contains_key(*t))
        .collect();
    let unexpected: Vec<&str> = file
        .keys()
        .map(String::as_str)
        .filter(|k| !expected.contains_key(k))
        .collect();
    let misshaped: Vec<String> = file
        .iter()
        .filter_map(|(k, t)| {
            let want = expected.get(k.as_str())?;
            (t.shape.as_slice() != want.as_slice())
                .then(|| format!("{k}: file {:?}, model {:?}", t.shape.as_slice(), want))
        })
        .collect();
    if missing.is_empty() && unexpected.is_empty() && misshaped.is_empty() {
        return Ok(());
    }
    let mut reason = String::from("the weights do not fit the architecture");
    let mut list = |title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        reason.push_str(&format!("\n  {title} ({}):", items.len()));
        for item in items.iter().take(12) {
            reason.push_str(&format!("\n    {item}"));
        }
        if items.len() > 12 {
            reason.push_str(&format!("\n    … and {} more", items.len() - 12));
        }
    };
    list("missing", missing.iter().map(|s| s.to_string()).collect());
    list(
        "unexpected",
        unexpected.iter().map(|s| s.to_string()).collect(),
    );
    list("mis-shaped", misshaped);
    Err(model_error(source, reason))
}

fn check_tensor_finite(tensor: &PackTensor, source: &str) -> Result<()> {
    let bytes = tensor
        .to_bytes()
        .map_err(|e| model_error(source, format!("tensor '{}': {e}", tensor.name)))?;
    check_finite(&tensor.name, tensor.dtype, &bytes, source)
}

/// The card of an imported model: torchvision's preprocessing unless told otherwise.
fn import_card(
    info: &ArchitectureInfo,
    architecture: &ArchitectureConfig,
    options: &ImportOptions,
) -> Result<ModelCard> {
    let (channels, classes) = (architecture.channels(), architecture.classes());
    let task = options.task.unwrap_or(if info.multi_label {
        TaskKind::MultiLabel
    } else {
        TaskKind::single_label(classes)
    });
    if task == TaskKind::Binary && classes != 2 {
        return Err(Error::invalid(format!(
            "--task binary needs a 2-way head; this one has {classes} outputs"
        )));
    }
    let size = options
        .input_size
        .or(architecture.fixed_input_size())
        .unwrap_or(info.input_size);
    architecture.check_input_size(size)?;
    let mut input = InputSpec::with_default_stats(channels, size);
    for (given, field, name) in [
        (&options.mean, &mut input.mean, "mean"),
        (&options.std, &mut input.std, "std"),
    ] {
        if let Some(values) = given {
            if values.len() != channels {
                return Err(Error::invalid(format!(
                    "--{name} has {} values; the model takes {channels} channels",
                    values.len()
                )));
            }
            *field = values.clone();
        }
    }
    if input.std.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return Err(Error::invalid("--std values must be positive"));
    }
    let class_names = match &options.class_names {
        Some(names) if names.len() != classes => {
            return Err(Error::invalid(format!(
                "{} class names given; the head has {classes} outputs",
                names.len()
            )));
        }
        Some(names) => names.clone(),
        None => (0..classes).map(|i| format!("class_{i}")).collect(),
    };
    // The same checks as a loaded card's: a model that could be written but never read (an
    // input of 32 768² pixels) is refused here.
    input.validate()?;
    Ok(ModelCard {
        architecture: architecture.clone(),
        input,
        task,
        class_names,
        training: None,
    })
}

/// The model's weights as a `.safetensors` file under torchvision's names and layouts, with
/// batch norm's step counter, so `model.load_state_dict(..., strict=True)` accepts it. The
/// card travels in the file's metadata.
pub fn export_safetensors(model: &DiagnosticModel) -> Result<Vec<u8>> {
    let architecture = &model.card.architecture;
    let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for tensor in model
        .network
        .valid()
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
    {
        let name = architecture.torch_name(&tensor.name);
        let (_, dtype, shape, _, bytes) = tensor
            .into_parts()
            .map_err(|e| Error::invalid(format!("cannot read weight '{name}': {e}")))?;
        if dtype != DType::F32 {
            return Err(Error::invalid(format!(
                "weight '{name}' is {dtype:?}; export writes float32"
            )));
        }
        if let Some(norm) = name.strip_suffix(".running_var") {
            let counter = format!("{norm}.{STEP_COUNTER}");
            tensors.push((
                counter,
                safetensors::Dtype::I64,
                vec![],
                0i64.to_le_bytes().into(),
            ));
        }
        tensors.push((
            name,
            safetensors::Dtype::F32,
            shape.to_vec(),
            bytes.to_vec(),
        ));
    }
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(format!("cannot write safetensors: {e}")))?;
    let card = serde_json::to_string(&model.card).map_err(|e| Error::invalid(e.to_string()))?;
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("robustdx.card".to_string(), card),
    ]);
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::invalid(format!("cannot write safetensors: {e}")))
}

#[cfg(test)]
mod tests {
    use burn::Tensor;
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::{Classifier, ModelOptions};
    use crate::test_support::{cpu, rng_lock, tiny_side};

    fn tiny(name: &str, classes: usize, size: usize) -> DiagnosticModel {
        let info = architecture(name).unwrap();
        let options = ModelOptions {
            channels: 3,
            classes,
            width: Some(info.tiny_width),
            input_size: size,
        };
        let architecture = ArchitectureConfig::from_name(name, &options).unwrap();
        let card = import_card(
            info,
            &architecture,
            &ImportOptions {
                input_size: Some(size),
                ..Default::default()
            },
        )
        .unwrap();
        DiagnosticModel::from_card(card, &cpu())
    }

    fn reimport(model: &DiagnosticModel) -> TorchImport {
        let bytes = export_safetensors(model).unwrap();
        let tensors = read_safetensors(&bytes, "m.safetensors").unwrap();
        let options = ImportOptions {
            input_size: Some(model.card.input.height),
            ..Default::default()
        };
        import_torch(
            model.card.architecture.name(),
            tensors,
            "m.safetensors",
            &options,
            &cpu(),
        )
        .unwrap()
    }

    #[test]
    fn export_then_import_gives_the_same_model_for_every_architecture() {
        let _rng = rng_lock();
        let device = cpu();
        for info in crate::model::ARCHITECTURES {
            let size = tiny_side(info.name);
            let model = tiny(info.name, 3, size).valid();
            let back = reimport(&model);
            assert_eq!(
                back.model.card.architecture, model.card.architecture,
                "{}",
                info.name
            );
            let x = Tensor::<4>::random([2, 3, size, size], Distribution::Default, &device);
            let a = model.logits(x.clone()).into_data();
            let b = back.model.valid().logits(x).into_data();
            assert_eq!(a, b, "{}", info.name);
        }
    }

    #[test]
    fn export_writes_torchvision_layouts_and_step_counters() {
        let _rng = rng_lock();
        let bytes = export_safetensors(&tiny("resnet-18", 3, 32)).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        // PyTorch's Linear keeps [out, in]; burn's is [in, out].
        assert_eq!(file.tensor("fc.weight").unwrap().shape(), [3, 64]);
        assert_eq!(file.tensor("bn1.weight").unwrap().shape(), [8]);
        let counter = file
            .tensor("layer2.0.downsample.1.num_batches_tracked")
            .unwrap();
        assert_eq!(counter.dtype(), safetensors::Dtype::I64);
        assert!(file.tensor("layer2.0.downsample.0.weight").is_ok());
    }

    #[test]
    fn mismatched_files_list_missing_unexpected_and_misshaped_keys() {
        let _rng = rng_lock();
        let bytes = export_safetensors(&tiny("resnet-18", 3, 32)).unwrap();
        let mut tensors = read_safetensors(&bytes, "x").unwrap();
        tensors.retain(|t| t.name != "layer1.0.conv1.weight");
        for t in tensors.iter_mut() {
            if t.name == "layer1.0.bn1.bias" {
                t.name = "layer1.0.bn1.beta".into();
            }
        }
        let wide = export_safetensors(&tiny("resnet-18", 3, 32)).unwrap();
        let widened = read_safetensors(&wide, "x")
            .unwrap()
            .into_iter()
            .find(|t| t.name == "layer4.1.conv2.weight")
            .map(|mut t| {
                // Same name, another shape: a 1x1 kernel where the model has 3x3.
                let [o, i, _, _] = t.shape.as_slice() else {
                    unreachable!()
                };
                let (o, i) = (*o, *i);
                let data = vec![0u8; o * i * 4];
                t = PackTensor::new(
                    t.name,
                    DType::F32,
                    vec![o, i, 1, 1],
                    None,
                    Bytes::from_bytes_vec(data),
                );
                t
            })
            .unwrap();
        tensors.retain(|t| t.name != "layer4.1.conv2.weight");
        tensors.push(widened);
        let err = import_torch(
            "resnet-18",
            tensors,
            "w.pt",
            &ImportOptions::default(),
            &cpu(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("w.pt:"), "{err}");
        for want in [
            "missing (2)",
            "layer1.0.conv1.weight",
            "layer1.0.bn1.bias",
            "unexpected (1)",
            "layer1.0.bn1.beta",
            "mis-shaped (1)",
            "layer4.1.conv2.weight: file [64, 64, 1, 1], model [64, 64, 3, 3]",
        ] {
            assert!(err.contains(want), "no '{want}' in: {err}");
        }
    }

    #[test]
    fn another_architectures_weights_are_named_as_such() {
        let _rng = rng_lock();
        let bytes = export_safetensors(&tiny("resnet-18", 3, 32)).unwrap();
        let tensors = read_safetensors(&bytes, "x").unwrap();
        let err = import_torch(
            "densenet-121",
            tensors,
            "r.safetensors",
            &ImportOptions::default(),
            &cpu(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("no tensor 'features.conv0.weight'"),
            "{err}"
        );
    }

    #[test]
    fn nan_weights_are_rejected_and_half_precision_is_widened() {
        let _rng = rng_lock();
        let model = tiny("small-cnn", 2, 32);
        let bytes = export_safetensors(&model).unwrap();
        let tensors = read_safetensors(&bytes, "x").unwrap();
        let poisoned: Vec<_> = tensors
            .iter()
            .cloned()
            .map(|t| {
                if t.name != "head.bias" {
                    return t;
                }
                let data = [f32::NAN, 0.0]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                PackTensor::new(
                    t.name,
                    DType::F32,
                    vec![2],
                    None,
                    Bytes::from_bytes_vec(data),
                )
            })
            .collect();
        let err = import_torch(
            "small-cnn",
            poisoned,
            "nan.safetensors",
            &ImportOptions::default(),
            &cpu(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("head.bias") && err.to_string().contains("NaN"),
            "{err}"
        );

        // The same weights as float64, saved in a checkpoint dict from nn.DataParallel, import
        // unchanged.
        let doubled: Vec<_> = tensors
            .into_iter()
            .map(|t| {
                let (name, dtype, shape, _, bytes) = t.into_parts().unwrap();
                if dtype != DType::F32 {
                    return PackTensor::new(
                        format!("state_dict.module.{name}"),
                        dtype,
                        shape,
                        None,
                        bytes,
                    );
                }
                let data = bytes
                    .chunks_exact(4)
                    .flat_map(|b| (f32::from_le_bytes(b.try_into().unwrap()) as f64).to_le_bytes())
                    .collect();
                PackTensor::new(
                    format!("state_dict.module.{name}"),
                    DType::F64,
                    shape,
                    None,
                    Bytes::from_bytes_vec(data),
                )
            })
            .collect();
        let options = ImportOptions {
            input_size: Some(32),
            ..Default::default()
        };
        let back = import_torch("small-cnn", doubled, "d", &options, &cpu()).unwrap();
        let x = Tensor::<4>::random([1, 3, 32, 32], Distribution::Default, &cpu());
        assert_eq!(
            model.valid().logits(x.clone()).into_data(),
            back.model.valid().logits(x).into_data()
        );
    }

    #[test]
    fn import_defaults_follow_torchvision_and_overrides_are_checked() {
        let _rng = rng_lock();
        let bytes = export_safetensors(&tiny("densenet-121", 14, 32)).unwrap();
        let tensors = read_safetensors(&bytes, "x").unwrap();
        let model = import_torch(
            "densenet-121",
            tensors.clone(),
            "x",
            &ImportOptions::default(),
            &cpu(),
        )
        .unwrap()
        .model;
        assert_eq!(model.card.task, TaskKind::MultiLabel);
        assert_eq!(model.card.input.height, 224);
        assert_eq!(model.card.input.mean, vec![0.485, 0.456, 0.406]);
        let bad = ImportOptions {
            task: Some(TaskKind::Binary),
            ..Default::default()
        };
        let err = import_torch("densenet-121", tensors.clone(), "x", &bad, &cpu()).unwrap_err();
        assert!(err.to_string().contains("2-way head"), "{err}");
        let bad = ImportOptions {
            mean: Some(vec![0.5]),
            ..Default::default()
        };
        let err = import_torch("densenet-121", tensors, "x", &bad, &cpu()).unwrap_err();
        assert!(err.to_string().contains("3 channels"), "{err}");
    }
}
