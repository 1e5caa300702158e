//! What-if: one clip's decisions edited by hand — a cube moved, a frame kept or discarded, a
//! stage run 3D or 2D — and the local network run again on the edited plan, the glance and the
//! policies reused from the session. The edited plan is what the model would have run had its
//! policies chosen so: a moved cube is the spatial policy's action moved (same size), a
//! toggled frame or stage is the frame or stage policy's decision flipped, and the cubes are
//! then placed on the kept frames as the model places them (AdaFocusV3's temporal quantiles).

use serde::{Deserialize, Serialize};

use super::session::Session;
use super::RunError;
use crate::decision::trace::ClipTrace;
use crate::model::ada3d_focus::{plan_cubes, Ada3dFocus, GlanceCache, Plan};
use crate::model::config::Knobs;
use crate::model::patch::Region;

/// One edit of a clip's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Edit {
    /// Cube `order` (1-based, the step it is computed at) centred at `(x, y)` in model-input
    /// pixels, its size kept, moved back inside the frame if it would leave it.
    MoveCube { order: usize, x: f32, y: f32 },
    /// Sampled frame `index` (of the clip's T) kept if it was discarded, discarded if kept.
    ToggleFrame { index: usize },
    /// Stage `index` (of the adaptive stages) run 2D if it ran 3D, 3D if 2D.
    ToggleStage { index: usize },
}

/// A clip run with edits: its trace (as a run's) and every step's logits.
#[derive(Debug, Clone)]
pub struct WhatIf {
    pub trace: ClipTrace,
    pub step_logits: Vec<Vec<f32>>,
    /// The plan that ran.
    pub plan: Plan,
}

/// Why an edit cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("what-if edits need an ada3d_focus checkpoint (this one decides no cubes)")]
    Arch,
    #[error("the clip has no cube {0}")]
    NoCube(usize),
    #[error("the clip has no sampled frame {0}")]
    NoFrame(usize),
    #[error("the model has no adaptive stage {0}")]
    NoStage(usize),
    #[error("a clip needs at least one kept frame")]
    NothingKept,
}

/// The plan of `cache` for `knobs` with `edits` applied in order.
pub fn edited_plan(
    net: &Ada3dFocus,
    cache: &GlanceCache,
    knobs: &Knobs,
    edits: &[Edit],
) -> Result<Plan, EditError> {
    let (mut kept, mut stages) = cache
        .policy
        .decide(knobs.frame_threshold, knobs.stage_threshold);
    let t = cache.temporal_weights.len();
    for e in edits {
        match *e {
            Edit::ToggleFrame { index } if index >= t => return Err(EditError::NoFrame(index)),
            Edit::ToggleFrame { index } => match kept.binary_search(&index) {
                Ok(at) => {
                    kept.remove(at);
                }
                Err(at) => kept.insert(at, index),
            },
            Edit::ToggleStage { index } => {
                let s = stages.get_mut(index).ok_or(EditError::NoStage(index))?;
                *s = !*s;
            }
            Edit::MoveCube { .. } => {}
        }
    }
    if kept.is_empty() {
        return Err(EditError::NothingKept);
    }
    let mut plan = plan_cubes(
        &net.config,
        kept,
        stages,
        &cache.temporal_weights,
        &cache.actions,
    );
    if let Some(max) = knobs.max_cubes {
        plan.cubes.truncate(max);
        plan.positions.truncate(max);
    }
    let side = net.config.input_size as f32;
    for e in edits {
        if let Edit::MoveCube { order, x, y } = *e {
            let cube = order
                .checked_sub(1)
                .and_then(|k| plan.cubes.get_mut(k))
                .ok_or(EditError::NoCube(order))?;
            cube.region = moved(cube.region, x, y, side);
        }
    }
    Ok(plan)
}

/// `r` centred at `(x, y)`, its size kept, inside a `side`² frame.
pub fn moved(r: Region, x: f32, y: f32, side: f32) -> Region {
    let (w, h) = (r.x2 - r.x1, r.y2 - r.y1);
    let x1 = (x - w / 2.0).clamp(0.0, (side - w).max(0.0));
    let y1 = (y - h / 2.0).clamp(0.0, (side - h).max(0.0));
    Region {
        x1,
        y1,
        x2: x1 + w,
        y2: y1 + h,
    }
}

impl Session {
    /// Clip `clip` run with `edits` over the decisions `knobs` give (the glance and the
    /// policies of a run before are reused; a clip not run yet is glanced first).
    pub fn what_if(
        &mut self,
        clip: usize,
        knobs: &Knobs,
        edits: &[Edit],
    ) -> Result<WhatIf, RunError> {
        let frames = self.input.clip(clip, &crate::video::Control::default())?;
        let sampled = self.input.sampled.clip(clip, self.input.clip_len);
        let (net, cache) = self.focus_glance(clip, &frames)?;
        let plan = edited_plan(&net, &cache, knobs, edits)?;
        let out = net.run_plan(&frames, &cache, plan)?;
        let trace = crate::model::inspect::ada3d_focus_clip(&out, &sampled, net.config.input_size);
        Ok(WhatIf {
            trace,
            step_logits: out.step_logits,
            plan: out.plan,
        })
    }
}
