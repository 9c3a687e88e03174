//! The attack registry. An [`AttackSpec`] (name, budget, goal and the attack's own settings) is
//! the one description of an attack: the CLI builds it from its flags, results store it, resume
//! matches it, the page offers the registry's entries. Adding an attack is one file with an
//! [`AttackEntry`] and its name in the `attacks!` list.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ATTACK_INFO, ATTACKS};
use super::{Attack, Budget, Convention, GenerativeAdversarialPerturbation, Goal, Norm};
use crate::registry::{Entry, Settings, typed_settings};
use crate::{Error, Result};

/// Declares the attack modules and makes two registries from the one list (in `attack/mod.rs`):
/// [`ATTACKS`], the entries with the code that runs them, and [`ATTACK_INFO`], their
/// descriptions only — what forms, result files and the page need (the page's wasm, which never
/// runs an attack, then links no tensor code). Entries after `test:` only the core's own tests
/// register.
macro_rules! attacks {
    ($($attack:ident),+ ; test: $($test:ident),*) => {
        $(mod $attack;)+
        $(#[cfg(test)] mod $test;)*
        $crate::registry::registry! {
            /// Every attack robustdx can run, in the order tables and the page list them.
            pub static ATTACKS: Registry<$crate::attack::AttackEntry> = "attack"
                [$($attack::ENTRY),+] test: [$($test::ENTRY),*]
        }
        $crate::registry::registry! {
            /// What [`ATTACKS`] describe, in the same order, without the code that runs them.
            pub static ATTACK_INFO: Registry<$crate::attack::AttackInfo> = "attack"
                [$($attack::ENTRY.info),+] test: [$($test::ENTRY.info),*]
        }
    };
}
pub(super) use attacks;

/// One registered attack: its description and how to build it.
pub struct AttackEntry {
    /// What the attack is and can do; the part the page needs.
    pub info: AttackInfo,
    /// Builds the attack a spec describes (its settings already canonical).
    pub build: fn(&AttackSpec, &AttackContext) -> Result<Box<dyn Attack>>,
}

impl std::ops::Deref for AttackEntry {
    type Target = AttackInfo;

    fn deref(&self) -> &AttackInfo {
        &self.info
    }
}

/// A registered attack as data: its name, its one line, what it can do and its settings.
pub struct AttackInfo {
    /// The name users type and results store.
    pub name: &'static str,
    /// One line for help texts and the page.
    pub about: &'static str,
    /// Raised when its numbers change for the same settings (see [`Entry::revision`]).
    pub revision: u32,
    /// The goal the attack always has (GAP's is fixed by its training), whatever is asked.
    pub fixed_goal: Option<Goal>,
    /// It runs a trained generator, which the caller supplies ([`AttackContext`]).
    pub needs_generator: bool,
    /// It improves its point step by step, so the page can show every step.
    pub stepwise: bool,
    /// It can aim at a chosen class (`--target`, `--least-likely`).
    pub targeted: bool,
    /// It reads the model's scores only, never a gradient (masked gradients do not fool it).
    pub gradient_free: bool,
    /// It draws random numbers (keyed by image, so results do not depend on the batch size).
    pub randomised: bool,
    /// An attack this one should never be weaker than at the same budget and goal: a sweep
    /// that finds it weaker flags the pair (a sanity check).
    pub dominates: Option<&'static str>,
    /// The page offers it for one image in the browser. Attacks that block on reads of the
    /// device while they run (AutoAttack's bookkeeping of the images still standing) cannot run
    /// on a browser's WebGPU, and are for data sets, natively.
    pub on_page: bool,
    /// The attack's own settings with every default filled in, from the ones given; an unknown
    /// or ill-typed setting is an error.
    pub canonical: fn(&Settings) -> Result<Settings>,
}

impl Entry for AttackInfo {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn revision(&self) -> u32 {
        self.revision
    }
}

impl Entry for AttackEntry {
    fn name(&self) -> &'static str {
        self.info.name
    }
    fn about(&self) -> &'static str {
        self.info.about
    }
    fn revision(&self) -> u32 {
        self.info.revision
    }
}

impl AttackInfo {
    /// The settings a spec gets when none are given (what the page shows first).
    pub fn defaults(&self) -> Settings {
        (self.canonical)(&Map::new()).expect("an attack's defaults are valid settings")
    }

