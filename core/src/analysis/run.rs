//! One analysis of a model under one attack over the first images of a split: feature shift per
//! stage, class separation of the penultimate feature clean and adversarial, label correlation
//! (multi-label), and Grad-CAM before and after for the first few images.
//!
//! An analysis is the one unit of a [run](crate::run): a resumed analysis with the same identity
//! is reused whole. Every finding is computed from per-image [`AnalysisRecord`]s by
//! [`findings`], so an analysis also runs in shards: the whole-split statistics (class
//! separation, the t-SNE map, label correlation) need every image's feature and decisions, so a
//! shard's file keeps its records — penultimate features included — and `merge` recomputes the
//! findings from all shards' records, equal to a single run's.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::ANALYSES;
use super::feature_shift::{Stages, stage_ratios};
use super::tsne::TsneMap;
use super::{CamTarget, LabelCorrelation, StageShift, fisher_ratio, grad_cam, silhouette};
use crate::attack::{Attack, AttackContext, AttackSpec, AttackedModel, SampleKeys};
use crate::data::{BatchLoader, Dataset, Image, images_to_tensor};
use crate::model::DiagnosticModel;
use crate::report::{AnalysisReport, ToolInfo};
use crate::robustness::{Decision, Shard, Subject, attack_differences, decision};
use crate::run::{Events, Identity, Indexed, Merge, Plan, RunReport, Unit, plan};
use crate::{Error, Label, Result, TaskKind, readback};

/// Everything that decides an analysis's findings; `--resume` reuses an analysis only when all
/// of it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisIdentity {
    /// The attack making the adversarial images.
    pub attack: AttackSpec,
    /// The model, the data and the seed that keys the attack's random draws per image and the
    /// t-SNE start; flattened, the keys files have always had.
    #[serde(flatten)]
    pub subject: Subject,
    /// The first `limit` images of the split are analysed.
    pub limit: usize,
    /// Grad-CAM before and after for the first `shown` of them.
    pub shown: usize,
    /// The [revision](crate::registry::Entry::revision) of each analysis whose revision is not 0
    /// (absent while none is): the analyses have no settings, their code decides their numbers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revisions: BTreeMap<String, u32>,
}

impl AnalysisIdentity {
    /// The analysis of the first `limit` images of `subject` under `attack`, with Grad-CAM for
    /// the first `shown`, by the analyses' current revisions.
    pub fn new(attack: AttackSpec, subject: Subject, limit: usize, shown: usize) -> Self {
        Self {
            attack,
            subject,
            limit,
            shown,
            revisions: ANALYSES
                .iter()
                .filter(|a| a.revision > 0)
                .map(|a| (a.name.to_string(), a.revision))
                .collect(),
        }
    }
}

impl Identity for AnalysisIdentity {
    fn label(&self) -> String {
        format!("analysis under {}", self.attack.describe())
    }

    fn differences(&self, now: &Self) -> Vec<String> {
        let mut out = attack_differences(&self.attack, &now.attack);
        for (what, was, is) in [
            ("limit", self.limit, now.limit),
            ("shown", self.shown, now.shown),
        ] {
            if was != is {
                out.push(format!("{what} {was} → {is}"));
            }
        }
        let analyses: BTreeSet<&String> =
            self.revisions.keys().chain(now.revisions.keys()).collect();
        for name in analyses {
            let revision = |r: &BTreeMap<String, u32>| r.get(name).copied().unwrap_or(0);
            let (was, is) = (revision(&self.revisions), revision(&now.revisions));
            if was != is {
                out.push(format!("revision of {name} {was} → {is}"));
            }
        }
        out.extend(self.subject.differences(&now.subject));
        out
    }
}

/// What one analysed image contributes to the findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    /// Position in the split (the whole split, also in a shard).
    pub index: usize,
    /// Its ground truth.
    pub label: Label,
    /// The model's probabilities on the clean image.
    pub clean_probs: Vec<f32>,
    /// The model's probabilities on the attacked image.
    pub adversarial_probs: Vec<f32>,
    /// Per stage, ‖A(x′) − A(x)‖₂ / ‖A(x)‖₂.
    pub shift: Vec<f32>,
    /// The penultimate feature, clean and adversarial.
    pub clean_feature: Vec<f32>,
    /// See `clean_feature`.
    pub adversarial_feature: Vec<f32>,
}

impl Indexed for AnalysisRecord {
    fn index(&self) -> usize {
        self.index
    }
}

