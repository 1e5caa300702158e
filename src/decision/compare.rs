//! What differs between two traces of one video: two checkpoints, one checkpoint at two
//! budgets, two criteria or two τ_f / τ_s. Clips are paired by their place in the video; within
//! a clip, frames by number, stages by index and cubes by their order (cube k of A against cube
//! k of B, their overlap as the IoU of their boxes in x, y and frames).

use serde::Serialize;

use super::trace::{ClassProb, ClipTrace, Cube, DecisionTrace};

/// Two cubes of the same order and how much they overlap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CubeOverlap {
    pub order: usize,
    /// Intersection over union of the two boxes in (x, y, frames).
    pub iou: f64,
}

/// One clip of the video in A and in B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipDiff {
    pub clip: usize,
    /// Frames sampled in both and kept by one only.
    pub kept_only_a: Vec<usize>,
    pub kept_only_b: Vec<usize>,
    /// Stages run 3D in one only (indices).
    pub stages_3d_only_a: Vec<usize>,
    pub stages_3d_only_b: Vec<usize>,
    /// Cubes of the same order in both, with their overlap.
    pub cubes: Vec<CubeOverlap>,
    /// Cubes of an order the other has not.
    pub cubes_only_a: usize,
    pub cubes_only_b: usize,
    /// Where each stops (its marked exit, else its last step).
    pub exit_a: Option<usize>,
    pub exit_b: Option<usize>,
    /// The prediction where each stops.
    pub top1_a: Option<ClassProb>,
    pub top1_b: Option<ClassProb>,
    /// GFLOPs each spends.
    pub gflops_a: f64,
    pub gflops_b: f64,
}

impl ClipDiff {
    /// Nothing differs: the same frames, stages, cubes (IoU 1), exit, prediction and cost.
    pub fn is_same(&self) -> bool {
        self.kept_only_a.is_empty()
            && self.kept_only_b.is_empty()
            && self.stages_3d_only_a.is_empty()
            && self.stages_3d_only_b.is_empty()
            && self.cubes.iter().all(|c| c.iou >= 1.0 - 1e-9)
            && self.cubes_only_a == 0
            && self.cubes_only_b == 0
            && self.exit_a == self.exit_b
            && self.top1_a.map(|t| t.class) == self.top1_b.map(|t| t.class)
            && (self.gflops_a - self.gflops_b).abs() < 1e-9
    }
}

/// What differs, clip by clip (as many clips as the shorter trace has).
pub fn diff(a: &DecisionTrace, b: &DecisionTrace) -> Vec<ClipDiff> {
    let size = |t: &DecisionTrace| t.input.as_ref().map(|g| (g.width, g.height));
    a.clips
        .iter()
        .zip(&b.clips)
        .enumerate()
        .map(|(k, (ca, cb))| diff_clip(k, ca, cb, size(a).or(size(b))))
        .collect()
}

fn diff_clip(k: usize, a: &ClipTrace, b: &ClipTrace, input: Option<(u32, u32)>) -> ClipDiff {
    let kept = |c: &ClipTrace, n: usize| c.frames.iter().any(|f| f.frame == n && f.kept);
    let sampled = |c: &ClipTrace, n: usize| c.frames.iter().any(|f| f.frame == n);
    let only = |x: &ClipTrace, y: &ClipTrace| -> Vec<usize> {
        x.frames
            .iter()
            .filter(|f| f.kept && sampled(y, f.frame) && !kept(y, f.frame))
            .map(|f| f.frame)
            .collect()
    };
    let stages_only = |x: &ClipTrace, y: &ClipTrace| -> Vec<usize> {
        x.stages
            .iter()
            .enumerate()
            .filter(|(i, s)| s.ran_3d && y.stages.get(*i).is_some_and(|o| !o.ran_3d))
            .map(|(i, _)| i)
            .collect()
    };
    let cubes: Vec<CubeOverlap> = a
        .cubes
        .iter()
        .filter_map(|qa| {
            let qb = b.cubes.iter().find(|q| q.order == qa.order)?;
            Some(CubeOverlap {
                order: qa.order,
                iou: cube_iou(qa, qb, input),
            })
        })
        .collect();
    let top = |c: &ClipTrace| {
        c.stop_step()
            .and_then(|s| c.steps.get(s))
            .and_then(|s| s.top.first().copied())
    };
    ClipDiff {
        clip: k,
        kept_only_a: only(a, b),
        kept_only_b: only(b, a),
        stages_3d_only_a: stages_only(a, b),
        stages_3d_only_b: stages_only(b, a),
        cubes_only_a: a.cubes.len() - cubes.len(),
        cubes_only_b: b.cubes.len().saturating_sub(cubes.len()),
        cubes,
        exit_a: a.stop_step(),
        exit_b: b.stop_step(),
        top1_a: top(a),
        top1_b: top(b),
        gflops_a: a.spent_gflops(),
        gflops_b: b.spent_gflops(),
    }
}

