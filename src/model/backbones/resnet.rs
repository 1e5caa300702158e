//! ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) with
//! torchvision's structure and `state_dict` names (`conv1`, `bn1`, `layer{1..4}.{i}.conv1`,
//! `downsample.0/1`, `fc`): the local network of the official AdaFocus checkpoints. A width
//! multiplier scales every stage (1.0 = torchvision) for the small networks adalens trains.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use crate::model::flops::{conv_out, FlopCount};
use crate::model::layers::{classify, global_avg_pool, Act, ConvBn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    Basic,
    Bottleneck,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

/// Blocks per stage for the standard depths.
pub fn depth_layout(depth: usize) -> Option<(Block, [usize; 4])> {
    match depth {
        18 => Some((Block::Basic, [2, 2, 2, 2])),
        34 => Some((Block::Basic, [3, 4, 6, 3])),
        50 => Some((Block::Bottleneck, [3, 4, 6, 3])),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct Residual {
    convs: Vec<ConvBn>,
    downsample: Option<ConvBn>,
}

impl Residual {
    fn new(
        block: Block,
        inplanes: usize,
        planes: usize,
        stride: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let out = planes * block.expansion();
        let convs = match block {
            Block::Basic => vec![
                ConvBn::new(
                    inplanes,
                    planes,
                    3,
                    stride,
                    1,
                    Act::Relu,
                    vb.pp("conv1"),
                    vb.pp("bn1"),
                )?,
                ConvBn::new(
                    planes,
                    planes,
                    3,
                    1,
                    1,
                    Act::Relu,
                    vb.pp("conv2"),
                    vb.pp("bn2"),
                )?,
            ],
            // The last convolution of a block carries the ReLU that follows the skip addition
            // (see forward). torchvision puts the stride on the 3×3 convolution (ResNet v1.5).
            Block::Bottleneck => vec![
                ConvBn::new(
                    inplanes,
                    planes,
                    1,
                    1,
                    1,
                    Act::Relu,
                    vb.pp("conv1"),
                    vb.pp("bn1"),
                )?,
                ConvBn::new(
                    planes,
                    planes,
                    3,
                    stride,
                    1,
                    Act::Relu,
                    vb.pp("conv2"),
                    vb.pp("bn2"),
                )?,
                ConvBn::new(
                    planes,
                    out,
                    1,
                    1,
                    1,
                    Act::Relu,
                    vb.pp("conv3"),
                    vb.pp("bn3"),
                )?,
            ],
        };
        let downsample = if stride != 1 || inplanes != out {
            Some(ConvBn::new(
                inplanes,
                out,
                1,
                stride,
                1,
                Act::None,
                vb.pp("downsample.0"),
                vb.pp("downsample.1"),
            )?)
        } else {
            None
        };
        Ok(Self { convs, downsample })
    }

    fn flops(&self, name: &str, hw: (usize, usize), count: &mut FlopCount) -> (usize, usize) {
        if let Some(d) = &self.downsample {
            d.flops(&format!("{name}.downsample"), hw, count);
        }
        self.convs.iter().enumerate().fold(hw, |hw, (i, c)| {
            c.flops(&format!("{name}.conv{}", i + 1), hw, count)
        })
    }
}

impl Module for Residual {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let skip = match &self.downsample {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        let Some((last, first)) = self.convs.split_last() else {
            candle_core::bail!("a residual block without convolutions")
        };
        let mut y = x.clone();
        for c in first {
            y = c.forward(&y)?;
        }
        // The last convolution is built with the block's ReLU: relu(conv(y) + skip).
        last.forward_residual(&y, &skip)
    }
}

#[derive(Debug, Clone)]
pub struct ResNet {
    stem: ConvBn,
    stages: Vec<Vec<Residual>>,
    fc: Option<candle_nn::Linear>,
    feature_dim: usize,
}

impl ResNet {
    /// A torchvision ResNet of `block` type with `layers` blocks per stage; stage widths
    /// 64·w, 128·w, 256·w, 512·w (rounded, at least 1).
    pub fn new(
        block: Block,
        layers: [usize; 4],
        width_mult: f64,
        num_classes: Option<usize>,
        vb: VarBuilder,
    ) -> Result<Self> {
        let w = |c: usize| ((c as f64 * width_mult).round() as usize).max(1);
        let mut inplanes = w(64);
        let stem = ConvBn::new(
            3,
            inplanes,
            7,
            2,
            1,
            Act::Relu,
            vb.pp("conv1"),
            vb.pp("bn1"),
        )?;
        let mut stages = Vec::new();
        for (s, (&n, planes)) in layers.iter().zip([64, 128, 256, 512]).enumerate() {
            let lvb = vb.pp(format!("layer{}", s + 1));
            let mut blocks = Vec::new();
            for i in 0..n {
                let stride = if i == 0 && s > 0 { 2 } else { 1 };
                blocks.push(Residual::new(
                    block,
                    inplanes,
                    w(planes),
                    stride,
                    lvb.pp(i),
                )?);
                inplanes = w(planes) * block.expansion();
            }
            stages.push(blocks);
        }
        let fc = num_classes
            .map(|n| candle_nn::linear(inplanes, n, vb.pp("fc")))
            .transpose()?;
        Ok(Self {
            stem,
            stages,
            fc,
            feature_dim: inplanes,
        })
    }

    pub fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    /// The last feature map, N×C×h×w.
    pub fn forward_features(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.stem.forward(x)?;
        // 3×3 max pool, stride 2, padding 1 (padding never wins a max after a ReLU).
        let mut y = y
            .pad_with_zeros(D::Minus1, 1, 1)?
            .pad_with_zeros(D::Minus2, 1, 1)?
            .max_pool2d_with_stride(3, 2)?;
        for stage in &self.stages {
            for b in stage {
                y = b.forward(&y)?;
            }
        }
        Ok(y)
    }

    /// Feature map and its global average (N×C).
    pub fn features_and_pooled(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let f = self.forward_features(x)?;
        let pooled = global_avg_pool(&f)?;
        Ok((f, pooled))
    }

    /// Multiply-adds for one `h × w` input without `fc` (as the papers count the local network).
    pub fn flops(&self, hw: (usize, usize)) -> FlopCount {
        let mut count = FlopCount::default();
        let (h, w) = self.stem.flops("conv1", hw, &mut count);
        let mut hw = (conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1));
        for (s, stage) in self.stages.iter().enumerate() {
            for (i, b) in stage.iter().enumerate() {
                hw = b.flops(&format!("layer{}.{i}", s + 1), hw, &mut count);
            }
        }
        count
    }
}

impl Module for ResNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, pooled) = self.features_and_pooled(x)?;
        classify(pooled, self.fc.as_ref())
    }
}
