//! Building blocks shared by the backbones: a convolution with its BatchNorm folded in at load
//! time (eval mode; same outputs, one op less per layer), with the FLOPs it costs.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};

use super::conv_cpu::Conv2dCpu;
use super::depthwise::DepthwiseCpu;
use super::depthwise_taps::DepthwiseTaps;
use super::flops::{conv2d_macs, conv_out, FlopCount};

pub const BN_EPS: f64 = 1e-5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    Relu6,
}

impl Act {
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Act::None => Ok(x.clone()),
            Act::Relu => x.relu(),
            Act::Relu6 => x.clamp(0f32, 6f32),
        }
    }

    /// The activation as the range it clamps to (the fused CPU kernels' epilogue).
    pub fn range(self) -> (f32, f32) {
        match self {
            Act::None => (f32::NEG_INFINITY, f32::INFINITY),
            Act::Relu => (0.0, f32::INFINITY),
            Act::Relu6 => (0.0, 6.0),
        }
    }
}

/// A 2D convolution with bias and activation. Weights on the CPU go to the fused CPU kernels
/// (dense: one pass instead of five, see conv_cpu.rs; depthwise: candle's grouped conv2d is far
/// slower), which keep the only copy of the weights; elsewhere candle's conv2d runs, but for
/// depthwise layers (`depthwise_taps.rs`: candle would run one convolution per channel).
#[derive(Debug, Clone)]
pub struct FusedConv2d {
    kind: ConvKind,
    act: Act,
}

#[derive(Debug, Clone)]
enum ConvKind {
    Dense(Conv2dCpu),
    Depthwise(DepthwiseCpu),
    /// Depthwise on a GPU: k² taps over all channels, not one convolution per channel.
    DepthwiseTaps(DepthwiseTaps),
    Candle(Conv2d),
}

impl FusedConv2d {
    /// `weight` O×(C/groups)×k×k, `bias` O.
    pub fn new(
        weight: Tensor,
        bias: Tensor,
        stride: usize,
        padding: usize,
        groups: usize,
        act: Act,
    ) -> Result<Self> {
        let (out_c, in_per_group, _, _) = weight.dims4()?;
        let cpu = weight.device().is_cpu();
        let kind = if cpu && groups == 1 {
            ConvKind::Dense(Conv2dCpu::new(
                &weight,
                &bias,
                stride,
                padding,
                act.range(),
            )?)
        } else if cpu && in_per_group == 1 && groups == out_c {
            ConvKind::Depthwise(DepthwiseCpu::new(
                &weight,
                &bias,
                stride,
                padding,
                act.range(),
            )?)
        } else if in_per_group == 1 && groups == out_c && groups > 1 {
            ConvKind::DepthwiseTaps(DepthwiseTaps::new(&weight, &bias, stride, padding)?)
        } else {
            let cfg = Conv2dConfig {
                padding,
                stride,
                dilation: 1,
                groups,
                cudnn_fwd_algo: None,
            };
            ConvKind::Candle(Conv2d::new(weight, Some(bias), cfg))
        };
        Ok(Self { kind, act })
    }

    /// `act(conv(x) + skip)`: the end of a residual block, or one more temporal tap added to
    /// the sum of the others; fused on the CPU.
    pub fn forward_residual(&self, x: &Tensor, skip: &Tensor) -> Result<Tensor> {
        match &self.kind {
            ConvKind::Dense(op) => x.contiguous()?.apply_op2_no_bwd(&skip.contiguous()?, op),
            ConvKind::Depthwise(op) if self.act == Act::None => {
                x.contiguous()?.apply_op1_no_bwd(op)? + skip
            }
            // The kernel applies the activation itself; no network adds after one.
            ConvKind::Depthwise(_) => {
                candle_core::bail!("a depthwise convolution's activation before a residual add")
            }
            ConvKind::DepthwiseTaps(op) => self.act.apply(&(op.forward(x)? + skip)?),
            ConvKind::Candle(conv) => self.act.apply(&(conv.forward(x)? + skip)?),
        }
    }
}

impl Module for FusedConv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.kind {
            ConvKind::Dense(op) => x.contiguous()?.apply_op1_no_bwd(op),
            ConvKind::Depthwise(op) => x.contiguous()?.apply_op1_no_bwd(op),
            ConvKind::DepthwiseTaps(op) => self.act.apply(&op.forward(x)?),
            ConvKind::Candle(conv) => self.act.apply(&conv.forward(x)?),
        }
    }
}

/// Conv2d (no bias) + BatchNorm2d + activation, BatchNorm folded into the convolution.
#[derive(Debug, Clone)]
pub struct ConvBn {
    conv: FusedConv2d,
    in_c: usize,
    out_c: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    groups: usize,
}

