//! The one error type of the decision layer.
//!
//! Everything that can go wrong here is either a bad input (a corrupt or foreign calibration file, an
//! inconsistent set built in memory) or a bad request (a budget that is not a number, an empty
//! split). Both are reported, never panicked on: calibration files come from disk and requests come
//! from a GUI slider or a command line.

use std::path::PathBuf;

/// Errors of [`crate::decision`].
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// A calibration file could not be read whole (missing, special, too large, OS error).
    #[error("cannot read calibration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: crate::fsutil::ReadError,
    },
    /// Reading or writing a calibration file failed at the OS level.
    #[error("cannot access calibration file {path}: {source}")]
    Io {
        /// The file that was being read or written.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// What was wrong with the content of a calibration file read from disk.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: Box<DecisionError>,
    },
    /// The bytes do not start with the calibration magic: not one of our files.
    #[error("not an adalens calibration file (bad magic bytes)")]
    BadMagic,
    /// A newer (or unknown) format version; refuse rather than misread it.
    #[error("calibration format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version number stored in the file.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// The file ends before the data its header announces.
    #[error("calibration file is truncated: {0}")]
    Truncated(String),
    /// The trailing checksum does not match the content: the file was damaged.
    #[error("calibration file checksum mismatch (file damaged?)")]
    Checksum,
    /// The content is well-formed bytes but not a consistent calibration set.
    #[error("invalid calibration set: {0}")]
    Invalid(String),
    /// No sample is marked for fitting thresholds.
    #[error("the calibration set has no sample marked for fitting thresholds")]
    EmptyFitSplit,
    /// No sample is marked for evaluation.
    #[error("the calibration set has no sample marked for evaluation")]
    EmptyEvalSplit,
    /// A budget that is NaN or infinite.
    #[error("budget must be a finite number of GFLOPs, got {0}")]
    BadBudget(f64),
    /// A geometric parameter that is negative or NaN.
    #[error("geometric parameter p must be >= 0 (0 = everyone at step 0, inf = everyone at the last step), got {0}")]
    BadP(f64),
    /// Per-step exit counts that do not fit the split they are applied to.
    #[error("exit counts do not match the split: {0}")]
    BadCounts(String),
}

/// Result alias of the decision layer.
pub type Result<T> = std::result::Result<T, DecisionError>;
