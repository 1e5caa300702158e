//! The `uni_adafocus` arch: Uni-AdaFocus (Wang et al., TPAMI 2024) / AdaFocusV3 (Wang et al.,
//! ECCV 2022) with 2D patches, as the official checkpoints define it, in evaluation mode.
//!
//! num_segments frames are sampled; the MobileNetV2 glance looks at every (T/G)-th of them
//! starting at index 1; the temporal policy weighs the glance frames and its quantiles pick
//! the focus frames; the spatial policy gives a box per glance frame, interpolated to all
//! frames; a patch is cut at its box from each focus frame and the local ResNet encodes it;
//! the pooling classifier predicts after the glance (step 0) and after every patch (step k).
//! Everything the official code keeps to itself in evaluation mode — focus indices, boxes —
//! is returned here. `state_dict` names are the official ones (`global_CNN`, `local_CNN`,
//! `spatial_policy`, `temporal_policy`, `classifier`, `global_CNN_fc.1`, `local_CNN_fc.1`).

use candle_core::{bail, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::Serialize;

use super::backbones::mobilenet_v2::{MobileNetV2, Naming};
use super::backbones::resnet::ResNet;
use super::classifier::PoolingClassifier;
use super::config::{check_frames, UniAdaFocusConfig};
use super::patch::{affine_patches, region_from_action, theta_for_region, Region};
use super::policy::spatial::{interpolate_actions, SpatialPolicy};
use super::policy::temporal::{quantile_focus, TemporalPolicy, TemporalWeights};

/// Keys of the official checkpoints that inference never reads (training-only heads and the
/// backbones' own ImageNet classifiers).
pub fn ignored_key(name: &str) -> bool {
    name.ends_with(".num_batches_tracked")
        || name.starts_with("aux_fc.")
        || name.starts_with("global_CNN.classifier.")
        || name.starts_with("local_CNN.fc.")
}

/// Which names the glance MobileNetV2 was saved under.
pub fn glance_naming(has: impl Fn(&str) -> bool) -> Naming {
    if has("global_CNN.features.1.conv.0.0.weight") {
        Naming::Torchvision
    } else {
        Naming::AdaFocus
    }
}

#[derive(Debug, Clone)]
pub struct UniAdaFocus {
    pub config: UniAdaFocusConfig,
    glance: MobileNetV2,
    glance_fc: Linear,
    local: ResNet,
    local_fc: Linear,
    spatial: SpatialPolicy,
    temporal: TemporalPolicy,
    classifier: PoolingClassifier,
}

/// Everything one forward pass decided and predicted, for one video.
#[derive(Debug, Clone, Serialize)]
pub struct UniAdaFocusOutput {
    /// Indices into the sampled frames.
    pub glance_indices: Vec<usize>,
    #[serde(skip)]
    pub glance_pooled: Tensor,
    /// `global_CNN_fc` logits of each glance frame on its own.
    pub glance_logits: Vec<Vec<f32>>,
    pub temporal: TemporalWeights,
    /// (y, x, scale_y, scale_x) per glance frame, then interpolated to every sampled frame.
    pub actions: Vec<[f32; 4]>,
    pub actions_all: Vec<[f32; 4]>,
    /// Quantile positions in [0, 1] and the focus frames (indices into the sampled frames), in
    /// focus order.
    pub focus_positions: Vec<f32>,
    pub focus_indices: Vec<usize>,
    /// The box of each patch, model-input pixels, and its `affine_grid` matrix.
    pub regions: Vec<Region>,
    pub theta: Vec<[[f32; 3]; 2]>,
    #[serde(skip)]
    pub local_pooled: Tensor,
    /// `local_CNN_fc` logits of each patch on its own.
    pub patch_logits: Vec<Vec<f32>>,
    /// Every head of the pooling classifier: G glance heads, then N local heads.
    pub head_logits: Vec<Vec<f32>>,
    /// The prediction after each step: step 0 = the last glance head, step k = local head k.
    pub step_logits: Vec<Vec<f32>>,
}

impl UniAdaFocus {
    /// `vb` is the checkpoint's root; `naming` the glance network's key layout.
    pub fn new(config: UniAdaFocusConfig, naming: Naming, vb: VarBuilder) -> Result<Self> {
        let c = &config;
        if let Err(e) = c.validate() {
            bail!("config: {e}")
        }
        let glance =
            MobileNetV2::with_naming(c.glance_width_mult, None, naming, vb.pp("global_CNN"))?;
        let gdim = glance.feature_dim();
        let local = ResNet::new(
            c.local_block,
            c.local_layers,
            c.local_width_mult,
            None,
            vb.pp("local_CNN"),
        )?;
        let ldim = local.feature_dim();
        Ok(Self {
            glance_fc: candle_nn::linear(gdim, c.num_classes, vb.pp("global_CNN_fc.1"))?,
            local_fc: candle_nn::linear(ldim, c.num_classes, vb.pp("local_CNN_fc.1"))?,
            spatial: SpatialPolicy::new(
                gdim,
                c.spatial_hidden,
                c.glance_map_side(),
                vb.pp("spatial_policy"),
            )?,
            temporal: TemporalPolicy::new(
                gdim,
                c.temporal_hidden,
                c.temperature,
                vb.pp("temporal_policy"),
            )?,
            classifier: PoolingClassifier::new(
                gdim,
                ldim,
                c.mlp_hidden,
                c.num_glance_segments,
                c.num_focus_segments,
                c.num_classes,
                vb.pp("classifier"),
            )?,
            glance,
            local,
            config,
        })
    }

    /// frames: T×3×S×S, normalised, on the model's device (T = num_segments, S = input_size).
    pub fn forward(&self, frames: &Tensor) -> Result<UniAdaFocusOutput> {
        self.forward_with_boxes(frames, None)
    }

    /// As [`forward`](Self::forward), with the patch boxes given instead of taken from the
    /// spatial policy (one per focus frame): to try other boxes, or to compare the local branch
    /// with another implementation on identical boxes.
    pub fn forward_with_boxes(
        &self,
        frames: &Tensor,
        boxes: Option<&[Region]>,
    ) -> Result<UniAdaFocusOutput> {
        let c = &self.config;
        check_frames(frames, c.num_segments, c.input_size)?;
        let (t, h, w) = (c.num_segments, c.input_size, c.input_size);
        let dev = frames.device();
        let glance_indices = c.glance_indices();
        let gi: Vec<u32> = glance_indices.iter().map(|&i| i as u32).collect();
        let glance_frames = frames.index_select(&Tensor::new(gi.as_slice(), dev)?, 0)?;
        let (maps, glance_pooled) = self.glance.features_and_pooled(&glance_frames)?;
        let glance_logits = self.glance_fc.forward(&glance_pooled)?.to_vec2()?;

        let temporal = self.temporal.forward(&glance_pooled)?;
        let actions = self.spatial.actions(&maps)?;
        let actions_all = interpolate_actions(&actions, t);
        let (focus_positions, focus_indices) =
            quantile_focus(&temporal.weights_t, t, c.num_focus_segments);

        let policy_regions = focus_indices.iter().map(|&i| {
            region_from_action(
                actions_all[i],
                (h, w),
                c.patch_size,
                c.patch_min_side,
                c.patch_max_side,
            )
        });
        let regions: Vec<Region> = match boxes {
            Some(b) if b.len() == focus_indices.len() => b.to_vec(),
            Some(b) => bail!(
                "{} boxes given for {} focus frames",
                b.len(),
                focus_indices.len()
            ),
            None => policy_regions.collect(),
        };
        let theta: Vec<[[f32; 3]; 2]> = regions
            .iter()
            .map(|&r| theta_for_region(r, (h, w)))
            .collect();
        let n = focus_indices.len();
        let fi: Vec<u32> = focus_indices.iter().map(|&i| i as u32).collect();
        let focus_frames = frames.index_select(&Tensor::new(fi.as_slice(), dev)?, 0)?;
        let flat: Vec<f32> = theta.iter().flatten().flatten().copied().collect();
        let theta_t = Tensor::from_vec(flat, (n, 2, 3), dev)?;
        let patches = affine_patches(&focus_frames, &theta_t, (c.patch_size, c.patch_size))?;
        let (_, local_pooled) = self.local.features_and_pooled(&patches)?;
        let patch_logits = self.local_fc.forward(&local_pooled)?.to_vec2()?;

        let head_logits: Vec<Vec<f32>> = self
            .classifier
            .forward(&glance_pooled, &local_pooled)?
            .to_vec2()?;
        let g = glance_indices.len();
        let step_logits = head_logits[g - 1..].to_vec();
        Ok(UniAdaFocusOutput {
            glance_indices,
            glance_pooled,
            glance_logits,
            temporal,
            actions,
            actions_all,
            focus_positions,
            focus_indices,
            regions,
            theta,
            local_pooled,
            patch_logits,
            head_logits,
            step_logits,
        })
    }

    /// The temporal policy alone (to check it on given glance features).
    pub fn temporal_policy(&self) -> &TemporalPolicy {
        &self.temporal
    }

    /// FLOPs of each part, from the layers built (docs/ARCHITECTURE.md §5).
    pub fn flops(&self) -> UniAdaFocusFlops {
        let c = &self.config;
        let g = c.num_glance_segments;
        let s = c.input_size;
        UniAdaFocusFlops {
            glance_frames: g,
            glance_per_frame: self.glance.flops((s, s)).total,
            local_per_patch: self.local.flops((c.patch_size, c.patch_size)).total,
            spatial_policy: self.spatial.macs(g, c.glance_map_side()),
            temporal_policy: self.temporal.macs(g),
            classifier_per_glance: self.classifier.macs_per_glance(),
            classifier_per_patch: self.classifier.macs_per_patch(),
            max_patches: c.num_focus_segments,
        }
    }
}

/// The FLOPs of one video, by part (multiply-adds; see [`UniAdaFocusFlops::step_total`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UniAdaFocusFlops {
    pub glance_frames: usize,
    pub glance_per_frame: u64,
    pub local_per_patch: u64,
    pub spatial_policy: u64,
    pub temporal_policy: u64,
    pub classifier_per_glance: u64,
    pub classifier_per_patch: u64,
    pub max_patches: usize,
}

impl UniAdaFocusFlops {
    /// Total after `k` focus patches, the official `get_flops` convention: the glance and its
    /// classifier part always, the policies once any patch is taken, then per patch the local
    /// network and its classifier part.
    pub fn step_total(&self, k: usize) -> u64 {
        let g = self.glance_frames as u64;
        let k64 = k as u64;
        let policies = if k > 0 {
            self.spatial_policy + self.temporal_policy
        } else {
            0
        };
        g * (self.glance_per_frame + self.classifier_per_glance)
            + policies
            + k64 * (self.local_per_patch + self.classifier_per_patch)
    }

    /// Cumulative GFLOPs after each step 0..=max_patches.
    pub fn step_gflops(&self) -> Vec<f64> {
        (0..=self.max_patches)
            .map(|k| self.step_total(k) as f64 / 1e9)
            .collect()
    }
}
