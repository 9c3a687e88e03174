//! An entry's own settings: a JSON object that is its typed settings struct serialised, every
//! default filled in, so a setting written out equals the same setting left at its default, and
//! an unknown or ill-typed key is an error naming it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// An entry's own settings, as a JSON object (its typed settings struct, serialised).
pub type Settings = Map<String, Value>;

/// The canonical settings of an entry whose settings are the struct `S` (`#[serde(default)]`):
/// the defaults overlaid with `given`, checked by deserialising into `S`.
pub fn canonical_settings<S: Serialize + DeserializeOwned + Default>(
    given: &Settings,
) -> Result<Settings> {
    let mut settings = as_object(&S::default());
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
    Ok(as_object(&typed))
}

fn as_object(settings: &impl Serialize) -> Settings {
    match serde_json::to_value(settings).expect("settings serialise") {
        Value::Object(map) => map,
        other => unreachable!("settings are structs, not {other}"),
    }
}

/// `settings` as the typed struct `S`; errors name the entry, `owner`.
pub fn typed_settings<S: DeserializeOwned>(owner: &str, settings: &Settings) -> Result<S> {
    serde_json::from_value(Value::Object(settings.clone()))
        .map_err(|e| Error::invalid(format!("{owner} settings: {e}")))
}

/// `key=value, …` for listings of an entry's defaults.
pub fn describe_settings(settings: &Settings) -> String {
    let parts: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(", ")
}

/// The keys of `options` an entry whose defaults are `defaults` takes: a command offers one set
/// of flags to every attack of a sweep, and each takes what applies to it.
pub fn applicable(defaults: &Settings, options: &Settings) -> Settings {
    options
        .iter()
        .filter(|(k, _)| defaults.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The key of a `key=value` pair (the whole text when it has no `=`), trimmed.
pub fn assignment_key(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(key, _)| key).trim()
}

/// `--set key=value` pairs as settings for the entry whose defaults are `defaults`: each value
/// is read as the type the default has (a number, a flag, a word), so `steps=20` is a number
/// and `generator=g.mpk` a string; a key the entry lacks is an error listing those it has.
pub fn parse_assignments(owner: &str, defaults: &Settings, pairs: &[String]) -> Result<Settings> {
    let mut settings = Settings::new();
    for pair in pairs {
        let (key, text) = pair.split_once('=').ok_or_else(|| {
            Error::invalid(format!("--set {pair}: expected key=value (e.g. steps=20)"))
        })?;
        let key = key.trim();
        let Some(default) = defaults.get(key) else {
            let known: Vec<&str> = defaults.keys().map(String::as_str).collect();
            return Err(Error::invalid(format!(
                "--set {pair}: {owner} has no setting '{key}' (its settings: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        };
        let text = text.trim();
        let value = match default {
            Value::String(_) => Value::String(text.into()),
            // A number, flag or absent (null) default: JSON says what was typed; a word that is
            // not JSON is a string.
            _ => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into())),
        };
        settings.insert(key.to_string(), value);
    }
    Ok(settings)
}

/// Settings for entries that have none.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Steps {
        steps: usize,
        schedule: String,
        step_size: Option<f32>,
    }

    fn object(v: Value) -> Settings {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_fill_in_and_unknown_or_ill_typed_keys_are_errors() {
        let canonical = |v| canonical_settings::<Steps>(&object(v));
        assert_eq!(
            canonical(json!({"steps": 3})).unwrap(),
            object(json!({"steps": 3, "schedule": "", "step_size": null}))
        );
        let err = canonical(json!({"eps": 3})).unwrap_err().to_string();
        assert_eq!(
            err,
            "no setting 'eps' (its settings: schedule, step_size, steps)"
        );
        assert!(canonical(json!({"steps": "many"})).is_err());
    }

    #[test]
    fn assignments_take_the_type_of_the_default() {
        let defaults = canonical_settings::<Steps>(&Settings::new()).unwrap();
        let set = |pairs: &[&str]| {
            let pairs: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
            parse_assignments("pgd", &defaults, &pairs)
        };
        assert_eq!(
            set(&["steps=20", "schedule=7", "step_size=0.5"]).unwrap(),
            object(json!({"steps": 20, "schedule": "7", "step_size": 0.5}))
        );
        let err = set(&["restarts=2"]).unwrap_err().to_string();
        assert!(err.contains("pgd has no setting 'restarts'"), "{err}");
        assert!(
            set(&["steps"])
                .unwrap_err()
                .to_string()
                .contains("key=value")
        );
    }
}