    /// Its default number of steps, for the attacks that take one.
    pub fn default_steps(&self) -> Option<usize> {
        self.defaults()
            .get("steps")
            .and_then(Value::as_u64)
            .map(|n| n as usize)
    }

    /// "PGD", "APGD-CE": the name before the colon of the one-line description.
    pub fn short_name(&self) -> String {
        self.about
            .split_once(':')
            .map_or(self.name.to_uppercase(), |(name, _)| name.to_string())
    }
}

/// "PGD", "APGD-CE": the short name of the attack a result records, or the name itself in capitals
/// for one the registry no longer knows.
pub fn short_name(attack: &str) -> String {
    attack_info(attack).map_or(attack.to_uppercase(), |a| a.short_name())
}

/// The most iterations an attack spec may ask for: ten times the longest runs in the literature
/// (PGD-1000, AutoAttack's APGD at 100), so more is a typo that would run for days.
pub const MAX_ATTACK_STEPS: usize = 10_000;

/// Refuses a step count above [`MAX_ATTACK_STEPS`], naming the attack and the flags that set it.
pub(crate) fn check_steps(attack: &str, steps: u64) -> Result<()> {
    if steps > MAX_ATTACK_STEPS as u64 {
        return Err(Error::invalid(format!(
            "{attack}: {steps} steps is over the cap of {MAX_ATTACK_STEPS} (--steps, --set steps=N)"
        )));
    }
    Ok(())
}

/// What some attacks need besides their settings.
#[derive(Default, Clone, Copy)]
pub struct AttackContext<'a> {
    /// The trained generator GAP rescales.
    pub generator: Option<&'a GenerativeAdversarialPerturbation>,
}

/// The entry named `name`, or an error listing the names there are.
pub fn attack_entry(name: &str) -> Result<&'static AttackEntry> {
    ATTACKS.get(name)
}

/// The description of the attack named `name`, or an error listing the names there are.
pub fn attack_info(name: &str) -> Result<&'static AttackInfo> {
    ATTACK_INFO.get(name)
}

/// One attack at one budget, completely described.
///
/// Made through [`AttackSpec::new`], which fills in every default of the attack's settings, so
/// two specs of the same attack are equal exactly when they would run the same attack: what
/// resume and merge rely on.
///
/// ```rust
/// use robustdx_core::attack::{AttackContext, AttackSpec, Convention, Goal, Norm};
/// use serde_json::{Map, Value, json};
///
/// // PGD at ε = 8/255 in L∞, pixel space, untargeted, with `settings` laid over the defaults.
/// let pgd = |settings: Value| {
///     let settings: Map<String, Value> = settings.as_object().cloned().unwrap_or_default();
///     AttackSpec::new("pgd", 8.0, Norm::Linf, Convention::Pixel, Goal::Untargeted, &settings)
/// };
///
/// let spec = pgd(json!({}))?;
/// // Every setting is filled in: the canonical form results store and resume compares.
/// assert_eq!(
///     Value::Object(spec.settings.clone()),
///     json!({ "steps": 10, "step_size": null, "restarts": 1, "random_start": true })
/// );
/// assert_eq!(spec.budget().eps, 8.0 / 255.0); // attacks work in pixel units
/// assert_eq!(spec.describe(), "pgd ε=8/255");
///
/// // Spelling a default out makes the same spec; changing one shows in the description.
/// assert_eq!(pgd(json!({ "steps": 10 }))?, spec);
/// assert_eq!(pgd(json!({ "steps": 50 }))?.describe(), "pgd ε=8/255 steps=50");
/// // A setting PGD does not have is an error, not a silent default.
/// assert!(pgd(json!({ "iterations": 50 })).is_err());
///
/// // The spec builds the attack it describes.
/// let attack = spec.build(&AttackContext::default())?;
/// assert_eq!(attack.name(), "pgd");
/// # Ok::<(), robustdx_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSpec {
    /// The registry name (`fgsm`, `pgd`, `apgd`, `gap`).
    pub attack: String,
    /// ε in 1/255 units: of pixels ([0, 1] images), or of normalised values for the paper
    /// convention.
    pub eps: f32,
    /// The ball ε is measured in: L∞ (every pixel moves at most ε) or L2.
    pub norm: Norm,
    /// Whether ε and the clip range are in pixels or in normalised units (the seed study's code).
    pub convention: Convention,
    /// What the attack aims for; an attack with a [fixed goal](AttackInfo::fixed_goal) overrides
    /// it.
    pub goal: Goal,
    /// The attack's own settings, every default filled in (so a spec written with defaults
    /// equals one that spells them out).
    pub settings: Map<String, Value>,
    /// The attack's [revision](Entry::revision) when the spec was made (absent in files: 0).
    #[serde(default, skip_serializing_if = "crate::registry::is_first_revision")]
    pub revision: u32,
}

