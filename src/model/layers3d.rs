//! Conv3d + BatchNorm3d + activation for the 3D backbone, on activations kept frame-major:
//! (clips·T)×C×H×W, the frames of a clip consecutive. A `kt×k×k` convolution (temporal stride 1,
//! temporal padding kt/2, PySlowFast's "T frames in, T frames out") is the sum over its kt
//! temporal taps of k×k 2D convolutions on the frames shifted by the tap's offset (zero frames
//! past the clip's ends), docs/ARCHITECTURE.md §1. Run as 2D (Ada3D §3.2), only the centre tap
//! `k[⌊kt/2⌋]` is used, on the same weights. Each tap is a [`FusedConv2d`]: on the CPU each
//! tap's product is added to the running sum by the fused kernel, and the centre tap, last, adds
//! the bias and the residual and applies the activation in the same pass. A tap whose shift
//! reaches past the clip only sees zero frames and is skipped (few kept frames, short clips).

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::flops::conv_out;
use super::layers::{fold_bn, Act, FusedConv2d};

#[derive(Debug, Clone)]
pub struct Conv3dBn {
    /// The other kt − 1 taps with their temporal offsets, without bias or activation.
    side_taps: Vec<(isize, FusedConv2d)>,
    /// The centre tap with bias and activation: the layer as 2D, and the last tap of the 3D sum.
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
        let mid = kt / 2;
        let centre = FusedConv2d::new(tap(mid)?, b, stride, pad, 1, act)?;
        let side_taps = (0..kt)
            .filter(|&i| i != mid)
            .map(|i| {
                let conv = FusedConv2d::new(tap(i)?, zero.clone(), stride, pad, 1, Act::None)?;
                Ok((i as isize - mid as isize, conv))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            side_taps,
            centre,
            in_c,
            out_c,
            kt,
            k,
            stride,
        })
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
        let t = x.dim(0)? / clips.max(1);
        let mut sum: Option<Tensor> = skip.cloned();
        if full3d {
            for (offset, tap) in &self.side_taps {
                if offset.unsigned_abs() >= t {
                    continue;
                }
                let shifted = shift_frames(x, clips, *offset)?;
                sum = Some(match &sum {
                    Some(s) => tap.forward_residual(&shifted, s)?,
                    None => tap.forward(&shifted)?,
                });
            }
        }
        match sum {
            Some(s) => self.centre.forward_residual(x, &s),
            None => self.centre.forward(x),
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
