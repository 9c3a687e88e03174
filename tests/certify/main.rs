//! Randomized smoothing against its reference, locuslab/smoothing (Cohen, Rosenfeld & Kolter
//! 2019): the statistics against the libraries its `core.py` calls (`bounds`), and CERTIFY /
//! PREDICT against its own code on a fixture model (`reference`). The fixtures and the
//! tolerances are described in `tests/fixtures/certify/README.md`.

mod bounds;
mod reference;

use serde_json::Value;

use robustdx_tests::fixtures;

/// A JSON file of `tests/fixtures/certify/`.
fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures("certify").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A JSON number (Python writes integers without a point).
fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}
