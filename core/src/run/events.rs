//! What a running run tells its shell, and the loop that runs the units in order.

use super::plan::{Plan, plan};
use super::unit::{Identity, RunReport, Unit};
use crate::Result;

/// What a run tells its shell (the CLI's progress bar and file, the page's view).
pub trait Events<R: RunReport> {
    /// Unit `label` is about to be reused or computed (with `because`, when an earlier result
    /// of it did not match).
    fn unit_start(&mut self, label: &str, plan: &Plan<R::Unit>);
    /// `done` of `total` images of the current unit.
    fn progress(&mut self, done: usize, total: usize);
    /// The report after each unit: the shell writes it, so a killed run loses one unit at most.
    fn unit_done(&mut self, report: &R) -> Result<()>;
}

/// Runs the units `identities` into `report` (whose header the shell filled in) in order,
/// reusing what `previous` holds and computing the rest with `compute` (given the unit's
/// identity and a progress callback).
pub fn run_units<R: RunReport>(
    report: &mut R,
    identities: &[<R::Unit as Unit>::Identity],
    previous: &[R::Unit],
    events: &mut dyn Events<R>,
    mut compute: impl FnMut(
        &<R::Unit as Unit>::Identity,
        &mut dyn FnMut(usize, usize),
    ) -> Result<R::Unit>,
) -> Result<()> {
    report.clear_units();
    for (id, plan) in identities.iter().zip(plan(identities, previous)) {
        events.unit_start(&id.label(), &plan);
        let unit = match plan {
            Plan::Reuse(unit) => *unit,
            Plan::Run { .. } => compute(id, &mut |done, total| events.progress(done, total))?,
        };
        report.push_unit(unit);
        report.units_changed();
        events.unit_done(report)?;
    }
    Ok(())
}
