//! The DecisionTrace: everything an adaptive model decided on one video, in one serialisable,
//! versioned value (docs/ARCHITECTURE.md §3). Every view — timeline, viewer, figures, `inspect
//! --json`, batch summaries — reads this and nothing else, so what one shows the others show.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calibration::OutputKind;
use super::criterion::{row_stats, Criterion};
use super::lanes::LaneSpec;
pub use super::trace_check::TraceError;

/// Bumped on any change that an older reader would misread. Version 2 added the generic
/// lanes (`lanes`) and per-step probabilities (`probs`); version 1 traces read as before.
/// `docs/trace.schema.json` is the published shape of this version.
pub const TRACE_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionTrace {
    pub version: u32,
    /// Architecture that made it (`uni_adafocus`, `ada3d`, `ada3d_focus`).
    pub arch: String,
    pub video: VideoInfo,
    pub clips: Vec<ClipTrace>,
    /// Mean of the clip predictions (the video-level prediction of the papers' test protocol),
    /// top-k classes with probabilities.
    pub video_prediction: Vec<ClassProb>,
    pub class_names: Vec<String>,
    /// How model-input pixels map onto the video's pictures (absent for `--input` tensors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputGeometry>,
    /// Per-frame decisions of kinds the fields above do not name (`super::lanes`): declared
    /// here, filled per clip in `ClipTrace::lanes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<LaneSpec>,
}

/// The model input is the `source_rect` of the displayed picture (after rotation), scaled to
/// `width × height`; boxes in input pixels map back to the video through it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputGeometry {
    pub width: u32,
    pub height: u32,
    /// x, y, width, height in display pixels of the video.
    pub source_rect: [f64; 4],
}

impl InputGeometry {
    /// A point in model-input pixels as display pixels of the video.
    pub fn to_display(&self, x: f64, y: f64) -> (f64, f64) {
        let [sx, sy, sw, sh] = self.source_rect;
        (
            sx + x / self.width.max(1) as f64 * sw,
            sy + y / self.height.max(1) as f64 * sh,
        )
    }

    /// A point in display pixels of the video as model-input pixels (the inverse of
    /// [`InputGeometry::to_display`]).
    pub fn to_input(&self, x: f64, y: f64) -> (f64, f64) {
        let [sx, sy, sw, sh] = self.source_rect;
        (
            (x - sx) / sw.max(f64::MIN_POSITIVE) * self.width as f64,
            (y - sy) / sh.max(f64::MIN_POSITIVE) * self.height as f64,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    pub path: String,
    pub frame_count: usize,
    pub fps: Option<f64>,
    pub width: u32,
    pub height: u32,
}

/// What the model saw of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameRole {
    /// Seen by the glance network only.
    Glance,
    /// Looked at closely (a cube covers it).
    Focus,
    /// Sampled but discarded by the frame policy, or never used.
    Unused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameDecision {
    /// Frame number in the video (display order, from 0).
    pub frame: usize,
    pub seconds: f64,
    /// Keep probability m_t of the frame policy (absent when the arch has none).
    pub keep_prob: Option<f32>,
    pub kept: bool,
    pub role: FrameRole,
    /// Weight the temporal policy gave a glance frame (the focus frames are its quantiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus_weight: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageDecision {
    /// Probability n_k that stage k stays 3D.
    #[serde(deserialize_with = "nan_if_null")]
    pub prob: f32,
    pub ran_3d: bool,
}

/// One spatio-temporal cube the local network looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cube {
    /// 1-based: cube `order` feeds step `order`.
    pub order: usize,
    /// Centre in [0, 1] of the frame width and height.
    #[serde(deserialize_with = "nan_if_null")]
    pub x: f32,
    #[serde(deserialize_with = "nan_if_null")]
    pub y: f32,
    /// Centre in time, as a frame number of the video.
    pub z: usize,
    /// Size in pixels of the model input, and in frames (T').
    pub w: u32,
    pub h: u32,
    pub t: u32,
    /// Frame numbers the cube covers.
    pub frames: Vec<usize>,
    /// The exact box, model-input pixels: x1, y1, x2, y2 (may reach outside the input, where
    /// the patch samples zeros).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<[f32; 4]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassProb {
    pub class: u32,
    #[serde(deserialize_with = "nan_if_null")]
    pub prob: f32,
}

/// The prediction after a step: step 0 is the glance, step k follows cube k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepPrediction {
    pub step: usize,
    pub top: Vec<ClassProb>,
    /// Entropy of the softmax prediction, in nats.
    #[serde(deserialize_with = "nan_if_null")]
    pub entropy: f32,
    #[serde(deserialize_with = "nan_if_null")]
    pub confidence: f32,
    /// GFLOPs spent up to and including this step.
    pub cumulative_gflops: f64,
    /// The whole softmax over the trace's classes, when the maker logged it (traces logged
    /// from other programs; `adalens calibrate --traces` needs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probs: Option<Vec<f32>>,
}

