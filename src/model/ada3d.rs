//! The `ada3d` arch: "Ada3D: Exploiting the Spatio-Temporal Redundancy in Videos for Efficient
//! Video Recognition" (Li, Wu, Shrivastava, Davis; ICCV 2021). A two-head selection network
//! (MobileNetV2 on every frame of the clip, features averaged over frames, §3.2 eq. 1) gives
//! m ∈ [0,1]^T (keep frame t) and n ∈ [0,1]^K (keep stage k 3D); test-time actions are greedy
//! with thresholds τ_f, τ_s; the 3D ResNet runs on the kept frames with the chosen stages.
//!
//! State-dict names: `selection.backbone.features.*` (torchvision MobileNetV2),
//! `selection.frame_head`, `selection.stage_head` (Linear), and the 3D network at the root
//! under PySlowFast's names (`s1.…`, `head.projection`), so a PySlowFast checkpoint's keys stay
//! as they are.
//!
//! Inspection mode: [`Ada3d::policies`] runs the selection network once per clip and is cached
//! by the caller; [`Ada3d::run_clip`] runs only the 3D network for given decisions, so changing
//! τ_f or τ_s never re-runs the selection network.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;
use serde::Serialize;

use super::ada3d_config::Ada3dConfig;
use super::backbones::mobilenet_v2::MobileNetV2;
use super::backbones::resnet3d::ResNet3d;
use super::flops::FlopCount;
use super::layers::area_downscale;

/// Greedy actions: indices with p ≥ τ; when none passes, the most probable one (a clip needs
/// at least one frame).
pub fn keep_at_least_one(probs: &[f32], threshold: f32) -> Vec<bool> {
    let mut keep: Vec<bool> = probs.iter().map(|&p| p >= threshold).collect();
    if !keep.iter().any(|&k| k) {
        if let Some(best) = probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
        {
            keep[best] = true;
        }
    }
    keep
}

/// The selection network's two heads on one feature vector per clip.
#[derive(Debug, Clone)]
pub struct PolicyHeads {
    frame_head: candle_nn::Linear,
    stage_head: candle_nn::Linear,
    in_f: usize,
    frames: usize,
    stages: usize,
}

impl PolicyHeads {
    pub fn new(in_f: usize, frames: usize, stages: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            frame_head: candle_nn::linear(in_f, frames, vb.pp("frame_head"))?,
            stage_head: candle_nn::linear(in_f, stages, vb.pp("stage_head"))?,
            in_f,
            frames,
            stages,
        })
    }

    /// `per_frame`: clips×T×F pooled features → (m clips×T, n clips×K) after the sigmoid,
    /// from the features averaged uniformly over the frames.
    pub fn forward(&self, per_frame: &Tensor) -> Result<(Tensor, Tensor)> {
        let agg = per_frame.mean(1)?;
        let m = candle_nn::ops::sigmoid(&self.frame_head.forward(&agg)?)?;
        let n = candle_nn::ops::sigmoid(&self.stage_head.forward(&agg)?)?;
        Ok((m, n))
    }

    pub fn macs(&self) -> u64 {
        (self.in_f * (self.frames + self.stages)) as u64
    }
}

/// What the selection network said about one clip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipPolicy {
    /// m_t per frame of the clip.
    pub frame_probs: Vec<f32>,
    /// n_k per adaptive stage.
    pub stage_probs: Vec<f32>,
}

impl ClipPolicy {
    /// Kept frame indices (into the clip) and per-stage 3D flags for thresholds τ_f, τ_s.
    pub fn decide(&self, frame_threshold: f32, stage_threshold: f32) -> (Vec<usize>, Vec<bool>) {
        let kept = keep_at_least_one(&self.frame_probs, frame_threshold)
            .iter()
            .enumerate()
            .filter(|(_, &k)| k)
            .map(|(i, _)| i)
            .collect();
        let stages = self
            .stage_probs
            .iter()
            .map(|&p| p >= stage_threshold)
            .collect();
        (kept, stages)
    }
}

/// One clip's result for given decisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipRun {
    pub kept: Vec<usize>,
    pub stages_3d: Vec<bool>,
    pub logits: Vec<f32>,
    /// Selection network (all T frames) + 3D network (kept frames, chosen stages).
    pub gflops: f64,
}

#[derive(Debug, Clone)]
struct Selection {
    net: MobileNetV2,
    heads: PolicyHeads,
}

/// The `ada3d` arch, or with no selection network the `resnet3d` arch: the bare 3D network
/// (a PySlowFast checkpoint) on every frame with every stage 3D — the paper's "Upper" baseline.
#[derive(Debug, Clone)]
pub struct Ada3d {
    pub config: Ada3dConfig,
    selection: Option<Selection>,
    backbone: ResNet3d,
}

