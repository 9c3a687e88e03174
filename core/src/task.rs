//! The three kinds of diagnostic task and their labels.

use serde::{Deserialize, Serialize};

/// What a model predicts: one of two classes, one of several, or a set of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// Two classes (e.g. benign vs melanoma); softmax over two logits, cross-entropy.
    Binary,
    /// One of `n` classes (e.g. diabetic-retinopathy grade 0-3); softmax, cross-entropy.
    MultiClass,
    /// Any subset of `n` findings (e.g. 14 thoracic findings); per-label sigmoid, BCE.
    MultiLabel,
}

impl TaskKind {
    /// `binary`, `multi-class` or `multi-label`, as files and tables write it.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Binary => "binary",
            TaskKind::MultiClass => "multi-class",
            TaskKind::MultiLabel => "multi-label",
        }
    }

    /// The task for `classes` mutually exclusive classes.
    pub fn single_label(classes: usize) -> Self {
        if classes == 2 {
            TaskKind::Binary
        } else {
            TaskKind::MultiClass
        }
    }

    /// Whether each finding is predicted on its own (sigmoid per label) rather than one class of
    /// many.
    pub fn is_multi_label(self) -> bool {
        self == TaskKind::MultiLabel
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TaskKind {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "binary" => Ok(TaskKind::Binary),
            "multi-class" | "multiclass" => Ok(TaskKind::MultiClass),
            "multi-label" | "multilabel" => Ok(TaskKind::MultiLabel),
            other => Err(crate::Error::invalid(format!(
                "unknown task '{other}' (expected binary, multi-class or multi-label)"
            ))),
        }
    }
}

/// The ground truth of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Label {
    /// Index of the one true class (binary and multi-class tasks).
    Class(usize),
    /// One flag per finding (multi-label tasks); all false means "no finding".
    Findings(Vec<bool>),
}

impl Label {
    /// The class index of a single-label target.
    pub fn class(&self) -> Option<usize> {
        match self {
            Label::Class(c) => Some(*c),
            Label::Findings(_) => None,
        }
    }
}

use burn::Tensor;
use burn::tensor::activation::{log_sigmoid, log_softmax, sigmoid, softmax};
use burn::tensor::{Device, TensorData};

/// Ground truth as a float tensor `[batch, classes]`: one-hot (single-label) or multi-hot
/// (multi-label). Labels that do not fit `classes` are an error, not a silent wrap.
pub fn targets_tensor(
    labels: &[Label],
    task: TaskKind,
    classes: usize,
    device: &Device,
) -> crate::Result<Tensor<2>> {
    let mut values = vec![0.0f32; labels.len() * classes];
    for (row, label) in labels.iter().enumerate() {
        match (label, task.is_multi_label()) {
            (Label::Class(c), false) if *c < classes => values[row * classes + c] = 1.0,
            (Label::Findings(f), true) if f.len() == classes => {
                for (k, &on) in f.iter().enumerate() {
                    values[row * classes + k] = if on { 1.0 } else { 0.0 };
                }
            }
            (label, _) => {
                return Err(crate::Error::invalid(format!(
                    "label {label:?} does not fit a {task} task with {classes} classes"
                )));
            }
        }
    }
    Ok(Tensor::from_data(
        TensorData::new(values, [labels.len(), classes]),
        device,
    ))
}

/// Loss of each sample `[batch]`: cross-entropy over the softmax (single-label), or binary
/// cross-entropy of each label's sigmoid averaged over labels (multi-label). Written on logits
/// in the numerically stable form, so it also serves attacks that need per-sample losses.
pub fn per_sample_loss(task: TaskKind, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let per_sample = if task.is_multi_label() {
        // BCE(x, y) = -(y log σ(x) + (1 - y) log σ(-x)), through burn's stable log σ: the
        // textbook max(x, 0) - x y + log(1 + e^{-|x|}) has kinks at x = 0 whose subgradients
        // give a wrong gradient at a logit of exactly 0.
        let absent = targets.clone().neg().add_scalar(1.0);
        let bce = log_sigmoid(logits.clone()) * targets + log_sigmoid(logits.neg()) * absent;
        bce.neg().mean_dim(1)
    } else {
        (log_softmax(logits, 1) * targets).sum_dim(1).neg()
    };
    per_sample.reshape([batch])
}

/// Mean loss over the batch, shape `[1]`.
pub fn loss(task: TaskKind, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    per_sample_loss(task, logits, targets).mean()
}

/// The rows of a `[batch, classes]` tensor (probabilities, logits, targets) on the host.
pub(crate) fn rows(t: Tensor<2>) -> crate::Result<Vec<Vec<f32>>> {
    let [_, k] = t.dims();
    let values: Vec<f32> = t
        .into_data()
        .try_to_vec()
        .map_err(|e| crate::Error::invalid(format!("cannot read predictions: {e:?}")))?;
    Ok(values.chunks(k.max(1)).map(<[f32]>::to_vec).collect())
}

/// Class probabilities `[batch, classes]` from logits.
pub fn probabilities(task: TaskKind, logits: Tensor<2>) -> Tensor<2> {
    if task.is_multi_label() {
        sigmoid(logits)
    } else {
        softmax(logits, 1)
    }
}
