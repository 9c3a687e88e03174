//! Which units a resumed run reuses and which it computes, and why.

use super::unit::{Identity, Unit};

/// What a run does with one unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<U> {
    /// The previous run holds this exact result.
    Reuse(Box<U>),
    /// Compute it.
    Run {
        /// Why an earlier result in the same place does not do (what changed); `None` when
        /// there was none.
        because: Option<String>,
    },
}

/// Decides each unit's fate from what `previous` holds (a resumed run's file): reused when a
/// recorded identity equals the one asked for; otherwise computed, saying what changed when an
/// earlier result of the same place exists.
///
/// A sweep plans with [`ResultIdentity`](crate::robustness::ResultIdentity) and the benchmark with
/// [`BenchmarkIdentity`](crate::report::BenchmarkIdentity); any pair of [`Identity`] and [`Unit`]
/// works, as these hand-made ones (a place, one setting and a seed) show:
///
/// ```rust
/// use robustdx_core::run::{Identity, Plan, Unit, plan};
///
/// #[derive(Debug, Clone, PartialEq)]
/// struct Cell {
///     attack: &'static str,
///     steps: u32,
///     seed: u64,
/// }
///
/// impl Identity for Cell {
///     fn label(&self) -> String {
///         self.attack.into()
///     }
///     fn differences(&self, now: &Self) -> Vec<String> {
///         let mut out = Vec::new();
///         if self.steps != now.steps {
///             out.push(format!("steps {} → {}", self.steps, now.steps));
///         }
///         if self.seed != now.seed {
///             out.push(format!("seed {} → {}", self.seed, now.seed));
///         }
///         out
///     }
/// }
///
/// /// A recorded result: the identity it was made with, and its number.
/// #[derive(Debug, Clone, PartialEq)]
/// struct Done {
///     identity: Cell,
///     accuracy: f64,
/// }
///
/// impl Unit for Done {
///     type Identity = Cell;
///     fn identity(&self) -> Option<&Cell> {
///         Some(&self.identity)
///     }
///     fn same_slot(&self, id: &Cell) -> bool {
///         self.identity.attack == id.attack
///     }
/// }
///
/// let cell = |attack, steps, seed| Cell { attack, steps, seed };
/// // The file of an earlier run: PGD with 10 steps, FGSM.
/// let previous = [
///     Done { identity: cell("pgd", 10, 0), accuracy: 0.41 },
///     Done { identity: cell("fgsm", 1, 0), accuracy: 0.55 },
/// ];
/// // Now: FGSM as before, PGD with 20 steps, and APGD, never run.
/// let plans = plan(&[cell("fgsm", 1, 0), cell("pgd", 20, 0), cell("apgd", 100, 0)], &previous);
///
/// assert_eq!(plans[0], Plan::Reuse(Box::new(previous[1].clone())));
/// assert_eq!(plans[1], Plan::Run { because: Some("steps 10 → 20".into()) });
/// assert_eq!(plans[2], Plan::Run { because: None });
/// ```
pub fn plan<U: Unit>(identities: &[U::Identity], previous: &[U]) -> Vec<Plan<U>> {
    identities
        .iter()
        .map(|id| {
            if let Some(unit) = previous.iter().find(|u| u.identity() == Some(id)) {
                return Plan::Reuse(Box::new(unit.clone()));
            }
            let because = previous
                .iter()
                .find(|u| u.same_slot(id))
                .map(|u| match u.identity() {
                    None => "it was recorded without an identity (an older robustdx)".to_string(),
                    Some(old) => old.differences(id).join(", "),
                });
            Plan::Run { because }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made unit: a place ("kind"), one setting and a seed.
    #[derive(Debug, Clone, PartialEq)]
    struct Id {
        kind: &'static str,
        steps: u32,
        seed: u64,
    }

    impl Identity for Id {
        fn label(&self) -> String {
            self.kind.into()
        }
        fn differences(&self, now: &Self) -> Vec<String> {
            let mut out = Vec::new();
            if self.steps != now.steps {
                out.push(format!("steps {} → {}", self.steps, now.steps));
            }
            if self.seed != now.seed {
                out.push(format!("seed {} → {}", self.seed, now.seed));
            }
            out
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Done {
        kind: &'static str,
        identity: Option<Id>,
        value: f64,
    }

    impl Unit for Done {
        type Identity = Id;
        fn identity(&self) -> Option<&Id> {
            self.identity.as_ref()
        }
        fn same_slot(&self, id: &Id) -> bool {
            self.kind == id.kind
        }
    }

    fn id(kind: &'static str, steps: u32, seed: u64) -> Id {
        Id { kind, steps, seed }
    }

    fn done(identity: Id, value: f64) -> Done {
        Done {
            kind: identity.kind,
            identity: Some(identity),
            value,
        }
    }

    #[test]
    fn an_exact_match_is_reused() {
        let previous = vec![done(id("a", 2, 0), 0.5), done(id("b", 2, 0), 0.7)];
        let plans = plan(&[id("b", 2, 0), id("a", 2, 0)], &previous);
        assert_eq!(plans[0], Plan::Reuse(Box::new(previous[1].clone())));
        assert_eq!(plans[1], Plan::Reuse(Box::new(previous[0].clone())));
    }

    #[test]
    fn a_changed_setting_is_recomputed_naming_every_difference() {
        let previous = vec![done(id("a", 2, 0), 0.5)];
        let plans = plan(&[id("a", 3, 0), id("a", 3, 1)], &previous);
        assert_eq!(
            plans,
            vec![
                Plan::Run {
                    because: Some("steps 2 → 3".into())
                },
                Plan::Run {
                    because: Some("steps 2 → 3, seed 0 → 1".into())
                },
            ]
        );
    }

    #[test]
    fn a_missing_or_unidentified_result_is_recomputed() {
        let mut old = done(id("a", 2, 0), 0.5);
        old.identity = None;
        let plans = plan(&[id("a", 2, 0), id("new", 2, 0)], &[old]);
        match &plans[0] {
            Plan::Run { because: Some(why) } => assert!(why.contains("without an identity")),
            other => panic!("{other:?}"),
        }
        assert_eq!(plans[1], Plan::Run { because: None });
        assert_eq!(
            plan::<Done>(&[id("a", 2, 0)], &[]),
            vec![Plan::Run { because: None }]
        );
    }
}