impl Ada3d {
    pub fn new(config: Ada3dConfig, vb: VarBuilder) -> Result<Self> {
        let backbone = ResNet3d::new(
            config.backbone.clone(),
            Some(config.num_classes),
            vb.clone(),
        )?;
        let k = backbone.spec().adaptive_stages().len();
        let svb = vb.pp("selection");
        let net = MobileNetV2::new(config.selection_width_mult, None, svb.pp("backbone"))?;
        let heads = PolicyHeads::new(net.feature_dim(), config.clip_frames, k, svb)?;
        Ok(Self {
            config,
            selection: Some(Selection { net, heads }),
            backbone,
        })
    }

    /// The 3D network alone (`resnet3d` arch): every frame kept, every stage 3D.
    pub fn without_selection(config: Ada3dConfig, vb: VarBuilder) -> Result<Self> {
        let backbone = ResNet3d::new(config.backbone.clone(), Some(config.num_classes), vb)?;
        Ok(Self {
            config,
            selection: None,
            backbone,
        })
    }

    pub fn has_selection(&self) -> bool {
        self.selection.is_some()
    }

    pub fn backbone(&self) -> &ResNet3d {
        &self.backbone
    }

    /// The selection network on `clips`: C×T×3×S×S (normalised, at `input_size`).
    pub fn policies(&self, clips: &Tensor) -> Result<Vec<ClipPolicy>> {
        let (c, t, ch, h, w) = clips.dims5()?;
        let Some(sel) = &self.selection else {
            let k = self.backbone.spec().adaptive_stages().len();
            let all = ClipPolicy {
                frame_probs: vec![1.0; t],
                stage_probs: vec![1.0; k],
            };
            return Ok(vec![all; c]);
        };
        let f = self.config.selection_factor();
        let frames = clips.reshape((c * t, ch, h, w))?;
        let small = area_downscale(&frames, f)?;
        let (_, pooled) = sel.net.features_and_pooled(&small)?;
        let per_frame = pooled.reshape((c, t, pooled.dim(D::Minus1)?))?;
        let (m, n) = sel.heads.forward(&per_frame)?;
        let (m, n) = (m.to_vec2::<f32>()?, n.to_vec2::<f32>()?);
        Ok(m.into_iter()
            .zip(n)
            .map(|(frame_probs, stage_probs)| ClipPolicy {
                frame_probs,
                stage_probs,
            })
            .collect())
    }

    /// The 3D network on one clip (T×3×S×S) for the given decisions.
    pub fn run_clip(&self, clip: &Tensor, kept: &[usize], stages: &[bool]) -> Result<ClipRun> {
        let idx: Vec<u32> = kept.iter().map(|&i| i as u32).collect();
        let idx = Tensor::new(idx.as_slice(), clip.device())?;
        let frames = clip.index_select(&idx, 0)?.unsqueeze(0)?.contiguous()?;
        let logits = self.backbone.forward(&frames, stages)?;
        let logits = logits.squeeze(0)?.to_vec1::<f32>()?;
        Ok(ClipRun {
            kept: kept.to_vec(),
            stages_3d: stages.to_vec(),
            logits,
            gflops: self.flops(kept.len(), stages)?.gflops(),
        })
    }

    /// All clips with the config's thresholds: policies, then each clip's 3D network.
    pub fn forward(&self, clips: &Tensor) -> Result<(Vec<ClipPolicy>, Vec<ClipRun>)> {
        let policies = self.policies(clips)?;
        let runs = self.run_with(
            clips,
            &policies,
            self.config.frame_threshold,
            self.config.stage_threshold,
        )?;
        Ok((policies, runs))
    }

    /// The 3D network on every clip for thresholds τ_f, τ_s, with cached policies.
    pub fn run_with(
        &self,
        clips: &Tensor,
        policies: &[ClipPolicy],
        frame_threshold: f32,
        stage_threshold: f32,
    ) -> Result<Vec<ClipRun>> {
        policies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (kept, stages) = p.decide(frame_threshold, stage_threshold);
                self.run_clip(&clips.get(i)?, &kept, &stages)
            })
            .collect()
    }

    /// Multiply-adds of one clip: the selection network on all T frames plus its heads, and
    /// the 3D network on `kept` frames with the given stages.
    pub fn flops(&self, kept: usize, stages: &[bool]) -> Result<FlopCount> {
        let c = &self.config;
        let mut count = FlopCount::default();
        if let Some(sel) = &self.selection {
            let s = c.selection_size;
            let per_frame = sel.net.flops((s, s)).total;
            count.add("selection.backbone", per_frame * c.clip_frames as u64);
            count.add("selection.heads", sel.heads.macs());
        }
        let side = c.input_size;
        for (name, macs) in self.backbone.flops(kept, (side, side), stages)?.layers {
            count.add(name, macs);
        }
        Ok(count)
    }
}
