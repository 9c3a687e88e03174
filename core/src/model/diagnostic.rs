//! [`DiagnosticModel`]: a network plus its card, classifying pixel-space images.

use burn::Tensor;
use burn::tensor::{Device, TensorData};

use super::{ArchitectureConfig, InputSpec};
use super::{Classifier, ClassifierOutput, ModelCard, ModelOptions, Network};
use crate::data::{DatasetInfo, Image, images_to_tensor};
use crate::{Error, Result};

/// Forces every parameter's lazy initialisation.
struct Materialise;

impl burn::module::ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A trained (or fresh) classifier: weights and the record that says how to use them.
#[derive(Debug, Clone)]
pub struct DiagnosticModel {
    /// What the weights are and how to feed them.
    pub card: ModelCard,
    /// The weights, of whichever registered architecture the card names.
    pub network: Network,
}

impl DiagnosticModel {
    /// A freshly initialised model of architecture `name` for the data set `data`, taking
    /// `size` x `size` inputs. Initialisation draws from the device's seeded random stream.
    /// `width` (first-layer channels) defaults to the architecture's full width; an unknown
    /// name, a size below the architecture's minimum or fewer than two classes is an error.
    ///
    /// A tiny small-cnn on the CPU backend, classifying a random batch:
    ///
    /// ```rust
    /// use burn::Tensor;
    /// use burn::tensor::{Device, Distribution};
    /// use robustdx_core::TaskKind;
    /// use robustdx_core::data::DatasetInfo;
    /// use robustdx_core::model::{Classifier, DiagnosticModel};
    ///
    /// let device = Device::flex();
    /// device.seed(0); // the same seed draws the same weights
    /// let data = DatasetInfo {
    ///     name: "dermoscopy".into(),
    ///     task: TaskKind::Binary,
    ///     class_names: vec!["benign".into(), "malignant".into()],
    ///     channels: 3,
    /// };
    /// let model = DiagnosticModel::create("small-cnn", &data, 32, Some(4), &device)?;
    /// assert_eq!(model.card.input.height, 32);
    ///
    /// // Pixels in [0, 1]: the model normalises them itself (`model.card.input`).
    /// let images = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &device);
    /// let logits = model.logits(images);
    /// assert_eq!(logits.dims(), [2, 2]); // [batch, classes]
    /// # Ok::<(), robustdx_core::Error>(())
    /// ```
    pub fn create(
        name: &str,
        data: &DatasetInfo,
        size: usize,
        width: Option<usize>,
        device: &Device,
    ) -> Result<Self> {
        if data.num_classes() < 2 && !data.task.is_multi_label() {
            return Err(Error::invalid(format!(
                "{}: needs at least two classes",
                data.name
            )));
        }
        let options = ModelOptions {
            channels: data.channels,
            classes: data.num_classes(),
            width,
            input_size: size,
        };
        let architecture = ArchitectureConfig::from_name(name, &options)?;
        architecture.check_input_size(size)?;
        let card = ModelCard {
            input: InputSpec::with_default_stats(data.channels, size),
            architecture,
            task: data.task,
            class_names: data.class_names.clone(),
            training: None,
        };
        let model = Self::from_card(card, device);
        // burn initialises parameters lazily, on first use: drawn now, they come from the
        // stream the caller just seeded, not from wherever it stands at the first forward pass.
        burn::module::Module::visit(&model.network, &mut Materialise);
        Ok(model)
    }

    /// Fresh weights for `card`.
    pub fn from_card(card: ModelCard, device: &Device) -> Self {
        let network = card.architecture.init(device);
        Self { card, network }
    }

    /// A copy on the autodiff version of `device` whose weights track gradients: what training
    /// updates.
    pub fn trainable(&self, device: &Device) -> Self {
        use burn::module::Module;
        Self {
            card: self.card.clone(),
            network: self
                .network
                .clone()
                .to_device(&device.clone().autodiff())
                .train(),
        }
    }

    /// An inference copy: no autodiff, batch norm on its running statistics.
    pub fn valid(&self) -> Self {
        use burn::module::Module;
        Self {
            card: self.card.clone(),
            network: self.network.valid(),
        }
    }

    /// A copy on the autodiff version of `device` that lets gradients reach the input but not
    /// the weights, with batch norm in inference mode and folded into the convolutions: what an
    /// attack differentiates.
    pub fn frozen(&self, device: &Device) -> Self {
        use burn::module::Module;
        Self {
            card: self.card.clone(),
            network: self
                .folded()
                .network
                .to_device(&device.clone().autodiff())
                .freeze(),
        }
    }

    /// An inference copy with batch norm folded into the convolutions before it: the same
    /// function (to float rounding) in fewer passes.
    pub fn folded(&self) -> Self {
        Self {
            card: self.card.clone(),
            network: self.valid().network.fold_batch_norm(),
        }
    }

    /// `(x - mean) / std` per channel, as a differentiable op so input gradients are in pixels.
    fn normalize(&self, images: Tensor<4>) -> Tensor<4> {
        let input = &self.card.input;
        let device = images.device();
        let shape = [1, input.channels, 1, 1];
        let mean = Tensor::<4>::from_data(TensorData::new(input.mean.clone(), shape), &device);
        let std = Tensor::<4>::from_data(TensorData::new(input.std.clone(), shape), &device);
        (images - mean) / std
    }

    /// Learnable parameters (as PyTorch counts them).
    pub fn parameters(&self) -> usize {
        super::layers::learnable_parameters(&self.network)
    }

    /// Probabilities `[batch, classes]`: softmax (single-label) or per-label sigmoid.
    pub fn probabilities(&self, images: Tensor<4>) -> Tensor<2> {
        crate::task::probabilities(self.card.task, self.logits(images))
    }

    /// Each image's probabilities, after the model's own preprocessing (channels, size).
    pub fn predict_images(&self, images: Vec<Image>, device: &Device) -> Result<Vec<Vec<f32>>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let prepared: Vec<Image> = images
            .into_iter()
            .map(|i| self.card.input.prepare(i))
            .collect();
        let refs: Vec<&Image> = prepared.iter().collect();
        crate::task::rows(self.valid().probabilities(images_to_tensor(&refs, device)))
    }
}

impl DiagnosticModel {
    /// A forward pass on pixel images that shows its stages and its Grad-CAM layer to `probe`
    /// (see [`Probe`](super::Probe)).
    pub fn forward_probed(
        &self,
        images: Tensor<4>,
        probe: &mut dyn super::Probe,
    ) -> ClassifierOutput {
        let (logits, attention, feature) =
            self.network.forward_probed(self.normalize(images), probe);
        ClassifierOutput {
            logits,
            attention,
            feature,
        }
    }
}

impl Classifier for DiagnosticModel {
    fn forward_all(&self, images: Tensor<4>) -> ClassifierOutput {
        let (logits, attention, feature) = self.network.forward(self.normalize(images));
        ClassifierOutput {
            logits,
            attention,
            feature,
        }
    }
}
