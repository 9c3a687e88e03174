//! The defense registry. A [`DefenseSpec`] (name and the defense's own settings, defaults filled
//! in) is the one description of a training objective: the CLI builds it from its flags, the
//! checkpoint resumes with it, the model card records it. Adding a defense is one file with a
//! [`DefenseEntry`] and one line in [`DEFENSES`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{DEFENSE_INFO, DEFENSES, Defense};
use crate::attack::Convention;
use crate::registry::{Entry, Settings, typed_settings};
use crate::{Error, Result};

/// Declares the defense modules and their registry (in `defense/mod.rs`); entries after `test:`
/// only the core's own tests register.
macro_rules! defenses {
    ($($defense:ident),+ ; test: $($test:ident),*) => {
        $(mod $defense;)+
        $(#[cfg(test)] mod $test;)*
        $crate::registry::registry! {
            /// Every training objective, clean first.
            pub static DEFENSES: Registry<$crate::defense::DefenseEntry> = "defense"
                [$($defense::ENTRY),+] test: [$($test::ENTRY),*]
        }
        $crate::registry::registry! {
            /// What [`DEFENSES`] describe, in the same order, without the code that trains
            /// them: what model cards and the page need (the page's wasm, which reads cards but
            /// never trains, then links no tensor code).
            pub static DEFENSE_INFO: Registry<$crate::defense::DefenseInfo> = "defense"
                [$($defense::ENTRY.info),+] test: [$($test::ENTRY.info),*]
        }
    };
}
pub(super) use defenses;

/// One registered defense: its description and how to build it.
pub struct DefenseEntry {
    /// What the defense is.
    pub info: DefenseInfo,
    /// Builds the defense a spec describes (its settings already canonical).
    pub build: fn(&DefenseSpec) -> Result<Box<dyn Defense>>,
}

impl std::ops::Deref for DefenseEntry {
    type Target = DefenseInfo;

    fn deref(&self) -> &DefenseInfo {
        &self.info
    }
}

/// A registered defense as data: its names, its one line, what it does and its settings.
pub struct DefenseInfo {
    /// The name users type and model cards store.
    pub name: &'static str,
    /// Older names that still find it.
    pub aliases: &'static [&'static str],
    /// One line for help texts and the page.
    pub about: &'static str,
    /// Raised when its training changes for the same settings (see [`Entry::revision`]).
    pub revision: u32,
    /// It trains on adversarial points found by an inner attack (so it costs that attack's
    /// steps per batch), rather than on the clean images alone.
    pub adversarial: bool,
    /// The settings with every default filled in, from the ones given; an unknown or ill-typed
    /// setting is an error.
    pub canonical: fn(&Settings) -> Result<Settings>,
}

impl Entry for DefenseInfo {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }
    fn revision(&self) -> u32 {
        self.revision
    }
}

impl Entry for DefenseEntry {
    fn name(&self) -> &'static str {
        self.info.name
    }
    fn about(&self) -> &'static str {
        self.info.about
    }
    fn aliases(&self) -> &'static [&'static str] {
        self.info.aliases
    }
    fn revision(&self) -> u32 {
        self.info.revision
    }
}

impl DefenseInfo {
    /// The settings a spec gets when none are given.
    pub fn defaults(&self) -> Map<String, Value> {
        (self.canonical)(&Map::new()).expect("a defense's defaults are valid settings")
    }
}

/// The entry named `name` (or an older name of it), or an error listing the names there are.
pub fn defense_entry(name: &str) -> Result<&'static DefenseEntry> {
    DEFENSES.get(name)
}

/// The description of the defense named `name` (or an older name of it), or an error listing
/// the names there are.
pub fn defense_info(name: &str) -> Result<&'static DefenseInfo> {
    DEFENSE_INFO.get(name)
}

/// A name read from a file, as the registry calls it now (`none` was clean training's name).
fn current_name<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    Ok(defense_info(&name).map_or(name, |info| info.name.to_string()))
}

/// A training objective, completely described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefenseSpec {
    /// The registry name (an older name in a file reads as the current one).
    #[serde(deserialize_with = "current_name")]
    pub defense: String,
    /// Its own settings, every default filled in (ε and step sizes in 1/255 units of
    /// [`convention`](Self::convention)).
    pub settings: Map<String, Value>,
    /// Whether the inner attack's ε and step sizes are pixel units or, as in the seed study's
    /// code, normalised units (`(x − mean) / std`, clipped to the batch's normalised range).
    /// Absent in files written before it existed, which all trained in pixel units.
    #[serde(default = "pixel", skip_serializing_if = "is_pixel")]
    pub convention: Convention,
    /// The defense's [revision](Entry::revision) when the spec was made (absent in files: 0).
    #[serde(default, skip_serializing_if = "crate::registry::is_first_revision")]
    pub revision: u32,
}

