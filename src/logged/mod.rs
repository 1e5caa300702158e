//! Traces logged from other programs: any adaptive model's decisions, in the open trace
//! format (`docs/trace.schema.json`), made without adalens running the model.
//!
//! Researchers train in PyTorch, and adaptive video models decide more than the four archs
//! adalens runs: a resolution per frame (AR-Net), a modality per segment (AdaMML), a
//! bit-width (VideoIQ), a share of tokens kept. [`TraceBuilder`] takes what such a model
//! decided, clip by clip — sampled frames, keep probabilities, the generic categorical and
//! scalar lanes, stages, regions in order, per-step probabilities and GFLOPs, the exit — and
//! makes a checked [`DecisionTrace`] of it (the Python package's `adalens.TraceBuilder` is this
//! type). [`read_folder`] reads a folder of such traces with their labels, for
//! `adalens calibrate --traces`, `adalens batch --traces` and the dataset view.

mod builder;
mod folder;

pub use builder::{LogError, LoggedClip, Region, StepOutputs, TraceBuilder};
pub use folder::{read_folder, video_of, FolderError, LabelledTrace, TraceFolder};

use crate::decision::DecisionTrace;

/// The largest trace file read (10,000 steps of 400-class probabilities are ~40 MB).
pub const MAX_TRACE_BYTES: u64 = 256 << 20;

/// Read and check one trace file (bounded; no special files). The error names the problem;
/// callers add the file.
pub fn read_trace(path: &std::path::Path) -> Result<DecisionTrace, String> {
    let bytes = crate::fsutil::read_limited(path, MAX_TRACE_BYTES).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "is not UTF-8 text".to_string())?;
    DecisionTrace::from_json(text)
}
