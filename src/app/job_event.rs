//! What the worker threads tell the window (applied once per frame in `events.rs`), and what
//! the window keeps of a loaded checkpoint.

use std::path::PathBuf;

use super::budget::BudgetModel;
use crate::model::arch::Arch;
use crate::model::config::Knobs;
use crate::runner::AnalysisRun;
use crate::video::{RgbFrame, Video};

/// What the UI keeps of a loaded checkpoint (the network itself stays on the worker).
pub struct CheckpointInfo {
    pub path: PathBuf,
    pub arch: Arch,
    pub format: &'static str,
    pub config_source: String,
    pub device: String,
    pub class_names: Vec<String>,
    pub parameters: usize,
    /// The checkpoint's own τ_f, τ_s.
    pub knobs: Knobs,
    /// Cubes per video: the cap of the max-cubes slider; 0 when the arch cannot cap them.
    pub max_cubes: usize,
    /// Why its predictions cannot be trusted: weights that are NaN or infinite.
    pub non_finite: Option<String>,
}

pub enum JobEvent {
    Progress {
        label: String,
        done: usize,
        total: usize,
    },
    VideoOpened {
        video: Video,
        generation: u64,
        /// The strip's frames, whose thumbnails follow.
        strip: Vec<usize>,
    },
    Thumbnails {
        generation: u64,
        frames: Vec<(usize, RgbFrame)>,
        substituted: usize,
    },
    CheckpointLoaded {
        info: Box<CheckpointInfo>,
        /// The calibration set beside it: none, or why it cannot be used.
        calibration: Result<Option<Box<BudgetModel>>, String>,
    },
    /// A run of the model; `partial`: the clips finished so far of a first run (drawn while
    /// the rest runs; the whole run follows).
    Analysed {
        generation: u64,
        run: Box<AnalysisRun>,
        partial: bool,
    },
    Frame {
        generation: u64,
        number: usize,
        image: RgbFrame,
    },
    /// The viewer's frame could not be decoded (it is not asked for again until the playhead
    /// moves).
    FrameFailed {
        generation: u64,
        number: usize,
        error: String,
    },
    Failed {
        what: String,
        error: String,
    },
    FigureWritten {
        path: PathBuf,
    },
    /// A trace logged elsewhere, read with its calibration set (the budget it gives, or why
    /// not), and the video to open it on.
    TraceOpened {
        path: PathBuf,
        video: PathBuf,
        trace: Box<crate::decision::trace::DecisionTrace>,
        budget: Option<Result<Box<super::budget::BudgetModel>, String>>,
    },
    /// A run of logged traces' generic lanes, summed over its videos.
    LoggedLanes {
        dir: PathBuf,
        lanes: Vec<crate::decision::lanes::LaneTotals>,
        /// Row index → frames per category of the run's first categorical lane.
        rows: std::collections::HashMap<usize, Vec<usize>>,
    },
    /// The calibration set of a run of logged traces (its budget, or why not).
    LoggedBudget {
        path: PathBuf,
        budget: Result<Box<super::budget::BudgetModel>, String>,
    },
    /// A batch run read back for the dataset view.
    RunOpened {
        table: std::sync::Arc<crate::batch::table::RunTable>,
    },
    /// A second batch run to compare the open one with, and its checkpoint's calibration set.
    CompareRunOpened {
        table: std::sync::Arc<crate::batch::table::RunTable>,
        prep: Option<Box<crate::decision::PreparedCalibration>>,
    },
    /// A video of the batch the window runs has finished (or failed): its row anew.
    BatchRow {
        dir: PathBuf,
        position: usize,
        row: Box<crate::batch::table::VideoRow>,
    },
    /// A dataset row's thumbnail (`None`: its video could not be decoded there).
    RowThumb {
        run: u64,
        row: usize,
        frame: usize,
        image: Option<RgbFrame>,
    },
    /// Compare mode's run B (with its own checkpoint's info and calibration set when B has its
    /// own checkpoint).
    CompareRan {
        generation: u64,
        run: Box<AnalysisRun>,
        info: Option<Box<CheckpointInfo>>,
        calibration: Result<Option<Box<BudgetModel>>, String>,
        /// The clips finished so far (the whole run follows, with `info` and `calibration`).
        partial: bool,
    },
    CompareFailed {
        generation: u64,
        error: String,
    },
    /// A what-if run of one clip with `edits` (how long the model took, for the status bar).
    WhatIfRan {
        generation: u64,
        clip: usize,
        edits: Vec<crate::runner::Edit>,
        result: Result<Box<crate::runner::WhatIf>, String>,
        ms: f64,
    },
    Cancelled,
}
