//! Dynamic evaluation: apply thresholds to a split and measure what they buy.
//!
//! A sample runs step by step and stops at the first step whose criterion passes the threshold
//! (the last step always stops it); its prediction is the one made there. The expected GFLOPs are
//! the mean cumulative cost at the stopping step. The random-exit baseline keeps the same number
//! of exits per step but picks *which* samples stop at random: the gap between the two is what the
//! criterion is worth.

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::calibration::Labels;
use super::criterion::probabilities;
use super::error::{DecisionError, Result};
use super::prepared::{PreparedCalibration, Split, SplitData};
use super::solver::Solution;

/// Outcome of applying an exit rule to one split.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// The split evaluated.
    pub split: Split,
    /// Exit step per sample of the split (order of [`PreparedCalibration::split_samples`]).
    pub exit_steps: Vec<u16>,
    /// Predicted class (arg-max at the exit step) per sample.
    pub predictions: Vec<u32>,
    /// Samples stopping at each step.
    pub counts: Vec<usize>,
    /// Share of samples stopping at each step.
    pub shares: Vec<f64>,
    /// Expected (mean) GFLOPs per video.
    pub gflops: f64,
    /// Top-1 accuracy in [0, 1] (multi-label: the arg-max is one of the labels).
    pub top1: f64,
    /// Top-5 accuracy in [0, 1] (multi-label: a label is among the five best classes).
    pub top5: f64,
}

impl PreparedCalibration {
    /// Applies a solution's thresholds to the evaluation split.
    pub fn evaluate(&self, solution: &Solution) -> Evaluation {
        self.evaluate_on(Split::Eval, solution)
    }

    /// Applies a solution's thresholds to a chosen split (the fitting split reproduces the plan,
    /// up to ties in the criterion).
    pub fn evaluate_on(&self, split: Split, solution: &Solution) -> Evaluation {
        let d = self.split(split);
        let n = d.n;
        let steps = self.steps;
        let scores = &d.scores[solution.criterion.index()];
        let th = &solution.score_thresholds;
        let mut exits = vec![0u16; n];
        let mut running: Vec<u32> = (0..n as u32).collect();
        let mut next = Vec::with_capacity(n);
        for t in 0..steps {
            let row = &scores[t * n..(t + 1) * n];
            let last = t + 1 == steps;
            let thr = th.get(t).copied().unwrap_or(f64::NEG_INFINITY);
            next.clear();
            for &j in &running {
                if last || row[j as usize] >= thr {
                    exits[j as usize] = t as u16;
                } else {
                    next.push(j);
                }
            }
            std::mem::swap(&mut running, &mut next);
            if running.is_empty() {
                break;
            }
        }
        summarize(split, d, steps, exits)
    }

    /// Random-exit baseline on the evaluation split: `counts[t]` samples, drawn at random (seeded
    /// ChaCha8), stop at step t.
    pub fn random_exit(&self, counts: &[usize], seed: u64) -> Result<Evaluation> {
        let d = &self.eval;
        if counts.len() != self.steps || counts.iter().sum::<usize>() != d.n {
            return Err(DecisionError::BadCounts(format!(
                "{} counts summing to {} for {} steps and {} samples",
                counts.len(),
                counts.iter().sum::<usize>(),
                self.steps,
                d.n
            )));
        }
        let mut order: Vec<u32> = (0..d.n as u32).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        order.shuffle(&mut rng);
        let mut exits = vec![0u16; d.n];
        let mut at = 0;
        for (t, &c) in counts.iter().enumerate() {
            for &j in &order[at..at + c] {
                exits[j as usize] = t as u16;
            }
            at += c;
        }
        Ok(summarize(Split::Eval, d, self.steps, exits))
    }

