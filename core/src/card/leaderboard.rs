//! The leaderboard: one row per robustness card, ranked as RobustBench ranks (robust accuracy
//! under AutoAttack, then clean accuracy), and only beside cards of the same data (fingerprint)
//! and level: cards of other data or levels go into groups of their own, never one ranking.

use serde::{Deserialize, Serialize};

use super::battery::Level;
use super::document::RobustnessCard;
use crate::attack::AutoAttack;
use crate::report::{CertifiedAt, ToolInfo};
use crate::{Error, Result, TaskKind};

/// What a leaderboard file says it is.
pub const LEADERBOARD_KIND: &str = "robustness-leaderboard";
/// Version of the leaderboard files this build writes.
pub const LEADERBOARD_SCHEMA_VERSION: u32 = 1;

/// Accuracy under AutoAttack at one budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RobustAt {
    /// ε in 1/255 pixel units.
    pub eps: f32,
    /// Robust accuracy (multi-label: exact match) under AutoAttack.
    pub accuracy: f64,
}

/// One model of a leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardRow {
    /// The card file as given (or the page's model id).
    pub card: String,
    /// The model file the card is of.
    pub model: String,
    /// SHA-256 of the model file.
    pub model_sha256: Option<String>,
    /// Its architecture's registry name.
    pub architecture: String,
    /// Binary, multi-class or multi-label.
    pub task: TaskKind,
    /// The defense it was trained with.
    pub defense: String,
    /// Clean accuracy.
    pub clean_accuracy: f64,
    /// Clean macro AUC.
    pub clean_auc: Option<f64>,
    /// Robust accuracy under AutoAttack per budget, ascending.
    pub autoattack: Vec<RobustAt>,
    /// Mean Flip Probability over the Robust-Benchmark's kinds.
    pub mean_flip_probability: f64,
    /// The noise level certified at, when the card has a certification (its first σ).
    pub certified_sigma: Option<f64>,
    /// Certified accuracy at the card's radii for that σ.
    pub certified: Vec<CertifiedAt>,
}

impl LeaderboardRow {
    /// The row of `card`, read from `file`.
    pub fn of(file: &str, card: &RobustnessCard) -> Self {
        let mut autoattack: Vec<RobustAt> = card
            .attacks
            .result
            .results
            .iter()
            .filter(|r| r.attack == AutoAttack::NAME && r.eps > 0.0)
            .map(|r| RobustAt {
                eps: r.eps,
                accuracy: r.metrics.robust_accuracy(),
            })
            .collect();
        autoattack.sort_by(|a, b| a.eps.total_cmp(&b.eps));
        let first_sigma = card
            .certification
            .as_ref()
            .and_then(|c| c.result.results.first());
        Self {
            card: file.into(),
            model: card.model.file.clone(),
            model_sha256: card.model.sha256.clone(),
            architecture: card.model.architecture.clone(),
            task: card.model.task,
            defense: card.defense(),
            clean_accuracy: card.clean.metrics.accuracy,
            clean_auc: card.clean.metrics.auc_macro,
            autoattack,
            mean_flip_probability: card.benchmark.result.mean_flip_probability(),
            certified_sigma: first_sigma.map(|r| r.sigma),
            certified: first_sigma.map_or_else(Vec::new, |r| r.certified_accuracy.clone()),
        }
    }

    /// Robust accuracy under AutoAttack at `eps`, if the card ran it.
    pub fn robust_at(&self, eps: f32) -> Option<f64> {
        self.autoattack
            .iter()
            .find(|r| r.eps == eps)
            .map(|r| r.accuracy)
    }
}

/// Cards that may be ranked side by side: the same images and level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardGroup {
    /// The data set as named on the cards.
    pub data: String,
    /// Fingerprint of the images every card of the group was measured on.
    pub data_fingerprint: String,
    /// The cards' level.
    pub level: Level,
    /// The cards' battery revision.
    pub battery_revision: u32,
    /// The budget the ranking reads: the largest AutoAttack ε every card of the group ran.
    pub ranked_at: Option<f32>,
    /// Ranked: robust accuracy at `ranked_at`, then clean accuracy, highest first.
    pub rows: Vec<LeaderboardRow>,
}

impl LeaderboardGroup {
    /// Every AutoAttack budget any card of the group ran, ascending.
    pub fn budgets(&self) -> Vec<f32> {
        let mut eps: Vec<f32> = self
            .rows
            .iter()
            .flat_map(|r| r.autoattack.iter().map(|a| a.eps))
            .collect();
        eps.sort_by(f32::total_cmp);
        eps.dedup();
        eps
    }

