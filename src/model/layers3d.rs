//! Conv3d + BatchNorm3d + activation for the 3D backbone, on activations kept frame-major:
//! (clips·T)×C×H×W, the frames of a clip consecutive. A `kt×k×k` convolution (temporal stride 1,
//! temporal padding kt/2, PySlowFast's "T frames in, T frames out") is the sum over its kt
//! temporal taps of k×k 2D convolutions on the frames shifted by the tap's offset (zero frames
//! past the clip's ends), ARCHITECTURE.md §1. Run as 2D (Ada3D §3.2), only the centre tap
//! `k[⌊kt/2⌋]` is used, on the same weights. Each tap is a [`FusedConv2d`]: on the CPU the
//! sum, bias, residual and activation are accumulated in place by the fused kernel.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::flops::conv_out;
use super::layers::{fold_bn, Act, FusedConv2d};

#[derive(Debug, Clone)]
pub struct Conv3dBn {
    /// Tap i of the full kernel; the bias rides on tap 0 and the activation on the last.
    taps: Vec<FusedConv2d>,
    /// The centre tap with bias and activation: the layer as 2D (and the whole layer if kt = 1).
    centre: FusedConv2d,
    in_c: usize,
    out_c: usize,
    kt: usize,
    k: usize,
    stride: usize,
}

impl Conv3dBn {
    /// PySlowFast's `Conv3d(in_c, out_c, [kt, k, k], stride [1, s, s], padding [kt/2, k/2, k/2],
    /// bias=False)` followed by `BatchNorm3d`: `conv_vb` holds `weight`, `bn_vb` the BatchNorm.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_c: usize,
        out_c: usize,
        (kt, k): (usize, usize),
        stride: usize,
        act: Act,
        conv_vb: VarBuilder,
        bn_vb: VarBuilder,
    ) -> Result<Self> {
        let w = conv_vb.get((out_c, in_c, kt, k, k), "weight")?;
        let (w, b) = fold_bn(&w, None, &bn_vb)?;
        let zero = Tensor::zeros(out_c, DType::F32, w.device())?;
        let pad = k / 2;
        let tap = |i: usize| w.narrow(2, i, 1)?.squeeze(2)?.contiguous();
        let centre = FusedConv2d::new(tap(kt / 2)?, b.clone(), stride, pad, 1, act)?;
        let mut taps = Vec::new();
        if kt > 1 {
            for i in 0..kt {
                let bias = if i == 0 { b.clone() } else { zero.clone() };
                let a = if i + 1 == kt { act } else { Act::None };
                taps.push(FusedConv2d::new(tap(i)?, bias, stride, pad, 1, a)?);
            }
        }
        Ok(Self {
            taps,
            centre,
            in_c,
            out_c,
            kt,
            k,
            stride,
        })
    }

    pub fn temporal_kernel(&self) -> usize {
        self.kt
    }

    pub fn out_channels(&self) -> usize {
        self.out_c
    }

    /// `x`: (clips·T)×C×H×W → (clips·T)×O×H'×W', adding `skip` (the output's shape) before
    /// the activation. `full3d = false` runs the layer as 2D.
    pub fn forward(
        &self,
        x: &Tensor,
        clips: usize,
        full3d: bool,
        skip: Option<&Tensor>,
    ) -> Result<Tensor> {
        if self.taps.is_empty() || !full3d {
            return match skip {
                Some(s) => self.centre.forward_residual(x, s),
                None => self.centre.forward(x),
            };
        }
        let pad = (self.kt / 2) as isize;
        let mut sum: Option<Tensor> = skip.cloned();
        for (i, tap) in self.taps.iter().enumerate() {
            let shifted = shift_frames(x, clips, i as isize - pad)?;
            sum = Some(match &sum {
                Some(s) => tap.forward_residual(&shifted, s)?,
                None => tap.forward(&shifted)?,
            });
        }
        match sum {
            Some(y) => Ok(y),
            None => candle_core::bail!("Conv3d with an empty kernel"),
        }
    }

    /// Multiply-adds for `t` frames of `h × w` plus one per BatchNorm channel; returns them
    /// and the output side.
    pub fn macs(&self, t: usize, (h, w): (usize, usize), full3d: bool) -> (u64, (usize, usize)) {
        let pad = self.k / 2;
        let (oh, ow) = (
            conv_out(h, self.k, self.stride, pad),
            conv_out(w, self.k, self.stride, pad),
        );
        let taps = if full3d { self.kt } else { 1 };
        let macs = (self.out_c * t * oh * ow) as u64 * (self.in_c * taps * self.k * self.k) as u64
            + self.out_c as u64;
        (macs, (oh, ow))
    }
}

/// Frame t of each clip becomes frame t + d of the input (zeros where that is outside the clip).
pub fn shift_frames(x: &Tensor, clips: usize, d: isize) -> Result<Tensor> {
    if d == 0 {
        return Ok(x.clone());
    }
    let dims = x.dims().to_vec();
    let t = dims[0] / clips.max(1);
    let rest: usize = dims[1..].iter().product();
    let v = x.reshape((clips, t, rest))?;
    let n = d.unsigned_abs().min(t);
    let zeros = Tensor::zeros((clips, n, rest), x.dtype(), x.device())?;
    let shifted = if n == t {
        zeros
    } else if d > 0 {
        Tensor::cat(&[&v.narrow(1, n, t - n)?, &zeros], 1)?
    } else {
        Tensor::cat(&[&zeros, &v.narrow(1, 0, t - n)?], 1)?
    };
    shifted.reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn shifts_stay_inside_each_clip() {
        let dev = Device::Cpu;
        // 2 clips × 3 frames, one value per frame: 1 2 3 | 4 5 6.
        let x = Tensor::new(&[1f32, 2., 3., 4., 5., 6.], &dev)
            .unwrap()
            .reshape((6, 1, 1, 1))
            .unwrap();
        let v = |d| {
            shift_frames(&x, 2, d)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(v(1), [2., 3., 0., 5., 6., 0.]);
        assert_eq!(v(-1), [0., 1., 2., 0., 4., 5.]);
        assert_eq!(v(-2), [0., 0., 1., 0., 0., 4.]);
        assert_eq!(v(3), [0.; 6]);
    }
}
