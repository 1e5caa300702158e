//! `adalens eval`: a checkpoint on a labelled test split through the real decoding path, and
//! the report the bundled checkpoint ships with (docs/eval_report.{md,json}): the largest
//! budget and accuracy vs GFLOPs over the frame and stage thresholds, accuracy vs GFLOPs over
//! the exit budget (thresholds solved on the calibration set), learned vs random policies,
//! policy usage by family, cube placement against the target boxes, entropy vs random exit.

mod markdown;
pub(crate) mod oracle;
mod parts;
pub(crate) mod points;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod targets;

use std::path::Path;

use serde::Serialize;

use crate::calibrate::{assemble, pad_steps, Sample};
use crate::dataset::Entry;
use crate::decision::{CalibrationSet, Criterion, PreparedCalibration, Role};
use crate::model::config::ModelConfig;
use crate::model::load::LoadedModel;
use crate::synth::{Family, CLASSES};
pub use report::{Report, Target};
pub use run::{policy_sweep, read_boxes, run_video, VideoResult};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("no test video could be run ({failed} failed)")]
    NothingRan { failed: usize },
    #[error("{0}")]
    Decision(#[from] crate::decision::DecisionError),
    #[error("{0}")]
    Calibrate(#[from] crate::calibrate::CalibrateError),
}

/// The family of a benchmark class name, when it is one.
pub fn family_of(class: &str) -> Option<Family> {
    CLASSES
        .iter()
        .position(|&c| c == class)
        .map(crate::synth::family)
}

/// Run every entry; `progress(done, total)`.
pub fn run_all(
    model: &LoadedModel,
    entries: &[Entry],
    boxes: &std::collections::HashMap<String, Vec<[f32; 4]>>,
    data_dir: &Path,
    seed: u64,
    progress: &dyn Fn(usize, usize),
) -> (Vec<VideoResult>, Vec<(String, String)>) {
    let names = model.config.class_names();
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        progress(i, entries.len());
        let rel = e
            .path
            .strip_prefix(data_dir)
            .unwrap_or(&e.path)
            .to_string_lossy()
            .replace('\\', "/");
        let label = e
            .label
            .as_deref()
            .and_then(|l| names.iter().position(|n| n == l));
        let Some(label) = label else {
            failed.push((rel, format!("label {:?} is not a class", e.label)));
            continue;
        };
        let b = boxes.get(&rel).map(Vec::as_slice);
        match run_video(model, e, label as u32, b, seed) {
            Ok(r) => results.push(r),
            Err(why) => failed.push((rel, why.to_string())),
        }
    }
    progress(entries.len(), entries.len());
    (results, failed)
}

/// The runs as calibration samples of `steps` steps each (a run with fewer cubes stops at its
/// last step, as in `calibrate`).
fn samples(results: &[VideoResult], random: bool, steps: usize) -> Vec<Sample> {
    results
        .iter()
        .map(|r| {
            let s = if random { &r.random_policy } else { &r.learned };
            let (mut logits, mut gflops) = (s.logits.clone(), s.gflops.clone());
            pad_steps(&mut logits, &mut gflops, steps);
            Sample {
                path: String::new(),
                logits,
                gflops,
                label: r.label,
            }
        })
        .collect()
}

/// The test results as the evaluation split after the calibration set as the fitting split.
pub fn prepared(
    calibration: &CalibrationSet,
    results: &[VideoResult],
    steps: usize,
    classes: usize,
) -> Result<PreparedCalibration, EvalError> {
    let fit = calibration
        .clone()
        .with_roles(vec![Role::Fit; calibration.samples()])?;
    let test = assemble(&samples(results, false, steps), steps, classes)?;
    let n = test.samples();
    let test = test.with_roles(vec![Role::Eval; n])?;
    Ok(PreparedCalibration::new(CalibrationSet::from_splits(
        fit, test,
    )?)?)
}

/// Target (1b): at half the largest GFLOPs, top-1 within this of the largest budget's.
pub const HALF_TOLERANCE: f64 = 0.02;

