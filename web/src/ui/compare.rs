//! One attack on two models and the same image, side by side: the tour's "defending" chapter
//! (a clean model beside a defended one) and the lab's "compare with". The worker runs one job
//! at a time well, so the second model's job is sent when the first one ends.

use leptos::prelude::*;

use super::client::{RunState, WorkerClient};
use super::outcome::RunOutcome;
use crate::protocol::AttackJob;

/// The two runs of a comparison, as they arrive.
#[derive(Clone, Copy)]
pub struct Comparison {
    pub left: RwSignal<Option<RunState>>,
    pub right: RwSignal<Option<RunState>>,
    /// The ids of the two jobs (0: not sent yet).
    ids: RwSignal<(u32, u32)>,
    second: StoredValue<Option<(AttackJob, Option<Vec<u8>>)>>,
}

impl Comparison {
    /// Follows `client`'s runs, keeping those of this comparison's jobs.
    pub fn new(client: WorkerClient) -> Self {
        let comparison = Self {
            left: RwSignal::new(None),
            right: RwSignal::new(None),
            ids: RwSignal::new((0, 0)),
            second: StoredValue::new(None),
        };
        Effect::new(move || {
            let run = client.run.get();
            let (first, second) = comparison.ids.get_untracked();
            if run.id == 0 {
                return;
            }
            if run.id == first {
                let ended = !run.running;
                comparison.left.set(Some(run));
                if ended
                    && let Some((job, upload)) =
                        comparison.second.try_update_value(|s| s.take()).flatten()
                {
                    client.submit(job, upload);
                    let id = client.run.with_untracked(|r| r.id);
                    comparison.ids.set((first, id));
                }
            } else if run.id == second {
                comparison.right.set(Some(run));
            }
        });
        comparison
    }

    /// Runs `left` and then `right` (the same attack on another model); `upload` is the image's
    /// bytes when it is the visitor's own.
    pub fn start(
        &self,
        client: WorkerClient,
        left: AttackJob,
        right: AttackJob,
        upload: Option<Vec<u8>>,
    ) {
        self.left.set(None);
        self.right.set(None);
        self.second.set_value(Some((right, upload.clone())));
        client.submit(left, upload);
        let id = client.run.with_untracked(|r| r.id);
        self.ids.set((id, 0));
    }
}

/// The comparison's two runs in two columns: images, bars, Grad-CAM and loss for each model.
#[component]
pub fn CompareColumns(
    comparison: Comparison,
    left: Signal<String>,
    right: Signal<String>,
) -> impl IntoView {
    let column =
        |state: RwSignal<Option<RunState>>| Signal::derive(move || state.get().unwrap_or_default());
    view! {
        <div class="compare" data-testid="compare">
            <div class="column" data-testid="compare-left">
                <h3>{left}</h3>
                <RunOutcome run=column(comparison.left)/>
            </div>
            <div class="column" data-testid="compare-right">
                <h3>{right}</h3>
                <RunOutcome run=column(comparison.right)/>
            </div>
        </div>
    }
}
