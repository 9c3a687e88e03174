//! Per-image decisions, and whether an attack changed them the way it wanted.

use crate::TaskKind;
use crate::metrics::{argmax, predicted_findings};
use crate::{Label, attack::Goal};

/// What a model decided for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The class chosen (single-label: the argmax).
    Class(usize),
    /// Each finding present or not (multi-label: probability above 0.5).
    Findings(Vec<bool>),
}

/// The decision the probabilities imply: argmax, or each label at 0.5.
pub fn decision(task: TaskKind, probs: &[f32]) -> Decision {
    if task.is_multi_label() {
        Decision::Findings(predicted_findings(probs))
    } else {
        Decision::Class(argmax(probs))
    }
}

/// The names of the findings `flags` marks present.
pub fn finding_names<'a>(flags: &[bool], class_names: &'a [String]) -> Vec<&'a str> {
    flags
        .iter()
        .zip(class_names)
        .filter(|(on, _)| **on)
        .map(|(_, n)| n.as_str())
        .collect()
}

/// A ground truth read as the decision a perfect model would make.
impl From<&Label> for Decision {
    fn from(label: &Label) -> Self {
        match label {
            Label::Class(c) => Decision::Class(*c),
            Label::Findings(f) => Decision::Findings(f.clone()),
        }
    }
}

impl Decision {
    /// What was decided, in words: the class name, or the findings joined by ", " ("no finding"
    /// when there are none).
    pub fn describe(&self, class_names: &[String]) -> String {
        match self {
            Decision::Class(c) => class_names
                .get(*c)
                .cloned()
                .unwrap_or_else(|| c.to_string()),
            Decision::Findings(f) => {
                let on = finding_names(f, class_names);
                if on.is_empty() {
                    "no finding".into()
                } else {
                    on.join(", ")
                }
            }
        }
    }

    /// The decision as a label, so an attack can push away from it (an image without ground
    /// truth is attacked against what the model says about it).
    pub fn as_label(&self) -> Label {
        match self {
            Decision::Class(c) => Label::Class(*c),
            Decision::Findings(f) => Label::Findings(f.clone()),
        }
    }

    /// Whether it matches `label` exactly (every finding, for multi-label); a task mismatch is
    /// never correct.
    pub fn is_correct(&self, label: &Label) -> bool {
        match (self, label) {
            (Decision::Class(c), Label::Class(l)) => c == l,
            (Decision::Findings(f), Label::Findings(l)) => f == l,
            _ => false,
        }
    }
}

/// Running counts for fooling and success rates.
#[derive(Debug, Default)]
pub(crate) struct OutcomeCounts {
    images: usize,
    changed: usize,
    clean_correct: usize,
    broken: usize,
    on_target: usize,
}

impl OutcomeCounts {
    /// `target`: the class a targeted single-label attack aims for, or the label set a
    /// multi-label least-likely attack aims for.
    pub fn add(
        &mut self,
        clean: &Decision,
        adversarial: &Decision,
        label: &Label,
        target: Option<&Decision>,
    ) {
        self.images += 1;
        self.changed += usize::from(clean != adversarial);
        if clean.is_correct(label) {
            self.clean_correct += 1;
            self.broken += usize::from(!adversarial.is_correct(label));
        }
        self.on_target += usize::from(target == Some(adversarial));
    }

    pub fn fooling_rate(&self) -> f64 {
        ratio(self.changed, self.images)
    }

    pub fn success_rate(&self, goal: Goal) -> f64 {
        match goal {
            Goal::Untargeted => ratio(self.broken, self.clean_correct),
            _ => ratio(self.on_target, self.images),
        }
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_on_a_hand_counted_table() {
        // Four images, truth 0, 1, 1, 0; clean decisions 0, 1, 0, 0; adversarial 1, 1, 1, 1.
        let mut counts = OutcomeCounts::default();
        let rows = [(0, 0, 1), (1, 1, 1), (1, 0, 1), (0, 0, 1)];
        for (truth, clean, adv) in rows {
            let target = Decision::Class(1);
            counts.add(
                &Decision::Class(clean),
                &Decision::Class(adv),
                &Label::Class(truth),
                Some(&target),
            );
        }
        // Changed: images 0, 2, 3 → 3/4. Clean-correct: 0, 1, 3; broken among them: 0, 3 → 2/3.
        assert_eq!(counts.fooling_rate(), 0.75);
        assert!((counts.success_rate(Goal::Untargeted) - 2.0 / 3.0).abs() < 1e-12);
        // On target (class 1): all four.
        assert_eq!(counts.success_rate(Goal::Class(1)), 1.0);
    }

    #[test]
    fn multi_label_decisions_compare_whole_label_sets() {
        let d = decision(TaskKind::MultiLabel, &[0.7, 0.2, 0.51]);
        assert_eq!(d, Decision::Findings(vec![true, false, true]));
        assert!(d.is_correct(&Label::Findings(vec![true, false, true])));
        assert!(!d.is_correct(&Label::Findings(vec![true, false, false])));
        assert_eq!(
            decision(TaskKind::MultiClass, &[0.1, 0.6, 0.3]),
            Decision::Class(1)
        );
    }
}
