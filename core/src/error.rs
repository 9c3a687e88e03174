//! One error type for the crate. Every variant that comes from input data names the file (and,
//! where there is one, the row) so that a user can find and fix the problem.

/// Errors raised by robustdx-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read (missing, unreadable).
    #[error("{file}: cannot read: {reason}")]
    Read {
        /// The path as the source was asked for it.
        file: String,
        /// What the source said.
        reason: String,
    },
    /// A file was read but its content is not what it should be (undecodable image, bad npz).
    #[error("{file}: {reason}")]
    Format {
        /// The path of the file.
        file: String,
        /// What is wrong with its content.
        reason: String,
    },
    /// A problem with one row of a table (CSV).
    #[error("{file}, row {row}: {reason}")]
    Row {
        /// The path of the table.
        file: String,
        /// The 1-based line in the file, header included.
        row: usize,
        /// What is wrong with the row.
        reason: String,
    },
    /// A named column is not in a table's header.
    #[error("{file}: no column named '{column}' (columns: {available})")]
    MissingColumn {
        /// The path of the table.
        file: String,
        /// The column asked for.
        column: String,
        /// The header's columns, comma-separated, so the user can pick the right one.
        available: String,
    },
    /// A split of a data set holds no samples.
    #[error("{source_name}: the {split} split is empty")]
    EmptySplit {
        /// The data set as the user named it.
        source_name: String,
        /// Which split, in words (`train`, `test`, `evaluated`).
        split: String,
    },
    /// An invalid setting or argument (data spec, hyper-parameter, model config).
    #[error("{0}")]
    Invalid(String),
    /// A saved model or checkpoint that cannot be used.
    #[error("{file}: {reason}")]
    Model {
        /// The path of the model or checkpoint file.
        file: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl Error {
    /// [`Error::Invalid`] with `message`, which should say what was given and what is allowed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// [`Error::Format`]: `file`'s content is wrong for `reason`.
    pub fn format(file: impl Into<String>, reason: impl ToString) -> Self {
        Error::Format {
            file: file.into(),
            reason: reason.to_string(),
        }
    }

    /// [`Error::Row`]: line `row` of the table `file` is wrong for `reason`.
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
