//! The exit alone, against the oracle exit (`crate::decision::oracle`): the least GFLOPs any
//! exit rule could spend on the test videos and stay within a tolerance of every cube's top-1,
//! the checkpoint's frame and stage decisions fixed. When that is above half of every cube's
//! GFLOPs, no threshold tuning can halve the exit budget at that accuracy: it needs different
//! decisions or a different split of the cost between the glance and the cubes.

use serde::Serialize;

use crate::decision::{PreparedCalibration, Split};

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
}

/// The bound for the evaluation split of `prep` (the test videos), held to the last step's
/// top-1 less `tolerance` (a fraction: 0.02 = 2 points).
pub fn oracle_bound(prep: &PreparedCalibration, tolerance: f64) -> OracleBound {
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
    OracleBound {
        top1,
        gflops,
        glance_gflops: glance,
        full_gflops: full,
        local_share: if local > 0.0 { used / local } else { 0.0 },
        local_scale_for_half: (room > 0.0).then(|| glance / room),
    }
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
        let b = oracle_bound(&p, 0.0);
        assert_eq!(b.top1, 1.0);
        // 1 + (0 + 0 + 1 + 2)/4.
        assert_eq!(b.gflops, 1.75);
        assert_eq!((b.glance_gflops, b.full_gflops), (1.0, 3.0));
        assert_eq!(b.local_share, 0.375);
        // s·(2 − 1.5) ≥ 1 ⇔ s ≥ 2: then half of 1 + 4 = 2.5 = 1 + 2·0.75.
        assert_eq!(b.local_scale_for_half, Some(2.0));
        // With 25 points of tolerance the sample right only at the end is dropped.
        let b = oracle_bound(&p, 0.25);
        assert_eq!((b.top1, b.gflops), (0.75, 1.25));
    }

    #[test]
    fn no_scale_helps_when_the_oracle_needs_half_the_cubes() {
        let p = prep(vec![1, 1], &[vec![0, 1], vec![0, 1]], &[1.0, 2.0]);
        let b = oracle_bound(&p, 0.0);
        assert_eq!(b.local_share, 1.0);
        assert_eq!(b.local_scale_for_half, None);
    }
}
