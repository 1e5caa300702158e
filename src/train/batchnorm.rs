//! BatchNorm on batch statistics fused with its activation, forward and backward, for the CPU.
//! As a chain of candle ops a training BatchNorm makes about eight full-size passes forward
//! and twenty backward; here it is two passes each way (statistics, then output), with the
//! textbook gradient: dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)), dγ = Σ dy · x̂,
//! dβ = Σ dy, where dy is already masked by the activation's derivative.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use crate::model::conv_cpu::{cpu_threads, f32_contiguous, for_each_item};

/// Mean and biased variance of each channel of x (N, C, R).
fn channel_stats(x: &[f32], (n, c, r): (usize, usize, usize)) -> Vec<(f64, f64)> {
    let mut stats = vec![0f32; 2 * c];
    for_each_item(&mut stats, 2, cpu_threads(), |ch, dst, _| {
        let (mut s, mut s2) = (0f64, 0f64);
        for b in 0..n {
            for &v in &x[(b * c + ch) * r..][..r] {
                s += v as f64;
                s2 += (v as f64) * (v as f64);
            }
        }
        let m = (n * r).max(1) as f64;
        let mean = s / m;
        dst[0] = mean as f32;
        dst[1] = (s2 / m - mean * mean).max(0.0) as f32;
    });
    stats
        .chunks_exact(2)
        .map(|p| (p[0] as f64, p[1] as f64))
        .collect()
}

/// Per-channel (mean, biased variance) of x (N, C, …).
pub fn batch_stats(x: &Tensor) -> Result<Vec<(f64, f64)>> {
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let r: usize = dims[2..].iter().product();
    let v: Vec<f32> = x.detach().flatten_all()?.to_vec1()?;
    Ok(channel_stats(&v, (n, c, r)))
}

/// y = clamp(γ · (x − μ) / √(σ² + ε) + β, lo, hi) over x (N, C, R); `stats` are x's own
/// per-channel (μ, σ²) from [`batch_stats`], computed once for the running averages, the
/// forward and the backward pass.
pub struct BatchNormAct {
    pub eps: f64,
    pub clamp: (f32, f32),
    pub stats: Vec<(f64, f64)>,
}

impl CustomOp3 for BatchNormAct {
    fn name(&self) -> &'static str {
        "batchnorm-act-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_contiguous("batchnorm", "input", s1, l1)?;
        let gamma = f32_contiguous("batchnorm", "weight", s2, l2)?;
        let beta = f32_contiguous("batchnorm", "bias", s3, l3)?;
        let (n, c, r) = l1.shape().dims3()?;
        if self.stats.len() != c {
            candle_core::bail!(
                "batchnorm: {} statistics for {c} channels",
                self.stats.len()
            );
        }
        let stats = &self.stats;
        let (lo, hi) = self.clamp;
        let mut out = vec![0f32; n * c * r];
        for_each_item(&mut out, r, cpu_threads(), |p, dst, _| {
            let ch = p % c;
            let (mean, var) = stats[ch];
            let scale = gamma[ch] as f64 / (var + self.eps).sqrt();
            let shift = beta[ch] as f64 - mean * scale;
            let (scale, shift) = (scale as f32, shift as f32);
            for (o, &v) in dst.iter_mut().zip(&x[p * r..(p + 1) * r]) {
                *o = (v * scale + shift).clamp(lo, hi);
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, r))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, r) = x.dims3()?;
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let ys: Vec<f32> = res.flatten_all()?.to_vec1()?;
        let gs: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let gm: Vec<f32> = gamma.to_vec1()?;
        let stats = &self.stats;
        let (lo, hi) = self.clamp;
        // The activation passes the gradient where it did not clamp.
        let dy = |i: usize| {
            let y = ys[i];
            if (y > lo || lo == f32::NEG_INFINITY) && (y < hi || hi == f32::INFINITY) {
                gs[i]
            } else {
                0.0
            }
        };
        // Per channel: Σ dy and Σ dy·x̂.
        let mut sums = vec![0f32; 2 * c];
        for_each_item(&mut sums, 2, cpu_threads(), |ch, dst, _| {
            let (mean, var) = stats[ch];
            let inv = 1.0 / (var + self.eps).sqrt();
            let (mut s1, mut s2) = (0f64, 0f64);
            for b in 0..n {
                let base = (b * c + ch) * r;
                for (i, &x) in xs.iter().enumerate().skip(base).take(r) {
                    let d = dy(i) as f64;
                    s1 += d;
                    s2 += d * (x as f64 - mean) * inv;
                }
            }
            dst[0] = s1 as f32;
            dst[1] = s2 as f32;
        });
        let m = (n * r).max(1) as f64;
        let mut dx = vec![0f32; n * c * r];
        for_each_item(&mut dx, r, cpu_threads(), |p, dst, _| {
            let ch = p % c;
            let (mean, var) = stats[ch];
            let inv = 1.0 / (var + self.eps).sqrt();
            let (s1, s2) = (sums[2 * ch] as f64 / m, sums[2 * ch + 1] as f64 / m);
            let g = gm[ch] as f64 * inv;
            for (j, o) in dst.iter_mut().enumerate() {
                let i = p * r + j;
                let xhat = (xs[i] as f64 - mean) * inv;
                *o = (g * (dy(i) as f64 - s1 - xhat * s2)) as f32;
            }
        });
        let dev = x.device();
        let dgamma: Vec<f32> = (0..c).map(|ch| sums[2 * ch + 1]).collect();
        let dbeta: Vec<f32> = (0..c).map(|ch| sums[2 * ch]).collect();
        Ok((
            Some(Tensor::from_vec(dx, (n, c, r), dev)?),
            Some(Tensor::from_vec(dgamma, c, dev)?),
            Some(Tensor::from_vec(dbeta, c, dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Output and gradients equal the same BatchNorm + ReLU6 written as candle ops.
    #[test]
    fn fused_batchnorm_matches_candle_ops() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 2., (4, 3, 10), &dev).unwrap()).unwrap();
        let g = Var::from_tensor(&Tensor::new(&[1.0f32, 2.0, 0.5], &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::new(&[0.1f32, -0.3, 1.0], &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f32, 1., (4, 3, 10), &dev).unwrap();
        let op = BatchNormAct {
            eps: 1e-5,
            clamp: (0.0, 6.0),
            stats: batch_stats(&x).unwrap(),
        };
        let ours = x.apply_op3(&g, &b, op).unwrap();
        let mean = x.mean_keepdim(2).unwrap().mean_keepdim(0).unwrap();
        let var = x
            .broadcast_sub(&mean)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_keepdim(2)
            .unwrap()
            .mean_keepdim(0)
            .unwrap();
        let theirs = x
            .broadcast_sub(&mean)
            .unwrap()
            .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&g.reshape((1, 3, 1)).unwrap())
            .unwrap()
            .broadcast_add(&b.reshape((1, 3, 1)).unwrap())
            .unwrap()
            .clamp(0f32, 6f32)
            .unwrap();
        let diff = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert!(diff(&ours, &theirs) < 1e-4);
        let ga = (ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (theirs * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [x.as_tensor(), g.as_tensor(), b.as_tensor()] {
            assert!(diff(ga.get(v).unwrap(), gb.get(v).unwrap()) < 1e-3);
        }
    }
}
