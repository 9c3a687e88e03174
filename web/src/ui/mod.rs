//! The page: a full attack lab, embed modes for web reports (`?embed&model=…` runs an attack,
//! `?embed=card&src=…` shows a robustness card), the shipped zoo's leaderboard, a viewer for
//! native result files and cards, and the synthetic data sets.

mod attack;
mod card;
mod card_embed;
mod certify;
mod client;
mod compare;
mod embed;
mod files;
mod gallery;
mod leaderboard;
mod learn;
mod link;
mod outcome;
mod presenter;
mod replay;
mod sequence;
mod viewer;

use leptos::prelude::*;
use robustdx_core::page_link::PageTab;
use robustdx_core::report::ColourScale;
use web_sys::UrlSearchParams;

pub use client::WorkerClient;

use crate::manifest::{Manifest, asset_url};
use crate::protocol::BackendKind;

/// The page's query parameters.
pub fn query() -> UrlSearchParams {
    let search = window().location().search().unwrap_or_default();
    UrlSearchParams::new_with_str(&search).expect("a query string parses")
}

/// Loads the shipped models and samples once.
fn load_manifest(manifest: RwSignal<Option<Result<Manifest, String>>>) {
    leptos::task::spawn_local(async move {
        let url = asset_url("manifest.json");
        let result = match files::fetch_text(&url).await {
            Ok(text) => Manifest::parse(&text, &url),
            Err(e) => Err(e),
        };
        manifest.set(Some(result));
    });
}

/// Says which backend runs the attacks; the CPU fallback is announced, not hidden.
#[component]
fn BackendNotice(client: WorkerClient) -> impl IntoView {
    let notice = move || {
        client
            .notice
            .get()
            .map(|n| view! { <p class="note" data-testid="worker-notice" role="status">{n}</p> })
    };
    let backend = move || {
        match client.backend.get() {
        None => view! { <p class="backend pending" data-testid="backend" data-backend="">"Starting the worker…"</p> }.into_any(),
        Some(b) if b.kind == BackendKind::Webgpu => view! {
            <p class="backend webgpu" data-testid="backend" data-backend="webgpu">
                "Running on your GPU through WebGPU: " {b.detail}
            </p>
        }.into_any(),
        Some(b) => view! {
            <p class="backend cpu" data-testid="backend" data-backend="cpu">
                <strong>"No WebGPU here"</strong> " (" {b.detail} "): running on the CPU in WebAssembly instead. "
                "Slower, same numbers."
            </p>
        }.into_any(),
    }
    };
    view! { {backend}{notice} }
}

/// The tabs, in the order the page shows them: the tour first.
const TABS: [(PageTab, &str, &str); 5] = [
    (PageTab::Learn, "Learn", "tab-learn"),
    (PageTab::Attack, "Attack a model", "tab-attack"),
    (PageTab::Leaderboard, "Leaderboard", "tab-leaderboard"),
    (PageTab::Viewer, "Open a result file", "tab-viewer"),
    (PageTab::Data, "Synthetic data", "tab-data"),
];

#[component]
pub fn App() -> impl IntoView {
    // A card needs neither the manifest nor the worker.
    if query().get("embed").as_deref() == Some("card") {
        return view! { <card_embed::CardEmbed/> }.into_any();
    }
    let manifest = RwSignal::new(None);
    load_manifest(manifest);
    let embedded = query().has("embed");
    if embedded {
        let client = WorkerClient::start();
        return view! { <embed::EmbedWidget client manifest/> }.into_any();
    }
    let client = WorkerClient::start();
    let state = link::LinkState::start();
    let link = state.link;
    let tab = Memo::new(move |_| link.with(|l| l.tab.unwrap_or(PageTab::Learn)));
    presenter::follow(link);
    // The zoo's cards are fetched when the tab is first opened, and kept.
    let leaderboard_opened = Memo::new(move |opened: Option<&bool>| {
        opened.copied().unwrap_or(false) || tab.get() == PageTab::Leaderboard
    });
    let tabs = TABS.map(|(t, label, id)| {
        view! {
            <button data-testid=id class:active=move || tab.get() == t aria-current=move || (tab.get() == t).then_some("page")
                on:click=move |_| link.update(|l| l.tab = Some(t))>{label}</button>
        }
    });
    view! {
        <header>
            <h1>"robustdx"</h1>
            <p class="note">"Testing and hardening medical image classifiers against adversarial attacks. "
               "Everything on this page runs in your browser; no image leaves your machine."</p>
            <BackendNotice client/>
            {move || {
                let problems = state.problems.get();
                (!problems.is_empty()).then(|| view! {
                    <p class="error" data-testid="link-problems" role="alert">
                        {format!("The link's settings that could not be used: {}", problems.join("; "))}
                    </p>
                })
            }}
        </header>
        <nav class="tabs" aria-label="sections">
            {tabs}
            <span class="spacer"></span>
            <label>"Heat-map colours "
                <select data-testid="colour-scale" prop:value=move || link.with(|l| l.scale.unwrap_or_default().name())
                    on:change=move |ev| {
                        if let Ok(s) = ColourScale::parse(&event_target_value(&ev)) {
                            link.update(|l| l.scale = Some(s));
                        }
                    }>
                    {ColourScale::ALL.map(|s| view! { <option value=s.name()>{s.name()}</option> })}
                </select>
            </label>
            <presenter::PresenterButton link/>
        </nav>
        <main>
            {move || (tab.get() == PageTab::Learn).then(|| view! { <learn::LearnTab client manifest link/> })}
            <div class:hidden=move || tab.get() != PageTab::Attack><attack::AttackLab client manifest link/></div>
            <div class:hidden=move || tab.get() != PageTab::Leaderboard>
                {move || leaderboard_opened.get().then(|| view! { <leaderboard::LeaderboardTab manifest/> })}
            </div>
            <div class:hidden=move || tab.get() != PageTab::Viewer><viewer::ResultsViewer/></div>
            {move || (tab.get() == PageTab::Data).then(|| view! { <gallery::SyntheticGallery/> })}
        </main>
        <footer>{concat!("robustdx ", env!("CARGO_PKG_VERSION"))}
            " · models trained by the robustdx command line on synthetic data; not for clinical use"</footer>
    }
    .into_any()
}