    /// The radii of the first card with a certification.
    pub fn radii(&self) -> Vec<f64> {
        self.rows
            .iter()
            .find(|r| !r.certified.is_empty())
            .map_or_else(Vec::new, |r| r.certified.iter().map(|c| c.radius).collect())
    }

    /// The group as a table: its head and one row of cells per model, in rank order — what the
    /// terminal, the HTML and the page show.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let budgets = self.budgets();
        let radii = self.radii();
        let mut head: Vec<String> = [
            "rank",
            "model",
            "architecture",
            "defense",
            "clean acc",
            "AUC",
        ]
        .map(String::from)
        .to_vec();
        head.extend(budgets.iter().map(|e| format!("AA ε={e}/255")));
        head.push("mean FP".into());
        head.extend(radii.iter().map(|r| format!("cert. r={r}")));
        let cell = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3}"));
        let rows = self
            .rows
            .iter()
            .enumerate()
            .map(|(rank, row)| {
                let mut cells = vec![
                    (rank + 1).to_string(),
                    row.model.clone(),
                    row.architecture.clone(),
                    row.defense.clone(),
                    format!("{:.3}", row.clean_accuracy),
                    cell(row.clean_auc),
                ];
                cells.extend(budgets.iter().map(|&e| cell(row.robust_at(e))));
                cells.push(format!("{:.4}", row.mean_flip_probability));
                cells.extend(radii.iter().map(|&r| {
                    let at = row.certified.iter().find(|c| c.radius == r);
                    match (row.certified_sigma, at) {
                        (Some(sigma), Some(c)) => format!("{:.3} (σ {sigma})", c.accuracy),
                        _ => "–".into(),
                    }
                }));
                cells
            })
            .collect();
        (head, rows)
    }
}

/// `robustdx leaderboard --json`: every card's row, grouped by data and level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// [`LEADERBOARD_KIND`].
    pub kind: String,
    /// [`LEADERBOARD_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// One group per (data fingerprint, level, battery revision), by data name then level.
    pub groups: Vec<LeaderboardGroup>,
}

impl Leaderboard {
    /// The leaderboard of `cards` (each with the name it was read from). Refuses none: cards
    /// that cannot be compared end up in different groups, and the same model file twice in
    /// one group is an error (it would be ranked against itself).
    pub fn new(cards: &[(String, RobustnessCard)]) -> Result<Self> {
        let mut groups: Vec<LeaderboardGroup> = Vec::new();
        for (file, card) in cards {
            let (fingerprint, level, revision) = card.comparable_key();
            let row = LeaderboardRow::of(file, card);
            let group = match groups.iter_mut().find(|g| {
                g.data_fingerprint == fingerprint
                    && g.level == level
                    && g.battery_revision == revision
            }) {
                Some(group) => group,
                None => {
                    groups.push(LeaderboardGroup {
                        data: card.data.name.clone(),
                        data_fingerprint: fingerprint,
                        level,
                        battery_revision: revision,
                        ranked_at: None,
                        rows: Vec::new(),
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            if let Some(twin) = group
                .rows
                .iter()
                .find(|r| r.model_sha256.is_some() && r.model_sha256 == row.model_sha256)
            {
                return Err(Error::invalid(format!(
                    "{file} and {} are cards of the same model file at the same level and data",
                    twin.card
                )));
            }
            group.rows.push(row);
        }
        for group in &mut groups {
            // The largest budget every card ran: ranking at a budget some card lacks would
            // rank it by its absence.
            group.ranked_at = group
                .budgets()
                .into_iter()
                .rfind(|&e| group.rows.iter().all(|r| r.robust_at(e).is_some()));
            let at = group.ranked_at;
            group.rows.sort_by(|a, b| {
                let robust = |r: &LeaderboardRow| at.and_then(|e| r.robust_at(e)).unwrap_or(0.0);
                robust(b)
                    .total_cmp(&robust(a))
                    .then(b.clean_accuracy.total_cmp(&a.clean_accuracy))
                    .then(a.model.cmp(&b.model))
            });
        }
        groups.sort_by(|a, b| a.data.cmp(&b.data).then(a.level.cmp(&b.level)));
        Ok(Self {
            kind: LEADERBOARD_KIND.into(),
            schema_version: LEADERBOARD_SCHEMA_VERSION,
            tool: ToolInfo::this(),
            groups,
        })
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("leaderboards serialise")
    }
}
