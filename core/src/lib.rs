//! robustdx-core: measure and improve how well medical image classifiers resist adversarial
//! examples.
//!
//! The crate is backend-agnostic (burn 0.22's run-time `Device` picks wgpu, WebGPU or the CPU
//! backend) and platform-free: it never touches a file system, a terminal or a DOM. Data comes in
//! as bytes through a [`data::FileSource`], results go out as values and serialisable records, so
//! the same code serves the native `robustdx` binary and the WebAssembly page.

#![warn(missing_docs)]

pub mod analysis;
pub mod attack;
pub mod data;
pub mod defense;
pub mod error;
pub mod metrics;
pub mod model;
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
