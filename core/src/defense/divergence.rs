//! Kullback-Leibler divergence between two predictions of the same images, in the form each task
//! kind calls for.

use burn::Tensor;
use burn::tensor::activation::{log_softmax, softmax};

use crate::TaskKind;
use crate::train::log_sigmoid;

/// The terms of KL(p(a) ‖ p(b)) `[batch, classes]` between the predictions of logits `a` and `b`:
/// `p_k (log p_k - log q_k)` per class for a softmax (sum over classes for the divergence), the
/// whole Bernoulli divergence `p log(p/q) + (1-p) log((1-p)/(1-q))` per label for sigmoids.
pub fn kl_terms(kind: TaskKind, a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    if kind.is_multi_label() {
        let (log_p, log_not_p) = (log_sigmoid(a.clone()), log_sigmoid(a.neg()));
        let (log_q, log_not_q) = (log_sigmoid(b.clone()), log_sigmoid(b.neg()));
        log_p.clone().exp() * (log_p - log_q) + log_not_p.clone().exp() * (log_not_p - log_not_q)
    } else {
        let log_p = log_softmax(a.clone(), 1);
        softmax(a, 1) * (log_p - log_softmax(b, 1))
    }
}

/// Each sample's divergence `[batch]`: summed over classes (softmax), averaged over labels
/// (sigmoids, as their BCE is).
pub fn per_sample_kl(kind: TaskKind, a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    let [batch, _] = a.dims();
    let terms = kl_terms(kind, a, b);
    match kind.is_multi_label() {
        true => terms.mean_dim(1),
        false => terms.sum_dim(1),
    }
    .reshape([batch])
}
