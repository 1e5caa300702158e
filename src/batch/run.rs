//! `adalens batch`: one DecisionTrace per video in `OUT/traces/KEY.json`, failures in
//! `OUT/failed/KEY.json`, both written atomically; a rerun skips what is there, so a killed run
//! loses at most the videos in flight. The settings of the run are kept in `OUT/batch.json` and
//! a rerun with other settings is refused rather than mixing two runs in one table.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

use super::summary::{row_failed, row_ok, to_csv};
use super::{BatchError, Entry, Shard};
use crate::decision::trace::DecisionTrace;
use crate::decision::{Criterion, ExitRule};
use crate::fsutil::{write_atomic, ResumableDir};
use crate::model::config::Knobs;
use crate::model::load::LoadedModel;
use crate::runner::{run_video, Quiet, RunError};
use crate::video::Video;

/// What produced the results in a folder: a rerun must match it.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSettings {
    pub checkpoint: String,
    pub arch: String,
    pub knobs: Knobs,
    pub exit: Option<ExitRule>,
}

/// What happened to one video.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ran,
    /// Finished by an earlier run.
    AlreadyDone,
    /// Failed in an earlier run (rerun with `retry_failed`).
    AlreadyFailed,
    Failed(String),
}

pub struct BatchOptions<'a> {
    pub out: &'a Path,
    pub shard: Shard,
    /// Videos run at once (each decodes and runs the model; the model is shared).
    pub jobs: usize,
    pub retry_failed: bool,
}

/// Counts of a finished (or cancelled) run and where its summary is.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReport {
    pub ran: usize,
    pub already_done: usize,
    pub failed: usize,
    /// Written when the run was not cancelled.
    pub summary: Option<PathBuf>,
}

#[derive(Serialize, serde::Deserialize)]
struct Failure {
    path: String,
    error: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn trace_path(out: &Path, e: &Entry) -> PathBuf {
    out.join("traces").join(format!("{}.json", e.key))
}

fn failure_path(out: &Path, e: &Entry) -> PathBuf {
    out.join("failed").join(format!("{}.json", e.key))
}

/// The finished trace of `e` in `out`, if there is a readable one for this very video.
fn finished(out: &Path, e: &Entry) -> Option<DecisionTrace> {
    let s = std::fs::read_to_string(trace_path(out, e)).ok()?;
    let t = DecisionTrace::from_json(&s).ok()?;
    (t.video.path == e.path.display().to_string()).then_some(t)
}

fn failed_before(out: &Path, e: &Entry) -> Option<String> {
    let s = std::fs::read_to_string(failure_path(out, e)).ok()?;
    let f: Failure = serde_json::from_str(&s).ok()?;
    (f.path == e.path.display().to_string()).then_some(f.error)
}

/// Run `model` over `entries` (already this shard's share). `progress` is called once per
/// video, from the worker threads. Stops early, without a summary, when `cancel` is set.
pub fn run_batch(
    model: &LoadedModel,
    entries: &[Entry],
    settings: &BatchSettings,
    opts: &BatchOptions,
    progress: &(dyn Fn(&Entry, &Outcome) + Sync),
    cancel: &AtomicBool,
) -> Result<BatchReport, BatchError> {
    let out = opts.out;
    // A rerun with other settings is refused rather than mixing two runs in one table.
    // (As a JSON value: batch.json lists its keys sorted.)
    let want = serde_json::to_value(settings).map_err(|e| BatchError::Summary {
        path: out.join("batch.json"),
        message: e.to_string(),
    })?;
    ResumableDir::open(out, "batch.json", &want, &["traces", "failed"])?;
    let next = AtomicUsize::new(0);
    let counts = [
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ];
    let write_error = parking_lot::Mutex::new(None::<BatchError>);
    let worker = || loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(e) = entries.get(i) else { return };
        let outcome = if finished(out, e).is_some() {
            Outcome::AlreadyDone
        } else if !opts.retry_failed && failed_before(out, e).is_some() {
            Outcome::AlreadyFailed
        } else {
            match run_one(model, e, settings, cancel) {
                Ok(trace) => {
                    let p = trace_path(out, e);
                    match trace.to_json() {
                        Ok(json) => match write_atomic(&p, json.as_bytes()) {
                            Ok(()) => {
                                let _ = std::fs::remove_file(failure_path(out, e));
                                Outcome::Ran
                            }
                            Err(source) => {
                                *write_error.lock() = Some(BatchError::Io { path: p, source });
                                cancel.store(true, Ordering::Relaxed);
                                return;
                            }
                        },
                        Err(err) => Outcome::Failed(err.to_string()),
                    }
                }
                Err(_) if cancel.load(Ordering::Relaxed) => return,
                Err(why) => Outcome::Failed(why),
            }
        };
        if let Outcome::Failed(why) = &outcome {
            let f = Failure {
                path: e.path.display().to_string(),
                error: why.clone(),
            };
            let p = failure_path(out, e);
            let json = serde_json::to_string_pretty(&f).unwrap_or_default();
            if let Err(source) = write_atomic(&p, json.as_bytes()) {
                *write_error.lock() = Some(BatchError::Io { path: p, source });
                cancel.store(true, Ordering::Relaxed);
                return;
            }
        }
        let slot = match outcome {
            Outcome::Ran => 0,
            Outcome::AlreadyDone => 1,
            Outcome::AlreadyFailed | Outcome::Failed(_) => 2,
        };
        counts[slot].fetch_add(1, Ordering::Relaxed);
        progress(e, &outcome);
    };
    std::thread::scope(|s| {
        for _ in 1..opts.jobs.max(1) {
            s.spawn(worker);
        }
        worker();
    });
    if let Some(e) = write_error.into_inner() {
        return Err(e);
    }
    let [ran, already_done, failed] = counts.map(|c| c.into_inner());
    let summary = if cancel.load(Ordering::Relaxed) {
        None
    } else {
        Some(write_summary(out, entries, opts.shard)?)
    };
    Ok(BatchReport {
        ran,
        already_done,
        failed,
        summary,
    })
}

/// One video to its trace; a panic in decoding or the model fails the video, not the run.
fn run_one(
    model: &LoadedModel,
    e: &Entry,
    settings: &BatchSettings,
    cancel: &AtomicBool,
) -> Result<DecisionTrace, String> {
    // Without a rule every clip runs to its last step, and the trace says so.
    let last = ExitRule::last_step(Criterion::Entropy);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let video = Video::open(&e.path).map_err(RunError::from)?;
        run_video(
            model,
            &video,
            &settings.knobs,
            Some(settings.exit.as_ref().unwrap_or(&last)),
            cancel,
            &Quiet,
        )
    }));
    match run {
        Ok(Ok(r)) => Ok(r.inspection.trace),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("internal error (panic) while running this video".into()),
    }
}

/// The summary of the shard from the result files: every entry's row, in list order.
fn write_summary(out: &Path, entries: &[Entry], shard: Shard) -> Result<PathBuf, BatchError> {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| match finished(out, e) {
            Some(t) => row_ok(e, &t),
            None => row_failed(
                e,
                &failed_before(out, e).unwrap_or_else(|| "no result".into()),
            ),
        })
        .collect();
    let path = out.join(format!("summary{}.csv", shard.suffix()));
    write_atomic(&path, to_csv(&rows).as_bytes()).map_err(io(&path))?;
    Ok(path)
}
