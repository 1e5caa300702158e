//! A 3D convolution built from candle's 2D convolution (candle has no conv3d): a `kt×kh×kw`
//! kernel is the sum over its `kt` temporal taps of 2D convolutions on the frames each tap
//! sees. A stage that Ada3D degrades to 2D keeps only the centre tap `k[⌊kt/2⌋]` (Ada3D §3.2),
//! on the same weights.

use candle_core::{bail, Result, Tensor};

use super::flops::conv_out;

/// Weights and geometry of one Conv3d layer (PyTorch layout: out × in × kt × kh × kw).
#[derive(Debug, Clone)]
pub struct Conv3d {
    weight: Tensor,
    bias: Option<Tensor>,
    /// (t, h, w) strides and paddings; h and w must agree (candle's conv2d takes one of each).
    stride: (usize, usize),
    padding: (usize, usize),
}

impl Conv3d {
    pub fn new(
        weight: Tensor,
        bias: Option<Tensor>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> Result<Self> {
        if weight.rank() != 5 {
            bail!(
                "Conv3d weight must be out×in×kt×kh×kw, got {:?}",
                weight.dims()
            );
        }
        if stride[1] != stride[2] || padding[1] != padding[2] {
            bail!("Conv3d needs equal height and width stride and padding, got {stride:?} / {padding:?}");
        }
        Ok(Self {
            weight,
            bias,
            stride: (stride[0], stride[1]),
            padding: (padding[0], padding[1]),
        })
    }

    pub fn temporal_kernel(&self) -> usize {
        self.weight.dims()[2]
    }

    /// Output frames for `t` input frames (full 3D form).
    pub fn out_frames(&self, t: usize) -> usize {
        (t + 2 * self.padding.0).saturating_sub(self.temporal_kernel()) / self.stride.0 + 1
    }

    /// Output (frames, height, width) for a T×H×W input.
    pub fn out_shape(&self, (t, h, w): (usize, usize, usize)) -> (usize, usize, usize) {
        let d = self.weight.dims();
        let side = |n: usize, k: usize| conv_out(n, k, self.stride.1, self.padding.1);
        (self.out_frames(t), side(h, d[3]), side(w, d[4]))
    }

    /// x: N×C×T×H×W → N×O×T'×H'×W'. With `centre_only`, the kernel's centre temporal slice
    /// alone (the layer run as 2D), with the same temporal stride and output length.
    pub fn forward(&self, x: &Tensor, centre_only: bool) -> Result<Tensor> {
        let (n, c, t, h, w) = x.dims5()?;
        let kt = self.temporal_kernel();
        let (st, pt) = (self.stride.0, self.padding.0);
        let t_out = self.out_frames(t);
        let xp = if pt > 0 {
            x.pad_with_zeros(2, pt, pt)?
        } else {
            x.clone()
        };
        let taps: Vec<usize> = if centre_only {
            vec![kt / 2]
        } else {
            (0..kt).collect()
        };
        let mut sum: Option<Tensor> = None;
        for i in taps {
            // Frames tap i sees: padded index t'·st + i for every output frame t'.
            let idx: Vec<u32> = (0..t_out).map(|o| (o * st + i) as u32).collect();
            let idx = Tensor::new(idx.as_slice(), x.device())?;
            let frames = xp.index_select(&idx, 2)?; // N×C×T'×H×W
            let frames = frames
                .permute((0, 2, 1, 3, 4))?
                .reshape((n * t_out, c, h, w))?;
            let k = self.weight.narrow(2, i, 1)?.squeeze(2)?.contiguous()?;
            let y = frames
                .contiguous()?
                .conv2d(&k, self.padding.1, self.stride.1, 1, 1)?;
            sum = Some(match sum {
                Some(s) => (s + y)?,
                None => y,
            });
        }
        let Some(y) = sum else {
            bail!("Conv3d with an empty kernel")
        };
        let (_, o, ho, wo) = y.dims4()?;
        let mut y = y.reshape((n, t_out, o, ho, wo))?.permute((0, 2, 1, 3, 4))?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(&b.reshape((1, o, 1, 1, 1))?)?;
        }
        y.contiguous()
    }

    /// Multiply-adds for T×H×W input (one output position costs in·kt·kh·kw, or in·kh·kw when
    /// run as 2D).
    pub fn macs(&self, (t, h, w): (usize, usize, usize), centre_only: bool) -> u64 {
        let d = self.weight.dims();
        let (o, i, kt, k) = (d[0], d[1], d[2], d[3]);
        let (_, ho, wo) = self.out_shape((t, h, w));
        let taps = if centre_only { 1 } else { kt };
        (o * self.out_frames(t) * ho * wo) as u64 * (i * taps * k * d[4]) as u64
    }
}
