//! What every resumable, shardable command (`attack`, `benchmark`, `analyze`) shares: its
//! output flags, the lock on its result file, the units a resumed run starts from, and the head
//! of a result on a test split (model, data, data identity).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use robustdx_core::data::{DataSplits, fingerprint};
use robustdx_core::model::DiagnosticModel;
use robustdx_core::report::{DataSummary, ModelSummary};
use robustdx_core::robustness::{Shard, Subject};
use robustdx_core::run::RunReport;

use crate::data_args::DataArgs;
use crate::files::read;
use crate::progress::CliEvents;

/// The output flags of a resumable, shardable run.
#[derive(Debug, Clone, Args)]
pub struct RunOutput {
    /// Write the result (versioned JSON, per-image records included) here, rewritten after
    /// every unit (attack and ε, perturbation kind, analysis)
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Continue the run recorded in --json: reuse the units whose identity (settings, model file
    /// hash, data, seed) matches, recompute the rest
    #[arg(long, requires = "json")]
    pub resume: bool,
    /// Run only part i of n (0 ≤ i < n) of the images, e.g. --shard $SLURM_ARRAY_TASK_ID/8;
    /// `robustdx merge` joins the parts
    #[arg(long, requires = "json")]
    pub shard: Option<String>,
    /// Also reuse the units of these earlier result files of the same command (whole runs, not
    /// shards) whose identity matches: a sweep or benchmark made before, by hand or by a card
    #[arg(long, value_delimiter = ',')]
    pub reuse: Vec<PathBuf>,
}

impl RunOutput {
    /// `--shard`, parsed.
    pub fn shard(&self) -> anyhow::Result<Option<Shard>> {
        Ok(self.shard.as_deref().map(Shard::parse).transpose()?)
    }

    /// Opens the result file for a run of `shard`: locks it for the run, and reads the units
    /// recorded before when resuming.
    pub fn open<R: RunReport>(&self, shard: Option<Shard>) -> anyhow::Result<ResultFile<R>> {
        let lock = self.json.as_deref().map(ResultLock::acquire).transpose()?;
        let mut previous = previous_results(self.json.as_deref(), self.resume, shard, |path| {
            let report = read_result::<R>(path)?;
            Ok((report.shard(), report.units().to_vec()))
        })?;
        anyhow::ensure!(
            shard.is_none() || self.reuse.is_empty(),
            "--reuse takes whole runs' results into whole runs: run without --shard"
        );
        for path in &self.reuse {
            let report = read_result::<R>(path)?;
            anyhow::ensure!(
                report.shard().is_none(),
                "{}: --reuse takes whole runs; this is shard {} (robustdx merge joins shards)",
                path.display(),
                report.shard().map_or(String::new(), |s| s.to_string())
            );
            previous.extend(report.units().iter().cloned());
        }
        Ok(ResultFile {
            json: self.json.clone(),
            previous,
            _lock: lock,
        })
    }
}

/// A run's result file while the run writes it: held locked, with the units a resumed run may
/// reuse.
pub struct ResultFile<R: RunReport> {
    json: Option<PathBuf>,
    pub previous: Vec<R::Unit>,
    _lock: Option<ResultLock>,
}

impl<R: RunReport> ResultFile<R> {
    /// Progress bars, and the report written (atomically) after every unit.
    pub fn events(&self) -> CliEvents<'_> {
        CliEvents::new(self.json.as_deref())
    }
}

/// A result file of kind `R` (`attack`, `benchmark` or `analyze --json`), any readable schema
/// version.
pub fn read_result<R: RunReport>(path: &Path) -> anyhow::Result<R> {
    let text =
        String::from_utf8(read(path)?).with_context(|| format!("{}: not text", path.display()))?;
    Ok(R::from_json(&text, &path.to_string_lossy())?)
}

/// Holds `path.lock` while a sweep writes `path`: a second process gets a clear error instead
/// of interleaving its cells with ours.
pub struct ResultLock {
    _file: std::fs::File,
}

impl ResultLock {
    pub fn acquire(path: &Path) -> anyhow::Result<Self> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create directory", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot open the lock file", lock_path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "{}: another robustdx process is writing this result (lock: {})",
                path.display(),
                lock_path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("{}: cannot lock", lock_path.display()))
            }
        }
    }
}

/// The data as identities name it: the source with its defaults filled in (`synth-derm` and
/// `synth-derm:n=800` name the same images when 800 is the default) and the options that decide
/// the split.
fn data_identity(args: &DataArgs, source: &str) -> String {
    let mut text = format!(
        "{source} holdout={} split-seed={}",
        args.holdout, args.split_seed
    );
    text.push_str(&args.dicom.identity());
    if let Some(count) = args.test_images {
        text.push_str(&format!(" test-images={count}"));
    }
    if args.data.starts_with("csv:") {
        text.push_str(&format!(
            " images={} id-column={} label-column={} header={}",
            args.images
                .as_ref()
                .map_or(String::new(), |p| p.to_string_lossy().into_owned()),
            args.id_column,
            args.label_column,
            !args.no_header
        ));
    }
    text
}

/// The results recorded in `json` that a resumed run may reuse: none unless resuming and the file
/// exists; an error when it was written for another shard. `read` gives a file's shard and
/// results.
fn previous_results<R>(
    json: Option<&Path>,
    resume: bool,
    shard: Option<Shard>,
    read: impl Fn(&Path) -> anyhow::Result<(Option<Shard>, Vec<R>)>,
) -> anyhow::Result<Vec<R>> {
    let Some(path) = json.filter(|p| resume && p.exists()) else {
        return Ok(Vec::new());
    };
    let (recorded, results) = read(path)?;
    anyhow::ensure!(
        recorded == shard,
        "{}: recorded for shard {}, not {}",
        path.display(),
        recorded.map_or("none".into(), |s| s.to_string()),
        shard.map_or("none".into(), |s| s.to_string())
    );
    Ok(results)
}

/// The head of a result on a data set's test split.
pub struct TestSplitHead {
    pub model: ModelSummary,
    pub data: DataSummary,
    /// What result identities say the results were measured on, but the seed.
    subject: Subject,
}

impl TestSplitHead {
    /// The head, with the fingerprint of the whole test split (a shard too: the shards of one
    /// run fingerprint the same split, so that they merge).
    pub fn new(
        model_file: &Path,
        model: &DiagnosticModel,
        model_sha256: &str,
        args: &DataArgs,
        splits: &DataSplits,
        shard: Option<Shard>,
    ) -> anyhow::Result<Self> {
        let test = splits.test.as_ref();
        let mut summary = ModelSummary::new(&model_file.to_string_lossy(), &model.card);
        summary.sha256 = Some(model_sha256.to_string());
        Ok(Self {
            model: summary,
            data: DataSummary {
                name: test.info().name.clone(),
                split: "test".into(),
                samples: test.len(),
                shard,
                skipped: test.skipped(),
            },
            subject: Subject {
                model_sha256: model_sha256.to_string(),
                data: data_identity(args, &splits.info().name),
                data_fingerprint: Some(fingerprint(test)?),
                split: "test".into(),
                seed: 0,
            },
        })
    }

    /// What a result measured with `seed` was measured on.
    pub fn subject(&self, seed: u64) -> Subject {
        Subject {
            seed,
            ..self.subject.clone()
        }
    }
}
