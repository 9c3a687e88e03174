//! robustdx-core: measure and improve how well medical image classifiers resist adversarial
//! examples.
//!
//! Start with a [`model::DiagnosticModel`], a network and the card that says how to feed it
//! (create one fresh, or read a saved or imported file), and an [`attack::AttackSpec`], the one
//! description of an attack at a budget (ε in 1/255 units; images are pixels in [0, 1]). The
//! registries list what there is: [`attack::ATTACKS`], [`defense::DEFENSES`] (training
//! objectives for [`train::Trainer`]), [`perturb::PERTURBATIONS`] (the Robust-Benchmark's
//! everyday corruptions) and [`model::ARCHITECTURES`], all behind the one lookup of
//! [`registry::Registry`]. A sweep ([`robustness::Sweep`]), the benchmark
//! ([`perturb::RobustBenchmark`]) and the analyses ([`analysis`]) are units of the one
//! resumable, shardable [run](run): [`run::plan`] decides what a resumed run reuses, and why it
//! recomputes the rest.
//!
//! The crate is backend-agnostic (burn 0.22's run-time `Device` picks wgpu, WebGPU or the CPU
//! backend) and platform-free: it never touches a file system, a terminal or a DOM. Data comes in
//! as bytes through a [`data::FileSource`], results go out as values and serialisable records, so
//! the same code serves the native `robustdx` binary and the WebAssembly page.

#![warn(missing_docs)]

pub mod analysis;
pub mod attack;
pub mod card;
pub mod certify;
pub mod data;
pub mod defense;
pub mod error;
pub mod metrics;
pub mod model;
pub mod page_link;
pub mod perturb;
pub mod readback;
pub mod registry;
pub mod report;
pub mod robustness;
pub mod run;
pub mod task;
pub mod train;

#[cfg(test)]
mod test_support;

pub use error::{Error, Result};
pub use task::{Label, TaskKind};
