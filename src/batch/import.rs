//! A folder of traces logged elsewhere, as a batch run (`adalens batch --traces DIR`, and
//! the window opening such a folder): the same result folder `adalens batch` writes —
//! `traces/KEY.json`, `failed/`, `summary.csv`, Parquet — so the dataset view, `adalens
//! query`, `adalens diff` and the run's own calibration work on any model's decisions.

use std::path::{Path, PathBuf};

use super::summary::{row_failed, row_ok, to_csv};
use super::{BatchError, Entry};
use crate::dataset::normalised;
use crate::fsutil::{write_atomic, ResumableDir};
use crate::logged::{read_folder, video_of};

/// Where the window keeps the run it makes of a folder of traces.
pub const RUN_IN_TRACES: &str = ".adalens-run";

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub traces: usize,
    /// Videos of the list without a trace (their rows say `failed`).
    pub missing: usize,
    /// Files of the folder not used, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Where the window makes the run of the traces in `dir`: `dir/.adalens-run`, or, when `dir`
/// cannot be written (a read-only dataset), a folder of its own under the system's temporary
/// folder, named after `dir`.
pub fn run_folder_for(dir: &Path) -> PathBuf {
    let beside = dir.join(RUN_IN_TRACES);
    if std::fs::create_dir_all(&beside).is_ok() {
        return beside;
    }
    let name: String = normalised(dir)
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::env::temp_dir().join("adalens-runs").join(name)
}

/// Whether `dir` looks like a folder of traces rather than a batch run.
pub fn is_trace_folder(dir: &Path) -> bool {
    !dir.join("batch.json").is_file()
        && std::fs::read_dir(dir).is_ok_and(|mut it| {
            it.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json")))
        })
}

/// The list that labels a folder of traces when none is given: `labels.csv` or `list.csv`
/// in it.
pub fn default_list(dir: &Path) -> Option<PathBuf> {
    ["labels.csv", "list.csv"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Write the traces of `dir` (labelled by `list`, `path,label` lines) as a batch run in `out`.
/// With a list, rows follow it and its videos without a trace fail; without, rows follow the
/// trace files. A rerun on the same folder writes the run again.
pub fn import_traces(dir: &Path, list: Option<&Path>, out: &Path) -> Result<Imported, BatchError> {
    let folder = read_folder(dir, list).map_err(|e| BatchError::Summary {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let arch = folder
        .traces
        .first()
        .map(|t| t.trace.arch.clone())
        .unwrap_or_default();
    let settings = serde_json::json!({
        "checkpoint": "",
        "arch": arch,
        "traces": normalised(dir).display().to_string(),
        "list": list.map(|l| normalised(l).display().to_string()),
        "exit": null,
    });
    ResumableDir::open(out, "batch.json", &settings, &["traces", "failed"])?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BatchError::Io { path, source }
    };
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    let mut named = std::collections::HashSet::new();
    for (i, lt) in folder.traces.iter().enumerate() {
        let video = video_of(&lt.trace, &lt.file);
        let e = lt.entry.clone().unwrap_or_else(|| Entry {
            index: i,
            path: video.clone(),
            label: None,
            key: lt
                .file
                .file_stem()
                .map_or_else(|| i.to_string(), |s| s.to_string_lossy().into_owned()),
        });
        if !named.insert(e.key.clone()) {
            return Err(BatchError::Summary {
                path: lt.file.clone(),
                message: format!("a second trace of {}", e.path.display()),
            });
        }
        // The run's rows and its traces name the video alike (the dataset view checks).
        let mut trace = lt.trace.clone();
        trace.video.path = e.path.display().to_string();
        let p = out.join("traces").join(format!("{}.json", e.key));
        let json = serde_json::to_vec(&trace).map_err(|err| BatchError::Summary {
            path: lt.file.clone(),
            message: err.to_string(),
        })?;
        write_atomic(&p, &json).map_err(io(&p))?;
        let _ = std::fs::remove_file(out.join("failed").join(format!("{}.json", e.key)));
        rows.push((e.index, row_ok(&e, &trace)));
    }
    let mut missing = 0;
    if let Some(list) = list {
        for e in crate::dataset::entries(list)? {
            if named.contains(&e.key) {
                continue;
            }
            missing += 1;
            let why = format!("no trace in {} names this video", dir.display());
            let f = serde_json::json!({ "path": e.path.display().to_string(), "error": why });
            let p = out.join("failed").join(format!("{}.json", e.key));
            write_atomic(&p, f.to_string().as_bytes()).map_err(io(&p))?;
            rows.push((e.index, row_failed(&e, &why)));
        }
    }
    rows.sort_by_key(|r| r.0);
    let rows: Vec<Vec<String>> = rows.into_iter().map(|r| r.1).collect();
    let summary = out.join("summary.csv");
    write_atomic(&summary, to_csv(&rows).as_bytes()).map_err(io(&summary))?;
    super::parquet::write_run(out)?;
    Ok(Imported {
        traces: folder.traces.len(),
        missing,
        skipped: folder.skipped,
    })
}
