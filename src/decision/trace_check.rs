//! What a trace must satisfy beyond its JSON shape (`docs/trace.schema.json` gives the shape):
//! lanes declared once and filled with one value per frame, categories that exist, steps
//! numbered in order, per-step probabilities over the trace's classes. Traces come from other
//! programs (the Python `TraceBuilder`, any logger that writes the format), so every reader
//! runs this before a view draws anything from it.

use std::collections::BTreeSet;

use super::lanes::{LaneKind, MAX_CATEGORIES, MAX_LANES, MAX_NAME_CHARS};
use super::trace::{ClipTrace, DecisionTrace};

/// Why a trace cannot be used; each names the clip, step or lane at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceError {
    #[error("DecisionTrace version {0} is not supported (this build reads 1 and 2)")]
    Version(u32),
    #[error("lane {lane:?}: {problem}")]
    Lane { lane: String, problem: String },
    #[error("clip {clip}: lane {lane:?}: {problem}")]
    ClipLane {
        clip: usize,
        lane: String,
        problem: String,
    },
    #[error(
        "clip {clip}: step {index} is numbered {found} (steps are numbered 0, 1, 2, ... in order)"
    )]
    StepNumber {
        clip: usize,
        index: usize,
        found: usize,
    },
    #[error("clip {clip}, step {step}: {problem}")]
    Probs {
        clip: usize,
        step: usize,
        problem: String,
    },
    #[error("{0} lanes (at most {MAX_LANES})")]
    TooManyLanes(usize),
}

fn lane(lane: &str, problem: impl Into<String>) -> TraceError {
    TraceError::Lane {
        lane: lane.into(),
        problem: problem.into(),
    }
}

/// Check `t` (see the module doc); the first problem found.
pub fn check(t: &DecisionTrace) -> Result<(), TraceError> {
    check_header(t)?;
    for (ci, c) in t.clips.iter().enumerate() {
        check_clip(t, ci, c)?;
    }
    Ok(())
}

