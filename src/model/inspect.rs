//! From a forward pass to a DecisionTrace: which sampled frame played which role, the patches
//! as cubes in focus order, and every step's prediction with its cumulative GFLOPs.

use crate::decision::trace::{
    ClassProb, ClipTrace, Cube, FrameDecision, FrameRole, StageDecision, StepPrediction,
};

use super::ada3d::{ClipPolicy, ClipRun};
use super::ada3d_focus::Ada3dFocusOutput;
use super::patch::Region;
use super::uni_adafocus::{UniAdaFocusFlops, UniAdaFocusOutput};

/// Classes listed per step.
pub const TOP_K: usize = 5;

/// The sampled frames of one clip: frame numbers in the video and their times.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledFrames {
    pub numbers: Vec<usize>,
    pub seconds: Vec<f64>,
}

impl SampledFrames {
    /// Clip `i` of clips of `len` frames.
    pub fn clip(&self, i: usize, len: usize) -> SampledFrames {
        fn part<T: Copy>(v: &[T], i: usize, len: usize) -> Vec<T> {
            v.iter().skip(i * len).take(len).copied().collect()
        }
        SampledFrames {
            numbers: part(&self.numbers, i, len),
            seconds: part(&self.seconds, i, len),
        }
    }
}

/// The `k`-th cube (0-based) looked at: its box in model-input pixels, its centre frame and
/// the frames it spans (indices into the sampled frames, written as video frame numbers).
fn cube(
    k: usize,
    r: Region,
    input_side: usize,
    sampled: &SampledFrames,
    centre: usize,
    frames: &[usize],
) -> Cube {
    let number = |i: usize| sampled.numbers.get(i).copied().unwrap_or(i);
    let side = input_side as f32;
    Cube {
        order: k + 1,
        x: (r.x1 + r.x2) / 2.0 / side,
        y: (r.y1 + r.y2) / 2.0 / side,
        z: number(centre),
        w: (r.x2 - r.x1).round() as u32,
        h: (r.y2 - r.y1).round() as u32,
        t: frames.len() as u32,
        frames: frames.iter().map(|&i| number(i)).collect(),
        region: Some([r.x1, r.y1, r.x2, r.y2]),
    }
}

/// Each adaptive stage's n_k and whether it ran 3D.
fn stages(probs: &[f32], ran_3d: &[bool]) -> Vec<StageDecision> {
    probs
        .iter()
        .zip(ran_3d)
        .map(|(&prob, &ran_3d)| StageDecision { prob, ran_3d })
        .collect()
}

/// Every step's prediction from its logits and cumulative GFLOPs.
fn steps(logits: &[Vec<f32>], gflops: &[f64]) -> Vec<StepPrediction> {
    logits
        .iter()
        .enumerate()
        .map(|(s, row)| {
            StepPrediction::from_logits(s, row, TOP_K, gflops.get(s).copied().unwrap_or(0.0))
        })
        .collect()
}

/// One clip's trace from a `uni_adafocus` forward pass. `input_side` is the model input side.
pub fn uni_adafocus_clip(
    out: &UniAdaFocusOutput,
    flops: &UniAdaFocusFlops,
    sampled: &SampledFrames,
    input_side: usize,
) -> ClipTrace {
    let frames = sampled
        .numbers
        .iter()
        .enumerate()
        .map(|(i, &frame)| {
            let focus = out.focus_indices.contains(&i);
            let glance_pos = out.glance_indices.iter().position(|&g| g == i);
            FrameDecision {
                frame,
                seconds: sampled.seconds.get(i).copied().unwrap_or(0.0),
                keep_prob: None,
                // Uni-AdaFocus has no frame policy: the frames it does not focus on count as
                // discarded (docs/ARCHITECTURE.md §1).
                kept: focus,
                role: if focus {
                    FrameRole::Focus
                } else if glance_pos.is_some() {
                    FrameRole::Glance
                } else {
                    FrameRole::Unused
                },
                focus_weight: glance_pos.and_then(|g| out.temporal.weights_t.get(g).copied()),
            }
        })
        .collect();
    let cubes = out
        .focus_indices
        .iter()
        .zip(&out.regions)
        .enumerate()
        .map(|(k, (&i, &r))| cube(k, r, input_side, sampled, i, &[i]))
        .collect();
    let steps = steps(&out.step_logits, &flops.step_gflops());
    ClipTrace {
        lanes: Default::default(),
        frames,
        stages: Vec::new(),
        cubes,
        steps,
        exit: None,
    }
}

