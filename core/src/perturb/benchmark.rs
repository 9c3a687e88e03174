//! Running the Robust-Benchmark over a split (or a shard of it), kind by kind: every image's
//! frames are made on the host, keyed by (seed, image index), and the model sees all frames of a
//! batch of images in one forward pass. The kinds are the units of a [run](crate::run): a resumed
//! benchmark reuses the kinds whose identity matches and the shards of one benchmark merge, as the
//! attack sweep's cells do.

use std::ops::Range;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{FlipProbability, FlipVariant, Perturbation, SequenceKey, model_frames, perturbation};
use crate::data::Dataset;
use crate::metrics::{self, Predictions};
use crate::model::DiagnosticModel;
use crate::report::{BenchmarkIdentity, BenchmarkReport, KindResult, ToolInfo};
use crate::robustness::{Shard, decision};
use crate::run::{Events, Identity, Indexed, Merge, RunReport, Unit, run_units};
use crate::{Error, Label, Result, TaskKind};

/// One image's sequence under one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceRecord {
    /// Position in the split (the whole split, also in a shard).
    pub index: usize,
    /// Its file, or its index for generated images.
    pub id: String,
    /// Its ground truth.
    pub label: Label,
    /// The model's probabilities on each frame, frame 0 first.
    pub probs: Vec<Vec<f32>>,
}

/// A kind's numbers from its records (in index order): both Flip Probabilities and the scores
/// on the last frame. The same function serves a run, a resumed run and merged shards.
pub fn kind_result(
    task: TaskKind,
    class_names: &[String],
    identity: BenchmarkIdentity,
    records: Vec<SequenceRecord>,
) -> Result<KindResult> {
    let kind = perturbation(&identity.perturbation)?;
    let reference = kind.reference();
    let decisions: Vec<Vec<_>> = records
        .iter()
        .map(|r| r.probs.iter().map(|p| decision(task, p)).collect())
        .collect();
    let fp = |variant| FlipProbability::new(reference, variant).over(&decisions);
    let last_frame = metrics::evaluate(&Predictions {
        task,
        class_names: class_names.to_vec(),
        probs: records
            .iter()
            .map(|r| r.probs.last().cloned().unwrap_or_default())
            .collect(),
        labels: records.iter().map(|r| r.label.clone()).collect(),
    })?;
    Ok(KindResult {
        perturbation: kind.name().into(),
        reference,
        flip_probability: fp(FlipVariant::Normalized),
        flip_probability_paper: fp(FlipVariant::Paper),
        identity,
        robustdx_version: Some(ToolInfo::this().version),
        last_frame,
        records,
    })
}

/// One benchmark's fixed parts.
pub struct RobustBenchmark<'a> {
    /// The model under test.
    pub model: &'a DiagnosticModel,
    /// The whole split; `shard` picks the images.
    pub data: &'a dyn Dataset,
    /// This process's share of the images; `None`: all of them.
    pub shard: Option<Shard>,
    /// Images per forward pass (each with all its frames).
    pub batch_size: usize,
    /// Where the model runs.
    pub device: &'a Device,
}

