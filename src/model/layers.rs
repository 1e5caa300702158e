//! Building blocks shared by the backbones: a convolution with its BatchNorm folded in at load
//! time (eval mode; same outputs, one op less per layer), with the FLOPs it costs.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};

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
}

/// Conv2d (no bias) + BatchNorm2d + activation, BatchNorm folded into the convolution.
#[derive(Debug, Clone)]
pub struct ConvBn {
    conv: Conv2d,
    in_c: usize,
    out_c: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    groups: usize,
    act: Act,
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
        let gamma = bn_vb.get(out_c, "weight")?;
        let beta = bn_vb.get(out_c, "bias")?;
        let mean = bn_vb.get(out_c, "running_mean")?;
        let var = bn_vb.get(out_c, "running_var")?;
        let scale = gamma.broadcast_div(&(var + BN_EPS)?.sqrt()?)?;
        let w = w.broadcast_mul(&scale.reshape((out_c, 1, 1, 1))?)?;
        let b = (beta - mean.mul(&scale)?)?;
        let cfg = Conv2dConfig {
            padding,
            stride,
            dilation: 1,
            groups,
            cudnn_fwd_algo: None,
        };
        Ok(Self {
            conv: Conv2d::new(w, Some(b), cfg),
            in_c,
            out_c,
            kernel,
            stride,
            padding,
            groups,
            act,
        })
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
        self.act.apply(&self.conv.forward(x)?)
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
