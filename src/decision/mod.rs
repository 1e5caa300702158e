//! Decisions and the budget solver: pure data and math, no candle, no GUI.
//!
//! An adaptive video model (AdaFocusV3, Uni-AdaFocus) can stop after any of its steps; when it
//! stops is decided by comparing the entropy (or the confidence) of the prediction so far with a
//! per-step threshold η_t. This module turns a *budget* — mean GFLOPs per video — into those
//! thresholds (AdaFocusV3 §3.4, eq. 7, solved with geometric exit distributions and bisection,
//! see [`solver`]), and measures what they buy (accuracy, mAP, exit shares, the random-exit and
//! fixed-step baselines, see [`evaluate`] and [`curve`]).
//!
//! It consumes per-step predictions however they were made — by our own candle models, by the
//! official PyTorch code (see `crate::model::official_logits`), or synthetically — through a
//! [`CalibrationSet`]. Because the GUI re-solves on every slider move, the per-sample work is
//! done once in [`PreparedCalibration::new`]; solving and evaluating afterwards costs well under a
//! millisecond for thousands of samples.
//!
//! Typical use:
//! ```no_run
//! # fn main() -> Result<(), adalens::decision::DecisionError> {
//! use adalens::decision::{CalibrationSet, Criterion, PreparedCalibration};
//! let set = CalibrationSet::load("calib.adlcal")?;
//! let prep = PreparedCalibration::new(set)?;
//! let sol = prep.solve_budget(Criterion::Entropy, 12.0)?;
//! let ev = prep.evaluate(&sol);
//! println!("η = {:?}, top-1 {:.3} at {:.2} GFLOPs", sol.thresholds(), ev.top1, ev.gflops);
//! # Ok(()) }
//! ```

pub mod calibration;
pub mod compare;
pub(crate) mod criterion;
pub(crate) mod curve;
mod error;
pub(crate) mod evaluate;
pub(crate) mod exit;
pub mod lanes;
pub(crate) mod oracle;
pub(crate) mod prepared;
pub(crate) mod solver;
pub mod synthetic;
pub mod trace;
mod trace_check;

pub use calibration::{CalibrationSet, Labels, OutputKind, Role, StepCosts};
pub use criterion::Criterion;
pub use curve::{geometric_ps, Curve, CurveOptions, CurvePoint, FixedPoint, RandomPoint};
pub use error::{DecisionError, Result};
pub use evaluate::{average_precision, Evaluation};
pub use exit::ExitRule;
pub use oracle::OracleFrontier;
pub use prepared::{PreparedCalibration, Split};
pub use solver::{geometric_shares, planned_counts, Clamp, Rounding, Solution};
pub use trace::{DecisionTrace, TRACE_VERSION};
