//! Whole trade-off curves: metric vs GFLOPs for a sweep of budgets (or geometric parameters),
//! with the random-exit baseline at the same exit shares, and the fixed-step curve where everyone
//! stops at step t. This is the data behind AdaFocusV3's Fig. 3 and Fig. 6.

use super::criterion::Criterion;
use super::error::Result;
use super::evaluate::Evaluation;
use super::prepared::PreparedCalibration;
use super::solver::{Clamp, Rounding, Solution};

/// What to compute along a curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurveOptions {
    /// Also compute mAP (much slower than accuracy: a sort per class per point).
    pub with_map: bool,
    /// Also compute the random-exit baseline.
    pub with_random: bool,
    /// Seed of the random-exit baseline; point i uses `seed + i`.
    pub random_seed: u64,
    /// How planned exit counts are rounded.
    pub rounding: Rounding,
}

impl Default for CurveOptions {
    fn default() -> Self {
        Self {
            with_map: false,
            with_random: true,
            random_seed: 0,
            rounding: Rounding::Cumulative,
        }
    }
}

/// The random-exit baseline at one point.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RandomPoint {
    /// Expected GFLOPs (differs from the adaptive one only with per-sample costs).
    pub gflops: f64,
    /// Top-1 accuracy in [0, 1].
    pub top1: f64,
    /// Top-5 accuracy in [0, 1].
    pub top5: f64,
    /// mAP in [0, 1] when requested.
    pub map: Option<f64>,
}

/// One adaptive operating point.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CurvePoint {
    /// Budget asked for (None when the point was made from p directly).
    pub budget: Option<f64>,
    /// Geometric parameter used.
    pub p: f64,
    /// Whether the budget was out of range.
    pub clamp: Clamp,
    /// Thresholds in the criterion's unit; None where a step takes nobody or everybody.
    pub thresholds: Vec<Option<f64>>,
    /// Expected GFLOPs on the fitting split.
    pub fit_gflops: f64,
    /// Expected GFLOPs on the evaluation split.
    pub gflops: f64,
    /// Exits per step on the evaluation split.
    pub counts: Vec<usize>,
    /// Exit shares on the evaluation split.
    pub shares: Vec<f64>,
    /// Top-1 accuracy in [0, 1].
    pub top1: f64,
    /// Top-5 accuracy in [0, 1].
    pub top5: f64,
    /// mAP in [0, 1] when requested.
    pub map: Option<f64>,
    /// Random-exit baseline at the same exit counts, when requested.
    pub random: Option<RandomPoint>,
}

/// One fixed-step point: everyone stops at `step`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FixedPoint {
    /// The step everyone stops at.
    pub step: usize,
    /// Mean GFLOPs on the evaluation split.
    pub gflops: f64,
    /// Top-1 accuracy in [0, 1].
    pub top1: f64,
    /// Top-5 accuracy in [0, 1].
    pub top5: f64,
    /// mAP in [0, 1] when requested.
    pub map: Option<f64>,
}

/// A full curve for one criterion.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Curve {
    /// The exit criterion.
    pub criterion: Criterion,
    /// Adaptive points, in the order of the budgets / ps given.
    pub adaptive: Vec<CurvePoint>,
    /// Fixed-step points, one per step.
    pub fixed_step: Vec<FixedPoint>,
}

/// The 19 geometric parameters of the official sweep, p = 1/20 … 19/20.
pub fn geometric_ps() -> Vec<f64> {
    (1..20).map(|k| k as f64 / 20.0).collect()
}

impl PreparedCalibration {
    /// `k` budgets evenly spaced strictly inside the reachable range of the fitting split.
    pub fn default_budgets(&self, k: usize) -> Vec<f64> {
        let (lo, hi) = self.fit_cost_range();
        (1..=k)
            .map(|i| lo + (hi - lo) * i as f64 / (k + 1) as f64)
            .collect()
    }

    /// Evaluates one solution into a curve point (adaptive + optional random baseline + mAP).
    pub fn curve_point(
        &self,
        sol: &Solution,
        opts: &CurveOptions,
        index: u64,
    ) -> Result<CurvePoint> {
        let ev = self.evaluate(sol);
        let random = if opts.with_random {
            let r = self.random_exit(&ev.counts, opts.random_seed.wrapping_add(index))?;
            Some(RandomPoint {
                gflops: r.gflops,
                top1: r.top1,
                top5: r.top5,
                map: opts.with_map.then(|| self.mean_average_precision(&r)),
            })
        } else {
            None
        };
        let map = opts.with_map.then(|| self.mean_average_precision(&ev));
        let Evaluation {
            counts,
            shares,
            gflops,
            top1,
            top5,
            ..
        } = ev;
        Ok(CurvePoint {
            budget: sol.budget,
            p: sol.p,
            clamp: sol.clamp,
            thresholds: sol.finite_thresholds(),
            fit_gflops: sol.fit_gflops,
            gflops,
            counts,
            shares,
            top1,
            top5,
            map,
            random,
        })
    }

    /// The curve for a list of budgets.
    pub fn curve_for_budgets(
        &self,
        criterion: Criterion,
        budgets: &[f64],
        opts: &CurveOptions,
    ) -> Result<Curve> {
        self.curve_with(criterion, budgets, opts, |b| {
            self.solve_budget_with(criterion, b, opts.rounding)
        })
    }

    /// The curve for a list of geometric parameters (e.g. [`geometric_ps`]).
    pub fn curve_for_ps(
        &self,
        criterion: Criterion,
        ps: &[f64],
        opts: &CurveOptions,
    ) -> Result<Curve> {
        self.curve_with(criterion, ps, opts, |p| {
            self.solve_p_with(criterion, p, opts.rounding)
        })
    }

    /// One adaptive point per operating parameter, plus the fixed-step curve.
    fn curve_with(
        &self,
        criterion: Criterion,
        params: &[f64],
        opts: &CurveOptions,
        solve: impl Fn(f64) -> Result<Solution>,
    ) -> Result<Curve> {
        let adaptive = params
            .iter()
            .enumerate()
            .map(|(i, &x)| self.curve_point(&solve(x)?, opts, i as u64))
            .collect::<Result<Vec<_>>>()?;
        Ok(Curve {
            criterion,
            adaptive,
            fixed_step: self.fixed_step_curve(opts.with_map)?,
        })
    }

    /// Everyone stops at step t, for every t, on the evaluation split.
    pub fn fixed_step_curve(&self, with_map: bool) -> Result<Vec<FixedPoint>> {
        (0..self.steps)
            .map(|t| {
                let (top1, top5) = self.fixed[t];
                let map = if with_map {
                    Some(self.mean_average_precision(&self.fixed_step(t)?))
                } else {
                    None
                };
                Ok(FixedPoint {
                    step: t,
                    gflops: self.eval.mean_cost_at(t),
                    top1,
                    top5,
                    map,
                })
            })
            .collect()
    }
}