/// Everything the report says, from the runs.
pub fn evaluate(
    model: &LoadedModel,
    calibration: &CalibrationSet,
    results: &[VideoResult],
    failed: usize,
    seed: u64,
) -> Result<Report, EvalError> {
    if results.is_empty() {
        return Err(EvalError::NothingRan { failed });
    }
    let steps = model.config.steps();
    let classes = model.config.class_names().len();
    let prep = prepared(calibration, results, steps, classes)?;
    let top1 = |set: &[Sample], t: usize| -> f64 {
        let ok = set
            .iter()
            .filter(|s| argmax(&s.logits[t]) == s.label as usize)
            .count();
        ok as f64 / set.len().max(1) as f64
    };
    let learned = samples(results, false, steps);
    let random = samples(results, true, steps);
    let last = steps - 1;
    let mean_last = |s: &[Sample]| s.iter().map(|x| x.gflops[last]).sum::<f64>() / s.len() as f64;
    let every_cube = report::Point {
        budget: mean_last(&learned),
        gflops: mean_last(&learned),
        top1: top1(&learned, last),
        random_exit_top1: top1(&learned, last),
    };
    // Results exist only for ada3d_focus checkpoints (`run_video` refuses the others).
    let own = match &model.config {
        ModelConfig::Ada3dFocus(c) => [c.frame_threshold, c.stage_threshold],
        _ => [f32::NAN; 2],
    };
    let policy_curve = report::policy_curve(results, own, &every_cube);
    // `policy_sweep`'s first pair is τ = 0: every frame, every stage 3D, every cube.
    let largest = report::sweep_point(results, 0);
    let curve = report::curve(&prep, Criterion::Entropy, seed)?;
    // (1b) with the checkpoint's own decisions, the exit thresholds solved on the calibration
    // set for half the largest GFLOPs (every cube when that fits: the exit has nothing to save).
    let half = report::at_budget(&prep, Criterion::Entropy, largest.gflops / 2.0, seed)?;
    // (1b) read with every cube at the checkpoint's thresholds as the largest budget.
    let half_exit = report::at_budget(&prep, Criterion::Entropy, every_cube.gflops / 2.0, seed)?;
    // Exits are compared where exits are decided: at half the largest GFLOPs when that lies
    // inside the exit's range; else at the middle of that range (the same range the curve
    // spans). Below the glance alone every video stops at step 0 and the entropy and random
    // exits are the same by construction; above every cube no video exits early.
    let (cheapest, dearest) = prep.fit_cost_range();
    let exit_where = report::ExitWhere::for_half(largest.gflops / 2.0, cheapest, dearest);
    let exit_budget = match exit_where {
        report::ExitWhere::Half => largest.gflops / 2.0,
        _ => (cheapest + dearest) / 2.0,
    };
    let (exit_point, exits) =
        report::at_budget_with_exits(&prep, Criterion::Entropy, exit_budget, seed)?;
    Ok(report::assemble(report::Parts {
        model,
        results,
        failed,
        thresholds: own,
        largest,
        every_cube,
        policy_curve,
        curve,
        half,
        half_exit,
        exit_point,
        exit_where,
        exit_point_exits: exits,
        random_policy_top1: top1(&random, last),
        random_policy_gflops: mean_last(&random),
        oracle: oracle::oracle_bound(&prep, HALF_TOLERANCE)?,
    }))
}

pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// Per-family means of `f` over the results of that family.
pub fn by_family<F: Fn(&VideoResult) -> f64>(results: &[VideoResult], fam: Family, f: F) -> f64 {
    let v: Vec<f64> = results
        .iter()
        .filter(|r| family_of(&r.class) == Some(fam))
        .map(f)
        .collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

#[derive(Debug, Clone, Serialize)]
pub struct FamilyRow {
    pub family: Family,
    pub videos: usize,
    pub top1: f64,
    pub mean_kept_frames: f64,
    pub mean_3d_stages: f64,
    /// Mean cubes run before the exit, at the budget where the exits are compared.
    pub mean_cubes_used: f64,
    /// Share of the videos whose target is at least half inside the model's input on some
    /// sampled frame (when boxes are known): a ceiling on what any policy can find.
    pub target_in_view: Option<f64>,
}
