//! The two backbones of `ada3d_focus` in trainable form: MobileNetV2 (the glance; torchvision
//! names, see `model::backbones::mobilenet_v2`) and the PySlowFast-named 3D ResNet (the local
//! network, see `model::backbones::resnet3d`). Same structure and names as the inference
//! networks; BatchNorm unfolded, per-clip 3D flags instead of one flag per call.

use candle_core::{Result, Tensor, D};
use candle_nn::{VarBuilder, VarMap};

use super::layers::{max_pool_3s2, Conv3dBn, ConvBn, Mode};
use crate::model::backbones::mobilenet_v2::{make_divisible, SETTING};
use crate::model::backbones::resnet3d::{temporal_max_pool, ResNet3dSpec};
use crate::model::layers::Act;

#[derive(Debug, Clone)]
struct InvertedResidual {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    residual: bool,
}

impl InvertedResidual {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let y = match &self.expand {
            Some(e) => e.forward(x, mode)?,
            None => x.clone(),
        };
        let y = self.depthwise.forward(&y, mode)?;
        if self.residual {
            self.project.forward_residual(&y, x, mode)
        } else {
            self.project.forward(&y, mode)
        }
    }
}

/// MobileNetV2 without its classifier (torchvision names under `features`).
#[derive(Debug, Clone)]
pub struct MobileNetV2 {
    stem: ConvBn,
    blocks: Vec<InvertedResidual>,
    head: ConvBn,
    dim: usize,
}

impl MobileNetV2 {
    pub fn new(width_mult: f64, vb: VarBuilder, map: &VarMap) -> Result<Self> {
        let f = vb.pp("features");
        let mut inp = make_divisible(32.0 * width_mult, 8);
        let last = make_divisible(1280.0 * width_mult.max(1.0), 8);
        let stem = ConvBn::new(3, inp, 3, 2, 1, Act::Relu6, f.pp("0.0"), f.pp("0.1"), map)?;
        let mut blocks = Vec::new();
        for (t, c, n, s) in SETTING {
            let oup = make_divisible(c as f64 * width_mult, 8);
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                let c = f.pp(blocks.len() + 1).pp("conv");
                let hidden = inp * t;
                let (expand, names) = if t != 1 {
                    let e = ConvBn::new(
                        inp,
                        hidden,
                        1,
                        1,
                        1,
                        Act::Relu6,
                        c.pp("0.0"),
                        c.pp("0.1"),
                        map,
                    )?;
                    (Some(e), [("1.0", "1.1"), ("2", "3")])
                } else {
                    (None, [("0.0", "0.1"), ("1", "2")])
                };
                let depthwise = ConvBn::new(
                    hidden,
                    hidden,
                    3,
                    stride,
                    hidden,
                    Act::Relu6,
                    c.pp(names[0].0),
                    c.pp(names[0].1),
                    map,
                )?;
                let project = ConvBn::new(
                    hidden,
                    oup,
                    1,
                    1,
                    1,
                    Act::None,
                    c.pp(names[1].0),
                    c.pp(names[1].1),
                    map,
                )?;
                blocks.push(InvertedResidual {
                    expand,
                    depthwise,
                    project,
                    residual: stride == 1 && inp == oup,
                });
                inp = oup;
            }
        }
        let idx = blocks.len() + 1;
        let head = ConvBn::new(
            inp,
            last,
            1,
            1,
            1,
            Act::Relu6,
            f.pp(format!("{idx}.0")),
            f.pp(format!("{idx}.1")),
            map,
        )?;
        Ok(Self {
            stem,
            blocks,
            head,
            dim: last,
        })
    }

    pub fn feature_dim(&self) -> usize {
        self.dim
    }

    /// Spatial means N×C of the last feature maps, and the output of `features.{tap}`
    /// (the last maps themselves when `tap` is the last block).
    pub fn pooled_and_tap(&self, x: &Tensor, tap: usize, mode: Mode) -> Result<(Tensor, Tensor)> {
        let mut y = self.stem.forward(x, mode)?;
        let mut tapped = (tap == 0).then(|| y.clone());
        for (i, b) in self.blocks.iter().enumerate() {
            y = b.forward(&y, mode)?;
            if i + 1 == tap {
                tapped = Some(y.clone());
            }
        }
        let maps = self.head.forward(&y, mode)?;
        let pooled = maps.mean(D::Minus1)?.mean(D::Minus1)?;
        Ok((pooled, tapped.unwrap_or(maps)))
    }
}

#[derive(Debug, Clone)]
struct Block3d {
    a: Conv3dBn,
    b: Conv3dBn,
    c: Conv3dBn,
    branch1: Option<Conv3dBn>,
}

