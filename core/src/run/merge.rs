//! Joins the shards of one run into the result a single run writes: the same units, every
//! image's record once, in index order, and each unit's numbers recomputed from its records by
//! the kind's own function (the one a single run uses).

use std::collections::BTreeMap;

use super::unit::{Identity, RunReport, Unit};
use crate::robustness::Shard;
use crate::{Error, Result};

/// A per-image record: where its image sits in the split.
pub trait Indexed {
    /// The image's position in the whole split (not in its shard).
    fn index(&self) -> usize;
}

/// A run whose units keep per-image records, so that its shards can be joined.
pub trait Merge: RunReport {
    /// The per-image record its units keep.
    type Record: Indexed + Clone;
    /// The images the whole run covers: all shards' records together are exactly 0..this.
    fn covered(&self) -> usize;
    /// Why `self` is not a shard of the same run as `first` ("another model or data set"), if
    /// it is not. Units are compared by identity apart from this.
    fn other_run(&self, first: &Self) -> Option<String>;
    /// The per-image records of `unit`.
    fn records(unit: &Self::Unit) -> &[Self::Record];
    /// One unit of the whole run from its parts (the unit in each shard, in the order the
    /// shards were given) and all their `records`, in index order: the numbers recomputed.
    fn remake(&self, parts: &[&Self::Unit], records: Vec<Self::Record>) -> Result<Self::Unit>;
    /// Turns a shard's header into the whole run's (no shard; nothing exported beside it).
    fn make_whole(&mut self);
}

/// Checks that `shards` (file name, the part of the split it covers) are the parts of one run:
/// each a shard, all of one count, each once and none missing. Returns the count.
fn check_shard_set(shards: &[(&str, Option<Shard>)]) -> Result<usize> {
    let Some(&(first_name, _)) = shards.first() else {
        return Err(Error::invalid("merge needs at least one shard"));
    };
    let shard_of = |name: &str, shard: Option<Shard>| {
        shard.ok_or_else(|| {
            Error::format(
                name,
                "not a shard (written without --shard): nothing to merge",
            )
        })
    };
    let count = shard_of(first_name, shards[0].1)?.count;
    let mut by_index: BTreeMap<usize, &str> = BTreeMap::new();
    for &(name, shard) in shards {
        let shard = shard_of(name, shard)?;
        if !shard.is_valid() {
            return Err(Error::format(
                name,
                format!(
                    "shard {shard}: not a part of a run (0 ≤ i < n ≤ {})",
                    Shard::MAX_COUNT
                ),
            ));
        }
        if shard.count != count {
            return Err(Error::format(
                name,
                format!(
                    "shard {shard} belongs to a run of {} shards, {first_name} to one of {count}",
                    shard.count
                ),
            ));
        }
        if let Some(other) = by_index.insert(shard.index, name) {
            return Err(Error::format(
                name,
                format!("shard {shard} is given twice (also {other})"),
            ));
        }
    }
    // The shards given are distinct and within the count, so `count - given` are missing; the
    // first few are named (found within the first `given + 12` indices, whatever the count).
    let missing_count = count - by_index.len();
    if missing_count > 0 {
        let named: Vec<String> = (0..count)
            .filter(|i| !by_index.contains_key(i))
            .take(12)
            .map(|i| format!("{i}/{count}"))
            .collect();
        let more = missing_count - named.len();
        return Err(Error::invalid(format!(
            "shard{} {}{} missing",
            if missing_count > 1 { "s" } else { "" },
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )));
    }
    Ok(count)
}

/// Whether sorted record `indices` are exactly 0..`samples`, each once.
fn covers_exactly(indices: impl ExactSizeIterator<Item = usize>, samples: usize) -> bool {
    indices.len() == samples && indices.enumerate().all(|(i, index)| index == i)
}

/// The unit's name for messages: its identity's label, or its position.
fn label<U: Unit>(unit: &U, position: usize) -> String {
    unit.identity()
        .map_or_else(|| format!("unit {}", position + 1), Identity::label)
}

/// `shards`: (file name for messages, its report). Errors name the file or shard at fault.
pub fn merge<R: Merge>(shards: Vec<(String, R)>) -> Result<R> {
    check_shard_set(
        &shards
            .iter()
            .map(|(name, r)| (name.as_str(), r.shard()))
            .collect::<Vec<_>>(),
    )?;
    // check_shard_set refuses an empty set.
    let (first_name, first) = &shards[0];
    for (name, report) in &shards {
        if let Some(why) = report.other_run(first) {
            return Err(Error::format(name, format!("{why} than {first_name}")));
        }
        let (units, first_units) = (report.units(), first.units());
        if units.len() != first_units.len() {
            return Err(Error::format(
                name,
                format!(
                    "{} results, {first_name} has {}: a shard is unfinished (resume it)",
                    units.len(),
                    first_units.len()
                ),
            ));
        }
        for (k, (u, f)) in units.iter().zip(first_units).enumerate() {
            // Other settings, data (its fingerprint), model or code revision: not one run.
            let why = match (f.identity(), u.identity()) {
                (Some(f), Some(u)) if f == u => continue,
                (Some(f), Some(u)) => f.differences(u).join(", "),
                _ => "recorded without an identity, by an older robustdx".into(),
            };
            return Err(Error::format(
                name,
                format!(
                    "its {} was made with other settings than {first_name}'s ({why})",
                    label(u, k)
                ),
            ));
        }
    }
    let covered = first.covered();
    let mut merged = first.clone();
    merged.make_whole();
    merged.clear_units();
    for (k, unit) in first.units().iter().enumerate() {
        let parts: Vec<&R::Unit> = shards.iter().map(|(_, r)| &r.units()[k]).collect();
        let mut records: Vec<R::Record> = parts
            .iter()
            .flat_map(|u| R::records(u).iter().cloned())
            .collect();
        records.sort_by_key(Indexed::index);
        if !covers_exactly(records.iter().map(Indexed::index), covered) {
            return Err(Error::invalid(format!(
                "the {} records of the shards do not cover images 0..{covered} exactly once",
                label(unit, k)
            )));
        }
        let whole = first.remake(&parts, records)?;
        merged.push_unit(whole);
    }
    merged.units_changed();
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard file claiming a run of 10¹² parts (or an index past its count) is named, and the
    /// missing ones are listed without walking the count.
    #[test]
    fn absurd_shard_counts_are_refused_without_walking_them() {
        let shard = |index, count| Some(Shard { index, count });
        let e = check_shard_set(&[("a.json", shard(0, 1_000_000_000_000))])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("a.json:") && e.contains("not a part of a run"),
            "{e}"
        );
        let e = check_shard_set(&[("a.json", shard(7, 3))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("shard 7/3"), "{e}");
        let e = check_shard_set(&[
            ("a.json", shard(1, 1_000_000)),
            ("b.json", shard(3, 1_000_000)),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("shards 0/1000000, 2/1000000, 4/1000000")
                && e.contains("and 999986 more missing"),
            "{e}"
        );
        assert_eq!(
            check_shard_set(&[("b", shard(1, 2)), ("a", shard(0, 2))]).unwrap(),
            2
        );
    }
}
