//! One optimisation step of each training stage.
//!
//! - Stage 1 (AdaFocusV3 eq. 1 with random policies): random kept frames, random 3D stages and
//!   random cube centres; loss = Σ over steps of the cross-entropy (plus the glance heads).
//! - Stage 2 (the policies, backbones fixed): kept frames u ~ Bernoulli(m) and 3D stages
//!   v ~ Bernoulli(n) trained by REINFORCE with Ada3D's reward (eq. 4–7), and the spatial
//!   policy by the cross-entropy's gradient through AdaFocusV3's deep-feature interpolation
//!   (eq. 5–6) plus, with `cube_sigma > 0`, REINFORCE on cube centres drawn around its own
//!   (what each cube adds to log p(label)).
//! - Stage 3 (Ada3D eq. 8): everything but the cube policy jointly, cross-entropy − reward;
//!   the 3D network on its running statistics.

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

    /// Whether `name` belongs to the cube (spatial) policy.
    pub fn is_cube_policy(name: &str) -> bool {
        name.starts_with("spatial_policy.")
    }

    /// Whether the parameter `name` is trained in this stage (running statistics never are).
    pub fn trains(self, name: &str) -> bool {
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            return false;
        }
        let policy = name.starts_with("selection.");
        let spatial = Self::is_cube_policy(name);
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
    /// Standard deviation (in action units, 0–1 across the frame) of the Gaussian the cube
    /// centres are drawn from in stage 2; 0 trains the cube policy by AdaFocusV3's
    /// interpolation gradient alone. Above 0 the drawn centres also train it by REINFORCE on
    /// what each cube adds to the label's log-probability (see [`cube_policy_loss`]).
    #[serde(default)]
    pub cube_sigma: f64,
    /// Weight β of an entropy bonus on the frame and stage policies in stage 2 (the loss less
    /// β times the mean entropy of their Bernoulli draws; it fades with the learning rate).
    /// Without it, REINFORCE can drive every keep probability to 0 within an epoch, after
    /// which no draw keeps a second frame and the policy never learns that motion needs one
    /// (docs/training.md, "Training on another CPU").
    #[serde(default)]
    pub policy_entropy: f64,
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

/// log p(label) of each video (B) from logits B×classes.
fn label_log_probs(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    candle_nn::ops::log_softmax(logits, D::Minus1)?
        .gather(&labels.unsqueeze(1)?, 1)?
        .squeeze(1)
}

