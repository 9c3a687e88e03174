//! Reading the page's own files and the visitor's.

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, Response};

fn text_of(e: wasm_bindgen::JsValue) -> String {
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// GETs a file of this page's origin as text.
pub async fn fetch_text(url: &str) -> Result<String, String> {
    let response = JsFuture::from(leptos::prelude::window().fetch_with_str(url))
        .await
        .map_err(|e| format!("{url}: cannot fetch: {}", text_of(e)))?;
    let response: Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(text_of)?)
        .await
        .map_err(text_of)?;
    text.as_string().ok_or_else(|| format!("{url}: not text"))
}

/// The bytes of a file the visitor picked or dropped.
pub async fn file_bytes(file: &File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{}: cannot read: {}", file.name(), text_of(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The text of a file the visitor picked.
pub async fn file_text(file: &File) -> Result<String, String> {
    let text = JsFuture::from(file.text())
        .await
        .map_err(|e| format!("{}: cannot read: {}", file.name(), text_of(e)))?;
    text.as_string()
        .ok_or_else(|| format!("{}: not a text file", file.name()))
}
