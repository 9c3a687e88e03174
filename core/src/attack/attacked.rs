//! The model under attack: a frozen copy that lets gradients reach the input pixels.

use burn::Tensor;
use burn::tensor::Device;

use crate::model::{Classifier, DiagnosticModel};
use crate::{Result, TaskKind, task};

/// A frozen (inference-mode, no weight gradients) model on the autodiff version of a device.
pub struct AttackedModel {
    /// What gradients flow through.
    frozen: DiagnosticModel,
    /// The same function for plain forward passes (batch norm folded, as in `frozen`).
    model: DiagnosticModel,
    device: Device,
}

impl AttackedModel {
    pub fn new(model: &DiagnosticModel, device: &Device) -> Self {
        Self {
            frozen: model.frozen(device),
            model: model.folded(),
            device: device.clone(),
        }
    }

    /// The plain device the attack's tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn task(&self) -> TaskKind {
        self.model.card.task
    }

    pub fn classes(&self) -> usize {
        self.model.card.num_classes()
    }

    pub fn model(&self) -> &DiagnosticModel {
        &self.model
    }

    /// Logits without gradients.
    pub fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.model.logits(images)
    }

    /// Each sample's loss against `targets` `[batch, classes]`, and its gradient with respect to
    /// the input pixels. Samples are independent (batch norm runs on its running statistics),
    /// so one backward pass of the summed loss gives every sample's own gradient.
    pub fn loss_and_gradient(
        &self,
        images: Tensor<4>,
        targets: Tensor<2>,
    ) -> Result<(Tensor<1>, Tensor<4>)> {
        let (_, loss, gradient) = self.forward_and_gradient(images, targets)?;
        Ok((loss, gradient))
    }

    /// The logits, each sample's loss and its input gradient, from one forward and one backward
    /// pass (attacks that also need the decision at the point they differentiate at).
    pub fn forward_and_gradient(
        &self,
        images: Tensor<4>,
        targets: Tensor<2>,
    ) -> Result<(Tensor<2>, Tensor<1>, Tensor<4>)> {
        let x = images.autodiff().require_grad();
        let logits = self.frozen.logits(x.clone());
        let loss = task::per_sample_loss(self.task(), logits.clone(), targets.autodiff());
        let grads = loss.clone().sum().backward();
        let gradient = x
            .grad(&grads)
            .ok_or_else(|| crate::Error::invalid("the model does not depend on its input"))?;
        Ok((logits.without_autodiff(), loss.without_autodiff(), gradient))
    }
}