impl StepPrediction {
    /// The prediction of one row of logits: its `k` best classes (ties towards the lower
    /// index), entropy and confidence of the softmax.
    pub fn from_logits(step: usize, logits: &[f32], k: usize, cumulative_gflops: f64) -> Self {
        Self::of_row(
            step,
            logits,
            OutputKind::Logits,
            k,
            cumulative_gflops,
            false,
        )
    }

    /// The prediction of one row of probabilities (renormalised to sum 1), keeping the whole
    /// row in `probs`: what a trace logged from another program holds.
    pub fn from_probs(step: usize, probs: &[f32], k: usize, cumulative_gflops: f64) -> Self {
        Self::of_row(
            step,
            probs,
            OutputKind::Probabilities,
            k,
            cumulative_gflops,
            true,
        )
    }

    /// The prediction of one row of class scores of `kind`; with `keep`, its whole softmax in
    /// `probs`.
    pub fn of_row(
        step: usize,
        row: &[f32],
        kind: OutputKind,
        k: usize,
        cumulative_gflops: f64,
        keep: bool,
    ) -> Self {
        let mut probs = Vec::new();
        let stats = row_stats(row, kind, &[], &mut probs);
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        let top = order
            .into_iter()
            .take(k)
            .map(|c| ClassProb {
                class: c as u32,
                prob: probs[c] as f32,
            })
            .collect();
        Self {
            step,
            top,
            entropy: stats.entropy as f32,
            confidence: stats.confidence as f32,
            cumulative_gflops,
            probs: keep.then(|| probs.iter().map(|&p| p as f32).collect()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitDecision {
    pub criterion: Criterion,
    /// Threshold per step in the criterion's units (entropy: exit if ≤; confidence: exit if ≥);
    /// ±∞ where a budget stops nobody or everybody there (JSON writes those as null); `None`
    /// where nobody exits at that step.
    pub thresholds: Vec<Option<f64>>,
    pub exit_step: usize,
    pub gflops: f64,
    /// The budget (mean GFLOPs per video) the thresholds were solved for, if any.
    pub budget: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipTrace {
    pub frames: Vec<FrameDecision>,
    pub stages: Vec<StageDecision>,
    pub cubes: Vec<Cube>,
    pub steps: Vec<StepPrediction>,
    pub exit: Option<ExitDecision>,
    /// Each declared lane's value per sampled frame, in the order of `frames` (`null` where
    /// nothing was decided; a categorical lane's value is its category's index).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lanes: BTreeMap<String, Vec<Option<f64>>>,
}

/// The colour of cube / step `order` (1-based, cyclic): one palette for the window's lanes,
/// viewer and 3D view and for the figures.
pub const STEP_PALETTE: [[u8; 3]; 8] = [
    [66, 133, 244],
    [234, 67, 53],
    [52, 168, 83],
    [251, 188, 5],
    [171, 71, 188],
    [0, 172, 193],
    [255, 112, 67],
    [158, 157, 36],
];

/// The palette entry of cube / step `order` (1-based).
pub fn step_rgb(order: usize) -> [u8; 3] {
    STEP_PALETTE[order.saturating_sub(1) % STEP_PALETTE.len()]
}

impl ClipTrace {
    /// The step this clip stops at: its marked exit, else its last step (`None` without steps).
    pub fn stop_step(&self) -> Option<usize> {
        self.exit
            .as_ref()
            .map(|e| e.exit_step)
            .or_else(|| self.steps.len().checked_sub(1))
    }

    /// Whether cube (step) `order` is computed: up to the stop step; every cube when the clip
    /// has no exit marked. The window's solid / hollow cubes and the figure's drawn ones.
    pub fn cube_computed(&self, order: usize) -> bool {
        self.exit.as_ref().is_none_or(|e| order <= e.exit_step)
    }

    /// How many of this clip's cubes are computed.
    pub fn computed_cubes(&self) -> usize {
        self.cubes
            .iter()
            .filter(|q| self.cube_computed(q.order))
            .count()
    }

    /// The GFLOPs this clip spends: its cumulative GFLOPs at the stop step (0 without steps).
    pub fn spent_gflops(&self) -> f64 {
        self.stop_step()
            .and_then(|k| self.steps.get(k))
            .map_or(0.0, |s| s.cumulative_gflops)
    }

    /// The step where the model stops under `thresholds`: the first step whose prediction meets
    /// its threshold, else the last one.
    pub fn exit_step(&self, criterion: Criterion, thresholds: &[Option<f64>]) -> usize {
        exit_step_of(&self.steps, criterion, thresholds)
    }
}

/// The step where a clip with these per-step predictions stops under `thresholds`: the first
/// step whose prediction meets its threshold, else the last one (0 without steps).
pub fn exit_step_of(
    steps: &[StepPrediction],
    criterion: Criterion,
    thresholds: &[Option<f64>],
) -> usize {
    let last = steps.len().saturating_sub(1);
    steps
        .iter()
        .zip(thresholds)
        .position(|(s, th)| th.is_some_and(|t| criterion.meets(s, t)))
        .unwrap_or(last)
        .min(last)
}

/// What a video predicts when its clips stop at the given steps: one clip's prediction at its
/// stop step; for several clips, the mean of their stop steps' top-k probabilities (a class
/// outside a clip's top k counts as 0 there), best first, ties towards the lower class. The
/// batch summary and the dataset view both read a video's top-1 from here.
pub fn prediction_at<'a>(clips: impl IntoIterator<Item = &'a StepPrediction>) -> Vec<ClassProb> {
    let stops: Vec<&StepPrediction> = clips.into_iter().collect();
    if let [one] = stops.as_slice() {
        return one.top.clone();
    }
    let mut sum: Vec<ClassProb> = Vec::new();
    for s in &stops {
        for p in &s.top {
            match sum.iter_mut().find(|q| q.class == p.class) {
                Some(q) => q.prob += p.prob,
                None => sum.push(*p),
            }
        }
    }
    let n = stops.len().max(1) as f32;
    for q in &mut sum {
        q.prob /= n;
    }
    sum.sort_by(|a, b| b.prob.total_cmp(&a.prob).then(a.class.cmp(&b.class)));
    sum
}

/// serde_json writes NaN and ±∞ as `null`: read `null` back as NaN, so the trace of a model
/// whose outputs went non-finite still reads (and says so: [`DecisionTrace::warning`]).
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

impl DecisionTrace {
    /// How many predictions and decisions hold NaN or ±∞ (a diverged or damaged model, or an
    /// input normalisation that divides by zero).
    pub fn non_finite_outputs(&self) -> usize {
        let bad = |x: f32| !x.is_finite();
        self.clips
            .iter()
            .map(|c| {
                c.steps
                    .iter()
                    .filter(|s| {
                        bad(s.entropy) || bad(s.confidence) || s.top.iter().any(|p| bad(p.prob))
                    })
                    .count()
                    + c.stages.iter().filter(|s| bad(s.prob)).count()
                    + c.cubes.iter().filter(|q| bad(q.x) || bad(q.y)).count()
            })
            .sum::<usize>()
            + self.video_prediction.iter().filter(|p| bad(p.prob)).count()
    }

    /// A warning when the model's outputs are not numbers (`None` when all are finite).
    pub fn warning(&self) -> Option<String> {
        let n = self.non_finite_outputs();
        (n > 0).then(|| {
            format!(
                "{n} of the model's predictions or decisions on {} are NaN or infinite (broken \
                 weights or input normalisation?): nothing it decided here can be trusted",
                self.video.path
            )
        })
    }

    /// What the video predicts where its clips stop ([`prediction_at`]); the runner's
    /// `video_prediction` when no clip has steps.
    pub fn exit_prediction(&self) -> Vec<ClassProb> {
        let stops = self
            .clips
            .iter()
            .filter_map(|c| c.stop_step().and_then(|s| c.steps.get(s)));
        let p = prediction_at(stops);
        if p.is_empty() {
            self.video_prediction.clone()
        } else {
            p
        }
    }

    /// The name of class `class` (`class N` where the trace has no name for it).
    pub fn class_name(&self, class: u32) -> String {
        self.class_names
            .get(class as usize)
            .cloned()
            .unwrap_or_else(|| format!("class {class}"))
    }

    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// Parse a trace, refusing versions this build does not know and traces that break the
    /// rules the JSON shape cannot say ([`DecisionTrace::check`]).
    pub fn from_json(s: &str) -> Result<Self, String> {
        let t: DecisionTrace =
            serde_json::from_str(s).map_err(|e| format!("not a DecisionTrace: {e}"))?;
        t.check().map_err(|e| e.to_string())?;
        Ok(t)
    }

    /// Whether the trace is one the views can draw: its version, lanes and per-step
    /// probabilities are consistent (`super::trace_check`).
    pub fn check(&self) -> Result<(), TraceError> {
        super::trace_check::check(self)
    }

    /// [`DecisionTrace::check`] of the version and the declared lanes only.
    pub fn check_header(&self) -> Result<(), TraceError> {
        super::trace_check::check_header(self)
    }

    /// [`DecisionTrace::check`] of one clip (clip `index`, which the trace need not hold yet).
    pub fn check_clip(&self, index: usize, clip: &ClipTrace) -> Result<(), TraceError> {
        super::trace_check::check_clip(self, index, clip)
    }

    /// The declared lane called `name`.
    pub fn lane(&self, name: &str) -> Option<&LaneSpec> {
        self.lanes.iter().find(|l| l.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: usize, entropy: f32, confidence: f32) -> StepPrediction {
        StepPrediction {
            probs: None,
            step,
            top: vec![ClassProb {
                class: 1,
                prob: confidence,
            }],
            entropy,
            confidence,
            cumulative_gflops: step as f64,
        }
    }

    fn clip() -> ClipTrace {
        ClipTrace {
            lanes: Default::default(),
            frames: vec![],
            stages: vec![],
            cubes: vec![],
            steps: vec![step(0, 2.0, 0.3), step(1, 1.0, 0.6), step(2, 0.2, 0.9)],
            exit: None,
        }
    }

    #[test]
    fn exit_is_the_first_step_meeting_its_threshold() {
        let c = clip();
        assert_eq!(
            c.exit_step(Criterion::Entropy, &[Some(1.5), Some(1.5), None]),
            1
        );
        assert_eq!(
            c.exit_step(Criterion::Entropy, &[Some(0.1), Some(0.1), Some(0.1)]),
            2
        );
        assert_eq!(
            c.exit_step(Criterion::Confidence, &[Some(0.2), None, None]),
            0
        );
        assert_eq!(c.exit_step(Criterion::Confidence, &[None, None, None]), 2);
    }

    #[test]
    fn json_round_trip_and_version_check() {
        let t = DecisionTrace {
            lanes: Vec::new(),
            version: TRACE_VERSION,
            arch: "uni_adafocus".into(),
            video: VideoInfo {
                path: "a.mp4".into(),
                frame_count: 10,
                fps: Some(25.0),
                width: 320,
                height: 240,
            },
            clips: vec![clip()],
            video_prediction: vec![ClassProb {
                class: 3,
                prob: 0.5,
            }],
            class_names: vec!["a".into()],
            input: None,
        };
        let s = t.to_json().unwrap();
        assert_eq!(DecisionTrace::from_json(&s).unwrap(), t);
        let newer = s.replacen(
            &format!("\"version\": {TRACE_VERSION}"),
            "\"version\": 99",
            1,
        );
        assert!(DecisionTrace::from_json(&newer)
            .unwrap_err()
            .contains("version 99"));
        assert!(DecisionTrace::from_json("{}").is_err());
    }
}
