//! The attack lab: pick a shipped model, a sample or your own image, an attack and ε; watch it.

use leptos::prelude::*;
use robustdx_core::attack::Settings;
use robustdx_core::attack::{ATTACK_INFO, DEFAULT_ATTACK, attack_info};
use robustdx_core::page_link::{PageLink, PageTab, PageView, SampleRef};
use robustdx_core::report::ColourScale;
use robustdx_core::robustness::{SingleImageSettings, open_settings};
use serde_json::Value;
use web_sys::File;

use super::certify::CertifyPanel;
use super::client::WorkerClient;
use super::compare::{CompareColumns, Comparison};
use super::files::file_bytes;
use super::outcome::Outcome;
use super::replay::Replay;
use super::sequence::SequencePanel;
use crate::manifest::{Manifest, ShippedModel, asset_url};
use crate::protocol::MAX_UPLOAD_BYTES;
use crate::protocol::{AttackJob, BackendKind, ImageSource};

/// The image the visitor chose.
#[derive(Debug, Clone, PartialEq)]
pub enum Chosen {
    Sample {
        id: String,
        file: String,
    },
    Upload {
        name: String,
        bytes: Vec<u8>,
        preview: String,
    },
}

impl Chosen {
    /// The image as a job names and sends it: its name, where the worker finds it, and the
    /// visitor's bytes when it is an upload.
    pub fn for_job(&self) -> (String, ImageSource, Option<Vec<u8>>) {
        match self {
            Chosen::Sample { file, .. } => (file.clone(), ImageSource::Url(asset_url(file)), None),
            Chosen::Upload { name, bytes, .. } => {
                (name.clone(), ImageSource::Upload, Some(bytes.clone()))
            }
        }
    }
}

/// The job for `model`, `image` and the settings, as the worker wants it.
pub fn job(
    model: &ShippedModel,
    image: &Chosen,
    settings: SingleImageSettings,
    colour_scale: ColourScale,
) -> (AttackJob, Option<Vec<u8>>) {
    let (image_name, source, upload) = image.for_job();
    let job = AttackJob {
        id: 0,
        model_url: asset_url(&model.file),
        // Fetched only for the attack that runs it.
        generator_url: attack_info(&settings.attack)
            .is_ok_and(|a| a.needs_generator)
            .then(|| model.generator.as_deref().map(asset_url))
            .flatten(),
        image_name,
        image: source,
        settings,
        colour_scale,
        every_frame: false,
    };
    (job, upload)
}

/// The image a link names, if the manifest has it and it suits `model`; else `model`'s first
/// sample.
pub fn linked_sample(
    manifest: &Manifest,
    model: &ShippedModel,
    wanted: Option<&str>,
) -> Option<Chosen> {
    let suits = |s: &&crate::manifest::Sample| s.data == model.data;
    wanted
        .and_then(|id| manifest.sample(id).filter(suits))
        .or_else(|| manifest.samples_for(model).next())
        .map(|s| Chosen::Sample {
            id: s.id.clone(),
            file: s.file.clone(),
        })
}

/// A data URL for showing the visitor's own file before it is attacked.
fn object_url(file: &File) -> String {
    web_sys::Url::create_object_url_with_blob(file).unwrap_or_default()
}

#[component]
pub fn AttackLab(
    client: WorkerClient,
    manifest: RwSignal<Option<Result<Manifest, String>>>,
    link: RwSignal<PageLink>,
) -> impl IntoView {
    view! {
        {move || match manifest.get() {
            None => view! { <p>"Loading the shipped models…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" data-testid="error">{e}</p> }.into_any(),
            Some(Ok(m)) => view! { <Lab client manifest=m link/> }.into_any(),
        }}
    }
}

