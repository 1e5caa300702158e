//! One test video through the real decoding path, with the learned policies and with the
//! random baselines the report compares them to.

use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::Entry;
use crate::model::ada3d_focus::{plan_cubes, Ada3dFocus, Plan};
use crate::model::load::{LoadedModel, Network};
use crate::model::patch::Region;
use crate::runner::{Input, RunError, Session};
use crate::video::{Control, Video};

/// The (τ_f, τ_s) pairs the report runs every video at, every cube, for a checkpoint whose own
/// thresholds are `own`. The first is the largest budget (every frame kept, every stage 3D, as
/// Ada3D Table 1's "Upper" runs every frame and every 3D convolution); then each policy switched
/// off in turn (every frame with the own stage threshold, the own frame threshold with every
/// stage 3D); then both thresholds moved together. Pairs equal to `own` (run anyway as the
/// learned policies) or to an earlier pair are left out.
pub fn policy_sweep(own: [f32; 2]) -> Vec<[f32; 2]> {
    let candidates = [
        [0.0, 0.0],
        [0.0, own[1]],
        [own[0], 0.0],
        [0.1, 0.1],
        [0.9, 0.9],
    ];
    let mut pairs: Vec<[f32; 2]> = Vec::new();
    for (i, p) in candidates.into_iter().enumerate() {
        if !pairs.contains(&p) && (i == 0 || p != own) {
            pairs.push(p);
        }
    }
    pairs
}

/// One video at one pair of `policy_sweep`'s thresholds, every cube run.
#[derive(Debug, Clone)]
pub struct SweepRun {
    pub thresholds: [f32; 2],
    pub kept_frames: usize,
    pub stages_3d: usize,
    pub correct: bool,
    pub gflops: f64,
}

/// The steps of one run: logits and cumulative GFLOPs after each.
#[derive(Debug, Clone)]
pub struct Steps {
    pub logits: Vec<Vec<f32>>,
    pub gflops: Vec<f64>,
}

/// How well a plan's cubes sit on the target: per (cube, frame), whether the cube's centre
/// is inside the target's box, and the IoU of the two boxes.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub hits: Vec<bool>,
    pub ious: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct VideoResult {
    pub label: u32,
    pub class: String,
    pub learned: Steps,
    /// Random frames, random 3D stages (as many of each as learned) and random cube centres.
    pub random_policy: Steps,
    pub kept_frames: usize,
    pub stages_3d: usize,
    /// At each of `policy_sweep`'s pairs.
    pub policy_sweep: Vec<SweepRun>,
    /// Learned cubes and the same cubes at random centres (when boxes are known).
    pub learned_placement: Option<Placement>,
    pub random_placement: Option<Placement>,
    /// Whether at least half of the target's box lies inside the model's input (the crop of the
    /// frame it sees) on some sampled frame, when boxes are known: where it never does, no
    /// policy can find it.
    pub target_in_view: Option<bool>,
}

