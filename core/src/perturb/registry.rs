//! The one list of perturbation kinds, in the seed's order.

use super::{PERTURBATIONS, Perturbation};
use crate::Result;
use crate::registry::Entry;

/// Declares the perturbation modules and their registry (in `perturb/mod.rs`): each module with
/// the kinds it defines; entries after `test:` only the core's own tests register.
macro_rules! declare_perturbations {
    (
        $($module:ident: [$($kind:ident),+]),+ ;
        test: $($test_module:ident: [$($test_kind:ident),+]),*
    ) => {
        $(mod $module;)+
        $(#[cfg(test)] mod $test_module;)*
        $crate::registry::registry! {
            /// Every kind, in the seed's order.
            pub static PERTURBATIONS: Registry<&'static dyn $crate::perturb::Perturbation> =
                "perturbation"
                [$($(&$module::$kind),+),+] test: [$($(&$test_module::$test_kind),+),*]
        }
    };
}
pub(super) use declare_perturbations;

impl Entry for &'static dyn Perturbation {
    fn name(&self) -> &'static str {
        Perturbation::name(*self)
    }
    fn about(&self) -> &'static str {
        Perturbation::about(*self)
    }
    fn revision(&self) -> u32 {
        Perturbation::revision(*self)
    }
}

/// The kind called `name` (`-` and `_` alike); the error lists them all.
pub fn perturbation(name: &str) -> Result<&'static dyn Perturbation> {
    PERTURBATIONS.get(name).copied()
}

/// The kinds named in `names` (for an empty list, those a benchmark runs by default), in
/// registry order, each once.
pub fn perturbations(names: &[String]) -> Result<Vec<&'static dyn Perturbation>> {
    Ok(PERTURBATIONS
        .select(names)?
        .into_iter()
        .copied()
        .filter(|kind| !names.is_empty() || kind.by_default())
        .collect())
}
