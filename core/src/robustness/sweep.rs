//! A robustness sweep: attacks × budgets over a split (or a shard of it), cell by cell, as a
//! [run](crate::run) whose units are the cells: a resumed sweep reuses the cells whose identity
//! matches and the shards of one sweep merge.

use std::ops::Range;

use burn::tensor::Device;

use super::evaluate::{Example, evaluate_attack};
use super::identity::{ResultIdentity, Shard};
use super::sanity::{SANITY_CHECKS, check_model};
use crate::attack::{AttackContext, AttackSpec};
use crate::data::Dataset;
use crate::model::DiagnosticModel;
use crate::report::{AttackReport, AttackResult, ToolInfo};
use crate::run::{Events, run_units};
use crate::{Error, Result};

/// One sweep's fixed parts.
pub struct Sweep<'a> {
    /// The model under attack.
    pub model: &'a DiagnosticModel,
    /// The whole split; `shard` picks the images.
    pub data: &'a dyn Dataset,
    /// This process's share of the images; `None`: all of them.
    pub shard: Option<Shard>,
    /// Images per attack batch.
    pub batch_size: usize,
    /// Images per cell kept for the report.
    pub keep_examples: usize,
    /// What some attacks need besides their spec (GAP's generator).
    pub context: AttackContext<'a>,
    /// Where the model runs.
    pub device: &'a Device,
}

/// A cell's examples, for reports.
pub type CellExamples = (AttackSpec, Vec<Example>);

