//! What an attack tries to achieve, as the target its loss is measured against.

use burn::Tensor;
use burn::tensor::{Device, Int};
use serde::{Deserialize, Serialize};

use crate::{Error, Label, Result, TaskKind, task};

/// Untargeted attacks push the loss against the truth up; targeted ones pull the loss against a
/// chosen target down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Goal {
    /// Any wrong prediction.
    Untargeted,
    /// This class (single-label tasks).
    Class(usize),
    /// The class the clean image makes least likely (single-label), or every label flipped
    /// (multi-label).
    LeastLikely,
}

impl Goal {
    /// +1 to ascend the loss, -1 to descend it.
    pub fn direction(self) -> f32 {
        match self {
            Goal::Untargeted => 1.0,
            _ => -1.0,
        }
    }

    /// Whether the attack aims at a chosen target (descends the loss) rather than away from the
    /// truth.
    pub fn is_targeted(self) -> bool {
        self != Goal::Untargeted
    }

    /// The target rows `[batch, classes]` the loss is measured against. `clean_logits` are
    /// needed for [`Goal::LeastLikely`].
    pub fn targets(
        self,
        labels: &[Label],
        task: TaskKind,
        classes: usize,
        clean_logits: Option<Tensor<2>>,
        device: &Device,
    ) -> Result<Tensor<2>> {
        let device = device.clone();
        let truth = |device| task::targets_tensor(labels, task, classes, device);
        match (self, task.is_multi_label()) {
            (Goal::Untargeted, _) => truth(&device),
            (Goal::LeastLikely, true) => Ok(truth(&device)?.neg().add_scalar(1.0)),
            (Goal::Class(_), true) => Err(Error::invalid(
                "a target class needs a single-label model; multi-label attacks flip every label \
                 (least-likely)",
            )),
            (Goal::Class(c), false) if c >= classes => Err(Error::invalid(format!(
                "target class {c} does not exist (the model has {classes})"
            ))),
            (Goal::Class(c), false) => {
                let rows = vec![Label::Class(c); labels.len()];
                task::targets_tensor(&rows, task, classes, &device)
            }
            (Goal::LeastLikely, false) => {
                let logits = clean_logits
                    .ok_or_else(|| Error::invalid("least-likely needs the clean logits"))?;
                let least: Tensor<2, Int> = logits.argmin(1);
                let rows: Vec<Label> = least
                    .into_data()
                    .iter::<i64>()
                    .map(|c| Label::Class(c as usize))
                    .collect();
                task::targets_tensor(&rows, task, classes, &device)
            }
        }
    }
}