/// The lab's settings live in the page's link (`link.rs`): a copied address opens the same lab,
/// and back / forward walk its states.
#[component]
fn Lab(client: WorkerClient, manifest: Manifest, link: RwSignal<PageLink>) -> impl IntoView {
    let manifest = StoredValue::new(manifest);
    let model = move || {
        let id = link.with(|l| l.model.clone());
        manifest.with_value(|m| {
            id.and_then(|id| m.model(&id).cloned())
                .unwrap_or_else(|| m.models[0].clone())
        })
    };
    let chosen = RwSignal::new(None::<Chosen>);
    // The link names a sample (or an upload, whose bytes it cannot carry): show that one.
    Effect::new(move || {
        let m = model();
        let wanted = link.with(|l| l.sample.clone());
        let next = match wanted {
            Some(SampleRef::Upload) => {
                if !matches!(chosen.get_untracked(), Some(Chosen::Upload { .. })) {
                    chosen.set(None);
                }
                return;
            }
            Some(SampleRef::Shipped(id)) => {
                manifest.with_value(|all| linked_sample(all, &m, Some(&id)))
            }
            None => manifest.with_value(|all| linked_sample(all, &m, None)),
        };
        if chosen.get_untracked() != next {
            chosen.set(next);
        }
    });
    let attack = Memo::new(move |_| {
        link.with(|l| l.attack.clone())
            .unwrap_or_else(|| DEFAULT_ATTACK.to_string())
    });
    let eps = move || link.with(|l| l.eps).unwrap_or(8.0);
    let steps = move || link.with(|l| l.steps).unwrap_or(10);
    let scale = move || link.with(|l| l.scale).unwrap_or_default();
    let compare_id = move || link.with(|l| l.compare.clone());
    let compare_model =
        move || compare_id().and_then(|id| manifest.with_value(|m| m.model(&id).cloned()));
    let comparison = Comparison::new(client);
    // A link's view (from a tour chapter) brings its panel into sight when the lab opens.
    Effect::new(move || {
        let (tab, view) = link.with(|l| (l.tab, l.view));
        let panel = match view {
            Some(PageView::Sequence) => "lab-sequence",
            Some(PageView::Certify) => "lab-certify",
            _ => return,
        };
        if tab == Some(PageTab::Attack) {
            set_timeout(
                move || {
                    if let Some(e) = document().get_element_by_id(panel) {
                        e.scroll_into_view();
                    }
                },
                std::time::Duration::ZERO,
            );
        }
    });
    // The attack's other settings the visitor changed (the form shows its registry defaults).
    let other = RwSignal::new(Settings::new());
    let upload_error = RwSignal::new(None::<String>);
    let info = |name: &str| attack_info(name).ok();

    let take_file = move |file: File| {
        upload_error.set(None);
        let size = file.size() as usize;
        if size > MAX_UPLOAD_BYTES {
            upload_error.set(Some(format!(
                "{}: {:.1} MB is too large (the page takes images up to {} MB)",
                file.name(),
                size as f64 / 1e6,
                MAX_UPLOAD_BYTES / (1024 * 1024)
            )));
            return;
        }
        let preview = object_url(&file);
        leptos::task::spawn_local(async move {
            match file_bytes(&file).await {
                Ok(bytes) => {
                    chosen.set(Some(Chosen::Upload {
                        name: file.name(),
                        bytes,
                        preview,
                    }));
                    link.update(|l| l.sample = Some(SampleRef::Upload));
                }
                Err(e) => upload_error.set(Some(e)),
            }
        });
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            take_file(file);
        }
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        if let Some(file) = ev
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0))
        {
            take_file(file);
        }
    };
    // Everything a run needs, or the reason it cannot run (said on the page).
    let prepared = move || -> Option<(AttackJob, Option<Vec<u8>>)> {
        let image = chosen.get_untracked()?;
        let settings = SingleImageSettings {
            attack: attack.get_untracked(),
            eps: untrack(eps),
            steps: untrack(steps),
            step_size: None,
            random_start: false,
            settings: other.get_untracked(),
        };
        if let Err(e) = settings.validate() {
            upload_error.set(Some(e.to_string()));
            return None;
        }
        Some(job(&untrack(model), &image, settings, untrack(scale)))
    };
    let run = move |_| {
        let Some((job, upload)) = prepared() else {
            return;
        };
        match untrack(compare_model) {
            Some(second) => {
                let mut other_job = job.clone();
                other_job.model_url = asset_url(&second.file);
                other_job.generator_url = job
                    .generator_url
                    .as_ref()
                    .and(second.generator.as_deref().map(asset_url));
                comparison.start(client, job, other_job, upload);
            }
            None => client.submit(job, upload),
        }
    };
    // A moved ε slider runs a one-step attack again, as long as something ran already: while
    // the slider moves on WebGPU, when it is let go on the CPU (decided by the worker's backend).
    let live = move || {
        untrack(compare_model).is_none()
            && client
                .run
                .with_untracked(|r| r.finished.is_some() || r.running)
            && info(&attack.get_untracked()).is_some_and(|a| !a.stepwise)
    };
    let rerun = move || {
        if live()
            && let Some((job, upload)) = prepared()
        {
            client.submit_latest(job, upload);
        }
    };
    let on_gpu = move || {
        client
            .backend
            .with(|b| b.as_ref().is_some_and(|b| b.kind == BackendKind::Webgpu))
    };

    view! {
        <section class="lab">
            <div class="controls">
                <label>"Model "
                    <select data-testid="model" prop:value=move || model().id on:change=move |ev| {
                        let id = event_target_value(&ev);
                        let generator = manifest.with_value(|m| m.model(&id).is_some_and(|m| m.generator.is_some()));
                        let needs = info(&attack.get_untracked()).is_some_and(|a| a.needs_generator);
                        link.update(|l| {
                            l.model = Some(id);
                            if l.sample != Some(SampleRef::Upload) {
                                l.sample = None;
                            }
                            if !generator && needs {
                                l.attack = None;
                            }
                        });
                    }>
                        {manifest.with_value(|m| [("Clean models", false), ("Defended models", true)].map(|(label, defended)| view! {
                            <optgroup label=label>
                                {m.models.iter().filter(|s| s.is_defended() == defended).map(|s| view! {
                                    <option value=s.id.clone() data-training=s.training.clone()>{s.title.clone()}</option>
                                }).collect_view()}
                            </optgroup>
                        }).collect_view())}
                    </select>
                </label>
                <p class="note">{move || model().about}</p>
                <p class="note" data-testid="model-training">
                    <strong>{move || if model().is_defended() { "Defended: " } else { "Clean training: " }}</strong>
                    {move || model().recipe.unwrap_or_else(|| model().training)}
                </p>
                <div class="samples" data-testid="samples">
                    {move || {
                        let m = model();
                        manifest.with_value(|all| all.samples_for(&m).map(|s| {
                            let pick = Chosen::Sample { id: s.id.clone(), file: s.file.clone() };
                            let selected = { let pick = pick.clone(); move || chosen.get().as_ref() == Some(&pick) };
                            view! {
                                <button class="sample" class:active=selected data-testid=format!("sample-{}", s.id)
                                    title=s.truth.clone() aria-label=format!("sample {}: {}", s.id, s.truth)
                                    on:click={ let id = s.id.clone(); move |_| link.update(|l| l.sample = Some(SampleRef::Shipped(id.clone()))) }>
                                    <img src=asset_url(&s.file) width="64" height="64" alt=s.truth.clone()/>
                                </button>
                            }
                        }).collect_view())
                    }}
                    <label class="drop" data-testid="drop" on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default() on:drop=on_drop>
                        {move || match chosen.get() {
                            Some(Chosen::Upload { name, preview, .. }) => view! { <img src=preview width="64" height="64" alt=name.clone()/><span>{name}</span> }.into_any(),
                            _ => view! { <span>"Drop your image here or click to choose one (it stays in your browser)"</span> }.into_any(),
                        }}
                        <input type="file" accept="image/*" data-testid="upload" on:change=on_pick/>
                    </label>
                </div>
                {move || upload_error.get().map(|e| view! { <p class="error" data-testid="upload-error" role="alert">{e}</p> })}
                <div class="row">
                    <label>"Attack "
                        <select data-testid="attack" prop:value=move || attack.get()
                            on:change=move |ev| {
                                let name = event_target_value(&ev);
                                if let Some(entry) = info(&name) {
                                    other.set(Settings::new());
                                    link.update(|l| {
                                        if let Some(n) = entry.default_steps() { l.steps = Some(n) }
                                        l.attack = Some(name);
                                    });
                                }
                            }>
                            // The core's registry: a new attack shows up here by being registered.
                            {ATTACK_INFO.iter().filter(|entry| entry.on_page).map(|entry| view! {
                                <option value=entry.name title=entry.about
                                    disabled=move || entry.needs_generator && model().generator.is_none()>
                                    {entry.short_name()}
                                </option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>{move || format!("ε = {}/255 ", eps())}
                        <input type="range" min="0" max="32" step="1" data-testid="eps" prop:value=move || eps().to_string()
                            on:input=move |ev| {
                                if let Ok(v) = event_target_value(&ev).parse() {
                                    link.update(|l| l.eps = Some(v));
                                    if untrack(on_gpu) { rerun() }
                                }
                            }
                            on:change=move |_| if !untrack(on_gpu) { rerun() }/>
                    </label>
                    <label class:hidden=move || info(&attack.get()).and_then(|a| a.default_steps()).is_none()>"steps "
                        <input type="number" min="1" max="1000" data-testid="steps" prop:value=move || steps().to_string()
                            on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { link.update(|l| l.steps = Some(v)) } }/>
                    </label>
                    <label>"compare with "
                        <select data-testid="compare" prop:value=move || compare_id().unwrap_or_default()
                            on:change=move |ev| {
                                let id = event_target_value(&ev);
                                link.update(|l| l.compare = (!id.is_empty()).then_some(id));
                            }>
                            <option value="">"no second model"</option>
                            {manifest.with_value(|m| m.models.iter().map(|s| view! {
                                <option value=s.id.clone()>{s.title.clone()}</option>
                            }).collect_view())}
                        </select>
                    </label>
                    // Every other number or switch of the attack's registry entry, at its default.
                    {move || info(&attack.get()).map(|entry| open_settings(entry).into_iter().map(|(key, default)| {
                        setting_input(key, default, other)
                    }).collect_view())}
                    <button class="run" data-testid="run" on:click=run
                        disabled=move || client.backend.get().is_none() || client.run.with(|r| r.running) || chosen.get().is_none()>
                        {move || if client.run.with(|r| r.running) { "Running…" } else { "Run attack" }}
                    </button>
                    <button data-testid="cancel" class:hidden=move || !client.run.with(|r| r.running)
                        on:click=move |_| client.cancel()>"Cancel"</button>
                </div>
            </div>
            {move || match compare_model() {
                Some(second) => view! {
                    <CompareColumns comparison left=Signal::derive(move || model().title) right=Signal::derive(move || second.title.clone())/>
                }.into_any(),
                None => view! {
                    <Outcome client/>
                    <Replay run=client.run.into()/>
                }.into_any(),
            }}
            <div id="lab-certify"><CertifyPanel client model=Signal::derive(model) chosen/></div>
            <div id="lab-sequence"><SequencePanel client model=Signal::derive(model) chosen link/></div>
        </section>
    }
}

/// One registry setting as a form field: a switch, or a number (whole when its default is;
/// empty means the attack's own choice when its default is absent).
fn setting_input(key: String, default: Value, other: RwSignal<Settings>) -> impl IntoView {
    let label = key.replace('_', " ");
    let testid = format!("setting-{key}");
    if let Value::Bool(on) = default {
        return view! {
            <label>{label}" "
                <input type="checkbox" data-testid=testid prop:checked=on
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        other.update(|m| { m.insert(key.clone(), on.into()); });
                    }/>
            </label>
        }
        .into_any();
    }
    let whole = default.is_u64() || default.is_i64();
    let shown = default.as_f64().map(|v| v.to_string()).unwrap_or_default();
    view! {
        <label>{label}" "
            <input type="number" step=if whole { "1" } else { "any" } data-testid=testid
                placeholder=if default.is_null() { "auto" } else { "" } prop:value=shown
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    let value = match whole {
                        true => text.trim().parse::<i64>().ok().map(Value::from),
                        false => text.trim().parse::<f64>().ok().map(Value::from),
                    };
                    other.update(|m| match value {
                        Some(v) => { m.insert(key.clone(), v); }
                        None => { m.remove(&key); }
                    });
                }/>
        </label>
    }
    .into_any()
}