/// How well one condition's penultimate features separate the classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Separation {
    /// Share of images decided right (multi-label: every finding right).
    pub accuracy: f64,
    /// Mean silhouette of the features grouped by class, in [−1, 1]; `None` with fewer than two
    /// groups.
    pub silhouette: Option<f64>,
    /// Between- over within-class scatter of the features; `None` with fewer than two groups or no
    /// spread within them.
    pub fisher_ratio: Option<f64>,
}

/// One shown image: its Grad-CAM maps (at the input's size, row-major, in [0, 1]) before and
/// after the attack, each explaining that image's own decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CamExample {
    /// Position in the split.
    pub index: usize,
    /// Its file, or its index for generated images.
    pub id: String,
    /// Rows of each map.
    pub height: usize,
    /// Columns of each map.
    pub width: usize,
    /// The decision on the clean image, in words.
    pub clean_decision: String,
    /// The decision on the attacked image, in words.
    pub adversarial_decision: String,
    /// Grad-CAM explaining the clean decision.
    pub clean_cam: Vec<f32>,
    /// Grad-CAM explaining the adversarial decision.
    pub adversarial_cam: Vec<f32>,
}

/// What an analysis found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisFindings {
    /// Absent in files of a robustdx that wrote none: never reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<AnalysisIdentity>,
    /// The robustdx version that computed these findings (a reused analysis keeps its own);
    /// absent in files written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustdx_version: Option<String>,
    /// Images analysed (the whole run's, also in a merged file).
    pub samples: usize,
    /// Per stage, the mean relative L2 shift over the images.
    pub feature_shift: Vec<StageShift>,
    /// Class separation of the clean images' features.
    pub clean: Separation,
    /// Class separation of the adversarial images' features.
    pub adversarial: Separation,
    /// Multi-label models only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_correlation: Option<LabelCorrelation>,
    /// The joint t-SNE map of the penultimate features; absent where robustdx was built without
    /// it (the page) or for fewer than `tsne::MIN_POINTS` images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsne: Option<TsneMap>,
    /// Grad-CAM before and after for the first `shown` images.
    pub cams: Vec<CamExample>,
    /// Every image's record, in index order: kept in a shard's file only, for `merge`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<AnalysisRecord>,
}

/// The images behind `AnalysisFindings::cams`, for reports: (clean, adversarial) at the input's
/// size.
pub type ShownImages = Vec<(Image, Image)>;

/// Grouping for the separation scores: the class, or (multi-label) the set of findings.
fn group(label: &Label) -> Vec<bool> {
    match label {
        Label::Class(c) => (0..=*c).map(|i| i == *c).collect(),
        Label::Findings(f) => f.clone(),
    }
}

/// Each label's group (the class, or the set of findings) as an index, and the groups in order
/// of first appearance.
fn grouping(labels: &[Label]) -> (Vec<usize>, Vec<Vec<bool>>) {
    let mut groups: Vec<Vec<bool>> = Vec::new();
    let ids = labels
        .iter()
        .map(|l| {
            let g = group(l);
            groups.iter().position(|x| *x == g).unwrap_or_else(|| {
                groups.push(g);
                groups.len() - 1
            })
        })
        .collect();
    (ids, groups)
}

/// A group's name: its class, its findings joined by " + ", or "no finding".
fn group_name(group: &[bool], class_names: &[String]) -> String {
    let named: Vec<&str> = group
        .iter()
        .enumerate()
        .filter(|&(_, &on)| on)
        .map(|(i, _)| class_names.get(i).map_or("?", String::as_str))
        .collect();
    if named.is_empty() {
        "no finding".into()
    } else {
        named.join(" + ")
    }
}

fn separation(features: &[Vec<f32>], ids: &[usize], right: &[bool]) -> Separation {
    Separation {
        accuracy: right.iter().filter(|&&r| r).count() as f64 / right.len().max(1) as f64,
        silhouette: silhouette(features, ids),
        fisher_ratio: fisher_ratio(features, ids),
    }
}