impl Sweep<'_> {
    /// This shard's images: cut between batches when a cell's numbers depend on the batch (the
    /// paper convention's identity holds the batch size), so that its batches are the single
    /// run's and the merged shards equal it.
    fn range(&self, identities: &[ResultIdentity]) -> Range<usize> {
        let len = self.data.len();
        match self.shard {
            None => 0..len,
            Some(shard) if identities.iter().any(|id| id.batch_size.is_some()) => {
                shard.range_in_batches(len, self.batch_size)
            }
            Some(shard) => shard.range(len),
        }
    }

    /// Runs the cells `identities` into `report` (whose header the shell filled in), reusing
    /// what `previous` holds. Returns the finished report and the computed cells' examples.
    pub fn run(
        &self,
        identities: &[ResultIdentity],
        previous: &[AttackResult],
        mut report: AttackReport,
        events: &mut dyn Events<AttackReport>,
    ) -> Result<(AttackReport, Vec<CellExamples>)> {
        if report.data.shard != self.shard {
            return Err(Error::invalid("the report's shard is not the sweep's"));
        }
        if let Some(id) = identities
            .iter()
            .find(|id| id.batch_size.is_some_and(|b| b != self.batch_size))
        {
            return Err(Error::invalid(format!(
                "{} is identified with batch size {}, but the sweep runs batches of {}",
                id.attack.describe(),
                id.batch_size.unwrap_or_default(),
                self.batch_size
            )));
        }
        let range = self.range(identities);
        report.sanity_checks = SANITY_CHECKS.to_vec();
        report.sanity = check_model(self.model, self.data, self.device)?;
        let mut examples = Vec::new();
        run_units(&mut report, identities, previous, events, |id, progress| {
            let attack = id.attack.build(&self.context)?;
            let run = evaluate_attack(
                self.model,
                self.data,
                range.clone(),
                attack.as_ref(),
                id.subject.seed,
                self.batch_size,
                self.keep_examples,
                self.device,
                progress,
            )?;
            examples.push((id.attack.clone(), run.examples));
            Ok(AttackResult {
                attack: id.attack.attack.clone(),
                eps: id.attack.eps,
                settings: serde_json::Value::Object(id.attack.settings.clone()),
                identity: Some(id.clone()),
                robustdx_version: Some(ToolInfo::this().version),
                metrics: run.metrics,
                records: run.records,
            })
        })?;
        Ok((report, examples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::{Convention, Goal, Norm};
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::report::{DataSummary, ModelSummary};
    use crate::run::{Plan, merge, plan};
    use crate::test_support::{Recorded, cpu, seeded_small_cnn};

    fn identity(attack: &str, eps: f32, settings: serde_json::Value) -> ResultIdentity {
        ResultIdentity {
            attack: AttackSpec::new(
                attack,
                eps,
                Norm::Linf,
                Convention::Pixel,
                Goal::Untargeted,
                settings.as_object().unwrap(),
            )
            .unwrap(),
            subject: crate::test_support::subject("synth-chest", 4),
            batch_size: None,
        }
    }

    /// Three shards merged give the single run's report: cells, records, metrics (AUC
    /// included) and flags; a missing or doubled shard is an error naming it.
    #[test]
    fn merged_shards_equal_the_single_run_and_resume_reuses_only_matching_cells() {
        let device = cpu();
        let splits = synthetic::open(
            SyntheticKind::Chest,
            &SyntheticConfig {
                n: 4,
                test: 17,
                size: 32,
                seed: 2,
            },
        );
        let test = splits.test.as_ref();
        let model = seeded_small_cnn(test.info(), 32, 4, 5);
        let ids = vec![
            identity("pgd", 0.0, serde_json::json!({"steps": 2})),
            identity("pgd", 4.0, serde_json::json!({"steps": 2})),
            identity("apgd", 4.0, serde_json::json!({"steps": 4})),
        ];
        let header = |shard| {
            let mut model_summary = ModelSummary::new("m.bpk", &model.card);
            model_summary.sha256 = Some("ab".repeat(32));
            AttackReport::new(
                model_summary,
                DataSummary {
                    name: test.info().name.clone(),
                    split: "test".into(),
                    samples: test.len(),
                    shard,
                    skipped: Vec::new(),
                },
            )
        };
        let sweep = |shard, batch_size| Sweep {
            model: &model,
            data: test,
            shard,
            batch_size,
            keep_examples: 1,
            context: AttackContext::default(),
            device: &device,
        };
        let mut events = Recorded::<AttackReport>::default();
        let (whole, examples) = sweep(None, 8)
            .run(&ids, &[], header(None), &mut events)
            .unwrap();
        assert_eq!(events.written, 3);
        assert_eq!(examples.len(), 3);
        assert_eq!(whole.results[2].records.len(), 17);
        assert!(!whole.sanity_checks.is_empty());

        let mut shards = vec![];
        for index in 0..3 {
            let shard = Some(Shard { index, count: 3 });
            let (part, _) = sweep(shard, 3)
                .run(
                    &ids,
                    &[],
                    header(shard),
                    &mut Recorded::<AttackReport>::default(),
                )
                .unwrap();
            shards.push((format!("s{index}.json"), part));
        }
        let merged = merge(shards.clone()).unwrap();
        assert_eq!(merged.results, whole.results);
        assert_eq!(merged.sanity, whole.sanity);
        assert_eq!(merged.data, whole.data);
        assert!(whole.results[1].metrics.adversarial.auc_macro.is_some());

        let e = merge(shards[..2].to_vec()).unwrap_err().to_string();
        assert!(e.contains("shard 2/3 missing"), "{e}");
        let doubled = vec![shards[0].clone(), shards[1].clone(), shards[1].clone()];
        let e = merge(doubled).unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
        let mut other = shards.clone();
        other[1].1.results[1]
            .identity
            .as_mut()
            .unwrap()
            .subject
            .seed = 99;
        let e = merge(other).unwrap_err().to_string();
        assert!(e.contains("s1.json") && e.contains("other settings"), "{e}");

        // Resuming with one cell changed: the others are reused, the changed one says why.
        let mut changed = ids.clone();
        changed[1] = identity("pgd", 4.0, serde_json::json!({"steps": 3}));
        let plans = plan(&changed, &whole.results);
        assert!(matches!(plans[0], Plan::Reuse(_)));
        assert!(matches!(plans[2], Plan::Reuse(_)));
        match &plans[1] {
            Plan::Run { because: Some(why) } => assert!(why.contains("steps 2 → 3"), "{why}"),
            other => panic!("{other:?}"),
        }
        let mut retrained = ids.clone();
        retrained[0].subject.model_sha256 = "cd".repeat(32);
        match &plan(&retrained, &whole.results)[0] {
            Plan::Run { because: Some(why) } => assert!(why.contains("model sha256"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    /// The paper convention clips to the batch's normalised min / max, so its numbers depend on
    /// the batch: the batch size is in its identity, and its shards cut between batches, so
    /// that three shards merged equal the single run at that batch size.
    #[test]
    fn paper_convention_shards_cut_between_batches_and_merge_to_the_single_run() {
        let device = cpu();
        let splits = synthetic::open(
            SyntheticKind::Derm,
            &SyntheticConfig {
                n: 4,
                test: 10,
                size: 32,
                seed: 3,
            },
        );
        let test = splits.test.as_ref();
        let model = seeded_small_cnn(test.info(), 32, 4, 5);
        let subject = identity("pgd", 0.0, serde_json::json!({})).subject;
        let paper = |batch_size| {
            let spec = AttackSpec::new(
                "pgd",
                8.0,
                Norm::Linf,
                Convention::Paper,
                Goal::Untargeted,
                serde_json::json!({"steps": 2}).as_object().unwrap(),
            )
            .unwrap();
            vec![ResultIdentity::new(spec, subject.clone(), batch_size)]
        };
        let header = |shard| {
            AttackReport::new(
                ModelSummary::new("m.bpk", &model.card),
                DataSummary {
                    name: test.info().name.clone(),
                    split: "test".into(),
                    samples: test.len(),
                    shard,
                    skipped: Vec::new(),
                },
            )
        };
        let run = |shard, batch_size| {
            Sweep {
                model: &model,
                data: test,
                shard,
                batch_size,
                keep_examples: 0,
                context: AttackContext::default(),
                device: &device,
            }
            .run(
                &paper(batch_size),
                &[],
                header(shard),
                &mut Recorded::<AttackReport>::default(),
            )
            .map(|(report, _)| report)
        };
        let whole = run(None, 4).unwrap();
        assert_eq!(
            whole.results[0].identity.as_ref().unwrap().batch_size,
            Some(4)
        );
        let shards: Vec<(String, AttackReport)> = (0..3)
            .map(|index| {
                let shard = Some(Shard { index, count: 3 });
                (format!("s{index}.json"), run(shard, 4).unwrap())
            })
            .collect();
        // 10 images in batches of 4: [0, 4), [4, 8), [8, 10) — by image the cuts were 3 and 6.
        let first_index = |k: usize| shards[k].1.results[0].records[0].index;
        assert_eq!([first_index(0), first_index(1), first_index(2)], [0, 4, 8]);
        let merged = merge(shards.clone()).unwrap();
        assert_eq!(merged.results, whole.results);

        // Shards of another batch size are another run, and say so.
        let mut other = shards.clone();
        other[2].1 = run(Some(Shard { index: 2, count: 3 }), 3).unwrap();
        let e = merge(other).unwrap_err().to_string();
        assert!(
            e.contains("s2.json") && e.contains("batch size 4 → 3"),
            "{e}"
        );
        // A sweep may not run batches other than its identity's.
        let e = Sweep {
            model: &model,
            data: test,
            shard: None,
            batch_size: 3,
            keep_examples: 0,
            context: AttackContext::default(),
            device: &device,
        }
        .run(
            &paper(4),
            &[],
            header(None),
            &mut Recorded::<AttackReport>::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("batch size 4") && e.contains("batches of 3"),
            "{e}"
        );
    }
}
