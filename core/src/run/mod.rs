//! The resumable, shardable run that the attack sweep, the Robust-Benchmark and the analyses
//! share: a run is a list of units (a sweep's attack × ε cells, the benchmark's perturbation
//! kinds, an analysis), each recorded with the identity of everything that decided its numbers.
//! A resumed run reuses a recorded unit only when its identity matches in full, and says why it
//! recomputes the others; a run split into shards by image joins into the single run's result.
//! Deciding this here, once, keeps the CLI and the page in agreement; the shells only read
//! files, write them and show progress.

mod events;
mod merge;
mod plan;
mod unit;

pub use events::{Events, run_units};
pub use merge::{Indexed, Merge, merge};
pub use plan::{Plan, plan};
pub use unit::{Identity, RunReport, Unit};