fn pixel() -> Convention {
    Convention::Pixel
}

fn is_pixel(convention: &Convention) -> bool {
    *convention == Convention::Pixel
}

impl Default for DefenseSpec {
    /// Clean training.
    fn default() -> Self {
        Self {
            defense: super::clean::ENTRY.info.name.into(),
            settings: Map::new(),
            convention: Convention::Pixel,
            revision: super::clean::ENTRY.info.revision,
        }
    }
}

impl DefenseSpec {
    /// A spec with `settings` canonicalised by the defense's entry, in pixel units.
    pub fn new(defense: &str, settings: &Map<String, Value>) -> Result<Self> {
        Self::in_convention(defense, Convention::Pixel, settings)
    }

    /// A spec whose ε and step sizes are in `convention`'s units. The paper convention belongs
    /// to an inner attack: a defense without one (clean training) refuses it.
    pub fn in_convention(
        defense: &str,
        convention: Convention,
        settings: &Map<String, Value>,
    ) -> Result<Self> {
        let entry = defense_entry(defense)?;
        if convention != Convention::Pixel && !entry.adversarial {
            return Err(Error::invalid(format!(
                "{}: the paper convention sets the units of an inner attack's ε, and {} trains on clean images only",
                entry.name, entry.name
            )));
        }
        let spec = Self {
            defense: entry.name.into(),
            settings: (entry.canonical)(settings)
                .map_err(|e| Error::invalid(format!("{defense}: {e}")))?,
            convention,
            revision: entry.revision,
        };
        spec.build()?;
        Ok(spec)
    }

    /// Whether it is clean training, under any of its names.
    pub fn is_clean(&self) -> bool {
        defense_info(&self.defense).is_ok_and(|info| info.name == super::clean::ENTRY.info.name)
    }

    /// The defense this spec describes (its settings checked).
    pub fn build(&self) -> Result<Box<dyn Defense>> {
        (defense_entry(&self.defense)?.build)(self)
            .map_err(|e| Error::invalid(format!("{}: {e}", self.defense)))
    }

    /// The noise level the model was trained to be smoothed at ([`Defense::smoothing_sigma`]),
    /// for certification to read off a model card without naming the defense; an error if the
    /// spec names no defense this build has or its settings are invalid.
    pub fn smoothing_sigma(&self) -> Result<Option<f32>> {
        Ok(self.build()?.smoothing_sigma())
    }

    /// The settings as the defense's typed struct.
    pub fn settings_as<S: DeserializeOwned>(&self) -> Result<S> {
        typed_settings(&self.defense, &self.settings)
    }

    /// `mart beta=6.0 eps=8.0 step_size=1.785 steps=4`: the name and every setting that has a
    /// value (an absent step size means the defense's own rule, ε/4), then `(normalised units)`
    /// for the paper convention; for cards, listings and the page.
    pub fn describe(&self) -> String {
        let mut text = self.defense.clone();
        for (key, value) in self.settings.iter().filter(|(_, v)| !v.is_null()) {
            text.push_str(&format!(" {key}={value}"));
        }
        if self.convention == Convention::Paper {
            text.push_str(" (normalised units, the seed's paper convention)");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_fill_in_and_bad_settings_are_named() {
        let mart = DefenseSpec::new("mart", &Map::new()).unwrap();
        assert_eq!(
            mart,
            DefenseSpec::new("mart", &map(json!({"beta": 6.0}))).unwrap()
        );
        assert_eq!(
            mart.describe(),
            "mart beta=6.0 eps=8.0 step_size=1.785 steps=4"
        );
        let err = DefenseSpec::new("mpadvt", &map(json!({"eps": 4.0})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mpadvt") && err.contains("'eps'"), "{err}");
        let err = DefenseSpec::new("madry", &Map::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("pgd-at") && err.contains("trades"), "{err}");
        for bad in [
            json!({"eps": -1.0}),
            json!({"eps": 300.0}),
            json!({"beta": -1.0}),
            json!({"steps": 0}),
        ] {
            assert!(
                DefenseSpec::new("trades", &map(bad.clone())).is_err(),
                "{bad}"
            );
        }
        assert!(DefenseSpec::new("mpadvt", &map(json!({"eps_min": 5.0, "eps_max": 2.0}))).is_err());
        assert!(DefenseSpec::new("none", &Map::new()).unwrap().is_clean());
        assert_eq!(
            DefenseSpec::new("pgd-at", &Map::new()).unwrap().describe(),
            "pgd-at eps=8.0 steps=10"
        );
    }
}
