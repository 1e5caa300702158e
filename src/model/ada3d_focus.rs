//! The `ada3d_focus` arch (docs/ARCHITECTURE.md §1): Ada3D's frame and 3D-stage policies ("Ada3D",
//! Li et al., ICCV 2021) and AdaFocusV3's cube policy and early exit ("Uni-AdaFocus / AdaFocusV3",
//! Wang et al.) in one model. A MobileNetV2 glance on all T frames feeds Ada3D's two heads (m,
//! n), the glance classifier and the cube policy; cube centres are placed among the kept frames
//! only; each cube is H'×W' around the policy's (x, y), spanning T' consecutive kept frames; the
//! 3D ResNet runs on each cube with the stages n chose; the pooling classifier predicts after
//! the glance (step 0) and after each cube (step k).
//!
//! Names: `global_CNN.features.*` (torchvision MobileNetV2), `selection.{frame,stage}_head`,
//! `temporal_policy.Tconv.*`, `spatial_policy.encoder.*` (Uni-AdaFocus's), `local_CNN.*` (the
//! 3D ResNet under PySlowFast names, no head), `classifier.*` (T glance heads, N cube heads).
//!
//! Run API. Inspection: [`Ada3dFocus::glance`] once (cached by the caller), then
//! [`Ada3dFocus::plan`] and [`Ada3dFocus::run_plan`] for any τ_f, τ_s — they re-run the 3D
//! network and the classifier only. Deployment: [`Ada3dFocus::deploy`] stops at the first step
//! whose entropy is at or below its threshold and reports the FLOPs actually spent.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::Serialize;

use super::ada3d::{ClipPolicy, PolicyHeads};
use super::ada3d_config::Ada3dFocusConfig;
use super::backbones::mobilenet_v2::MobileNetV2;
use super::backbones::resnet3d::ResNet3d;
use super::classifier::PoolingClassifier;
use super::config::check_frames;
use super::layers::area_downscale;
use super::patch::{affine_patches, region_from_action, theta_for_region, Region};
use super::policy::spatial::SpatialPolicy;
use super::policy::temporal::{quantile_focus, TemporalPolicy};
use crate::decision::trace::StepPrediction;

/// Everything the glance decided, for one clip: computed once per video in inspection mode.
#[derive(Debug, Clone)]
pub struct GlanceCache {
    /// T×F pooled glance features (the classifier's global input).
    pub pooled: Tensor,
    pub policy: ClipPolicy,
    /// softmax(scores / temperature) over the T frames.
    pub temporal_weights: Vec<f32>,
    /// (y, x, scale_y, scale_x) per frame.
    pub actions: Vec<[f32; 4]>,
}

/// One cube: where it sits and what it covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CubePlan {
    /// The centre frame (index into the T sampled frames).
    pub centre: usize,
    /// The T' consecutive kept frames it spans, in order.
    pub frames: Vec<usize>,
    /// Its box in model-input pixels (the same on each of its frames).
    pub region: Region,
}

/// What the policies chose for thresholds τ_f, τ_s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub kept: Vec<usize>,
    pub stages_3d: Vec<bool>,
    /// Quantile positions in [0, 1] over the kept frames, one per cube.
    pub positions: Vec<f32>,
    pub cubes: Vec<CubePlan>,
}

/// The result of a plan: every step's logits and cumulative GFLOPs.
#[derive(Debug, Clone, Serialize)]
pub struct Ada3dFocusOutput {
    pub policy: ClipPolicy,
    pub temporal_weights: Vec<f32>,
    pub actions: Vec<[f32; 4]>,
    pub plan: Plan,
    /// Step 0 = the last glance head, step k = after k cubes.
    pub step_logits: Vec<Vec<f32>>,
    pub step_gflops: Vec<f64>,
}

