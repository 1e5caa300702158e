//! Generic per-frame lanes: decisions of adaptive models that the fixed fields of a
//! [`DecisionTrace`](super::DecisionTrace) do not name. AR-Net picks a resolution per frame (or
//! skips it), AdaMML a modality, VideoIQ a bit-width: a *categorical* lane, each category with
//! its cost. Token-pruning models keep a share of tokens per frame: a *scalar* lane.
//!
//! A trace declares its lanes once ([`LaneSpec`], `DecisionTrace::lanes`); each clip holds one
//! value per sampled frame of each lane (`ClipTrace::lanes`, in the order of the clip's
//! `frames`; `null` where the model decided nothing for that frame). A categorical value is the
//! index of its category. The window's lanes, the figures and the dataset view read them
//! through the functions here.

use serde::{Deserialize, Serialize};

/// At most this many lanes in a trace, categories in a lane, and characters in a name: a
/// trace from elsewhere is bounded before anything is drawn from it.
pub const MAX_LANES: usize = 32;
pub const MAX_CATEGORIES: usize = 256;
pub const MAX_NAME_CHARS: usize = 200;

/// What kind of values a lane holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneKind {
    /// One of the lane's categories per frame (its index).
    Categorical,
    /// A number per frame (e.g. the share of tokens kept).
    Scalar,
}

/// One category of a categorical lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub name: String,
    /// What one frame decided this way costs, in GFLOPs (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
}

/// A lane as the trace declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneSpec {
    /// Unique within the trace; the key of the clips' values.
    pub name: String,
    pub kind: LaneKind,
    /// The categories of a categorical lane, in index order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// The unit of a scalar lane's values (e.g. `share`, `ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The range a scalar lane's values are drawn in (default: the values' own range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
}

impl LaneSpec {
    pub fn categorical(name: impl Into<String>, categories: Vec<Category>) -> Self {
        Self {
            name: name.into(),
            kind: LaneKind::Categorical,
            categories,
            unit: None,
            range: None,
        }
    }

    pub fn scalar(name: impl Into<String>, unit: Option<String>, range: Option<[f64; 2]>) -> Self {
        Self {
            name: name.into(),
            kind: LaneKind::Scalar,
            categories: Vec::new(),
            unit,
            range,
        }
    }

    /// The category a stored value names (`None` for a scalar lane, a missing value, or an
    /// index the lane does not have).
    pub fn category(&self, value: Option<f64>) -> Option<(usize, &Category)> {
        let v = value?;
        if self.kind != LaneKind::Categorical || v < 0.0 || v.fract() != 0.0 {
            return None;
        }
        let i = v as usize;
        self.categories.get(i).map(|c| (i, c))
    }

    /// Where a scalar value sits in the lane's range, in [0, 1] (`None` for a missing value).
    /// Without a declared range, `seen` (the lowest and highest value in the trace) is used.
    pub fn unit_position(&self, value: Option<f64>, seen: (f64, f64)) -> Option<f64> {
        let v = value.filter(|v| v.is_finite())?;
        let (lo, hi) = self.range.map_or(seen, |[a, b]| (a, b));
        if hi > lo {
            Some(((v - lo) / (hi - lo)).clamp(0.0, 1.0))
        } else {
            Some(1.0)
        }
    }

    /// How a value reads in a label: the category's name, or the number with its unit.
    pub fn value_text(&self, value: Option<f64>) -> String {
        match (self.kind, value) {
            (_, None) => "none".into(),
            (LaneKind::Categorical, v) => self
                .category(v)
                .map_or_else(|| "?".into(), |(_, c)| c.name.clone()),
            (LaneKind::Scalar, Some(v)) => match &self.unit {
                Some(u) => format!("{v:.3} {u}"),
                None => format!("{v:.3}"),
            },
        }
    }
}