/// Analyses `model` under `attack` on the images `range` of `data`, `batch_size` at a time
/// (random draws keyed by `seed` and each image's index), with Grad-CAM for those before
/// `shown`. Returns every image's record, the Grad-CAM maps and their images. Asynchronous reads
/// only: the page can run it too.
#[allow(clippy::too_many_arguments)]
pub async fn analyze(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    attack: &dyn Attack,
    range: Range<usize>,
    shown: usize,
    seed: u64,
    batch_size: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<AnalysisRecord>, Vec<CamExample>, ShownImages)> {
    let card = &model.card;
    let attacked = AttackedModel::new(model, device);
    let valid = model.valid();
    let total = range.len();
    let mut records: Vec<AnalysisRecord> = Vec::with_capacity(total);
    let (mut cams, mut images) = (Vec::new(), Vec::new());
    let mut next = range.start;
    for samples in BatchLoader::new(data, batch_size, &card.input, None).only(range.clone()) {
        let samples = samples?;
        let indices: Vec<usize> = (next..next + samples.len()).collect();
        next += samples.len();
        let refs: Vec<&Image> = samples.iter().map(|s| &s.image).collect();
        let clean = images_to_tensor(&refs, device);
        let batch_labels: Vec<Label> = samples.iter().map(|s| s.label.clone()).collect();
        let keys = SampleKeys::new(seed, indices.iter().map(|&i| i as u64).collect());
        let adversarial = attack.perturb(&attacked, clean.clone(), &batch_labels, &keys)?;
        // One pass per condition gives the probabilities, the penultimate feature and every
        // stage.
        let mut passes = Vec::with_capacity(2);
        for tensor in [&clean, &adversarial] {
            let mut probe = Stages::default();
            let out = valid.forward_probed(tensor.clone(), &mut probe);
            let probs = crate::task::probabilities(card.task, out.logits);
            let [_, k] = probs.dims();
            let probs = readback::floats(probs).await?;
            let [_, f] = out.feature.dims();
            let features = readback::floats(out.feature).await?;
            let rows = |v: &[f32], n: usize| v.chunks(n).map(<[f32]>::to_vec).collect::<Vec<_>>();
            passes.push((probe.0, rows(&probs, k), rows(&features, f)));
        }
        let (after, adversarial_probs, adversarial_features) = passes.pop().expect("two passes");
        let (before, clean_probs, clean_features) = passes.pop().expect("two passes");
        let ratios = stage_ratios(before, after).await?;
        for (j, (&index, label)) in indices.iter().zip(&batch_labels).enumerate() {
            records.push(AnalysisRecord {
                index,
                label: label.clone(),
                clean_probs: clean_probs[j].clone(),
                adversarial_probs: adversarial_probs[j].clone(),
                shift: ratios.iter().map(|stage| stage[j]).collect(),
                clean_feature: clean_features[j].clone(),
                adversarial_feature: adversarial_features[j].clone(),
            });
        }
        let wanted = indices.iter().filter(|&&i| i < shown).count();
        if wanted > 0 {
            let head = |t: &burn::Tensor<4>| t.clone().narrow(0, 0, wanted);
            let (clean_maps, _) =
                grad_cam(model, head(&clean), CamTarget::Predicted, device).await?;
            let (adversarial_maps, _) =
                grad_cam(model, head(&adversarial), CamTarget::Predicted, device).await?;
            let adversarial_images = readback::images(head(&adversarial)).await?;
            let first = records.len() - samples.len();
            for (j, ((cm, am), adv)) in clean_maps
                .into_iter()
                .zip(adversarial_maps)
                .zip(adversarial_images)
                .enumerate()
            {
                let record = &records[first + j];
                let describe =
                    |probs: &[f32]| decision(card.task, probs).describe(&card.class_names);
                cams.push(CamExample {
                    index: record.index,
                    id: data.id(record.index),
                    height: cm.height,
                    width: cm.width,
                    clean_decision: describe(&record.clean_probs),
                    adversarial_decision: describe(&record.adversarial_probs),
                    clean_cam: cm.pixels,
                    adversarial_cam: am.pixels,
                });
                images.push((samples[j].image.clone(), adv));
            }
        }
        progress(next - range.start, total);
    }
    Ok((records, cams, images))
}