/// Multiply-adds of one video by part: step 0 is the glance, the policies and the glance
/// classifier; step k adds cube k's 3D network and its classifier part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FocusFlops {
    /// MobileNetV2 on all T frames.
    pub glance: u64,
    /// Ada3D's frame and stage heads, the temporal and the spatial policy.
    pub policies: u64,
    pub classifier_glance: u64,
    pub local_per_cube: Vec<u64>,
    pub classifier_per_cube: u64,
}

impl FocusFlops {
    /// Cumulative after each step 0..=cubes.
    pub fn cumulative(&self) -> Vec<u64> {
        let mut steps = vec![self.glance + self.policies + self.classifier_glance];
        for local in &self.local_per_cube {
            let last = steps.last().copied().unwrap_or(0);
            steps.push(last + local + self.classifier_per_cube);
        }
        steps
    }
}

/// A deployment run: the steps computed up to the exit, and what they cost.
#[derive(Debug, Clone, Serialize)]
pub struct DeployRun {
    pub plan: Plan,
    pub exit_step: usize,
    pub step_logits: Vec<Vec<f32>>,
    pub gflops: f64,
}

#[derive(Debug, Clone)]
pub struct Ada3dFocus {
    pub config: Ada3dFocusConfig,
    glance: MobileNetV2,
    heads: PolicyHeads,
    temporal: TemporalPolicy,
    spatial: SpatialPolicy,
    local: ResNet3d,
    classifier: PoolingClassifier,
    /// Multiply-adds of the glance on all T frames: fixed by the config, counted once.
    glance_macs: u64,
}

impl Ada3dFocus {
    pub fn new(config: Ada3dFocusConfig, vb: VarBuilder) -> Result<Self> {
        let c = &config;
        if let Err(e) = c.validate() {
            candle_core::bail!("config: {e}")
        }
        let glance = MobileNetV2::new(c.glance_width_mult, None, vb.pp("global_CNN"))?;
        let gdim = glance.feature_dim();
        let local = ResNet3d::new(c.local.clone(), None, vb.pp("local_CNN"))?;
        let k = c.local.adaptive_stages().len();
        let (policy_channels, policy_side) = c.spatial_map();
        let g = c.glance_size;
        let glance_macs = glance.flops((g, g)).total * c.num_segments as u64;
        Ok(Self {
            glance_macs,
            heads: PolicyHeads::new(gdim, c.num_segments, k, vb.pp("selection"))?,
            temporal: TemporalPolicy::new(
                gdim,
                c.temporal_hidden,
                c.temperature,
                vb.pp("temporal_policy"),
            )?,
            spatial: SpatialPolicy::new(
                policy_channels,
                c.spatial_hidden,
                policy_side,
                vb.pp("spatial_policy"),
            )?,
            classifier: PoolingClassifier::new(
                gdim,
                c.local.feature_dim(),
                c.mlp_hidden,
                c.num_segments,
                c.num_cubes,
                c.num_classes,
                vb.pp("classifier"),
            )?,
            glance,
            local,
            config,
        })
    }

    pub fn local(&self) -> &ResNet3d {
        &self.local
    }

    fn check_input(&self, frames: &Tensor) -> Result<()> {
        check_frames(frames, self.config.num_segments, self.config.input_size)
    }

    /// The glance and every policy output, for frames T×3×S×S (normalised).
    pub fn glance(&self, frames: &Tensor) -> Result<GlanceCache> {
        self.check_input(frames)?;
        let f = self.config.glance_factor();
        let small = area_downscale(frames, f)?;
        let (pooled, policy_maps) = self
            .glance
            .pooled_and_tap(&small, self.config.spatial_tap())?;
        let (m, n) = self.heads.forward(&pooled.unsqueeze(0)?)?;
        let policy = ClipPolicy {
            frame_probs: m.squeeze(0)?.to_vec1()?,
            stage_probs: n.squeeze(0)?.to_vec1()?,
        };
        let temporal_weights = self.temporal.forward(&pooled)?.weights_t;
        let actions = self.spatial.actions(&policy_maps)?;
        Ok(GlanceCache {
            pooled,
            policy,
            temporal_weights,
            actions,
        })
    }