    /// Everyone on the evaluation split stops at step `t` (the fixed-step curve).
    pub fn fixed_step(&self, t: usize) -> Result<Evaluation> {
        if t >= self.steps {
            return Err(DecisionError::BadCounts(format!(
                "step {t} out of range ({} steps)",
                self.steps
            )));
        }
        Ok(summarize(
            Split::Eval,
            &self.eval,
            self.steps,
            vec![t as u16; self.eval.n],
        ))
    }

    /// Mean average precision over classes (in [0, 1]) of the predictions an evaluation used:
    /// per class, samples ranked by the softmax probability of that class at their exit step,
    /// average precision as in scikit-learn's `average_precision_score` (ties grouped), then the
    /// plain mean over all classes. A class with no positive sample scores 0, as in scikit-learn
    /// (≥ 1.3 behaviour) and the official `cal_map`.
    ///
    /// `evaluation` must come from this `PreparedCalibration` (a foreign one is not detected
    /// beyond staying in bounds).
    pub fn mean_average_precision(&self, evaluation: &Evaluation) -> f64 {
        let d = self.split(evaluation.split);
        let classes = self.set.classes();
        let n = d.n;
        // Probabilities at the exit step, class-major so each class is one contiguous column.
        let mut cols = vec![0.0f64; classes * n];
        let mut pos = vec![false; classes * n];
        let mut probs = Vec::with_capacity(classes);
        for (j, (&i, &t)) in d.samples.iter().zip(&evaluation.exit_steps).enumerate() {
            let i = i as usize;
            let t = (t as usize).min(self.steps - 1);
            probabilities(self.set.row(i, t), self.set.output_kind(), &mut probs);
            for (c, &p) in probs.iter().enumerate() {
                cols[c * n + j] = p;
            }
            for &l in self.set.labels().of(i) {
                pos[l as usize * n + j] = true;
            }
        }
        let mut scratch = ApScratch::default();
        let mut sum = 0.0;
        for c in 0..classes {
            let r = c * n..(c + 1) * n;
            sum += scratch.average_precision(&cols[r.clone()], &pos[r]);
        }
        sum / classes as f64
    }

    /// Whether the headline metric of this set is mAP (multi-label) rather than top-1.
    pub fn uses_map(&self) -> bool {
        matches!(self.set.labels(), Labels::Multi(_))
    }
}

fn summarize(split: Split, d: &SplitData, steps: usize, exits: Vec<u16>) -> Evaluation {
    let n = d.n;
    let mut counts = vec![0usize; steps];
    let mut predictions = Vec::with_capacity(n);
    let (mut gflops, mut c1, mut c5) = (0.0, 0usize, 0usize);
    for (j, &t) in exits.iter().enumerate() {
        let t = t as usize;
        let k = t * n + j;
        counts[t] += 1;
        gflops += d.cost(t, j);
        c1 += d.top1[k] as usize;
        c5 += d.top5[k] as usize;
        predictions.push(d.prediction[k]);
    }
    let nf = n as f64;
    Evaluation {
        split,
        shares: counts.iter().map(|&c| c as f64 / nf).collect(),
        counts,
        exit_steps: exits,
        predictions,
        gflops: gflops / nf,
        top1: c1 as f64 / nf,
        top5: c5 as f64 / nf,
    }
}

/// Average precision of one binary ranking, scikit-learn semantics: Σ (R_k − R_{k−1}) · P_k over
/// the distinct score thresholds, descending (samples with equal scores enter together). 0 when
/// there is no positive.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> f64 {
    ApScratch::default().average_precision(scores, positive)
}

/// Reusable buffers for [`average_precision`].
///
/// Only thresholds at positive scores change recall, so instead of sorting all n scores the
/// positives' distinct scores are sorted (P log P) and every score is binned among them by binary
/// search (n log P): with one or a few labels per video, P ≪ n and this is several times faster
/// than a full sort, with exactly the same result, ties included.
#[derive(Default)]
struct ApScratch {
    thresholds: Vec<f64>,
    positives_at: Vec<usize>,
    counts: Vec<usize>,
}

