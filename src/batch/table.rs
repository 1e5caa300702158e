//! A batch run read back: one row per video with what the dataset view and `adalens query`
//! need — the summary's columns and every clip's per-step predictions, so that any exit rule
//! re-decides every video without a model ([`RunTable::decide`]).
//!
//! Per-step predictions come from `steps.parquet` when it covers the video, else from its
//! trace (`traces/KEY.json`): a run in progress, or one written before the Parquet files, opens
//! all the same. A damaged part of a run costs only its rows: [`RunTable::warnings`] names the
//! file and what was wrong, and the rest opens.

use std::path::{Path, PathBuf};

use super::summary::{self, HEADER, KEY, STATUS};
use super::BatchError;
use crate::dataset::class_index;
use crate::decision::trace::{
    exit_step_of, prediction_at, ClassProb, DecisionTrace, StepPrediction,
};
use crate::decision::{Criterion, ExitRule};

/// Most videos in a run this reads (four times Kinetics-400's training set).
pub const MAX_ROWS: usize = 1_000_000;

/// Whether a video ran, failed, or was not reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Ok,
    Failed,
    Pending,
}

impl RowStatus {
    pub fn name(self) -> &'static str {
        match self {
            RowStatus::Ok => "ok",
            RowStatus::Failed => "failed",
            RowStatus::Pending => "pending",
        }
    }
}

/// One clip's predictions after each step, and how many cubes each step has looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSteps {
    pub steps: Vec<StepPrediction>,
    /// Per step: the cubes with order ≤ that step.
    pub cubes_at: Vec<u32>,
    /// Per step: the frame it looked at (its cube's centre; the middle sampled frame for the
    /// glance and for steps without a cube). The dataset view's thumbnail of the exit.
    pub frames: Vec<usize>,
    /// Where the batch stopped this clip (its exit rule, or the last step).
    pub stored_exit: usize,
}

impl ClipSteps {
    pub fn of(clip: &crate::decision::trace::ClipTrace) -> Self {
        let steps = clip.steps.len();
        let cubes_at = (0..steps)
            .map(|s| clip.cubes.iter().filter(|q| q.order <= s).count() as u32)
            .collect();
        let middle = clip
            .frames
            .get(clip.frames.len() / 2)
            .map_or(0, |f| f.frame);
        let frames = (0..steps)
            .map(|s| {
                clip.cubes
                    .iter()
                    .find(|q| s > 0 && q.order == s)
                    .map_or(middle, |q| q.z)
            })
            .collect();
        Self {
            steps: clip.steps.clone(),
            cubes_at,
            frames,
            stored_exit: clip.stop_step().unwrap_or(0),
        }
    }

    /// The step this clip stops at under `exits`.
    pub fn stop(&self, exits: &Exits) -> usize {
        match exits {
            Exits::Stored => self.stored_exit.min(self.steps.len().saturating_sub(1)),
            Exits::Rule(r) => exit_step_of(&self.steps, r.criterion, &r.thresholds),
        }
    }
}

/// One video of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoRow {
    /// Its place in the list the batch ran over.
    pub index: usize,
    pub path: String,
    /// Empty when the list had none.
    pub label: String,
    pub label_class: Option<u32>,
    pub status: RowStatus,
    pub error: String,
    /// Result file stem (`traces/KEY.json`).
    pub key: String,
    pub kept_frames: u32,
    pub sampled_frames: u32,
    pub stages_3d: u32,
    pub stages: u32,
    pub clips: Vec<ClipSteps>,
}

/// Which exits a table is read with.
#[derive(Debug, Clone, PartialEq)]
pub enum Exits {
    /// Where the batch stopped each clip.
    Stored,
    /// Re-decided from the stored steps.
    Rule(ExitRule),
}

/// A video's outcome under some exits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Decided {
    /// The first clip's exit step (`None` for a video without results).
    pub exit_step: Option<u32>,
    /// Steps the first clip has.
    pub steps: Option<u32>,
    /// Every clip up to its exit.
    pub gflops: f64,
    pub cubes_used: u32,
    pub top1: Option<ClassProb>,
    pub correct: Option<bool>,
}