impl RobustBenchmark<'_> {
    fn range(&self) -> Range<usize> {
        self.shard
            .map_or(0..self.data.len(), |s| s.range(self.data.len()))
    }

    /// Every image of the range under `kind`.
    fn records(
        &self,
        kind: &dyn Perturbation,
        frames: usize,
        seed: u64,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<SequenceRecord>> {
        if !(2..=super::MAX_FRAMES).contains(&frames) {
            return Err(Error::invalid(format!(
                "--frames {frames}: a sequence has 2 to {} frames",
                super::MAX_FRAMES
            )));
        }
        let range = self.range();
        let total = range.len();
        let indices: Vec<usize> = range.collect();
        let mut records = Vec::with_capacity(total);
        for batch in indices.chunks(self.batch_size.max(1)) {
            let mut all_frames = Vec::with_capacity(batch.len() * frames);
            let mut heads = Vec::with_capacity(batch.len());
            for &index in batch {
                let sample = self.data.get(index)?;
                all_frames.extend(model_frames(
                    &self.model.card.input,
                    sample.image,
                    kind,
                    frames,
                    SequenceKey::new(seed, index as u64),
                ));
                heads.push((index, self.data.id(index), sample.label));
            }
            let probs = self.model.predict_images(all_frames, self.device)?;
            for ((index, id, label), probs) in heads.into_iter().zip(probs.chunks(frames)) {
                records.push(SequenceRecord {
                    index,
                    id,
                    label,
                    probs: probs.to_vec(),
                });
            }
            progress(records.len(), total);
        }
        Ok(records)
    }

    /// Runs the kinds `identities` into `report` (whose header the shell filled in), reusing what
    /// `previous` holds.
    pub fn run(
        &self,
        identities: &[BenchmarkIdentity],
        previous: &[KindResult],
        mut report: BenchmarkReport,
        events: &mut dyn Events<BenchmarkReport>,
    ) -> Result<BenchmarkReport> {
        if report.data.shard != self.shard {
            return Err(Error::invalid("the report's shard is not the benchmark's"));
        }
        let card = &self.model.card;
        run_units(&mut report, identities, previous, events, |id, progress| {
            let kind = perturbation(&id.perturbation)?;
            let records = self.records(kind, id.frames, id.subject.seed, progress)?;
            kind_result(card.task, &card.class_names, id.clone(), records)
        })?;
        Ok(report)
    }
}

impl Identity for BenchmarkIdentity {
    fn label(&self) -> String {
        self.perturbation.clone()
    }

    fn differences(&self, now: &Self) -> Vec<String> {
        BenchmarkIdentity::differences(self, now)
    }
}

impl Unit for KindResult {
    type Identity = BenchmarkIdentity;

    fn identity(&self) -> Option<&BenchmarkIdentity> {
        Some(&self.identity)
    }

    fn same_slot(&self, id: &BenchmarkIdentity) -> bool {
        self.perturbation == id.perturbation
    }
}

impl RunReport for BenchmarkReport {
    type Unit = KindResult;

    fn shard(&self) -> Option<Shard> {
        self.data.shard
    }

    fn units(&self) -> &[KindResult] {
        &self.results
    }

    fn clear_units(&mut self) {
        self.results.clear();
    }

    fn push_unit(&mut self, unit: KindResult) {
        self.results.push(unit);
    }

    fn to_json(&self) -> String {
        BenchmarkReport::to_json(self)
    }

    fn from_json(text: &str, file: &str) -> Result<Self> {
        BenchmarkReport::from_json(text, file)
    }
}

impl Indexed for SequenceRecord {
    fn index(&self) -> usize {
        self.index
    }
}

/// A benchmark's shards join kind by kind, the Flip Probabilities and last-frame scores
/// recomputed from all images' sequences.
impl Merge for BenchmarkReport {
    type Record = SequenceRecord;

    fn covered(&self) -> usize {
        self.data.samples
    }

    /// The kinds' identities name the model and data; the split's size must agree too.
    fn other_run(&self, first: &Self) -> Option<String> {
        (self.data.samples != first.data.samples).then(|| "another data set".into())
    }

    fn records(unit: &KindResult) -> &[SequenceRecord] {
        &unit.records
    }

    fn remake(&self, parts: &[&KindResult], records: Vec<SequenceRecord>) -> Result<KindResult> {
        let mut whole = kind_result(
            self.model.task,
            &self.model.class_names,
            parts[0].identity.clone(),
            records,
        )?;
        // The version that computed the records, as a sweep's merge keeps it.
        whole.robustdx_version = parts[0].robustdx_version.clone();
        Ok(whole)
    }

    fn make_whole(&mut self) {
        self.data.shard = None;
    }
}