/// The mean of −log p(label) over the videos `mask` selects.
fn cross_entropy_masked(label_logp: &Tensor, mask: &[f32]) -> Result<Tensor> {
    let picked = label_logp.neg()?;
    let count = mask.iter().sum::<f32>().max(1.0);
    let m = Tensor::new(mask, label_logp.device())?;
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
) -> Result<(Tensor, Vec<bool>, Vec<Vec<f32>>)> {
    let (glance, steps) = net.classify(pooled, local, mode)?;
    let b = plans.len();
    let all = vec![1f32; b];
    let mut loss = Tensor::zeros((), DType::F32, labels.device())?;
    if with_glance {
        let t = glance.len() as f64;
        for g in &glance {
            loss = (loss + (cross_entropy_masked(&label_log_probs(g, labels)?, &all)? / t)?)?;
        }
        if let Some(last) = glance.last() {
            loss = (loss + cross_entropy_masked(&label_log_probs(last, labels)?, &all)?)?;
        }
    }
    // log p(label) after the whole glance, then after each cube: B rows of N + 1 (the
    // cube policy's rewards).
    let mut label_logp = vec![Vec::with_capacity(steps.len() + 1); b];
    let mut record = |lp: &Tensor| -> Result<()> {
        for (row, v) in label_logp.iter_mut().zip(lp.to_vec1::<f32>()?) {
            row.push(v);
        }
        Ok(())
    };
    if let Some(last) = glance.last() {
        record(&label_log_probs(&last.detach(), labels)?)?;
    }
    for (k, s) in steps.iter().enumerate() {
        let mask: Vec<f32> = plans
            .iter()
            .map(|p| if p.cubes.len() > k { 1.0 } else { 0.0 })
            .collect();
        let lp = label_log_probs(s, labels)?;
        record(&lp)?;
        loss = (loss + cross_entropy_masked(&lp, &mask)?)?;
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
    Ok((loss, correct, label_logp))
}

/// REINFORCE for the cube centres drawn from N(μ, σ²) (AdaFocusV1's patch policy, here beside
/// AdaFocusV3's interpolation gradient): each cube's reward is what it added to log p(label)
/// over the step before it, less that step's batch mean, times the log-density of its drawn
/// centre. The interpolation gradient only sees a feature cell around the cube, so a target
/// elsewhere in the frame never pulls the cube; the drawn centres find it.
fn cube_policy_loss(
    mean: &Tensor,
    drawn: &Tensor,
    plans: &[Plan],
    label_logp: &[Vec<f32>],
    sigma: f64,
) -> Result<Tensor> {
    let (b, t, _) = mean.dims3()?;
    let n = plans.iter().map(|p| p.cubes.len()).max().unwrap_or(0);
    let mut gains = vec![Vec::new(); n];
    for (i, p) in plans.iter().enumerate() {
        for k in 0..p.cubes.len() {
            gains[k].push((
                i,
                p.cubes[k].centre,
                label_logp[i][k + 1] - label_logp[i][k],
            ));
        }
    }
    let mut weight = vec![0f32; b * t * 2];
    let mut count = 0usize;
    for step in &gains {
        let base = step.iter().map(|g| g.2).sum::<f32>() / step.len().max(1) as f32;
        for &(i, f, gain) in step {
            for col in 0..2 {
                weight[(i * t + f) * 2 + col] += gain - base;
            }
            count += 1;
        }
    }
    let dev = mean.device();
    let mu = mean.narrow(2, 0, 2)?.reshape((b * t * 2,))?;
    let x = drawn.narrow(2, 0, 2)?.reshape((b * t * 2,))?.detach();
    let w = Tensor::from_vec(weight, b * t * 2, dev)?;
    // −Σ (R − b) log N(x; μ, σ²) = Σ (R − b) (x − μ)² / 2σ² + const.
    let sq = (x - mu)?.sqr()?;
    (sq * w)?.sum_all()? / (2.0 * sigma * sigma * count.max(1) as f64)
}

/// Centres drawn around the policy's: columns 0–1 (y, x) of each action plus N(0, σ²),
/// clipped to the frame; the scale columns as they are.
fn draw_centres(mean: &[Vec<[f32; 4]>], sigma: f64, rng: &mut ChaCha8Rng) -> Vec<Vec<[f32; 4]>> {
    let normal = |rng: &mut ChaCha8Rng| -> f64 {
        // Box–Muller: two uniforms in (0, 1] → one standard normal.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    mean.iter()
        .map(|rows| {
            rows.iter()
                .map(|a| {
                    let mut d = *a;
                    for v in d.iter_mut().take(2) {
                        *v = (*v as f64 + sigma * normal(rng)).clamp(0.0, 1.0) as f32;
                    }
                    d
                })
                .collect()
        })
        .collect()
}

/// −(1/B) Σ_i [(R(u_i) − b_u) log π^f(u_i) + (R(v_i) − b_v) log π^c(v_i)], baselines b the
/// batch means of the rewards (Ada3D eq. 7 with a baseline), less β (1/B) Σ_i [Σ_t H(m_it) +
/// Σ_k H(n_ik)], the entropy bonus (`Reward::policy_entropy`).
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
    let pg = ((gu + gv)?.sum_all()? / b as f64)?.neg()?;
    if r.policy_entropy == 0.0 {
        return Ok(pg);
    }
    let entropy = (bernoulli_entropy(m)? + bernoulli_entropy(n)?)?;
    pg - (entropy * (r.policy_entropy / b as f64))?
}

/// Σ −p log p − (1 − p) log(1 − p) over every element of `p`.
fn bernoulli_entropy(p: &Tensor) -> Result<Tensor> {
    let p = p.clamp(1e-6f32, 1.0 - 1e-6f32)?;
    let q = (1.0 - &p)?;
    ((&p * p.log()?)? + (&q * q.log()?)?)?.sum_all()?.neg()
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
            let (loss, correct, _) =
                step_losses(net, &g.pooled, &local, labels, &d.plans, Mode::Train, true)?;
            (loss, correct, d)
        }
        Stage::Policy | Stage::Joint => {
            let spatial_mode = if stage == Stage::Policy {
                Mode::Train
            } else {
                Mode::Eval
            };
            let mean_t = net.actions(&g, spatial_mode)?;
            let mean: Vec<Vec<[f32; 4]>> = mean_t
                .to_vec3::<f32>()?
                .into_iter()
                .map(|rows| rows.into_iter().map(|a| [a[0], a[1], a[2], a[3]]).collect())
                .collect();
            let explore = stage == Stage::Policy && reward.cube_sigma > 0.0;
            let (actions, drawn_t, actions_t) = if explore {
                let drawn = draw_centres(&mean, reward.cube_sigma, rng);
                let flat: Vec<f32> = drawn.iter().flatten().flatten().copied().collect();
                let drawn_t = Tensor::from_vec(flat, mean_t.shape(), dev)?;
                // μ + (drawn − μ): the drawn values, μ's gradient (so the interpolation
                // gradient still reaches the policy).
                let actions_t = (&mean_t + (&drawn_t - mean_t.detach())?)?;
                (drawn, Some(drawn_t), actions_t)
            } else {
                (mean, None, mean_t.clone())
            };
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
                // The local network keeps its running statistics: it runs once per cube
                // span, and the learned policies give each span one family (one frame for a
                // still target, two for a moving one), so batch statistics would normalise
                // each family by its own mean, which the test-time network never does.
                (Mode::Eval, Mode::Train, Focus::Crop)
            };
            let local = net.local(frames, &d.plans, &d.v, focus, local)?;
            let (ce, correct, label_logp) = step_losses(
                net,
                &g.pooled,
                &local,
                labels,
                &d.plans,
                mode,
                stage == Stage::Joint,
            )?;
            let mut pg = policy_loss(&g.m, &g.n, &d, &correct, reward)?;
            if let Some(drawn_t) = &drawn_t {
                let cube =
                    cube_policy_loss(&mean_t, drawn_t, &d.plans, &label_logp, reward.cube_sigma)?;
                pg = (pg + cube)?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ada3d_focus::CubePlan;
    use crate::model::patch::Region;
    use candle_core::{Device, Var};
    use rand::SeedableRng;

    fn one_cube_plan(centre: usize) -> Plan {
        let region = Region {
            x1: 0.0,
            y1: 0.0,
            x2: 1.0,
            y2: 1.0,
        };
        Plan {
            kept: vec![centre],
            stages_3d: vec![],
            positions: vec![],
            cubes: vec![CubePlan {
                centre,
                frames: vec![centre],
                region,
            }],
        }
    }

    #[test]
    fn drawn_centres_stay_in_the_frame_and_keep_the_scale() {
        let mean = vec![vec![[0.0, 1.0, 0.3, 0.7]; 50]];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let drawn = draw_centres(&mean, 0.5, &mut rng);
        let moved = drawn[0].iter().filter(|a| a[0] > 0.0 || a[1] < 1.0).count();
        assert!(moved > 10, "σ = 0.5 moved only {moved} of 50 centres");
        for a in &drawn[0] {
            assert!((0.0..=1.0).contains(&a[0]) && (0.0..=1.0).contains(&a[1]));
            assert_eq!((a[2], a[3]), (0.3, 0.7));
        }
        assert_eq!(draw_centres(&mean, 0.0, &mut rng), mean);
    }

    /// With every video right at the same cost the advantages are 0, so the bonus alone moves
    /// the policies: −β·H per video, and a descent step takes a near-certain probability
    /// back towards 1/2 from either side.
    #[test]
    fn the_entropy_bonus_pulls_saturated_policies_back() -> Result<()> {
        let dev = Device::Cpu;
        let m = Var::from_vec(vec![0.02f32, 0.98, 0.02, 0.98], (2, 2), &dev)?;
        let n = Var::from_vec(vec![0.01f32, 0.01], (2, 1), &dev)?;
        let d = Decisions {
            plans: vec![],
            u: Tensor::new(&[[1f32, 0.], [1., 0.]], &dev)?,
            v: Tensor::new(&[[0f32], [0.]], &dev)?,
        };
        let reward = |policy_entropy| Reward {
            gamma: 0.5,
            cube_sigma: 0.0,
            policy_entropy,
        };
        let plain = policy_loss(m.as_tensor(), n.as_tensor(), &d, &[true; 2], reward(0.0))?;
        assert_eq!(plain.to_scalar::<f32>()?, 0.0);
        let loss = policy_loss(m.as_tensor(), n.as_tensor(), &d, &[true; 2], reward(0.1))?;
        let h = |p: f32| -p * p.ln() - (1.0 - p) * (1.0 - p).ln();
        let want = -0.1 * (4.0 * h(0.02) + 2.0 * h(0.01)) / 2.0;
        assert!((loss.to_scalar::<f32>()? - want).abs() < 1e-6);
        let grads = loss.backward()?;
        let gm = grads.get(&m).map(|g| g.to_vec2::<f32>()).transpose()?;
        let gn = grads.get(&n).map(|g| g.to_vec2::<f32>()).transpose()?;
        let (gm, gn) = (gm.unwrap_or_default(), gn.unwrap_or_default());
        for row in &gm {
            assert!(-row[0] > 0.0 && -row[1] < 0.0, "{gm:?}");
        }
        assert!(gn.iter().all(|row| -row[0] > 0.0), "{gn:?}");
        Ok(())
    }

    /// A descent step on the loss moves the centre of the cube that helped towards where it
    /// was drawn, and the one that hurt away from it.
    #[test]
    fn a_helpful_cube_pulls_its_centre_and_a_harmful_one_pushes() -> Result<()> {
        let dev = Device::Cpu;
        let mu = Var::from_vec(vec![0.5f32; 2 * 4], (2, 1, 4), &dev)?;
        let drawn = Tensor::new(&[[[0.7f32, 0.3, 0.5, 0.5]], [[0.7, 0.3, 0.5, 0.5]]], &dev)?;
        let plans = vec![one_cube_plan(0), one_cube_plan(0)];
        // Video 0: the cube raised log p(label) by 1; video 1: lowered it by 1.
        let logp = vec![vec![-2.0, -1.0], vec![-1.0, -2.0]];
        let loss = cube_policy_loss(mu.as_tensor(), &drawn, &plans, &logp, 0.2)?;
        let grads = loss.backward()?;
        let g = grads.get(&mu).map(|g| g.to_vec3::<f32>()).transpose()?;
        let g = g.unwrap_or_default();
        // −gradient: towards (0.7, 0.3) for video 0, away for video 1; scale untouched.
        assert!(-g[0][0][0] > 0.0 && -g[0][0][1] < 0.0, "{g:?}");
        assert!(-g[1][0][0] < 0.0 && -g[1][0][1] > 0.0, "{g:?}");
        assert_eq!((g[0][0][2], g[0][0][3]), (0.0, 0.0));
        Ok(())
    }
}
