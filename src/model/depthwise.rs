//! A depthwise convolution kernel for the CPU. candle runs a grouped convolution one group at a
//! time, which makes MobileNetV2's depthwise 3×3 layers ~20× slower than PyTorch; here each
//! channel's plane is convolved directly (row-wise multiply-adds the compiler vectorises), the
//! channels split across threads. Other devices take `depthwise_taps.rs`.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::conv_cpu::{
    clamp_in_place, cpu_threads, f32_contiguous, for_each_item, inside_columns, Window,
};

/// Depthwise k×k convolution with bias (BatchNorm already folded in): weight C×1×k×k.
#[derive(Debug, Clone)]
pub struct DepthwiseCpu {
    weight: Vec<f32>,
    bias: Vec<f32>,
    channels: usize,
    win: Window,
    /// The activation as a clamp: (−∞, ∞) none, (0, ∞) ReLU, (0, 6) ReLU6.
    clamp: (f32, f32),
}

impl DepthwiseCpu {
    pub fn new(
        weight: &Tensor,
        bias: &Tensor,
        stride: usize,
        padding: usize,
        clamp: (f32, f32),
    ) -> Result<Self> {
        let (c, one, k, k2) = weight.dims4()?;
        if one != 1 || k != k2 {
            candle_core::bail!("depthwise weight must be C×1×k×k, got {:?}", weight.dims());
        }
        if bias.dims() != [c] {
            candle_core::bail!("depthwise bias must have {c} values, got {:?}", bias.dims());
        }
        Ok(Self {
            weight: weight.flatten_all()?.to_vec1()?,
            bias: bias.to_vec1()?,
            channels: c,
            win: Window {
                kernel: k,
                stride,
                padding,
            },
            clamp,
        })
    }

    /// One channel plane: `src` h×w → `dst` oh×ow.
    fn plane(&self, c: usize, src: &[f32], (h, w): (usize, usize), dst: &mut [f32]) {
        let (k, s, p) = (self.win.kernel, self.win.stride, self.win.padding as isize);
        let ow = self.win.side(w);
        let wk = &self.weight[c * k * k..(c + 1) * k * k];
        dst.fill(self.bias[c]);
        for (oy, out_row) in dst.chunks_mut(ow).enumerate() {
            for ky in 0..k {
                let iy = (oy * s) as isize + ky as isize - p;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let row = &src[iy as usize * w..(iy as usize + 1) * w];
                for kx in 0..k {
                    let wv = wk[ky * k + kx];
                    // Output columns whose input column ox·s + kx − p lies inside the row.
                    let off = kx as isize - p;
                    let (first, last) = inside_columns(w, ow, off, s);
                    if first >= last {
                        continue;
                    }
                    if s == 1 {
                        let start = (first as isize + off) as usize;
                        let src_row = &row[start..start + (last - first)];
                        for (o, &v) in out_row[first..last].iter_mut().zip(src_row) {
                            *o += wv * v;
                        }
                    } else {
                        for (ox, o) in out_row.iter_mut().enumerate().take(last).skip(first) {
                            *o += wv * row[ox * s + kx - self.win.padding];
                        }
                    }
                }
            }
        }
        clamp_in_place(dst, self.clamp);
    }
}

impl CustomOp1 for DepthwiseCpu {
    fn name(&self) -> &'static str {
        "depthwise-conv2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = f32_contiguous("depthwise-conv2d", "input", storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        if c != self.channels {
            candle_core::bail!(
                "depthwise-conv2d: {c} channels for a {}-channel kernel",
                self.channels
            );
        }
        let (oh, ow) = self.win.out_hw(h, w)?;
        let mut out = vec![0f32; n * c * oh * ow];
        let planes = n * c;
        if planes == 0 {
            return Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))));
        }
        for_each_item(&mut out, oh * ow, cpu_threads(), |plane, dst, _| {
            let s = &src[plane * h * w..(plane + 1) * h * w];
            self.plane(plane % c, s, (h, w), dst);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::conv_cpu::tests::max_abs;
    use candle_core::{Device, Module};

    /// `depthwise(x, weight, bias, stride, padding)` against candle's grouped conv2d, for
    /// strides 1 and 2, odd and even sides, 3×3 and 5×5, and maps narrower than the stride
    /// (the last window starts past the edge). Shared with `depthwise_taps.rs`.
    pub(crate) fn check_against_grouped_conv2d(
        depthwise: impl Fn(&Tensor, &Tensor, &Tensor, usize, usize) -> Tensor,
    ) {
        let dev = Device::Cpu;
        for (k, stride, h, w) in [
            (3, 1, 7, 9),
            (3, 2, 7, 8),
            (3, 2, 8, 8),
            (5, 1, 6, 5),
            (5, 2, 9, 11),
            (3, 2, 1, 1),
            (3, 2, 2, 1),
        ] {
            let c = 6;
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 1.0, (c, 1, k, k), &dev).unwrap();
            let b = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
            let p = k / 2;
            let cfg = candle_nn::Conv2dConfig {
                padding: p,
                stride,
                dilation: 1,
                groups: c,
                cudnn_fwd_algo: None,
            };
            let want = candle_nn::Conv2d::new(wt.clone(), Some(b.clone()), cfg)
                .forward(&x)
                .unwrap();
            let got = depthwise(&x, &wt, &b, stride, p);
            assert_eq!(got.dims(), want.dims(), "k{k} s{stride} {h}×{w}");
            let err = max_abs(&got, &want);
            assert!(err < 1e-5, "k{k} s{stride} {h}×{w}: {err}");
        }
    }

    #[test]
    fn same_as_grouped_conv2d() {
        check_against_grouped_conv2d(|x, wt, b, stride, p| {
            let op =
                DepthwiseCpu::new(wt, b, stride, p, (f32::NEG_INFINITY, f32::INFINITY)).unwrap();
            x.apply_op1_no_bwd(&op).unwrap()
        });
    }
}
