//! 3D ResNet (bottleneck) with PySlowFast's structure and state_dict names: the SlowOnly-R50 and
//! I3D-R50 of "SlowFast Networks for Video Recognition" (Feichtenhofer et al., ICCV 2019), with
//! the adaptive 3D stages of "Ada3D: Exploiting the Spatio-Temporal Redundancy in Videos for
//! Efficient Video Recognition" (Li et al., ICCV 2021) §3.2: a stage switched to 2D uses the
//! centre temporal slice of each of its kernels, and the clip holds only the frames kept.
//!
//! Names: `s1.pathway0_stem.{conv,bn}`, `s{2..5}.pathway0_res{j}.branch1`/`branch1_bn` (when the
//! shape changes), `.branch2.{a,a_bn,b,b_bn,c,c_bn}`, `head.projection`. Blocks are PySlowFast's
//! `BottleneckTransform` with `stride_1x1 = False`: a = [kt,1,1] (kt from the stage's temporal
//! kernel list, cycled over its blocks), b = [1,3,3] with the spatial stride, c = [1,1,1].

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::model::flops::{conv_out, FlopCount};
use crate::model::layers::{classify, Act};
use crate::model::layers3d::Conv3dBn;

/// Which PySlowFast model the temporal kernels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Stem 1×7×7; temporal kernel 3 in conv a of every block of res4 and res5, 1 elsewhere.
    SlowOnly,
    /// Stem 5×7×7; PySlowFast's i3d basis: res2 [3], res3 [3,1], res4 [3,1], res5 [1,3] cycled
    /// over the blocks; a 2×1×1 temporal max pool after res2.
    I3d,
}

/// The shape of a 3D ResNet: a preset plus the sizes a small model changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNet3dSpec {
    pub preset: Preset,
    /// Stem channels (64 for ResNet-50); stage i has `width·2^i` inner and 4× that out channels.
    #[serde(default = "d::width")]
    pub width: usize,
    #[serde(default = "d::layers")]
    pub layers: [usize; 4],
}

mod d {
    pub fn width() -> usize {
        64
    }
    pub fn layers() -> [usize; 4] {
        [3, 4, 6, 3]
    }
}

impl ResNet3dSpec {
    pub fn r50(preset: Preset) -> Self {
        Self {
            preset,
            width: d::width(),
            layers: d::layers(),
        }
    }

    pub fn stem_temporal(&self) -> usize {
        match self.preset {
            Preset::SlowOnly => 1,
            Preset::I3d => 5,
        }
    }

    /// Temporal kernel of conv a in block `j` of res stage `s` (0 = res2).
    pub fn block_temporal(&self, s: usize, j: usize) -> usize {
        let basis: &[usize] = match (self.preset, s) {
            (Preset::SlowOnly, 0 | 1) => &[1],
            (Preset::SlowOnly, _) => &[3],
            (Preset::I3d, 0) => &[3],
            (Preset::I3d, 1 | 2) => &[3, 1],
            (Preset::I3d, _) => &[1, 3],
        };
        basis[j % basis.len()]
    }

    /// PySlowFast's temporal pool after res2 (kernel = stride).
    pub fn pool1_temporal(&self) -> usize {
        match self.preset {
            Preset::SlowOnly => 1,
            Preset::I3d => 2,
        }
    }

    /// The stages with a temporal kernel > 1 (0 = the stem s1, 1..=4 = res2..res5): Ada3D's K
    /// adaptive stages, in order (2 for SlowOnly, 5 for I3D).
    pub fn adaptive_stages(&self) -> Vec<usize> {
        let mut out = Vec::new();
        if self.stem_temporal() > 1 {
            out.push(0);
        }
        for s in 0..4 {
            if (0..self.layers[s]).any(|j| self.block_temporal(s, j) > 1) {
                out.push(s + 1);
            }
        }
        out
    }

    pub fn feature_dim(&self) -> usize {
        self.width * 8 * 4
    }

    pub fn validate(&self) -> std::result::Result<(), crate::model::config::ConfigError> {
        use crate::model::config::{check_at_most, limits};
        check_at_most("width", self.width, limits::RESNET_WIDTH)?;
        for v in self.layers {
            check_at_most("layers", v, limits::BLOCKS)?;
        }
        if self.width == 0 || self.layers.contains(&0) {
            return Err(crate::model::config::ConfigError::new(
                "layers",
                format!(
                    "3D ResNet width {} and layers {:?} must be positive",
                    self.width, self.layers
                ),
            ));
        }
        Ok(())
    }
}

/// PySlowFast's `ResBlock` around a `BottleneckTransform`.
#[derive(Debug, Clone)]
struct Block3d {
    a: Conv3dBn,
    b: Conv3dBn,
    c: Conv3dBn,
    branch1: Option<Conv3dBn>,
}

