//! `--backend` and `ROBUSTDX_BACKEND`: the variable picks the backend when the flag is not given.

use crate::util::{BACKEND_VARIABLE, Dir, TinyModel};

#[test]
fn the_help_names_the_variable() {
    let said = Dir::new().robustdx(["--help"]).run_ok();
    assert!(said.contains(BACKEND_VARIABLE), "{said}");
}

#[test]
fn the_variable_picks_the_backend() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let said = dir
        .robustdx(["models", "m.bpk"])
        .env(BACKEND_VARIABLE, "cpu")
        .run_ok();
    assert!(said.contains("backend: cpu (flex), as asked"), "{said}");
}

#[test]
fn without_the_variable_or_the_flag_the_backend_is_chosen_automatically() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let said = dir
        .robustdx(["models", "m.bpk"])
        .env_remove(BACKEND_VARIABLE)
        .run_ok();
    assert!(
        said.contains("backend: ") && !said.contains("as asked"),
        "{said}"
    );
}

/// (An unknown value of the variable is an error even beside the flag: clap checks it.)
#[test]
fn the_flag_wins_over_the_variable() {
    let dir = Dir::new();
    dir.with_model(TinyModel::Derm);
    let said = dir
        .robustdx(["models", "--backend", "cpu", "m.bpk"])
        .env(BACKEND_VARIABLE, "wgpu")
        .run_ok();
    assert!(said.contains("backend: cpu (flex), as asked"), "{said}");
}

#[test]
fn an_unknown_value_of_the_variable_is_an_error_naming_it() {
    let dir = Dir::new();
    dir.robustdx(["models"])
        .env(BACKEND_VARIABLE, "tpu")
        .fails_with(&["'tpu'", "--backend", "auto", "wgpu", "cpu"]);
}
