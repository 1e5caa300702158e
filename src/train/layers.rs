//! Trainable building blocks. The inference networks fold BatchNorm into the convolutions at
//! load time and run fused CPU kernels with no backward pass; training needs the unfolded
//! layers, BatchNorm on batch statistics, and ops candle can differentiate. Every parameter is
//! created under the same `state_dict` name the inference constructors read, so a saved
//! [`candle_nn::VarMap`] loads into [`crate::model::ada3d_focus::Ada3dFocus`] with no key map.

use candle_core::{Result, Tensor, Var};
use candle_nn::{Init, VarBuilder, VarMap};

use super::{batchnorm, kernels};
use crate::model::layers::{Act, BN_EPS};
use crate::model::layers3d::shift_frames;

/// PyTorch's default BatchNorm momentum for the running statistics.
const BN_MOMENTUM: f64 = 0.1;

/// Whether a forward pass trains (batch statistics, running averages updated) or evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// A parameter created in `vb`'s VarMap (its value is set by [`crate::train::init`]).
pub fn param(vb: &VarBuilder, shape: impl Into<candle_core::Shape>, name: &str) -> Result<Tensor> {
    vb.get_with_hints(shape, name, Init::Const(0.0))
}

/// The Var behind `prefix.name` (to update a running statistic in place).
fn var_of(map: &VarMap, vb: &VarBuilder, name: &str) -> Result<Var> {
    let key = format!("{}.{name}", vb.prefix());
    let data = map
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("poisoned".into()))?;
    data.get(&key)
        .cloned()
        .ok_or_else(|| candle_core::Error::Msg(format!("no variable {key}")))
}

/// BatchNorm over channel axis 1 (1d, 2d or frame-major 3d inputs).
#[derive(Debug, Clone)]
pub struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Var,
    running_var: Var,
}

impl BatchNorm {
    pub fn new(c: usize, vb: VarBuilder, map: &VarMap) -> Result<Self> {
        let weight = param(&vb, c, "weight")?;
        let bias = param(&vb, c, "bias")?;
        param(&vb, c, "running_mean")?;
        param(&vb, c, "running_var")?;
        Ok(Self {
            weight,
            bias,
            running_mean: var_of(map, &vb, "running_mean")?,
            running_var: var_of(map, &vb, "running_var")?,
        })
    }

    /// `act(bn(x))`. Training on the CPU runs the fused kernel of `train::batchnorm`.
    pub fn forward_act(&self, x: &Tensor, act: Act, mode: Mode) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let (n, c) = (dims[0], dims[1]);
        let rest: usize = dims[2..].iter().product();
        let v = x.reshape((n, c, rest))?;
        if mode == Mode::Train {
            let stats = batchnorm::batch_stats(&v)?;
            self.update_running(&stats, n * rest)?;
            if x.device().is_cpu() {
                let op = batchnorm::BatchNormAct {
                    eps: BN_EPS,
                    clamp: act.range(),
                    stats,
                };
                return v
                    .contiguous()?
                    .apply_op3(&self.weight, &self.bias, op)?
                    .reshape(dims);
            }
        }
        let (mean, var) = match mode {
            Mode::Train => {
                let mean = v.mean_keepdim(2)?.mean_keepdim(0)?;
                let var = v
                    .broadcast_sub(&mean)?
                    .sqr()?
                    .mean_keepdim(2)?
                    .mean_keepdim(0)?;
                (mean, var)
            }
            Mode::Eval => (
                self.running_mean.as_tensor().detach().reshape((1, c, 1))?,
                self.running_var.as_tensor().detach().reshape((1, c, 1))?,
            ),
        };
        let scale = self
            .weight
            .reshape((1, c, 1))?
            .broadcast_div(&(var + BN_EPS)?.sqrt()?)?;
        let y = v
            .broadcast_sub(&mean)?
            .broadcast_mul(&scale)?
            .broadcast_add(&self.bias.reshape((1, c, 1))?)?
            .reshape(dims)?;
        act.apply(&y)
    }

    /// PyTorch's running averages (momentum 0.1, unbiased variance).
    fn update_running(&self, stats: &[(f64, f64)], count: usize) -> Result<()> {
        let m = BN_MOMENTUM;
        let unbias = count as f64 / (count as f64 - 1.0).max(1.0);
        let dev = self.running_mean.device();
        let old_m: Vec<f32> = self.running_mean.as_tensor().to_vec1()?;
        let old_v: Vec<f32> = self.running_var.as_tensor().to_vec1()?;
        let new_m: Vec<f32> = old_m
            .iter()
            .zip(stats)
            .map(|(&o, &(x, _))| ((1.0 - m) * o as f64 + m * x) as f32)
            .collect();
        let new_v: Vec<f32> = old_v
            .iter()
            .zip(stats)
            .map(|(&o, &(_, x))| ((1.0 - m) * o as f64 + m * x * unbias) as f32)
            .collect();
        self.running_mean
            .set(&Tensor::new(new_m.as_slice(), dev)?)?;
        self.running_var.set(&Tensor::new(new_v.as_slice(), dev)?)?;
        Ok(())
    }
}

