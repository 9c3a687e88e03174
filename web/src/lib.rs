//! robustdx in the browser. Two programs share this crate: the page (`ui`, Leptos, no tensor
//! code) and a web worker (`worker`) that runs the core on WebGPU, or on burn's CPU backend when
//! the browser offers no adapter, so the page stays responsive while an attack runs. They talk
//! in the messages of `protocol`.

pub mod manifest;
pub mod protocol;
pub mod ui;
pub mod worker;