    /// Kept frames, 3D stages and cubes for thresholds τ_f, τ_s (see [`plan_cubes`]).
    pub fn plan(&self, cache: &GlanceCache, frame_threshold: f32, stage_threshold: f32) -> Plan {
        let (kept, stages_3d) = cache.policy.decide(frame_threshold, stage_threshold);
        plan_cubes(
            &self.config,
            kept,
            stages_3d,
            &cache.temporal_weights,
            &cache.actions,
        )
    }

    /// Pooled 3D features of `cubes` (each cut from `frames` T×3×S×S) → n×D.
    fn cube_features(
        &self,
        frames: &Tensor,
        cubes: &[CubePlan],
        stages: &[bool],
    ) -> Result<Tensor> {
        let c = &self.config;
        let dev = frames.device();
        let (s, p) = (c.input_size, c.cube_size);
        let span = cubes.first().map(|q| q.frames.len()).unwrap_or(0);
        let idx: Vec<u32> = cubes
            .iter()
            .flat_map(|q| q.frames.iter().map(|&f| f as u32))
            .collect();
        let picked = frames.index_select(&Tensor::new(idx.as_slice(), dev)?, 0)?;
        let theta: Vec<f32> = cubes
            .iter()
            .flat_map(|q| {
                let t = theta_for_region(q.region, (s, s));
                std::iter::repeat_n(t, q.frames.len())
            })
            .flatten()
            .flatten()
            .collect();
        let theta = Tensor::from_vec(theta, (idx.len(), 2, 3), dev)?;
        let patches = affine_patches(&picked, &theta, (p, p))?;
        let clips = patches.reshape((cubes.len(), span, 3, p, p))?;
        Ok(self.local.features_and_pooled(&clips, stages)?.1)
    }

    /// Multiply-adds of a plan by part.
    pub fn flops_breakdown(&self, plan: &Plan) -> Result<FocusFlops> {
        let c = &self.config;
        let t = c.num_segments;
        let p = c.cube_size;
        let local_per_cube = plan
            .cubes
            .iter()
            .map(|cube| {
                Ok(self
                    .local
                    .flops(cube.frames.len(), (p, p), &plan.stages_3d)?
                    .total)
            })
            .collect::<Result<_>>()?;
        Ok(FocusFlops {
            glance: self.glance_macs,
            policies: self.heads.macs()
                + self.temporal.macs(t)
                + self.spatial.macs(t, c.spatial_map().1),
            classifier_glance: self.classifier.macs_per_glance() * t as u64,
            local_per_cube,
            classifier_per_cube: self.classifier.macs_per_patch(),
        })
    }

    /// Cumulative multiply-adds after each step for a plan.
    pub fn step_flops(&self, plan: &Plan) -> Result<Vec<u64>> {
        Ok(self.flops_breakdown(plan)?.cumulative())
    }

    /// Inspection mode: every step of a plan (the glance cached).
    pub fn run_plan(
        &self,
        frames: &Tensor,
        cache: &GlanceCache,
        plan: Plan,
    ) -> Result<Ada3dFocusOutput> {
        let dev = frames.device();
        let local = if plan.cubes.is_empty() {
            Tensor::zeros((0, self.config.local.feature_dim()), frames.dtype(), dev)?
        } else {
            self.cube_features(frames, &plan.cubes, &plan.stages_3d)?
        };
        let heads: Vec<Vec<f32>> = self.classifier.forward(&cache.pooled, &local)?.to_vec2()?;
        let t = self.config.num_segments;
        let step_logits = heads[t - 1..].to_vec();
        let step_gflops = self
            .step_flops(&plan)?
            .iter()
            .map(|&v| v as f64 / 1e9)
            .collect();
        Ok(Ada3dFocusOutput {
            policy: cache.policy.clone(),
            temporal_weights: cache.temporal_weights.clone(),
            actions: cache.actions.clone(),
            plan,
            step_logits,
            step_gflops,
        })
    }