/// Every other row and column (from the first): a stride-1 result at stride 2.
pub fn subsample2(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let x = x
        .pad_with_zeros(2, 0, 2 * h2 - h)?
        .pad_with_zeros(3, 0, 2 * w2 - w)?;
    x.reshape((n, c, h2, 2, w2, 2))?
        .narrow(3, 0, 1)?
        .narrow(5, 0, 1)?
        .reshape((n, c, h2, w2))
}

/// A dense convolution without bias: the CPU's im2col kernels, candle's elsewhere.
pub fn conv(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    if x.device().is_cpu() {
        kernels::conv2d(x, w, stride, pad)
    } else {
        x.conv2d(w, pad, stride, 1, 1)
    }
}

/// A depthwise convolution without bias (weight C×1×k×k).
fn depthwise(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    if x.device().is_cpu() {
        kernels::depthwise(x, w, stride, pad)
    } else {
        x.conv2d(w, pad, stride, 1, x.dim(1)?)
    }
}

/// 3×3 max pooling, stride 2, zero padding 1 (inputs after a ReLU), as nine maxima: candle's
/// max_pool2d has no backward pass when the kernel differs from the stride.
pub fn max_pool_3s2(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() {
        return kernels::max_pool_3s2(x);
    }
    let (_, _, h, w) = x.dims4()?;
    let xp = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    let mut acc: Option<Tensor> = None;
    for dy in 0..3 {
        for dx in 0..3 {
            let t = xp.narrow(2, dy, h)?.narrow(3, dx, w)?;
            acc = Some(match acc {
                Some(a) => a.maximum(&t)?,
                None => t,
            });
        }
    }
    match acc {
        Some(a) => subsample2(&a),
        None => candle_core::bail!("empty pool"),
    }
}

/// Conv2d (no bias) + BatchNorm2d + activation; dense or depthwise.
#[derive(Debug, Clone)]
pub struct ConvBn {
    weight: Tensor,
    bn: BatchNorm,
    stride: usize,
    padding: usize,
    depthwise: bool,
    act: Act,
}

impl ConvBn {
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
        map: &VarMap,
    ) -> Result<Self> {
        if groups != 1 && groups != in_c {
            candle_core::bail!("only dense and depthwise convolutions train");
        }
        Ok(Self {
            weight: param(&conv_vb, (out_c, in_c / groups, kernel, kernel), "weight")?,
            bn: BatchNorm::new(out_c, bn_vb, map)?,
            stride,
            padding: (kernel - 1) / 2,
            depthwise: groups != 1,
            act,
        })
    }

    fn conv(&self, x: &Tensor) -> Result<Tensor> {
        if self.depthwise {
            depthwise(x, &self.weight, self.stride, self.padding)
        } else {
            conv(x, &self.weight, self.stride, self.padding)
        }
    }

    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.bn.forward_act(&self.conv(x)?, self.act, mode)
    }

    /// `act(bn(conv(x)) + skip)`.
    pub fn forward_residual(&self, x: &Tensor, skip: &Tensor, mode: Mode) -> Result<Tensor> {
        let y = self.bn.forward_act(&self.conv(x)?, Act::None, mode)?;
        self.act.apply(&(y + skip)?)
    }
}

