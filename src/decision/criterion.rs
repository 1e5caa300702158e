//! Exit criteria and the per-(sample, step) quantities computed once from the class scores.
//!
//! AdaFocusV3 §3.4 stops a video at step t when the entropy of the softmax prediction is at most
//! η_t; the MSDNet-style alternative stops when the largest softmax probability is at least a
//! threshold. Internally both become a *score* where larger means "more sure", so the solver only
//! ever ranks by descending score and compares `score >= threshold`:
//! entropy → score = −H, confidence → score = max p.

use super::calibration::OutputKind;

/// How a step decides that the prediction is reliable enough to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Stop when the entropy −Σ p log p (natural log) is at most η_t (AdaFocusV3 eq. 7).
    Entropy,
    /// Stop when the largest softmax probability is at least τ_t.
    Confidence,
}

impl Criterion {
    /// Both criteria, in the order used for precomputed arrays.
    pub const ALL: [Criterion; 2] = [Criterion::Entropy, Criterion::Confidence];

    /// The value this criterion compares with its threshold at step `s`.
    pub fn value(self, s: &super::trace::StepPrediction) -> f32 {
        match self {
            Criterion::Entropy => s.entropy,
            Criterion::Confidence => s.confidence,
        }
    }

    /// Whether step `s` meets threshold `t` (entropy at most η, confidence at least τ).
    pub fn meets(self, s: &super::trace::StepPrediction, t: f64) -> bool {
        match self {
            Criterion::Entropy => (s.entropy as f64) <= t,
            Criterion::Confidence => (s.confidence as f64) >= t,
        }
    }

    /// The top of this criterion's axis for `classes` classes: ln C (the largest entropy) or
    /// 1 (the largest probability). The window's lanes and the figures draw the same axis.
    pub fn axis_top(self, classes: usize) -> f64 {
        match self {
            Criterion::Entropy => (classes.max(2) as f64).ln(),
            Criterion::Confidence => 1.0,
        }
    }

    /// Index into per-criterion arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Criterion::Entropy => 0,
            Criterion::Confidence => 1,
        }
    }

    /// Converts an internal score threshold (exit when score ≥ it) to the criterion's own unit:
    /// entropy η (exit when H ≤ η) or confidence τ (exit when max p ≥ τ). ±∞ pass through with
    /// the right sign: "never exit" is η = −∞ / τ = +∞, "always exit" is η = +∞ / τ = −∞.
    pub fn natural_threshold(self, score_threshold: f64) -> f64 {
        match self {
            Criterion::Entropy => -score_threshold,
            Criterion::Confidence => score_threshold,
        }
    }

    /// Whether the criterion exits when its natural value is at most the threshold (entropy) or
    /// at least it (confidence); for display.
    pub fn exits_below(self) -> bool {
        matches!(self, Criterion::Entropy)
    }

    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Entropy => "entropy",
            Criterion::Confidence => "confidence",
        }
    }
}

impl std::str::FromStr for Criterion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "entropy" => Ok(Criterion::Entropy),
            "confidence" | "max-confidence" | "max_confidence" => Ok(Criterion::Confidence),
            other => Err(format!(
                "unknown criterion '{other}' (expected entropy or confidence)"
            )),
        }
    }
}

impl std::fmt::Display for Criterion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything the solver and the accuracy evaluation need from one row of class scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowStats {
    /// Entropy of the softmax distribution, natural log.
    pub entropy: f64,
    /// Largest softmax probability.
    pub confidence: f64,
    /// Arg-max class (lowest index on ties).
    pub prediction: u32,
    /// Whether a label is the arg-max (multi-label: any of them).
    pub top1: bool,
    /// Whether a label is among the five best classes (ties broken towards the lower index, the
    /// same order as the arg-max).
    pub top5: bool,
}

impl RowStats {
    /// Score in the solver's "larger = surer" convention.
    pub fn score(&self, criterion: Criterion) -> f64 {
        match criterion {
            Criterion::Entropy => -self.entropy,
            Criterion::Confidence => self.confidence,
        }
    }
}

