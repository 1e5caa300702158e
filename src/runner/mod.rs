//! The one way adalens runs a model on a video. Every caller — `inspect`, `figure`, `batch`,
//! `calibrate`, `eval` and the window's worker — goes through here.
//!
//! A run goes video → the frames the checkpoint samples (planned by [`Input::plan`], decoded
//! clip by clip on first use and kept) → the model, clip by clip ([`Session::run`]) → a
//! [`DecisionTrace`](crate::decision::DecisionTrace) plus the raw numbers behind it. Each clip
//! is reported to an [`Observer`] as it finishes, with progress in between, and the run can be
//! cancelled between clips and inside decoding. A [`Session`] stays warm: τ_f, τ_s and the cube
//! cap re-run only the local network on the kept input; exits for a budget are marked
//! afterwards by [`ExitRule`] without running anything.
//!
//! This module is the only one that knows both `video` and `model`; neither imports it.

mod input;
mod session;
mod what_if;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::Serialize;

pub use input::{decode_threads, normalise, resize_of, ClipDecoder, Input};
pub use session::{AnalysisRun, FlopsPart, Session};
pub use what_if::{edited_plan, moved, Edit, EditError, WhatIf};

use crate::decision::trace::{ClipTrace, DecisionTrace};
use crate::decision::{CalibrationSet, ExitRule};
use crate::model::ada3d::{ClipPolicy, ClipRun};
use crate::model::ada3d_focus::Ada3dFocusOutput;
use crate::model::config::Knobs;
use crate::model::load::LoadedModel;
use crate::model::uni_adafocus::{UniAdaFocusFlops, UniAdaFocusOutput};
use crate::video::{Video, VideoError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Video(#[from] VideoError),
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("running the model: {0}")]
    Model(#[from] candle_core::Error),
    #[error("clip {} is not in the video's plan", .0 + 1)]
    NoClip(usize),
    // The calibration error names its file itself.
    #[error("{source}")]
    Calibration {
        path: PathBuf,
        #[source]
        source: crate::decision::DecisionError,
    },
    #[error("{path}: {message}")]
    CalibrationMismatch { path: PathBuf, message: String },
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Edit(#[from] EditError),
}

impl RunError {
    /// Stopped because the user asked (here or inside the decoder).
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            RunError::Cancelled | RunError::Video(VideoError::Cancelled)
        )
    }
}

/// Told what a run is doing, from the thread that runs it (and from decoding threads, hence
/// `Sync`). Both methods do nothing unless overridden.
pub trait Observer: Sync {
    /// `done` of `total` units of the stage `what` (frames decoded, clips run).
    fn progress(&self, what: &str, done: usize, total: usize) {
        let _ = (what, done, total);
    }
    /// Clip `index` (of `clips`) has finished: its decisions and per-step predictions.
    fn clip(&self, index: usize, clips: usize, clip: &ClipTrace) {
        let _ = (index, clips, clip);
    }
    /// Whether [`Observer::partial`] is wanted (assembling a partial run has a small cost).
    fn wants_partial(&self) -> bool {
        false
    }
    /// On a session's first run of a video of several clips, the run of the clips finished so
    /// far (trace, breakdown, raw outputs; the others listed in `pending`), after each clip but
    /// the last: what a view draws while the rest runs.
    fn partial(&self, run: &AnalysisRun) {
        let _ = run;
    }
    /// The frame the viewer is at: a run takes the clip spanning it first, then those after
    /// it, then those before (read before each clip, so a moved playhead changes the order).
    fn focus(&self) -> usize {
        0
    }
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// The raw numbers behind a trace, by arch.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RawOutput {
    UniAdaFocus(Box<UniAdaFocusOutput>),
    /// One run per clip.
    Ada3dFocus(Vec<Ada3dFocusOutput>),
    Ada3d {
        /// m and n of every clip (all 1 for resnet3d).
        policies: Vec<ClipPolicy>,
        /// Kept frames, 3D stages, logits and GFLOPs of every clip.
        clips: Vec<ClipRun>,
    },
}

impl RawOutput {
    /// Per-step logits of a one-clip run with early exit (`None` for several clips or an arch
    /// without steps).
    pub fn single_clip_steps(&self) -> Option<&[Vec<f32>]> {
        match self {
            RawOutput::Ada3dFocus(clips) => match clips.as_slice() {
                [one] => Some(&one.step_logits),
                _ => None,
            },
            RawOutput::UniAdaFocus(o) => Some(&o.step_logits),
            RawOutput::Ada3d { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum FlopsReport {
    UniAdaFocus(UniAdaFocusFlops),
    /// Per clip, cumulative after each step (step 0 = the glance and policies).
    Ada3dFocus {
        gflops_per_step: Vec<Vec<f64>>,
    },
    /// Per clip as run, and one clip with every frame and stage (the paper's "Upper").
    Ada3d {
        gflops_per_clip: Vec<f64>,
        gflops_full_clip: f64,
    },
}

/// A DecisionTrace plus the raw numbers behind it (per-step logits, policy outputs).
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub trace: DecisionTrace,
    pub raw: RawOutput,
    pub flops: FlopsReport,
}

/// Run `model` on `video` with `knobs`, clip by clip, and mark the exits of `exit` (left
/// unmarked when `None`: an inspection shows every step).
pub fn run_video(
    model: &LoadedModel,
    video: &Video,
    knobs: &Knobs,
    exit: Option<&ExitRule>,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<AnalysisRun, RunError> {
    let input = Input::plan(video, model)?;
    run_input(model, input, knobs, exit, cancel, observer)
}

/// [`run_video`] on an input already planned (a video, or preprocessed frames).
pub fn run_input(
    model: &LoadedModel,
    input: Input,
    knobs: &Knobs,
    exit: Option<&ExitRule>,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<AnalysisRun, RunError> {
    let mut session = Session::new(model, input);
    let mut run = session.run(knobs, cancel, observer)?;
    if let Some(rule) = exit {
        rule.apply(&mut run.inspection.trace);
    }
    Ok(run)
}

/// Load the calibration set at `path` and check that it was made for `model` (classes, steps).
pub fn load_calibration(model: &LoadedModel, path: &Path) -> Result<CalibrationSet, RunError> {
    let set = CalibrationSet::load(path).map_err(|source| RunError::Calibration {
        path: path.to_path_buf(),
        source,
    })?;
    let mismatch = |message: String| RunError::CalibrationMismatch {
        path: path.to_path_buf(),
        message,
    };
    let classes = model.config.class_names().len();
    if set.classes() != classes {
        return Err(mismatch(format!(
            "has {} classes; the checkpoint has {classes}",
            set.classes()
        )));
    }
    let steps = model.config.steps();
    if set.steps() != steps {
        return Err(mismatch(format!(
            "has {} steps per video; the checkpoint has {steps}",
            set.steps()
        )));
    }
    Ok(set)
}

/// Run `model` on `input` with the checkpoint's own thresholds and describe every step (no
/// exit marked): what `adalens inspect` prints.
pub fn inspect(model: &LoadedModel, input: Input) -> Result<Inspection, RunError> {
    let never = AtomicBool::new(false);
    let knobs = model.config.knobs();
    Ok(run_input(model, input, &knobs, None, &never, &Quiet)?.inspection)
}
