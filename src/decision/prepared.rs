//! A calibration set with everything the solver needs computed once.
//!
//! The GUI re-solves on every slider move, so all per-(sample, step) work — softmax, entropy,
//! confidence, arg-max, top-1/top-5 hits, per-step orderings by each criterion — happens here,
//! once. Arrays are step-major (`[step][sample]`) because both the threshold fit and the
//! evaluation walk one step at a time over the samples still running.

use super::calibration::{CalibrationSet, StepCosts};
use super::criterion::{row_stats, Criterion, RowStats};
use super::error::{DecisionError, Result};

/// Which part of the calibration set an operation works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Samples used to fit thresholds (roles `Fit` and `Both`).
    Fit,
    /// Samples used to evaluate thresholds (roles `Eval` and `Both`).
    Eval,
}

/// Costs of one split, step-major when they vary per sample.
#[derive(Clone, Debug)]
pub(crate) enum SplitCosts {
    PerStep(Vec<f64>),
    PerSample(Vec<f64>),
}

/// Precomputed data of one split. Local sample `j` is `samples[j]` in the set.
#[derive(Clone, Debug)]
pub(crate) struct SplitData {
    pub(crate) samples: Vec<u32>,
    pub(crate) n: usize,
    /// Per criterion, `[step * n + j]`, larger = surer.
    pub(crate) scores: [Vec<f64>; 2],
    /// Per criterion, per step, local indices by descending score (ties: lower index first).
    /// Only filled for the fitting split.
    pub(crate) orders: [Vec<u32>; 2],
    pub(crate) top1: Vec<bool>,
    pub(crate) top5: Vec<bool>,
    pub(crate) prediction: Vec<u32>,
    pub(crate) costs: SplitCosts,
}

impl SplitData {
    #[inline]
    pub(crate) fn cost(&self, t: usize, j: usize) -> f64 {
        match &self.costs {
            SplitCosts::PerStep(c) => c[t],
            SplitCosts::PerSample(c) => c[t * self.n + j],
        }
    }

    /// Mean cost when everyone stops at step `t`.
    pub(crate) fn mean_cost_at(&self, t: usize) -> f64 {
        match &self.costs {
            SplitCosts::PerStep(c) => c[t],
            SplitCosts::PerSample(c) => {
                c[t * self.n..(t + 1) * self.n].iter().sum::<f64>() / self.n as f64
            }
        }
    }
}

/// A calibration set prepared for fast solving and evaluation. Owns the set.
#[derive(Clone, Debug)]
pub struct PreparedCalibration {
    pub(crate) set: CalibrationSet,
    pub(crate) steps: usize,
    pub(crate) fit: SplitData,
    pub(crate) eval: SplitData,
    /// Fixed-step accuracy on the evaluation split: (top-1, top-5) per step.
    pub(crate) fixed: Vec<(f64, f64)>,
}

impl PreparedCalibration {
    /// Computes softmax statistics for every sample and step, both criteria, and the per-step
    /// orderings of the fitting split. Errors if either split is empty.
    pub fn new(set: CalibrationSet) -> Result<Self> {
        let steps = set.steps();
        let fit_idx: Vec<u32> = (0..set.samples())
            .filter(|&i| set.roles()[i].fits())
            .map(|i| i as u32)
            .collect();
        let eval_idx: Vec<u32> = (0..set.samples())
            .filter(|&i| set.roles()[i].evaluates())
            .map(|i| i as u32)
            .collect();
        if fit_idx.is_empty() {
            return Err(DecisionError::EmptyFitSplit);
        }
        if eval_idx.is_empty() {
            return Err(DecisionError::EmptyEvalSplit);
        }
        if u32::try_from(set.samples()).is_err() {
            return Err(DecisionError::Invalid("more than 2^32 samples".into()));
        }
        // Row statistics for every sample once, sample-major.
        let mut stats = Vec::with_capacity(set.samples() * steps);
        let mut scratch = Vec::with_capacity(set.classes());
        for i in 0..set.samples() {
            let labels = set.labels().of(i);
            for t in 0..steps {
                stats.push(row_stats(
                    set.row(i, t),
                    set.output_kind(),
                    labels,
                    &mut scratch,
                ));
            }
        }
        let fit = build_split(&set, &stats, fit_idx, true);
        let eval = build_split(&set, &stats, eval_idx, false);
        let fixed = (0..steps)
            .map(|t| {
                let r = t * eval.n..(t + 1) * eval.n;
                let n = eval.n as f64;
                (
                    eval.top1[r.clone()].iter().filter(|&&b| b).count() as f64 / n,
                    eval.top5[r].iter().filter(|&&b| b).count() as f64 / n,
                )
            })
            .collect();
        Ok(Self {
            set,
            steps,
            fit,
            eval,
            fixed,
        })
    }

