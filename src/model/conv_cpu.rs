//! A dense 2D convolution for the CPU with its epilogue fused: bias (the folded BatchNorm),
//! an optional residual added before the activation, and the activation's clamp — one output
//! tensor per layer where candle's conv2d makes five (im2col, product, transpose, bias, ReLU),
//! each a fresh allocation and a pass over memory. The product writes straight into N×C×H×W:
//! `out[n] = W (O × C·k·k) · cols[n] (C·k·k × oh·ow)`, and a 1×1 stride-1 layer multiplies the
//! input planes as they are, with no im2col at all. Other devices keep candle's conv2d.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use gemm::Parallelism;

/// Threads the CPU kernels split work over (read once: the lookup reads cgroup files).
pub(crate) fn cpu_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
    })
}

/// Split `out` into items of `per_item` values and run `f(item, dst, scratch)` on each, whole
/// items per thread over `threads` scoped threads (no synchronisation inside a layer); each
/// thread keeps one scratch buffer for all its items.
pub(crate) fn for_each_item(
    out: &mut [f32],
    per_item: usize,
    threads: usize,
    f: impl Fn(usize, &mut [f32], &mut Vec<f32>) + Sync,
) {
    let items = out.len() / per_item.max(1);
    if items == 0 {
        return;
    }
    let per = items.div_ceil(threads.clamp(1, items));
    let f = &f;
    std::thread::scope(|scope| {
        for (t, chunk) in out.chunks_mut(per * per_item).enumerate() {
            scope.spawn(move || {
                let mut scratch = Vec::new();
                for (i, dst) in chunk.chunks_mut(per_item).enumerate() {
                    f(t * per + i, dst, &mut scratch);
                }
            });
        }
    });
}

/// The activation as a clamp, in place: (−∞, ∞) none, (0, ∞) ReLU, (0, 6) ReLU6.
pub(crate) fn clamp_in_place(dst: &mut [f32], (lo, hi): (f32, f32)) {
    if lo > f32::NEG_INFINITY || hi < f32::INFINITY {
        dst.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    }
}

/// A square sliding window: kernel side, stride and zero padding (dilation 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Window {
    /// Output side over `n` values; callers have checked the input with [`Window::out_hw`].
    pub fn side(self, n: usize) -> usize {
        super::flops::conv_out(n, self.kernel, self.stride, self.padding)
    }

    /// Output height and width; an error when the padded input is narrower than the kernel
    /// (candle's conv2d refuses that too).
    pub fn out_hw(self, h: usize, w: usize) -> Result<(usize, usize)> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        for n in [h, w] {
            if n + 2 * p < k || s == 0 {
                candle_core::bail!(
                    "a {k}-wide kernel (padding {p}, stride {s}) on a {n}-wide input"
                )
            }
        }
        Ok((self.side(h), self.side(w)))
    }
}

/// The output columns `first..last` whose input column `o·s + off` lies inside `0..w`.
pub(crate) fn inside_columns(w: usize, ow: usize, off: isize, s: usize) -> (usize, usize) {
    let first = if off < 0 {
        ((-off) as usize).div_ceil(s)
    } else {
        0
    };
    // Floor division: a negative numerator must not round up to column 0.
    let last = ((w as isize - 1 - off).div_euclid(s as isize) + 1).clamp(0, ow as isize) as usize;
    (first, last)
}

/// Conv2d (groups = 1, dilation 1) with bias, residual and clamp fused. Weight O×C×k×k.
#[derive(Debug, Clone)]
pub struct Conv2dCpu {
    weight: Vec<f32>,
    bias: Vec<f32>,
    in_c: usize,
    out_c: usize,
    win: Window,
    /// The activation as a clamp: (−∞, ∞) none, (0, ∞) ReLU, (0, 6) ReLU6.
    clamp: (f32, f32),
}

impl Conv2dCpu {
    pub fn new(
        weight: &Tensor,
        bias: &Tensor,
        stride: usize,
        padding: usize,
        clamp: (f32, f32),
    ) -> Result<Self> {
        let (o, c, k, k2) = weight.dims4()?;
        if k != k2 {
            candle_core::bail!("conv2d-cpu: square kernels only, got {:?}", weight.dims());
        }
        if bias.dims1()? != o {
            candle_core::bail!("conv2d-cpu: {} biases for {o} outputs", bias.dims1()?);
        }
        Ok(Self {
            weight: weight.flatten_all()?.to_vec1()?,
            bias: bias.to_vec1()?,
            in_c: c,
            out_c: o,
            win: Window {
                kernel: k,
                stride,
                padding,
            },
            clamp,
        })
    }