impl VideoRow {
    /// This video under `exits`.
    pub fn decide(&self, exits: &Exits) -> Decided {
        if self.status != RowStatus::Ok || self.clips.is_empty() {
            return Decided::default();
        }
        let mut gflops = 0.0;
        let mut cubes = 0;
        let mut first = None;
        let mut stops = Vec::with_capacity(self.clips.len());
        for c in &self.clips {
            let s = c.stop(exits);
            let Some(step) = c.steps.get(s) else { continue };
            first.get_or_insert(s as u32);
            gflops += step.cumulative_gflops;
            cubes += c.cubes_at.get(s).copied().unwrap_or(0);
            stops.push(step);
        }
        let top1 = if let [one] = stops.as_slice() {
            one.top.first().copied()
        } else {
            prediction_at(stops).first().copied()
        };
        Decided {
            exit_step: first,
            steps: self.clips.first().map(|c| c.steps.len() as u32),
            gflops,
            cubes_used: cubes,
            top1,
            correct: match (self.label_class, top1) {
                (Some(l), Some(t)) => Some(l == t.class),
                _ => None,
            },
        }
    }
}

/// Where the per-step predictions are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepsFrom {
    /// `steps.parquet` for the videos it covers, the traces for the others.
    Any,
    /// Only the traces (writing `steps.parquet` anew).
    Traces,
}

impl VideoRow {
    /// The frame where the first clip stops under `exits` (the dataset view's thumbnail).
    pub fn exit_frame(&self, exits: &Exits) -> Option<usize> {
        let c = self.clips.first()?;
        c.frames.get(c.stop(exits)).copied()
    }
}

/// What produced the run (`batch.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// As `batch.json` names it, resolved from the run's folder when it was relative and is
    /// not found from the working directory.
    pub checkpoint: PathBuf,
    /// τ_f, τ_s and the cube cap the batch ran with.
    pub knobs: Option<crate::model::config::Knobs>,
    pub arch: String,
    /// The exit rule's criterion (entropy without a rule).
    pub criterion: Criterion,
    pub budget: Option<f64>,
    /// The folder of logged traces the run was imported from (`batch::import`); `None` for
    /// a run of a checkpoint.
    pub traces: Option<PathBuf>,
}

/// A batch run, read back.
#[derive(Debug, Clone)]
pub struct RunTable {
    pub dir: PathBuf,
    pub settings: RunSettings,
    pub class_names: Vec<String>,
    pub rows: Vec<VideoRow>,
    /// What could not be read, each naming its file; the rows it concerns say `failed`.
    pub warnings: Vec<String>,
}

impl RunTable {
    /// Read the run in `dir` (the folder `adalens batch --out` wrote).
    pub fn open(dir: &Path) -> Result<Self, BatchError> {
        Self::open_with(dir, StepsFrom::Any, &|_, _| {})
    }