/// Conv3d `kt×k×k` (no bias) + BatchNorm3d + activation on frame-major activations
/// ((clips·T)×C×H×W), as the sum of its temporal taps (see `model::layers3d`). Each clip's
/// side taps are multiplied by its 3D flag (1 = 3D, 0 = the centre tap only, Ada3D's 2D mode),
/// so clips with different stage decisions share one batch.
#[derive(Debug, Clone)]
pub struct Conv3dBn {
    weight: Tensor,
    bn: Option<BatchNorm>,
    kt: usize,
    stride: usize,
    padding: usize,
    act: Act,
}

impl Conv3dBn {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_c: usize,
        out_c: usize,
        (kt, k): (usize, usize),
        stride: usize,
        act: Act,
        conv_vb: VarBuilder,
        bn_vb: VarBuilder,
        map: &VarMap,
    ) -> Result<Self> {
        Ok(Self {
            weight: param(&conv_vb, (out_c, in_c, kt, k, k), "weight")?,
            bn: Some(BatchNorm::new(out_c, bn_vb, map)?),
            kt,
            stride,
            padding: k / 2,
            act,
        })
    }

    /// A bare `kt×kh×kw` convolution without BatchNorm or padding (a policy's output layer).
    pub fn bare(weight: Tensor) -> Self {
        Self {
            weight,
            bn: None,
            kt: 1,
            stride: 1,
            padding: 0,
            act: Act::None,
        }
    }

    fn tap(&self, i: usize) -> Result<Tensor> {
        self.weight.narrow(2, i, 1)?.squeeze(2)?.contiguous()
    }

    /// `flags`: one 0/1 value per clip (None: every clip 3D).
    pub fn forward(
        &self,
        x: &Tensor,
        clips: usize,
        flags: Option<&Tensor>,
        skip: Option<&Tensor>,
        mode: Mode,
    ) -> Result<Tensor> {
        let (p, s) = (self.padding, self.stride);
        let mid = self.kt / 2;
        let mut y = conv(x, &self.tap(mid)?, s, p)?;
        let t = x.dim(0)? / clips.max(1);
        let mut side: Option<Tensor> = None;
        for i in (0..self.kt).filter(|&i| i != mid) {
            let offset = i as isize - mid as isize;
            if offset.unsigned_abs() >= t {
                continue;
            }
            let out = conv(&shift_frames(x, clips, offset)?, &self.tap(i)?, s, p)?;
            side = Some(match side {
                Some(a) => (a + out)?,
                None => out,
            });
        }
        if let Some(side) = side {
            let side =
                match flags {
                    Some(f) => {
                        let per_frame = f
                            .reshape((clips, 1))?
                            .broadcast_as((clips, t))?
                            .reshape((clips * t, 1, 1, 1))?;
                        side.broadcast_mul(&per_frame)?
                    }
                    None => side,
                };
            y = (y + side)?;
        }
        match (&self.bn, skip) {
            (Some(bn), None) => bn.forward_act(&y, self.act, mode),
            (Some(bn), Some(skip)) => {
                let y = (bn.forward_act(&y, Act::None, mode)? + skip)?;
                self.act.apply(&y)
            }
            (None, Some(skip)) => self.act.apply(&(y + skip)?),
            (None, None) => self.act.apply(&y),
        }
    }
}

/// Linear → BatchNorm1d → ReLU (`0` = Linear, `1` = BatchNorm1d).
#[derive(Debug, Clone)]
pub struct LinearBnRelu {
    linear: candle_nn::Linear,
    bn: BatchNorm,
}

impl LinearBnRelu {
    pub fn new(in_f: usize, out_f: usize, vb: VarBuilder, map: &VarMap) -> Result<Self> {
        let l = vb.pp("0");
        Ok(Self {
            linear: candle_nn::Linear::new(
                param(&l, (out_f, in_f), "weight")?,
                Some(param(&l, out_f, "bias")?),
            ),
            bn: BatchNorm::new(out_f, vb.pp("1"), map)?,
        })
    }

    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        use candle_core::Module;
        self.bn
            .forward_act(&self.linear.forward(x)?, Act::Relu, mode)
    }
}

/// A Linear layer with bias.
pub fn linear(in_f: usize, out_f: usize, vb: VarBuilder) -> Result<candle_nn::Linear> {
    Ok(candle_nn::Linear::new(
        param(&vb, (out_f, in_f), "weight")?,
        Some(param(&vb, out_f, "bias")?),
    ))
}
