//! [`TraceBuilder`]: a model's own decisions, clip by clip, into a checked trace.

use std::collections::BTreeMap;
use std::path::Path;

use crate::decision::lanes::{Category, LaneSpec, MAX_LANES};
use crate::decision::trace::{
    prediction_at, ClipTrace, Cube, ExitDecision, FrameDecision, FrameRole, InputGeometry,
    StageDecision, StepPrediction, VideoInfo, TRACE_VERSION,
};
use crate::decision::{Criterion, DecisionTrace, OutputKind};
use crate::video::Video;

/// Classes kept in each step's `top` (the whole row is in `probs`).
const TOP_K: usize = 5;
/// Bounds on what one clip may log, checked before anything is allocated from it.
const MAX_STEPS: usize = 100_000;
const MAX_CLASSES: usize = 100_000;

/// Why a clip or a trace was refused; nothing is added to the trace then.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Video(#[from] crate::video::VideoError),
    #[error("frame {frame} is past the video's last frame ({count} frames)")]
    Frame { frame: usize, count: usize },
    #[error("{what}: {found} values where {expected} were expected")]
    Shape {
        what: String,
        expected: usize,
        found: usize,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("lane {0:?} is not declared (declare_categorical / declare_scalar first)")]
    UnknownLane(String),
    #[error(transparent)]
    Trace(#[from] crate::decision::trace::TraceError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// A region the model looked at (a cube, or a 2D patch with one frame): its box in the
/// video's display pixels (x1, y1, x2, y2) and the frames it covers. Regions are numbered in
/// the order given: region k feeds step k.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub frames: Vec<usize>,
    pub bbox: [f32; 4],
}

/// The model's prediction after each step of a clip, one row per step (step 0 first).
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutputs {
    Probabilities(Vec<Vec<f32>>),
    Logits(Vec<Vec<f32>>),
}

/// What a model decided on one clip. Only `frames` is required; per-frame vectors hold one
/// entry per sampled frame, in the same order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoggedClip {
    /// Sampled frame numbers (display order, from 0, as ffmpeg decodes the video).
    pub frames: Vec<usize>,
    /// A frame policy's keep probability per frame.
    pub keep_probs: Option<Vec<f32>>,
    /// Whether each frame was kept (default: keep probability ≥ 0.5, else every frame).
    pub kept: Option<Vec<bool>>,
    /// Declared lanes' values per frame (`None`: nothing decided for that frame).
    pub lanes: BTreeMap<String, Vec<Option<f64>>>,
    /// Each adaptive stage's probability of running 3D, and whether it did.
    pub stages: Vec<(f32, bool)>,
    pub regions: Vec<Region>,
    pub outputs: Option<StepOutputs>,
    /// Cumulative GFLOPs after each step (one per step).
    pub gflops: Vec<f64>,
    /// The step the model stopped at (default: its last).
    pub exit_step: Option<usize>,
}

/// A trace under construction (see the module doc of `crate::logged`).
pub struct TraceBuilder {
    trace: DecisionTrace,
    /// Display time of every frame of the video.
    seconds: Vec<f64>,
}

impl TraceBuilder {
    /// A trace of `video` (opened here: its frame count, rate and size go into the trace) by
    /// model `arch` (any name), whose classes are `class_names`.
    pub fn new(video: &Path, class_names: Vec<String>, arch: &str) -> Result<Self, LogError> {
        if class_names.len() > MAX_CLASSES {
            return Err(LogError::Invalid(format!(
                "{} classes (at most {MAX_CLASSES})",
                class_names.len()
            )));
        }
        let v = Video::open(video)?;
        let probe = v.probe();
        let (w, h) = (probe.display_width, probe.display_height);
        let seconds = (0..v.frame_count())
            .map(|n| v.index().seconds(n).unwrap_or(0.0))
            .collect();
        let path = crate::dataset::normalised(video);
        Ok(Self {
            seconds,
            trace: DecisionTrace {
                version: TRACE_VERSION,
                arch: arch.to_string(),
                video: VideoInfo {
                    path: path.display().to_string(),
                    frame_count: v.frame_count(),
                    fps: probe.frame_rate_avg.or(probe.frame_rate_nominal),
                    width: w,
                    height: h,
                },
                clips: Vec::new(),
                video_prediction: Vec::new(),
                class_names,
                // Regions are logged in display pixels: the model input is the whole picture.
                input: Some(InputGeometry {
                    width: w,
                    height: h,
                    source_rect: [0.0, 0.0, w as f64, h as f64],
                }),
                lanes: Vec::new(),
            },
        })
    }

