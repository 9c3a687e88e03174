//! Running the Robust-Benchmark over a split (or a shard of it), kind by kind: every image's
//! frames are made on the host, keyed by (seed, image index), and the model sees all frames of a
//! batch of images in one forward pass. Which kinds a resumed run reuses is decided here, from
//! their identities, as the attack sweep does.

use std::ops::Range;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{FlipProbability, FlipVariant, Perturbation, SequenceKey, perturbation};
use crate::data::{Dataset, Image};
use crate::metrics::{self, Predictions};
use crate::model::{DiagnosticModel, InputSpec};
use crate::report::{BenchmarkIdentity, BenchmarkReport, KindResult};
use crate::robustness::{Shard, check_shard_set, covers_exactly, decision};
use crate::{Error, Label, Result, TaskKind};

/// One image's sequence under one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceRecord {
    /// Position in the split (the whole split, also in a shard).
    pub index: usize,
    /// Its file, or its index for generated images.
    pub id: String,
    pub label: Label,
    /// The model's probabilities on each frame, frame 0 first.
    pub probs: Vec<Vec<f32>>,
}

/// What a run does with one kind.
#[derive(Debug, Clone, PartialEq)]
pub enum KindPlan {
    /// The previous run holds this exact result.
    Reuse(Box<KindResult>),
    /// Compute it; `because` says why an earlier result of the same kind does not do.
    Run { because: Option<String> },
}

/// Decides each kind's fate from what `previous` holds.
pub fn plan_kinds(identities: &[BenchmarkIdentity], previous: &[KindResult]) -> Vec<KindPlan> {
    identities
        .iter()
        .map(|id| {
            if let Some(r) = previous.iter().find(|r| &r.identity == id) {
                return KindPlan::Reuse(Box::new(r.clone()));
            }
            let because = previous
                .iter()
                .find(|r| r.perturbation == id.perturbation)
                .map(|r| r.identity.differences(id).join(", "));
            KindPlan::Run { because }
        })
        .collect()
}

/// What a running benchmark tells its shell.
pub trait BenchmarkEvents {
    fn kind_start(&mut self, kind: &str, plan: &KindPlan);
    /// `done` of `total` images of the current kind.
    fn progress(&mut self, done: usize, total: usize);
    /// The report after each kind: the shell writes it, so a killed run loses one kind at most.
    fn kind_done(&mut self, report: &BenchmarkReport) -> Result<()>;
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
        last_frame,
        records,
    })
}

/// The frames of `image`'s sequence as the model sees them: the image brought to the model's
/// input (channels, size) first, then perturbed at that size.
pub fn model_frames(
    input: &InputSpec,
    image: Image,
    kind: &dyn Perturbation,
    frames: usize,
    key: SequenceKey,
) -> Vec<Image> {
    kind.sequence(&input.prepare(image), frames, key)
}

/// One benchmark's fixed parts.
pub struct RobustBenchmark<'a> {
    pub model: &'a DiagnosticModel,
    /// The whole split; `shard` picks the images.
    pub data: &'a dyn Dataset,
    pub shard: Option<Shard>,
    /// Images per forward pass (each with all its frames).
    pub batch_size: usize,
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
        events: &mut dyn BenchmarkEvents,
    ) -> Result<BenchmarkReport> {
        if report.data.shard != self.shard {
            return Err(Error::invalid("the report's shard is not the benchmark's"));
        }
        let card = &self.model.card;
        report.results.clear();
        for (id, plan) in identities.iter().zip(plan_kinds(identities, previous)) {
            let kind = perturbation(&id.perturbation)?;
            events.kind_start(kind.name(), &plan);
            let result = match plan {
                KindPlan::Reuse(result) => *result,
                KindPlan::Run { .. } => {
                    let records = self.records(kind, id.frames, id.seed, &mut |done, total| {
                        events.progress(done, total)
                    })?;
                    kind_result(card.task, &card.class_names, id.clone(), records)?
                }
            };
            report.results.push(result);
            events.kind_done(&report)?;
        }
        Ok(report)
    }
}

/// Joins the shards of one benchmark into the result a single run writes. `shards`: (file name
/// for messages, its report).
pub fn merge_benchmark_shards(shards: Vec<(String, BenchmarkReport)>) -> Result<BenchmarkReport> {
    check_shard_set(
        &shards
            .iter()
            .map(|(name, r)| (name.as_str(), r.data.shard))
            .collect::<Vec<_>>(),
    )?;
    // check_shard_set refuses an empty set.
    let (first_name, first) = &shards[0];
    for (name, report) in &shards {
        let kinds = |r: &BenchmarkReport| {
            r.results
                .iter()
                .map(|k| k.identity.clone())
                .collect::<Vec<_>>()
        };
        if kinds(report) != kinds(first) || report.data.samples != first.data.samples {
            return Err(Error::format(
                name,
                format!(
                    "other kinds, settings, model or data than {first_name} (or an unfinished shard: resume it)"
                ),
            ));
        }
    }
    let mut merged = first.clone();
    merged.data.shard = None;
    for (k, result) in merged.results.iter_mut().enumerate() {
        let mut records: Vec<SequenceRecord> = shards
            .iter()
            .flat_map(|(_, r)| r.results[k].records.iter().cloned())
            .collect();
        records.sort_by_key(|r| r.index);
        if !covers_exactly(records.iter().map(|r| r.index), first.data.samples) {
            return Err(Error::invalid(format!(
                "the {} records of the shards do not cover images 0..{} exactly once",
                result.perturbation, first.data.samples
            )));
        }
        *result = kind_result(
            first.model.task,
            &first.model.class_names,
            result.identity.clone(),
            records,
        )?;
    }
    Ok(merged)
}
