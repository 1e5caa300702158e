//! `adalens batch`: one DecisionTrace per video in `OUT/traces/KEY.json`, failures in
//! `OUT/failed/KEY.json`, both written atomically; a rerun skips what is there, so a killed run
//! loses at most the videos in flight. The settings of the run are kept in `OUT/batch.json` and
//! a rerun with other settings is refused rather than mixing two runs in one table. At the end
//! the run is also written as `summary.parquet` and `steps.parquet` (`super::parquet`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::summary::{row_failed, row_ok, row_pending, to_csv, STATUS};
use super::{BatchError, Entry, Shard};
use crate::dataset::normalised;
use crate::decision::trace::DecisionTrace;
use crate::decision::{Criterion, ExitRule};
use crate::fsutil::{write_atomic, ResumableDir};
use crate::model::config::Knobs;
use crate::model::load::LoadedModel;
use crate::runner::{run_video, Quiet, RunError};
use crate::video::{Control, DecodeCheck, Video};

/// What produced the results in a folder: a rerun must match it.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSettings {
    pub checkpoint: String,
    pub arch: String,
    pub knobs: Knobs,
    pub exit: Option<ExitRule>,
    /// Every packet of every video decoded to number its frames as the ffmpeg CLI does
    /// (`DecodeCheck::Always`; otherwise files over 300 M pixels are numbered from their
    /// packets). Written only when set, so folders from before it resume as they were.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exact_frames: bool,
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
    /// The shard's summary table (also after a cancelled run: unreached videos say so).
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

/// Whether a result file's recorded path is `e`'s video, however either was spelled.
fn same_video(recorded: &str, e: &Entry) -> bool {
    recorded == e.path.display().to_string()
        || normalised(Path::new(recorded)) == normalised(&e.path)
}

/// The finished trace of `e` in `out`, if there is a readable one for this very video.
fn finished(out: &Path, e: &Entry) -> Option<DecisionTrace> {
    let s = std::fs::read_to_string(trace_path(out, e)).ok()?;
    let t = DecisionTrace::from_json(&s).ok()?;
    same_video(&t.video.path, e).then_some(t)
}

fn failed_before(out: &Path, e: &Entry) -> Option<String> {
    let s = std::fs::read_to_string(failure_path(out, e)).ok()?;
    let f: Failure = serde_json::from_str(&s).ok()?;
    same_video(&f.path, e).then_some(f.error)
}

/// Run `model` over `entries` (already this shard's share). `progress` is called once per
/// video, from the worker threads. Stops early when `cancel` is set; the summary then marks
/// the videos not reached as pending.
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
    let summary = Summary::start(out, entries, opts.shard)?;
    let next = AtomicUsize::new(0);
    let counts = [
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ];
    let worker = || loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(e) = entries.get(i) else { return };
        // What the result files said when the run started (read once, by `Summary::start`).
        let outcome = if summary.status(i) == "ok" {
            Outcome::AlreadyDone
        } else if !opts.retry_failed && summary.status(i) == "failed" {
            Outcome::AlreadyFailed
        } else {
            match run_one(model, e, settings, cancel) {
                Err(_) if cancel.load(Ordering::Relaxed) => return,
                Err(why) => Outcome::Failed(why),
                Ok(trace) => match save_trace(out, e, &trace) {
                    Ok(()) => {
                        summary.set(i, row_ok(e, &trace));
                        Outcome::Ran
                    }
                    // The video's result could not be kept: its failure, not the run's.
                    Err(why) => Outcome::Failed(why),
                },
            }
        };
        if let Outcome::Failed(why) = &outcome {
            let f = Failure {
                path: e.path.display().to_string(),
                error: why.clone(),
            };
            let json = serde_json::to_string_pretty(&f).unwrap_or_default();
            // When even the failure record cannot be written, the summary still says why.
            let _ = write_atomic(&failure_path(out, e), json.as_bytes());
            summary.set(i, row_failed(e, why));
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
    let [ran, already_done, failed] = counts.map(|c| c.into_inner());
    let summary = summary.finish()?;
    // Shards write theirs when merged.
    if opts.shard.count <= 1 {
        super::parquet::write_run(out)?;
    }
    Ok(BatchReport {
        ran,
        already_done,
        failed,
        summary: Some(summary),
    })
}

/// Write `trace` as `e`'s result (atomically) and clear an earlier failure record.
fn save_trace(out: &Path, e: &Entry, trace: &DecisionTrace) -> Result<(), String> {
    let p = trace_path(out, e);
    let json = trace.to_json().map_err(|err| err.to_string())?;
    write_atomic(&p, json.as_bytes())
        .map_err(|err| format!("cannot write its result {}: {err}", p.display()))?;
    let _ = std::fs::remove_file(failure_path(out, e));
    Ok(())
}

/// The shard's `summary.csv`, kept current as the run goes: rows start from the result files
/// already there (videos not reached yet say so), each finished video updates its row, and
/// the file is rewritten atomically at most every [`SUMMARY_EVERY`] and at the end — a run
/// killed late still leaves a table of what it did.
struct Summary {
    path: PathBuf,
    rows: parking_lot::Mutex<(Vec<Vec<String>>, Instant)>,
}

const SUMMARY_EVERY: Duration = Duration::from_secs(2);

impl Summary {
    fn start(out: &Path, entries: &[Entry], shard: Shard) -> Result<Self, BatchError> {
        let rows = entries.iter().map(|e| saved_row(out, e)).collect();
        let s = Summary {
            path: out.join(format!("summary{}.csv", shard.suffix())),
            rows: parking_lot::Mutex::new((rows, Instant::now())),
        };
        s.write()?;
        Ok(s)
    }

    /// The status column of row `i` (`ok`, `failed` or `pending`).
    fn status(&self, i: usize) -> String {
        self.rows
            .lock()
            .0
            .get(i)
            .and_then(|r| r.get(STATUS))
            .cloned()
            .unwrap_or_default()
    }

    fn set(&self, i: usize, row: Vec<String>) {
        let mut guard = self.rows.lock();
        if let Some(r) = guard.0.get_mut(i) {
            *r = row;
        }
        if guard.1.elapsed() >= SUMMARY_EVERY {
            guard.1 = Instant::now();
            // A failed rewrite mid-run is retried by the next one and by the last.
            let _ = write_atomic(&self.path, to_csv(&guard.0).as_bytes());
        }
    }

    fn write(&self) -> Result<(), BatchError> {
        let guard = self.rows.lock();
        write_atomic(&self.path, to_csv(&guard.0).as_bytes()).map_err(io(&self.path))
    }

    fn finish(self) -> Result<PathBuf, BatchError> {
        self.write()?;
        Ok(self.path)
    }
}

/// `e`'s row from the result files in `out`.
pub(crate) fn saved_row(out: &Path, e: &Entry) -> Vec<String> {
    match finished(out, e) {
        Some(t) => row_ok(e, &t),
        None => match failed_before(out, e) {
            Some(why) => row_failed(e, &why),
            None => row_pending(e),
        },
    }
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
        let check = DecodeCheck::exact_if(settings.exact_frames);
        let video =
            Video::open_with(&e.path, check, &Control::default()).map_err(RunError::from)?;
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