    fn declare(&mut self, spec: LaneSpec) -> Result<(), LogError> {
        if self.trace.lane(&spec.name).is_some() {
            return Err(LogError::Invalid(format!(
                "lane {:?} is declared twice",
                spec.name
            )));
        }
        if self.trace.lanes.len() >= MAX_LANES {
            return Err(LogError::Invalid(format!("at most {MAX_LANES} lanes")));
        }
        self.trace.lanes.push(spec);
        // The lane's own rules (names, categories, costs, range), before any clip uses it.
        if let Err(e) = self.trace.check_header() {
            self.trace.lanes.pop();
            return Err(e.into());
        }
        Ok(())
    }

    /// A categorical lane: one of `categories` (name, GFLOPs per frame if known) per frame.
    pub fn declare_categorical(
        &mut self,
        name: &str,
        categories: Vec<(String, Option<f64>)>,
    ) -> Result<(), LogError> {
        let categories = categories
            .into_iter()
            .map(|(name, gflops)| Category { name, gflops })
            .collect();
        self.declare(LaneSpec::categorical(name, categories))
    }

    /// A scalar lane: a number per frame, in `unit`, drawn over `range` (else its values').
    pub fn declare_scalar(
        &mut self,
        name: &str,
        unit: Option<String>,
        range: Option<[f64; 2]>,
    ) -> Result<(), LogError> {
        self.declare(LaneSpec::scalar(name, unit, range))
    }

    /// Add one clip; returns its index. A refused clip leaves the trace as it was.
    pub fn add_clip(&mut self, c: LoggedClip) -> Result<usize, LogError> {
        let clip = self.clip_trace(c)?;
        self.trace.check_clip(self.trace.clips.len(), &clip)?;
        self.trace.clips.push(clip);
        Ok(self.trace.clips.len() - 1)
    }