/// The findings from every analysed image's record (in index order) and the Grad-CAM maps: the
/// same function serves a run, a shard and merged shards. `seed` starts the t-SNE map.
pub fn findings(
    task: TaskKind,
    class_names: &[String],
    seed: u64,
    records: &[AnalysisRecord],
    cams: Vec<CamExample>,
) -> Result<AnalysisFindings> {
    let n = records.len();
    let labels: Vec<Label> = records.iter().map(|r| r.label.clone()).collect();
    let decide = |probs: fn(&AnalysisRecord) -> &Vec<f32>| -> Vec<Decision> {
        records.iter().map(|r| decision(task, probs(r))).collect()
    };
    let clean_decisions = decide(|r| &r.clean_probs);
    let adversarial_decisions = decide(|r| &r.adversarial_probs);
    let features = |f: fn(&AnalysisRecord) -> &Vec<f32>| -> Vec<Vec<f32>> {
        records.iter().map(|r| f(r).clone()).collect()
    };
    let clean_features = features(|r| &r.clean_feature);
    let adversarial_features = features(|r| &r.adversarial_feature);
    let stages = records.first().map_or(0, |r| r.shift.len());
    if let Some(r) = records.iter().find(|r| r.shift.len() != stages) {
        return Err(Error::invalid(format!(
            "analysis record {}: {} stages, the first record has {stages}",
            r.index,
            r.shift.len()
        )));
    }
    let label_correlation = task.is_multi_label().then(|| {
        let flags = |ds: &[Decision]| -> Vec<Vec<bool>> {
            ds.iter()
                .map(|d| match d {
                    Decision::Findings(f) => f.clone(),
                    Decision::Class(_) => Vec::new(),
                })
                .collect()
        };
        let truth: Vec<Vec<bool>> = labels.iter().map(group).collect();
        LabelCorrelation::new(
            &truth,
            &flags(&clean_decisions),
            &flags(&adversarial_decisions),
        )
    });
    let (ids, groups) = grouping(&labels);
    let right = |ds: &[Decision]| -> Vec<bool> {
        labels
            .iter()
            .zip(ds)
            .map(|(l, d)| Decision::from(l) == *d)
            .collect()
    };
    let (clean_right, adversarial_right) = (right(&clean_decisions), right(&adversarial_decisions));
    let tsne = tsne_map(
        &clean_features,
        &adversarial_features,
        seed,
        TsneMap {
            perplexity: super::tsne::perplexity_for(2 * n),
            epochs: super::tsne::EPOCHS,
            seed,
            clean: Vec::new(),
            adversarial: Vec::new(),
            groups: ids.clone(),
            group_names: groups.iter().map(|g| group_name(g, class_names)).collect(),
            clean_right: clean_right.clone(),
            adversarial_right: adversarial_right.clone(),
        },
    )?;
    Ok(AnalysisFindings {
        identity: None,
        robustdx_version: Some(ToolInfo::this().version),
        samples: n,
        feature_shift: (0..stages)
            .map(|s| StageShift {
                stage: s + 1,
                relative_l2: records.iter().map(|r| r.shift[s] as f64).sum::<f64>()
                    / n.max(1) as f64,
            })
            .collect(),
        clean: separation(&clean_features, &ids, &clean_right),
        adversarial: separation(&adversarial_features, &ids, &adversarial_right),
        label_correlation,
        tsne,
        cams,
        records: Vec::new(),
    })
}

/// One analysis's fixed parts.
pub struct Analyzer<'a> {
    /// The model under attack.
    pub model: &'a DiagnosticModel,
    /// The whole split; the identity's `limit` and `shard` pick the images.
    pub data: &'a dyn Dataset,
    /// This process's share of the images; `None`: all of them.
    pub shard: Option<Shard>,
    /// Images per attack batch.
    pub batch_size: usize,
    /// What some attacks need besides their spec (GAP's generator).
    pub context: AttackContext<'a>,
    /// Where the model runs.
    pub device: &'a Device,
}

impl Analyzer<'_> {
    /// The images analysed: the first `limit` of the split, or this shard's part of them.
    pub fn range(&self, limit: usize) -> Range<usize> {
        let total = limit.min(self.data.len());
        self.shard.map_or(0..total, |s| s.range(total))
    }

    /// Runs the analysis `identity` into `report` (whose header the shell filled in), reusing
    /// what `previous` holds when its identity matches. Returns the report and, when computed,
    /// the images behind its Grad-CAM maps.
    pub async fn run(
        &self,
        identity: &AnalysisIdentity,
        previous: &[AnalysisFindings],
        mut report: AnalysisReport,
        events: &mut dyn Events<AnalysisReport>,
    ) -> Result<(AnalysisReport, ShownImages)> {
        if report.data.shard != self.shard {
            return Err(Error::invalid("the report's shard is not the analysis's"));
        }
        let card = &self.model.card;
        let plan = plan(std::slice::from_ref(identity), previous)
            .pop()
            .expect("one plan per identity");
        events.unit_start(&identity.label(), &plan);
        let (findings, shown) = match plan {
            Plan::Reuse(findings) => (*findings, Vec::new()),
            Plan::Run { .. } => {
                let attack = identity.attack.build(&self.context)?;
                let (records, cams, shown) = analyze(
                    self.model,
                    self.data,
                    attack.as_ref(),
                    self.range(identity.limit),
                    identity.shown,
                    identity.subject.seed,
                    self.batch_size,
                    self.device,
                    &mut |done, total| events.progress(done, total),
                )
                .await?;
                let mut findings = findings(
                    card.task,
                    &card.class_names,
                    identity.subject.seed,
                    &records,
                    cams,
                )?;
                findings.identity = Some(identity.clone());
                if self.shard.is_some() {
                    findings.records = records;
                }
                (findings, shown)
            }
        };
        report.push_unit(findings);
        events.unit_done(&report)?;
        Ok((report, shown))
    }
}