/// The version and the declared lanes.
pub fn check_header(t: &DecisionTrace) -> Result<(), TraceError> {
    if !(1..=super::trace::TRACE_VERSION).contains(&t.version) {
        return Err(TraceError::Version(t.version));
    }
    if t.lanes.len() > MAX_LANES {
        return Err(TraceError::TooManyLanes(t.lanes.len()));
    }
    let mut names = BTreeSet::new();
    for l in &t.lanes {
        if l.name.is_empty() || l.name.chars().count() > MAX_NAME_CHARS {
            return Err(lane(
                &l.name,
                format!("a name must have 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if !names.insert(l.name.as_str()) {
            return Err(lane(&l.name, "declared twice"));
        }
        match l.kind {
            LaneKind::Categorical => {
                if l.categories.is_empty() || l.categories.len() > MAX_CATEGORIES {
                    return Err(lane(
                        &l.name,
                        format!(
                            "a categorical lane needs 1 to {MAX_CATEGORIES} categories, it has {}",
                            l.categories.len()
                        ),
                    ));
                }
                for c in &l.categories {
                    if c.name.chars().count() > MAX_NAME_CHARS {
                        return Err(lane(&l.name, "a category name is too long"));
                    }
                    if c.gflops.is_some_and(|g| !g.is_finite() || g < 0.0) {
                        return Err(lane(
                            &l.name,
                            format!("category {:?} has a cost that is not a number ≥ 0", c.name),
                        ));
                    }
                }
            }
            LaneKind::Scalar => {
                if !l.categories.is_empty() {
                    return Err(lane(&l.name, "a scalar lane has no categories"));
                }
                if l.range
                    .is_some_and(|[a, b]| !(a.is_finite() && b.is_finite() && a < b))
                {
                    return Err(lane(
                        &l.name,
                        "its range must be two finite numbers, low < high",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Clip `ci` of `t` (which need not hold it yet): its lanes against the declared ones, its
/// steps' numbers and probabilities.
pub fn check_clip(t: &DecisionTrace, ci: usize, c: &ClipTrace) -> Result<(), TraceError> {
    let classes = t.class_names.len();
    let clip_lane = |name: &str, problem: String| TraceError::ClipLane {
        clip: ci,
        lane: name.into(),
        problem,
    };
    for (name, values) in &c.lanes {
        let Some(spec) = t.lane(name) else {
            return Err(clip_lane(name, "not declared in the trace's lanes".into()));
        };
        if values.len() != c.frames.len() {
            return Err(clip_lane(
                name,
                format!(
                    "{} values for {} frames (one per sampled frame, null for none)",
                    values.len(),
                    c.frames.len()
                ),
            ));
        }
        for (fi, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            let ok = match spec.kind {
                LaneKind::Categorical => spec.category(Some(*v)).is_some(),
                LaneKind::Scalar => v.is_finite(),
            };
            if !ok {
                return Err(clip_lane(
                    name,
                    format!(
                        "frame {fi}: {v} is not {}",
                        match spec.kind {
                            LaneKind::Categorical => "the index of one of its categories",
                            LaneKind::Scalar => "a finite number",
                        }
                    ),
                ));
            }
        }
    }
    for (si, s) in c.steps.iter().enumerate() {
        if s.step != si {
            return Err(TraceError::StepNumber {
                clip: ci,
                index: si,
                found: s.step,
            });
        }
        let Some(p) = &s.probs else { continue };
        let problem = if p.len() != classes {
            Some(format!("{} probabilities for {classes} classes", p.len()))
        } else if p.iter().any(|x| !x.is_finite() || *x < 0.0) {
            Some("a probability is negative or not a number".into())
        } else {
            let sum: f64 = p.iter().map(|&x| x as f64).sum();
            ((sum - 1.0).abs() > 1e-2).then(|| format!("the probabilities sum to {sum:.4}, not 1"))
        };
        if let Some(problem) = problem {
            return Err(TraceError::Probs {
                clip: ci,
                step: si,
                problem,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::lanes::{Category, LaneSpec};
    use crate::decision::trace::{ClipTrace, FrameDecision, FrameRole, StepPrediction, VideoInfo};

    fn trace() -> DecisionTrace {
        let frame = |n: usize| FrameDecision {
            frame: n,
            seconds: n as f64 / 25.0,
            keep_prob: None,
            kept: true,
            role: FrameRole::Glance,
            focus_weight: None,
        };
        let mut clip = ClipTrace {
            frames: (0..3).map(frame).collect(),
            stages: vec![],
            cubes: vec![],
            steps: vec![
                StepPrediction::from_probs(0, &[0.2, 0.8], 2, 1.0),
                StepPrediction::from_probs(1, &[0.1, 0.9], 2, 2.0),
            ],
            exit: None,
            lanes: Default::default(),
        };
        clip.lanes
            .insert("resolution".into(), vec![Some(0.0), Some(1.0), None]);
        clip.lanes
            .insert("tokens".into(), vec![Some(0.5), Some(0.25), Some(1.0)]);
        DecisionTrace {
            version: 2,
            arch: "ar_net".into(),
            video: VideoInfo {
                path: "v.mp4".into(),
                frame_count: 3,
                fps: Some(25.0),
                width: 64,
                height: 48,
            },
            clips: vec![clip],
            video_prediction: vec![],
            class_names: vec!["a".into(), "b".into()],
            input: None,
            lanes: vec![
                LaneSpec::categorical(
                    "resolution",
                    vec![
                        Category {
                            name: "224".into(),
                            gflops: Some(4.1),
                        },
                        Category {
                            name: "skip".into(),
                            gflops: Some(0.0),
                        },
                    ],
                ),
                LaneSpec::scalar("tokens", Some("share".into()), Some([0.0, 1.0])),
            ],
        }
    }

    #[test]
    fn a_consistent_trace_passes_and_round_trips() {
        let t = trace();
        check(&t).unwrap();
        let back = DecisionTrace::from_json(&t.to_json().unwrap()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn each_broken_rule_is_named() {
        let mut t = trace();
        t.clips[0]
            .lanes
            .insert("resolution".into(), vec![Some(2.0), None, None]);
        assert!(check(&t).unwrap_err().to_string().contains("frame 0: 2"));
        let mut t = trace();
        t.clips[0].lanes.insert("tokens".into(), vec![None]);
        assert!(check(&t)
            .unwrap_err()
            .to_string()
            .contains("1 values for 3 frames"));
        let mut t = trace();
        t.clips[0].lanes.insert("depth".into(), vec![None; 3]);
        assert!(check(&t).unwrap_err().to_string().contains("not declared"));
        let mut t = trace();
        t.lanes.push(t.lanes[0].clone());
        assert!(check(&t)
            .unwrap_err()
            .to_string()
            .contains("declared twice"));
        let mut t = trace();
        t.clips[0].steps[1].step = 5;
        assert!(matches!(
            check(&t),
            Err(TraceError::StepNumber { found: 5, .. })
        ));
        let mut t = trace();
        t.clips[0].steps[0].probs = Some(vec![1.0]);
        assert!(check(&t)
            .unwrap_err()
            .to_string()
            .contains("1 probabilities for 2 classes"));
        let mut t = trace();
        t.clips[0].steps[0].probs = Some(vec![0.7, 0.7]);
        assert!(check(&t).unwrap_err().to_string().contains("sum to 1.4"));
        let mut t = trace();
        t.version = 3;
        assert_eq!(check(&t), Err(TraceError::Version(3)));
    }

    #[test]
    fn categories_and_counts() {
        let t = trace();
        let spec = t.lane("resolution").unwrap();
        assert_eq!(spec.value_text(Some(1.0)), "skip");
        assert_eq!(spec.value_text(Some(0.5)), "?");
        let (counts, cost) = crate::decision::lanes::category_counts(spec, &t.clips);
        assert_eq!(counts, vec![1, 1]);
        assert_eq!(cost, Some(4.1));
        let tokens = t.lane("tokens").unwrap();
        assert_eq!(tokens.unit_position(Some(0.25), (9.0, 9.0)), Some(0.25));
        let totals = crate::decision::lanes::LaneTotals::of([&t]);
        assert_eq!((totals[1].min, totals[1].max), (0.25, 1.0));
    }
}