    fn is_pointwise(&self) -> bool {
        self.win.kernel == 1 && self.win.stride == 1 && self.win.padding == 0
    }

    /// One image's columns: row (c, ky, kx), column (oy, ox) = x[c, oy·s + ky − p, ox·s + kx − p],
    /// zero outside the image.
    fn im2col(&self, src: &[f32], (h, w): (usize, usize), cols: &mut [f32]) {
        let (k, s, p) = (self.win.kernel, self.win.stride, self.win.padding as isize);
        let (oh, ow) = (self.win.side(h), self.win.side(w));
        let mut rows = cols.chunks_mut(oh * ow);
        for c in 0..self.in_c {
            let plane = &src[c * h * w..(c + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let Some(row) = rows.next() else { return };
                    let off = kx as isize - p;
                    let (first, last) = inside_columns(w, ow, off, s);
                    for (oy, out) in row.chunks_mut(ow).enumerate() {
                        let iy = (oy * s) as isize + ky as isize - p;
                        if iy < 0 || iy >= h as isize || first >= last {
                            out.fill(0.0);
                            continue;
                        }
                        let line = &plane[iy as usize * w..(iy as usize + 1) * w];
                        out[..first].fill(0.0);
                        out[last..].fill(0.0);
                        if s == 1 {
                            let start = (first as isize + off) as usize;
                            out[first..last].copy_from_slice(&line[start..start + (last - first)]);
                        } else {
                            for (ox, o) in out.iter_mut().enumerate().take(last).skip(first) {
                                *o = line[ox * s + kx - self.win.padding];
                            }
                        }
                    }
                }
            }
        }
    }

    /// One image: `dst` (O × oh·ow) already holds the residual or zeros.
    fn image(
        &self,
        src: &[f32],
        hw: (usize, usize),
        cols: &mut Vec<f32>,
        dst: &mut [f32],
        par: Parallelism,
    ) {
        let pixels = self.win.side(hw.0) * self.win.side(hw.1);
        let depth = self.in_c * self.win.kernel * self.win.kernel;
        let rhs: &[f32] = if self.is_pointwise() {
            src
        } else {
            cols.resize(depth * pixels, 0.0);
            self.im2col(src, hw, cols);
            cols
        };
        for (row, &b) in dst.chunks_mut(pixels).zip(&self.bias) {
            row.iter_mut().for_each(|v| *v += b);
        }
        // SAFETY: dst is O×pixels, weight O×depth and rhs depth×pixels, all row-major slices
        // of exactly those lengths (checked by the caller and the resize above).
        unsafe {
            gemm::gemm(
                self.out_c,
                pixels,
                depth,
                dst.as_mut_ptr(),
                1,
                pixels as isize,
                true,
                self.weight.as_ptr(),
                1,
                depth as isize,
                rhs.as_ptr(),
                1,
                pixels as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            );
        }
        clamp_in_place(dst, self.clamp);
    }

    fn run(&self, input: &[f32], layout: &Layout, residual: Option<&[f32]>) -> Result<Storage> {
        let (n, c, h, w) = layout.shape().dims4()?;
        if c != self.in_c {
            candle_core::bail!(
                "conv2d-cpu: {c} channels for a {}-channel kernel",
                self.in_c
            );
        }
        let (oh, ow) = self.win.out_hw(h, w)?;
        let per_out = self.out_c * oh * ow;
        let mut out = match residual {
            Some(r) if r.len() == n * per_out => r.to_vec(),
            Some(r) => candle_core::bail!(
                "conv2d-cpu: residual of {} values for an output of {}",
                r.len(),
                n * per_out
            ),
            None => vec![0f32; n * per_out],
        };
        let per_in = c * h * w;
        if input.len() != n * per_in {
            candle_core::bail!("conv2d-cpu: input must be contiguous");
        }
        let threads = cpu_threads();
        if n >= threads && threads > 1 {
            // Whole images per thread: no synchronisation inside a layer.
            for_each_item(&mut out, per_out, threads, |img, dst, cols| {
                let src = &input[img * per_in..(img + 1) * per_in];
                self.image(src, (h, w), cols, dst, Parallelism::None);
            });
        } else {
            let par = if threads > 1 {
                Parallelism::Rayon(threads)
            } else {
                Parallelism::None
            };
            let mut cols = Vec::new();
            for (img, dst) in out.chunks_mut(per_out).enumerate() {
                let src = &input[img * per_in..(img + 1) * per_in];
                self.image(src, (h, w), &mut cols, dst, par);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n, self.out_c, oh, ow))))
    }
}

type Storage = (CpuStorage, Shape);