impl Unit for AnalysisFindings {
    type Identity = AnalysisIdentity;

    fn identity(&self) -> Option<&AnalysisIdentity> {
        self.identity.as_ref()
    }

    /// A file holds one analysis: whatever it was made with, it is the one asked for.
    fn same_slot(&self, _: &AnalysisIdentity) -> bool {
        true
    }
}

impl RunReport for AnalysisReport {
    type Unit = AnalysisFindings;

    fn shard(&self) -> Option<Shard> {
        self.data.shard
    }

    fn units(&self) -> &[AnalysisFindings] {
        std::slice::from_ref(&self.findings)
    }

    /// The one analysis stays until the next replaces it.
    fn clear_units(&mut self) {}

    fn push_unit(&mut self, unit: AnalysisFindings) {
        if let Some(identity) = &unit.identity {
            self.attack = identity.attack.clone();
            self.seed = identity.subject.seed;
        }
        self.findings = unit;
    }

    fn to_json(&self) -> String {
        AnalysisReport::to_json(self)
    }

    fn from_json(text: &str, file: &str) -> Result<Self> {
        AnalysisReport::from_json(text, file)
    }
}

/// An analysis's shards join by their records: the findings, the whole-split ones included, are
/// recomputed over all images; the Grad-CAM maps are the shards' own (each shard draws those of
/// its images before `shown`).
impl Merge for AnalysisReport {
    type Record = AnalysisRecord;

    fn covered(&self) -> usize {
        let limit = self
            .findings
            .identity
            .as_ref()
            .map_or(self.data.samples, |id| id.limit);
        limit.min(self.data.samples)
    }

    fn other_run(&self, first: &Self) -> Option<String> {
        let same = self.model.sha256 == first.model.sha256
            && self.data.name == first.data.name
            && self.data.split == first.data.split
            && self.data.samples == first.data.samples;
        (!same).then(|| "another model or data set".into())
    }

    fn records(unit: &AnalysisFindings) -> &[AnalysisRecord] {
        &unit.records
    }

    fn remake(
        &self,
        parts: &[&AnalysisFindings],
        records: Vec<AnalysisRecord>,
    ) -> Result<AnalysisFindings> {
        let identity = parts[0]
            .identity
            .clone()
            .ok_or_else(|| Error::invalid("an analysis without an identity cannot be merged"))?;
        let mut cams: Vec<CamExample> = parts.iter().flat_map(|p| p.cams.clone()).collect();
        cams.sort_by_key(|c| c.index);
        let mut whole = findings(
            self.model.task,
            &self.model.class_names,
            identity.subject.seed,
            &records,
            cams,
        )?;
        whole.identity = Some(identity);
        // The version that computed the records, as a sweep's and a benchmark's merge keep it.
        whole.robustdx_version = parts[0].robustdx_version.clone();
        Ok(whole)
    }

    fn make_whole(&mut self) {
        self.data.shard = None;
    }
}

/// Fills `map` with the joint embedding of the clean and adversarial features (clean first).
#[cfg(feature = "tsne")]
fn tsne_map(
    clean: &[Vec<f32>],
    adversarial: &[Vec<f32>],
    seed: u64,
    mut map: TsneMap,
) -> Result<Option<TsneMap>> {
    let points: Vec<Vec<f32>> = clean.iter().chain(adversarial).cloned().collect();
    let Some(mut embedded) = super::tsne::embed(&points, seed, map.epochs)? else {
        return Ok(None);
    };
    map.adversarial = embedded.split_off(clean.len());
    map.clean = embedded;
    Ok(Some(map))
}

/// Built without t-SNE (the page): no map.
#[cfg(not(feature = "tsne"))]
fn tsne_map(_: &[Vec<f32>], _: &[Vec<f32>], _: u64, _: TsneMap) -> Result<Option<TsneMap>> {
    Ok(None)
}
