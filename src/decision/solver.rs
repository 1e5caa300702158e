//! Exit thresholds for a budget (AdaFocusV3 eq. 7, solved the MSDNet way).
//!
//! Maximising accuracy under a mean-GFLOPs budget over all threshold vectors is intractable, so
//! the paper (following MSDNet and AdaFocusV2) restricts the exit distribution to a geometric
//! family: a share q_t ∝ p^t of the videos stops at step t. For one p the thresholds follow
//! directly: on the fitting split, step by step, the planned number of still-running samples with
//! the surest predictions stop, and η_t is the criterion value of the last one taken. Larger p
//! moves exits later and costs more, so bisection on p meets a budget.
//!
//! Rounding. The planned counts round the *cumulative* shares, N_t = ⌊n·Σ_{s≤t} q_s + ½⌋, and exit
//! t takes N_t − N_{t−1}. Unlike rounding each share down separately (the official scripts), this
//! keeps N_t monotone in p — so with a cost per step the expected cost never decreases as p grows
//! and bisection is sound — and lets "everyone at step 0" / "everyone at the last step" be reached
//! by finite p instead of leaving a rounding remainder at the last exit.
//!
//! With costs that vary per sample, which samples exit (not only how many) sets the cost, so the
//! cost is only approximately monotone in p; the solver still guarantees the cost on the fitting
//! split never exceeds the budget when the budget is in range.

use super::criterion::Criterion;
use super::error::{DecisionError, Result};
use super::prepared::{PreparedCalibration, SplitCosts, SplitData};

/// How a budget relates to the range the fitting split allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clamp {
    /// The budget is within [cost of always step 0, cost of always the last step].
    None,
    /// Below the cost of stopping everyone at step 0: answer is "everyone at step 0", which
    /// still exceeds the budget.
    BelowMinimum,
    /// Above the cost of running everyone to the end: answer is "everyone at the last step".
    AboveMaximum,
}

/// How the planned exit counts are rounded from the geometric shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Cumulative shares rounded half up (see the module docs): monotone in p, so a budget
    /// search is sound, and both extremes are reachable.
    #[default]
    Cumulative,
    /// As the official MSDNet / AdaFocus / Uni-AdaFocus early-exit scripts: each exit's share
    /// of the fitting split rounded down in float32 (`floor(n · q_t)`), the remainder to the
    /// last exit; the threshold of an exit is the score of the `count`-th surest sample still
    /// running, and every running sample at least that sure exits there (ties included); an
    /// exit that plans more samples than are still running takes nobody (the scripts' threshold
    /// stays at 1e8). Reproduces their exit counts, thresholds and accuracy at a given p.
    Official,
}

impl std::str::FromStr for Rounding {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cumulative" => Ok(Rounding::Cumulative),
            "official" => Ok(Rounding::Official),
            other => Err(format!("rounding '{other}': use cumulative or official")),
        }
    }
}

impl Rounding {
    /// Planned exits per step for `n` samples at geometric parameter `p`.
    pub fn counts(self, p: f64, n: usize, steps: usize) -> Vec<usize> {
        match self {
            Rounding::Cumulative => planned_counts(p, n, steps),
            Rounding::Official => official_counts(p, n, steps),
        }
    }
}

/// The official scripts' counts: `probs = exp(log(p) · [1..K])` in float32, normalised,
/// `floor(n · probs[k])` for every exit but the last, which takes the rest. p = 0 and +∞
/// (outside the scripts' range) put everyone at the first or the last exit.
fn official_counts(p: f64, n: usize, steps: usize) -> Vec<usize> {
    let lp = (p as f32).ln();
    let w: Vec<f32> = (1..=steps).map(|k| (lp * k as f32).exp()).collect();
    let total: f32 = w.iter().sum();
    let shares: Vec<f32> = if total.is_finite() && total > 0.0 && p.is_finite() && p > 0.0 {
        w.iter().map(|x| x / total).collect()
    } else {
        geometric_shares(p, steps)
            .iter()
            .map(|&q| q as f32)
            .collect()
    };
    let mut counts = vec![0usize; steps];
    let mut taken = 0usize;
    for t in 0..steps.saturating_sub(1) {
        let c = ((n as f32 * shares[t]).floor().max(0.0) as usize).min(n - taken);
        counts[t] = c;
        taken += c;
    }
    if steps > 0 {
        counts[steps - 1] = n - taken;
    }
    counts
}