/// A cube's box in model-input pixels: its exact region, else its centre and size.
fn cube_box(q: &Cube, input: Option<(u32, u32)>) -> [f64; 4] {
    if let Some([x1, y1, x2, y2]) = q.region {
        return [x1, y1, x2, y2].map(f64::from);
    }
    let (w, h) = input.map_or((1.0, 1.0), |(w, h)| (f64::from(w), f64::from(h)));
    let (cx, cy) = (f64::from(q.x) * w, f64::from(q.y) * h);
    let (hw, hh) = (f64::from(q.w) / 2.0, f64::from(q.h) / 2.0);
    [cx - hw, cy - hh, cx + hw, cy + hh]
}

/// IoU of two cubes in (x, y, frames): the area of the boxes' intersection times the frames
/// both cover, over the union of their volumes.
pub fn cube_iou(a: &Cube, b: &Cube, input: Option<(u32, u32)>) -> f64 {
    let (ba, bb) = (cube_box(a, input), cube_box(b, input));
    let area = |r: [f64; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let inter_box = [
        ba[0].max(bb[0]),
        ba[1].max(bb[1]),
        ba[2].min(bb[2]),
        ba[3].min(bb[3]),
    ];
    let frames = |q: &Cube| q.frames.len().max(1) as f64;
    let shared = if a.frames.is_empty() && b.frames.is_empty() {
        1.0
    } else {
        a.frames.iter().filter(|f| b.frames.contains(f)).count() as f64
    };
    let inter = area(inter_box) * shared;
    let union = area(ba) * frames(a) + area(bb) * frames(b) - inter;
    if union <= 0.0 {
        return if ba == bb { 1.0 } else { 0.0 };
    }
    (inter / union).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube(x: f32, frames: Vec<usize>) -> Cube {
        Cube {
            order: 1,
            x,
            y: 0.5,
            z: frames[0],
            w: 10,
            h: 10,
            t: frames.len() as u32,
            frames,
            region: None,
        }
    }

    #[test]
    fn cube_iou_is_one_for_the_same_cube_and_shrinks_with_shifts_in_space_and_time() {
        let input = Some((100, 100));
        let a = cube(0.5, vec![3, 4]);
        assert!((cube_iou(&a, &a, input) - 1.0).abs() < 1e-12);
        // Half a box to the right: intersection 50, union 150 per frame.
        let b = cube(0.55, vec![3, 4]);
        assert!((cube_iou(&a, &b, input) - 1.0 / 3.0).abs() < 1e-6);
        // The same box one frame later: 1 shared of 3 frames.
        let c = cube(0.5, vec![4, 5]);
        assert!((cube_iou(&a, &c, input) - 1.0 / 3.0).abs() < 1e-6);
        // Apart.
        let d = cube(0.9, vec![3, 4]);
        assert_eq!(cube_iou(&a, &d, input), 0.0);
    }
}
