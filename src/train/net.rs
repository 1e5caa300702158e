//! The whole `ada3d_focus` model in trainable form, batched over videos: the glance and its
//! policies, the local network on the cubes of given decisions, and the pooling classifier.
//! The decisions themselves (kept frames, 3D stages, cube plans) come from the trainer, so
//! the same forward pass serves random policies (stage 1), sampled ones (stages 2–3) and the
//! AdaFocusV3 deep-feature interpolation that carries the cube gradient (stage 2).

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::backbones::{MobileNetV2, ResNet3d};
use super::heads::{temporal_policy_params, PolicyHeads, PoolingClassifier, SpatialPolicy};
use super::layers::Mode;
use crate::model::ada3d_config::Ada3dFocusConfig;
use crate::model::ada3d_focus::Plan;
use crate::model::backbones::resnet3d::pool_clips;
use crate::model::layers::area_downscale;
use crate::model::patch::{affine_patches, theta_for_region, Region};

/// What the glance produced for a batch of B videos.
pub struct GlanceOut {
    /// B×T×F pooled glance features.
    pub pooled: Tensor,
    /// (B·T)×C×M×M glance feature maps the spatial policy reads (`features.{spatial_tap}`).
    pub maps: Tensor,
    /// B×T keep probabilities m and B×K 3D probabilities n.
    pub m: Tensor,
    pub n: Tensor,
}

/// How the cubes reach the local network.
pub enum Focus<'a> {
    /// Cut each cube at its size (the test-time path); no gradient to the cube policy.
    Crop,
    /// AdaFocusV3 eq. 5–6: also cut each cube larger by one feature cell (no gradient), and
    /// interpolate its feature map at offsets `a − stopgrad(a)`, so the loss reaches the
    /// spatial policy's actions (B×T×4) through the deep features. The features' value stays
    /// the test-time crop's: only their gradient is the interpolation's.
    Interpolate { actions: &'a Tensor },
}

pub struct TrainNet {
    pub config: Ada3dFocusConfig,
    glance: MobileNetV2,
    heads: PolicyHeads,
    spatial: SpatialPolicy,
    local: ResNet3d,
    classifier: PoolingClassifier,
}

impl TrainNet {
    /// Creates every parameter of the checkpoint in `map` (values from [`super::init`]).
    pub fn new(config: Ada3dFocusConfig, map: &VarMap, device: &Device) -> Result<Self> {
        if let Err(e) = config.validate() {
            candle_core::bail!("config: {e}")
        }
        let vb = VarBuilder::from_varmap(map, DType::F32, device);
        let c = &config;
        let glance = MobileNetV2::new(c.glance_width_mult, vb.pp("global_CNN"), map)?;
        let gdim = glance.feature_dim();
        let k = c.local.adaptive_stages().len();
        let (policy_channels, policy_side) = c.spatial_map();
        temporal_policy_params(gdim, c.temporal_hidden, vb.pp("temporal_policy"), map)?;
        Ok(Self {
            heads: PolicyHeads::new(gdim, c.num_segments, k, vb.pp("selection"))?,
            spatial: SpatialPolicy::new(
                policy_channels,
                c.spatial_hidden,
                policy_side,
                vb.pp("spatial_policy"),
                map,
            )?,
            local: ResNet3d::new(c.local.clone(), vb.pp("local_CNN"), map)?,
            classifier: PoolingClassifier::new(
                gdim,
                c.local.feature_dim(),
                c.mlp_hidden,
                c.num_segments,
                c.num_cubes,
                c.num_classes,
                vb.pp("classifier"),
                map,
            )?,
            glance,
            config,
        })
    }

    /// The glance on frames (B·T)×3×S×S (normalised, at `input_size`).
    pub fn glance(&self, frames: &Tensor, mode: Mode) -> Result<GlanceOut> {
        let t = self.config.num_segments;
        let b = frames.dim(0)? / t;
        let small = area_downscale(frames, self.config.glance_factor())?;
        let (pooled, maps) = self
            .glance
            .pooled_and_tap(&small, self.config.spatial_tap(), mode)?;
        // A glance in eval mode is frozen: nothing upstream of its outputs trains.
        let (maps, pooled) = match mode {
            Mode::Eval => (maps.detach(), pooled.detach()),
            Mode::Train => (maps, pooled),
        };
        let pooled = pooled.reshape((b, t, ()))?;
        let (m, n) = self.heads.forward(&pooled)?;
        Ok(GlanceOut { pooled, maps, m, n })
    }

