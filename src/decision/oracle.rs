//! The oracle exit: the best top-1 any exit rule could reach at each mean cost, given the
//! model's per-step predictions. An oracle that knows the labels stops each sample at its first
//! step whose top-1 is right (a sample never right stops at step 0), and when the budget cannot
//! pay for all of them it pays for the cheapest first.
//!
//! Every exit rule (entropy, confidence, learned, random) only picks one step per sample, and
//! a sample's cost never falls from one step to the next (`CalibrationSet::new` refuses such
//! costs), so each sample a rule gets right costs at least what the oracle pays for it and
//! each one it gets wrong at least its step-0 cost: the frontier bounds them all. The gap between a criterion's curve and this frontier is what a better exit rule
//! could still win; where the frontier itself is short of a target, only different decisions
//! (or a different split of the cost between steps) can reach it.

use super::prepared::{PreparedCalibration, Split};

/// The oracle frontier of one split.
#[derive(Clone, Debug, PartialEq)]
pub struct OracleFrontier {
    /// Samples in the split.
    pub samples: usize,
    /// Mean cost of step 0 (everybody stops there at the least).
    pub first_step_gflops: f64,
    /// Mean cost of the last step (nobody stops early).
    pub last_step_gflops: f64,
    /// Top-1 at the last step, for reference.
    pub last_step_top1: f64,
    /// What each sample that is ever right costs beyond step 0 at its first right step,
    /// ascending.
    extra: Vec<f64>,
}

impl OracleFrontier {
    /// The best top-1 reachable at a mean cost of `gflops` or less (NaN for a NaN cost).
    pub fn top1_at(&self, gflops: f64) -> f64 {
        if gflops.is_nan() {
            return f64::NAN;
        }
        let n = self.samples as f64;
        let mut room = (gflops - self.first_step_gflops) * n;
        let mut right = 0usize;
        for &e in &self.extra {
            // A relative tolerance keeps the sum's rounding from refusing an exact budget.
            if e > room + 1e-12 * (1.0 + room.abs()) {
                break;
            }
            room -= e;
            right += 1;
        }
        right as f64 / n
    }

    /// The least mean cost at which top-1 reaches `top1`; `None` when no exit rule reaches it.
    pub fn gflops_for(&self, top1: f64) -> Option<f64> {
        // The fewest right samples that make `top1` (the epsilon keeps 0.906·1000 from
        // rounding up to one sample more).
        let needed = ((top1 * self.samples as f64) - 1e-9).ceil().max(0.0) as usize;
        (needed <= self.extra.len()).then(|| {
            self.first_step_gflops + self.extra[..needed].iter().sum::<f64>() / self.samples as f64
        })
    }

    /// The frontier as (mean GFLOPs, top-1) points, one per sample made right, from step 0
    /// alone (every sample right there, at no extra cost) to every ever-right sample; at most
    /// `max_points` (at least 2: the first and the last are always kept), evenly over the
    /// samples. Between two points the frontier is a staircase under the straight segment.
    /// Past its last corner it stays flat to the last step's cost, the end of the range.
    pub fn points(&self, max_points: usize) -> Vec<[f64; 2]> {
        let n = self.samples as f64;
        let free = self.extra.iter().take_while(|&&e| e <= 0.0).count();
        let total = self.extra.len();
        let stride = (total - free).div_ceil(max_points.max(2) - 1).max(1);
        let mut out = vec![[self.first_step_gflops, free as f64 / n]];
        let mut spent = 0.0;
        for (k, &e) in self.extra.iter().enumerate().skip(free) {
            spent += e;
            let right = k + 1;
            if (right - free) % stride == 0 || right == total {
                out.push([self.first_step_gflops + spent / n, right as f64 / n]);
            }
        }
        if let Some(&[g, t]) = out.last() {
            if g < self.last_step_gflops {
                out.push([self.last_step_gflops, t]);
            }
        }
        out
    }
}

impl PreparedCalibration {
    /// The oracle frontier of `split` (see the module docs). A prepared set has at least one
    /// sample in each split and at least one step (`PreparedCalibration::new` refuses others).
    pub fn oracle(&self, split: Split) -> OracleFrontier {
        let d = self.split(split);
        let (n, steps) = (d.n, self.steps);
        let mut extra: Vec<f64> = (0..n)
            .filter_map(|j| {
                let t = (0..steps).find(|&t| d.top1[t * n + j])?;
                Some(d.cost(t, j) - d.cost(0, j))
            })
            .collect();
        extra.sort_by(f64::total_cmp);
        let last = steps - 1;
        let last_right = (0..n).filter(|&j| d.top1[last * n + j]).count();
        OracleFrontier {
            samples: n,
            first_step_gflops: d.mean_cost_at(0),
            last_step_gflops: d.mean_cost_at(last),
            last_step_top1: last_right as f64 / n as f64,
            extra,
        }
    }
}

