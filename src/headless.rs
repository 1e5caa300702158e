//! What the headless commands (`figure`, `batch`) share with each other and with the window: a
//! checkpoint's calibration set checked against it, an exit rule (thresholds for a budget, or
//! given thresholds), and one video run to a trace with τ_f, τ_s, the cube cap and the exits
//! marked — the same [`Analysis`] the window runs.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::analysis::{apply_exit, Analysis, AnalysisRun, Knobs};
use crate::decision::trace::DecisionTrace;
use crate::decision::{CalibrationSet, Criterion, PreparedCalibration, Solution};
use crate::model::load::LoadedModel;
use crate::pipeline::{self, PipelineError};
use crate::video::{Control, Video};

/// Load the calibration set at `path` and check that it was made for `model` (classes, steps).
pub fn load_calibration(model: &LoadedModel, path: &Path) -> Result<CalibrationSet, String> {
    let err = |e: String| format!("{}: {e}", path.display());
    let set = CalibrationSet::load(path).map_err(|e| err(e.to_string()))?;
    let classes = model.config.class_names().len();
    if set.classes() != classes {
        return Err(err(format!(
            "has {} classes; the checkpoint has {classes}",
            set.classes()
        )));
    }
    let steps = crate::calibrate::model_steps(model);
    if set.steps() != steps {
        return Err(err(format!(
            "has {} steps per video; the checkpoint has {steps}",
            set.steps()
        )));
    }
    Ok(set)
}

/// When a video stops: the first step whose prediction meets its threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExitRule {
    pub criterion: Criterion,
    /// Per step (±∞ kept: a step that stops everybody); `None` never exits there; the last
    /// step always does.
    pub thresholds: Vec<Option<f64>>,
    /// The budget they were solved for (mean GFLOPs per video), if any.
    pub budget: Option<f64>,
}

impl ExitRule {
    /// The thresholds for `budget` on the calibration set's fitting split (AdaFocusV3 eq. 7),
    /// and the solution they come from (whether the budget was reachable, its planned exits).
    pub fn for_budget(
        prep: &PreparedCalibration,
        criterion: Criterion,
        budget: f64,
    ) -> crate::decision::Result<(Self, Solution)> {
        let sol = prep.solve_budget(criterion, budget)?;
        let rule = Self {
            criterion,
            thresholds: sol.exit_thresholds(),
            budget: Some(budget),
        };
        Ok((rule, sol))
    }

    /// Mark the exits of every clip of `trace`.
    pub fn apply(&self, trace: &mut DecisionTrace) {
        apply_exit(trace, self.criterion, &self.thresholds, self.budget);
    }
}

/// Decode `video` as `model` needs it, run it with `knobs`, and mark the exits of `exit` (or
/// the last step of every clip).
pub fn run_video(
    model: &LoadedModel,
    video: &Video,
    knobs: &Knobs,
    exit: Option<&ExitRule>,
    cancel: &AtomicBool,
) -> Result<AnalysisRun, PipelineError> {
    let input = pipeline::video_input(video, model, &Control::default())?;
    let analysis = Analysis::start(model, input)?;
    let mut run = analysis.run(model, knobs, cancel)?;
    match exit {
        Some(rule) => rule.apply(&mut run.inspection.trace),
        None => apply_exit(&mut run.inspection.trace, Criterion::Entropy, &[], None),
    }
    Ok(run)
}