impl Block3d {
    fn forward(&self, x: &Tensor, clips: usize, flags: &Tensor, mode: Mode) -> Result<Tensor> {
        let f = Some(flags);
        let skip = match &self.branch1 {
            Some(b) => b.forward(x, clips, f, None, mode)?,
            None => x.clone(),
        };
        let y = self.a.forward(x, clips, f, None, mode)?;
        let y = self.b.forward(&y, clips, f, None, mode)?;
        self.c.forward(&y, clips, f, Some(&skip), mode)
    }
}

/// The 3D ResNet without head (PySlowFast names).
#[derive(Debug, Clone)]
pub struct ResNet3d {
    spec: ResNet3dSpec,
    stem: Conv3dBn,
    stages: Vec<Vec<Block3d>>,
}

impl ResNet3d {
    pub fn new(spec: ResNet3dSpec, vb: VarBuilder, map: &VarMap) -> Result<Self> {
        let w = spec.width;
        let stem = Conv3dBn::new(
            3,
            w,
            (spec.stem_temporal(), 7),
            2,
            Act::Relu,
            vb.pp("s1.pathway0_stem.conv"),
            vb.pp("s1.pathway0_stem.bn"),
            map,
        )?;
        let mut stages = Vec::new();
        let mut dim_in = w;
        for s in 0..4 {
            let inner = w << s;
            let dim_out = inner * 4;
            let mut blocks = Vec::new();
            for j in 0..spec.layers[s] {
                let stride = if j == 0 && s > 0 { 2 } else { 1 };
                let b = vb.pp(format!("s{}.pathway0_res{j}", s + 2));
                let t = b.pp("branch2");
                let kt = spec.block_temporal(s, j);
                let branch1 = if dim_in != dim_out || stride != 1 {
                    Some(Conv3dBn::new(
                        dim_in,
                        dim_out,
                        (1, 1),
                        stride,
                        Act::None,
                        b.pp("branch1"),
                        b.pp("branch1_bn"),
                        map,
                    )?)
                } else {
                    None
                };
                blocks.push(Block3d {
                    a: Conv3dBn::new(
                        dim_in,
                        inner,
                        (kt, 1),
                        1,
                        Act::Relu,
                        t.pp("a"),
                        t.pp("a_bn"),
                        map,
                    )?,
                    b: Conv3dBn::new(
                        inner,
                        inner,
                        (1, 3),
                        stride,
                        Act::Relu,
                        t.pp("b"),
                        t.pp("b_bn"),
                        map,
                    )?,
                    c: Conv3dBn::new(
                        inner,
                        dim_out,
                        (1, 1),
                        1,
                        Act::Relu,
                        t.pp("c"),
                        t.pp("c_bn"),
                        map,
                    )?,
                    branch1,
                });
                dim_in = dim_out;
            }
            stages.push(blocks);
        }
        Ok(Self { spec, stem, stages })
    }

    /// `frames` clips×T×3×H×W; `flags` clips×K (0/1, one column per adaptive stage) → the last
    /// feature map, frame-major (clips·T')×C×h×w, and T'.
    pub fn forward_features(
        &self,
        frames: &Tensor,
        flags: &Tensor,
        mode: Mode,
    ) -> Result<(Tensor, usize)> {
        let (clips, t, c, h, w) = frames.dims5()?;
        let stages = self.spec.adaptive_stages();
        let ones = Tensor::ones(clips, frames.dtype(), frames.device())?;
        // The 0/1 column of each of the five stages (stem, s2..s5).
        let column = |s: usize| -> Result<Tensor> {
            match stages.iter().position(|&a| a == s) {
                Some(k) => flags.narrow(1, k, 1)?.flatten_all(),
                None => Ok(ones.clone()),
            }
        };
        let x = frames.reshape((clips * t, c, h, w))?;
        let y = self
            .stem
            .forward(&x, clips, Some(&column(0)?), None, mode)?;
        let mut y = max_pool_3s2(&y)?;
        let mut t = t;
        for (s, stage) in self.stages.iter().enumerate() {
            let f = column(s + 1)?;
            for b in stage {
                y = b.forward(&y, clips, &f, mode)?;
            }
            if s == 0 {
                (y, t) = temporal_max_pool(&y, clips, t, self.spec.pool1_temporal())?;
            }
        }
        Ok((y, t))
    }

    /// The feature map's side for an `side`² input (stem and pool stride 2, then three
    /// stride-2 stages).
    pub fn map_side(side: usize) -> usize {
        let conv = |n: usize, k: usize, s: usize, p: usize| (n + 2 * p - k) / s + 1;
        let mut n = conv(side, 7, 2, 3);
        n = conv(n, 3, 2, 1);
        for _ in 0..3 {
            n = conv(n, 3, 2, 1);
        }
        n
    }
}
