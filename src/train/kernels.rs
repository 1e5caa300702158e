//! CPU kernels with backward passes for training. candle differentiates a convolution through
//! `conv_transpose2d`, which on the CPU is a direct loop, and a depthwise convolution through
//! one convolution per channel; written as shifted tensor ops instead, every tap's backward
//! allocates a full-size tensor. Here a dense convolution is `im2col` (a custom op whose
//! backward is `col2im`) followed by a batched matmul, and a depthwise convolution is a custom
//! op with its two gradients as custom ops: measured 10–20× faster per training step.
//! Other devices keep candle's own convolutions (see `train::layers`).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use crate::model::conv_cpu::{cpu_threads, f32_contiguous, for_each_item};

#[derive(Debug, Clone, Copy)]
struct Geometry {
    k: usize,
    stride: usize,
    pad: usize,
    h: usize,
    w: usize,
}

impl Geometry {
    fn out(&self) -> (usize, usize) {
        let o = |n: usize| (n + 2 * self.pad - self.k) / self.stride + 1;
        (o(self.h), o(self.w))
    }

    /// Input coordinate of output `o` at tap `d`, when inside.
    fn at(&self, o: usize, d: usize, size: usize) -> Option<usize> {
        let i = (o * self.stride + d) as isize - self.pad as isize;
        (i >= 0 && (i as usize) < size).then_some(i as usize)
    }

    /// Every (tap, output pixel, input pixel) of one plane whose input lies inside it, as flat
    /// indices (tap = dy·k + dx): the one loop the depthwise forward and both gradients share.
    fn taps(&self, oh: usize, ow: usize, mut f: impl FnMut(usize, usize, usize)) {
        let k = self.k;
        for oy in 0..oh {
            for dy in 0..k {
                let Some(iy) = self.at(oy, dy, self.h) else {
                    continue;
                };
                for dx in 0..k {
                    for ox in 0..ow {
                        if let Some(ix) = self.at(ox, dx, self.w) {
                            f(dy * k + dx, oy * ow + ox, iy * self.w + ix);
                        }
                    }
                }
            }
        }
    }
}

