//! One module per leaf command: its clap `Args` and its `run`, which reads the flags into the typed
//! job the command's own function runs (`train::train`, `attack::attack`, …), the function
//! `demo` and `compare defenses` call with values of their own.

pub mod analyze;
pub mod attack;
pub mod attacks;
pub mod bench_certify;
pub mod bench_compare;
pub mod bench_kernels;
pub mod bench_models;
pub mod bench_speed;
pub mod benchmark;
pub mod card;
pub mod certify;
pub mod compare_defenses;
pub mod data_export;
pub mod data_perturb;
pub mod data_preview;
pub mod defenses;
pub mod demo;
pub mod eval;
pub mod export;
pub mod gap_train;
pub mod half;
pub mod import;
pub mod leaderboard;
pub mod merge;
pub mod models;
pub mod perturbations;
pub mod predict;
pub mod train;
