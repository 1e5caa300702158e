//! A trace logged elsewhere, open without a model (`adalens VIDEO --trace T.json`, a dropped
//! `.json`, *File → Open trace…*): its video opens with the trace drawn as a stored one, and
//! the budget slider solves on the calibration set given with it (`--calibration`, else
//! `calibration.adlcal` beside the trace). Nothing re-runs: there is no model.

use std::path::{Path, PathBuf};

use super::budget::BudgetModel;
use super::job_event::JobEvent;
use super::{AdalensApp, ErrorNote};
use crate::decision::trace::DecisionTrace;
use crate::decision::{CalibrationSet, PreparedCalibration};
use crate::model::config::Knobs;

/// The open logged trace: where it came from and the budget its calibration set gives.
pub struct LoggedView {
    pub path: PathBuf,
    pub arch: String,
    pub budget: Option<Box<BudgetModel>>,
    /// Why there is no budget (no calibration set, or one that cannot be used).
    pub calibration_problem: Option<String>,
}

/// The calibration set of a logged trace: the one given, else `calibration.adlcal` beside it.
pub fn calibration_for(trace: &Path, given: Option<&Path>) -> Option<PathBuf> {
    given.map(Path::to_path_buf).or_else(|| {
        let beside = trace.parent()?.join("calibration.adlcal");
        beside.is_file().then_some(beside)
    })
}

/// Read a logged trace and its calibration set (on a worker thread).
pub fn read(trace: &Path, video: Option<PathBuf>, calibration: Option<&Path>) -> JobEvent {
    let t = match crate::logged::read_trace(trace) {
        Ok(t) => t,
        Err(e) => {
            return JobEvent::Failed {
                what: format!("Opening the trace {}", trace.display()),
                error: e,
            }
        }
    };
    let video = video.unwrap_or_else(|| crate::logged::video_of(&t, trace));
    let budget = calibration_for(trace, calibration).map(|p| {
        CalibrationSet::load(&p)
            .map_err(|e| e.to_string())
            .and_then(|set| {
                if set.classes() != t.class_names.len() {
                    return Err(format!(
                        "{}: {} classes, the trace has {}",
                        p.display(),
                        set.classes(),
                        t.class_names.len()
                    ));
                }
                let prep = PreparedCalibration::new(set).map_err(|e| e.to_string())?;
                BudgetModel::new(prep).map_err(|e| e.to_string())
            })
            .map(Box::new)
    });
    JobEvent::TraceOpened {
        path: trace.to_path_buf(),
        video,
        trace: Box::new(t),
        budget,
    }
}

impl AdalensApp {
    /// A logged trace arrived: the model is put aside (nothing runs on a logged trace), and
    /// the trace's video opens with the trace drawn on it.
    pub(crate) fn trace_opened(
        &mut self,
        path: PathBuf,
        video: PathBuf,
        trace: DecisionTrace,
        budget: Option<Result<Box<BudgetModel>, String>>,
    ) {
        let (budget, problem) = match budget {
            None => (
                None,
                Some(format!(
                    "No calibration set: give one with --calibration, or put calibration.adlcal \
                     beside {} (`adalens calibrate --traces DIR` makes one from traces with \
                     per-step probabilities). Every clip runs to its last step.",
                    path.display()
                )),
            ),
            Some(Ok(b)) => (Some(b), None),
            Some(Err(e)) => {
                self.errors.push(ErrorNote {
                    what: "The trace's calibration set cannot be used".into(),
                    detail: e.clone(),
                });
                (None, Some(e))
            }
        };
        if let Some(b) = &budget {
            let (lo, hi) = b.range;
            let s = &mut self.state.sliders;
            s.budget = Some(s.budget.unwrap_or((lo + hi) / 2.0).clamp(lo, hi));
        }
        self.model = None;
        self.close_compare();
        self.dataset = None;
        self.showing_dataset = false;
        self.open_row = None;
        self.logged = Some(LoggedView {
            path,
            arch: trace.arch.clone(),
            budget,
            calibration_problem: problem,
        });
        // The knobs only label τ lanes, which a logged trace's frames do not use.
        let knobs = Knobs {
            frame_threshold: 0.5,
            stage_threshold: 0.5,
            max_cubes: None,
        };
        self.stored_trace = Some((video.clone(), trace, knobs));
        self.push(super::Command::OpenVideo(video));
    }
}
