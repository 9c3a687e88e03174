//! Sanity flags, after AutoAttack's `checks.py`: signs that a sweep's numbers overstate robustness
//! (gradient masking in a "defended" model, a model that outputs probabilities, randomness), shown
//! in every sweep's table, JSON and report.

use burn::Tensor;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackedModel, Goal, attack_info, short_name};
use crate::data::{BatchLoader, Dataset, Image, images_to_tensor};
use crate::model::DiagnosticModel;
use crate::report::AttackResult;
use crate::{Label, Result};

/// Images of the split (its first ones, the same for every shard) the model checks look at.
pub const SANITY_IMAGES: usize = 64;
/// Share of images with an all-zero input gradient above which the model is flagged.
pub const ZERO_GRADIENT_SHARE: f64 = 0.01;

/// A check a sweep runs to catch a model or attack whose robustness numbers should not be trusted
/// (gradient masking, a broken attack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SanityCheck {
    /// The outputs are already probabilities (a softmax inside the model flattens gradients).
    ProbabilityOutputs,
    /// The input gradient is exactly zero for too many images.
    ZeroGradients,
    /// Two forward passes of one batch disagree.
    NonDeterministic,
    /// A weaker attack (PGD) did better than a stronger one (APGD) at the same budget.
    WeakerAttackStronger,
    /// An attack that never reads a gradient (Square) did better than the gradient attacks:
    /// the gradients mislead them (gradient masking).
    GradientFreeStronger,
}

impl SanityCheck {
    /// Whether the check compares a sweep's cells (redone as cells are added), not the model.
    pub fn compares_cells(self) -> bool {
        matches!(
            self,
            SanityCheck::WeakerAttackStronger | SanityCheck::GradientFreeStronger
        )
    }
}

/// One warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SanityFlag {
    /// Which check raised it.
    pub check: SanityCheck,
    /// What was seen, in words, with the numbers.
    pub message: String,
}

/// The checks every sweep runs.
pub const SANITY_CHECKS: [SanityCheck; 5] = [
    SanityCheck::ProbabilityOutputs,
    SanityCheck::ZeroGradients,
    SanityCheck::NonDeterministic,
    SanityCheck::WeakerAttackStronger,
    SanityCheck::GradientFreeStronger,
];

fn floats<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_to_vec()
        .map_err(|e| crate::Error::invalid(format!("cannot read model outputs: {e:?}")))
}

/// The model checks, on the first [`SANITY_IMAGES`] images of `data`.
pub fn check_model(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    device: &Device,
) -> Result<Vec<SanityFlag>> {
    let Some(samples) = BatchLoader::new(data, SANITY_IMAGES, &model.card.input, None).next()
    else {
        return Ok(vec![]);
    };
    let samples = samples?;
    let refs: Vec<&Image> = samples.iter().map(|s| &s.image).collect();
    let labels: Vec<Label> = samples.iter().map(|s| s.label.clone()).collect();
    let images = images_to_tensor(&refs, device);
    let attacked = AttackedModel::new(model, device);
    let card = &model.card;
    let targets = Goal::Untargeted.targets(&labels, card.task, card.num_classes(), None, device)?;
    let first = floats(attacked.logits(images.clone()))?;
    let (second, _, gradient) = attacked.forward_and_gradient(images, targets)?;
    let second = floats(second)?;
    let [b, _, _, _] = gradient.dims();
    let largest = floats(gradient.reshape([b as i32, -1]).abs().max_dim(1))?;
    let classes = card.num_classes();
    Ok(flags(card.task, classes, &first, &second, &largest))
}