    /// The spatial policy's actions B×T×4 from the glance maps (the policy learns from the
    /// glance features; it does not train the glance).
    pub fn actions(&self, glance: &GlanceOut, mode: Mode) -> Result<Tensor> {
        let b = glance.pooled.dim(0)?;
        self.spatial.forward(&glance.maps.detach(), b, mode)
    }

    /// Pooled local features B×N×D of each video's cubes (`plans[i]`, frames cut from
    /// `frames`), with the 3D stages of `flags` (B×K, 0/1). A video with fewer than N cubes
    /// gets zero rows for the missing ones (the caller masks their steps).
    pub fn local(
        &self,
        frames: &Tensor,
        plans: &[Plan],
        flags: &Tensor,
        focus: Focus,
        mode: Mode,
    ) -> Result<Tensor> {
        let c = &self.config;
        let n = c.num_cubes;
        let dev = frames.device();
        let frames = frames.detach();
        let d = c.local.feature_dim();
        // Cubes grouped by how many frames they span (the 3D network needs one T' per call).
        let mut spans: Vec<usize> = plans
            .iter()
            .flat_map(|p| p.cubes.iter().map(|q| q.frames.len()))
            .collect();
        spans.sort_unstable();
        spans.dedup();
        let mut outputs = Vec::new();
        let mut slot = vec![usize::MAX; plans.len() * n];
        let mut next = 0usize;
        for span in spans {
            let members: Vec<(usize, usize)> = plans
                .iter()
                .enumerate()
                .flat_map(|(i, p)| {
                    p.cubes
                        .iter()
                        .enumerate()
                        .filter(move |(_, q)| q.frames.len() == span)
                        .map(move |(k, _)| (i, k))
                })
                .collect();
            for &(i, k) in &members {
                slot[i * n + k] = next;
                next += 1;
            }
            outputs.push(self.cube_group(&frames, plans, &members, flags, &focus, mode)?);
        }
        let zero = Tensor::zeros((1, d), DType::F32, dev)?;
        let all = Tensor::cat(&[outputs, vec![zero]].concat(), 0)?;
        let idx: Vec<u32> = slot
            .iter()
            .map(|&s| if s == usize::MAX { next } else { s } as u32)
            .collect();
        all.index_select(&Tensor::new(idx.as_slice(), dev)?, 0)?
            .reshape((plans.len(), n, d))
    }

    /// One group of cubes with the same span → pooled features, one row per cube.
    fn cube_group(
        &self,
        frames: &Tensor,
        plans: &[Plan],
        members: &[(usize, usize)],
        flags: &Tensor,
        focus: &Focus,
        mode: Mode,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (t, s, p) = (c.num_segments, c.input_size, c.cube_size);
        let dev = frames.device();
        let rows: Vec<u32> = members.iter().map(|&(i, _)| i as u32).collect();
        let group_flags = flags.index_select(&Tensor::new(rows.as_slice(), dev)?, 0)?;
        let crop = self.cube_clips(frames, plans, members, 0)?;
        let (maps, tf) = self.local.forward_features(&crop, &group_flags, mode)?;
        let maps = match focus {
            Focus::Crop => maps,
            Focus::Interpolate { actions } => {
                let grow = enlarged_side(p) - p;
                let wide = self.cube_clips(frames, plans, members, grow)?;
                let (wide, _) = self.local.forward_features(&wide, &group_flags, mode)?;
                let centres: Vec<u32> = members
                    .iter()
                    .map(|&(i, k)| (i * t + plans[i].cubes[k].centre) as u32)
                    .collect();
                let a = actions
                    .reshape((actions.dim(0)? * t, 4))?
                    .index_select(&Tensor::new(centres.as_slice(), dev)?, 0)?;
                // d(box centre)/d(action) = input − cube side, in pixels; one feature cell
                // is `grow` pixels.
                let scale = (s - p) as f64 / grow as f64;
                let offset = |col: usize| -> Result<Tensor> {
                    let v = a.narrow(1, col, 1)?;
                    let d = ((&v - v.detach())? * scale)?;
                    d.reshape((members.len(), 1))?
                        .broadcast_as((members.len(), tf))?
                        .reshape((members.len() * tf, 1, 1, 1))
                };
                let moved = interpolate_centre(&wide, &offset(0)?, &offset(1)?)?;
                // The value the classifier sees is the test-time crop's; only the gradient
                // comes from the interpolation. (The interpolated map itself averages a
                // cube one feature cell larger, 65 instead of 40 pixels here: trained on
                // it, the policies learned for a view the test never gives them.)
                (maps.detach() + (&moved - moved.detach())?)?
            }
        };
        pool_clips(&maps, members.len(), tf)
    }