/// A prepared set (every sample `Both`) whose sample i predicts class `predicted[i][t]` at
/// step t, every step costing `step_costs[t]`: what the oracle's tests are written in.
#[cfg(test)]
pub(crate) fn from_predictions(
    labels: Vec<u32>,
    predicted: &[Vec<u32>],
    step_costs: &[f64],
) -> PreparedCalibration {
    use crate::decision::{CalibrationSet, Labels, OutputKind, Role, StepCosts};
    let (n, steps) = (labels.len(), step_costs.len());
    let classes = predicted
        .iter()
        .flatten()
        .chain(&labels)
        .max()
        .map_or(1, |&c| c as usize + 1);
    let outputs = predicted
        .iter()
        .flatten()
        .flat_map(|&c| (0..classes).map(move |k| if k == c as usize { 2.0 } else { 0.0 }))
        .collect();
    let set = CalibrationSet::new(
        n,
        steps,
        classes,
        OutputKind::Logits,
        outputs,
        Labels::Single(labels),
        StepCosts::PerStep(step_costs.to_vec()),
        vec![Role::Both; n],
    )
    .expect("valid");
    PreparedCalibration::new(set).expect("prepared")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_pays_for_the_cheapest_right_samples_first() {
        let p = from_predictions(
            vec![0, 1, 2, 2],
            &[
                vec![0, 0, 0], // right at step 0: costs 1
                vec![0, 1, 1], // right at step 1: 2
                vec![0, 0, 2], // right at step 2: 3
                vec![0, 0, 0], // never right: stops at step 0
            ],
            &[1.0, 2.0, 3.0],
        );
        let o = p.oracle(Split::Eval);
        assert_eq!((o.first_step_gflops, o.last_step_gflops), (1.0, 3.0));
        assert_eq!(o.last_step_top1, 0.75);
        // Three right: 1 + 2 + 3 + 1 over four samples.
        assert_eq!(o.gflops_for(0.75), Some(7.0 / 4.0));
        // Two right: the two cheapest, 1 + 2 + 1 + 1.
        assert_eq!(o.gflops_for(0.5), Some(5.0 / 4.0));
        assert_eq!(o.gflops_for(0.25), Some(1.0));
        assert_eq!(o.gflops_for(1.0), None, "one sample is never right");
        assert_eq!(o.top1_at(1.0), 0.25);
        assert_eq!(o.top1_at(1.24), 0.25);
        assert_eq!(o.top1_at(1.25), 0.5);
        assert_eq!(o.top1_at(10.0), 0.75);
        assert_eq!(
            o.points(10),
            vec![[1.0, 0.25], [1.25, 0.5], [1.75, 0.75], [3.0, 0.75]]
        );
        // Thinned to 2 corners, step 0 and the last, then flat to the last step's cost.
        assert_eq!(o.points(2), vec![[1.0, 0.25], [1.75, 0.75], [3.0, 0.75]]);
    }

    #[test]
    fn no_exit_rule_beats_the_frontier() {
        use crate::decision::synthetic::{synthetic_set, SyntheticSpec};
        use crate::decision::{Criterion, CurveOptions};
        let mut spec = SyntheticSpec::simple(400, 6, 10, 7);
        spec.per_sample_costs = true;
        spec.fit_samples = Some(200);
        let p = PreparedCalibration::new(synthetic_set(&spec).expect("synthetic set"))
            .expect("prepared");
        let o = p.oracle(Split::Eval);
        let beats = |gflops: f64, top1: f64| top1 > o.top1_at(gflops + 1e-9);
        for f in p.fixed_step_curve(false).expect("fixed steps") {
            assert!(!beats(f.gflops, f.top1), "{f:?}");
        }
        let budgets = p.default_budgets(9);
        for c in Criterion::ALL {
            let curve = p
                .curve_for_budgets(c, &budgets, &CurveOptions::default())
                .expect("curve");
            for a in &curve.adaptive {
                assert!(!beats(a.gflops, a.top1), "{c:?} {a:?}");
                let r = a.random.as_ref().expect("random baseline");
                assert!(!beats(r.gflops, r.top1), "random {r:?}");
            }
            // And the entropy/confidence exits leave room: the oracle is strictly ahead
            // somewhere in the middle of the range.
            assert!(curve
                .adaptive
                .iter()
                .any(|a| o.top1_at(a.gflops) > a.top1 + 0.01));
        }
    }
}
