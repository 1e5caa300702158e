//! What `figure` and `batch` share: the checkpoint with its config flags, τ_f/τ_s and the cube
//! cap, and the exit (a budget solved on the checkpoint's calibration set, or thresholds).

use std::path::PathBuf;

use crate::decision::{Clamp, Criterion, ExitRule, PreparedCalibration};
use crate::model::config::Knobs;
use crate::model::load::{calibration_sidecar, LoadedModel};
use crate::runner::load_calibration;
use anyhow::Context;

use super::inspect::CheckpointArgs;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The checkpoint to run (`figure --trace` draws a logged trace instead).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub model: CheckpointArgs,
    #[command(flatten)]
    pub exit: ExitArgs,
    /// At most this many cubes (ada3d_focus; default: the checkpoint's).
    #[arg(long)]
    pub max_cubes: Option<usize>,
}

impl RunArgs {
    /// The model, the thresholds it runs with and its exit rule.
    pub fn open(&self) -> anyhow::Result<(LoadedModel, Knobs, Option<ExitRule>)> {
        let Some(checkpoint) = &self.checkpoint else {
            anyhow::bail!("give the checkpoint to run: --checkpoint CK");
        };
        let model = self.model.open(checkpoint)?;
        let rule = self.exit.rule(&model)?;
        let knobs = Knobs {
            max_cubes: self.max_cubes,
            ..model.config.knobs()
        };
        Ok((model, knobs, rule))
    }
}

/// A threshold per step: a number, or `none` for a step nobody stops at.
fn parse_threshold(s: &str) -> Result<Option<f64>, String> {
    match s.trim() {
        "none" | "-" | "" => Ok(None),
        t => t
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("{t:?} is not a threshold (a number or `none`)")),
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct ExitArgs {
    /// Stop each video where the thresholds for this budget (mean GFLOPs per video, solved on
    /// the checkpoint's calibration set) say; without --budget or --thresholds every step runs.
    #[arg(long, conflicts_with = "thresholds")]
    pub budget: Option<f64>,
    /// Thresholds per step instead of a budget, `η0,η1,…` (`none` = never stop at that step).
    #[arg(long, value_delimiter = ',', value_parser = parse_threshold)]
    pub thresholds: Option<Vec<Option<f64>>>,
    /// Exit criterion: entropy (stop when H ≤ η_t) or confidence (stop when max p ≥ τ_t).
    #[arg(long, default_value = "entropy")]
    pub criterion: Criterion,
    /// Calibration set for --budget (default: `NAME.adlcal` beside the checkpoint).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
}

impl ExitArgs {
    /// The exit rule these options ask for, if any (`--budget` on the checkpoint's
    /// calibration set, `NAME.adlcal` beside it, or `--calibration`).
    pub fn rule(&self, model: &LoadedModel) -> anyhow::Result<Option<ExitRule>> {
        self.rule_with(|| {
            let path = self
                .calibration
                .clone()
                .unwrap_or_else(|| calibration_sidecar(&model.path));
            if !path.is_file() {
                anyhow::bail!(
                    "--budget needs a calibration set: {} does not exist (make one with \
                     `adalens calibrate`, or pass --calibration)",
                    path.display()
                );
            }
            let set = load_calibration(model, &path)?;
            Ok((path, set))
        })
    }

    /// The exit rule for a trace logged elsewhere (no model): `--thresholds`, or `--budget`
    /// solved on `--calibration` (default: `calibration.adlcal` beside the trace).
    pub fn rule_for_trace(
        &self,
        trace: &std::path::Path,
        classes: usize,
    ) -> anyhow::Result<Option<ExitRule>> {
        self.rule_with(|| {
            let path = self.calibration.clone().unwrap_or_else(|| {
                trace
                    .parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("calibration.adlcal")
            });
            let set = crate::decision::CalibrationSet::load(&path)?;
            if set.classes() != classes {
                anyhow::bail!(
                    "{}: {} classes, the trace has {classes}",
                    path.display(),
                    set.classes()
                );
            }
            Ok((path, set))
        })
    }

    /// `--thresholds` as they are, or `--budget` solved on the set `calibration` reads.
    fn rule_with(
        &self,
        calibration: impl FnOnce() -> anyhow::Result<(PathBuf, crate::decision::CalibrationSet)>,
    ) -> anyhow::Result<Option<ExitRule>> {
        if let Some(thresholds) = &self.thresholds {
            return Ok(Some(ExitRule {
                criterion: self.criterion,
                thresholds: thresholds.clone(),
                budget: None,
            }));
        }
        let Some(budget) = self.budget else {
            return Ok(None);
        };
        let (path, set) = calibration()?;
        self.solve(&path, set, budget).map(Some)
    }

    /// The thresholds for `budget` on the calibration set `set` (read from `path`).
    fn solve(
        &self,
        path: &std::path::Path,
        set: crate::decision::CalibrationSet,
        budget: f64,
    ) -> anyhow::Result<ExitRule> {
        let prep = PreparedCalibration::new(set).context("preparing the calibration set")?;
        let (rule, sol) = ExitRule::for_budget(&prep, self.criterion, budget)
            .with_context(|| format!("thresholds for a budget of {budget} GFLOPs"))?;
        if sol.clamp != Clamp::None {
            let (lo, hi) = sol.fit_cost_range;
            eprintln!(
                "adalens: a budget of {budget} GFLOPs is outside what {} reaches \
                 ({lo:.4} … {hi:.4}); every video stops at its {} step",
                path.display(),
                if budget < lo { "first" } else { "last" }
            );
        }
        Ok(rule)
    }
}
