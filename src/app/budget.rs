//! The budget side of the window: a checkpoint's calibration set, prepared once, and what a
//! slider position means. Moving the budget re-solves the thresholds (AdaFocusV3 eq. 7) and
//! re-marks the exits in the trace already computed: no model run, well under a millisecond.

use crate::decision::trace::DecisionTrace;
use crate::decision::{
    Criterion, Curve, CurveOptions, Evaluation, ExitRule, OracleFrontier, PreparedCalibration,
    Solution, Split,
};

/// Budgets the calibration curve is drawn at.
const CURVE_POINTS: usize = 19;

/// A checkpoint's calibration set and its two curves (entropy and confidence exits).
pub struct BudgetModel {
    pub prep: PreparedCalibration,
    pub description: String,
    /// Reachable mean GFLOPs per video on the fitting split.
    pub range: (f64, f64),
    pub curves: Vec<Curve>,
    /// The best any exit rule could do on the evaluation split (an exit that knows the labels).
    pub oracle: OracleFrontier,
}

impl BudgetModel {
    /// Prepare `prep` for the window: its range and its curves with the random-exit baseline.
    pub fn new(prep: PreparedCalibration) -> crate::decision::Result<Self> {
        let budgets = prep.default_budgets(CURVE_POINTS);
        let opts = CurveOptions {
            with_random: true,
            ..Default::default()
        };
        let curves = [Criterion::Entropy, Criterion::Confidence]
            .iter()
            .map(|&c| prep.curve_for_budgets(c, &budgets, &opts))
            .collect::<crate::decision::Result<Vec<_>>>()?;
        Ok(Self {
            description: prep.set().description().to_string(),
            range: prep.fit_cost_range(),
            oracle: prep.oracle(Split::Eval),
            prep,
            curves,
        })
    }

    pub fn curve(&self, criterion: Criterion) -> Option<&Curve> {
        self.curves.iter().find(|c| c.criterion == criterion)
    }

    /// The thresholds for `budget` and how they do on the evaluation split.
    pub fn operating_point(
        &self,
        criterion: Criterion,
        budget: f64,
    ) -> crate::decision::Result<(Solution, Evaluation)> {
        let sol = self.prep.solve_budget(criterion, budget)?;
        let ev = self.prep.evaluate(&sol);
        Ok((sol, ev))
    }
}

/// The exits of the trace for the current sliders: from the budget when there is a
/// calibration set, else every clip runs to its last step.
pub fn mark_exits(
    trace: &mut DecisionTrace,
    budget: Option<(&BudgetModel, f64)>,
    criterion: Criterion,
) -> Option<(Solution, Evaluation)> {
    match budget.map(|(m, b)| (m.operating_point(criterion, b), b)) {
        Some((Ok((sol, ev)), b)) => {
            ExitRule::from_solution(&sol, criterion, b).apply(trace);
            Some((sol, ev))
        }
        _ => {
            ExitRule::last_step(criterion).apply(trace);
            None
        }
    }
}
