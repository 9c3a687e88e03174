//! A card from the results of its parts: the clean scores from the sweep's clean cell, a
//! sentence per result, the Grad-CAM strip, and each result without its per-image records.
//! Nothing is measured here, so a card's numbers are exactly those of the separate commands.

use super::battery::{BATTERY_REVISION, Level};
use super::cam_strip::cam_thumbnails;
use super::document::{
    CARD_KIND, CARD_SCHEMA_VERSION, CamPart, CardPart, CleanPart, Provenance, RobustnessCard,
};
use super::verdict::{benchmark_verdict, clean_verdict, inside_verdict};
use crate::data::Image;
use crate::metrics::{self, Predictions};
use crate::report::{
    AnalysisReport, AttackReport, BenchmarkReport, CertifyReport, ToolInfo, attack_verdict,
    certify_verdict,
};
use crate::{Error, Result};

/// Everything a card is made of.
pub struct CardInputs {
    /// The battery's level.
    pub level: Level,
    /// The sweep, per-image records included (the clean scores and sentences need them).
    pub attacks: AttackReport,
    /// The Robust-Benchmark.
    pub benchmark: BenchmarkReport,
    /// The certification, when it ran.
    pub certification: Option<CertifyReport>,
    /// The analysis.
    pub inside: AnalysisReport,
    /// The clean images of `inside`'s Grad-CAM examples, in their order.
    pub cam_images: Vec<Image>,
    /// The command that reproduces each part: sweep, benchmark, certification, analysis.
    pub commands: [String; 4],
    /// Resamples behind the clean scores' intervals (95 %, seed 0).
    pub bootstrap: usize,
    /// The parts the level has that were not run, each with why.
    pub not_run: Vec<String>,
    /// Fingerprint, backend, time.
    pub provenance: Provenance,
}

/// Checks that a part was measured on the card's model and images.
fn same_subject(
    part: &str,
    model: &crate::report::ModelSummary,
    data: &crate::report::DataSummary,
    card: &AttackReport,
) -> Result<()> {
    if model.sha256 != card.model.sha256 {
        return Err(Error::invalid(format!(
            "the {part} is of another model file ({}) than the sweep ({})",
            model.sha256.as_deref().unwrap_or("no hash"),
            card.model.sha256.as_deref().unwrap_or("no hash")
        )));
    }
    if data.samples != card.data.samples || data.name != card.data.name {
        return Err(Error::invalid(format!(
            "the {part} is of other images ({} images of {}) than the sweep ({} of {})",
            data.samples, data.name, card.data.samples, card.data.name
        )));
    }
    if data.shard.is_some() || card.data.shard.is_some() {
        return Err(Error::invalid(format!(
            "the {part} or the sweep covers one shard only: merge the shards first"
        )));
    }
    Ok(())
}

/// The card of `inputs`.
pub fn assemble(inputs: CardInputs) -> Result<RobustnessCard> {
    let CardInputs {
        level,
        mut attacks,
        mut benchmark,
        mut certification,
        mut inside,
        cam_images,
        commands:
            [
                attack_command,
                benchmark_command,
                certify_command,
                inside_command,
            ],
        bootstrap,
        not_run,
        provenance,
    } = inputs;
    same_subject("benchmark", &benchmark.model, &benchmark.data, &attacks)?;
    same_subject("analysis", &inside.model, &inside.data, &attacks)?;
    if let Some(c) = &certification {
        same_subject("certification", &c.model, &c.data, &attacks)?;
    }

    let clean_cell = attacks
        .results
        .iter()
        .find(|r| r.eps == 0.0 && !r.records.is_empty())
        .ok_or_else(|| {
            Error::invalid("the sweep has no clean (ε = 0) cell with per-image records")
        })?;
    let predictions = Predictions {
        task: attacks.model.task,
        class_names: attacks.model.class_names.clone(),
        probs: clean_cell
            .records
            .iter()
            .map(|r| r.clean_probs.clone())
            .collect(),
        labels: clean_cell.records.iter().map(|r| r.label.clone()).collect(),
    };
    let clean_metrics = metrics::evaluate(&predictions)?;
    let intervals = metrics::bootstrap(&predictions, bootstrap, 0.95, 0)?;
    let clean = CleanPart {
        verdict: clean_verdict(&clean_metrics, &intervals),
        metrics: clean_metrics,
        intervals,
    };

    let attack_verdicts = attacks
        .results
        .iter()
        .filter(|r| r.eps > 0.0)
        .map(|r| attack_verdict(&attacks, r))
        .collect();
    let certify_verdicts = certification
        .as_ref()
        .map(|c| c.results.iter().map(|r| certify_verdict(c, r)).collect());

    let images = cam_thumbnails(&inside.findings.cams, &cam_images)?;
    let mean_overlap = (!images.is_empty())
        .then(|| images.iter().map(|t| t.overlap).sum::<f64>() / images.len() as f64);
    let attack = format!(
        "{} at ε = {}/255",
        crate::attack::short_name(&inside.attack.attack),
        inside.attack.eps
    );
    let inside_sentence = inside_verdict(&inside.findings, &attack, mean_overlap);

    // The records stay in the parts' own files; the card keeps what its tables and charts
    // show (a certificate's radius per image draws the certified-accuracy curve).
    for result in &mut attacks.results {
        result.records.clear();
    }
    for result in &mut benchmark.results {
        result.records.clear();
    }
    inside.findings.records.clear();
    inside.findings.cams.clear();
    let sanity = attacks.sanity.clone();
    let benchmark_sentence = benchmark_verdict(&benchmark);
    Ok(RobustnessCard {
        kind: CARD_KIND.into(),
        schema_version: CARD_SCHEMA_VERSION,
        tool: ToolInfo::this(),
        level,
        battery_revision: BATTERY_REVISION,
        model: attacks.model.clone(),
        data: attacks.data.clone(),
        provenance,
        clean,
        attacks: CardPart {
            result: attacks,
            verdicts: attack_verdicts,
            command: attack_command,
        },
        benchmark: CardPart {
            result: benchmark,
            verdicts: vec![benchmark_sentence],
            command: benchmark_command,
        },
        certification: certification.take().map(|c| CardPart {
            result: c,
            verdicts: certify_verdicts.unwrap_or_default(),
            command: certify_command,
        }),
        inside: CardPart {
            result: inside,
            verdicts: vec![inside_sentence],
            command: inside_command,
        },
        cams: CamPart {
            images,
            mean_overlap,
        },
        sanity,
        not_run,
    })
}
