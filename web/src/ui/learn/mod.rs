//! The guided tour, the page's first tab: six short chapters, each a few sentences beside a
//! live view set up to show one idea, which the reader can change. Every chapter's settings are
//! in the page's link, and "Open in the lab" carries them to the lab. The views are the lab's
//! own (outcome, replay, sequence, comparison, certificate), not copies.

mod chapters;

use leptos::prelude::*;
use robustdx_core::page_link::{PageLink, PageTab, SampleRef};
use robustdx_core::report::ColourScale;
use robustdx_core::robustness::SingleImageSettings;

pub use chapters::CHAPTERS;
use chapters::{Chapter, Demo};

use super::attack::{Chosen, job, linked_sample};
use super::certify::CertifyPanel;
use super::client::WorkerClient;
use super::compare::{CompareColumns, Comparison};
use super::outcome::RunOutcome;
use super::replay::Replay;
use super::sequence::{FIRST_KIND, SequencePanel, sequence_job};
use crate::manifest::{Manifest, ShippedModel};
use crate::protocol::{AttackJob, BackendKind};

/// The chapter a link shows (from 1; out of range is the nearest one).
pub fn chapter_of(link: &PageLink) -> usize {
    link.chapter.unwrap_or(1).clamp(1, CHAPTERS.len())
}

/// Opens chapter `n` at its presets, keeping the reader's colour scale and presenter mode.
pub fn open_chapter(link: RwSignal<PageLink>, n: usize) {
    let n = n.clamp(1, CHAPTERS.len());
    link.update(|l| {
        *l = PageLink {
            tab: Some(PageTab::Learn),
            chapter: Some(n),
            scale: l.scale,
            present: l.present,
            ..PageLink::default()
        }
    });
}

/// A chapter's settings: the link's where it has them, else the chapter's presets.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    chapter: usize,
    model: ShippedModel,
    image: Chosen,
    attack: String,
    eps: f32,
    steps: usize,
    seed: u64,
    /// The second model (the defending chapter's).
    compare: Option<ShippedModel>,
    scale: ColourScale,
}

impl Resolved {
    fn of(link: &PageLink, manifest: &Manifest) -> Self {
        let chapter = chapter_of(link);
        let c = &CHAPTERS[chapter - 1];
        let defending = c.demo == Demo::Defending;
        let by_id = |id: &Option<String>| id.as_ref().and_then(|id| manifest.model(id)).cloned();
        // The defending chapter starts from a clean model that has a defended sibling.
        let model = by_id(&link.model).unwrap_or_else(|| {
            let paired = manifest.models.iter().find(|m| {
                !m.is_defended()
                    && manifest
                        .models
                        .iter()
                        .any(|d| d.is_defended() && d.data == m.data)
            });
            let trained = c
                .preset
                .trained_with
                .and_then(|t| manifest.models.iter().find(|m| m.training == t));
            match (defending, paired, trained) {
                (true, Some(m), _) | (_, _, Some(m)) => m.clone(),
                _ => manifest.models[0].clone(),
            }
        });
        let compare = by_id(&link.compare).or_else(|| {
            defending
                .then(|| {
                    manifest
                        .models
                        .iter()
                        .find(|d| d.is_defended() && d.data == model.data)
                        .cloned()
                })
                .flatten()
        });
        let preset_sample = manifest
            .samples_for(&model)
            .nth(c.preset.sample)
            .map(|s| s.id.clone());
        let wanted = match &link.sample {
            Some(SampleRef::Shipped(id)) => Some(id.as_str()),
            _ => preset_sample.as_deref(),
        };
        let image = linked_sample(manifest, &model, wanted)
            .expect("the manifest checks every model has samples");
        let eps = match c.demo.has_eps() {
            true => link.eps.unwrap_or(c.preset.eps),
            false => c.preset.eps,
        };
        Self {
            chapter,
            attack: link
                .attack
                .clone()
                .unwrap_or_else(|| c.preset.attack.to_string()),
            eps,
            steps: link.steps.unwrap_or(c.preset.steps),
            seed: link.seed.unwrap_or(0),
            model,
            image,
            compare,
            scale: link.scale.unwrap_or_default(),
        }
    }

    fn chapter(&self) -> &'static Chapter {
        &CHAPTERS[self.chapter - 1]
    }

    fn attack_job(&self, model: &ShippedModel) -> Result<AttackJob, String> {
        let settings = SingleImageSettings {
            attack: self.attack.clone(),
            eps: self.eps,
            steps: self.steps,
            step_size: None,
            random_start: false,
            settings: Default::default(),
        };
        settings.validate().map_err(|e| e.to_string())?;
        let (mut job, _) = job(model, &self.image, settings, self.scale);
        job.every_frame = self.chapter().demo == Demo::Steps;
        Ok(job)
    }

    /// The lab at these settings.
    fn lab_link(&self, present: bool) -> PageLink {
        let id = match &self.image {
            Chosen::Sample { id, .. } => SampleRef::Shipped(id.clone()),
            Chosen::Upload { .. } => SampleRef::Upload,
        };
        PageLink {
            tab: Some(PageTab::Attack),
            chapter: None,
            model: Some(self.model.id.clone()),
            sample: Some(id),
            attack: Some(self.attack.clone()),
            eps: Some(self.eps),
            steps: Some(self.steps),
            seed: Some(self.seed),
            view: Some(self.chapter().demo.lab_view()),
            compare: self.compare.as_ref().map(|m| m.id.clone()),
            scale: Some(self.scale),
            present,
        }
    }
}