impl AttackSpec {
    /// A spec with `settings` canonicalised by the attack's entry.
    pub fn new(
        attack: &str,
        eps: f32,
        norm: Norm,
        convention: Convention,
        goal: Goal,
        settings: &Map<String, Value>,
    ) -> Result<Self> {
        let entry = attack_info(attack)?;
        // An attack with a goal of its own (GAP) takes it whatever is asked; any other aims at a
        // chosen class only if it can.
        if entry.fixed_goal.is_none() && goal.is_targeted() && !entry.targeted {
            return Err(Error::invalid(format!(
                "{} is untargeted here (targeted attacks: {})",
                entry.name,
                ATTACK_INFO
                    .iter()
                    .filter(|a| a.targeted)
                    .map(|a| a.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let spec = Self {
            attack: entry.name.into(),
            eps,
            norm,
            convention,
            goal: entry.fixed_goal.unwrap_or(goal),
            settings: (entry.canonical)(settings)
                .map_err(|e| Error::invalid(format!("{attack}: {e}")))?,
            revision: entry.revision,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// ε in the units a person typed (1/255), the step count within [`MAX_ATTACK_STEPS`], then
    /// the budget it makes.
    fn validate(&self) -> Result<()> {
        if !self.eps.is_finite() || self.eps < 0.0 {
            return Err(Error::invalid(format!(
                "ε must be a number ≥ 0 (in 1/255 units), got {}",
                self.eps
            )));
        }
        if let Some(steps) = self.settings.get("steps").and_then(Value::as_u64) {
            check_steps(&self.attack, steps)?;
        }
        self.budget().validate()
    }

    /// The everyday budget: untargeted, L∞, in pixel space (what defenses' inner attacks, one
    /// image on the page, analyses and the demos use).
    pub fn untargeted_linf(attack: &str, eps: f32, settings: &Map<String, Value>) -> Result<Self> {
        Self::new(
            attack,
            eps,
            Norm::Linf,
            Convention::Pixel,
            Goal::Untargeted,
            settings,
        )
    }

    /// The same spec re-checked against the registry (a spec read from a file or a page).
    pub fn canonical(&self) -> Result<Self> {
        Self::new(
            &self.attack,
            self.eps,
            self.norm,
            self.convention,
            self.goal,
            &self.settings,
        )
    }

    /// The budget in the units attacks work in.
    pub fn budget(&self) -> Budget {
        Budget {
            norm: self.norm,
            eps: self.eps / 255.0,
            convention: self.convention,
        }
    }

    /// The attack this spec describes.
    pub fn build(&self, context: &AttackContext) -> Result<Box<dyn Attack>> {
        self.validate()?;
        (attack_entry(&self.attack)?.build)(self, context)
    }

    /// The attack's own settings as its typed struct.
    pub fn settings_as<S: DeserializeOwned>(&self) -> Result<S> {
        typed_settings(&self.attack, &self.settings)
    }

    /// `key=value` for each setting that differs from the attack's defaults (string values
    /// unquoted; a generator's hash left out, it identifies rather than sets).
    pub fn changed_settings(&self) -> Vec<String> {
        let defaults = attack_info(&self.attack)
            .map(|e| e.defaults())
            .unwrap_or_default();
        self.settings
            .iter()
            .filter(|(k, v)| defaults.get(*k) != Some(*v) && k.as_str() != "sha256")
            .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string)))
            .collect()
    }

    /// `pgd ε=8/255` and the settings that differ from the attack's defaults, for tables.
    pub fn describe(&self) -> String {
        let mut text = format!("{} ε={}/255", self.attack, self.eps);
        for changed in self.changed_settings() {
            text.push(' ');
            text.push_str(&changed);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_fill_in_so_equal_attacks_have_equal_specs() {
        let pgd = |s: Value| {
            AttackSpec::new(
                "pgd",
                8.0,
                Norm::Linf,
                Convention::Pixel,
                Goal::Untargeted,
                &map(s),
            )
            .unwrap()
        };
        assert_eq!(pgd(json!({})), pgd(json!({"steps": 10})));
        assert_ne!(pgd(json!({})), pgd(json!({"steps": 20})));
        assert_eq!(pgd(json!({"steps": 20})).describe(), "pgd ε=8/255 steps=20");
        let spec = pgd(json!({"restarts": 3}));
        let text = serde_json::to_string(&spec).unwrap();
        let back: AttackSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back.canonical().unwrap(), spec);
    }

    #[test]
    fn unknown_names_and_settings_are_errors_naming_them() {
        let new = |name: &str, s: Value| {
            AttackSpec::new(
                name,
                8.0,
                Norm::Linf,
                Convention::Pixel,
                Goal::Untargeted,
                &map(s),
            )
        };
        let e = new("cw", json!({})).unwrap_err().to_string();
        assert!(
            e.contains("unknown attack 'cw'") && e.contains("apgd"),
            "{e}"
        );
        let e = new("fgsm", json!({"steps": 3})).unwrap_err().to_string();
        assert!(e.contains("no setting 'steps'"), "{e}");
        let e = new("pgd", json!({"steps": "many"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad setting"), "{e}");
        let e = new("pgd", json!({})).map(|s| AttackSpec { eps: 300.0, ..s });
        assert!(e.unwrap().build(&AttackContext::default()).is_err());
    }

    /// 10⁹ steps for every attack that takes steps: refused when the spec is made (from the
    /// command line, a result file or the page), the cap itself accepted; the attacks' own
    /// checks refuse it too when one is built by hand.
    #[test]
    fn step_counts_over_the_cap_are_refused_for_every_attack() {
        let with_steps = |name: &str, steps: u64| {
            AttackSpec::new(
                name,
                8.0,
                Norm::Linf,
                Convention::Pixel,
                Goal::Untargeted,
                &map(json!({ "steps": steps })),
            )
        };
        let stepped: Vec<&str> = ATTACK_INFO
            .iter()
            .filter(|a| a.default_steps().is_some())
            .map(|a| a.name)
            .collect();
        assert!(
            stepped.contains(&"pgd") && stepped.contains(&"apgd"),
            "{stepped:?}"
        );
        for name in stepped {
            let e = with_steps(name, 1_000_000_000).unwrap_err().to_string();
            assert!(
                e.contains(name) && e.contains("1000000000 steps") && e.contains("10000"),
                "{e}"
            );
            with_steps(name, MAX_ATTACK_STEPS as u64).unwrap();
        }
        let apgd = super::super::AutoProjectedGradientDescent::linf(0.03, 1_000_000_000);
        assert!(apgd.validate().is_err());
        let pgd = super::super::ProjectedGradientDescent::linf(0.03, 1_000_000_000);
        assert!(pgd.validate().is_err());
    }

    #[test]
    fn only_attacks_that_can_aim_take_a_targeted_goal() {
        for entry in ATTACK_INFO {
            let spec = AttackSpec::new(
                entry.name,
                4.0,
                Norm::Linf,
                Convention::Pixel,
                Goal::LeastLikely,
                &Map::new(),
            );
            match (entry.targeted, entry.fixed_goal) {
                (true, _) => assert_eq!(spec.unwrap().goal, Goal::LeastLikely, "{}", entry.name),
                (false, Some(fixed)) => assert_eq!(spec.unwrap().goal, fixed, "{}", entry.name),
                (false, None) => {
                    let err = spec.unwrap_err().to_string();
                    assert!(
                        err.contains("untargeted here") && err.contains("pgd"),
                        "{err}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_entry_builds_from_its_defaults_or_says_what_it_lacks() {
        for entry in ATTACKS {
            let spec = AttackSpec::new(
                entry.name,
                4.0,
                Norm::Linf,
                Convention::Pixel,
                Goal::Untargeted,
                &Map::new(),
            )
            .unwrap();
            match spec.build(&AttackContext::default()) {
                Ok(attack) => assert_eq!(attack.name(), entry.name),
                Err(e) => assert!(e.to_string().contains("generator"), "{}: {e}", entry.name),
            }
        }
    }
}
