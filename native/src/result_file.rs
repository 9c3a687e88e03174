//! What every result-writing command shares: the lock on its result file, the results a resumed
//! run starts from, and the head of a result on a test split (model, data, data identity).

use std::path::{Path, PathBuf};

use anyhow::Context;
use robustdx_core::data::DataSplits;
use robustdx_core::model::DiagnosticModel;
use robustdx_core::report::{DataSummary, ModelSummary};
use robustdx_core::robustness::Shard;

use crate::data_args::DataArgs;

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
pub fn previous_results<R>(
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
    /// The data as result identities name it.
    pub data_identity: String,
}

impl TestSplitHead {
    pub fn new(
        model_file: &Path,
        model: &DiagnosticModel,
        model_sha256: &str,
        args: &DataArgs,
        splits: &DataSplits,
        shard: Option<Shard>,
    ) -> Self {
        let test = splits.test.as_ref();
        let mut summary = ModelSummary::new(&model_file.to_string_lossy(), &model.card);
        summary.sha256 = Some(model_sha256.to_string());
        Self {
            model: summary,
            data: DataSummary {
                name: test.info().name.clone(),
                split: "test".into(),
                samples: test.len(),
                shard,
            },
            data_identity: data_identity(args, &splits.info().name),
        }
    }
}
