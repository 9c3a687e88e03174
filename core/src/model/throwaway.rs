//! A throwaway architecture that only the core's tests register: one convolution with batch
//! norm, global average pooling and a linear head. It proves that an architecture is one file
//! and one line — the registry-parametrised tests (forward, folding, PyTorch export and import,
//! training) pick it up with nothing else written.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::architecture::{Architecture, ArchitectureInfo, ForwardOutput, WeightShapes};
use super::layers::{conv_norm, fold_batch_norm};
use super::probe::Probe;

#[derive(Config, Debug, PartialEq)]
pub struct LinearProbeConfig {
    pub channels: usize,
    pub classes: usize,
    pub width: usize,
}

#[derive(Module, Debug)]
pub struct LinearProbe {
    stem: Conv2d,
    norm: Option<BatchNorm>,
    pool: AdaptiveAvgPool2d,
    head: Linear,
}

pub struct LinearArchitecture;

impl Architecture for LinearArchitecture {
    type Config = LinearProbeConfig;
    type Network = LinearProbe;

    const INFO: ArchitectureInfo = ArchitectureInfo {
        name: "linear-probe",
        input_size: 32,
        full_width: 16,
        tiny_width: 4,
        tiny_size: 32,
        width_step: 1,
        multi_label: false,
        about: "one convolution and a linear head (registered by the core's tests only)",
    };

    fn config(channels: usize, classes: usize, width: usize) -> LinearProbeConfig {
        LinearProbeConfig::new(channels, classes, width)
    }

    fn channels(config: &LinearProbeConfig) -> usize {
        config.channels
    }

    fn classes(config: &LinearProbeConfig) -> usize {
        config.classes
    }

    fn min_input_size(_: &LinearProbeConfig) -> usize {
        1
    }

    fn init(config: &LinearProbeConfig, device: &Device) -> LinearProbe {
        LinearProbe {
            stem: Conv2dConfig::new([config.channels, config.width], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(device),
            norm: Some(BatchNormConfig::new(config.width).init(device)),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            head: LinearConfig::new(config.width, config.classes).init(device),
        }
    }

    fn forward(network: &LinearProbe, x: Tensor<4>, probe: &mut dyn Probe) -> ForwardOutput {
        let x = relu(conv_norm(&network.stem, &network.norm, x));
        probe.stage(0, &x);
        let x = probe.cam_layer(x);
        let feature: Tensor<2> = network.pool.forward(x).flatten(1, 3);
        (network.head.forward(feature.clone()), Vec::new(), feature)
    }

    fn fold_batch_norm(network: &mut LinearProbe) {
        fold_batch_norm(&mut network.stem, &mut network.norm);
    }

    fn torch_name(path: &str) -> String {
        path.to_string()
    }

    fn infer_config(weights: &WeightShapes) -> crate::Result<LinearProbeConfig> {
        let ends = weights.ends("stem.weight", "head.weight")?;
        Ok(LinearProbeConfig::new(ends.channels, ends.classes, ends.width))
    }
}

/// A grayscale `size` × `size` model whose every logit is an affine function of the image:
/// logit j = `gains[j]`·mean(normalised pixels) + `biases[j]`. Two mirrored channels (+x and −x)
/// pass the ReLU as x = relu(x) − relu(−x), so the network is exactly linear. Randomized
/// smoothing of such a model has a closed form (a half-space's probability under Gaussian noise),
/// which the certification's tests compare with.
#[cfg(test)]
pub(crate) fn affine_model(
    task: crate::TaskKind,
    size: usize,
    gains: &[f32],
    biases: &[f32],
    device: &Device,
) -> super::DiagnosticModel {
    use burn::module::Param;
    use burn::tensor::TensorData;

    let classes = gains.len();
    let config = LinearProbeConfig::new(1, classes, 2);
    let mut network = LinearArchitecture::init(&config, device);
    let mut stem = vec![0.0f32; 2 * 9];
    // The centre tap of each output channel: +1 and −1.
    stem[4] = 1.0;
    stem[9 + 4] = -1.0;
    network.stem.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(stem, [2, 1, 3, 3]),
        device,
    ));
    network.norm = None;
    // Head rows are input features: the +x channel adds the gain, the −x channel subtracts it.
    let head: Vec<f32> = gains.iter().copied().chain(gains.iter().map(|g| -g)).collect();
    network.head.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(head, [2, classes]),
        device,
    ));
    network.head.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(biases.to_vec(), [classes]),
        device,
    )));
    let card = super::ModelCard {
        architecture: super::ArchitectureConfig::Linear(config),
        input: super::InputSpec::with_default_stats(1, size),
        task,
        class_names: (0..classes).map(|c| format!("c{c}")).collect(),
        training: None,
    };
    super::DiagnosticModel {
        card,
        network: super::Network::Linear(network),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{ARCHITECTURES, ArchitectureConfig, ModelOptions};

    #[test]
    fn a_new_architecture_is_registered_by_its_one_line() {
        assert_eq!(ARCHITECTURES.last().unwrap().name, "linear-probe");
        let options = ModelOptions {
            channels: 1,
            classes: 4,
            width: None,
            input_size: 32,
        };
        let config = ArchitectureConfig::from_name("Linear_Probe", &options).unwrap();
        assert_eq!((config.name(), config.channels(), config.classes()), ("linear-probe", 1, 4));
        // The file form: the name beside its settings, read back to the same config.
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.starts_with(r#"{"name":"linear-probe","channels":1"#), "{text}");
        let back: ArchitectureConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config);
        let err = serde_json::from_str::<ArchitectureConfig>(r#"{"name":"vgg-11"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown model 'vgg-11'"), "{err}");
    }
}