impl ApScratch {
    fn average_precision(&mut self, scores: &[f64], positive: &[bool]) -> f64 {
        self.thresholds.clear();
        self.thresholds.extend(
            scores
                .iter()
                .zip(positive)
                .filter(|(_, &p)| p)
                .map(|(&s, _)| s),
        );
        let total_pos = self.thresholds.len();
        if total_pos == 0 {
            return 0.0;
        }
        self.thresholds.sort_unstable_by(|a, b| b.total_cmp(a));
        // Distinct positive scores, descending, with how many positives sit at each.
        self.positives_at.clear();
        let mut k = 0;
        for i in 0..total_pos {
            if i > 0 && self.thresholds[i] == self.thresholds[k] {
                self.positives_at[k] += 1;
            } else {
                self.thresholds[self.positives_at.len()] = self.thresholds[i];
                k = self.positives_at.len();
                self.positives_at.push(1);
            }
        }
        let distinct = self.positives_at.len();
        self.thresholds.truncate(distinct);
        // counts[k] = samples with thresholds[k] ≤ score < thresholds[k − 1].
        self.counts.clear();
        self.counts.resize(distinct, 0);
        for &x in scores {
            let k = self.thresholds.partition_point(|&t| t > x);
            if k < distinct {
                self.counts[k] += 1;
            }
        }
        let (mut seen, mut tp, mut ap) = (0usize, 0usize, 0.0);
        for k in 0..distinct {
            seen += self.counts[k];
            tp += self.positives_at[k];
            ap += self.positives_at[k] as f64 / total_pos as f64 * (tp as f64 / seen as f64);
        }
        ap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_hand_computed() {
        // ranking: + - + -  → precisions at positives 1/1, 2/3 → AP = (1 + 2/3)/2
        let ap = average_precision(&[0.9, 0.8, 0.7, 0.1], &[true, false, true, false]);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-15);
        // a tie between a positive and a negative at the top counts as one threshold: P = 1/2.
        let ap = average_precision(&[0.5, 0.5, 0.1], &[true, false, true]);
        assert!((ap - (0.5 * 0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-15);
        assert_eq!(average_precision(&[0.3, 0.2], &[false, false]), 0.0);
        assert_eq!(average_precision(&[0.3, 0.2], &[true, true]), 1.0);
    }

    /// Straightforward definition: sort everything, walk the distinct thresholds.
    fn ap_by_sorting(scores: &[f64], positive: &[bool]) -> f64 {
        let mut pairs: Vec<(f64, bool)> = scores
            .iter()
            .copied()
            .zip(positive.iter().copied())
            .collect();
        let total = pairs.iter().filter(|p| p.1).count();
        if total == 0 {
            return 0.0;
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (mut tp, mut seen, mut prev, mut ap, mut i) = (0, 0, 0, 0.0, 0);
        while i < pairs.len() {
            let s = pairs[i].0;
            while i < pairs.len() && pairs[i].0 == s {
                tp += pairs[i].1 as usize;
                seen += 1;
                i += 1;
            }
            ap += (tp - prev) as f64 / total as f64 * (tp as f64 / seen as f64);
            prev = tp;
        }
        ap
    }

    #[test]
    fn binned_average_precision_equals_the_sorting_definition() {
        let mut rng = crate::decision::synthetic::SplitMix64::new(99);
        for case in 0..200 {
            let n = 1 + case % 40;
            // few distinct values → many ties
            let levels = 1 + case % 7;
            let scores: Vec<f64> = (0..n)
                .map(|_| (rng.uniform() * levels as f64).floor() / levels as f64)
                .collect();
            let positive: Vec<bool> = (0..n).map(|_| rng.uniform() < 0.3).collect();
            let a = average_precision(&scores, &positive);
            let b = ap_by_sorting(&scores, &positive);
            assert!((a - b).abs() < 1e-12, "case {case}: {a} vs {b}");
        }
    }
}
