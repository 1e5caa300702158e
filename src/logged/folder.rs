//! A folder of traces logged elsewhere, each matched to its label in a `path,label` list by
//! the video it names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dataset::{normalised, Entry};
use crate::decision::DecisionTrace;

/// At most this many files are looked at in a folder (a folder of a million traces is a
/// dataset; more is a mistake, not a wait).
pub const MAX_FOLDER_FILES: usize = 2_000_000;

/// A trace and the label its video has in the list.
#[derive(Debug, Clone)]
pub struct LabelledTrace {
    pub file: PathBuf,
    pub trace: DecisionTrace,
    /// The list's label of the trace's video (`None` without a list or a label).
    pub label: Option<String>,
    /// The list's entry of that video (its key names its results in a batch folder).
    pub entry: Option<Entry>,
}

/// The traces of a folder, in file-name order, and the files that could not be used.
#[derive(Debug, Clone, Default)]
pub struct TraceFolder {
    pub traces: Vec<LabelledTrace>,
    /// A file and why it was skipped (not a trace, a broken trace, no entry in the list).
    pub skipped: Vec<(PathBuf, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("cannot read the folder {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: more than {MAX_FOLDER_FILES} files")]
    TooMany { path: PathBuf },
    #[error("{0}: no trace in it (`*.json` files in the DecisionTrace format)")]
    Empty(PathBuf),
    #[error(transparent)]
    List(#[from] crate::dataset::DatasetError),
}

/// Read every `*.json` trace directly in `dir`. With `list` (`path,label` lines), each trace
/// gets the label of the video it names (`video.path`, relative paths read from the trace's
/// folder), and a trace of a video the list does not name is skipped.
pub fn read_folder(dir: &Path, list: Option<&Path>) -> Result<TraceFolder, FolderError> {
    let read = |source| FolderError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).map_err(read)? {
        let p = e.map_err(read)?.path();
        if p.extension().is_some_and(|x| x == "json") && p.is_file() {
            files.push(p);
            if files.len() > MAX_FOLDER_FILES {
                return Err(FolderError::TooMany {
                    path: dir.to_path_buf(),
                });
            }
        }
    }
    files.sort();
    let entries: Option<HashMap<PathBuf, Entry>> = list
        .map(crate::dataset::entries)
        .transpose()?
        .map(|es| es.into_iter().map(|e| (normalised(&e.path), e)).collect());
    let mut out = TraceFolder::default();
    for file in files {
        let trace = match super::read_trace(&file) {
            Ok(t) => t,
            Err(why) => {
                out.skipped.push((file, why));
                continue;
            }
        };
        let video = video_of(&trace, &file);
        let entry = match &entries {
            None => None,
            Some(map) => match map.get(&normalised(&video)) {
                Some(e) => Some(e.clone()),
                None => {
                    out.skipped.push((
                        file,
                        format!("its video {} is not in the list", video.display()),
                    ));
                    continue;
                }
            },
        };
        out.traces.push(LabelledTrace {
            file,
            label: entry.as_ref().and_then(|e| e.label.clone()),
            entry,
            trace,
        });
    }
    if out.traces.is_empty() && out.skipped.is_empty() {
        return Err(FolderError::Empty(dir.to_path_buf()));
    }
    Ok(out)
}

/// The video a trace names: a relative path is read from the trace's folder (as
/// `TraceBuilder::save` writes it), else from the working folder.
pub fn video_of(trace: &DecisionTrace, file: &Path) -> PathBuf {
    let p = PathBuf::from(&trace.video.path);
    if p.is_absolute() {
        return p;
    }
    match file.parent().map(|d| d.join(&p)) {
        Some(beside) if beside.exists() || !p.exists() => beside,
        _ => p,
    }
}