/// Thresholds and planned exits for one geometric parameter (from a budget or given directly).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Solution {
    /// The criterion the thresholds apply to.
    pub criterion: Criterion,
    /// Geometric parameter: q_t ∝ p^t. 0 means everyone at step 0, +∞ everyone at the last step.
    pub p: f64,
    /// The budget asked for, if solved from a budget.
    pub budget: Option<f64>,
    /// Whether the budget was outside the reachable range.
    pub clamp: Clamp,
    /// How the planned counts were rounded.
    pub rounding: Rounding,
    /// Planned exits per step on the fitting split (sum = fitting split size).
    pub planned_counts: Vec<usize>,
    /// Internal thresholds, larger = surer: exit at step t when score ≥ this. +∞ = nobody exits
    /// there, −∞ = everybody still running exits (always the case at the last step).
    #[serde(skip)]
    pub score_thresholds: Vec<f64>,
    /// Expected GFLOPs per video on the fitting split with the planned exits.
    pub fit_gflops: f64,
    /// Reachable budget range on the fitting split (always step 0, always last step).
    pub fit_cost_range: (f64, f64),
}

impl Solution {
    /// Thresholds in the criterion's own unit: entropy η_t (exit when H ≤ η_t; −∞ = nobody,
    /// +∞ = everybody) or confidence τ_t (exit when max p ≥ τ_t; +∞ = nobody, −∞ = everybody).
    pub fn thresholds(&self) -> Vec<f64> {
        self.score_thresholds
            .iter()
            .map(|&s| self.criterion.natural_threshold(s))
            .collect()
    }

    /// Thresholds to decide exits with (`DecisionTrace` exit rules): every step's, ±∞ kept, so
    /// a step that admits everybody stops everybody (`finite_thresholds` would say nobody).
    pub fn exit_thresholds(&self) -> Vec<Option<f64>> {
        self.thresholds().into_iter().map(Some).collect()
    }

    /// Thresholds for JSON and tables: `None` where the step admits nobody or everybody.
    pub fn finite_thresholds(&self) -> Vec<Option<f64>> {
        self.thresholds()
            .into_iter()
            .map(|v| v.is_finite().then_some(v))
            .collect()
    }

    /// Planned exit shares on the fitting split.
    pub fn planned_shares(&self) -> Vec<f64> {
        let n: usize = self.planned_counts.iter().sum();
        self.planned_counts
            .iter()
            .map(|&c| c as f64 / n.max(1) as f64)
            .collect()
    }
}

