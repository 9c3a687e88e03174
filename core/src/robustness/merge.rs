//! Joins the shards of one sweep into the result a single run writes: the same cells, every
//! image's record once, the metrics recomputed from the records.

use std::collections::BTreeMap;

use super::identity::Shard;
use super::record::{ImageRecord, summarize};
use super::sanity::check_attacks;
use crate::report::AttackReport;
use crate::{Error, Result};

/// Checks that `shards` (file name, the part of the split it covers) are the parts of one run:
/// each a shard, all of one count, each once and none missing. Returns the count.
pub(crate) fn check_shard_set(shards: &[(&str, Option<Shard>)]) -> Result<usize> {
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
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "shard{} {} missing",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    Ok(count)
}

/// Whether sorted record `indices` are exactly 0..`samples`, each once.
pub(crate) fn covers_exactly(
    indices: impl ExactSizeIterator<Item = usize>,
    samples: usize,
) -> bool {
    indices.len() == samples && indices.enumerate().all(|(i, index)| index == i)
}

/// `shards`: (file name for messages, its report). Errors name the file or shard at fault.
pub fn merge_shards(shards: Vec<(String, AttackReport)>) -> Result<AttackReport> {
    check_shard_set(
        &shards
            .iter()
            .map(|(name, r)| (name.as_str(), r.data.shard))
            .collect::<Vec<_>>(),
    )?;
    // check_shard_set refuses an empty set.
    let (first_name, first) = &shards[0];
    for (name, report) in &shards {
        let same_sweep = report.model.sha256 == first.model.sha256
            && report.data.name == first.data.name
            && report.data.split == first.data.split
            && report.data.samples == first.data.samples;
        if !same_sweep {
            return Err(Error::format(
                name,
                format!("another model or data set than {first_name}"),
            ));
        }
        if report.results.len() != first.results.len() {
            return Err(Error::format(
                name,
                format!(
                    "{} results, {first_name} has {}: a shard is unfinished (resume it)",
                    report.results.len(),
                    first.results.len()
                ),
            ));
        }
        for (r, f) in report.results.iter().zip(&first.results) {
            if r.identity.is_none() || r.identity != f.identity {
                return Err(Error::format(
                    name,
                    format!(
                        "its {} ε={} cell was made with other settings than {first_name}'s",
                        r.attack, r.eps
                    ),
                ));
            }
        }
    }
    let mut merged = first.clone();
    merged.data.shard = None;
    merged.records_file = None;
    let model = &first.model;
    for (cell, result) in merged.results.iter_mut().enumerate() {
        let mut records: Vec<ImageRecord> = shards
            .iter()
            .flat_map(|(_, r)| r.results[cell].records.iter().cloned())
            .collect();
        records.sort_by_key(|r| r.index);
        if !covers_exactly(records.iter().map(|r| r.index), first.data.samples) {
            return Err(Error::invalid(format!(
                "the {} ε={} records of the shards do not cover images 0..{} exactly once",
                result.attack, result.eps, first.data.samples
            )));
        }
        let goal = result.identity.as_ref().expect("checked").attack.goal;
        result.metrics = summarize(model.task, &model.class_names, goal, &records)?;
        result.records = records;
    }
    // The model checks look at the split's first images in every shard; the attack check
    // compares the merged cells.
    merged
        .sanity
        .retain(|f| f.check != super::SanityCheck::WeakerAttackStronger);
    merged.sanity.extend(check_attacks(&merged.results));
    Ok(merged)
}