impl ConvBn {
    /// `conv_vb` holds `weight`; `bn_vb` holds `weight`, `bias`, `running_mean`, `running_var`
    /// (torchvision names).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_c: usize,
        out_c: usize,
        kernel: usize,
        stride: usize,
        groups: usize,
        act: Act,
        conv_vb: VarBuilder,
        bn_vb: VarBuilder,
    ) -> Result<Self> {
        let padding = (kernel - 1) / 2;
        let w = conv_vb.get((out_c, in_c / groups, kernel, kernel), "weight")?;
        let (w, b) = fold_bn(&w, None, &bn_vb)?;
        Ok(Self {
            conv: FusedConv2d::new(w, b, stride, padding, groups, act)?,
            in_c,
            out_c,
            kernel,
            stride,
            padding,
            groups,
        })
    }

    /// `act(conv(x) + skip)`: the end of a residual block.
    pub fn forward_residual(&self, x: &Tensor, skip: &Tensor) -> Result<Tensor> {
        self.conv.forward_residual(x, skip)
    }

    pub fn out_channels(&self) -> usize {
        self.out_c
    }

    /// FLOPs for an input of `h × w`, recorded under `name`; returns the output size.
    pub fn flops(
        &self,
        name: &str,
        (h, w): (usize, usize),
        count: &mut FlopCount,
    ) -> (usize, usize) {
        let (oh, ow) = (
            conv_out(h, self.kernel, self.stride, self.padding),
            conv_out(w, self.kernel, self.stride, self.padding),
        );
        count.add(
            name,
            conv2d_macs(
                self.in_c,
                self.out_c,
                self.groups,
                self.kernel,
                self.kernel,
                oh,
                ow,
            ) + self.out_c as u64,
        );
        (oh, ow)
    }
}

impl Module for ConvBn {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(x)
    }
}

/// BatchNorm (eval mode) folded into the layer before it: `weight` has the output channels
/// first (any rank: linear, conv2d, conv3d); returns the new weight and bias. `bn_vb` holds
/// `weight`, `bias`, `running_mean`, `running_var` (PyTorch names).
pub fn fold_bn(
    weight: &Tensor,
    bias: Option<&Tensor>,
    bn_vb: &VarBuilder,
) -> Result<(Tensor, Tensor)> {
    let out_c = weight.dim(0)?;
    let gamma = bn_vb.get(out_c, "weight")?;
    let beta = bn_vb.get(out_c, "bias")?;
    let mean = bn_vb.get(out_c, "running_mean")?;
    let var = bn_vb.get(out_c, "running_var")?;
    let scale = gamma.broadcast_div(&(var + BN_EPS)?.sqrt()?)?;
    let mut shape = vec![1usize; weight.rank()];
    shape[0] = out_c;
    let w = weight.broadcast_mul(&scale.reshape(shape)?)?;
    let shifted = match bias {
        Some(b) => (b - mean)?,
        None => mean.neg()?,
    };
    let b = (beta + shifted.mul(&scale)?)?;
    Ok((w, b))
}

/// Linear → BatchNorm1d → ReLU with the BatchNorm folded in (the MLPs of the pooling
/// classifier; `vb` holds `0` = Linear and `1` = BatchNorm1d, PyTorch's Sequential names).
#[derive(Debug, Clone)]
pub struct LinearBnRelu {
    linear: candle_nn::Linear,
    in_f: usize,
    out_f: usize,
}

impl LinearBnRelu {
    pub fn new(in_f: usize, out_f: usize, vb: VarBuilder) -> Result<Self> {
        let w = vb.pp("0").get((out_f, in_f), "weight")?;
        let b = vb.pp("0").get(out_f, "bias")?;
        let (w, b) = fold_bn(&w, Some(&b), &vb.pp("1"))?;
        Ok(Self {
            linear: candle_nn::Linear::new(w, Some(b)),
            in_f,
            out_f,
        })
    }

    pub fn out_features(&self) -> usize {
        self.out_f
    }

    /// Multiply-adds per row: the linear layer plus one per BatchNorm channel.
    pub fn macs(&self) -> u64 {
        (self.in_f * self.out_f + self.out_f) as u64
    }
}

impl Module for LinearBnRelu {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.linear.forward(x)?.relu()
    }
}

/// Area downscaling by an integer factor (PyTorch's `F.interpolate(mode="area")`): the mean
/// of each `factor`×`factor` block; the glance and selection networks' input.
pub fn area_downscale(frames: &Tensor, factor: usize) -> Result<Tensor> {
    if factor > 1 {
        frames.avg_pool2d(factor)
    } else {
        Ok(frames.clone())
    }
}

/// Global average over the spatial axes: N×C×h×w → N×C.
pub fn global_avg_pool(features: &Tensor) -> Result<Tensor> {
    features.mean(D::Minus1)?.mean(D::Minus1)
}

/// Logits through the classifier head when the network has one, else the pooled features.
pub fn classify(pooled: Tensor, head: Option<&candle_nn::Linear>) -> Result<Tensor> {
    match head {
        Some(h) => h.forward(&pooled),
        None => Ok(pooled),
    }
}