/// The model flags from two passes' outputs (`[images × classes]`) and each image's largest
/// |input gradient|.
fn flags(
    task: crate::TaskKind,
    classes: usize,
    first: &[f32],
    second: &[f32],
    largest_gradient: &[f32],
) -> Vec<SanityFlag> {
    let mut out = Vec::new();
    let in_unit = first.iter().all(|v| (0.0..=1.0).contains(v));
    let sums_to_one = first
        .chunks(classes.max(1))
        .all(|row| (row.iter().sum::<f32>() - 1.0).abs() < 1e-3);
    if in_unit && (task.is_multi_label() || sums_to_one) {
        out.push(SanityFlag {
            check: SanityCheck::ProbabilityOutputs,
            message: "the model's outputs look like probabilities, not logits: a softmax or \
                      sigmoid inside the model saturates the attack's loss and can hide \
                      non-robustness"
                .into(),
        });
    }
    let zero = largest_gradient.iter().filter(|&&g| g == 0.0).count();
    let share = zero as f64 / largest_gradient.len().max(1) as f64;
    if share > ZERO_GRADIENT_SHARE {
        out.push(SanityFlag {
            check: SanityCheck::ZeroGradients,
            message: format!(
                "the input gradient is exactly zero for {zero} of {} images ({:.1} %): \
                 gradient-based attacks cannot move them, so their robustness is not measured \
                 (gradient masking?)",
                largest_gradient.len(),
                share * 100.0
            ),
        });
    }
    let disagree = first
        .iter()
        .zip(second)
        .map(|(a, b)| (a - b).abs() / (1.0 + a.abs()))
        .fold(0.0f32, f32::max);
    if disagree > 1e-4 {
        out.push(SanityFlag {
            check: SanityCheck::NonDeterministic,
            message: format!(
                "two forward passes of the same images differ (by up to {disagree:.2e}): a \
                 randomised model needs an attack that averages over its randomness (EOT)"
            ),
        });
    }
    out
}

/// The cross-attack check: an attack must not beat one the registry says dominates it (PGD
/// and APGD-CE) at the same budget.
pub fn check_attacks(results: &[AttackResult]) -> Vec<SanityFlag> {
    let mut out = Vec::new();
    fn untargeted(r: &AttackResult) -> Option<&crate::attack::AttackSpec> {
        r.identity
            .as_ref()
            .filter(|i| i.attack.goal == Goal::Untargeted)
            .map(|i| &i.attack)
    }
    // Each pair (weaker, stronger) where the registry says the stronger should never lose.
    for stronger in results {
        let Some(s) = untargeted(stronger) else {
            continue;
        };
        let Some(dominated) = attack_info(&s.attack).ok().and_then(|info| info.dominates) else {
            continue;
        };
        for weaker in results.iter().filter(|r| r.attack == dominated) {
            let Some(w) = untargeted(weaker) else {
                continue;
            };
            let same_budget = (s.eps, s.norm, s.convention) == (w.eps, w.norm, w.convention);
            let (weaker_acc, stronger_acc) = (
                weaker.metrics.robust_accuracy(),
                stronger.metrics.robust_accuracy(),
            );
            if same_budget && s.eps > 0.0 && weaker_acc < stronger_acc {
                let (weaker_name, stronger_name) = (short_name(&w.attack), short_name(&s.attack));
                // A suite runs the attack it dominates first, with the same draws: losing to it
                // is not the model's doing.
                let why = if stronger.metrics.contributions.is_empty() {
                    "the stronger attack should do at least as well — the loss surface may be \
                     masked"
                } else {
                    "the suite runs it first with the same random draws, so it cannot leave more \
                     images standing — a bug in robustdx, please report it"
                };
                out.push(SanityFlag {
                    check: SanityCheck::WeakerAttackStronger,
                    message: format!(
                        "at ε = {}/255 {weaker_name} left accuracy {weaker_acc:.3}, \
                         {stronger_name} {stronger_acc:.3}: {why}",
                        s.eps
                    ),
                });
            }
        }
    }
    out.extend(check_gradient_free(results));
    out
}

/// Whether the registry's attack `attack` reads no gradient (Square).
pub(crate) fn gradient_free(attack: &str) -> bool {
    attack_info(attack).is_ok_and(|info| info.gradient_free)
}