    /// The underlying calibration set.
    pub fn set(&self) -> &CalibrationSet {
        &self.set
    }

    /// Number of steps (exits).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Number of samples in a split.
    pub fn split_len(&self, split: Split) -> usize {
        self.split(split).n
    }

    /// Indices into the calibration set of the samples of a split, in the order used by
    /// per-sample outputs such as [`super::Evaluation::exit_steps`].
    pub fn split_samples(&self, split: Split) -> &[u32] {
        &self.split(split).samples
    }

    /// Mean GFLOPs on the fitting split of "everyone stops at step 0" and "everyone runs to the
    /// last step": the range of budgets the solver can meet exactly.
    pub fn fit_cost_range(&self) -> (f64, f64) {
        (
            self.fit.mean_cost_at(0),
            self.fit.mean_cost_at(self.steps - 1),
        )
    }

    /// Mean GFLOPs on a split when everyone stops at step `t`.
    pub fn mean_cost_at(&self, split: Split, t: usize) -> f64 {
        self.split(split).mean_cost_at(t)
    }

    /// Per-sample criterion value (entropy or confidence, natural units) of sample `j` of a split
    /// at step `t`; used by views that show where a sample sits relative to a threshold.
    pub fn criterion_value(&self, split: Split, criterion: Criterion, t: usize, j: usize) -> f64 {
        let d = self.split(split);
        criterion.natural_threshold(d.scores[criterion.index()][t * d.n + j])
    }

    pub(crate) fn split(&self, split: Split) -> &SplitData {
        match split {
            Split::Fit => &self.fit,
            Split::Eval => &self.eval,
        }
    }
}

fn build_split(
    set: &CalibrationSet,
    stats: &[RowStats],
    samples: Vec<u32>,
    with_orders: bool,
) -> SplitData {
    let steps = set.steps();
    let n = samples.len();
    let mut scores = [vec![0.0; n * steps], vec![0.0; n * steps]];
    let mut top1 = vec![false; n * steps];
    let mut top5 = vec![false; n * steps];
    let mut prediction = vec![0u32; n * steps];
    for (j, &i) in samples.iter().enumerate() {
        for t in 0..steps {
            let s = &stats[i as usize * steps + t];
            let k = t * n + j;
            for c in Criterion::ALL {
                scores[c.index()][k] = s.score(c);
            }
            top1[k] = s.top1;
            top5[k] = s.top5;
            prediction[k] = s.prediction;
        }
    }
    let orders = if with_orders {
        let order_of = |sc: &[f64]| {
            let mut all = Vec::with_capacity(n * steps);
            for t in 0..steps {
                let row = &sc[t * n..(t + 1) * n];
                let mut idx: Vec<u32> = (0..n as u32).collect();
                // Stable: equal scores keep ascending index order.
                idx.sort_by(|&a, &b| row[b as usize].total_cmp(&row[a as usize]));
                all.extend(idx);
            }
            all
        };
        [order_of(&scores[0]), order_of(&scores[1])]
    } else {
        [Vec::new(), Vec::new()]
    };
    let costs = match set.costs() {
        StepCosts::PerStep(c) => SplitCosts::PerStep(c.clone()),
        StepCosts::PerSample(_) => {
            let mut c = vec![0.0; n * steps];
            for (j, &i) in samples.iter().enumerate() {
                for t in 0..steps {
                    c[t * n + j] = set.cost(i as usize, t);
                }
            }
            SplitCosts::PerSample(c)
        }
    };
    SplitData {
        samples,
        n,
        scores,
        orders,
        top1,
        top5,
        prediction,
        costs,
    }
}