/// The share of `b`'s area inside the rectangle `r` (x, y, width, height).
fn share_inside(b: &[f32; 4], r: [f64; 4]) -> f64 {
    let [x1, y1, x2, y2] = b.map(f64::from);
    let w = (x2.min(r[0] + r[2]) - x1.max(r[0])).max(0.0);
    let h = (y2.min(r[1] + r[3]) - y1.max(r[1])).max(0.0);
    let area = (x2 - x1) * (y2 - y1);
    if area > 0.0 {
        w * h / area
    } else {
        0.0
    }
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: [f64; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

fn placement(
    plan: &Plan,
    numbers: &[usize],
    boxes: &[[f32; 4]],
    to_display: &dyn Fn(f64, f64) -> (f64, f64),
) -> Placement {
    let mut p = Placement::default();
    for cube in &plan.cubes {
        let Region { x1, y1, x2, y2 } = cube.region;
        let (a, b) = (
            to_display(x1 as f64, y1 as f64),
            to_display(x2 as f64, y2 as f64),
        );
        let (cx, cy) = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        for &f in &cube.frames {
            let Some(t) = numbers.get(f).and_then(|&n| boxes.get(n)) else {
                continue;
            };
            let t = [t[0] as f64, t[1] as f64, t[2] as f64, t[3] as f64];
            p.hits
                .push(cx >= t[0] && cx < t[2] && cy >= t[1] && cy < t[3]);
            p.ious.push(iou([a.0, a.1, b.0, b.1], t));
        }
    }
    p
}

fn random_actions(rng: &mut ChaCha8Rng, t: usize) -> Vec<[f32; 4]> {
    (0..t)
        .map(|_| [rng.random::<f32>(), rng.random::<f32>(), 0.5, 0.5])
        .collect()
}

/// Whether the last step is right, and its cumulative GFLOPs.
fn last_step(logits: &[Vec<f32>], gflops: &[f64], label: u32) -> (bool, f64) {
    (
        logits
            .last()
            .is_some_and(|l| super::argmax(l) == label as usize),
        gflops.last().copied().unwrap_or(0.0),
    )
}

fn counts(plan: &Plan) -> (usize, usize) {
    (
        plan.kept.len(),
        plan.stages_3d.iter().filter(|&&s| s).count(),
    )
}

/// Why one test video could not be evaluated (the report lists it with this message).
#[derive(Debug, thiserror::Error)]
pub enum EvalVideoError {
    #[error("eval runs ada3d_focus checkpoints, not {0}")]
    NotAda3dFocus(&'static str),
    #[error("{0} clips: test videos must be one clip long")]
    NotOneClip(usize),
    #[error("the glance did not run")]
    NoGlance,
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Model(#[from] candle_core::Error),
}

/// Run `model` (ada3d_focus) on `entry` with its own thresholds, then with random policies of
/// the same frame and stage counts, then at each of `policy_sweep`'s pairs; `boxes` are
/// the target's per-frame boxes, if known.
pub fn run_video(
    model: &LoadedModel,
    entry: &Entry,
    label: u32,
    boxes: Option<&[[f32; 4]]>,
    seed: u64,
) -> Result<VideoResult, EvalVideoError> {
    let Network::Ada3dFocus(net) = &model.network else {
        return Err(EvalVideoError::NotAda3dFocus(model.arch()));
    };
    let net: &Ada3dFocus = net;
    let video = Video::open(&entry.path).map_err(RunError::from)?;
    // The runner decodes and glances, as for every other run; the ablations below then run
    // their own plans on that glance.
    let input = Input::plan(&video, model)?;
    if input.clips() != 1 {
        return Err(EvalVideoError::NotOneClip(input.clips()));
    }
    let mut session = Session::new(model, input);
    let frames = session.input.clip(0, &Control::default())?;
    let cache = session
        .glance(0, &Control::default())?
        .cloned()
        .ok_or(EvalVideoError::NoGlance)?;
    let input = &session.input;
    let c = &net.config;
    let plan = net.plan(&cache, c.frame_threshold, c.stage_threshold);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(entry.index as u64);
    let t = c.num_segments;
    // Random policies: as many kept frames and 3D stages, drawn uniformly; random centres.
    let mut order: Vec<usize> = (0..t).collect();
    order.shuffle(&mut rng);
    let mut kept: Vec<usize> = order[..plan.kept.len()].to_vec();
    kept.sort_unstable();
    let mut stages = plan.stages_3d.clone();
    stages.shuffle(&mut rng);
    let actions = random_actions(&mut rng, t);
    let random_plan = plan_cubes(c, kept, stages, &cache.temporal_weights, &actions);
    // Random placement alone: the learned frames, stages and cube times, random centres.
    let moved = plan_cubes(
        c,
        plan.kept.clone(),
        plan.stages_3d.clone(),
        &cache.temporal_weights,
        &actions,
    );
    let (places, random_places) = match (boxes, &input.geometry) {
        (Some(b), Some(g)) => {
            let to_display = |x: f64, y: f64| g.to_display(x, y);
            (
                Some(placement(&plan, &input.sampled.numbers, b, &to_display)),
                Some(placement(&moved, &input.sampled.numbers, b, &to_display)),
            )
        }
        _ => (None, None),
    };
    let target_in_view = match (boxes, &input.geometry) {
        (Some(b), Some(g)) => Some(
            input
                .sampled
                .numbers
                .iter()
                .filter_map(|&n| b.get(n))
                .any(|bx| share_inside(bx, g.source_rect) >= 0.5),
        ),
        _ => None,
    };
    let (kept_frames, stages_3d) = counts(&plan);
    let learned_choice = (plan.kept.clone(), plan.stages_3d.clone());
    let learned = net.run_plan(&frames, &cache, plan)?;
    let random = net.run_plan(&frames, &cache, random_plan)?;
    let policy_sweep = policy_sweep([c.frame_threshold, c.stage_threshold])
        .into_iter()
        .map(|[tf, ts]| {
            let plan = net.plan(&cache, tf, ts);
            let (kept_frames, stages_3d) = counts(&plan);
            // The cubes follow from the kept frames and stages: the same choice as the
            // learned policies' is the same run, so it is not run again.
            let (correct, gflops) =
                if (&plan.kept, &plan.stages_3d) == (&learned_choice.0, &learned_choice.1) {
                    last_step(&learned.step_logits, &learned.step_gflops, label)
                } else {
                    let out = net.run_plan(&frames, &cache, plan)?;
                    last_step(&out.step_logits, &out.step_gflops, label)
                };
            Ok(SweepRun {
                thresholds: [tf, ts],
                kept_frames,
                stages_3d,
                correct,
                gflops,
            })
        })
        .collect::<Result<Vec<_>, EvalVideoError>>()?;
    Ok(VideoResult {
        label,
        class: entry.label.clone().unwrap_or_default(),
        learned: Steps {
            logits: learned.step_logits,
            gflops: learned.step_gflops,
        },
        random_policy: Steps {
            logits: random.step_logits,
            gflops: random.step_gflops,
        },
        kept_frames,
        stages_3d,
        policy_sweep,
        learned_placement: places,
        random_placement: random_places,
        target_in_view,
    })
}

/// The per-frame target boxes of a benchmark split (`SPLIT_boxes.json`), by path relative to
/// the data folder; empty when the file is missing (a user's own data).
pub fn read_boxes(dir: &Path, split: &str) -> std::collections::HashMap<String, Vec<[f32; 4]>> {
    #[derive(serde::Deserialize)]
    struct Truth {
        boxes: Vec<[f32; 4]>,
    }
    let path = dir.join(format!("{split}_boxes.json"));
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str::<std::collections::HashMap<String, Truth>>(&s).ok())
        .map(|m| m.into_iter().map(|(k, v)| (k, v.boxes)).collect())
        .unwrap_or_default()
}
