//! A robustness sweep: attacks × budgets over a split (or a shard of it), cell by cell. Which
//! cells run and which a resumed sweep reuses is decided here, from the cells' identities, so the
//! CLI and the page agree; the shells only read files, write them and show progress.

use std::ops::Range;

use burn::tensor::Device;

use super::evaluate::{Example, evaluate_attack};
use super::identity::{ResultIdentity, Shard};
use super::sanity::{SANITY_CHECKS, check_attacks, check_model};
use crate::attack::{AttackContext, AttackSpec};
use crate::data::Dataset;
use crate::model::DiagnosticModel;
use crate::report::{AttackReport, AttackResult};
use crate::{Error, Result};

/// What a sweep does with one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellPlan {
    /// The previous run holds this exact result.
    Reuse(Box<AttackResult>),
    /// Compute it; `because` says why an earlier result of the same attack and ε does not do.
    Run { because: Option<String> },
}

/// Decides each cell's fate from what `previous` holds (a resumed sweep's file).
pub fn plan_cells(identities: &[ResultIdentity], previous: &[AttackResult]) -> Vec<CellPlan> {
    identities
        .iter()
        .map(|id| {
            if let Some(r) = previous.iter().find(|r| r.identity.as_ref() == Some(id)) {
                return CellPlan::Reuse(Box::new(r.clone()));
            }
            let same_cell = previous
                .iter()
                .find(|r| r.attack == id.attack.attack && r.eps == id.attack.eps);
            let because = same_cell.map(|r| match &r.identity {
                None => "it was recorded without an identity (an older robustdx)".to_string(),
                Some(old) => old.differences(id).join(", "),
            });
            CellPlan::Run { because }
        })
        .collect()
}

/// What a running sweep tells its shell.
pub trait SweepEvents {
    /// A cell is about to be reused or computed (with `because`, when an earlier result of the
    /// same cell did not match).
    fn cell_start(&mut self, spec: &AttackSpec, plan: &CellPlan);
    /// `done` of `total` images of the current cell.
    fn progress(&mut self, done: usize, total: usize);
    /// The report after each cell: the shell writes it, so a killed sweep loses one cell at
    /// most.
    fn cell_done(&mut self, report: &AttackReport) -> Result<()>;
}

/// One sweep's fixed parts.
pub struct Sweep<'a> {
    pub model: &'a DiagnosticModel,
    /// The whole split; `shard` picks the images.
    pub data: &'a dyn Dataset,
    pub shard: Option<Shard>,
    pub batch_size: usize,
    /// Images per cell kept for the report.
    pub keep_examples: usize,
    pub context: AttackContext<'a>,
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
        events: &mut dyn SweepEvents,
    ) -> Result<(AttackReport, Vec<CellExamples>)> {
        if report.data.shard != self.shard {
            return Err(Error::invalid("the report's shard is not the sweep's"));
        }
        report.sanity_checks = SANITY_CHECKS.to_vec();
        report.sanity = check_model(self.model, self.data, self.device)?;
        let model_flags = report.sanity.len();
        report.results.clear();
        let mut examples = Vec::new();
        for (id, plan) in identities.iter().zip(plan_cells(identities, previous)) {
            events.cell_start(&id.attack, &plan);
            let result = match plan {
                CellPlan::Reuse(result) => *result,
                CellPlan::Run { .. } => {
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
                        &mut |done, total| events.progress(done, total),
                    )?;
                    examples.push((id.attack.clone(), run.examples));
                    AttackResult {
                        attack: id.attack.attack.clone(),
                        eps: id.attack.eps,
                        settings: serde_json::Value::Object(id.attack.settings.clone()),
                        identity: Some(id.clone()),
                        metrics: run.metrics,
                        records: run.records,
                    }
                }
            };
            report.results.push(result);
            report.sanity.truncate(model_flags);
            let attack_flags = check_attacks(&report.results);
            report.sanity.extend(attack_flags);
            events.cell_done(&report)?;
        }
        Ok((report, examples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::{Convention, Goal, Norm};
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::report::{DataSummary, ModelSummary};
    use crate::robustness::merge_shards;
    use crate::test_support::{cpu, rng_lock};

    #[derive(Default)]
    struct Quiet {
        plans: Vec<CellPlan>,
        written: usize,
    }

    impl SweepEvents for Quiet {
        fn cell_start(&mut self, _: &AttackSpec, plan: &CellPlan) {
            self.plans.push(plan.clone());
        }
        fn progress(&mut self, _: usize, _: usize) {}
        fn cell_done(&mut self, _: &AttackReport) -> Result<()> {
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
        let merged = merge_shards(shards.clone()).unwrap();
        assert_eq!(merged.results, whole.results);
        assert_eq!(merged.sanity, whole.sanity);
        assert_eq!(merged.data, whole.data);
        assert!(whole.results[1].metrics.adversarial.auc_macro.is_some());

        let e = merge_shards(shards[..2].to_vec()).unwrap_err().to_string();
        assert!(e.contains("shard 2/3 missing"), "{e}");
        let doubled = vec![shards[0].clone(), shards[1].clone(), shards[1].clone()];
        let e = merge_shards(doubled).unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
        let mut other = shards.clone();
        other[1].1.results[1].identity.as_mut().unwrap().seed = 99;
        let e = merge_shards(other).unwrap_err().to_string();
        assert!(e.contains("s1.json") && e.contains("other settings"), "{e}");

        // Resuming with one cell changed: the others are reused, the changed one says why.
        let mut changed = ids.clone();
        changed[1] = identity("pgd", 4.0, serde_json::json!({"steps": 3}));
        let plans = plan_cells(&changed, &whole.results);
        assert!(matches!(plans[0], CellPlan::Reuse(_)));
        assert!(matches!(plans[2], CellPlan::Reuse(_)));
        match &plans[1] {
            CellPlan::Run { because: Some(why) } => assert!(why.contains("steps 2 → 3"), "{why}"),
            other => panic!("{other:?}"),
        }
        let mut retrained = ids.clone();
        retrained[0].model_sha256 = "cd".repeat(32);
        match &plan_cells(&retrained, &whole.results)[0] {
            CellPlan::Run { because: Some(why) } => assert!(why.contains("model sha256"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
