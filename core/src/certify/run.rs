//! Certifying a split (or a shard of it), noise level by noise level: every image's CERTIFY with
//! noise keyed by (seed, image index), so a shard or another batch size gives the same records.
//! The noise levels are the units of a [run](crate::run): a resumed run reuses the levels whose
//! identity matches, and the shards of one run merge, as the sweep's cells and the benchmark's
//! kinds do.

use std::ops::Range;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::certificate::HeadCertificate;
use super::smoothed::{NoiseKey, Smoothed};
use super::votes::Votes;
use crate::data::Dataset;
use crate::model::DiagnosticModel;
use crate::report::{CertifiedAt, CertifyIdentity, CertifyReport, SigmaResult, ToolInfo};
use crate::robustness::Shard;
use crate::run::{Events, Identity, Indexed, Merge, RunReport, Unit, run_units};
use crate::{Error, Label, Result};

/// Raised when the same settings would give other records (the noise's keys, the voting rule):
/// older results are then recomputed on `--resume`.
pub const CERTIFY_REVISION: u32 = 0;

/// The radii the tables report when none are asked for (L2, pixel units of [0, 1] images; an
/// L∞ ball of ε = 1/255 around a 64 × 64 RGB image reaches 0.43 in L2, one of 4/255 reaches 1.74).
pub const DEFAULT_RADII: [f64; 7] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0];

/// One image's CERTIFY at one noise level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateRecord {
    /// Position in the split (the whole split, also in a shard).
    pub index: usize,
    /// Its file, or its index for generated images.
    pub id: String,
    /// Its ground truth.
    pub label: Label,
    /// The n0 selection copies' votes.
    pub selection: Votes,
    /// The n estimation copies' votes.
    pub estimation: Votes,
    /// Per head: the guess, p̲_A and its radius.
    pub heads: Vec<HeadCertificate>,
    /// The whole decision's certified radius (the smallest finding's); `None`: abstained.
    pub radius: Option<f64>,
    /// Whether the smoothed decision is correct (every finding), not abstained.
    pub correct: bool,
}

impl CertificateRecord {
    /// Whether this image counts as certified correct at `radius`.
    pub fn certified_at(&self, radius: f64) -> bool {
        self.correct && self.radius.is_some_and(|r| r >= radius)
    }

    /// Whether finding `f` alone is certified correct at `radius` (multi-label).
    fn finding_certified_at(&self, f: usize, radius: f64) -> bool {
        let (Label::Findings(truth), Some(head)) = (&self.label, self.heads.get(f)) else {
            return false;
        };
        head.radius.is_some_and(|r| r >= radius) && truth.get(f) == Some(&(head.guess == 1))
    }
}

/// Certified accuracy at `radius`: the share of `records` certified correct at least that far.
pub fn certified_accuracy(records: &[CertificateRecord], radius: f64) -> f64 {
    if records.is_empty() {
        return 0.0;
    }
    records.iter().filter(|r| r.certified_at(radius)).count() as f64 / records.len() as f64
}

/// The whole certified-accuracy curve: at each radius where it drops (each certified-correct
/// image's radius, in increasing order), the accuracy just up to it; starts at radius 0.
pub fn certified_curve(records: &[CertificateRecord]) -> Vec<CertifiedAt> {
    let mut radii: Vec<f64> = records
        .iter()
        .filter(|r| r.correct)
        .filter_map(|r| r.radius)
        .collect();
    radii.sort_by(f64::total_cmp);
    radii.dedup();
    std::iter::once(0.0)
        .chain(radii)
        .map(|radius| CertifiedAt {
            radius,
            accuracy: certified_accuracy(records, radius),
        })
        .collect()
}

/// A noise level's numbers from its records (in index order) at `radii`. The same function
/// serves a run, a resumed run, merged shards and new radii.
pub fn sigma_result(
    identity: CertifyIdentity,
    records: Vec<CertificateRecord>,
    radii: &[f64],
) -> SigmaResult {
    let certified_accuracy = radii
        .iter()
        .map(|&radius| CertifiedAt {
            radius,
            accuracy: certified_accuracy(&records, radius),
        })
        .collect();
    let total = records.len().max(1) as f64;
    let abstained = records.iter().filter(|r| r.radius.is_none()).count() as f64 / total;
    let findings = match records.first().map(|r| &r.label) {
        Some(Label::Findings(f)) => Some(f.len()),
        _ => None,
    };
    let finding_certified_accuracy = findings.map(|count| {
        (0..count)
            .map(|f| {
                radii
                    .iter()
                    .map(|&radius| {
                        records
                            .iter()
                            .filter(|r| r.finding_certified_at(f, radius))
                            .count() as f64
                            / total
                    })
                    .collect()
            })
            .collect()
    });
    SigmaResult {
        sigma: identity.sigma,
        robustdx_version: Some(ToolInfo::this().version),
        identity,
        certified_accuracy,
        abstained,
        finding_certified_accuracy,
        records,
    }
}

/// Checks the radii a user asked the tables for.
pub fn check_radii(radii: &[f64]) -> Result<()> {
    if radii.is_empty() {
        return Err(Error::invalid("--radii: give at least one radius"));
    }
    if let Some(bad) = radii.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
        return Err(Error::invalid(format!(
            "--radii {bad}: a radius is a finite L2 distance, 0 or more"
        )));
    }
    Ok(())
}