impl Block3d {
    fn new(dims: (usize, usize, usize), kt: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let (dim_in, inner, dim_out) = dims;
        let t = vb.pp("branch2");
        let branch1 = if dim_in != dim_out || stride != 1 {
            Some(Conv3dBn::new(
                dim_in,
                dim_out,
                (1, 1),
                stride,
                Act::None,
                vb.pp("branch1"),
                vb.pp("branch1_bn"),
            )?)
        } else {
            None
        };
        Ok(Self {
            a: Conv3dBn::new(
                dim_in,
                inner,
                (kt, 1),
                1,
                Act::Relu,
                t.pp("a"),
                t.pp("a_bn"),
            )?,
            b: Conv3dBn::new(
                inner,
                inner,
                (1, 3),
                stride,
                Act::Relu,
                t.pp("b"),
                t.pp("b_bn"),
            )?,
            // The ReLU after the skip addition rides on c: relu(c(y) + skip).
            c: Conv3dBn::new(
                inner,
                dim_out,
                (1, 1),
                1,
                Act::Relu,
                t.pp("c"),
                t.pp("c_bn"),
            )?,
            branch1,
        })
    }

    fn forward(&self, x: &Tensor, clips: usize, full3d: bool) -> Result<Tensor> {
        let skip = match &self.branch1 {
            Some(b) => b.forward(x, clips, full3d, None)?,
            None => x.clone(),
        };
        let y = self.a.forward(x, clips, full3d, None)?;
        let y = self.b.forward(&y, clips, full3d, None)?;
        self.c.forward(&y, clips, full3d, Some(&skip))
    }

    fn flops(
        &self,
        name: &str,
        t: usize,
        hw: (usize, usize),
        full3d: bool,
        count: &mut FlopCount,
    ) -> (usize, usize) {
        if let Some(b) = &self.branch1 {
            count.add(format!("{name}.branch1"), b.macs(t, hw, full3d).0);
        }
        let mut hw = hw;
        for (part, conv) in [("a", &self.a), ("b", &self.b), ("c", &self.c)] {
            let (macs, out) = conv.macs(t, hw, full3d);
            count.add(format!("{name}.branch2.{part}"), macs);
            hw = out;
        }
        hw
    }
}

/// A 3D ResNet on frame-major clips; `full3d[s]` says whether stage s (0 = stem, 1..=4 =
/// res2..res5) runs 3D. Stages without temporal kernels are the same either way.
#[derive(Debug, Clone)]
pub struct ResNet3d {
    spec: ResNet3dSpec,
    stem: Conv3dBn,
    stages: Vec<Vec<Block3d>>,
    head: Option<candle_nn::Linear>,
}

impl ResNet3d {
    /// `vb` at the network's root (`s1`, …, `head`); `num_classes` builds `head.projection`.
    pub fn new(spec: ResNet3dSpec, num_classes: Option<usize>, vb: VarBuilder) -> Result<Self> {
        let w = spec.width;
        let stem = Conv3dBn::new(
            3,
            w,
            (spec.stem_temporal(), 7),
            2,
            Act::Relu,
            vb.pp("s1.pathway0_stem.conv"),
            vb.pp("s1.pathway0_stem.bn"),
        )?;
        let mut stages = Vec::new();
        let mut dim_in = w;
        for s in 0..4 {
            let inner = w << s;
            let dim_out = inner * 4;
            let mut blocks = Vec::new();
            for j in 0..spec.layers[s] {
                let stride = if j == 0 && s > 0 { 2 } else { 1 };
                let bvb = vb.pp(format!("s{}.pathway0_res{j}", s + 2));
                let kt = spec.block_temporal(s, j);
                blocks.push(Block3d::new((dim_in, inner, dim_out), kt, stride, bvb)?);
                dim_in = dim_out;
            }
            stages.push(blocks);
        }
        let head = num_classes
            .map(|n| candle_nn::linear(dim_in, n, vb.pp("head.projection")))
            .transpose()?;
        Ok(Self {
            spec,
            stem,
            stages,
            head,
        })
    }

    pub fn spec(&self) -> &ResNet3dSpec {
        &self.spec
    }

    /// Per-stage 3D flags (stem, res2..res5) from the K adaptive-stage decisions.
    pub fn stage_flags(&self, adaptive: &[bool]) -> Result<[bool; 5]> {
        let stages = self.spec.adaptive_stages();
        if adaptive.len() != stages.len() {
            candle_core::bail!(
                "{} stage decisions for a network with {} adaptive stages",
                adaptive.len(),
                stages.len()
            );
        }
        let mut flags = [true; 5];
        for (&s, &on) in stages.iter().zip(adaptive) {
            flags[s] = on;
        }
        Ok(flags)
    }

