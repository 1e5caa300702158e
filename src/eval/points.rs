//! Operating points of the report: accuracy at an exit budget (thresholds solved on the
//! calibration set), the frame and stage thresholds' curve, and where the exits are compared.

use serde::Serialize;

use super::{EvalError, VideoResult};
use crate::decision::{Criterion, PreparedCalibration};

/// Accuracy at a budget: thresholds solved on the calibration set, applied to the test set;
/// and a random exit with the same number of videos stopping at each step.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub budget: f64,
    pub gflops: f64,
    pub top1: f64,
    pub random_exit_top1: f64,
}

pub fn at_budget(
    prep: &PreparedCalibration,
    criterion: Criterion,
    budget: f64,
    seed: u64,
) -> Result<Point, EvalError> {
    at_budget_with_exits(prep, criterion, budget, seed).map(|(p, _)| p)
}

/// `at_budget`, and the step each test video exits at.
pub fn at_budget_with_exits(
    prep: &PreparedCalibration,
    criterion: Criterion,
    budget: f64,
    seed: u64,
) -> Result<(Point, Vec<u16>), EvalError> {
    let sol = prep.solve_budget(criterion, budget)?;
    let e = prep.evaluate(&sol);
    let r = prep.random_exit(&e.counts, seed)?;
    let point = Point {
        budget,
        gflops: e.gflops,
        top1: e.top1,
        random_exit_top1: r.top1,
    };
    Ok((point, e.exit_steps))
}

/// Which row of the frame and stage curve a point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyRow {
    /// τ_f = τ_s = 0: every frame kept, every stage 3D.
    Largest,
    /// The checkpoint's own thresholds.
    Own,
    Sweep,
}

/// The policies at one pair of thresholds, every cube run.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyPoint {
    pub row: PolicyRow,
    pub frame_threshold: f32,
    pub stage_threshold: f32,
    pub kept_frames: f64,
    pub stages_3d: f64,
    pub gflops: f64,
    pub top1: f64,
}

/// The test videos at the `i`-th pair of `policy_sweep` (the same for every video: one checkpoint).
pub fn sweep_point(results: &[VideoResult], i: usize) -> PolicyPoint {
    let runs = || results.iter().filter_map(|r| r.policy_sweep.get(i));
    let [tf, ts] = runs().next().map_or([f32::NAN; 2], |r| r.thresholds);
    PolicyPoint {
        row: if i == 0 {
            PolicyRow::Largest
        } else {
            PolicyRow::Sweep
        },
        frame_threshold: tf,
        stage_threshold: ts,
        kept_frames: mean(runs().map(|x| x.kept_frames as f64)),
        stages_3d: mean(runs().map(|x| x.stages_3d as f64)),
        gflops: mean(runs().map(|x| x.gflops)),
        top1: mean(runs().map(|x| x.correct as u8 as f64)),
    }
}

/// Every sweep point and the checkpoint's own thresholds `own` (whose every-cube run is
/// `every_cube`), from the most GFLOPs to the fewest.
pub fn policy_curve(
    results: &[VideoResult],
    own: [f32; 2],
    every_cube: &Point,
) -> Vec<PolicyPoint> {
    let pairs = results.first().map_or(0, |r| r.policy_sweep.len());
    let mut v: Vec<PolicyPoint> = (0..pairs).map(|i| sweep_point(results, i)).collect();
    v.push(PolicyPoint {
        row: PolicyRow::Own,
        frame_threshold: own[0],
        stage_threshold: own[1],
        kept_frames: mean(results.iter().map(|r| r.kept_frames as f64)),
        stages_3d: mean(results.iter().map(|r| r.stages_3d as f64)),
        gflops: every_cube.gflops,
        top1: every_cube.top1,
    });
    v.sort_by(|a, b| b.gflops.total_cmp(&a.gflops));
    v
}

/// Whether `half` runs every cube: half the largest budget pays for all of them, so the exit has
/// nothing to save there.
pub fn runs_every_cube(half: &Point, every_cube: &Point) -> bool {
    half.gflops >= every_cube.gflops - 1e-12
}