    /// The span×3×side×side clips of a group's cubes, each grown by `grow` pixels.
    fn cube_clips(
        &self,
        frames: &Tensor,
        plans: &[Plan],
        members: &[(usize, usize)],
        grow: usize,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (t, s) = (c.num_segments, c.input_size);
        let side = c.cube_size + grow;
        let dev = frames.device();
        let mut idx = Vec::new();
        let mut theta = Vec::new();
        for &(i, k) in members {
            let cube = &plans[i].cubes[k];
            let r = cube.region;
            let half = grow as f32 / 2.0;
            let r = Region {
                x1: r.x1 - half,
                y1: r.y1 - half,
                x2: r.x2 + half,
                y2: r.y2 + half,
            };
            for &f in &cube.frames {
                idx.push((i * t + f) as u32);
                theta.extend(theta_for_region(r, (s, s)).into_iter().flatten());
            }
        }
        let span = plans[members[0].0].cubes[members[0].1].frames.len();
        let picked = frames.index_select(&Tensor::new(idx.as_slice(), dev)?, 0)?;
        let theta = Tensor::from_vec(theta, (idx.len(), 2, 3), dev)?;
        let patches = affine_patches(&picked, &theta, (side, side))?;
        patches.reshape((members.len(), span, 3, side, side))
    }

    /// Logits of every glance head (B×classes after frames 1..T) and every cube step.
    pub fn classify(
        &self,
        pooled: &Tensor,
        local: &Tensor,
        mode: Mode,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        self.classifier.forward(pooled, local, mode)
    }
}

/// The side of a cube whose local feature map is one cell larger than a `side` cube's.
pub fn enlarged_side(side: usize) -> usize {
    let target = ResNet3d::map_side(side) + 1;
    (side..4 * side + 64)
        .find(|&s| ResNet3d::map_side(s) == target)
        .unwrap_or(side + 32)
}

/// Bilinear samples of `e` ((n)×C×(S+1)×(S+1)) at the S×S cell centres of its middle, moved
/// by (dy, dx) cells ((n)×1×1×1 each, zero in value): AdaFocusV3 eq. 5 without the temporal
/// axis.
pub fn interpolate_centre(e: &Tensor, dy: &Tensor, dx: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = e.dims4()?;
    let (sh, sw) = (h - 1, w - 1);
    let win = |y: usize, x: usize| e.narrow(2, y, sh)?.narrow(3, x, sw);
    let fy = (dy + 0.5)?;
    let fx = (dx + 0.5)?;
    let (gy, gx) = ((1.0 - &fy)?, (1.0 - &fx)?);
    let top = (win(0, 0)?.broadcast_mul(&gx)? + win(0, 1)?.broadcast_mul(&fx)?)?;
    let bottom = (win(1, 0)?.broadcast_mul(&gx)? + win(1, 1)?.broadcast_mul(&fx)?)?;
    top.broadcast_mul(&gy)? + bottom.broadcast_mul(&fy)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enlarged_cube_has_one_more_feature_cell() {
        // The demo's 40² cubes: a 2×2 map; the smallest cube with a 3×3 one is 65².
        assert_eq!(ResNet3d::map_side(40), 2);
        assert_eq!(enlarged_side(40), 65);
        assert_eq!(ResNet3d::map_side(65), 3);
        assert_eq!(ResNet3d::map_side(64), 2);
    }
}