/// One clip's trace from an `ada3d` / `resnet3d` run: every frame of the clip with m_t and
/// whether the 3D network saw it (role `Focus`; a discarded frame is `Unused`), every adaptive
/// stage with n_k and whether it ran 3D, and the one prediction (step 0). No cubes: the clip
/// itself is what the 3D network looks at.
pub fn ada3d_clip(policy: &ClipPolicy, run: &ClipRun, sampled: &SampledFrames) -> ClipTrace {
    let frames = sampled
        .numbers
        .iter()
        .enumerate()
        .map(|(i, &frame)| {
            let kept = run.kept.contains(&i);
            FrameDecision {
                frame,
                seconds: sampled.seconds.get(i).copied().unwrap_or(0.0),
                keep_prob: policy.frame_probs.get(i).copied(),
                kept,
                role: if kept {
                    FrameRole::Focus
                } else {
                    FrameRole::Unused
                },
                focus_weight: None,
            }
        })
        .collect();
    let stages = stages(&policy.stage_probs, &run.stages_3d);
    ClipTrace {
        lanes: Default::default(),
        frames,
        stages,
        cubes: Vec::new(),
        steps: vec![StepPrediction::from_logits(
            0,
            &run.logits,
            TOP_K,
            run.gflops,
        )],
        exit: None,
    }
}

/// The mean of the rows' softmax probabilities (the multi-clip video prediction), its `k`
/// best classes.
pub fn mean_of_softmax(rows: &[&[f32]], k: usize) -> Vec<ClassProb> {
    let classes = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut mean = vec![0f64; classes];
    for row in rows {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let exp: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        for (m, e) in mean.iter_mut().zip(exp) {
            *m += e / sum / rows.len() as f64;
        }
    }
    let mut order: Vec<usize> = (0..classes).collect();
    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|c| ClassProb {
            class: c as u32,
            prob: mean[c] as f32,
        })
        .collect()
}

/// One clip's trace from an `ada3d_focus` run: every sampled frame with m_t, whether it was
/// kept, its role (`Focus` when a cube covers it, `Glance` when kept but not covered, `Unused`
/// when the frame policy discarded it) and its temporal weight; the stages; the cubes in order
/// with their frames and boxes; every step.
pub fn ada3d_focus_clip(
    out: &Ada3dFocusOutput,
    sampled: &SampledFrames,
    input_side: usize,
) -> ClipTrace {
    let plan = &out.plan;
    let frames = sampled
        .numbers
        .iter()
        .enumerate()
        .map(|(i, &frame)| {
            let kept = plan.kept.contains(&i);
            let covered = plan.cubes.iter().any(|c| c.frames.contains(&i));
            FrameDecision {
                frame,
                seconds: sampled.seconds.get(i).copied().unwrap_or(0.0),
                keep_prob: out.policy.frame_probs.get(i).copied(),
                kept,
                role: if covered {
                    FrameRole::Focus
                } else if kept {
                    FrameRole::Glance
                } else {
                    FrameRole::Unused
                },
                focus_weight: out.temporal_weights.get(i).copied(),
            }
        })
        .collect();
    let stages = stages(&out.policy.stage_probs, &plan.stages_3d);
    let cubes = plan
        .cubes
        .iter()
        .enumerate()
        .map(|(k, c)| cube(k, c.region, input_side, sampled, c.centre, &c.frames))
        .collect();
    let steps = steps(&out.step_logits, &out.step_gflops);
    ClipTrace {
        lanes: Default::default(),
        frames,
        stages,
        cubes,
        steps,
        exit: None,
    }
}