/// The geometric exit distribution q_t = p^t / Σ_s p^s over `steps` steps. p = 0 puts all mass
/// on step 0, p = +∞ on the last step. Weights are built relative to the largest one so large p
/// or many steps cannot overflow.
pub fn geometric_shares(p: f64, steps: usize) -> Vec<f64> {
    let w = geometric_weights(p, steps);
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

fn geometric_weights(p: f64, steps: usize) -> Vec<f64> {
    let mut w = vec![0.0; steps];
    if steps == 0 {
        return w;
    }
    if p <= 1.0 {
        w[0] = 1.0;
        for t in 1..steps {
            w[t] = w[t - 1] * p;
        }
    } else {
        let r = 1.0 / p;
        w[steps - 1] = 1.0;
        for t in (0..steps - 1).rev() {
            w[t] = w[t + 1] * r;
        }
    }
    w
}

/// Planned exits per step for `n` samples: cumulative shares rounded half up (see module docs).
pub fn planned_counts(p: f64, n: usize, steps: usize) -> Vec<usize> {
    let w = geometric_weights(p, steps);
    let total: f64 = w.iter().sum();
    let mut counts = vec![0usize; steps];
    let mut cum = 0.0;
    let mut prev = 0usize;
    for t in 0..steps.saturating_sub(1) {
        cum += w[t];
        let target = ((n as f64 * (cum / total) + 0.5).floor() as usize).clamp(prev, n);
        counts[t] = target - prev;
        prev = target;
    }
    if steps > 0 {
        counts[steps - 1] = n - prev;
    }
    counts
}

/// Bisection stops when hi/lo is within this factor.
const P_REL_TOL: f64 = 1e-12;
/// Hard cap on bisection iterations (≈ 45 are needed at the tolerance above).
const MAX_ITER: usize = 200;

impl PreparedCalibration {
    /// Thresholds for a budget of mean GFLOPs per video on the fitting split: the largest p whose
    /// planned exits cost at most `budget`. Out-of-range budgets are clamped and flagged.
    pub fn solve_budget(&self, criterion: Criterion, budget: f64) -> Result<Solution> {
        self.solve_budget_with(criterion, budget, Rounding::Cumulative)
    }

    /// [`Self::solve_budget`] with a choice of rounding. With [`Rounding::Official`] the cost
    /// is not monotone in p, so the bisection finds a p within budget, not always the largest;
    /// and tiny p still leave the rounding remainder at the last exit, so budgets near the
    /// minimum may be out of its reach (flagged as below the minimum).
    pub fn solve_budget_with(
        &self,
        criterion: Criterion,
        budget: f64,
        rounding: Rounding,
    ) -> Result<Solution> {
        if !budget.is_finite() {
            return Err(DecisionError::BadBudget(budget));
        }
        let n = self.fit.n;
        let (min, max) = self.fit_cost_range();
        let (p, counts, clamp) = if budget < min {
            (
                0.0,
                rounding.counts(0.0, n, self.steps),
                Clamp::BelowMinimum,
            )
        } else if budget >= max || self.steps == 1 {
            let clamp = if budget > max {
                Clamp::AboveMaximum
            } else {
                Clamp::None
            };
            (
                f64::INFINITY,
                rounding.counts(f64::INFINITY, n, self.steps),
                clamp,
            )
        } else {
            // At lo every planned exit is step 0 (cost = min ≤ budget); at hi every planned exit
            // is the last step (cost = max > budget). See the module docs for why.
            let mut lo = 1.0 / (4.0 * n as f64);
            let mut hi = 4.0 * n as f64;
            let mut counts_lo = rounding.counts(lo, n, self.steps);
            let mut counts_hi = rounding.counts(hi, n, self.steps);
            let mut exits = vec![0u16; n];
            for _ in 0..MAX_ITER {
                if hi / lo <= 1.0 + P_REL_TOL {
                    break;
                }
                let mid = (lo * hi).sqrt();
                let c = rounding.counts(mid, n, self.steps);
                // Same plan as an end of the bracket: same cost, no need to recompute.
                if c == counts_lo {
                    lo = mid;
                } else if c == counts_hi {
                    hi = mid;
                } else if self.planned_cost(criterion, &c, &mut exits, rounding) <= budget {
                    lo = mid;
                    counts_lo = c;
                } else {
                    hi = mid;
                    counts_hi = c;
                }
            }
            (lo, counts_lo, Clamp::None)
        };
        let mut sol = self.plan(criterion, p, counts, rounding);
        sol.budget = Some(budget);
        sol.clamp = clamp;
        if clamp == Clamp::None && sol.fit_gflops > budget * (1.0 + 1e-12) {
            // Official rounding cannot put everyone at the first exit.
            sol.clamp = Clamp::BelowMinimum;
        }
        Ok(sol)
    }

    /// Thresholds for a given geometric parameter p (0 ≤ p ≤ +∞), for comparison with other
    /// implementations at the same p.
    pub fn solve_p(&self, criterion: Criterion, p: f64) -> Result<Solution> {
        self.solve_p_with(criterion, p, Rounding::Cumulative)
    }

    /// [`Self::solve_p`] with a choice of rounding.
    pub fn solve_p_with(
        &self,
        criterion: Criterion,
        p: f64,
        rounding: Rounding,
    ) -> Result<Solution> {
        if p.is_nan() || p < 0.0 {
            return Err(DecisionError::BadP(p));
        }
        let counts = rounding.counts(p, self.fit.n, self.steps);
        Ok(self.plan(criterion, p, counts, rounding))
    }

    /// Thresholds for explicit planned exit counts on the fitting split (one per step, summing
    /// to its size); `p` is only recorded.
    pub fn solve_counts(
        &self,
        criterion: Criterion,
        p: f64,
        counts: Vec<usize>,
    ) -> Result<Solution> {
        if counts.len() != self.steps || counts.iter().sum::<usize>() != self.fit.n {
            return Err(DecisionError::BadCounts(format!(
                "{} counts summing to {} for {} steps and {} fitting samples",
                counts.len(),
                counts.iter().sum::<usize>(),
                self.steps,
                self.fit.n
            )));
        }
        Ok(self.plan(criterion, p, counts, Rounding::Cumulative))
    }

    /// [`Self::solve_counts`] for counts known to be valid.
    fn plan(
        &self,
        criterion: Criterion,
        p: f64,
        counts: Vec<usize>,
        rounding: Rounding,
    ) -> Solution {
        let mut exits = vec![0u16; self.fit.n];
        let score_thresholds = fit_thresholds(&self.fit, criterion, &counts, &mut exits, rounding);
        let fit_gflops = match rounding {
            Rounding::Cumulative => plan_cost(&self.fit, &counts, &exits),
            // Ties make the exits differ from the planned counts: cost what happens.
            Rounding::Official => exit_cost(&self.fit, &exits),
        };
        Solution {
            criterion,
            p,
            budget: None,
            clamp: Clamp::None,
            rounding,
            planned_counts: counts,
            score_thresholds,
            fit_gflops,
            fit_cost_range: self.fit_cost_range(),
        }
    }

    /// Expected cost on the fitting split of a plan. With per-step costs this needs only the
    /// counts; with per-sample costs the greedy assignment decides who pays what.
    fn planned_cost(
        &self,
        criterion: Criterion,
        counts: &[usize],
        exits: &mut [u16],
        rounding: Rounding,
    ) -> f64 {
        if rounding == Rounding::Official {
            fit_thresholds(&self.fit, criterion, counts, exits, rounding);
            return exit_cost(&self.fit, exits);
        }
        if let SplitCosts::PerSample(_) = self.fit.costs {
            fit_thresholds(&self.fit, criterion, counts, exits, rounding);
        }
        plan_cost(&self.fit, counts, exits)
    }
}

/// Mean cost of a plan; `exits` is only read for per-sample costs.
fn plan_cost(d: &SplitData, counts: &[usize], exits: &[u16]) -> f64 {
    match &d.costs {
        SplitCosts::PerStep(c) => {
            counts
                .iter()
                .zip(c)
                .map(|(&m, &c)| m as f64 * c)
                .sum::<f64>()
                / d.n as f64
        }
        SplitCosts::PerSample(_) => exit_cost(d, exits),
    }
}

/// Mean cost of the exits `exits` (one step per sample).
fn exit_cost(d: &SplitData, exits: &[u16]) -> f64 {
    exits
        .iter()
        .enumerate()
        .map(|(j, &t)| d.cost(t as usize, j))
        .sum::<f64>()
        / d.n as f64
}

/// The threshold fit: at each step the threshold is the score of the `counts[t]`-th surest
/// sample still running. [`Rounding::Cumulative`] stops exactly those `counts[t]` samples, and
/// a plan that stops everyone still running says so with −∞ (so evaluation samples less sure
/// than every fitting sample stop there too instead of paying for the last step).
/// [`Rounding::Official`] stops every running sample at least that sure (ties included), and an
/// exit planned for more samples than are left keeps +∞ ("nobody"), as MSDNet's
/// `dynamic_eval_find_threshold` does. Writes each sample's exit into `exits`.
fn fit_thresholds(
    d: &SplitData,
    criterion: Criterion,
    counts: &[usize],
    exits: &mut [u16],
    rounding: Rounding,
) -> Vec<f64> {
    let steps = counts.len();
    let n = d.n;
    let scores = &d.scores[criterion.index()];
    let orders = &d.orders[criterion.index()];
    let mut thresholds = vec![f64::INFINITY; steps];
    let mut done = vec![false; n];
    let mut running = n;
    for t in 0..steps.saturating_sub(1) {
        let m = counts[t];
        if m == 0 {
            continue;
        }
        let scores_t = &scores[t * n..(t + 1) * n];
        let order_t = &orders[t * n..(t + 1) * n];
        if rounding == Rounding::Cumulative && m >= running {
            for (j, d) in done.iter_mut().enumerate() {
                if !*d {
                    *d = true;
                    exits[j] = t as u16;
                }
            }
            thresholds[t] = f64::NEG_INFINITY;
            running = 0;
            continue;
        }
        let Some(last) = order_t
            .iter()
            .map(|&j| j as usize)
            .filter(|&j| !done[j])
            .nth(m - 1)
        else {
            continue; // Official: more planned than left, nobody exits here.
        };
        let thr = scores_t[last];
        thresholds[t] = thr;
        let stops: Vec<usize> = match rounding {
            // The m surest still running, in order, up to and including `last`.
            Rounding::Cumulative => order_t
                .iter()
                .map(|&j| j as usize)
                .filter(|&j| !done[j])
                .take(m)
                .collect(),
            Rounding::Official => (0..n).filter(|&j| !done[j] && scores_t[j] >= thr).collect(),
        };
        for j in stops {
            done[j] = true;
            exits[j] = t as u16;
            running -= 1;
        }
    }
    if steps > 0 {
        thresholds[steps - 1] = f64::NEG_INFINITY;
        for (j, &dn) in done.iter().enumerate() {
            if !dn {
                exits[j] = (steps - 1) as u16;
            }
        }
    }
    thresholds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::calibration::{CalibrationSet, Labels, OutputKind, Role, StepCosts};

    #[test]
    fn geometric_shares_hand_computed() {
        let q = geometric_shares(0.5, 3);
        assert!((q[0] - 4.0 / 7.0).abs() < 1e-15);
        assert!((q[1] - 2.0 / 7.0).abs() < 1e-15);
        assert!((q[2] - 1.0 / 7.0).abs() < 1e-15);
        assert_eq!(geometric_shares(0.0, 3), vec![1.0, 0.0, 0.0]);
        assert_eq!(geometric_shares(f64::INFINITY, 3), vec![0.0, 0.0, 1.0]);
        let q = geometric_shares(2.0, 3);
        assert!((q[2] - 4.0 / 7.0).abs() < 1e-15);
    }

    #[test]
    fn planned_counts_round_cumulative_shares() {
        // n = 10, p = 0.5: cumulative shares 4/7, 6/7 → 5.71→6, 8.57→9 → counts 6, 3, 1.
        assert_eq!(planned_counts(0.5, 10, 3), vec![6, 3, 1]);
        assert_eq!(planned_counts(1.0, 9, 3), vec![3, 3, 3]);
        assert_eq!(planned_counts(0.0, 7, 4), vec![7, 0, 0, 0]);
        assert_eq!(planned_counts(f64::INFINITY, 7, 4), vec![0, 0, 0, 7]);
        assert_eq!(planned_counts(1e-9, 7, 4), vec![7, 0, 0, 0]);
        assert_eq!(planned_counts(0.3, 5, 1), vec![5]);
    }

    /// 4 samples, 3 steps, 2 classes; logits chosen so the entropy ranking is obvious.
    fn hand_set() -> PreparedCalibration {
        // (sample, step) → logit margin of class 0 over class 1; larger margin = lower entropy.
        let margins = [
            [3.0, 4.0, 5.0],
            [1.0, 0.5, 6.0],
            [2.0, 3.5, 0.1],
            [0.2, 0.3, 0.4],
        ];
        let mut out = Vec::new();
        for m in margins {
            for v in m {
                out.extend([v as f32, 0.0]);
            }
        }
        let set = CalibrationSet::new(
            4,
            3,
            2,
            OutputKind::Logits,
            out,
            Labels::Single(vec![0, 0, 1, 0]),
            StepCosts::PerStep(vec![1.0, 2.0, 4.0]),
            vec![Role::Both; 4],
        )
        .expect("valid");
        PreparedCalibration::new(set).expect("prepared")
    }

    #[test]
    fn hand_computed_thresholds() {
        let prep = hand_set();
        // p = 1 → shares 1/3 each; cumulative 4/3→1, 8/3→3 → counts 1, 2, 1.
        let sol = prep.solve_p(Criterion::Entropy, 1.0).expect("solve");
        assert_eq!(sol.planned_counts, vec![1, 2, 1]);
        // Step 0: surest is sample 0 (margin 3). Step 1: remaining 1 (0.5), 2 (3.5), 3 (0.3):
        // take 2 then 1; threshold = entropy at margin 0.5.
        let h = |m: f64| {
            let p0 = 1.0 / (1.0 + (-m).exp());
            -(p0 * p0.ln() + (1.0 - p0) * (1.0 - p0).ln())
        };
        let eta = sol.thresholds();
        assert!((eta[0] - h(3.0)).abs() < 1e-6);
        assert!((eta[1] - h(0.5)).abs() < 1e-6);
        assert_eq!(eta[2], f64::INFINITY);
        // cost = (1·1 + 2·2 + 1·4) / 4
        assert!((sol.fit_gflops - 9.0 / 4.0).abs() < 1e-12);
        let ev = prep.evaluate(&sol);
        assert_eq!(ev.counts, vec![1, 2, 1]);
        assert_eq!(ev.exit_steps, vec![0, 1, 1, 2]);
        // predictions: class 0 everywhere (positive margins); labels 0,0,1,0 → 3/4 correct.
        assert!((ev.top1 - 0.75).abs() < 1e-12);
    }

    #[test]
    fn budget_bisection_and_clamping() {
        let prep = hand_set();
        let lo = prep.solve_budget(Criterion::Entropy, 0.5).expect("solve");
        assert_eq!(lo.clamp, Clamp::BelowMinimum);
        assert_eq!(lo.planned_counts, vec![4, 0, 0]);
        let at_min = prep.solve_budget(Criterion::Entropy, 1.0).expect("solve");
        assert_eq!(at_min.clamp, Clamp::None);
        assert_eq!(at_min.planned_counts, vec![4, 0, 0]);
        // everyone stops at step 0: the rule says "everybody", not a criterion value
        assert_eq!(at_min.thresholds()[0], f64::INFINITY);
        assert_eq!(at_min.finite_thresholds()[0], None);
        // ... and a trace marked with it stops at step 0, whatever the entropy.
        assert_eq!(at_min.exit_thresholds()[0], Some(f64::INFINITY));
        let at_max = prep.solve_budget(Criterion::Entropy, 4.0).expect("solve");
        assert_eq!(at_max.clamp, Clamp::None);
        assert_eq!(at_max.planned_counts, vec![0, 0, 4]);
        let hi = prep.solve_budget(Criterion::Entropy, 9.0).expect("solve");
        assert_eq!(hi.clamp, Clamp::AboveMaximum);
        assert_eq!(hi.planned_counts, vec![0, 0, 4]);
        // 2.25 is exactly reachable (counts 1,2,1 at p = 1); the solver must not exceed it and
        // must not leave a cheaper-than-needed plan when a larger p still fits.
        let mid = prep.solve_budget(Criterion::Entropy, 2.25).expect("solve");
        assert!(mid.fit_gflops <= 2.25 + 1e-12);
        assert!(mid.fit_gflops >= 2.0, "{:?}", mid.planned_counts);
        assert!(prep.solve_budget(Criterion::Entropy, f64::NAN).is_err());
        assert!(prep.solve_p(Criterion::Entropy, -1.0).is_err());
    }
}
