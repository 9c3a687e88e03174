//! What the base classifier decided on an image's noisy copies, counted. A single-label model
//! has one vote head (a count per class); a multi-label one has a head per finding (a count of
//! copies deciding it absent, and present), each certified as its own binary classifier.

use serde::{Deserialize, Serialize};

use crate::TaskKind;
use crate::robustness::{Decision, decision};

/// Counts of the decisions on `n` noisy copies of one image, per head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Votes {
    /// Single-label: one head, a count per class. Multi-label: a head per finding, the copies
    /// deciding it `[absent, present]`.
    pub heads: Vec<Vec<u64>>,
}

impl Votes {
    /// No votes yet for a model of `task` with `classes` outputs.
    pub fn empty(task: TaskKind, classes: usize) -> Self {
        let heads = if task.is_multi_label() {
            vec![vec![0; 2]; classes]
        } else {
            vec![vec![0; classes]]
        };
        Self { heads }
    }

    /// Counts the decision the probabilities of one copy imply.
    pub fn add(&mut self, task: TaskKind, probs: &[f32]) {
        match decision(task, probs) {
            Decision::Class(c) => self.heads[0][c] += 1,
            Decision::Findings(findings) => {
                for (head, present) in self.heads.iter_mut().zip(findings) {
                    head[usize::from(present)] += 1;
                }
            }
        }
    }

    /// The copies counted (every head counts each copy once).
    pub fn copies(&self) -> u64 {
        self.heads.first().map_or(0, |h| h.iter().sum())
    }

    /// Adds another batch's counts.
    pub fn merge(&mut self, other: &Votes) {
        for (mine, theirs) in self.heads.iter_mut().zip(&other.heads) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }
}

/// The most voted outcome of a head, the lowest index among ties (NumPy's `argmax`, which the
/// reference takes the selection's guess with).
pub fn most_voted(counts: &[u64]) -> usize {
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_label_copies_vote_for_their_argmax() {
        let mut votes = Votes::empty(TaskKind::MultiClass, 3);
        for probs in [
            [0.2, 0.5, 0.3],
            [0.6, 0.3, 0.1],
            [0.1, 0.1, 0.8],
            [0.3, 0.4, 0.3],
        ] {
            votes.add(TaskKind::MultiClass, &probs);
        }
        assert_eq!(votes.heads, vec![vec![1, 2, 1]]);
        assert_eq!(votes.copies(), 4);
        assert_eq!(most_voted(&votes.heads[0]), 1);
    }

    #[test]
    fn multi_label_copies_vote_per_finding() {
        let mut votes = Votes::empty(TaskKind::MultiLabel, 2);
        votes.add(TaskKind::MultiLabel, &[0.7, 0.2]);
        votes.add(TaskKind::MultiLabel, &[0.9, 0.6]);
        votes.add(TaskKind::MultiLabel, &[0.1, 0.3]);
        assert_eq!(votes.heads, vec![vec![1, 2], vec![2, 1]]);
        let mut more = votes.clone();
        more.merge(&votes);
        assert_eq!(more.heads, vec![vec![2, 4], vec![4, 2]]);
        assert_eq!(more.copies(), 6);
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        assert_eq!(most_voted(&[3, 5, 5, 1]), 1);
        assert_eq!(most_voted(&[0, 0]), 0);
    }
}
