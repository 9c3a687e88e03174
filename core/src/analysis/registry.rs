//! The one list of the analyses `analyze` makes, each with its revision. They have no settings
//! of their own (their code decides their numbers), so an analysis's entry is its name, one line
//! and the revision that is bumped when its numbers change: part of every analysis result's
//! identity, so that an upgrade recomputes a result only when one of its analyses changed.

use crate::registry::{Entry, registry};

/// One analysis: what listings show and what identities record.
#[derive(Debug)]
pub struct AnalysisEntry {
    /// The name identities record.
    pub name: &'static str,
    /// One line for listings.
    pub about: &'static str,
    /// See [`Entry::revision`].
    pub revision: u32,
}

impl Entry for AnalysisEntry {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn revision(&self) -> u32 {
        self.revision
    }
}

registry! {
    /// Every analysis, in the order reports show them.
    pub static ANALYSES: Registry<AnalysisEntry> = "analysis" [
        super::feature_shift::ENTRY,
        super::discriminability::ENTRY,
        super::tsne::ENTRY,
        super::label_correlation::ENTRY,
        super::grad_cam::ENTRY,
    ]
}
