//! Checkpoints: the model file, the optimiser state and the run's progress in one file, so an
//! interrupted run resumes exactly where it stopped.
//!
//! Layout: the magic `RDXCKPT1`, then three sections, each a little-endian `u64` length and its
//! bytes: progress (JSON), model (burnpack with card), optimiser state (burnpack).

use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::{EpochStats, TrainConfig, Trainer};
use crate::model::DiagnosticModel;
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"RDXCKPT1";

#[derive(Serialize, Deserialize)]
struct Progress {
    config: TrainConfig,
    epoch: usize,
    history: Vec<EpochStats>,
    data_name: String,
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
        })
        .map_err(|e| Error::invalid(e.to_string()))?;
        // `valid()` first: batch norm's running statistics are only brought up to date by a sync,
        // which saving the training copy directly would skip.
        let model = self.model.valid().to_bytes()?;
        let optimizer = self
            .optimizer
            .into_bytes()
            .map_err(|e| Error::invalid(format!("cannot serialise the optimiser: {e}")))?;
        let mut out = MAGIC.to_vec();
        for section in [&progress[..], &model[..], &optimizer[..]] {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        Ok(out)
    }

    /// Restores a trainer from [`Trainer::checkpoint`] bytes onto `device`. `file` names it in
    /// errors.
    pub fn resume(bytes: &[u8], file: &str, device: &Device) -> Result<Self> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| checkpoint_error(file, "not a robustdx checkpoint"))?;
        let mut sections = Vec::with_capacity(3);
        let mut rest = rest;
        for _ in 0..3 {
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
        Ok(trainer)
    }
}