    /// Inspection mode with the config's thresholds.
    pub fn forward(&self, frames: &Tensor) -> Result<Ada3dFocusOutput> {
        let cache = self.glance(frames)?;
        let c = &self.config;
        let plan = self.plan(&cache, c.frame_threshold, c.stage_threshold);
        self.run_plan(frames, &cache, plan)
    }

    /// Deployment mode: stop at the first step k with entropy(p_k) ≤ `entropy_thresholds[k]`
    /// (a missing threshold never exits; the last step always does), computing one cube at a
    /// time; the FLOPs are those of the steps actually run.
    pub fn deploy(
        &self,
        frames: &Tensor,
        frame_threshold: f32,
        stage_threshold: f32,
        entropy_thresholds: &[f32],
    ) -> Result<DeployRun> {
        let cache = self.glance(frames)?;
        let plan = self.plan(&cache, frame_threshold, stage_threshold);
        let flops = self.step_flops(&plan)?;
        let (glance_rows, mut state) = self.classifier.glance(&cache.pooled)?;
        let Some(mut logits) = glance_rows.last().cloned() else {
            candle_core::bail!("no glance frames")
        };
        let mut step_logits = Vec::new();
        for (k, &spent) in flops.iter().enumerate() {
            if k > 0 {
                let f = self.cube_features(frames, &plan.cubes[k - 1..k], &plan.stages_3d)?;
                logits = self.classifier.add_patch(&mut state, &f)?;
            }
            let row: Vec<f32> = logits.squeeze(0)?.to_vec1()?;
            let entropy = StepPrediction::from_logits(k, &row, 1, 0.0).entropy;
            step_logits.push(row);
            let exits = entropy_thresholds.get(k).is_some_and(|&e| entropy <= e);
            if exits || k == plan.cubes.len() {
                return Ok(DeployRun {
                    exit_step: k,
                    step_logits,
                    gflops: spent as f64 / 1e9,
                    plan,
                });
            }
        }
        candle_core::bail!("no step ran")
    }
}

/// The cubes for kept frames and 3D stages already decided (the trainer's sampled decisions
/// go through here too). The quantile rule runs on the kept frames' temporal weights (a
/// discarded frame's weight is zero), so every centre is a kept frame; with fewer kept frames
/// than N there are as many cubes as kept frames. Each cube spans T' consecutive kept frames
/// around its centre, its box from the spatial policy's action on the centre frame.
pub fn plan_cubes(
    c: &Ada3dFocusConfig,
    kept: Vec<usize>,
    stages_3d: Vec<bool>,
    temporal_weights: &[f32],
    actions: &[[f32; 4]],
) -> Plan {
    let w: Vec<f32> = kept.iter().map(|&i| temporal_weights[i]).collect();
    let sum: f32 = w.iter().sum();
    let w: Vec<f32> = w.iter().map(|v| v / sum.max(f32::MIN_POSITIVE)).collect();
    let n = c.num_cubes.min(kept.len());
    let (positions, at) = quantile_focus(&w, kept.len(), n);
    let span = c.cube_frames.min(kept.len());
    let side = c.input_size;
    let (lo, hi) = c.cube_sides();
    let cubes = at
        .iter()
        .map(|&j| {
            let start = j.saturating_sub(span / 2).min(kept.len() - span);
            let centre = kept[j];
            CubePlan {
                centre,
                frames: kept[start..start + span].to_vec(),
                region: region_from_action(actions[centre], (side, side), c.cube_size, lo, hi),
            }
        })
        .collect();
    Plan {
        kept,
        stages_3d,
        positions,
        cubes,
    }
}
