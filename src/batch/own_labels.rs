//! Thresholds fitted on a run's own labels: the run's labelled clips as a calibration set, so
//! the budget solver (AdaFocusV3 eq. 7) can fit η_t on half of them and evaluate on the other
//! half, for a model whose checkpoint has no calibration set, or to see how the checkpoint's
//! thresholds transfer.
//!
//! A trace keeps each step's top-k probabilities, its entropy and its confidence, not the whole
//! softmax. Each step's row is rebuilt from them: the top-k exactly, and the mass left spread
//! over the other classes so that the row's entropy is the stored one (one class takes a
//! share, the rest split the remainder evenly; the share is found by bisection). What the
//! solver reads — entropy, confidence, top-1 and top-5 correctness, cumulative GFLOPs — is then
//! the model's own; only scores below the top k are made up (mAP is not computed from them).

use super::table::{RowStatus, RunTable};
use crate::decision::trace::StepPrediction;
use crate::decision::CalibrationSet;

#[derive(Debug, thiserror::Error)]
pub enum OwnLabelsError {
    #[error("no finished video of the run has a label the checkpoint knows")]
    NoLabels,
    #[error("the run's class names are unknown (no trace gives them)")]
    NoClasses,
    #[error(transparent)]
    Decision(#[from] crate::decision::DecisionError),
}

/// Largest calibration set built (clips × steps × classes floats).
const MAX_OUTPUTS: usize = 200_000_000;

impl RunTable {
    /// The run's labelled clips as a calibration set: samples alternate between fitting and
    /// evaluation; a clip with fewer steps than the longest stops at its last one.
    pub fn own_calibration(&self) -> Result<CalibrationSet, OwnLabelsError> {
        let classes = self.class_names.len();
        if classes == 0 {
            return Err(OwnLabelsError::NoClasses);
        }
        let clips: Vec<(u32, &[StepPrediction])> = self
            .rows
            .iter()
            .filter(|r| r.status == RowStatus::Ok)
            .filter_map(|r| r.label_class.map(|l| (l, r)))
            .flat_map(|(l, r)| r.clips.iter().map(move |c| (l, c.steps.as_slice())))
            .filter(|(l, s)| !s.is_empty() && (*l as usize) < classes)
            .collect();
        if clips.is_empty() {
            return Err(OwnLabelsError::NoLabels);
        }
        let steps = clips.iter().map(|(_, s)| s.len()).max().unwrap_or(1);
        if clips.len().saturating_mul(steps).saturating_mul(classes) > MAX_OUTPUTS {
            return Err(crate::decision::DecisionError::Invalid(format!(
                "{} clips × {steps} steps × {classes} classes is too large a calibration set",
                clips.len()
            ))
            .into());
        }
        // Each step's whole softmax rebuilt from its top-k and entropy.
        let samples: Vec<crate::decision::calibration::LabelledClip> = clips
            .iter()
            .map(|(l, s)| {
                let rows = s.iter().map(|step| {
                    let row = rebuilt_row(step, classes).into_iter().map(|p| p as f32);
                    (row.collect(), step.cumulative_gflops)
                });
                (*l, rows.collect())
            })
            .collect();
        let set = CalibrationSet::of_clips(classes, &samples)?;
        Ok(set.with_description(format!(
            "this run's own labels ({} clips of {}; fitted on half, evaluated on the other half)",
            clips.len(),
            self.dir.display()
        )))
    }
}

/// A whole probability row from a step's top-k and entropy (see the module doc).
pub fn rebuilt_row(step: &StepPrediction, classes: usize) -> Vec<f64> {
    let mut row = vec![0.0f64; classes];
    let mut known = vec![false; classes];
    for p in &step.top {
        if let Some(slot) = row.get_mut(p.class as usize) {
            *slot = f64::from(p.prob.max(0.0));
            known[p.class as usize] = true;
        }
    }
    let rest: Vec<usize> = (0..classes).filter(|&c| !known[c]).collect();
    let left = (1.0 - row.iter().sum::<f64>()).max(0.0);
    if rest.is_empty() || left <= 0.0 {
        return row;
    }
    let h_top: f64 = row.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
    let target = f64::from(step.entropy) - h_top;
    // No class outside the top k is more likely than the k-th.
    let cap = step
        .top
        .iter()
        .map(|p| f64::from(p.prob))
        .fold(f64::INFINITY, f64::min)
        .min(left);
    let m = rest.len() as f64;
    let h = |q: f64| {
        let share = |x: f64| if x > 0.0 { -x * x.ln() } else { 0.0 };
        share(q) + (m - 1.0) * share((left - q) / (m - 1.0).max(1.0))
    };
    // q from even (most entropy) to as concentrated as the cap allows (least).
    let (mut even, mut peak) = (left / m, cap.max(left / m));
    let q = if rest.len() == 1 || !target.is_finite() || target >= h(even) {
        even
    } else if target <= h(peak) {
        peak
    } else {
        for _ in 0..60 {
            let mid = 0.5 * (even + peak);
            if h(mid) > target {
                even = mid;
            } else {
                peak = mid;
            }
        }
        0.5 * (even + peak)
    };
    let others = if rest.len() > 1 {
        (left - q) / (m - 1.0)
    } else {
        0.0
    };
    for (j, &c) in rest.iter().enumerate() {
        row[c] = if j == 0 { q } else { others };
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::trace::ClassProb;

    fn entropy(row: &[f64]) -> f64 {
        row.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum()
    }

    #[test]
    fn a_rebuilt_row_keeps_the_top_k_the_confidence_and_the_entropy() {
        // A real softmax over 12 classes, its top 5 and entropy as a trace keeps them.
        let logits: Vec<f32> = (0..12)
            .map(|i| ((i * 7 % 12) as f32 * 0.37).sin() * 3.0)
            .collect();
        let s = StepPrediction::from_logits(1, &logits, 5, 0.5);
        let row = rebuilt_row(&s, 12);
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        assert!(
            (entropy(&row) - f64::from(s.entropy)).abs() < 1e-5,
            "{row:?}"
        );
        for p in &s.top {
            assert_eq!(row[p.class as usize], f64::from(p.prob));
        }
        let (best, _) = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        assert_eq!(best as u32, s.top[0].class);
        // Every class outside the top 5 stays at most the 5th's probability.
        let fifth = f64::from(s.top[4].prob);
        assert!(row
            .iter()
            .all(|&p| p <= fifth + 1e-9 || s.top.iter().any(|t| f64::from(t.prob) == p)));
    }

    #[test]
    fn all_classes_in_the_top_k_is_the_row_itself() {
        let s = StepPrediction {
            probs: None,
            step: 0,
            top: vec![
                ClassProb {
                    class: 1,
                    prob: 0.7,
                },
                ClassProb {
                    class: 0,
                    prob: 0.3,
                },
            ],
            entropy: 0.61,
            confidence: 0.7,
            cumulative_gflops: 1.0,
        };
        assert_eq!(
            rebuilt_row(&s, 2),
            vec![0.30000001192092896, 0.699999988079071]
        );
    }
}
