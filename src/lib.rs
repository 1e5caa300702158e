//! adalens: inspect the decisions of adaptive video-recognition models — the frames an Ada3D
//! policy discards, the stages it keeps 3D, the cubes (or patches) an AdaFocusV3-style model
//! looks at and in what order, and the entropy of its prediction after each step until it
//! stops.
//!
//! Open a checkpoint and a video, run the model, read the trace, and solve thresholds for a
//! budget:
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use adalens::{Criterion, ExitRule, LoadedModel, PreparedCalibration, Video};
//!
//! # fn main() -> anyhow::Result<()> {
//! let model = adalens::open_checkpoint("models/ada3d_focus_synth.safetensors")?;
//! let video = Video::open("assets/demo/synth/four_actions.mp4")?;
//! // Thresholds for a budget of 2 GFLOPs per video, from the checkpoint's calibration set.
//! let set = adalens::load_calibration(&model, "models/ada3d_focus_synth.adlcal".as_ref())?;
//! let (rule, _) = ExitRule::for_budget(&PreparedCalibration::new(set)?, Criterion::Entropy, 2.0)?;
//! let run = adalens::run_video(
//!     &model,
//!     &video,
//!     &model.config.knobs(),
//!     Some(&rule),
//!     &AtomicBool::new(false),
//!     &adalens::Quiet,
//! )?;
//! // The demo is four actions in a row: four clips, each with its own decisions and exit.
//! let trace = &run.inspection.trace;
//! assert_eq!(trace.clips.len(), 4);
//! for (i, clip) in trace.clips.iter().enumerate() {
//!     let stop = clip.stop_step().expect("an exit rule was applied");
//!     assert!(stop < clip.steps.len());
//!     println!("clip {}: stops after step {stop} of {}", i + 1, clip.steps.len());
//! }
//! # let _: &LoadedModel = &model;
//! # Ok(()) }
//! ```
//!
//! Layers (imports point downwards only; `docs/ARCHITECTURE.md` has the whole map):
//! `app` (egui, feature `gui`) → `batch`, `calibrate`, `eval`, `train`, `figure` (feature
//! `figure`) → `runner` (the one way a model runs on a video) → `video` (FFmpeg), `model`
//! (candle) → `decision` (pure math and the trace) → `fsutil`. `dataset` (lists of videos) and
//! `synth` sit beside them; `video` and `decision` know nothing of each other or of the GUI.

#[cfg(feature = "gui")]
pub mod app;
pub mod batch;
pub mod calibrate;
#[cfg(feature = "figure")]
pub mod cli;
pub(crate) mod dataset;
pub mod decision;
pub mod eval;
#[cfg(feature = "figure")]
pub mod figure;
pub mod fsutil;
pub mod logged;
pub mod model;
pub mod runner;
pub mod synth;
pub mod train;
pub mod video;

pub use decision::trace::{ClipTrace, DecisionTrace, StepPrediction};
pub use decision::{CalibrationSet, Criterion, ExitRule, PreparedCalibration, Solution};
pub use logged::TraceBuilder;
pub use model::arch::Arch;
pub use model::config::Knobs;
pub use model::load::{ConfigOverrides, LoadedModel, ModelError};
pub use runner::{load_calibration, run_video, AnalysisRun, Observer, Quiet, RunError, Session};
pub use video::{Video, VideoError};

/// Open a checkpoint (safetensors, or a PyTorch `.pth`/`.pt` zip read without running pickle
/// code) with its config (sidecar `.json`, or safetensors metadata) on the CPU.
pub fn open_checkpoint(path: impl AsRef<std::path::Path>) -> Result<LoadedModel, ModelError> {
    LoadedModel::open(
        path,
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
}
