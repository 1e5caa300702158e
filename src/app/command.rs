//! Side effects the UI asks for. Panels push commands; the app handles them once per frame, so
//! no panel opens files, starts jobs or mutates loaded data directly.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show the file dialog for a video.
    PickVideo,
    OpenVideo(PathBuf),
    /// Open the loaded video again, decoding every packet so that a packet too damaged for
    /// the decoder gets no frame number, as in the ffmpeg CLI (long files skip this on open).
    CheckFrameNumbers,
    /// Show the file dialog for a checkpoint.
    PickCheckpoint,
    OpenCheckpoint(PathBuf),
    /// Save the current DecisionTrace as JSON (file dialog).
    ExportDecisions,
    /// Ask where to save the figure of what is on screen (file dialog).
    ExportFigure,
    /// Write the figure of what is on screen to this .svg, .png or .pdf (a worker thread
    /// decodes the frames and renders it).
    ExportFigureTo(PathBuf),
    /// Show frame `n` (display order).
    Seek(usize),
    /// Move the playhead by this many frames.
    Step(i64),
    /// Jump to the previous (-1) or next (+1) decision point.
    JumpDecision(i64),
    TogglePlay,
    /// τ_f, τ_s or the cube cap moved: re-run the local part.
    Rerun,
    CancelJob,
    /// Go on with a cancelled run from the clips it finished.
    Resume,
    DismissError,
    /// Show the folder dialog for a batch run.
    PickRun,
    /// Ask for a folder of videos (`false`: a `path,label` list) and a result folder, then
    /// run the loaded checkpoint over them.
    PickBatchSource {
        folder: bool,
    },
    /// Run the loaded checkpoint over `source` into `out` (`adalens batch`'s resumable run),
    /// on a worker thread, the rows appearing in the dataset view as videos finish.
    RunBatch {
        source: PathBuf,
        out: PathBuf,
    },
    /// Show the file dialog for a trace logged elsewhere.
    PickTrace,
    /// Open a trace logged elsewhere on its video (or `video`), with no model; the budget
    /// from `calibration` (else `calibration.adlcal` beside the trace).
    OpenTrace {
        trace: PathBuf,
        video: Option<PathBuf>,
        calibration: Option<PathBuf>,
    },
    /// Read a batch run (the folder `adalens batch --out` wrote) into the dataset view; a
    /// folder of logged traces is imported as one first (`batch::import`).
    OpenRun(PathBuf),
    /// Show the folder dialog for a second run to compare the open one with.
    PickCompareRun,
    /// Compare the open run (A) with this one (B), video by video.
    OpenCompareRun(PathBuf),
    /// Open row `i` of the dataset view in the inspector, drawing its stored trace.
    OpenRow(usize),
    /// From the inspector back to the dataset view (its filter, sort and selection kept).
    ShowDataset,
    /// Ask where to save the figure of the selected rows (`adalens figure --grid`'s layout).
    ExportSelection,
    ExportSelectionTo(PathBuf),
    /// Compare mode: run B beside the model's own run A (replacing any B).
    Compare(super::compare::CompareSpec),
    /// Show the file dialog for B's checkpoint.
    PickCompareCheckpoint,
    /// Leave compare mode (a what-if's edits are dropped: back to the model's decisions).
    CloseCompare,
    /// What-if: edit a clip's decisions and run it again.
    WhatIf {
        clip: usize,
        edit: crate::runner::Edit,
    },
}
