//! One error type for the crate. Every variant that comes from input data names the file (and,
//! where there is one, the row) so that a user can find and fix the problem.

/// Errors raised by robustdx-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read (missing, unreadable).
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    /// A file was read but its content is not what it should be (undecodable image, bad npz).
    #[error("{file}: {reason}")]
    Format { file: String, reason: String },
    /// A problem with one row of a table (CSV).
    #[error("{file}, row {row}: {reason}")]
    Row {
        file: String,
        row: usize,
        reason: String,
    },
    /// A named column is not in a table's header.
    #[error("{file}: no column named '{column}' (columns: {available})")]
    MissingColumn {
        file: String,
        column: String,
        available: String,
    },
    /// A split of a data set holds no samples.
    #[error("{source_name}: the {split} split is empty")]
    EmptySplit { source_name: String, split: String },
    /// An invalid setting or argument (data spec, hyper-parameter, model config).
    #[error("{0}")]
    Invalid(String),
    /// A saved model or checkpoint that cannot be used.
    #[error("{file}: {reason}")]
    Model { file: String, reason: String },
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    pub fn format(file: impl Into<String>, reason: impl ToString) -> Self {
        Error::Format {
            file: file.into(),
            reason: reason.to_string(),
        }
    }

    pub fn row(file: impl Into<String>, row: usize, reason: impl ToString) -> Self {
        Error::Row {
            file: file.into(),
            row,
            reason: reason.to_string(),
        }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
