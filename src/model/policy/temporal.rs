//! The temporal policy of Uni-AdaFocus (Wang et al., "Uni-AdaFocus: Spatial-temporal Dynamic
//! Computation for Video Recognition", TPAMI 2024; AdaFocusV3 §3): a small temporal CNN over
//! the pooled glance features gives one weight per glance frame, and the focus frames are the
//! quantiles of those weights. `Tconv.{0,1,3,4,6}` are the official `state_dict` names.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use crate::model::layers::fold_bn;

/// Conv1d over the glance frames, BatchNorm folded in (PyTorch stores it as a (k, 1) Conv2d).
#[derive(Debug, Clone)]
struct TemporalConv {
    weight: Tensor,
    bias: Option<Tensor>,
    padding: usize,
}

impl TemporalConv {
    fn new(
        cin: usize,
        cout: usize,
        k: usize,
        conv: VarBuilder,
        bn: Option<VarBuilder>,
    ) -> Result<Self> {
        let w = conv.get((cout, cin, k, 1), "weight")?.squeeze(3)?;
        let (weight, bias) = match bn {
            Some(bn) => {
                let (w, b) = fold_bn(&w, None, &bn)?;
                (w, Some(b))
            }
            None => (w, None),
        };
        Ok(Self {
            weight,
            bias,
            padding: (k - 1) / 2,
        })
    }

    /// Multiply-adds for `g` frames (plus one per BatchNorm channel, docs/ARCHITECTURE.md §5).
    fn macs(&self, g: usize) -> u64 {
        let d = self.weight.dims();
        let bn = if self.bias.is_some() { d[0] } else { 0 };
        (g * d[0] * d[1] * d[2] + bn) as u64
    }
}

impl Module for TemporalConv {
    /// x: 1×C×G → 1×O×G
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.conv1d(&self.weight, self.padding, 1, 1, 1)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
            None => Ok(y),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TemporalPolicy {
    convs: [TemporalConv; 3],
    temperature: f32,
}

/// What the temporal policy says about one video.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TemporalWeights {
    /// Raw scores, one per glance frame.
    pub logits: Vec<f32>,
    /// softmax(logits): the weights the official code returns.
    pub weights: Vec<f32>,
    /// softmax(logits / temperature): the weights the focus frames are drawn from.
    pub weights_t: Vec<f32>,
}

impl TemporalPolicy {
    /// `vb` is `temporal_policy`: `Tconv.0` (3,1) conv, `Tconv.1` BN, `Tconv.3` (3,1) conv,
    /// `Tconv.4` BN, `Tconv.6` 1×1 conv to one score.
    pub fn new(input_dim: usize, hidden: usize, temperature: f32, vb: VarBuilder) -> Result<Self> {
        let t = vb.pp("Tconv");
        Ok(Self {
            convs: [
                TemporalConv::new(input_dim, hidden, 3, t.pp("0"), Some(t.pp("1")))?,
                TemporalConv::new(hidden, hidden, 3, t.pp("3"), Some(t.pp("4")))?,
                TemporalConv::new(hidden, 1, 1, t.pp("6"), None)?,
            ],
            temperature,
        })
    }

    /// pooled: G×C glance features of one video.
    pub fn forward(&self, pooled: &Tensor) -> Result<TemporalWeights> {
        let x = pooled.t()?.unsqueeze(0)?.contiguous()?; // 1×C×G
        let x = self.convs[0].forward(&x)?.relu()?;
        let x = self.convs[1].forward(&x)?.relu()?;
        let scores = self.convs[2].forward(&x)?.flatten_all()?;
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let weights_t = candle_nn::ops::softmax(&(&scores / self.temperature as f64)?, D::Minus1)?;
        Ok(TemporalWeights {
            logits: scores.to_vec1()?,
            weights: weights.to_vec1()?,
            weights_t: weights_t.to_vec1()?,
        })
    }

    pub fn macs(&self, glance_frames: usize) -> u64 {
        self.convs.iter().map(|c| c.macs(glance_frames)).sum()
    }
}

/// Focus frames from glance weights, the deterministic rule of the official evaluation
/// (`policy_sample_indices` with `rand_sample=False`): threshold (i + ½)/N on the cumulative
/// weights (leading 0, last entry forced to 1), linear interpolation inside the glance cell
/// that crosses it, times `num_segments`, floor, then made strictly increasing and clamped so
/// all N fit. Float32 like PyTorch (its CPU cumsum accumulates in double).
/// Returns (positions in [0, 1], indices into the `num_segments` sampled frames).
pub fn quantile_focus(
    weights: &[f32],
    num_segments: usize,
    num_focus: usize,
) -> (Vec<f32>, Vec<usize>) {
    let g = weights.len();
    if g == 0 || num_focus == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut cum = Vec::with_capacity(g + 1);
    cum.push(0f32);
    let mut acc = 0f64;
    for &w in weights {
        acc += w as f64;
        cum.push(acc as f32);
    }
    cum[g] = 1.0;
    let gf = g as f32;
    let mut positions = Vec::with_capacity(num_focus);
    let mut indices: Vec<i64> = Vec::with_capacity(num_focus);
    for i in 0..num_focus {
        let thr = (i as f32 + 0.5) / num_focus as f32;
        let first = cum.iter().position(|&c| c >= thr).unwrap_or(0);
        let j = first.clamp(1, g) - 1;
        let (xa, xb) = (j as f32 / gf, (j + 1) as f32 / gf);
        let (ya, yb) = (cum[j], cum[j + 1]);
        let q = (xb * (thr - ya) - xa * (thr - yb)) / (yb - ya);
        positions.push(q);
        indices.push((q * num_segments as f32).floor() as i64);
    }
    for i in 1..num_focus {
        if indices[i] <= indices[i - 1] {
            indices[i] = indices[i - 1] + 1;
        }
    }
    let indices = indices
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let lim = (num_segments + i).saturating_sub(num_focus) as i64;
            v.clamp(0, lim) as usize
        })
        .collect();
    (positions, indices)
}
