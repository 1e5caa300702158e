//! The policies and the classifier of `ada3d_focus` in trainable form, batched over videos;
//! names as `model::ada3d` (`selection.*`), `model::policy` (`temporal_policy.Tconv.*`,
//! `spatial_policy.encoder.*`) and `model::classifier` (`classifier.*`).

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder, VarMap};

use super::layers::{linear, param, BatchNorm, Conv3dBn, LinearBnRelu, Mode};
use crate::model::layers::Act;

/// Ada3D's two heads on the frame-averaged glance features: m (B×T) and n (B×K).
#[derive(Debug, Clone)]
pub struct PolicyHeads {
    frame_head: Linear,
    stage_head: Linear,
}

impl PolicyHeads {
    pub fn new(in_f: usize, frames: usize, stages: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            frame_head: linear(in_f, frames, vb.pp("frame_head"))?,
            stage_head: linear(in_f, stages, vb.pp("stage_head"))?,
        })
    }

    /// `pooled` B×T×F → (m, n) after the sigmoid.
    pub fn forward(&self, pooled: &Tensor) -> Result<(Tensor, Tensor)> {
        let agg = pooled.mean(1)?;
        Ok((
            candle_nn::ops::sigmoid(&self.frame_head.forward(&agg)?)?,
            candle_nn::ops::sigmoid(&self.stage_head.forward(&agg)?)?,
        ))
    }
}

/// The temporal policy's parameters. Training leaves it uniform (its last layer zero), so the
/// cubes spread evenly over the kept frames; see `train::trainer` for why.
pub fn temporal_policy_params(
    input_dim: usize,
    hidden: usize,
    vb: VarBuilder,
    map: &VarMap,
) -> Result<()> {
    let t = vb.pp("Tconv");
    param(&t.pp("0"), (hidden, input_dim, 3, 1), "weight")?;
    BatchNorm::new(hidden, t.pp("1"), map)?;
    param(&t.pp("3"), (hidden, hidden, 3, 1), "weight")?;
    BatchNorm::new(hidden, t.pp("4"), map)?;
    param(&t.pp("6"), (1, hidden, 1, 1), "weight")?;
    Ok(())
}

/// Uni-AdaFocus's spatial policy: Conv3d 1×1×1 → 3×3×3 → 3×3×3 (BatchNorm, ReLU) → 1×M×M,
/// sigmoid: an action (y, x, scale_y, scale_x) per frame.
#[derive(Debug, Clone)]
pub struct SpatialPolicy {
    convs: [Conv3dBn; 3],
    head: Conv3dBn,
}

impl SpatialPolicy {
    pub fn new(
        input_dim: usize,
        hidden: usize,
        map_side: usize,
        vb: VarBuilder,
        map: &VarMap,
    ) -> Result<Self> {
        let e = vb.pp("encoder");
        let layer = |cin: usize, k: usize, conv: &str, bn: &str| {
            Conv3dBn::new(cin, hidden, (k, k), 1, Act::Relu, e.pp(conv), e.pp(bn), map)
        };
        let head = param(&e.pp("9"), (4, hidden, 1, map_side, map_side), "weight")?;
        Ok(Self {
            convs: [
                layer(input_dim, 1, "0", "1")?,
                layer(hidden, 3, "3", "4")?,
                layer(hidden, 3, "6", "7")?,
            ],
            head: Conv3dBn::bare(head),
        })
    }

    /// `maps` (B·T)×C×M×M, frame-major → actions B×T×4.
    pub fn forward(&self, maps: &Tensor, clips: usize, mode: Mode) -> Result<Tensor> {
        let mut x = maps.clone();
        for c in &self.convs {
            x = c.forward(&x, clips, None, None, mode)?;
        }
        let y = self.head.forward(&x, clips, None, None, mode)?;
        let t = maps.dim(0)? / clips.max(1);
        candle_nn::ops::sigmoid(&y.reshape((clips, t, 4))?)
    }
}

/// The pooling classifier (AdaFocusV2/V3's accumulated max pooling with a head per step).
#[derive(Debug, Clone)]
pub struct PoolingClassifier {
    global_mlp: LinearBnRelu,
    local_mlp: LinearBnRelu,
    global_heads: Vec<Linear>,
    local_heads: Vec<Linear>,
}

impl PoolingClassifier {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        global_dim: usize,
        local_dim: usize,
        hidden: usize,
        glance_steps: usize,
        focus_steps: usize,
        num_classes: usize,
        vb: VarBuilder,
        map: &VarMap,
    ) -> Result<Self> {
        let heads = |name: &str, n: usize, input: usize| -> Result<Vec<Linear>> {
            (0..n)
                .map(|i| linear(input, num_classes, vb.pp(name).pp(i).pp("1")))
                .collect()
        };
        Ok(Self {
            global_mlp: LinearBnRelu::new(global_dim, hidden, vb.pp("global_mlp.layers"), map)?,
            local_mlp: LinearBnRelu::new(local_dim, hidden, vb.pp("local_mlp.layers"), map)?,
            global_heads: heads("global_classifiers", glance_steps, hidden)?,
            local_heads: heads("local_classifiers", focus_steps, 2 * hidden)?,
        })
    }

    /// `global` B×T×F, `local` B×N×D → (T glance logits after frames 1..T, N logits after
    /// cubes 1..N), each B×classes.
    pub fn forward(
        &self,
        global: &Tensor,
        local: &Tensor,
        mode: Mode,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let (b, t, f) = global.dims3()?;
        let z1 = self
            .global_mlp
            .forward(&global.reshape((b * t, f))?, mode)?
            .reshape((b, t, ()))?;
        let mut glance = Vec::with_capacity(t);
        let mut run1 = z1.narrow(1, 0, 1)?.squeeze(1)?;
        for (i, head) in self.global_heads.iter().enumerate().take(t) {
            if i > 0 {
                run1 = run1.maximum(&z1.narrow(1, i, 1)?.squeeze(1)?)?;
            }
            glance.push(head.forward(&run1)?);
        }
        let (_, n, d) = local.dims3()?;
        let z2 = self
            .local_mlp
            .forward(&local.reshape((b * n, d))?, mode)?
            .reshape((b, n, ()))?;
        let mut steps = Vec::with_capacity(n);
        let mut run2: Option<Tensor> = None;
        for (k, head) in self.local_heads.iter().enumerate().take(n) {
            let zk = z2.narrow(1, k, 1)?.squeeze(1)?;
            let r = match run2 {
                Some(r) => r.maximum(&zk)?,
                None => zk,
            };
            steps.push(head.forward(&Tensor::cat(&[&r, &run1], D::Minus1)?)?);
            run2 = Some(r);
        }
        Ok((glance, steps))
    }
}
