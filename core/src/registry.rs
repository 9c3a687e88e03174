//! One registry for every kind of thing robustdx runs: architectures, attacks, defenses and
//! perturbation kinds (and the kinds to come). A kind's entries live in one static list; each
//! entry is one file that describes itself ([`Entry`]), so adding one is that file and its line
//! in the list. Lookup, listing and the "unknown attack 'cw' (expected one of …)" error are
//! written once, here, as are the typed, serde-checked settings entries take.
//!
//! ```
//! use robustdx_core::attack::ATTACKS;
//!
//! let pgd = ATTACKS.get("PGD").unwrap();
//! assert!(pgd.stepwise && !pgd.needs_generator);
//! let unknown = ATTACKS.get("cw").err().unwrap().to_string();
//! assert!(unknown.contains("unknown attack 'cw' (expected one of fgsm, pgd"));
//! ```

mod settings;

pub use settings::{
    NoSettings, Settings, applicable, assignment_key, canonical_settings, describe_settings,
    parse_assignments, typed_settings,
};

use crate::{Error, Result};

/// What every registered thing says about itself.
pub trait Entry: Sync + 'static {
    /// The name users type and results store.
    fn name(&self) -> &'static str;
    /// One line for help texts, listings and the page.
    fn about(&self) -> &'static str;
    /// Older names that still find the entry (results keep the current name).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// Raised when the entry's numbers change for the same settings (a fixed bug, another
    /// formula), so results of the old code are recomputed rather than reused; part of every
    /// result's identity.
    fn revision(&self) -> u32 {
        0
    }
}

/// Whether a spec's revision is the first, which files leave out (serde's
/// `skip_serializing_if`), so that files written before revisions existed stay identical.
pub(crate) fn is_first_revision(revision: &u32) -> bool {
    *revision == 0
}

/// A kind's entries, in the order listings show them.
pub struct Registry<T: 'static> {
    kind: &'static str,
    entries: &'static [T],
}

// Not derived: a derive would ask `T: Copy`, and the registry only holds a reference.
impl<T> Clone for Registry<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Registry<T> {}

/// Whether `typed` names `name`: case, surrounding spaces and `-` versus `_` do not matter
/// (`PGD-AT`, `pgd_at`, ` gaussian-noise`).
fn same_name(typed: &str, name: &str) -> bool {
    let normal = |s: &str| s.trim().to_ascii_lowercase().replace('_', "-");
    normal(typed) == normal(name)
}

impl<T: Entry> Registry<T> {
    /// The registry of `kind` ("attack", "defense", …: the word its errors use).
    pub const fn new(kind: &'static str, entries: &'static [T]) -> Self {
        Self { kind, entries }
    }

    /// The word for one entry ("attack").
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Every entry's name, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(Entry::name).collect()
    }

    /// The entry called `name` (or one of its aliases), or an error listing the names there
    /// are.
    pub fn get(&self, name: &str) -> Result<&'static T> {
        self.entries
            .iter()
            .find(|e| same_name(name, e.name()) || e.aliases().iter().any(|a| same_name(name, a)))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown {} '{}' (expected one of {})",
                    self.kind,
                    name.trim(),
                    self.names().join(", ")
                ))
            })
    }

    /// The entries named in `names` (all of them for an empty list), in registry order, each
    /// once; an unknown name is an error.
    pub fn select(&self, names: &[String]) -> Result<Vec<&'static T>> {
        let wanted = names
            .iter()
            .map(|n| self.get(n).map(Entry::name))
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .entries
            .iter()
            .filter(|e| wanted.is_empty() || wanted.contains(&e.name()))
            .collect())
    }
}

impl<T> std::ops::Deref for Registry<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.entries
    }
}

impl<T> IntoIterator for Registry<T> {
    type Item = &'static T;
    type IntoIter = std::slice::Iter<'static, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// Declares a kind's registry: the entries every build has, then (after `test:`) throwaway
/// entries that only the core's own tests register, to prove a new entry needs nothing but its
/// file and its line.
macro_rules! registry {
    (
        $(#[$meta:meta])*
        $vis:vis static $name:ident: Registry<$entry:ty> = $kind:literal [$($item:expr),+ $(,)?]
        $(test: [$($test_item:expr),* $(,)?])?
    ) => {
        $(#[$meta])*
        #[cfg(not(test))]
        $vis static $name: $crate::registry::Registry<$entry> =
            $crate::registry::Registry::new($kind, &[$($item),+]);
        $(#[$meta])*
        #[cfg(test)]
        $vis static $name: $crate::registry::Registry<$entry> =
            $crate::registry::Registry::new($kind, &[$($item,)+ $($($test_item),*)?]);
    };
}
pub(crate) use registry;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Thing(&'static str);

    impl Entry for Thing {
        fn name(&self) -> &'static str {
            self.0
        }
        fn about(&self) -> &'static str {
            "a thing"
        }
        fn aliases(&self) -> &'static [&'static str] {
            if self.0 == "pgd-at" { &["madry"] } else { &[] }
        }
    }

    static THINGS: Registry<Thing> = Registry::new("thing", &[Thing("pgd-at"), Thing("mart")]);

    #[test]
    fn lookup_forgives_case_spaces_and_dashes_and_knows_aliases() {
        for typed in ["pgd-at", "PGD_AT", " pgd-at ", "madry"] {
            assert_eq!(THINGS.get(typed).unwrap().name(), "pgd-at", "{typed}");
        }
        let err = THINGS.get("trades").unwrap_err().to_string();
        assert_eq!(err, "unknown thing 'trades' (expected one of pgd-at, mart)");
    }

    #[test]
    fn select_keeps_registry_order_and_takes_each_once() {
        let names = |typed: &[&str]| {
            let typed: Vec<String> = typed.iter().map(|s| s.to_string()).collect();
            THINGS
                .select(&typed)
                .map(|v| v.iter().map(|t| t.name()).collect::<Vec<_>>())
        };
        assert_eq!(
            names(&["mart", "pgd-at", "mart"]).unwrap(),
            ["pgd-at", "mart"]
        );
        assert_eq!(names(&[]).unwrap(), ["pgd-at", "mart"]);
        assert!(names(&["mart", "cw"]).is_err());
        assert_eq!(THINGS.len(), 2);
        assert_eq!(THINGS.into_iter().count(), 2);
    }
}