    /// [`RunTable::open`], calling `progress(done, total)` as rows are read.
    pub fn open_with(
        dir: &Path,
        from: StepsFrom,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Self, BatchError> {
        let bad = |path: &Path, message: String| BatchError::Summary {
            path: path.to_path_buf(),
            message,
        };
        let settings_path = dir.join("batch.json");
        if !settings_path.is_file() {
            return Err(bad(
                dir,
                "not an adalens batch run (no batch.json in it; `adalens batch --out` writes one, \
                 and a folder of videos is run with `adalens batch DIR` or the window's \
                 Dataset → Run on a folder…)"
                    .into(),
            ));
        }
        let mut warnings = Vec::new();
        let settings = read_settings(&settings_path)?;
        if !settings.checkpoint.as_os_str().is_empty() && !settings.checkpoint.is_file() {
            warnings.push(format!(
                "{}: its checkpoint {} is missing: the stored decisions open, but the budget \
                 cannot use its calibration set and no video can be re-run",
                settings_path.display(),
                settings.checkpoint.display()
            ));
        }
        let csv_rows = summary_rows(dir, &mut warnings)?;
        let steps_file = dir.join("steps.parquet");
        let mut parquet_steps = match from {
            StepsFrom::Any if steps_file.exists() => super::parquet::read_steps(&steps_file)
                .unwrap_or_else(|e| {
                    warnings.push(format!("{e} (the traces are read instead)"));
                    Default::default()
                }),
            _ => Default::default(),
        };
        let mut table = RunTable {
            dir: dir.to_path_buf(),
            settings,
            class_names: parquet_steps.class_names.clone(),
            rows: Vec::with_capacity(csv_rows.len()),
            warnings,
        };
        let total = csv_rows.len();
        for (n, r) in csv_rows.into_iter().enumerate() {
            let mut row = row_of(&r);
            if row.status == RowStatus::Ok {
                match parquet_steps.clips.remove(&(row.index as u64)) {
                    Some((path, clips)) if path == row.path => row.clips = clips,
                    _ => table.fill_from_trace(&mut row),
                }
            }
            table.rows.push(row);
            if n % 64 == 0 {
                progress(n, total);
            }
        }
        progress(total, total);
        // Labels as classes, once the class names are known.
        for row in &mut table.rows {
            row.label_class = label_class(&row.label, &table.class_names);
        }
        Ok(table)
    }

    /// A run about to start in `dir`: every video of `entries` pending (the window shows it
    /// while [`super::run::run_batch`] fills it in, see [`RunTable::refresh_row`]).
    pub fn starting(
        dir: &Path,
        settings: RunSettings,
        class_names: Vec<String>,
        entries: &[super::Entry],
    ) -> Self {
        let rows = entries
            .iter()
            .map(|e| {
                let mut r = row_of(&summary::row_pending(e));
                r.label_class = label_class(&r.label, &class_names);
                r
            })
            .collect();
        RunTable {
            dir: dir.to_path_buf(),
            settings,
            class_names,
            rows,
            warnings: Vec::new(),
        }
    }

    /// Row `pos` again from `e`'s result files (a run in progress reports each video).
    pub fn refresh_row(&mut self, pos: usize, e: &super::Entry) {
        let mut row = row_of(&super::run::saved_row(&self.dir, e));
        if row.status == RowStatus::Ok {
            self.fill_from_trace(&mut row);
        }
        row.label_class = label_class(&row.label, &self.class_names);
        if let Some(slot) = self.rows.get_mut(pos) {
            *slot = row;
        }
    }

    /// Read `row`'s steps from its trace; a trace that cannot be used fails the row.
    fn fill_from_trace(&mut self, row: &mut VideoRow) {
        let path = self.trace_path(row);
        match read_trace(&path) {
            Ok(t) if t.video.path != row.path => {
                fail(
                    row,
                    &mut self.warnings,
                    &path,
                    format!("is the trace of {}, not of this video", t.video.path),
                );
            }
            Ok(t)
                if !self.class_names.is_empty() && t.class_names != self.class_names
                    || !self.settings.arch.is_empty() && t.arch != self.settings.arch =>
            {
                fail(row, &mut self.warnings, &path, format!(
                    "comes from another model (arch {}, {} classes) than this run's ({}, {} classes)",
                    t.arch,
                    t.class_names.len(),
                    self.settings.arch,
                    self.class_names.len()
                ));
            }
            Ok(t) => {
                if self.class_names.is_empty() {
                    self.class_names = t.class_names.clone();
                }
                row.clips = t.clips.iter().map(ClipSteps::of).collect();
            }
            Err(why) => fail(row, &mut self.warnings, &path, why),
        }
    }

    /// Where `row`'s trace is.
    pub fn trace_path(&self, row: &VideoRow) -> PathBuf {
        self.dir.join("traces").join(format!("{}.json", row.key))
    }

    /// `row`'s whole trace (frames, stages, cubes), for the inspector.
    pub fn trace(&self, row: &VideoRow) -> Result<DecisionTrace, BatchError> {
        let path = self.trace_path(row);
        read_trace(&path).map_err(|message| BatchError::Summary { path, message })
    }

    /// Every row under `exits`, in row order.
    pub fn decide(&self, exits: &Exits) -> Vec<Decided> {
        self.rows.iter().map(|r| r.decide(exits)).collect()
    }

    /// The name of `class` (`class N` without one).
    pub fn class_name(&self, class: u32) -> String {
        self.class_names
            .get(class as usize)
            .cloned()
            .unwrap_or_else(|| format!("class {class}"))
    }

    /// The most steps any clip has (the length an exit rule's thresholds need).
    pub fn max_steps(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| r.clips.iter().map(|c| c.steps.len()))
            .max()
            .unwrap_or(0)
    }
}

