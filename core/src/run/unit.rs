//! What a run is made of: units with identities, and the report file that holds them.

use crate::Result;
use crate::robustness::Shard;

/// Everything that decides one unit's numbers (settings, model file hash, the data read, seed
/// …). A resumed run reuses a recorded unit only when its identity equals the one asked for.
pub trait Identity: Clone + PartialEq {
    /// The unit's name in progress lines and messages: "pgd ε=4/255", "rotate".
    fn label(&self) -> String;
    /// What differs between `self` (recorded) and `now`, in words ("steps 2 → 3", "seed 0 →
    /// 1"), for "recomputed because …".
    fn differences(&self, now: &Self) -> Vec<String>;
}

/// One unit's recorded result.
pub trait Unit: Clone {
    /// What decides this unit's numbers.
    type Identity: Identity;
    /// `None`: recorded by a robustdx that wrote no identities; such a result is never reused.
    fn identity(&self) -> Option<&Self::Identity>;
    /// Whether this result fills the place `id` asks for (the same attack and ε, the same
    /// perturbation kind) whatever its settings: when it does not match, its differences say
    /// why the unit is recomputed.
    fn same_slot(&self, id: &Self::Identity) -> bool;
}

/// A run's result file: a header (model, data, shard) and its units in run order.
pub trait RunReport: Clone {
    /// The kind of unit the report holds.
    type Unit: Unit;
    /// The part of the split the file covers; `None`: all of it.
    fn shard(&self) -> Option<Shard>;
    /// The finished units, in run order.
    fn units(&self) -> &[Self::Unit];
    /// Forgets the units, before a run adds them again in its order.
    fn clear_units(&mut self);
    /// Adds a finished unit (a report of one unit, an analysis, holds the last one added).
    fn push_unit(&mut self, unit: Self::Unit);
    /// Brings up to date what the report computes across units (the sweep's "a weaker attack
    /// beat a stronger one" flag), after each unit and after a merge.
    fn units_changed(&mut self) {}
    /// Pretty-printed JSON, the form result files take.
    fn to_json(&self) -> String;
    /// Parses a file's text, checking its schema version; `file` names it in errors.
    fn from_json(text: &str, file: &str) -> Result<Self>;
}
