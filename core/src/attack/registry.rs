//! The attack registry. An [`AttackSpec`] (name, budget, goal and the attack's own settings) is
//! the one description of an attack: the CLI builds it from its flags, results store it, resume
//! matches it, the page offers the registry's entries. Adding an attack is one file with an
//! [`AttackEntry`] and its name in the `attacks!` list.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Attack, Budget, Convention, GenerativeAdversarialPerturbation, Goal, Norm};
use crate::{Error, Result};

/// An attack's own settings, as a JSON object (each attack's typed settings struct, serialised).
pub type Settings = Map<String, Value>;

/// The one list of attacks: adding one is a file with an [`AttackEntry`] and its module's name
/// here. It makes two statics from the same list: [`ATTACKS`], the entries with the code that
/// runs them, and [`ATTACK_INFO`], their descriptions only — what forms, result files and the
/// page need (the page's wasm, which never runs an attack, then links no tensor code).
macro_rules! attacks {
    ($($attack:ident),+ $(,)?) => {
        /// Every attack robustdx can run, in the order tables and the page list them.
        pub static ATTACKS: &[AttackEntry] = &[$(super::$attack::ENTRY),+];
        /// What [`ATTACKS`] describe, in the same order, without the code that runs them.
        pub static ATTACK_INFO: &[AttackInfo] = &[$(super::$attack::ENTRY.info),+];
    };
}

attacks!(fgsm, pgd, apgd, gap);

/// One registered attack: its description and how to build it.
pub struct AttackEntry {
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

/// A registered attack as data: its name, its one line, its goal and its settings.
pub struct AttackInfo {
    /// The name users type and results store.
    pub name: &'static str,
    /// One line for help texts and the page.
    pub about: &'static str,
    /// The goal the attack always has (GAP's is fixed by its training), whatever is asked.
    pub fixed_goal: Option<Goal>,
    /// The attack's own settings with every default filled in, from the ones given; an unknown
    /// or ill-typed setting is an error.
    pub canonical: fn(&Settings) -> Result<Settings>,
}

impl AttackInfo {
    /// The settings a spec gets when none are given (what the page shows first).
    pub fn defaults(&self) -> Map<String, Value> {
        (self.canonical)(&Map::new()).expect("an attack's defaults are valid settings")
    }

    /// Whether it runs a trained generator (GAP).
    pub fn needs_generator(&self) -> bool {
        self.defaults().contains_key("generator")
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

/// What some attacks need besides their settings.
#[derive(Default, Clone, Copy)]
pub struct AttackContext<'a> {
    /// The trained generator GAP rescales.
    pub generator: Option<&'a GenerativeAdversarialPerturbation>,
}

/// The entry named `name`, or an error listing the names there are.
pub fn attack_entry(name: &str) -> Result<&'static AttackEntry> {
    find_entry(ATTACKS, |a| a.name, "attack", name)
}

/// The description of the attack named `name`, or an error listing the names there are.
pub fn attack_info(name: &str) -> Result<&'static AttackInfo> {
    find_entry(ATTACK_INFO, |a| a.name, "attack", name)
}

/// The entry of a registry (`kind`: `attack`, `defense`) called `name`, or an error listing
/// the names there are.
pub fn find_entry<T>(
    entries: &'static [T],
    name_of: fn(&T) -> &'static str,
    kind: &str,
    name: &str,
) -> Result<&'static T> {
    entries.iter().find(|e| name_of(e) == name).ok_or_else(|| {
        let names: Vec<&str> = entries.iter().map(name_of).collect();
        Error::invalid(format!(
            "unknown {kind} '{name}' (expected one of {})",
            names.join(", ")
        ))
    })
}

/// A registry entry's `settings` as its typed struct `S`; errors name the entry, `owner`.
pub fn typed_settings<S: DeserializeOwned>(owner: &str, settings: &Settings) -> Result<S> {
    serde_json::from_value(Value::Object(settings.clone()))
        .map_err(|e| Error::invalid(format!("{owner} settings: {e}")))
}

/// `key=value, …` for listings of a registry's defaults.
pub fn describe_settings(settings: &Settings) -> String {
    let parts: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(", ")
}

/// One attack at one budget, completely described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSpec {
    /// The registry name (`fgsm`, `pgd`, `apgd`, `gap`).
    pub attack: String,
    /// ε in 1/255 units: of pixels ([0, 1] images), or of normalised values for the paper
    /// convention.
    pub eps: f32,
    pub norm: Norm,
    pub convention: Convention,
    pub goal: Goal,
    /// The attack's own settings, every default filled in (so a spec written with defaults
    /// equals one that spells them out).
    pub settings: Map<String, Value>,
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
        let spec = Self {
            attack: entry.name.into(),
            eps,
            norm,
            convention,
            goal: entry.fixed_goal.unwrap_or(goal),
            settings: (entry.canonical)(settings)
                .map_err(|e| Error::invalid(format!("{attack}: {e}")))?,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// ε in the units a person typed (1/255), then the budget it makes.
    fn validate(&self) -> Result<()> {
        if !self.eps.is_finite() || self.eps < 0.0 {
            return Err(Error::invalid(format!(
                "ε must be a number ≥ 0 (in 1/255 units), got {}",
                self.eps
            )));
        }
        self.budget().validate()
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

/// `canonical` for an attack whose settings are the struct `S` (`#[serde(default)]`): the
/// defaults overlaid with `given`, checked by deserialising into `S`.
pub fn canonical_settings<S: Serialize + DeserializeOwned + Default>(
    given: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    let Value::Object(mut settings) =
        serde_json::to_value(S::default()).expect("settings serialise")
    else {
        unreachable!("attack settings are structs")
    };
    for (key, value) in given {
        if !settings.contains_key(key) {
            let known: Vec<&str> = settings.keys().map(String::as_str).collect();
            return Err(Error::invalid(format!(
                "no setting '{key}' (its settings: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        }
        settings.insert(key.clone(), value.clone());
    }
    let typed: S = serde_json::from_value(Value::Object(settings))
        .map_err(|e| Error::invalid(format!("bad setting: {e}")))?;
    let Value::Object(settings) = serde_json::to_value(typed).expect("settings serialise") else {
        unreachable!("attack settings are structs")
    };
    Ok(settings)
}

/// The keys of `options` that `attack` takes: the CLI offers one set of flags to every attack of
/// a sweep, and each takes what applies to it.
pub fn applicable(attack: &AttackInfo, options: &Map<String, Value>) -> Map<String, Value> {
    let defaults = attack.defaults();
    options
        .iter()
        .filter(|(k, _)| defaults.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Settings for attacks that have none.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

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
