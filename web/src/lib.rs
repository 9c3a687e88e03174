//! robustdx in the browser. Two programs share this crate: the page (`ui`, Leptos, no tensor
//! code) and a web worker (`worker`) that runs the core on WebGPU, or on burn's CPU backend when
//! the browser offers no adapter, so the page stays responsive while an attack runs. They talk
//! in the messages of `protocol`. The worker is behind the `worker` feature: the page is built
//! without it and so without a tensor backend (no cubecl, no flex in its wasm).

pub mod manifest;
pub mod protocol;
pub mod ui;
#[cfg(feature = "worker")]
pub mod worker;
