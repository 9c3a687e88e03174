//! The robustness card: one model's whole verdict in one versioned artefact, as model cards
//! (Mitchell et al. 2019) are for intended use and RobustBench's per-model entries are for its
//! leaderboard. A card is assembled from the results of the separate runs (the attack sweep,
//! the Robust-Benchmark, the certification, the analysis) that a [`Level`]'s [`Battery`] fixes,
//! so its numbers are theirs and a card never recomputes what a resumed run holds. Cards of the
//! same data and level compare; the [leaderboard](leaderboard) ranks them.

mod assemble;
mod battery;
mod cam_strip;
mod chart;
mod document;
pub mod leaderboard;
mod table_order;
mod tables;
mod verdict;

#[cfg(test)]
mod tests;

pub use assemble::{CardInputs, assemble};
pub use battery::{BATTERY_REVISION, Battery, Level};
pub use cam_strip::{CamThumbnail, cam_strip_svg, cam_thumbnails};
pub use chart::{CardCharts, card_charts};
pub use document::{
    CARD_KIND, CARD_SCHEMA_VERSION, CamPart, CardPart, CleanPart, Provenance, RobustnessCard,
};
pub use table_order::column_order;
pub use tables::{
    CardTable, all_verdicts, attack_table, benchmark_table, clean_table, feature_shift_table,
    per_class_table, provenance_rows, score_cell, separation_table,
};
pub use verdict::{benchmark_verdict, clean_verdict, inside_verdict};
