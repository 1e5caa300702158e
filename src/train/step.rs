//! One optimisation step of each training stage.
//!
//! - Stage 1 (AdaFocusV3 eq. 1 with random policies): random kept frames, random 3D stages and
//!   random cube centres; loss = Σ over steps of the cross-entropy (plus the glance heads).
//! - Stage 2 (the policies, backbones fixed): kept frames u ~ Bernoulli(m) and 3D stages
//!   v ~ Bernoulli(n) trained by REINFORCE with Ada3D's reward (eq. 4–7), and the spatial
//!   policy by the cross-entropy's gradient through AdaFocusV3's deep-feature interpolation
//!   (eq. 5–6).
//! - Stage 3 (Ada3D eq. 8): everything but the cube policy jointly, cross-entropy − reward.

use candle_core::{DType, Result, Tensor, D};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::layers::Mode;
use super::net::{Focus, TrainNet};
use crate::model::ada3d::keep_at_least_one;
use crate::model::ada3d_focus::{plan_cubes, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    Warmup,
    Policy,
    Joint,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Warmup, Stage::Policy, Stage::Joint];

    pub fn number(self) -> usize {
        match self {
            Stage::Warmup => 1,
            Stage::Policy => 2,
            Stage::Joint => 3,
        }
    }

    /// Whether the parameter `name` is trained in this stage (running statistics never are).
    pub fn trains(self, name: &str) -> bool {
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            return false;
        }
        let policy = name.starts_with("selection.");
        let spatial = name.starts_with("spatial_policy.");
        if name.starts_with("temporal_policy.") {
            return false;
        }
        match self {
            Stage::Warmup => !policy && !spatial,
            Stage::Policy => policy || spatial,
            Stage::Joint => !spatial,
        }
    }
}

/// Ada3D's reward weights.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Reward {
    /// The reward of a wrong prediction is −γ.
    pub gamma: f64,
}

/// What a step measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepStats {
    pub loss: f64,
    pub correct: usize,
    pub videos: usize,
    pub kept: usize,
    pub stages_3d: usize,
}

fn cross_entropy_masked(logits: &Tensor, labels: &Tensor, mask: &[f32]) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?;
    let count = mask.iter().sum::<f32>().max(1.0);
    let m = Tensor::new(mask, logits.device())?;
    (picked * m)?.sum_all()? / count as f64
}

/// The decisions of one batch: kept frames, 3D flags and cube plans per video.
struct Decisions {
    plans: Vec<Plan>,
    /// B×T and B×K 0/1 tensors of what was used.
    u: Tensor,
    v: Tensor,
}

fn decisions(
    net: &TrainNet,
    keep: Vec<Vec<bool>>,
    stages: Vec<Vec<bool>>,
    actions: &[Vec<[f32; 4]>],
    dev: &candle_core::Device,
) -> Result<Decisions> {
    let c = &net.config;
    let t = c.num_segments;
    let uniform = vec![1.0 / t as f32; t];
    let b = keep.len();
    let k = stages.first().map_or(0, Vec::len);
    let flat = |rows: &[Vec<bool>]| -> Vec<f32> {
        rows.iter()
            .flatten()
            .map(|&x| if x { 1.0 } else { 0.0 })
            .collect()
    };
    let u = Tensor::from_vec(flat(&keep), (b, t), dev)?;
    let v = Tensor::from_vec(flat(&stages), (b, k), dev)?;
    let plans = keep
        .into_iter()
        .zip(stages)
        .zip(actions)
        .map(|((kf, st), a)| {
            let kept = kf
                .iter()
                .enumerate()
                .filter(|(_, &x)| x)
                .map(|(i, _)| i)
                .collect();
            plan_cubes(c, kept, st, &uniform, a)
        })
        .collect();
    Ok(Decisions { plans, u, v })
}

