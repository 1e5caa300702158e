//! From a forward pass to a DecisionTrace: which sampled frame played which role, the patches
//! as cubes in focus order, and every step's prediction with its cumulative GFLOPs.

use crate::decision::trace::{ClipTrace, Cube, FrameDecision, FrameRole, StepPrediction};

use super::uni_adafocus::{UniAdaFocusFlops, UniAdaFocusOutput};

/// Classes listed per step.
pub const TOP_K: usize = 5;

/// The sampled frames of one clip: frame numbers in the video and their times.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledFrames {
    pub numbers: Vec<usize>,
    pub seconds: Vec<f64>,
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
                // discarded (ARCHITECTURE.md §1).
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
    let side = input_side as f32;
    let cubes = out
        .focus_indices
        .iter()
        .zip(&out.regions)
        .enumerate()
        .map(|(k, (&i, r))| {
            let frame = sampled.numbers.get(i).copied().unwrap_or(i);
            Cube {
                order: k + 1,
                x: (r.x1 + r.x2) / 2.0 / side,
                y: (r.y1 + r.y2) / 2.0 / side,
                z: frame,
                w: (r.x2 - r.x1).round() as u32,
                h: (r.y2 - r.y1).round() as u32,
                t: 1,
                frames: vec![frame],
                region: Some([r.x1, r.y1, r.x2, r.y2]),
            }
        })
        .collect();
    let gflops = flops.step_gflops();
    let steps = out
        .step_logits
        .iter()
        .enumerate()
        .map(|(s, row)| {
            StepPrediction::from_logits(s, row, TOP_K, gflops.get(s).copied().unwrap_or(0.0))
        })
        .collect();
    ClipTrace {
        frames,
        stages: Vec::new(),
        cubes,
        steps,
        exit: None,
    }
}
