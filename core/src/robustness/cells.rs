//! A sweep's cells as the units of a [run](crate::run): identified by their attack spec, model,
//! data and seed, resumed cell by cell, and joined from shards by their per-image records with
//! the metrics recomputed — the same cells, records, metrics and flags a single run gives.

use super::identity::{ResultIdentity, Shard};
use super::record::{ImageRecord, summarize};
use super::sanity::check_attacks;
use crate::report::{AttackReport, AttackResult};
use crate::run::{Identity, Indexed, Merge, RunReport, Unit};
use crate::{Error, Result};

impl Identity for ResultIdentity {
    fn label(&self) -> String {
        self.attack.describe()
    }

    fn differences(&self, now: &Self) -> Vec<String> {
        ResultIdentity::differences(self, now)
    }
}

impl Unit for AttackResult {
    type Identity = ResultIdentity;

    fn identity(&self) -> Option<&ResultIdentity> {
        self.identity.as_ref()
    }

    fn same_slot(&self, id: &ResultIdentity) -> bool {
        self.attack == id.attack.attack && self.eps == id.attack.eps
    }
}

impl RunReport for AttackReport {
    type Unit = AttackResult;

    fn shard(&self) -> Option<Shard> {
        self.data.shard
    }

    fn units(&self) -> &[AttackResult] {
        &self.results
    }

    fn clear_units(&mut self) {
        self.results.clear();
    }

    fn push_unit(&mut self, unit: AttackResult) {
        self.results.push(unit);
    }

    /// The model's flags stay; the attack check compares the cells so far.
    fn units_changed(&mut self) {
        self.sanity.retain(|f| !f.check.compares_cells());
        self.sanity.extend(check_attacks(&self.results));
    }

    fn to_json(&self) -> String {
        AttackReport::to_json(self)
    }

    fn from_json(text: &str, file: &str) -> Result<Self> {
        AttackReport::from_json(text, file)
    }
}

impl Indexed for ImageRecord {
    fn index(&self) -> usize {
        self.index
    }
}

impl Merge for AttackReport {
    type Record = ImageRecord;

    fn covered(&self) -> usize {
        self.data.samples
    }

    fn other_run(&self, first: &Self) -> Option<String> {
        let same_sweep = self.model.sha256 == first.model.sha256
            && self.data.name == first.data.name
            && self.data.split == first.data.split
            && self.data.samples == first.data.samples;
        (!same_sweep).then(|| "another model or data set".into())
    }

    fn records(unit: &AttackResult) -> &[ImageRecord] {
        &unit.records
    }

    fn remake(&self, parts: &[&AttackResult], records: Vec<ImageRecord>) -> Result<AttackResult> {
        let mut cell = parts[0].clone();
        let goal = cell
            .identity
            .as_ref()
            .ok_or_else(|| Error::invalid("a cell without an identity cannot be merged"))?
            .attack
            .goal;
        // A suite's members, in running order, are the rows of every part's contribution table.
        let members: Vec<String> = (cell.metrics.contributions.iter())
            .map(|c| c.attack.clone())
            .collect();
        cell.metrics = summarize(
            self.model.task,
            &self.model.class_names,
            goal,
            &members,
            &records,
        )?;
        cell.records = records;
        Ok(cell)
    }

    /// The model checks look at the split's first images in every shard: the first shard's
    /// flags stand for the whole.
    fn make_whole(&mut self) {
        self.data.shard = None;
        self.records_file = None;
    }
}