fn bernoulli(rng: &mut ChaCha8Rng, probs: &[f32]) -> Vec<bool> {
    probs.iter().map(|&p| rng.random::<f32>() < p).collect()
}

/// Classify and sum the losses over steps; the last step's prediction of each video.
fn step_losses(
    net: &TrainNet,
    pooled: &Tensor,
    local: &Tensor,
    labels: &Tensor,
    plans: &[Plan],
    mode: Mode,
    with_glance: bool,
) -> Result<(Tensor, Vec<bool>)> {
    let (glance, steps) = net.classify(pooled, local, mode)?;
    let b = plans.len();
    let all = vec![1f32; b];
    let mut loss = Tensor::zeros((), DType::F32, labels.device())?;
    if with_glance {
        let t = glance.len() as f64;
        for g in &glance {
            loss = (loss + (cross_entropy_masked(g, labels, &all)? / t)?)?;
        }
        if let Some(last) = glance.last() {
            loss = (loss + cross_entropy_masked(last, labels, &all)?)?;
        }
    }
    for (k, s) in steps.iter().enumerate() {
        let mask: Vec<f32> = plans
            .iter()
            .map(|p| if p.cubes.len() > k { 1.0 } else { 0.0 })
            .collect();
        loss = (loss + cross_entropy_masked(s, labels, &mask)?)?;
    }
    let labels_v: Vec<u32> = labels.to_vec1()?;
    let argmax: Vec<Vec<u32>> = steps
        .iter()
        .map(|s| s.argmax(D::Minus1)?.to_vec1())
        .collect::<Result<_>>()?;
    let correct = plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let last = p.cubes.len().max(1) - 1;
            argmax.get(last).is_some_and(|a| a[i] == labels_v[i])
        })
        .collect();
    Ok((loss, correct))
}

/// −(1/B) Σ_i [(R(u_i) − b_u) log π^f(u_i) + (R(v_i) − b_v) log π^c(v_i)], baselines b the
/// batch means of the rewards (Ada3D eq. 7 with a baseline).
fn policy_loss(
    m: &Tensor,
    n: &Tensor,
    d: &Decisions,
    correct: &[bool],
    r: Reward,
) -> Result<Tensor> {
    let (b, t) = m.dims2()?;
    let k = n.dim(1)?;
    let used = |x: &Tensor| -> Result<Vec<f32>> { x.sum(1)?.to_vec1() };
    let (fu, fv) = (used(&d.u)?, used(&d.v)?);
    let reward = |cost: &dyn Fn(usize) -> f64| -> Vec<f64> {
        (0..b)
            .map(|i| if correct[i] { 1.0 - cost(i) } else { -r.gamma })
            .collect()
    };
    let ru = reward(&|i| fu[i] as f64 / t as f64);
    let rv = reward(&|i| (fv[i] as f64 / k.max(1) as f64).powi(2));
    let centred = |r: Vec<f64>| -> Result<Tensor> {
        let mean = r.iter().sum::<f64>() / b as f64;
        let v: Vec<f32> = r.iter().map(|x| (x - mean) as f32).collect();
        Tensor::new(v.as_slice(), m.device())
    };
    let log_pi = |p: &Tensor, a: &Tensor| -> Result<Tensor> {
        let p = p.clamp(1e-6f32, 1.0 - 1e-6f32)?;
        let one_minus = (1.0 - &p)?;
        (a * p.log()?)?
            .add(&((1.0 - a)? * one_minus.log()?)?)?
            .sum(1)
    };
    let gu = (log_pi(m, &d.u)? * centred(ru)?)?;
    let gv = (log_pi(n, &d.v)? * centred(rv)?)?;
    ((gu + gv)?.sum_all()? / b as f64)?.neg()
}

