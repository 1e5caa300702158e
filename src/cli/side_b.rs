//! Run B of `diff` and `figure --compare`: what B changes of A (another checkpoint, budget,
//! criterion, τ_f / τ_s or cube cap; what it leaves unset it takes from A).

use std::path::PathBuf;

use crate::decision::{Criterion, ExitRule, PreparedCalibration};
use crate::model::config::Knobs;
use crate::model::load::{calibration_sidecar, ConfigOverrides, LoadedModel};
use crate::runner::load_calibration;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct SideBArgs {
    /// B's checkpoint (default: A's).
    #[arg(long)]
    pub checkpoint_b: Option<PathBuf>,
    /// B's budget (default: A's), on B's checkpoint's calibration set.
    #[arg(long)]
    pub budget_b: Option<f64>,
    /// B's exit criterion (default: A's).
    #[arg(long)]
    pub criterion_b: Option<Criterion>,
    /// B's τ_f, τ_s and cube cap (default: A's settings).
    #[arg(long)]
    pub tau_f_b: Option<f32>,
    #[arg(long)]
    pub tau_s_b: Option<f32>,
    #[arg(long)]
    pub max_cubes_b: Option<usize>,
}

/// What A was asked for: its τ_f / τ_s / cube cap overrides, budget and criterion.
pub struct SideA<'a> {
    pub model: &'a LoadedModel,
    pub tau_f: Option<f32>,
    pub tau_s: Option<f32>,
    pub max_cubes: Option<usize>,
    pub budget: Option<f64>,
    pub criterion: Criterion,
}

/// B: its own model when it has another checkpoint, its knobs and its exit rule.
pub struct SideB {
    pub model: Option<LoadedModel>,
    pub knobs: Knobs,
    pub rule: ExitRule,
}

impl SideB {
    /// B's model: its own, else A's.
    pub fn model<'a>(&'a self, a: &'a LoadedModel) -> &'a LoadedModel {
        self.model.as_ref().unwrap_or(a)
    }
}

/// A checkpoint's knobs with these overrides.
pub fn knobs(m: &LoadedModel, tau_f: Option<f32>, tau_s: Option<f32>, cap: Option<usize>) -> Knobs {
    m.config.knobs().with(tau_f, tau_s, cap)
}

/// A budget's exit rule on `model`'s calibration set (every step when there is no budget).
pub fn exit_rule(
    model: &LoadedModel,
    budget: Option<f64>,
    criterion: Criterion,
) -> anyhow::Result<ExitRule> {
    let Some(b) = budget else {
        return Ok(ExitRule::last_step(criterion));
    };
    let path = calibration_sidecar(&model.path);
    let prep = PreparedCalibration::new(load_calibration(model, &path)?)?;
    Ok(ExitRule::for_budget(&prep, criterion, b)?.0)
}

impl SideBArgs {
    /// Whether B changes anything of A.
    pub fn is_set(&self) -> bool {
        self.checkpoint_b.is_some()
            || self.budget_b.is_some()
            || self.criterion_b.is_some()
            || self.tau_f_b.is_some()
            || self.tau_s_b.is_some()
            || self.max_cubes_b.is_some()
    }

    /// Open B beside `a` (on A's device).
    pub fn open(&self, a: &SideA) -> anyhow::Result<SideB> {
        let model = match &self.checkpoint_b {
            Some(p) if *p != a.model.path => Some(LoadedModel::open(
                p,
                None,
                &ConfigOverrides::default(),
                &a.model.device,
            )?),
            _ => None,
        };
        let mb = model.as_ref().unwrap_or(a.model);
        let knobs = knobs(
            mb,
            self.tau_f_b.or(a.tau_f),
            self.tau_s_b.or(a.tau_s),
            self.max_cubes_b.or(a.max_cubes),
        );
        let rule = exit_rule(
            mb,
            self.budget_b.or(a.budget),
            self.criterion_b.unwrap_or(a.criterion),
        )?;
        Ok(SideB { model, knobs, rule })
    }
}
