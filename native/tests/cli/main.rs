//! The `robustdx` binary end to end, one module per feature: small real runs, and bad input that
//! must fail with a message naming the file and the problem — never a panic. One test binary, so
//! one link; the tiny trained models in `util` are made once for all of it.

mod analyze;
mod analyze_resume;
mod attack;
mod attack_image;
mod backend;
mod bench;
mod benchmark;
mod byo_model;
mod card;
mod certify;
mod data;
mod defense;
mod eval;
mod hostile;
mod identity;
mod import;
mod merge;
mod models;
mod predict;
mod sweep_resume;
mod train;
mod util;
