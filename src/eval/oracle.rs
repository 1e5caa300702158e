//! The least GFLOPs any exit rule could spend and stay within a tolerance of the largest
//! budget's top-1, given the checkpoint's decisions: an oracle that knows the labels stops each
//! video at its first correct step, paying for the videos that are cheapest to get right first.
//!
//! This bounds every exit rule (entropy, confidence, learned, random): a rule only chooses one
//! step per video, so the videos it gets right each cost at least the oracle's price. When the
//! bound is above half the largest GFLOPs, target (1b) is out of reach of threshold tuning and
//! needs different decisions or a different split of cost between the glance and the cubes.

use serde::Serialize;

use super::argmax;
use crate::calibrate::Sample;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OracleBound {
    /// The top-1 the oracle is held to: the largest budget's, less the tolerance.
    pub top1: f64,
    /// Mean GFLOPs per video the oracle spends to reach `top1`.
    pub gflops: f64,
    /// Mean GFLOPs of step 0 alone (the glance, the policies and the glance classifier).
    pub glance_gflops: f64,
    /// Mean GFLOPs of every step (the largest budget).
    pub full_gflops: f64,
    /// The oracle's share of the cubes' GFLOPs (0 = the glance alone, 1 = every cube).
    pub local_share: f64,
    /// How many times dearer the cubes would have to be, the glance's cost and every decision
    /// kept, for half the largest GFLOPs to reach the oracle; `None` when no factor does
    /// (the oracle needs half the cubes' GFLOPs or more).
    pub local_scale_for_half: Option<f64>,
}

/// The oracle for `samples` (each with its per-step logits and cumulative GFLOPs), held to
/// the last step's top-1 less `tolerance` (a fraction: 0.02 = 2 points).
pub fn oracle_bound(samples: &[Sample], tolerance: f64) -> Option<OracleBound> {
    let n = samples.len();
    if n == 0 {
        return None;
    }
    let correct_at = |s: &Sample, k: usize| argmax(&s.logits[k]) == s.label as usize;
    let full_correct = samples
        .iter()
        .filter(|s| !s.logits.is_empty() && correct_at(s, s.logits.len() - 1))
        .count();
    let mean = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(f).sum::<f64>() / n as f64;
    let glance = mean(&|s| s.gflops.first().copied().unwrap_or(0.0));
    let full = mean(&|s| s.gflops.last().copied().unwrap_or(0.0));
    // What each video costs beyond the glance at its first correct step; never-correct
    // videos stop at the glance, wrong, and cost nothing more.
    let mut extra: Vec<f64> = samples
        .iter()
        .filter_map(|s| {
            let k = (0..s.logits.len().min(s.gflops.len())).find(|&k| correct_at(s, k))?;
            Some(s.gflops[k] - s.gflops[0])
        })
        .collect();
    extra.sort_by(f64::total_cmp);
    let top1 = (full_correct as f64 / n as f64 - tolerance).max(0.0);
    // The fewest right videos that reach `top1` (the small epsilon keeps 0.9 − 0.02 from
    // rounding up to one video more).
    let needed = ((top1 * n as f64) - 1e-9).ceil().max(0.0) as usize;
    let gflops = glance + extra.iter().take(needed).sum::<f64>() / n as f64;
    let local = full - glance;
    let used = gflops - glance;
    // Scaling the cubes by s: half = (glance + s·local)/2 ≥ glance + s·used
    // ⇔ s·(local − 2·used) ≥ glance.
    let room = local - 2.0 * used;
    Some(OracleBound {
        top1,
        gflops,
        glance_gflops: glance,
        full_gflops: full,
        local_share: if local > 0.0 { used / local } else { 0.0 },
        local_scale_for_half: (room > 0.0).then(|| glance / room),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample with per-step predicted classes and cumulative GFLOPs.
    fn sample(label: u32, predicted: &[usize], gflops: &[f64]) -> Sample {
        let logits = predicted
            .iter()
            .map(|&c| (0..3).map(|i| if i == c { 1.0 } else { 0.0 }).collect())
            .collect();
        Sample {
            path: String::new(),
            logits,
            gflops: gflops.to_vec(),
            label,
        }
    }

    #[test]
    fn the_oracle_pays_for_the_cheapest_right_videos_first() {
        // Four videos, glance 1.0, each cube 1.0; 3 of 4 right at the last step.
        let s = vec![
            sample(0, &[0, 0, 0], &[1.0, 2.0, 3.0]), // right at the glance: costs 1
            sample(1, &[0, 1, 1], &[1.0, 2.0, 3.0]), // right after one cube: 2
            sample(2, &[0, 0, 2], &[1.0, 2.0, 3.0]), // right after two cubes: 3
            sample(2, &[0, 0, 0], &[1.0, 2.0, 3.0]), // never right: stops at the glance
        ];
        // Held to 75 %: three right videos, 1 + 2 + 3 + 1 = 7 GFLOPs over 4.
        let b = oracle_bound(&s, 0.0).expect("samples");
        assert!((b.top1 - 0.75).abs() < 1e-12);
        assert!((b.gflops - 7.0 / 4.0).abs() < 1e-12);
        assert!((b.glance_gflops - 1.0).abs() < 1e-12);
        assert!((b.full_gflops - 3.0).abs() < 1e-12);
        // Cubes used: 3 of the 8 cube-GFLOPs the largest budget runs.
        assert!((b.local_share - 0.375).abs() < 1e-12);
        // s·(2 − 2·0.75) ≥ 1 ⇔ s ≥ 2: then half of 1 + 4 = 2.5 = 1 + 2·0.75.
        let s_needed = b.local_scale_for_half.expect("reachable");
        assert!((s_needed - 2.0).abs() < 1e-12);
        // 25 points of tolerance: two right videos, the two cheapest (1 and 2).
        let b = oracle_bound(&s, 0.25).expect("samples");
        assert!((b.gflops - (1.0 + 2.0 + 1.0 + 1.0) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn no_scale_helps_when_the_oracle_needs_half_the_cubes() {
        // Every video is right only after its last cube.
        let s = vec![
            sample(1, &[0, 1], &[1.0, 2.0]),
            sample(2, &[0, 2], &[1.0, 2.0]),
        ];
        let b = oracle_bound(&s, 0.0).expect("samples");
        assert_eq!(b.local_share, 1.0);
        assert_eq!(b.local_scale_for_half, None);
        assert_eq!(oracle_bound(&[], 0.02), None);
    }
}
