//! Build a calibration set (what the budget solver and the window's budget slider need) by
//! running a checkpoint over labelled videos: every step's class scores and cumulative GFLOPs per
//! video, through the same decoding path the window uses. Samples alternate between the fitting
//! and the evaluation split, so thresholds are never judged on the videos they were fitted to.

use std::path::{Path, PathBuf};

use crate::decision::{CalibrationSet, Labels, OutputKind, Role, StepCosts};
use crate::model::load::LoadedModel;
use crate::pipeline::{self, RawOutput};
use crate::video::{Control, Video};

#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error("{path}: {message}")]
    List { path: PathBuf, message: String },
    #[error("no video of the list could be run ({failed} failed)")]
    NothingRan { failed: usize },
    #[error("{0} has no per-step predictions to calibrate an exit on")]
    NoSteps(&'static str),
    #[error(transparent)]
    Decision(#[from] crate::decision::DecisionError),
}

/// One line of a `path,label` list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub path: PathBuf,
    /// A class name or index; `None` when the list has no label column.
    pub label: Option<String>,
}

/// Read `path,label` lines (a header line `path,label` is skipped; relative paths are taken
/// from the list's folder; blank lines and `#` comments ignored).
pub fn read_list(list: &Path) -> Result<Vec<ListEntry>, CalibrateError> {
    let err = |message: String| CalibrateError::List {
        path: list.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(list).map_err(|e| err(e.to_string()))?;
    let base = list.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("path")) {
            continue;
        }
        let (p, label) = match line.rsplit_once(',') {
            Some((p, l)) => (p.trim(), Some(l.trim().to_string())),
            None => (line, None),
        };
        if p.is_empty() {
            return Err(err(format!("line {}: no path", n + 1)));
        }
        let p = Path::new(p);
        out.push(ListEntry {
            path: if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            },
            label: label.filter(|l| !l.is_empty()),
        });
    }
    if out.is_empty() {
        return Err(err("lists no videos".into()));
    }
    Ok(out)
}

/// A class index from a label: a class name of the checkpoint or a number below its classes.
pub fn class_index(label: &str, class_names: &[String], classes: usize) -> Option<u32> {
    if let Some(i) = class_names.iter().position(|n| n == label) {
        return Some(i as u32);
    }
    label
        .parse::<u32>()
        .ok()
        .filter(|&i| (i as usize) < classes)
}

/// The result: the set, and the videos that could not be used with why.
pub struct Calibrated {
    pub set: CalibrationSet,
    pub failed: Vec<(PathBuf, String)>,
}

/// Run `model` on every entry (with the checkpoint's τ_f, τ_s and all cubes). With
/// `self_labels`, each video's label is the model's own prediction after its last step, so the
/// set measures agreement with the full model (for a model without labelled data).
pub fn calibrate(
    model: &LoadedModel,
    entries: &[ListEntry],
    self_labels: bool,
    progress: &dyn Fn(usize, usize),
) -> Result<Calibrated, CalibrateError> {
    let steps = model_steps(model);
    if steps <= 1 {
        return Err(CalibrateError::NoSteps(model.arch()));
    }
    let names = model.config.class_names();
    let classes = names.len();
    let mut outputs = Vec::new();
    let mut costs = Vec::new();
    let mut labels = Vec::new();
    let mut failed = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        progress(i, entries.len());
        let label = match (&e.label, self_labels) {
            (_, true) => None,
            (Some(l), false) => match class_index(l, &names, classes) {
                Some(c) => Some(c),
                None => {
                    failed.push((e.path.clone(), format!("unknown class {l:?}")));
                    continue;
                }
            },
            (None, false) => {
                failed.push((e.path.clone(), "no label (or pass --self-labels)".into()));
                continue;
            }
        };
        let run = Video::open(&e.path)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                pipeline::video_input(&v, model, &Control::default()).map_err(|e| e.to_string())
            })
            .and_then(|input| pipeline::inspect(model, &input).map_err(|e| e.to_string()));
        let run = match run {
            Ok(r) => r,
            Err(why) => {
                failed.push((e.path.clone(), why));
                continue;
            }
        };
        let mut logits = match &run.raw {
            RawOutput::Ada3dFocus(o) => o.step_logits.clone(),
            RawOutput::UniAdaFocus(o) => o.step_logits.clone(),
            RawOutput::Ada3d { .. } => return Err(CalibrateError::NoSteps(model.arch())),
        };
        let last_steps = run.trace.clips.first().map(|c| &c.steps[..]).unwrap_or(&[]);
        let mut gflops: Vec<f64> = last_steps.iter().map(|s| s.cumulative_gflops).collect();
        // Self-labelling: the class the full run predicts (its last step's top-1).
        let own = last_steps
            .last()
            .and_then(|s| s.top.first())
            .map(|t| t.class);
        // With fewer kept frames than cubes a video has fewer steps; stopping at a step it
        // does not have means stopping at its last one, with that prediction and cost.
        while logits.len() < steps {
            let (Some(l), Some(g)) = (logits.last().cloned(), gflops.last().copied()) else {
                break;
            };
            logits.push(l);
            gflops.push(g);
        }
        if logits.len() != steps || gflops.len() != steps {
            failed.push((
                e.path.clone(),
                format!("{} steps where the checkpoint has {steps}", logits.len()),
            ));
            continue;
        }
        let Some(label) = label.or(own) else {
            failed.push((e.path.clone(), "the model made no prediction".into()));
            continue;
        };
        outputs.extend(logits.iter().flatten());
        costs.extend(gflops);
        labels.push(label);
    }
    progress(entries.len(), entries.len());
    let samples = labels.len();
    if samples == 0 {
        return Err(CalibrateError::NothingRan {
            failed: failed.len(),
        });
    }
    let roles = (0..samples)
        .map(|i| {
            if samples < 2 {
                Role::Both
            } else if i % 2 == 0 {
                Role::Fit
            } else {
                Role::Eval
            }
        })
        .collect();
    let set = CalibrationSet::new(
        samples,
        steps,
        classes,
        OutputKind::Logits,
        outputs,
        Labels::Single(labels),
        StepCosts::PerSample(costs),
        roles,
    )?;
    Ok(Calibrated { set, failed })
}

/// Steps of a checkpoint: the glance and one per cube (patch); 1 for archs without exits.
pub fn model_steps(model: &LoadedModel) -> usize {
    use crate::model::config::ModelConfig;
    match &model.config {
        ModelConfig::Ada3dFocus(c) => c.num_cubes + 1,
        ModelConfig::UniAdaFocus(c) => c.num_focus_segments + 1,
        ModelConfig::Ada3d(_) | ModelConfig::ResNet3d(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_reads_header_labels_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.csv");
        std::fs::write(
            &list,
            "path,label\na.mp4,diving\n# c\n\n/abs/b.mp4,3\nc.mp4\n",
        )
        .unwrap();
        let e = read_list(&list).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].path, dir.path().join("a.mp4"));
        assert_eq!(e[0].label.as_deref(), Some("diving"));
        assert_eq!(e[1].path, PathBuf::from("/abs/b.mp4"));
        assert_eq!(e[2].label, None);
        let names = vec!["archery".to_string(), "diving".to_string()];
        assert_eq!(class_index("diving", &names, 5), Some(1));
        assert_eq!(class_index("3", &names, 5), Some(3));
        assert_eq!(class_index("7", &names, 5), None);
    }
}
