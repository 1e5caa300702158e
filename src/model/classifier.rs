//! The pooling classifier of AdaFocusV3 (§3, eq. 1) / Uni-AdaFocus: each glance frame and each
//! focus patch is lifted by an MLP (Linear → BN1d → ReLU), features are max-pooled over the
//! steps seen so far, and every step has its own linear head, so a prediction exists after
//! every step and the model can stop at any of them. Names follow the official
//! `classifier.global_mlp.layers`, `classifier.global_classifiers.{i}.1`, ….

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::layers::LinearBnRelu;

#[derive(Debug, Clone)]
pub struct PoolingClassifier {
    global_mlp: LinearBnRelu,
    local_mlp: LinearBnRelu,
    /// One head per glance step (input: hidden).
    global_heads: Vec<Linear>,
    /// One head per focus step (input: local ‖ global pooled, 2·hidden).
    local_heads: Vec<Linear>,
    num_classes: usize,
}

impl PoolingClassifier {
    pub fn new(
        global_dim: usize,
        local_dim: usize,
        hidden: usize,
        glance_steps: usize,
        focus_steps: usize,
        num_classes: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let heads = |name: &str, n: usize, input: usize| -> Result<Vec<Linear>> {
            (0..n)
                .map(|i| candle_nn::linear(input, num_classes, vb.pp(name).pp(i).pp("1")))
                .collect()
        };
        Ok(Self {
            global_mlp: LinearBnRelu::new(global_dim, hidden, vb.pp("global_mlp.layers"))?,
            local_mlp: LinearBnRelu::new(local_dim, hidden, vb.pp("local_mlp.layers"))?,
            global_heads: heads("global_classifiers", glance_steps, hidden)?,
            local_heads: heads("local_classifiers", focus_steps, 2 * hidden)?,
            num_classes,
        })
    }

    /// global: G×Cg pooled glance features, local: N×Cl pooled patch features (N may be
    /// fewer than the heads: a run that stopped early) → (G + N)×classes logits, glance heads
    /// first.
    pub fn forward(&self, global: &Tensor, local: &Tensor) -> Result<Tensor> {
        let z1 = self.global_mlp.forward(global)?;
        let mut rows = Vec::new();
        let mut run1 = z1.narrow(0, 0, 1)?;
        for (i, head) in self.global_heads.iter().enumerate().take(z1.dim(0)?) {
            if i > 0 {
                run1 = run1.maximum(&z1.narrow(0, i, 1)?)?;
            }
            rows.push(head.forward(&run1)?);
        }
        if local.dim(0)? > 0 {
            let z2 = self.local_mlp.forward(local)?;
            let mut run2 = z2.narrow(0, 0, 1)?;
            for (i, head) in self.local_heads.iter().enumerate().take(z2.dim(0)?) {
                if i > 0 {
                    run2 = run2.maximum(&z2.narrow(0, i, 1)?)?;
                }
                rows.push(head.forward(&Tensor::cat(&[&run2, &run1], 1)?)?);
            }
        }
        Tensor::cat(&rows, 0)
    }

    /// Multiply-adds of the glance part per glance frame (MLP + BN + head) and of the local
    /// part per patch, as the official FLOPs table counts them.
    pub fn macs_per_glance(&self) -> u64 {
        self.global_mlp.macs() + (self.global_mlp.out_features() * self.num_classes) as u64
    }

    pub fn macs_per_patch(&self) -> u64 {
        self.local_mlp.macs() + (2 * self.local_mlp.out_features() * self.num_classes) as u64
    }
}