    fn clip_trace(&self, c: LoggedClip) -> Result<ClipTrace, LogError> {
        let n = c.frames.len();
        let count = self.seconds.len();
        let shape = |what: &str, found: usize| -> Result<(), LogError> {
            if found == n {
                Ok(())
            } else {
                Err(LogError::Shape {
                    what: what.into(),
                    expected: n,
                    found,
                })
            }
        };
        for &f in c
            .frames
            .iter()
            .chain(c.regions.iter().flat_map(|r| &r.frames))
        {
            if f >= count {
                return Err(LogError::Frame { frame: f, count });
            }
        }
        if let Some(k) = &c.keep_probs {
            shape("keep_probs", k.len())?;
        }
        if let Some(k) = &c.kept {
            shape("kept", k.len())?;
        }
        for (name, values) in &c.lanes {
            if self.trace.lane(name).is_none() {
                return Err(LogError::UnknownLane(name.clone()));
            }
            shape(&format!("lane {name:?}"), values.len())?;
        }
        let rows = match &c.outputs {
            None => Vec::new(),
            Some(StepOutputs::Probabilities(r)) | Some(StepOutputs::Logits(r)) => r.clone(),
        };
        if rows.len() > MAX_STEPS {
            return Err(LogError::Invalid(format!(
                "{} steps (at most {MAX_STEPS})",
                rows.len()
            )));
        }
        let classes = self.trace.class_names.len();
        for (s, r) in rows.iter().enumerate() {
            if r.len() != classes {
                return Err(LogError::Shape {
                    what: format!("step {s}'s outputs (one per class)"),
                    expected: classes,
                    found: r.len(),
                });
            }
            if r.iter().any(|x| !x.is_finite()) {
                return Err(LogError::Invalid(format!(
                    "step {s}: an output is NaN or infinite"
                )));
            }
        }
        if !rows.is_empty() && c.gflops.len() != rows.len() {
            return Err(LogError::Shape {
                what: "gflops (cumulative, one per step)".into(),
                expected: rows.len(),
                found: c.gflops.len(),
            });
        }
        if c.gflops.iter().any(|g| !g.is_finite() || *g < 0.0) {
            return Err(LogError::Invalid(
                "a cumulative GFLOPs value is not a number ≥ 0".into(),
            ));
        }
        if c.regions.len() + 1 < rows.len() && !c.regions.is_empty() {
            return Err(LogError::Invalid(format!(
                "{} regions for {} steps: region k feeds step k, step 0 is the glance",
                c.regions.len(),
                rows.len()
            )));
        }
        let kept: Vec<bool> = match (&c.kept, &c.keep_probs) {
            (Some(k), _) => k.clone(),
            (None, Some(p)) => p.iter().map(|&p| p >= 0.5).collect(),
            (None, None) => vec![true; n],
        };
        let covered: std::collections::BTreeSet<usize> = c
            .regions
            .iter()
            .flat_map(|r| r.frames.iter().copied())
            .collect();
        let frames = c
            .frames
            .iter()
            .enumerate()
            .map(|(i, &f)| FrameDecision {
                frame: f,
                seconds: self.seconds[f],
                keep_prob: c.keep_probs.as_ref().map(|p| p[i]),
                kept: kept[i],
                role: if !kept[i] {
                    FrameRole::Unused
                } else if covered.contains(&f) {
                    FrameRole::Focus
                } else {
                    FrameRole::Glance
                },
                focus_weight: None,
            })
            .collect();
        let cubes = c
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| self.cube(i + 1, r))
            .collect::<Result<Vec<_>, _>>()?;
        let steps: Vec<StepPrediction> = rows
            .iter()
            .enumerate()
            .map(|(s, r)| {
                let kind = match &c.outputs {
                    Some(StepOutputs::Logits(_)) => OutputKind::Logits,
                    _ => OutputKind::Probabilities,
                };
                StepPrediction::of_row(s, r, kind, TOP_K, c.gflops[s], true)
            })
            .collect();
        let exit = match c.exit_step {
            Some(e) if e >= steps.len() => {
                return Err(LogError::Invalid(format!(
                    "exit step {e} of a clip with {} steps",
                    steps.len()
                )))
            }
            Some(e) => Some(ExitDecision {
                criterion: Criterion::Entropy,
                thresholds: Vec::new(),
                exit_step: e,
                gflops: steps[e].cumulative_gflops,
                budget: None,
            }),
            None => None,
        };
        Ok(ClipTrace {
            frames,
            stages: c
                .stages
                .iter()
                .map(|&(prob, ran_3d)| StageDecision { prob, ran_3d })
                .collect(),
            cubes,
            steps,
            exit,
            lanes: c.lanes,
        })
    }

    fn cube(&self, order: usize, r: &Region) -> Result<Cube, LogError> {
        let [x1, y1, x2, y2] = r.bbox;
        if !r.bbox.iter().all(|v| v.is_finite()) || x2 <= x1 || y2 <= y1 {
            return Err(LogError::Invalid(format!(
                "region {order}: box {:?} is not x1 < x2, y1 < y2",
                r.bbox
            )));
        }
        if r.frames.is_empty() {
            return Err(LogError::Invalid(format!("region {order} covers no frame")));
        }
        let (w, h) = (
            self.trace.video.width.max(1) as f32,
            self.trace.video.height.max(1) as f32,
        );
        let mut frames = r.frames.clone();
        frames.sort_unstable();
        Ok(Cube {
            order,
            x: (x1 + x2) / 2.0 / w,
            y: (y1 + y2) / 2.0 / h,
            z: frames[frames.len() / 2],
            w: (x2 - x1).round() as u32,
            h: (y2 - y1).round() as u32,
            t: frames.len() as u32,
            frames,
            region: Some(r.bbox),
        })
    }

    /// Clips added so far.
    pub fn clips(&self) -> usize {
        self.trace.clips.len()
    }

    /// The trace as it stands: the video's prediction is the mean of the clips' softmax at
    /// the steps they stop at.
    pub fn finish(&self) -> DecisionTrace {
        let mut t = self.trace.clone();
        t.video_prediction = prediction_at(
            t.clips
                .iter()
                .filter_map(|c| c.stop_step().and_then(|s| c.steps.get(s))),
        );
        t.video_prediction.truncate(TOP_K);
        t
    }

    /// Write the trace (compact JSON, atomically) to `path`. The video is named relative to
    /// the trace's folder, so a folder of traces moves with its videos.
    pub fn save(&self, path: &Path) -> Result<DecisionTrace, LogError> {
        let mut t = self.finish();
        if let Some(dir) = path.parent() {
            let video = Path::new(&t.video.path);
            t.video.path = relative_to(video, &crate::dataset::normalised(dir))
                .display()
                .to_string();
        }
        let json = serde_json::to_vec(&t).map_err(|e| LogError::Invalid(e.to_string()))?;
        let write = |source| LogError::Write {
            path: path.to_path_buf(),
            source,
        };
        // A logger's output folder is made as it writes (the traces of a run go in one).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        crate::fsutil::write_atomic(path, &json).map_err(write)?;
        Ok(t)
    }
}

/// `path` (absolute) as seen from the folder `from` (absolute): `../` for each of `from`'s
/// components past the common prefix; as it is when the two share no folder but the root
/// (`/data/v.mp4` from `/tmp/traces` stays absolute).
fn relative_to(path: &Path, from: &Path) -> std::path::PathBuf {
    let a: Vec<_> = path.components().collect();
    let b: Vec<_> = from.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        return path.to_path_buf();
    }
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &a[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::relative_to;
    use std::path::Path;

    #[test]
    fn a_video_is_named_from_the_trace_folder() {
        let r = |p: &str, f: &str| {
            relative_to(Path::new(p), Path::new(f))
                .display()
                .to_string()
        };
        assert_eq!(r("/d/v/a.mp4", "/d/traces"), "../v/a.mp4");
        assert_eq!(r("/d/a.mp4", "/d"), "a.mp4");
        assert_eq!(r("/d/x/a.mp4", "/d/x/y/z"), "../../a.mp4");
        assert_eq!(r("/data/v.mp4", "/tmp/traces"), "/data/v.mp4");
    }
}