/// One step of `stage` on frames (B·T)×3×S×S with `labels`; returns the loss to minimise.
pub fn step(
    net: &TrainNet,
    stage: Stage,
    frames: &Tensor,
    labels: &Tensor,
    reward: Reward,
    rng: &mut ChaCha8Rng,
) -> Result<(Tensor, StepStats)> {
    let c = &net.config;
    let (t, dev) = (c.num_segments, frames.device());
    let b = frames.dim(0)? / t;
    let backbone = if stage == Stage::Policy {
        Mode::Eval
    } else {
        Mode::Train
    };
    let g = net.glance(frames, backbone)?;
    let k = g.n.dim(1)?;
    let (loss, correct, d) = match stage {
        Stage::Warmup => {
            let mut keep = Vec::with_capacity(b);
            let mut stages = Vec::with_capacity(b);
            let mut actions = Vec::with_capacity(b);
            for _ in 0..b {
                let q: f32 = rng.random_range(0.25..1.0);
                let probs: Vec<f32> = (0..t).map(|_| rng.random::<f32>()).collect();
                let mut kf: Vec<bool> = probs.iter().map(|&p| p < q).collect();
                if !kf.iter().any(|&x| x) {
                    kf[rng.random_range(0..t)] = true;
                }
                keep.push(kf);
                stages.push((0..k).map(|_| rng.random_bool(0.5)).collect());
                actions.push(
                    (0..t)
                        .map(|_| [rng.random::<f32>(), rng.random::<f32>(), 0.5, 0.5])
                        .collect(),
                );
            }
            let d = decisions(net, keep, stages, &actions, dev)?;
            let local = net.local(frames, &d.plans, &d.v, Focus::Crop, Mode::Train)?;
            let (loss, correct) =
                step_losses(net, &g.pooled, &local, labels, &d.plans, Mode::Train, true)?;
            (loss, correct, d)
        }
        Stage::Policy | Stage::Joint => {
            let spatial_mode = if stage == Stage::Policy {
                Mode::Train
            } else {
                Mode::Eval
            };
            let actions_t = net.actions(&g, spatial_mode)?;
            let actions: Vec<Vec<[f32; 4]>> = actions_t
                .to_vec3::<f32>()?
                .into_iter()
                .map(|rows| rows.into_iter().map(|a| [a[0], a[1], a[2], a[3]]).collect())
                .collect();
            let m: Vec<Vec<f32>> = g.m.to_vec2()?;
            let n: Vec<Vec<f32>> = g.n.to_vec2()?;
            let keep = m
                .iter()
                .map(|p| {
                    let s: Vec<f32> = bernoulli(rng, p)
                        .iter()
                        .zip(p)
                        .map(|(&x, &pv)| if x { 1.0 + pv } else { pv - 1.0 })
                        .collect();
                    // At least one frame: the likeliest when none was drawn.
                    keep_at_least_one(&s, 1.0)
                })
                .collect();
            let stages = n.iter().map(|p| bernoulli(rng, p)).collect();
            let d = decisions(net, keep, stages, &actions, dev)?;
            let (local, mode, focus) = if stage == Stage::Policy {
                let focus = Focus::Interpolate {
                    actions: &actions_t,
                };
                (Mode::Eval, Mode::Eval, focus)
            } else {
                (Mode::Train, Mode::Train, Focus::Crop)
            };
            let local = net.local(frames, &d.plans, &d.v, focus, local)?;
            let (ce, correct) = step_losses(
                net,
                &g.pooled,
                &local,
                labels,
                &d.plans,
                mode,
                stage == Stage::Joint,
            )?;
            let pg = policy_loss(&g.m, &g.n, &d, &correct, reward)?;
            ((ce + pg)?, correct, d)
        }
    };
    let stats = StepStats {
        loss: loss.to_scalar::<f32>()? as f64,
        correct: correct.iter().filter(|&&x| x).count(),
        videos: b,
        kept: d.u.sum_all()?.to_scalar::<f32>()? as usize,
        stages_3d: d.v.sum_all()?.to_scalar::<f32>()? as usize,
    };
    Ok((loss, stats))
}
