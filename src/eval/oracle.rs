//! The exit alone, against the oracle exit (`crate::decision::oracle`): the least GFLOPs any
//! exit rule could spend on the test videos and stay within a tolerance of every cube's top-1,
//! the checkpoint's frame and stage decisions fixed. When that is above half of every cube's
//! GFLOPs, no threshold tuning can halve the exit budget at that accuracy: it needs different
//! decisions or a different split of the cost between the glance and the cubes.

use serde::Serialize;

use super::points::least_gflops_reaching;
use super::EvalError;
use crate::decision::{Criterion, PreparedCalibration, Split};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OracleBound {
    /// The top-1 the oracle is held to: every cube's, less the tolerance.
    pub top1: f64,
    /// Mean GFLOPs per video the oracle spends to reach `top1`.
    pub gflops: f64,
    /// Mean GFLOPs of step 0 alone (the glance, the policies and the glance classifier).
    pub glance_gflops: f64,
    /// Mean GFLOPs of every step (every cube, the exit budget's largest).
    pub full_gflops: f64,
    /// The oracle's share of the cubes' GFLOPs (0 = the glance alone, 1 = every cube).
    pub local_share: f64,
    /// How many times dearer the cubes would have to be, the glance's cost and every decision
    /// kept, for half of every cube's GFLOPs to reach the oracle; `None` when no factor does
    /// (the oracle needs half the cubes' GFLOPs or more).
    pub local_scale_for_half: Option<f64>,
    /// The entropy exit's least GFLOPs for `top1` (thresholds solved on the calibration set,
    /// budgets scanned across the exit's range), `None` when no budget reaches it.
    pub entropy_gflops: Option<f64>,
    /// Its share of the cubes' GFLOPs. Scaling the cubes' cost leaves the shares of videos
    /// exiting at each step, and so this share, as they are: at 0.5 or more no split of the
    /// cost between the glance and the cubes lets half of every cube's GFLOPs reach `top1`.
    pub entropy_local_share: Option<f64>,
}

/// The bound for the evaluation split of `prep` (the test videos), held to the last step's
/// top-1 less `tolerance` (a fraction: 0.02 = 2 points), beside the entropy exit's
/// (`least_gflops_reaching` with 200 budgets).
pub fn oracle_bound(prep: &PreparedCalibration, tolerance: f64) -> Result<OracleBound, EvalError> {
    let o = prep.oracle(Split::Eval);
    let top1 = (o.last_step_top1 - tolerance).max(0.0);
    // Never past the last step, which makes `last_step_top1` itself.
    let gflops = o.gflops_for(top1).unwrap_or(o.last_step_gflops);
    let (glance, full) = (o.first_step_gflops, o.last_step_gflops);
    let local = full - glance;
    let used = gflops - glance;
    // Scaling the cubes by s: half = (glance + s·local)/2 ≥ glance + s·used
    // ⇔ s·(local − 2·used) ≥ glance.
    let room = local - 2.0 * used;
    let share = |g: f64| {
        if local > 0.0 {
            (g - glance) / local
        } else {
            0.0
        }
    };
    let entropy_gflops = least_gflops_reaching(prep, Criterion::Entropy, top1, 200)?;
    Ok(OracleBound {
        top1,
        gflops,
        glance_gflops: glance,
        full_gflops: full,
        local_share: share(gflops),
        local_scale_for_half: (room > 0.0).then(|| glance / room),
        entropy_gflops,
        entropy_local_share: entropy_gflops.map(share),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::oracle::from_predictions as prep;

    #[test]
    fn the_scale_that_lets_half_the_budget_reach_the_oracle() {
        // Glance 1, two cubes of 1 each; of four samples two are right at the glance, one
        // after the first cube, one only after the second.
        let p = prep(
            vec![0, 0, 1, 1],
            &[vec![0, 0, 0], vec![0, 0, 0], vec![0, 1, 1], vec![0, 0, 1]],
            &[1.0, 2.0, 3.0],
        );
        let b = oracle_bound(&p, 0.0).unwrap();
        assert_eq!(b.top1, 1.0);
        // 1 + (0 + 0 + 1 + 2)/4.
        assert_eq!(b.gflops, 1.75);
        assert_eq!((b.glance_gflops, b.full_gflops), (1.0, 3.0));
        assert_eq!(b.local_share, 0.375);
        // s·(2 − 1.5) ≥ 1 ⇔ s ≥ 2: then half of 1 + 4 = 2.5 = 1 + 2·0.75.
        assert_eq!(b.local_scale_for_half, Some(2.0));
        // Every step's output is equally sure, so entropy cannot tell the samples apart: only
        // running every one to the last step is right for all four.
        assert_eq!(b.entropy_gflops, Some(3.0));
        assert_eq!(b.entropy_local_share, Some(1.0));
        // With 25 points of tolerance the sample right only at the end is dropped.
        let b = oracle_bound(&p, 0.25).unwrap();
        assert_eq!((b.top1, b.gflops), (0.75, 1.25));
    }

    #[test]
    fn no_scale_helps_when_the_oracle_needs_half_the_cubes() {
        let p = prep(vec![1, 1], &[vec![0, 1], vec![0, 1]], &[1.0, 2.0]);
        let b = oracle_bound(&p, 0.0).unwrap();
        assert_eq!(b.local_share, 1.0);
        assert_eq!(b.local_scale_for_half, None);
    }
}
