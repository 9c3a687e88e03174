use burn::Tensor;

/// What a forward pass exposes beyond the logits, for the analyses (attention maps, features).
#[derive(Debug, Clone)]
pub struct ClassifierOutput {
    /// `[batch, classes]`.
    pub logits: Tensor<2>,
    /// Attention maps `[batch, 1, h, w]`, one per attention gate (empty if the model has none).
    pub attention: Vec<Tensor<4>>,
    /// The penultimate feature `[batch, features]`, the input of the classification head.
    pub feature: Tensor<2>,
}

/// An image classifier on pixel-space input: images `[batch, channels, height, width]` with
/// values in [0, 1]. Normalisation happens inside, so attacks perturb real pixels.
pub trait Classifier {
    /// Logits `[batch, classes]`.
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_all(images).logits
    }

    /// Logits plus attention maps and penultimate feature.
    fn forward_all(&self, images: Tensor<4>) -> ClassifierOutput;
}