/// Where the entropy exit is compared with the random exit (target 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitWhere {
    /// At half the largest GFLOPs, inside the exit's range.
    Half,
    /// At the middle of the exit's range: half is below the glance alone.
    MiddleHalfBelowGlance,
    /// At the middle of the exit's range: half is at or above every cube.
    MiddleHalfAboveEveryCube,
}

impl ExitWhere {
    /// For half the largest GFLOPs and the exit's range [cheapest, dearest].
    pub fn for_half(half: f64, cheapest: f64, dearest: f64) -> ExitWhere {
        if half <= cheapest {
            ExitWhere::MiddleHalfBelowGlance
        } else if half >= dearest {
            ExitWhere::MiddleHalfAboveEveryCube
        } else {
            ExitWhere::Half
        }
    }

    pub fn why(self) -> &'static str {
        match self {
            ExitWhere::Half => "",
            ExitWhere::MiddleHalfBelowGlance => {
                " (the middle of the exit's range: at half the largest GFLOPs only the glance runs)"
            }
            ExitWhere::MiddleHalfAboveEveryCube => {
                " (the middle of the exit's range: half the largest GFLOPs pays for every cube \
                 at the checkpoint's τ_f and τ_s, so no video would exit early there)"
            }
        }
    }
}

/// `n + 1` budgets evenly from the glance alone to every cube, both ends included.
fn budgets(prep: &PreparedCalibration, n: usize) -> impl Iterator<Item = f64> {
    let (lo, hi) = prep.fit_cost_range();
    (0..=n).map(move |i| lo + (hi - lo) * i as f64 / n.max(1) as f64)
}

/// Twelve budgets from the glance alone to every cube.
pub fn curve(
    prep: &PreparedCalibration,
    criterion: Criterion,
    seed: u64,
) -> Result<Vec<Point>, EvalError> {
    budgets(prep, 11)
        .map(|b| at_budget(prep, criterion, b, seed))
        .collect()
}

/// The least GFLOPs on the test videos at which `criterion`'s exit, thresholds solved on the
/// calibration set for each of `n + 1` budgets evenly across the exit's range, reaches `top1`;
/// `None` when no budget does. A scan, not a bisection: top-1 on the test videos need not
/// rise with the budget.
pub fn least_gflops_reaching(
    prep: &PreparedCalibration,
    criterion: Criterion,
    top1: f64,
    n: usize,
) -> Result<Option<f64>, EvalError> {
    let mut least: Option<f64> = None;
    for budget in budgets(prep, n) {
        // The exit alone: no random-exit baseline is needed here.
        let e = prep.evaluate(&prep.solve_budget(criterion, budget)?);
        if e.top1 >= top1 - 1e-9 && least.is_none_or(|g| e.gflops < g) {
            least = Some(e.gflops);
        }
    }
    Ok(least)
}

pub(super) fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_starts_at_the_largest_budget_and_switches_each_policy_off_in_turn() {
        use crate::eval::run::policy_sweep;
        assert_eq!(
            policy_sweep([0.5, 0.5]),
            [[0.0, 0.0], [0.0, 0.5], [0.5, 0.0], [0.1, 0.1], [0.9, 0.9]]
        );
        // The own pair and repeats are left out; the largest budget always stays first.
        assert_eq!(
            policy_sweep([0.3, 0.1]),
            [[0.0, 0.0], [0.0, 0.1], [0.3, 0.0], [0.1, 0.1], [0.9, 0.9]]
        );
        assert_eq!(
            policy_sweep([0.9, 0.0]),
            [[0.0, 0.0], [0.1, 0.1], [0.9, 0.9]]
        );
        assert_eq!(policy_sweep([0.0, 0.0])[0], [0.0, 0.0]);
    }

    #[test]
    fn exits_are_compared_at_half_only_inside_their_range() {
        assert_eq!(ExitWhere::for_half(0.5, 0.2, 1.0), ExitWhere::Half);
        assert_eq!(
            ExitWhere::for_half(0.2, 0.2, 1.0),
            ExitWhere::MiddleHalfBelowGlance
        );
        assert_eq!(
            ExitWhere::for_half(1.0, 0.2, 1.0),
            ExitWhere::MiddleHalfAboveEveryCube
        );
        assert_eq!(ExitWhere::Half.why(), "");
    }
}
