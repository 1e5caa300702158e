//! The pooling classifier of AdaFocusV3 (§3, eq. 1) / Uni-AdaFocus: each glance frame and each
//! focus patch is lifted by an MLP (Linear → BN1d → ReLU), features are max-pooled over the
//! steps seen so far, and every step has its own linear head, so a prediction exists after
//! every step and the model can stop at any of them. Names follow the official
//! `classifier.global_mlp.layers`, `classifier.global_classifiers.{i}.1`, ….

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::layers::LinearBnRelu;

/// The running max-pools after the glance and the patches seen so far.
#[derive(Debug, Clone)]
pub struct PoolingState {
    global: Tensor,
    local: Option<Tensor>,
    patches: usize,
}

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
        let (mut rows, mut state) = self.glance(global)?;
        // The MLP once on every patch (one matmul, its weights read once), then the running
        // maximum and the heads step by step.
        let z2 = self.local_mlp.forward(local)?;
        for i in 0..z2.dim(0)? {
            rows.push(self.add_features(&mut state, z2.narrow(0, i, 1)?)?);
        }
        Tensor::cat(&rows, 0)
    }

    /// The glance steps: one 1×classes row per glance head, and the running state the patch
    /// steps continue from.
    pub fn glance(&self, global: &Tensor) -> Result<(Vec<Tensor>, PoolingState)> {
        let z1 = self.global_mlp.forward(global)?;
        let mut rows = Vec::new();
        let mut run1 = z1.narrow(0, 0, 1)?;
        for (i, head) in self.global_heads.iter().enumerate().take(z1.dim(0)?) {
            if i > 0 {
                run1 = run1.maximum(&z1.narrow(0, i, 1)?)?;
            }
            rows.push(head.forward(&run1)?);
        }
        let state = PoolingState {
            global: run1,
            local: None,
            patches: 0,
        };
        Ok((rows, state))
    }

    /// One more patch (1×Cl pooled features): the next step's 1×classes logits. Each patch
    /// costs its own MLP row and head only, so a run that stops early computes nothing twice.
    pub fn add_patch(&self, state: &mut PoolingState, local: &Tensor) -> Result<Tensor> {
        self.add_features(state, self.local_mlp.forward(local)?)
    }

    /// The next step from a patch's 1×hidden local-MLP output.
    fn add_features(&self, state: &mut PoolingState, z2: Tensor) -> Result<Tensor> {
        let Some(head) = self.local_heads.get(state.patches) else {
            candle_core::bail!(
                "patch {} for {} patch heads",
                state.patches + 1,
                self.local_heads.len()
            )
        };
        let run2 = match &state.local {
            Some(r) => r.maximum(&z2)?,
            None => z2,
        };
        let logits = head.forward(&Tensor::cat(&[&run2, &state.global], 1)?)?;
        state.local = Some(run2);
        state.patches += 1;
        Ok(logits)
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