/// Gradient masking: a gradient-free attack breaking images the gradient attacks could not — a
/// suite's gradient-free member breaking images after its gradient members, or a gradient-free
/// cell leaving lower accuracy than a gradient cell at the same budget.
fn check_gradient_free(results: &[AttackResult]) -> Vec<SanityFlag> {
    let mut out = Vec::new();
    for cell in results {
        let table = &cell.metrics.contributions;
        let late: usize = table
            .iter()
            .enumerate()
            .filter(|(k, c)| {
                gradient_free(c.member()) && table[..*k].iter().any(|e| !gradient_free(e.member()))
            })
            .map(|(_, c)| c.broken)
            .sum();
        if late > 0 {
            out.push(SanityFlag {
                check: SanityCheck::GradientFreeStronger,
                message: format!(
                    "at ε = {}/255 the gradient-free members of {} broke {late} images the \
                     gradient attacks left standing: their gradients mislead them (gradient \
                     masking), so gradient attacks alone overstate this model's robustness",
                    cell.eps,
                    short_name(&cell.attack)
                ),
            });
        }
    }
    for free in results.iter().filter(|r| gradient_free(&r.attack)) {
        let Some(f) = free.identity.as_ref().map(|i| &i.attack) else {
            continue;
        };
        for other in results {
            let Some(o) = other.identity.as_ref().map(|i| &i.attack) else {
                continue;
            };
            let gradient_cell =
                !gradient_free(&other.attack) && other.metrics.contributions.is_empty();
            let same_budget =
                (f.eps, f.norm, f.convention, f.goal) == (o.eps, o.norm, o.convention, o.goal);
            let (free_acc, other_acc) = (
                free.metrics.robust_accuracy(),
                other.metrics.robust_accuracy(),
            );
            if gradient_cell && same_budget && f.eps > 0.0 && free_acc < other_acc {
                out.push(SanityFlag {
                    check: SanityCheck::GradientFreeStronger,
                    message: format!(
                        "at ε = {}/255 {} (no gradients) left accuracy {free_acc:.3}, {} \
                         {other_acc:.3}: a gradient attack should do better — the gradients \
                         mislead it (gradient masking)",
                        f.eps,
                        short_name(&free.attack),
                        short_name(&other.attack)
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskKind;

    #[test]
    fn probabilities_zero_gradients_and_randomness_are_flagged() {
        let logits = [2.0, -1.0, 0.5, 0.3];
        let clean = flags(TaskKind::Binary, 2, &logits, &logits, &[0.1, 0.2]);
        assert!(clean.is_empty(), "{clean:?}");

        let probs = [0.9, 0.1, 0.3, 0.7];
        let f = flags(TaskKind::Binary, 2, &probs, &probs, &[0.1, 0.2]);
        assert_eq!(f[0].check, SanityCheck::ProbabilityOutputs);
        // Multi-label sigmoid outputs need not sum to one.
        let f = flags(
            TaskKind::MultiLabel,
            2,
            &[0.9, 0.8, 0.3, 0.7],
            &[0.9, 0.8, 0.3, 0.7],
            &[1.0, 1.0],
        );
        assert_eq!(f[0].check, SanityCheck::ProbabilityOutputs);

        // One of 50 images with zero gradient is 2 % > 1 %; one of 200 is not.
        let mut g = vec![0.5; 50];
        g[3] = 0.0;
        let f = flags(TaskKind::Binary, 2, &logits, &logits, &g);
        assert_eq!(f[0].check, SanityCheck::ZeroGradients);
        assert!(f[0].message.contains("1 of 50"), "{}", f[0].message);
        let mut g = vec![0.5; 200];
        g[3] = 0.0;
        assert!(flags(TaskKind::Binary, 2, &logits, &logits, &g).is_empty());

        let other = [2.0, -1.0, 0.51, 0.3];
        let f = flags(TaskKind::Binary, 2, &logits, &other, &[0.1, 0.2]);
        assert_eq!(f[0].check, SanityCheck::NonDeterministic);
    }

    /// A cell of `attack` at `eps` that left `accuracy`, with a suite's `contributions`.
    fn cell(
        attack: &str,
        eps: f32,
        accuracy: f64,
        contributions: Vec<crate::robustness::Contribution>,
    ) -> AttackResult {
        use crate::attack::{AttackSpec, Convention, Norm};
        use crate::metrics::Metrics;
        use crate::robustness::{ResultIdentity, RobustnessMetrics, Subject};
        {
            let spec = AttackSpec::new(
                attack,
                eps,
                Norm::Linf,
                Convention::Pixel,
                Goal::Untargeted,
                &serde_json::Map::new(),
            )
            .unwrap();
            AttackResult {
                attack: attack.into(),
                eps,
                settings: serde_json::Value::Object(spec.settings.clone()),
                identity: Some(ResultIdentity::new(spec, Subject::unrecorded(), 8)),
                robustdx_version: None,
                metrics: RobustnessMetrics {
                    adversarial: Metrics {
                        task: crate::TaskKind::Binary,
                        samples: 10,
                        accuracy,
                        exact_match: None,
                        balanced_accuracy: None,
                        auc_macro: None,
                        sensitivity: None,
                        specificity: None,
                        per_class: vec![],
                        confusion: None,
                    },
                    fooling_rate: 0.0,
                    success_rate: 0.0,
                    mean_linf: 0.0,
                    mean_l2: 0.0,
                    contributions,
                    finding_accuracy: None,
                },
                records: vec![],
            }
        }
    }

    #[test]
    fn pgd_beating_apgd_at_the_same_budget_is_flagged() {
        let result = |attack: &str, eps: f32, accuracy: f64| cell(attack, eps, accuracy, vec![]);
        let fine = [result("pgd", 4.0, 0.30), result("apgd", 4.0, 0.25)];
        assert!(check_attacks(&fine).is_empty());
        let masked = [
            result("pgd", 4.0, 0.20),
            result("apgd", 4.0, 0.25),
            result("apgd", 8.0, 0.01),
        ];
        let flags = check_attacks(&masked);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].check, SanityCheck::WeakerAttackStronger);
        assert!(
            flags[0].message.contains("ε = 4/255"),
            "{}",
            flags[0].message
        );
    }

    /// A suite's gradient-free member breaking images after the gradient members, or a
    /// gradient-free cell beating a gradient cell at the same ε, raises the masking flag; a
    /// suite above the attack it runs first is called a bug.
    #[test]
    fn gradient_free_breaks_flag_masking_and_a_suite_above_its_first_member_is_a_bug() {
        use crate::attack::ATTACK_INFO;
        use crate::robustness::Contribution;
        let free = ATTACK_INFO.iter().find(|a| a.gradient_free).unwrap().name;
        let row = |attack: &str, broken: usize| Contribution {
            attack: attack.into(),
            broken,
            robust_accuracy: 0.0,
        };
        let suite = ATTACK_INFO
            .iter()
            .find(|a| a.name == "autoattack")
            .unwrap()
            .name;
        let honest = cell(suite, 4.0, 0.2, vec![row("apgd", 3), row(free, 0)]);
        assert!(check_attacks(std::slice::from_ref(&honest)).is_empty());
        let masked = cell(
            suite,
            4.0,
            0.2,
            vec![row("apgd", 3), row(&format!("{free}:queries=100"), 2)],
        );
        let flags = check_attacks(&[masked]);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].check, SanityCheck::GradientFreeStronger);
        assert!(
            flags[0].message.contains("broke 2 images"),
            "{}",
            flags[0].message
        );

        let cells = [
            cell("pgd", 4.0, 0.30, vec![]),
            cell(free, 4.0, 0.25, vec![]),
        ];
        let flags = check_attacks(&cells);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].check, SanityCheck::GradientFreeStronger);

        let above = [
            cell("apgd", 4.0, 0.2, vec![]),
            cell(suite, 4.0, 0.3, vec![row("apgd", 0)]),
        ];
        let flags = check_attacks(&above);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert!(flags[0].message.contains("a bug"), "{}", flags[0].message);
    }

    /// Multi-label cells compare exact match, the robust accuracy: AutoAttack leaves the images
    /// the model already gets wrong unperturbed, so its per-label accuracy can sit above
    /// APGD-CE's while it stands fewer images — no bug.
    #[test]
    fn multi_label_cells_compare_exact_match() {
        use crate::robustness::Contribution;
        let multi_label = |mut c: AttackResult, exact: f64| {
            c.metrics.adversarial.task = crate::TaskKind::MultiLabel;
            c.metrics.adversarial.exact_match = Some(exact);
            c
        };
        let suite = crate::attack::AutoAttack::NAME;
        let row = Contribution {
            attack: "apgd".into(),
            broken: 1,
            robust_accuracy: 0.15,
        };
        let cells = [
            multi_label(cell("apgd", 1.0, 0.80, vec![]), 0.20),
            multi_label(cell(suite, 1.0, 0.85, vec![row]), 0.15),
        ];
        assert!(
            check_attacks(&cells).is_empty(),
            "{:?}",
            check_attacks(&cells)
        );
    }
}