/// The colour of category `i` of a categorical lane: the step palette after its first entry,
/// so a lane's categories do not look like cube 1. The last category named `skip` (or any
/// whose cost is 0) is drawn grey by the callers that know it.
pub fn category_rgb(i: usize) -> [u8; 3] {
    super::trace::step_rgb(i + 2)
}

/// The grey of a category that skips the frame (cost 0), as the discarded frames are drawn.
pub const SKIP_RGB: [u8; 3] = [150, 150, 150];

/// The colour a category is drawn in: grey when it costs nothing (a skipped frame).
pub fn category_colour(i: usize, c: &Category) -> [u8; 3] {
    if c.gflops == Some(0.0) {
        SKIP_RGB
    } else {
        category_rgb(i)
    }
}

/// How often each category of a categorical lane was chosen over all clips, and the GFLOPs
/// those choices cost where the categories have costs.
pub fn category_counts<'a>(
    spec: &LaneSpec,
    clips: impl IntoIterator<Item = &'a super::trace::ClipTrace>,
) -> (Vec<usize>, Option<f64>) {
    let mut counts = vec![0; spec.categories.len()];
    let mut cost = 0.0;
    let mut costed = false;
    for c in clips {
        for v in c.lanes.get(&spec.name).into_iter().flatten() {
            if let Some((i, cat)) = spec.category(*v) {
                counts[i] += 1;
                if let Some(g) = cat.gflops {
                    cost += g;
                    costed = true;
                }
            }
        }
    }
    (counts, costed.then_some(cost))
}

/// A generic lane summed over many traces (a run of logged traces in the dataset view): how
/// often each category was chosen and what that cost, or a scalar lane's range and mean.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneTotals {
    pub spec: LaneSpec,
    /// Per category: frames decided that way (categorical lanes).
    pub counts: Vec<usize>,
    /// GFLOPs of those choices where the categories have costs.
    pub gflops: Option<f64>,
    /// Lowest, highest and sum of a scalar lane's values, and how many there were.
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub values: usize,
}

impl LaneTotals {
    /// The totals of every lane of `traces`, in the order the first trace declares them (a
    /// lane of the same name in a later trace is added when its kind and categories match).
    pub fn of<'a>(traces: impl IntoIterator<Item = &'a super::trace::DecisionTrace>) -> Vec<Self> {
        let mut out = Vec::new();
        for t in traces {
            Self::add(&mut out, t);
        }
        out
    }

    /// Add one trace's lanes to `totals` (one trace at a time: a run's traces need not all be
    /// in memory at once).
    pub fn add(totals: &mut Vec<Self>, t: &super::trace::DecisionTrace) {
        for spec in &t.lanes {
            let i = match totals.iter().position(|o| o.spec.name == spec.name) {
                Some(i)
                    if totals[i].spec.kind == spec.kind
                        && totals[i].spec.categories.len() == spec.categories.len() =>
                {
                    i
                }
                Some(_) => continue,
                None => {
                    totals.push(LaneTotals {
                        spec: spec.clone(),
                        counts: vec![0; spec.categories.len()],
                        gflops: None,
                        min: f64::INFINITY,
                        max: f64::NEG_INFINITY,
                        sum: 0.0,
                        values: 0,
                    });
                    totals.len() - 1
                }
            };
            let o = &mut totals[i];
            match spec.kind {
                LaneKind::Categorical => {
                    let (counts, cost) = category_counts(spec, &t.clips);
                    for (a, b) in o.counts.iter_mut().zip(counts) {
                        *a += b;
                    }
                    if let Some(c) = cost {
                        *o.gflops.get_or_insert(0.0) += c;
                    }
                }
                LaneKind::Scalar => {
                    let values = t.clips.iter().filter_map(|c| c.lanes.get(&spec.name));
                    for v in values.flatten().flatten().filter(|v| v.is_finite()) {
                        o.min = o.min.min(*v);
                        o.max = o.max.max(*v);
                        o.sum += v;
                        o.values += 1;
                    }
                }
            }
        }
    }
}