/// The class a label names (a class name, or a class number below the count).
fn label_class(label: &str, class_names: &[String]) -> Option<u32> {
    (!label.is_empty())
        .then(|| class_index(label, class_names, class_names.len()))
        .flatten()
}

fn fail(row: &mut VideoRow, warnings: &mut Vec<String>, path: &Path, why: String) {
    let message = format!("{}: {why}", path.display());
    row.status = RowStatus::Failed;
    row.error = message.clone();
    row.clips.clear();
    // One line per file for the first few; a run with thousands of bad traces gets a count.
    if warnings.len() < 20 {
        warnings.push(message);
    }
}

use crate::logged::read_trace;

fn read_settings(path: &Path) -> Result<RunSettings, BatchError> {
    let bad = |message: String| BatchError::Summary {
        path: path.to_path_buf(),
        message,
    };
    let bytes = crate::fsutil::read_limited(path, 1 << 20).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let text = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let exit = v.get("exit");
    let criterion = exit
        .and_then(|e| e.get("criterion"))
        .and_then(|c| serde_json::from_value::<Criterion>(c.clone()).ok())
        .unwrap_or(Criterion::Entropy);
    let mut checkpoint = PathBuf::from(text("checkpoint"));
    // Empty: a run of logged traces (`batch::import`), made without a checkpoint.
    if !checkpoint.as_os_str().is_empty() && checkpoint.is_relative() && !checkpoint.exists() {
        if let Some(beside) = path.parent().map(|d| d.join(&checkpoint)) {
            if beside.exists() {
                checkpoint = beside;
            }
        }
    }
    Ok(RunSettings {
        checkpoint,
        knobs: v
            .get("knobs")
            .and_then(|k| serde_json::from_value(k.clone()).ok()),
        arch: text("arch"),
        criterion,
        budget: exit.and_then(|e| e.get("budget")).and_then(|b| b.as_f64()),
        traces: v.get("traces").and_then(|t| t.as_str()).map(PathBuf::from),
    })
}

/// The summary's rows: `summary.csv`, else the shards' summaries together. Lines that cannot
/// be read (a torn file) are skipped with a warning.
pub(crate) fn summary_rows(
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<Vec<String>>, BatchError> {
    let whole = dir.join("summary.csv");
    let files: Vec<PathBuf> = if whole.is_file() {
        vec![whole]
    } else {
        let mut shards: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| BatchError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("summary.shard-") && n.ends_with(".csv"))
            })
            .collect();
        shards.sort();
        shards
    };
    if files.is_empty() {
        return Err(BatchError::Summary {
            path: dir.to_path_buf(),
            message: "has no summary.csv (nor shard summaries): the batch has not started".into(),
        });
    }
    let mut rows = Vec::new();
    for f in files {
        let (good, bad_lines) = summary::read_csv_lenient(&f)?;
        if bad_lines > 0 {
            warnings.push(format!(
                "{}: {bad_lines} line(s) could not be read (a torn or edited file); the other \
                 rows open",
                f.display()
            ));
        }
        rows.extend(good);
        if rows.len() > MAX_ROWS {
            return Err(BatchError::Summary {
                path: dir.to_path_buf(),
                message: format!("has more than {MAX_ROWS} videos"),
            });
        }
    }
    rows.sort_by_key(|r| r[0].parse::<usize>().unwrap_or(usize::MAX));
    Ok(rows)
}

fn row_of(r: &[String]) -> VideoRow {
    let num = |i: usize| r.get(i).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    let text = |i: usize| r.get(i).cloned().unwrap_or_default();
    let status = match r.get(STATUS).map(String::as_str) {
        Some("ok") => RowStatus::Ok,
        Some("failed") => RowStatus::Failed,
        _ => RowStatus::Pending,
    };
    debug_assert_eq!(HEADER[KEY], "key");
    VideoRow {
        index: r.first().and_then(|v| v.parse().ok()).unwrap_or(0),
        path: text(1),
        label: text(2),
        label_class: None,
        status,
        error: text(4),
        key: text(KEY),
        kept_frames: num(8),
        sampled_frames: num(9),
        stages_3d: num(10),
        stages: num(11),
        clips: Vec::new(),
    }
}