/// One certification run's fixed parts.
pub struct CertifyRun<'a> {
    /// The base model.
    pub model: &'a DiagnosticModel,
    /// The whole split; `shard` picks the images.
    pub data: &'a dyn Dataset,
    /// This process's share of the images; `None`: all of them.
    pub shard: Option<Shard>,
    /// Noisy copies per forward pass.
    pub copies_per_batch: usize,
    /// Where the model runs.
    pub device: &'a Device,
}

impl CertifyRun<'_> {
    fn range(&self) -> Range<usize> {
        self.shard
            .map_or(0..self.data.len(), |s| s.range(self.data.len()))
    }

    /// Every image of the range certified as `identity` says.
    fn records(
        &self,
        identity: &CertifyIdentity,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<CertificateRecord>> {
        let settings = identity.settings();
        settings.validate()?;
        let smoothed = Smoothed::new(self.model, identity.sigma)?;
        let multi_label = self.model.card.task.is_multi_label();
        let range = self.range();
        let total = range.len();
        let mut records = Vec::with_capacity(total);
        for index in range {
            let sample = self.data.get(index)?;
            let key = NoiseKey {
                seed: identity.subject.seed,
                index: index as u64,
            };
            let result = futures_lite::future::block_on(smoothed.certify(
                sample.image,
                key,
                &settings,
                self.copies_per_batch,
                self.device,
                &mut |_| {},
            ))?;
            let certificate = result.certificate;
            records.push(CertificateRecord {
                index,
                id: self.data.id(index),
                correct: certificate
                    .decision(multi_label)
                    .is_some_and(|d| d.is_correct(&sample.label)),
                radius: certificate.radius(),
                heads: certificate.heads,
                label: sample.label,
                selection: result.selection,
                estimation: result.estimation,
            });
            progress(records.len(), total);
        }
        Ok(records)
    }

    /// Runs the noise levels `identities` into `report` (whose header the shell filled in),
    /// reusing what `previous` holds.
    pub fn run(
        &self,
        identities: &[CertifyIdentity],
        previous: &[SigmaResult],
        mut report: CertifyReport,
        events: &mut dyn Events<CertifyReport>,
    ) -> Result<CertifyReport> {
        if report.data.shard != self.shard {
            return Err(Error::invalid("the report's shard is not the run's"));
        }
        check_radii(&report.radii)?;
        let radii = report.radii.clone();
        run_units(&mut report, identities, previous, events, |id, progress| {
            let records = self.records(id, progress)?;
            Ok(sigma_result(id.clone(), records, &radii))
        })?;
        Ok(report)
    }
}

impl Identity for CertifyIdentity {
    fn label(&self) -> String {
        format!("σ={}", self.sigma)
    }

    fn differences(&self, now: &Self) -> Vec<String> {
        CertifyIdentity::differences(self, now)
    }
}

impl Unit for SigmaResult {
    type Identity = CertifyIdentity;

    fn identity(&self) -> Option<&CertifyIdentity> {
        Some(&self.identity)
    }

    fn same_slot(&self, id: &CertifyIdentity) -> bool {
        self.sigma == id.sigma
    }
}

impl RunReport for CertifyReport {
    type Unit = SigmaResult;

    fn shard(&self) -> Option<Shard> {
        self.data.shard
    }

    fn units(&self) -> &[SigmaResult] {
        &self.results
    }

    fn clear_units(&mut self) {
        self.results.clear();
    }

    fn push_unit(&mut self, unit: SigmaResult) {
        self.results.push(unit);
    }

    /// A reused level's table follows the radii asked for now.
    fn units_changed(&mut self) {
        let radii = self.radii.clone();
        for result in &mut self.results {
            let redone = sigma_result(
                result.identity.clone(),
                std::mem::take(&mut result.records),
                &radii,
            );
            let version = result.robustdx_version.take();
            *result = SigmaResult {
                robustdx_version: version,
                ..redone
            };
        }
    }

    fn to_json(&self) -> String {
        CertifyReport::to_json(self)
    }

    fn from_json(text: &str, file: &str) -> Result<Self> {
        CertifyReport::from_json(text, file)
    }
}

impl Indexed for CertificateRecord {
    fn index(&self) -> usize {
        self.index
    }
}

/// A certification's shards join level by level, the tables recomputed from all images' records.
impl Merge for CertifyReport {
    type Record = CertificateRecord;

    fn covered(&self) -> usize {
        self.data.samples
    }

    /// The levels' identities name the model and data; the split's size and the radii must
    /// agree too.
    fn other_run(&self, first: &Self) -> Option<String> {
        if self.data.samples != first.data.samples {
            Some("another data set".into())
        } else if self.radii != first.radii {
            Some("other --radii".into())
        } else {
            None
        }
    }

    fn records(unit: &SigmaResult) -> &[CertificateRecord] {
        &unit.records
    }

    fn remake(
        &self,
        parts: &[&SigmaResult],
        records: Vec<CertificateRecord>,
    ) -> Result<SigmaResult> {
        let mut whole = sigma_result(parts[0].identity.clone(), records, &self.radii);
        // The version that computed the records, as the other runs' merges keep it.
        whole.robustdx_version = parts[0].robustdx_version.clone();
        Ok(whole)
    }

    fn make_whole(&mut self) {
        self.data.shard = None;
    }
}
