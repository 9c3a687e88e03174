//! The model under attack: a frozen copy that lets gradients reach the input pixels.

use burn::Tensor;
use burn::tensor::Device;

use super::Objective;
use crate::model::{Classifier, DiagnosticModel};
use crate::{Result, TaskKind};

/// The smallest batch [`AttackedModel::forward_and_gradient`] splits over two threads.
#[cfg(feature = "parallel")]
const SPLIT_AT: usize = 8;

/// A frozen (inference-mode, no weight gradients) model on the autodiff version of a device.
pub struct AttackedModel {
    /// What gradients flow through.
    frozen: DiagnosticModel,
    /// The same function for plain forward passes (batch norm folded, as in `frozen`).
    model: DiagnosticModel,
    device: Device,
}

impl AttackedModel {
    /// Folds `model`'s batch norm and freezes a copy on the autodiff version of `device`.
    pub fn new(model: &DiagnosticModel, device: &Device) -> Self {
        // Folded once: `frozen` of a folded model has nothing left to fold.
        let model = model.folded();
        Self {
            frozen: model.frozen(device),
            model,
            device: device.clone(),
        }
    }

    /// The plain device the attack's tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The model's task, which decides the loss an attack climbs.
    pub fn task(&self) -> TaskKind {
        self.model.card.task
    }

    /// Width of the model's logits: its class (or label) count.
    pub fn classes(&self) -> usize {
        self.model.card.num_classes()
    }

    /// The folded model, for callers that score the adversarial images themselves.
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
        self.forward_and_gradient_of(images, &Objective::task(targets))
    }

    /// The logits, each sample's score under `objective` and its input gradient (attacks that
    /// climb another score than the task's loss: DLR, margins).
    pub fn forward_and_gradient_of(
        &self,
        images: Tensor<4>,
        objective: &Objective,
    ) -> Result<(Tensor<2>, Tensor<1>, Tensor<4>)> {
        #[cfg(feature = "parallel")]
        if let Some(halves) = self.on_two_threads(&images, objective) {
            return halves;
        }
        self.one_pass(images, objective)
    }

    /// On the CPU backend, a batch of at least [`SPLIT_AT`] images runs as two halves on two
    /// threads: samples are independent here, and burn's CPU kernels alone keep about 1.5 of
    /// two cores busy (element-wise passes, pooling and the scatter of the convolution's input
    /// gradient are serial at these sizes). Each half gets exactly the numbers it would alone.
    #[cfg(feature = "parallel")]
    fn on_two_threads(
        &self,
        images: &Tensor<4>,
        objective: &Objective,
    ) -> Option<Result<(Tensor<2>, Tensor<1>, Tensor<4>)>> {
        let batch = images.dims()[0];
        let on_cpu = matches!(
            self.device.as_dispatch(),
            burn::backend::DispatchDevice::Flex(_)
        );
        if !on_cpu || batch < SPLIT_AT || rayon::current_num_threads() < 2 {
            return None;
        }
        let half = batch / 2;
        let part = |start: usize, len: usize| {
            let rows = Tensor::arange(start as i64..(start + len) as i64, &self.device);
            self.one_pass(
                images.clone().narrow(0, start, len),
                &objective.select(rows),
            )
        };
        let (first, second) = rayon::join(|| part(0, half), || part(half, batch - half));
        Some(first.and_then(|(l1, s1, g1)| {
            let (l2, s2, g2) = second?;
            Ok((
                Tensor::cat(vec![l1, l2], 0),
                Tensor::cat(vec![s1, s2], 0),
                Tensor::cat(vec![g1, g2], 0),
            ))
        }))
    }

    pub(super) fn one_pass(
        &self,
        images: Tensor<4>,
        objective: &Objective,
    ) -> Result<(Tensor<2>, Tensor<1>, Tensor<4>)> {
        let x = images.autodiff().require_grad();
        let logits = self.frozen.logits(x.clone());
        let loss = objective.per_sample(self.task(), logits.clone());
        let grads = loss.clone().sum().backward();
        let gradient = x
            .grad(&grads)
            .ok_or_else(|| crate::Error::invalid("the model does not depend on its input"))?;
        Ok((logits.without_autodiff(), loss.without_autodiff(), gradient))
    }
}
