//! Runs over many videos (`adalens batch`): a result folder where every finished video has
//! its own file, written atomically, so an interrupted run resumes where it stopped and shards
//! of a cluster job array never collide. The list of videos is [`crate::dataset`]'s.
//!
//! A finished run is read back as a [`table::RunTable`] (the dataset view, `adalens query`),
//! filtered and sorted by [`query`], and also written as Parquet ([`parquet`]).

pub mod compare;
pub mod import;
pub(crate) mod own_labels;
pub mod parquet;
mod parquet_declared;
mod parquet_footer;
pub mod query;
pub mod run;
pub mod summary;
pub mod table;

use std::path::PathBuf;

pub use crate::dataset::{
    entries, shard_of, unknown_labels, Entry, ListEntry, Shard, VIDEO_EXTENSIONS,
};

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Summary { path: PathBuf, message: String },
    #[error(transparent)]
    Folder(#[from] crate::fsutil::ResumeError),
}