/// Softmax probabilities of a row (f64), written into `out`.
pub fn probabilities(row: &[f32], kind: OutputKind, out: &mut Vec<f64>) {
    out.clear();
    match kind {
        OutputKind::Logits => {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
            out.extend(row.iter().map(|&v| (v as f64 - max).exp()));
        }
        OutputKind::Probabilities => out.extend(row.iter().map(|&v| v as f64)),
    }
    let sum: f64 = out.iter().sum();
    out.iter_mut().for_each(|p| *p /= sum);
}

/// Computes [`RowStats`] for one row; `scratch` avoids an allocation per row.
pub fn row_stats(
    row: &[f32],
    kind: OutputKind,
    labels: &[u32],
    scratch: &mut Vec<f64>,
) -> RowStats {
    probabilities(row, kind, scratch);
    let mut entropy = 0.0;
    let mut confidence = f64::NEG_INFINITY;
    let mut prediction = 0u32;
    for (c, &p) in scratch.iter().enumerate() {
        if p > 0.0 {
            entropy -= p * p.ln();
        }
        if p > confidence {
            confidence = p;
            prediction = c as u32;
        }
    }
    // Rank of a label = number of classes ordered before it (higher raw score, or equal score and
    // lower index). Computed on the raw row so ties are the row's own ties.
    let mut best_rank = usize::MAX;
    for &l in labels {
        let sl = row[l as usize];
        let rank = row
            .iter()
            .enumerate()
            .filter(|&(j, &s)| s > sl || (s == sl && j < l as usize))
            .count();
        best_rank = best_rank.min(rank);
    }
    RowStats {
        entropy,
        confidence,
        prediction,
        top1: best_rank == 0,
        top5: best_rank < 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_row() {
        let mut s = Vec::new();
        let r = row_stats(&[0.0; 4], OutputKind::Logits, &[2], &mut s);
        assert!((r.entropy - 4f64.ln()).abs() < 1e-12);
        assert!((r.confidence - 0.25).abs() < 1e-12);
        // ties: class 0 wins, label 2 has rank 2
        assert_eq!(r.prediction, 0);
        assert!(!r.top1);
        assert!(r.top5);
    }

    #[test]
    fn hand_computed_two_classes() {
        // softmax([ln 3, 0]) = [0.75, 0.25]
        let mut s = Vec::new();
        let r = row_stats(&[3f32.ln(), 0.0], OutputKind::Logits, &[0], &mut s);
        let h = -(0.75f64 * 0.75f64.ln() + 0.25 * 0.25f64.ln());
        assert!((r.entropy - h).abs() < 1e-7, "{} vs {h}", r.entropy);
        assert!((r.confidence - 0.75).abs() < 1e-7);
        assert!(r.top1 && r.top5);
        assert!((r.score(Criterion::Entropy) + h).abs() < 1e-7);
    }

    #[test]
    fn probabilities_with_zeros_and_multilabel_top5() {
        let mut s = Vec::new();
        let row = [0.0, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0];
        let r = row_stats(&row, OutputKind::Probabilities, &[7, 1], &mut s);
        assert!(r.top1); // class 1 is the arg-max and a label
        assert_eq!(r.prediction, 1);
        let r = row_stats(&row, OutputKind::Probabilities, &[7], &mut s);
        assert!(!r.top5); // class 7 ranks last
        let h = -(0.5f64 * 0.5f64.ln() + 5.0 * 0.1 * 0.1f64.ln());
        assert!((r.entropy - h).abs() < 1e-6);
    }

    #[test]
    fn parse_and_natural_units() {
        assert_eq!("Entropy".parse::<Criterion>(), Ok(Criterion::Entropy));
        assert_eq!("confidence".parse::<Criterion>(), Ok(Criterion::Confidence));
        assert!("foo".parse::<Criterion>().is_err());
        assert_eq!(Criterion::Entropy.natural_threshold(-1.5), 1.5);
        assert_eq!(
            Criterion::Entropy.natural_threshold(f64::INFINITY),
            f64::NEG_INFINITY
        );
    }
}