/// The float32 values of a contiguous operand of kernel `op` (`what`: input, residual).
pub(crate) fn f32_contiguous<'a>(
    op: &str,
    what: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: float32 {what} only")
    };
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{op}: {what} must be contiguous"),
    }
}

impl CustomOp1 for Conv2dCpu {
    fn name(&self) -> &'static str {
        "conv2d-cpu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<Storage> {
        let x = f32_contiguous("conv2d-cpu", "input", storage, layout)?;
        self.run(x, layout, None)
    }
}

/// The second operand is the residual, the output's shape, added before the clamp.
impl CustomOp2 for Conv2dCpu {
    fn name(&self) -> &'static str {
        "conv2d-cpu-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<Storage> {
        let x = f32_contiguous("conv2d-cpu", "input", s1, l1)?;
        let r = f32_contiguous("conv2d-cpu", "residual", s2, l2)?;
        self.run(x, l1, Some(r))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::{Device, Module};

    /// Largest |a − b| (the CPU kernels' unit tests).
    pub(crate) fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Against candle's conv2d + bias + residual + clamp, for the kernel/stride/padding
    /// combinations of the backbones, odd and even sides, batches that do and do not split
    /// across threads.
    #[test]
    fn same_as_candle_conv2d() {
        let dev = Device::Cpu;
        for (k, stride, pad, h, w, batch) in [
            (1, 1, 0, 7, 9, 3),
            (1, 2, 0, 8, 7, 2),
            (3, 1, 1, 7, 9, 1),
            (3, 2, 1, 8, 8, 4),
            (3, 2, 1, 9, 7, 1),
            (7, 2, 3, 15, 13, 2),
            (5, 1, 0, 9, 11, 2),
            // Maps narrower than the stride: the last window starts past the edge.
            (3, 2, 1, 1, 1, 2),
            (7, 2, 3, 3, 2, 1),
        ] {
            let (ci, co) = (5, 6);
            let x = Tensor::randn(0f32, 1.0, (batch, ci, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 1.0, (co, ci, k, k), &dev).unwrap();
            let b = Tensor::randn(0f32, 1.0, co, &dev).unwrap();
            let cfg = candle_nn::Conv2dConfig {
                padding: pad,
                stride,
                dilation: 1,
                groups: 1,
                cudnn_fwd_algo: None,
            };
            let conv = candle_nn::Conv2d::new(wt.clone(), Some(b.clone()), cfg);
            let want = conv.forward(&x).unwrap();
            let op =
                Conv2dCpu::new(&wt, &b, stride, pad, (f32::NEG_INFINITY, f32::INFINITY)).unwrap();
            let got = x.apply_op1_no_bwd(&op).unwrap();
            assert_eq!(got.dims(), want.dims(), "k{k} s{stride} p{pad} {h}×{w}");
            let err = max_abs(&got, &want);
            assert!(err < 1e-4, "k{k} s{stride} p{pad} {h}×{w}: {err}");

            let skip = Tensor::randn(0f32, 1.0, want.dims(), &dev).unwrap();
            let relu6 = Conv2dCpu::new(&wt, &b, stride, pad, (0.0, 6.0)).unwrap();
            let got = x.apply_op2_no_bwd(&skip, &relu6).unwrap();
            let want = (want + &skip).unwrap().clamp(0f32, 6f32).unwrap();
            let err = max_abs(&got, &want);
            assert!(err < 1e-4, "residual k{k} s{stride} p{pad} {h}×{w}: {err}");
        }
    }

    #[test]
    fn refuses_an_input_narrower_than_the_kernel() {
        let dev = Device::Cpu;
        let wt = Tensor::zeros((4, 3, 5, 5), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros(4, candle_core::DType::F32, &dev).unwrap();
        let op = Conv2dCpu::new(&wt, &b, 1, 0, (0.0, f32::INFINITY)).unwrap();
        let x = Tensor::zeros((1, 3, 3, 8), candle_core::DType::F32, &dev).unwrap();
        let err = x.apply_op1_no_bwd(&op).unwrap_err().to_string();
        assert!(err.contains("5-wide kernel"), "{err}");
    }

    #[test]
    fn refuses_a_wrong_channel_count() {
        let dev = Device::Cpu;
        let wt = Tensor::zeros((4, 3, 3, 3), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros(4, candle_core::DType::F32, &dev).unwrap();
        let op = Conv2dCpu::new(&wt, &b, 1, 1, (0.0, f32::INFINITY)).unwrap();
        let x = Tensor::zeros((1, 2, 5, 5), candle_core::DType::F32, &dev).unwrap();
        let err = x.apply_op1_no_bwd(&op).unwrap_err().to_string();
        assert!(err.contains("2 channels"), "{err}");
    }
}
