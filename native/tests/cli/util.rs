//! What every test here shares: a test's own directory ([`Dir`]), [`TestCommand`], which runs the
//! `robustdx` binary there on the CPU backend, and the tiny trained models, made once per test
//! binary.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::LazyLock;

/// A test's own directory, removed when the test ends.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path().join(name)
    }

    pub fn exists(&self, name: impl AsRef<Path>) -> bool {
        self.join(name).exists()
    }

    pub fn write(&self, name: impl AsRef<Path>, contents: impl AsRef<[u8]>) {
        let path = self.join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    pub fn read(&self, name: impl AsRef<Path>) -> Vec<u8> {
        let path = self.join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn read_to_string(&self, name: impl AsRef<Path>) -> String {
        let path = self.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn json(&self, name: impl AsRef<Path>) -> serde_json::Value {
        let name = name.as_ref();
        serde_json::from_str(&self.read_to_string(name))
            .unwrap_or_else(|e| panic!("{}: {e}", name.display()))
    }

    /// `robustdx ARGS`, to be run in this directory.
    pub fn robustdx<I, S>(&self, args: I) -> TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        TestCommand {
            dir: self.path().to_path_buf(),
            args: Vec::new(),
            env: vec![
                (BACKEND_VARIABLE.into(), Some("cpu".into())),
                // Mesa's Vulkan loader complains on every run without one.
                ("XDG_RUNTIME_DIR".into(), Some(std::env::temp_dir().into())),
            ],
        }
        .args(args)
    }

    /// Writes `model`'s file here as `m.bpk` (each test gets its own copy to write beside).
    pub fn with_model(&self, model: TinyModel) -> &Dir {
        self.write("m.bpk", model.bytes());
        self
    }

    /// Writes `limit` images of `data` as PNG files under `out`, one folder per class; returns
    /// the first one's path.
    pub fn export_images(&self, data: &str, limit: usize, out: &str) -> PathBuf {
        self.robustdx(["data", "export", "--data", data, "--out", out])
            .args(["--limit", &limit.to_string()])
            .run_ok();
        first_png(&self.join(out))
    }
}

/// The variable that picks the backend when `--backend` is not given.
pub const BACKEND_VARIABLE: &str = "ROBUSTDX_BACKEND";

/// One run of the `robustdx` binary: its arguments, environment and directory. Cloned to run the
/// same command again with more arguments.
#[derive(Debug, Clone)]
pub struct TestCommand {
    dir: PathBuf,
    args: Vec<OsString>,
    /// Set (`Some`) or removed (`None`) variables.
    env: Vec<(OsString, Option<OsString>)>,
}

impl TestCommand {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> TestCommand {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> TestCommand {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: &str) -> TestCommand {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), None));
        self
    }

    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_robustdx"));
        command.args(&self.args).current_dir(&self.dir);
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command
    }

    pub fn output(&self) -> Output {
        self.command()
            .output()
            .unwrap_or_else(|e| panic!("{self} does not start: {e}"))
    }

    /// Starts the command in the background, its output discarded (for runs a test kills).
    pub fn spawn(&self) -> Child {
        self.command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{self} does not start: {e}"))
    }

    /// Runs and expects success; what it printed, stdout then stderr.
    pub fn run_ok(&self) -> String {
        let output = self.output();
        assert!(
            output.status.success(),
            "{}",
            self.report("expected success", &output)
        );
        text(&output)
    }

    /// Runs and expects success; its stdout alone.
    pub fn stdout_ok(&self) -> String {
        let output = self.output();
        assert!(
            output.status.success(),
            "{}",
            self.report("expected success", &output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs and expects failure with a message, not a panic; what it printed.
    pub fn run_err(&self) -> String {
        let output = self.output();
        assert!(
            !output.status.success(),
            "{}",
            self.report("expected failure", &output)
        );
        let all = text(&output);
        assert!(
            !all.contains("panicked"),
            "{}",
            self.report("expected an error message, not a panic", &output)
        );
        all
    }

    /// Runs and expects failure with a message that holds each of `expected`.
    pub fn fails_with(&self, expected: &[&str]) -> String {
        let all = self.run_err();
        for e in expected {
            assert!(all.contains(e), "{self}: expected '{e}' in:\n{all}");
        }
        all
    }

    fn report(&self, what: &str, output: &Output) -> String {
        format!(
            "{self}: {what}, got {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }
}

/// The command as a shell would show it, with its directory and environment.
impl std::fmt::Display for TestCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (key, value) in &self.env {
            match value {
                Some(value) => write!(f, "{}={} ", key.display(), value.display())?,
                None => write!(f, "(no {}) ", key.display())?,
            }
        }
        write!(f, "robustdx")?;
        for arg in &self.args {
            write!(f, " {}", arg.display())?;
        }
        write!(f, " (in {})", self.dir.display())
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A narrow small-cnn trained for two epochs on 32-pixel synthetic images: made once per test
/// binary, the first time a test asks, and written into each test's directory.
#[derive(Debug, Clone, Copy)]
pub enum TinyModel {
    /// Binary: benign or malignant, trained on [`DERM`].
    Derm,
    /// Multi-label: the chest findings, trained on [`CHEST`].
    Chest,
}

/// The data the derm model trains on (and most tests attack).
pub const DERM: &str = "synth-derm:n=64,test=16,size=32,seed=5";
/// The data the chest model trains on.
pub const CHEST: &str = "synth-chest:n=32,test=9,size=32,seed=2";

impl TinyModel {
    pub fn bytes(self) -> &'static [u8] {
        static DERM_MODEL: LazyLock<Vec<u8>> = LazyLock::new(|| train_tiny(DERM));
        static CHEST_MODEL: LazyLock<Vec<u8>> = LazyLock::new(|| train_tiny(CHEST));
        match self {
            TinyModel::Derm => &DERM_MODEL,
            TinyModel::Chest => &CHEST_MODEL,
        }
    }
}

/// The model file of a narrow small-cnn trained for two epochs on 32-pixel images of `data`.
fn train_tiny(data: &str) -> Vec<u8> {
    let dir = Dir::new();
    dir.robustdx([
        "train",
        "--data",
        data,
        "--image-size",
        "32",
        "--width",
        "8",
    ])
    .args(["--epochs", "2", "--out", "m.bpk"])
    .run_ok();
    dir.read("m.bpk")
}

/// The first PNG under `dir`, depth first.
pub fn first_png(dir: &Path) -> PathBuf {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            return first_png(&path);
        }
        if path.extension().is_some_and(|e| e == "png") {
            return path;
        }
    }
    panic!("no PNG under {}", dir.display())
}

/// A file of the repository's `tests/fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(path)
}
