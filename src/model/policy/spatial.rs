//! The spatial policy of Uni-AdaFocus (AdaFocusV3 §3): a small 3D CNN over the glance feature
//! maps of all glance frames gives, per frame, the box the local network looks at — four
//! sigmoid outputs (y, x, scale_y, scale_x) in the official order — and the boxes of the other
//! frames are interpolated linearly in time. `encoder.{0,1,3,4,6,7,9}` are the official names.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::conv3d::Conv3d;
use crate::model::layers::fold_bn;

#[derive(Debug, Clone)]
pub struct SpatialPolicy {
    /// 1×1×1, 3×3×3, 3×3×3 (each with BatchNorm folded in and a ReLU), then 1×M×M to 4 outputs.
    convs: [Conv3d; 4],
    bn_channels: usize,
}

impl SpatialPolicy {
    /// `input_dim` channels of the glance feature map, `map_side` its side M (7 at 224²).
    pub fn new(input_dim: usize, hidden: usize, map_side: usize, vb: VarBuilder) -> Result<Self> {
        let e = vb.pp("encoder");
        let conv_bn = |cin: usize, k: usize, conv: &str, bn: &str| -> Result<Conv3d> {
            let w = e.pp(conv).get((hidden, cin, k, k, k), "weight")?;
            let (w, b) = fold_bn(&w, None, &e.pp(bn))?;
            let p = k / 2;
            Conv3d::new(w, Some(b), [1, 1, 1], [p, p, p])
        };
        let head = e
            .pp("9")
            .get((4, hidden, 1, map_side, map_side), "weight")?;
        Ok(Self {
            convs: [
                conv_bn(input_dim, 1, "0", "1")?,
                conv_bn(hidden, 3, "3", "4")?,
                conv_bn(hidden, 3, "6", "7")?,
                Conv3d::new(head, None, [1, 1, 1], [0, 0, 0])?,
            ],
            bn_channels: 3 * hidden,
        })
    }

    /// As [`forward`](Self::forward), as one (y, x, scale_y, scale_x) array per frame.
    pub fn actions(&self, feature_maps: &Tensor) -> Result<Vec<[f32; 4]>> {
        Ok(self
            .forward(feature_maps)?
            .to_vec2::<f32>()?
            .into_iter()
            .map(|r| [r[0], r[1], r[2], r[3]])
            .collect())
    }

    /// feature_maps: G×C×M×M of one video → G×4 actions in [0, 1].
    pub fn forward(&self, feature_maps: &Tensor) -> Result<Tensor> {
        let mut x = feature_maps
            .permute((1, 0, 2, 3))?
            .unsqueeze(0)?
            .contiguous()?; // 1×C×G×M×M
        for c in &self.convs[..3] {
            x = c.forward(&x, false)?.relu()?;
        }
        let y = self.convs[3].forward(&x, false)?; // 1×4×G×1×1
        candle_nn::ops::sigmoid(&y.flatten_from(2)?.squeeze(0)?.t()?.contiguous()?)
    }

    /// Multiply-adds for `g` glance maps of side `m` (plus one per BatchNorm channel).
    pub fn macs(&self, g: usize, m: usize) -> u64 {
        let mut shape = (g, m, m);
        let mut total = self.bn_channels as u64;
        for c in &self.convs {
            total += c.macs(shape, false);
            shape = c.out_shape(shape);
        }
        total
    }
}

/// `F.interpolate(actions, size=total, mode='linear', align_corners=False)` along time, for
/// G×4 actions (rows = glance frames) → total×4.
pub fn interpolate_actions(actions: &[[f32; 4]], total: usize) -> Vec<[f32; 4]> {
    let g = actions.len();
    if g == 0 {
        return Vec::new();
    }
    let scale = g as f32 / total as f32;
    (0..total)
        .map(|i| {
            let src = (scale * (i as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(g - 1);
            let i1 = (i0 + 1).min(g - 1);
            let l1 = src - i0 as f32;
            let l0 = 1.0 - l1;
            std::array::from_fn(|k| l0 * actions[i0][k] + l1 * actions[i1][k])
        })
        .collect()
}
