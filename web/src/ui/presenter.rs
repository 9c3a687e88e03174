//! Presenter mode (`?present=1`, or its button): full screen where the browser allows it, large
//! type and images, high contrast, and keys for a lecturer at a projector: ← and → walk the
//! tour, Space runs the chapter, Escape leaves.

use leptos::prelude::*;
use robustdx_core::page_link::{PageLink, PageTab};
use wasm_bindgen::JsCast;

use super::learn::{chapter_of, open_chapter};

/// The class on `<html>` the presenter's CSS hangs on (there, so every rem grows with it).
const ROOT_CLASS: &str = "presenter";

fn document() -> web_sys::Document {
    window().document().expect("a page has a document")
}

fn leave_fullscreen() {
    if document().fullscreen_element().is_some() {
        document().exit_fullscreen();
    }
}

/// Whether a key typed at `target` is the field's own (typing a number, moving a slider).
fn typing_into(target: Option<web_sys::EventTarget>) -> bool {
    target
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"))
}

/// Clicks the shown chapter's run button (its `data-primary`), or its certificate's.
fn run_chapter() {
    let button = document()
        .query_selector("[data-testid=\"learn\"] [data-primary]:not(.hidden), [data-testid=\"learn\"] [data-testid=\"certify-run\"]")
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(button) = button {
        button.click();
    }
}

/// Keeps `<html>` and the keys in step with the link's presenter setting, for the page's life.
pub fn follow(link: RwSignal<PageLink>) {
    Effect::new(move || {
        let on = link.with(|l| l.present);
        if let Some(root) = document().document_element() {
            let _ = root.class_list().toggle_with_force(ROOT_CLASS, on);
        }
        if !on {
            leave_fullscreen();
        }
    });
    let keys = window_event_listener(leptos::ev::keydown, move |ev: web_sys::KeyboardEvent| {
        if ev.ctrl_key() || ev.alt_key() || ev.meta_key() {
            return;
        }
        let (present, tab) = link.with_untracked(|l| (l.present, l.tab.unwrap_or(PageTab::Learn)));
        let key = ev.key();
        if key == "Escape" && present {
            link.update(|l| l.present = false);
            return;
        }
        if typing_into(ev.target()) || tab != PageTab::Learn {
            return;
        }
        let chapter = link.with_untracked(chapter_of);
        match key.as_str() {
            "ArrowRight" => open_chapter(link, chapter + 1),
            "ArrowLeft" => open_chapter(link, chapter.saturating_sub(1)),
            // Space keeps scrolling the page outside presenter mode, and presses a focused button.
            " " if present && !focus_on_button() => {
                ev.prevent_default();
                run_chapter();
            }
            _ => {}
        }
    });
    // The browser leaves full screen on its own Escape, which the page never sees.
    let fullscreen = window_event_listener(
        leptos::ev::Custom::new("fullscreenchange"),
        move |_: web_sys::Event| {
            if document().fullscreen_element().is_none() && link.with_untracked(|l| l.present) {
                link.update(|l| l.present = false);
            }
        },
    );
    std::mem::forget((keys, fullscreen));
}

fn focus_on_button() -> bool {
    document()
        .active_element()
        .is_some_and(|e| matches!(e.tag_name().as_str(), "BUTTON" | "A"))
}

#[component]
pub fn PresenterButton(link: RwSignal<PageLink>) -> impl IntoView {
    let toggle = move |_| {
        let on = !link.with_untracked(|l| l.present);
        if on {
            // Allowed only in answer to a click; a page opened with ?present=1 stays in the window.
            let _ = document()
                .document_element()
                .map(|e| e.request_fullscreen());
        }
        link.update(|l| l.present = on);
    };
    view! {
        <button data-testid="presenter" aria-pressed=move || link.with(|l| l.present).to_string() on:click=toggle
            title="Full screen, large type, high contrast; ← → walk the tour, Space runs, Escape leaves">
            {move || if link.with(|l| l.present) { "Leave presenter mode" } else { "Presenter mode" }}
        </button>
    }
}