    /// Frames per clip after the temporal pool (a clip shorter than the pool passes unchanged:
    /// Ada3D may keep a single frame).
    fn pooled_frames(&self, t: usize) -> usize {
        pooled_frames(t, self.spec.pool1_temporal())
    }

    /// `frames`: clips×T×3×H×W (the kept frames of each clip, in order) → the last feature map
    /// frame-major, (clips·T')×C×h×w, and T'.
    pub fn forward_features(&self, frames: &Tensor, adaptive: &[bool]) -> Result<(Tensor, usize)> {
        let (clips, t, c, h, w) = frames.dims5()?;
        let flags = self.stage_flags(adaptive)?;
        let x = frames.reshape((clips * t, c, h, w))?;
        let y = self.stem.forward(&x, clips, flags[0], None)?;
        // 1×3×3 max pool, stride 1×2×2, padding 0×1×1 (zero padding never wins after a ReLU).
        let mut y = y
            .pad_with_zeros(3, 1, 1)?
            .pad_with_zeros(2, 1, 1)?
            .max_pool2d_with_stride(3, 2)?;
        let mut t = t;
        for (s, stage) in self.stages.iter().enumerate() {
            for b in stage {
                y = b.forward(&y, clips, flags[s + 1])?;
            }
            if s == 0 {
                (y, t) = self.temporal_pool(&y, clips, t)?;
            }
        }
        Ok((y, t))
    }

    fn temporal_pool(&self, y: &Tensor, clips: usize, t: usize) -> Result<(Tensor, usize)> {
        temporal_max_pool(y, clips, t, self.spec.pool1_temporal())
    }

    /// Feature map (frame-major) and its average over frames and space, clips×C.
    pub fn features_and_pooled(
        &self,
        frames: &Tensor,
        adaptive: &[bool],
    ) -> Result<(Tensor, Tensor)> {
        let clips = frames.dim(0)?;
        let (f, t) = self.forward_features(frames, adaptive)?;
        let pooled = pool_clips(&f, clips, t)?;
        Ok((f, pooled))
    }

    /// Logits (the head's input to its softmax), clips×classes; the pooled vector when the
    /// network has no head.
    pub fn forward(&self, frames: &Tensor, adaptive: &[bool]) -> Result<Tensor> {
        let (_, pooled) = self.features_and_pooled(frames, adaptive)?;
        classify(pooled, self.head.as_ref())
    }

    /// Multiply-adds for one clip of `t` frames of `h × w` (head included when present).
    pub fn flops(&self, t: usize, hw: (usize, usize), adaptive: &[bool]) -> Result<FlopCount> {
        let flags = self.stage_flags(adaptive)?;
        let mut count = FlopCount::default();
        let (macs, (h, w)) = self.stem.macs(t, hw, flags[0]);
        count.add("s1.pathway0_stem", macs);
        let mut hw = (conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1));
        let mut t = t;
        for (s, stage) in self.stages.iter().enumerate() {
            for (j, b) in stage.iter().enumerate() {
                let name = format!("s{}.pathway0_res{j}", s + 2);
                hw = b.flops(&name, t, hw, flags[s + 1], &mut count);
            }
            if s == 0 {
                t = self.pooled_frames(t);
            }
        }
        if let Some(h) = &self.head {
            let (out, inp) = h.weight().dims2()?;
            count.add("head.projection", (out * inp) as u64);
        }
        Ok(count)
    }
}

/// Frames per clip after a temporal pool of `p` (a clip shorter than the pool passes
/// unchanged: Ada3D may keep a single frame).
pub fn pooled_frames(t: usize, p: usize) -> usize {
    if t >= p {
        t / p
    } else {
        t
    }
}

/// The temporal max pool after res2 (I3D: 2 frames → 1) on frame-major activations
/// (clips·t)×…; returns them and the new t.
pub fn temporal_max_pool(y: &Tensor, clips: usize, t: usize, p: usize) -> Result<(Tensor, usize)> {
    let out = pooled_frames(t, p);
    if out == t {
        return Ok((y.clone(), t));
    }
    let dims = y.dims().to_vec();
    let rest: usize = dims[1..].iter().product();
    let pooled = y
        .reshape((clips, t, rest))?
        .narrow(1, 0, out * p)?
        .reshape((clips, out, p, rest))?
        .max(2)?;
    let mut shape = dims;
    shape[0] = clips * out;
    Ok((pooled.reshape(shape)?, out))
}

/// The average over frames and space of a frame-major feature map (clips·t)×C×h×w → clips×C.
pub fn pool_clips(f: &Tensor, clips: usize, t: usize) -> Result<Tensor> {
    let (_, c, h, w) = f.dims4()?;
    f.reshape((clips, t, c, h * w))?
        .permute((0, 2, 1, 3))?
        .reshape((clips, c, t * h * w))?
        .mean(2)
}
