//! Depthwise convolution on a GPU as k² shifted multiply-adds over the whole tensor. candle runs
//! a grouped convolution one group at a time — 32 to 960 launches per MobileNetV2 layer, which
//! made its glance 74× slower than PyTorch on an H200 (BENCHMARKS.md) — while each tap here is a
//! few kernels over all channels at once: gather the tap's rows and columns (`index_select`,
//! every `stride`-th), multiply by the tap's C weights, add. The sum runs in float64: in float32
//! each tap rounds twice (product, then sum; a convolution kernel fuses them), and MobileNetV2's
//! glance feeds the spatial policy, which amplifies that noise past the parity bounds (seen on
//! an H200: cube boxes 1e-3 off); in float64 the one rounding is the final cast. The CPU has its
//! own kernel (`depthwise.rs`); this one is tested against candle's grouped conv2d on the CPU.

use candle_core::{DType, Result, Tensor};

/// Depthwise k×k convolution with bias (BatchNorm folded in): weight C×1×k×k.
#[derive(Debug, Clone)]
pub struct DepthwiseTaps {
    /// Tap (ky, kx) at `ky·k + kx`: its C weights as 1×C×1×1.
    taps: Vec<Tensor>,
    bias: Tensor,
    k: usize,
    stride: usize,
    padding: usize,
}

impl DepthwiseTaps {
    pub fn new(weight: &Tensor, bias: &Tensor, stride: usize, padding: usize) -> Result<Self> {
        let (c, one, k, k2) = weight.dims4()?;
        if one != 1 || k != k2 || k == 0 || stride == 0 {
            candle_core::bail!(
                "depthwise weight must be C×1×k×k with a stride, got {:?} (stride {stride})",
                weight.dims()
            );
        }
        let flat = weight.to_dtype(DType::F64)?.reshape((c, k * k))?;
        let taps = (0..k * k)
            .map(|t| flat.narrow(1, t, 1)?.reshape((1, c, 1, 1)))
            .collect::<Result<_>>()?;
        Ok(Self {
            taps,
            bias: bias.to_dtype(DType::F64)?.reshape((1, c, 1, 1))?,
            k,
            stride,
            padding,
        })
    }

    /// N×C×H×W → N×C×H'×W', zero padding as PyTorch's.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let (k, s, p) = (self.k, self.stride, self.padding);
        if h + 2 * p < k || w + 2 * p < k {
            candle_core::bail!("a {h}×{w} map is smaller than the {k}×{k} depthwise kernel");
        }
        let (ho, wo) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let xp = x
            .to_dtype(DType::F64)?
            .pad_with_zeros(2, p, p)?
            .pad_with_zeros(3, p, p)?;
        let dev = x.device();
        // Every stride-th index from `first`: the rows or columns one tap reads.
        let picks = |first: usize, n: usize| {
            let idx: Vec<u32> = (0..n).map(|i| (first + i * s) as u32).collect();
            Tensor::from_vec(idx, n, dev)
        };
        let mut acc: Option<Tensor> = None;
        for ky in 0..k {
            let rows = if s == 1 {
                xp.narrow(2, ky, ho)?
            } else {
                xp.index_select(&picks(ky, ho)?, 2)?
            };
            for kx in 0..k {
                let v = if s == 1 {
                    rows.narrow(3, kx, wo)?
                } else {
                    rows.index_select(&picks(kx, wo)?, 3)?
                };
                let term = v.broadcast_mul(&self.taps[ky * k + kx])?;
                acc = Some(match acc {
                    None => term,
                    Some(a) => (a + term)?,
                });
            }
        }
        match acc {
            Some(a) => a.broadcast_add(&self.bias)?.to_dtype(x.dtype()),
            None => Tensor::zeros((0,), x.dtype(), dev),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Against candle's grouped conv2d (the CPU kernel's cases).
    #[test]
    fn same_as_grouped_conv2d() {
        crate::model::depthwise::tests::check_against_grouped_conv2d(|x, wt, b, stride, p| {
            DepthwiseTaps::new(wt, b, stride, p)
                .unwrap()
                .forward(x)
                .unwrap()
        });
    }

    #[test]
    fn a_map_smaller_than_the_kernel_is_an_error() {
        let dev = Device::Cpu;
        let wt = Tensor::zeros((2, 1, 5, 5), DType::F32, &dev).unwrap();
        let b = Tensor::zeros(2, DType::F32, &dev).unwrap();
        let op = DepthwiseTaps::new(&wt, &b, 1, 0).unwrap();
        let x = Tensor::zeros((1, 2, 3, 3), DType::F32, &dev).unwrap();
        assert!(op.forward(&x).is_err());
    }
}