/// (N, C, H, W) → (N, C·k², OH·OW), rows ordered (c, dy, dx) as a flattened O×C×k×k weight.
struct Im2Col(Geometry);

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_contiguous("im2col", "input", storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        let g = Geometry { h, w, ..self.0 };
        let (oh, ow) = g.out();
        let (k, l) = (g.k, oh * ow);
        let mut out = vec![0f32; n * c * k * k * l];
        for_each_item(&mut out, c * k * k * l, cpu_threads(), |b, dst, _| {
            for ci in 0..c {
                let plane = &x[(b * c + ci) * h * w..(b * c + ci + 1) * h * w];
                for dy in 0..k {
                    for dx in 0..k {
                        let row = &mut dst[((ci * k + dy) * k + dx) * l..][..l];
                        for oy in 0..oh {
                            let Some(iy) = g.at(oy, dy, h) else { continue };
                            for ox in 0..ow {
                                if let Some(ix) = g.at(ox, dx, w) {
                                    row[oy * ow + ox] = plane[iy * w + ix];
                                }
                            }
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c * k * k, l))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, c, h, w) = arg.dims4()?;
        let op = Col2Im {
            g: Geometry { h, w, ..self.0 },
            c,
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

/// The adjoint of [`Im2Col`]: (N, C·k², OH·OW) → (N, C, H, W), overlapping taps summed.
struct Col2Im {
    g: Geometry,
    c: usize,
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let cols = f32_contiguous("col2im", "input", storage, layout)?;
        let (n, _, l) = layout.shape().dims3()?;
        let (g, c) = (self.g, self.c);
        let (oh, ow) = g.out();
        let (h, w, k) = (g.h, g.w, g.k);
        let mut out = vec![0f32; n * c * h * w];
        for_each_item(&mut out, c * h * w, cpu_threads(), |b, dst, _| {
            let src = &cols[b * c * k * k * l..(b + 1) * c * k * k * l];
            for ci in 0..c {
                let plane = &mut dst[ci * h * w..(ci + 1) * h * w];
                for dy in 0..k {
                    for dx in 0..k {
                        let row = &src[((ci * k + dy) * k + dx) * l..][..l];
                        for oy in 0..oh {
                            let Some(iy) = g.at(oy, dy, h) else { continue };
                            for ox in 0..ow {
                                if let Some(ix) = g.at(ox, dx, w) {
                                    plane[iy * w + ix] += row[oy * ow + ox];
                                }
                            }
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, h, w))))
    }
}

/// A dense convolution (no bias) as im2col and a batched matmul: x (N,C,H,W), w (O,C,k,k).
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let (o, _, k, _) = w.dims4()?;
    let g = Geometry {
        k,
        stride,
        pad,
        h,
        w: wd,
    };
    let (oh, ow) = g.out();
    let cols = if k == 1 && stride == 1 && pad == 0 {
        x.reshape((n, c, h * wd))?
    } else {
        x.contiguous()?.apply_op1(Im2Col(g))?
    };
    w.reshape((o, c * k * k))?
        .broadcast_left(n)?
        .matmul(&cols)?
        .reshape((n, o, oh, ow))
}

/// Depthwise k×k convolution (no bias): x (N,C,H,W), w (C,1,k,k).
struct Depthwise(Geometry);

impl CustomOp2 for Depthwise {
    fn name(&self) -> &'static str {
        "depthwise-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_contiguous("depthwise", "input", s1, l1)?;
        let wt = f32_contiguous("depthwise", "weight", s2, l2)?;
        let (n, c, h, w) = l1.shape().dims4()?;
        let g = Geometry { h, w, ..self.0 };
        let (oh, ow) = g.out();
        let k = g.k;
        let mut out = vec![0f32; n * c * oh * ow];
        for_each_item(&mut out, oh * ow, cpu_threads(), |p, dst, _| {
            let plane = &x[p * h * w..(p + 1) * h * w];
            let wk = &wt[(p % c) * k * k..][..k * k];
            g.taps(oh, ow, |t, o, i| dst[o] += wk[t] * plane[i]);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, _, h, wd) = x.dims4()?;
        let g = Geometry { h, w: wd, ..self.0 };
        let grad = grad.contiguous()?;
        let gx = grad.apply_op2_no_bwd(&w.contiguous()?, &DepthwiseGradInput(g))?;
        let gw = x
            .contiguous()?
            .apply_op2_no_bwd(&grad, &DepthwiseGradWeight(g))?;
        Ok((Some(gx), Some(gw)))
    }
}

/// d(loss)/dx of [`Depthwise`]: (grad (N,C,OH,OW), w) → (N,C,H,W).
struct DepthwiseGradInput(Geometry);

impl CustomOp2 for DepthwiseGradInput {
    fn name(&self) -> &'static str {
        "depthwise-grad-input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let gr = f32_contiguous("depthwise-grad", "grad", s1, l1)?;
        let wt = f32_contiguous("depthwise-grad", "weight", s2, l2)?;
        let (n, c, oh, ow) = l1.shape().dims4()?;
        let g = self.0;
        let (h, w, k) = (g.h, g.w, g.k);
        let mut out = vec![0f32; n * c * h * w];
        for_each_item(&mut out, h * w, cpu_threads(), |p, dst, _| {
            let gp = &gr[p * oh * ow..(p + 1) * oh * ow];
            let wk = &wt[(p % c) * k * k..][..k * k];
            g.taps(oh, ow, |t, o, i| dst[i] += wk[t] * gp[o]);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, h, w))))
    }
}

/// d(loss)/dw of [`Depthwise`]: (x (N,C,H,W), grad (N,C,OH,OW)) → (C,1,k,k).
struct DepthwiseGradWeight(Geometry);

impl CustomOp2 for DepthwiseGradWeight {
    fn name(&self) -> &'static str {
        "depthwise-grad-weight"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_contiguous("depthwise-grad", "input", s1, l1)?;
        let gr = f32_contiguous("depthwise-grad", "grad", s2, l2)?;
        let (n, c, h, w) = l1.shape().dims4()?;
        let (_, _, oh, ow) = l2.shape().dims4()?;
        let g = self.0;
        let k = g.k;
        let mut out = vec![0f32; c * k * k];
        for_each_item(&mut out, k * k, cpu_threads(), |ci, dst, _| {
            for b in 0..n {
                let p = b * c + ci;
                let plane = &x[p * h * w..(p + 1) * h * w];
                let gp = &gr[p * oh * ow..(p + 1) * oh * ow];
                g.taps(oh, ow, |t, o, i| dst[t] += gp[o] * plane[i]);
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((c, 1, k, k))))
    }
}

/// Depthwise convolution (no bias): x (N,C,H,W), w (C,1,k,k).
pub fn depthwise(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    let (_, _, h, wd) = x.dims4()?;
    let k = w.dim(2)?;
    let g = Geometry {
        k,
        stride,
        pad,
        h,
        w: wd,
    };
    x.contiguous()?.apply_op2(&w.contiguous()?, Depthwise(g))
}

/// 3×3 max pooling, stride 2, zero padding 1 (PySlowFast's pool after the stem): x (N,C,H,W).
struct MaxPool3s2;

impl MaxPool3s2 {
    /// For each output, the flat index of the input it takes (usize::MAX: the zero padding).
    fn argmax(x: &[f32], (n, c, h, w): (usize, usize, usize, usize)) -> (Vec<f32>, Vec<usize>) {
        let g = Geometry {
            k: 3,
            stride: 2,
            pad: 1,
            h,
            w,
        };
        let (oh, ow) = g.out();
        let mut out = vec![0f32; n * c * oh * ow];
        let mut at = vec![usize::MAX; n * c * oh * ow];
        for p in 0..n * c {
            let plane = &x[p * h * w..(p + 1) * h * w];
            for oy in 0..oh {
                for ox in 0..ow {
                    // The zero padding takes part where the window reaches it.
                    let padded =
                        (0..3).any(|d| g.at(oy, d, h).is_none() || g.at(ox, d, w).is_none());
                    let (mut best, mut arg) = if padded {
                        (0f32, usize::MAX)
                    } else {
                        (f32::NEG_INFINITY, usize::MAX)
                    };
                    for dy in 0..3 {
                        let Some(iy) = g.at(oy, dy, h) else { continue };
                        for dx in 0..3 {
                            let Some(ix) = g.at(ox, dx, w) else { continue };
                            let v = plane[iy * w + ix];
                            if v > best {
                                best = v;
                                arg = p * h * w + iy * w + ix;
                            }
                        }
                    }
                    let o = (p * oh + oy) * ow + ox;
                    out[o] = best;
                    at[o] = arg;
                }
            }
        }
        (out, at)
    }
}

impl CustomOp1 for MaxPool3s2 {
    fn name(&self) -> &'static str {
        "max-pool-3s2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_contiguous("max-pool", "input", storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        let (out, _) = Self::argmax(x, (n, c, h, w));
        let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let dims = arg.dims4()?;
        let x: Vec<f32> = arg.flatten_all()?.to_vec1()?;
        let g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let (_, at) = Self::argmax(&x, dims);
        let mut dx = vec![0f32; x.len()];
        for (&i, &v) in at.iter().zip(&g) {
            if i != usize::MAX {
                dx[i] += v;
            }
        }
        Ok(Some(Tensor::from_vec(dx, dims, arg.device())?))
    }
}

/// 3×3 max pooling, stride 2, padding 1, with its backward pass (CPU).
pub fn max_pool_3s2(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(MaxPool3s2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Values and both gradients equal candle's own (differentiable) convolutions.
    #[test]
    fn kernels_match_candle_forward_and_backward() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1., (2, 3, 9, 9), &dev).unwrap()).unwrap();
        let close = |a: &Tensor, b: &Tensor| {
            let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
            d.to_scalar::<f32>().unwrap()
        };
        for (k, stride, pad) in [(3, 1, 1), (3, 2, 1), (7, 2, 3), (1, 2, 0), (1, 1, 0)] {
            let w =
                Var::from_tensor(&Tensor::randn(0f32, 1., (4, 3, k, k), &dev).unwrap()).unwrap();
            let ours = conv2d(&x, &w, stride, pad).unwrap();
            let theirs = x.conv2d(&w, pad, stride, 1, 1).unwrap();
            assert!(close(&ours, &theirs) < 1e-4, "conv k{k} s{stride}");
            let ga = ours.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let gb = theirs.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            for v in [x.as_tensor(), w.as_tensor()] {
                let (a, b) = (ga.get(v).unwrap(), gb.get(v).unwrap());
                assert!(close(a, b) < 1e-3, "conv grad k{k} s{stride}");
            }
        }
        let pooled = max_pool_3s2(&x).unwrap();
        let reference = x
            .pad_with_zeros(2, 1, 1)
            .unwrap()
            .pad_with_zeros(3, 1, 1)
            .unwrap()
            .max_pool2d_with_stride(3, 2)
            .unwrap();
        assert!(close(&pooled, &reference) < 1e-6, "max pool");
        for stride in [1, 2] {
            let w =
                Var::from_tensor(&Tensor::randn(0f32, 1., (3, 1, 3, 3), &dev).unwrap()).unwrap();
            let ours = depthwise(&x, &w, stride, 1).unwrap();
            let theirs = x.conv2d(&w, 1, stride, 1, 3).unwrap();
            assert!(close(&ours, &theirs) < 1e-4, "depthwise s{stride}");
            let ga = ours.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let gb = theirs.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            for v in [x.as_tensor(), w.as_tensor()] {
                let (a, b) = (ga.get(v).unwrap(), gb.get(v).unwrap());
                assert!(close(a, b) < 1e-3, "depthwise grad s{stride}");
            }
        }
    }
}
