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
use crate::report::{AttackReport, AttackResult};
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
    fn range(&self) -> Range<usize> {
        self.shard
            .map_or(0..self.data.len(), |s| s.range(self.data.len()))
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
        report.sanity_checks = SANITY_CHECKS.to_vec();
        report.sanity = check_model(self.model, self.data, self.device)?;
        let mut examples = Vec::new();
        run_units(&mut report, identities, previous, events, |id, progress| {
            let attack = id.attack.build(&self.context)?;
            let run = evaluate_attack(
                self.model,
                self.data,
                self.range(),
                attack.as_ref(),
                id.seed,
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
    use crate::test_support::{cpu, rng_lock};

    #[derive(Default)]
    struct Quiet {
        plans: Vec<Plan<AttackResult>>,
        written: usize,
    }

    impl Events<AttackReport> for Quiet {
        fn unit_start(&mut self, _: &str, plan: &Plan<AttackResult>) {
            self.plans.push(plan.clone());
        }
        fn progress(&mut self, _: usize, _: usize) {}
        fn unit_done(&mut self, _: &AttackReport) -> Result<()> {
            self.written += 1;
            Ok(())
        }
    }

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
            model_sha256: "ab".repeat(32),
            data: "synth-chest".into(),
            split: "test".into(),
            seed: 4,
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
        let model = {
            let _rng = rng_lock();
            device.seed(5);
            DiagnosticModel::create("small-cnn", test.info(), 32, Some(4), &device).unwrap()
        };
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
        let mut events = Quiet::default();
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
                .run(&ids, &[], header(shard), &mut Quiet::default())
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
        other[1].1.results[1].identity.as_mut().unwrap().seed = 99;
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
        retrained[0].model_sha256 = "cd".repeat(32);
        match &plan(&retrained, &whole.results)[0] {
            Plan::Run { because: Some(why) } => assert!(why.contains("model sha256"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
