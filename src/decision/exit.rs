//! When a video stops: the one place exits are marked on a trace, for a budget (thresholds
//! solved on a calibration set, AdaFocusV3 eq. 7) or for thresholds given as they are. The
//! window, `figure`, `batch` and the runner all mark exits through [`ExitRule::apply`].

use serde::Serialize;

use super::trace::{DecisionTrace, ExitDecision};
use super::{Criterion, PreparedCalibration, Solution};

/// The first step whose prediction meets its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExitRule {
    pub criterion: Criterion,
    /// Per step (±∞ kept: a step that stops everybody); `None` never exits there; the last
    /// step always does.
    pub thresholds: Vec<Option<f64>>,
    /// The budget they were solved for (mean GFLOPs per video), if any.
    pub budget: Option<f64>,
}

impl ExitRule {
    /// Every clip runs to its last step.
    pub fn last_step(criterion: Criterion) -> Self {
        Self {
            criterion,
            thresholds: Vec::new(),
            budget: None,
        }
    }

    /// The thresholds for `budget` on the calibration set's fitting split (AdaFocusV3 eq. 7),
    /// and the solution they come from (whether the budget was reachable, its planned exits).
    pub fn for_budget(
        prep: &PreparedCalibration,
        criterion: Criterion,
        budget: f64,
    ) -> super::Result<(Self, Solution)> {
        let sol = prep.solve_budget(criterion, budget)?;
        let rule = Self::from_solution(&sol, criterion, budget);
        Ok((rule, sol))
    }

    /// The rule of a solution already solved for `budget`.
    pub fn from_solution(sol: &Solution, criterion: Criterion, budget: f64) -> Self {
        Self {
            criterion,
            thresholds: sol.exit_thresholds(),
            budget: Some(budget),
        }
    }

    /// Mark where every clip of `trace` stops (η_t for entropy, τ_t for confidence).
    pub fn apply(&self, trace: &mut DecisionTrace) {
        for clip in &mut trace.clips {
            if clip.steps.is_empty() {
                clip.exit = None;
                continue;
            }
            let exit_step = clip.exit_step(self.criterion, &self.thresholds);
            clip.exit = Some(ExitDecision {
                criterion: self.criterion,
                thresholds: self.thresholds.clone(),
                exit_step,
                gflops: clip.steps[exit_step].cumulative_gflops,
                budget: self.budget,
            });
        }
    }
}