#[component]
pub fn LearnTab(
    client: WorkerClient,
    manifest: RwSignal<Option<Result<Manifest, String>>>,
    link: RwSignal<PageLink>,
) -> impl IntoView {
    view! {
        {move || match manifest.get() {
            None => view! { <p>"Loading the shipped models…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" data-testid="error">{e}</p> }.into_any(),
            Some(Ok(m)) => view! { <Tour client manifest=m link/> }.into_any(),
        }}
    }
}

#[component]
fn Tour(client: WorkerClient, manifest: Manifest, link: RwSignal<PageLink>) -> impl IntoView {
    let manifest = StoredValue::new(manifest);
    let resolved = Memo::new(move |_| link.with(|l| manifest.with_value(|m| Resolved::of(l, m))));
    let chapter_memo = Memo::new(move |_| resolved.with(|r| r.chapter));
    let chapter = move || chapter_memo.get();
    let demo_memo = Memo::new(move |_| resolved.with(|r| r.chapter().demo));
    let demo = move || demo_memo.get();
    let comparison = Comparison::new(client);
    let problem = RwSignal::new(None::<String>);
    let ready = move || client.backend.with(|b| b.is_some());
    let on_gpu = move || {
        client
            .backend
            .with(|b| b.as_ref().is_some_and(|b| b.kind == BackendKind::Webgpu))
    };

    // The chapter's attack: run when the chapter opens and whenever its settings change.
    let run_attack = move |r: &Resolved| {
        problem.set(None);
        let left = match r.attack_job(&r.model) {
            Ok(job) => job,
            Err(e) => return problem.set(Some(e)),
        };
        match (r.chapter().demo, &r.compare) {
            (Demo::Certify, _) => {}
            (Demo::Defending, Some(second)) => match r.attack_job(second) {
                Ok(right) => comparison.start(client, left, right, None),
                Err(e) => problem.set(Some(e)),
            },
            (Demo::Defending, None) => problem.set(Some(format!(
                "no defended model of the data set '{}' ships with the page",
                r.model.data
            ))),
            _ => client.submit_latest(left, None),
        }
    };
    Effect::new(move || {
        let r = resolved.get();
        if ready() {
            untrack(|| run_attack(&r));
        }
    });
    // The everyday chapter's sequence does not depend on ε: it runs when its own settings change.
    let sequence_key = Memo::new(move |_| {
        resolved.with(|r| {
            (r.chapter().demo == Demo::Everyday).then(|| (r.model.clone(), r.image.clone(), r.seed))
        })
    });
    let run_sequence = move || {
        if let Some((model, image, seed)) = sequence_key.get_untracked() {
            let (job, upload) = sequence_job(&model, &image, FIRST_KIND.to_string(), seed);
            client.submit_sequence(job, upload);
        }
    };
    Effect::new(move || {
        if sequence_key.with(|k| k.is_some()) && ready() {
            untrack(run_sequence);
        }
    });
    let run_again = move |_| {
        let r = resolved.get_untracked();
        run_attack(&r);
        if r.chapter().demo == Demo::Everyday {
            run_sequence();
        }
    };

    // The lab's panels read the image and model as signals.
    let chosen = RwSignal::new(None::<Chosen>);
    Effect::new(move || {
        let image = resolved.with(|r| r.image.clone());
        if chosen.get_untracked().as_ref() != Some(&image) {
            chosen.set(Some(image));
        }
    });
    let model = Signal::derive(move || resolved.with(|r| r.model.clone()));

    // ε: live while the slider moves for a one-step attack on WebGPU; else when it is let go.
    let live = move || on_gpu() && matches!(demo(), Demo::SmallestChange | Demo::Everyday);
    let dragged = RwSignal::new(None::<f32>);
    Effect::new(move || {
        resolved.track();
        dragged.set(None);
    });
    let eps_shown = move || dragged.get().unwrap_or_else(|| resolved.with(|r| r.eps));
    let set_eps = move |ev: leptos::ev::Event| {
        if let Ok(v) = event_target_value(&ev).parse::<f32>() {
            link.update(|l| l.eps = Some(v));
        }
    };

    let models = move || manifest.with_value(|m| m.models.clone());
    let samples = move || {
        let model = resolved.with(|r| r.model.clone());
        manifest.with_value(|m| m.samples_for(&model).cloned().collect::<Vec<_>>())
    };
    let sample_id = move || {
        resolved.with(|r| match &r.image {
            Chosen::Sample { id, .. } => id.clone(),
            Chosen::Upload { .. } => String::new(),
        })
    };
    let lab = move || resolved.with(|r| r.lab_link(link.with(|l| l.present)));
    let open_lab = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        link.set(lab());
    };

    let nav = move || {
        CHAPTERS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let n = i + 1;
                view! {
                    <li>
                        <button data-testid=format!("chapter-{n}") class:active=move || chapter() == n
                            aria-current=move || (chapter() == n).then_some("step")
                            on:click=move |_| open_chapter(link, n)>
                            {format!("{n}. {}", c.title)}
                        </button>
                    </li>
                }
            })
            .collect_view()
    };

    let live_view = move || {
        let d = demo();
        let outcome = view! { <RunOutcome run=client.run.into() clean_only=d == Demo::Decision/> };
        match d {
            Demo::Decision | Demo::SmallestChange => outcome.into_any(),
            Demo::Steps => view! { <Replay run=client.run.into()/>{outcome} }.into_any(),
            Demo::Everyday => view! {
                <div class="side-by-side">
                    <div class="column"><SequencePanel client model chosen link/></div>
                    <div class="column"><h3>{move || format!("FGSM at ε = {}/255", resolved.with(|r| r.eps))}</h3>{outcome}</div>
                </div>
            }.into_any(),
            Demo::Defending => view! {
                <CompareColumns comparison
                    left=Signal::derive(move || resolved.with(|r| r.model.title.clone()))
                    right=Signal::derive(move || resolved.with(|r| r.compare.as_ref().map(|m| m.title.clone()).unwrap_or_default()))/>
            }.into_any(),
            Demo::Certify => view! { <CertifyPanel client model chosen/> }.into_any(),
        }
    };

    view! {
        <section class="learn" data-testid="learn" data-chapter=move || chapter().to_string()>
            <nav aria-label="chapters of the tour"><ol class="chapters">{nav}</ol></nav>
            <article class="chapter" aria-live="polite">
                <h2 data-testid="chapter-title">{move || format!("{}. {}", chapter(), resolved.with(|r| r.chapter().title))}</h2>
                <p class="lead">{move || resolved.with(|r| r.chapter().text)}</p>
                <p class="notice" data-testid="chapter-notice"><strong>"What to notice: "</strong>{move || resolved.with(|r| r.chapter().notice)}</p>
                <div class="row controls">
                    <label>"Model "
                        <select data-testid="learn-model" prop:value=move || resolved.with(|r| r.model.id.clone())
                            on:change=move |ev| { let id = event_target_value(&ev); link.update(|l| { l.model = Some(id); l.sample = None; }) }>
                            {move || models().into_iter().map(|m| view! { <option value=m.id.clone()>{m.title.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Image "
                        <select data-testid="learn-sample" prop:value=sample_id
                            on:change=move |ev| { let id = event_target_value(&ev); link.update(|l| l.sample = Some(SampleRef::Shipped(id))) }>
                            {move || samples().into_iter().map(|s| view! { <option value=s.id.clone()>{format!("{} ({})", s.id, s.truth)}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class:hidden=move || !demo().has_eps()>{move || format!("ε = {}/255 ", eps_shown())}
                        <input type="range" min="0" max="32" step="1" data-testid="learn-eps" prop:value=move || eps_shown().to_string()
                            on:input=move |ev| {
                                if live() { set_eps(ev) } else if let Ok(v) = event_target_value(&ev).parse() { dragged.set(Some(v)) }
                            }
                            on:change=set_eps/>
                    </label>
                    <label class:hidden=move || demo() != Demo::Steps>"steps "
                        <input type="number" min="1" max="100" class="narrow" data-testid="learn-steps" prop:value=move || resolved.with(|r| r.steps.to_string())
                            on:change=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { link.update(|l| l.steps = Some(v)) } }/>
                    </label>
                    <button class="run" data-testid="learn-run" data-primary="" class:hidden=move || demo() == Demo::Certify
                        disabled=move || !ready() on:click=run_again>"Run again"</button>
                    <a class="lab-link" data-testid="open-lab" href=move || format!("?{}", lab().to_query()) on:click=open_lab>"Open in the lab →"</a>
                </div>
                {move || problem.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="live" data-testid="chapter-view">{live_view}</div>
                <div class="row pager">
                    <button data-testid="chapter-previous" disabled=move || chapter() == 1
                        on:click=move |_| open_chapter(link, chapter() - 1)>"← previous"</button>
                    <span>{move || format!("chapter {} of {}", chapter(), CHAPTERS.len())}</span>
                    <button data-testid="chapter-next" disabled=move || chapter() == CHAPTERS.len()
                        on:click=move |_| open_chapter(link, chapter() + 1)>"next →"</button>
                </div>
            </article>
        </section>
    }
}
