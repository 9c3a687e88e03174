//! Checkpoints: the model file, the optimiser state and the run's progress in one file, so an
//! interrupted run resumes exactly where it stopped.
//!
//! Layout: the magic `RDXCKPT2`, then four sections, each a little-endian `u64` length and its
//! bytes: progress (JSON), model (burnpack with card), optimiser state (burnpack), and the best
//! epoch's model so far (burnpack; empty when there is none). `RDXCKPT1` files (the first three
//! sections) still resume.

use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::{BestEpoch, EpochStats, TrainConfig, Trainer};
use crate::model::DiagnosticModel;
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"RDXCKPT2";
const MAGIC_V1: &[u8; 8] = b"RDXCKPT1";

#[derive(Serialize, Deserialize)]
struct Progress {
    config: TrainConfig,
    epoch: usize,
    history: Vec<EpochStats>,
    data_name: String,
    /// Epoch and score of the best model section.
    #[serde(default)]
    best: Option<(usize, f64)>,
}

fn checkpoint_error(file: &str, reason: impl ToString) -> Error {
    Error::Model {
        file: file.to_string(),
        reason: format!("bad checkpoint: {}", reason.to_string()),
    }
}

impl Trainer {
    /// The whole training state as bytes.
    pub fn checkpoint(&self) -> Result<Vec<u8>> {
        let progress = serde_json::to_vec(&Progress {
            config: self.config.clone(),
            epoch: self.epoch,
            history: self.history.clone(),
            data_name: self.data_name.clone(),
            best: self.best.as_ref().map(|b| (b.epoch, b.score)),
        })
        .map_err(|e| Error::invalid(e.to_string()))?;
        // `valid()` first: batch norm's running statistics are only brought up to date by a sync,
        // which saving the training copy directly would skip.
        let model = self.model.valid().to_bytes()?;
        let optimizer = self
            .optimizer
            .into_bytes()
            .map_err(|e| Error::invalid(format!("cannot serialise the optimiser: {e}")))?;
        let best = match &self.best {
            Some(best) => best.model.to_bytes()?,
            None => Vec::new(),
        };
        let mut out = MAGIC.to_vec();
        for section in [&progress[..], &model[..], &optimizer[..], &best[..]] {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        Ok(out)
    }

    /// Restores a trainer from [`Trainer::checkpoint`] bytes onto `device`. `file` names it in
    /// errors.
    pub fn resume(bytes: &[u8], file: &str, device: &Device) -> Result<Self> {
        let (rest, count) = match (bytes.strip_prefix(MAGIC), bytes.strip_prefix(MAGIC_V1)) {
            (Some(rest), _) => (rest, 4),
            (None, Some(rest)) => (rest, 3),
            (None, None) => return Err(checkpoint_error(file, "not a robustdx checkpoint")),
        };
        let mut sections = Vec::with_capacity(count);
        let mut rest = rest;
        for _ in 0..count {
            let (len, tail) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| checkpoint_error(file, "truncated"))?;
            let len = u64::from_le_bytes(*len) as usize;
            if tail.len() < len {
                return Err(checkpoint_error(file, "truncated"));
            }
            let (section, tail) = tail.split_at(len);
            sections.push(section);
            rest = tail;
        }
        let progress: Progress =
            serde_json::from_slice(sections[0]).map_err(|e| checkpoint_error(file, e))?;
        let model = DiagnosticModel::from_bytes(sections[1], file, device)?;
        let mut trainer = Trainer::new(model, progress.config, &progress.data_name, device)?;
        trainer.optimizer = trainer
            .optimizer
            .from_bytes(Bytes::from_bytes_vec(sections[2].to_vec()))
            .map_err(|e| checkpoint_error(file, e))?;
        trainer.epoch = progress.epoch;
        trainer.history = progress.history;
        if let (Some((epoch, score)), Some(bytes)) = (progress.best, sections.get(3))
            && !bytes.is_empty()
        {
            trainer.best = Some(BestEpoch {
                epoch,
                score,
                model: DiagnosticModel::from_bytes(bytes, file, device)?,
            });
        }
        Ok(trainer)
    }
}
