//! The page's state in its address (the core's `PageLink`): read when the page opens, written
//! on every change, restored by the browser's back and forward. A moved slider replaces the
//! current entry instead of adding one, so back goes to the previous view, not the previous ε.

use leptos::prelude::*;
use robustdx_core::page_link::PageLink;
use wasm_bindgen::JsValue;

/// The state, and what the address said that the page could not use (shown, not hidden).
#[derive(Clone, Copy)]
pub struct LinkState {
    pub link: RwSignal<PageLink>,
    pub problems: RwSignal<Vec<String>>,
}

fn search() -> String {
    window().location().search().unwrap_or_default()
}

/// Whether `a` and `b` differ in ε alone: a slider's move, not a new view.
fn only_eps_differs(a: &PageLink, b: &PageLink) -> bool {
    a.eps != b.eps
        && PageLink {
            eps: b.eps,
            ..a.clone()
        } == *b
}

impl LinkState {
    /// Reads the address and keeps it in step with the state from now on.
    pub fn start() -> Self {
        let (link, problems) = PageLink::parse(&search());
        let state = Self {
            link: RwSignal::new(link),
            problems: RwSignal::new(problems),
        };
        // None until the first write, which replaces the address it tidied (a dropped bad
        // value, another order) rather than adding a step to go back to.
        let written = StoredValue::new(None::<PageLink>);
        Effect::new(move || {
            let link = state.link.get();
            let query = link.to_query();
            let here = search();
            if here.trim_start_matches('?') == query {
                written.set_value(Some(link));
                return;
            }
            let url = if query.is_empty() {
                window().location().pathname().unwrap_or_default()
            } else {
                format!("?{query}")
            };
            if let Ok(history) = window().history() {
                let replace =
                    written.with_value(|w| w.as_ref().is_none_or(|w| only_eps_differs(w, &link)));
                let _ = if replace {
                    history.replace_state_with_url(&JsValue::NULL, "", Some(&url))
                } else {
                    history.push_state_with_url(&JsValue::NULL, "", Some(&url))
                };
            }
            written.set_value(Some(link));
        });
        let on_pop = window_event_listener(leptos::ev::popstate, move |_| {
            let (link, problems) = PageLink::parse(&search());
            state.problems.set(problems);
            state.link.set(link);
        });
        // The page lives as long as the tab: its listener too.
        std::mem::forget(on_pop);
        state
    }
}
