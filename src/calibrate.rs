//! Build a calibration set (what the budget solver and the window's budget slider need) by
//! running a checkpoint over labelled videos: every step's class scores and cumulative GFLOPs per
//! video, through the same decoding path the window uses. Samples alternate between the fitting
//! and the evaluation split, so thresholds are never judged on the videos they were fitted to.

use std::path::{Path, PathBuf};

use crate::batch::Entry;
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
    #[error("{path}: {message}")]
    Parts { path: PathBuf, message: String },
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

/// What one video contributes: its class scores and cumulative GFLOPs at every step (padded
/// to the checkpoint's steps) and its label.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub path: String,
    pub logits: Vec<Vec<f32>>,
    pub gflops: Vec<f64>,
    pub label: u32,
}

/// Run `model` on one video (with the checkpoint's τ_f, τ_s and all cubes) and read off its
/// sample. With `self_labels`, the label is the model's own prediction after its last step.
pub fn sample(model: &LoadedModel, e: &Entry, self_labels: bool) -> Result<Sample, String> {
    let steps = model_steps(model);
    let names = model.config.class_names();
    let classes = names.len();
    let label = match (&e.label, self_labels) {
        (_, true) => None,
        (Some(l), false) => {
            Some(class_index(l, &names, classes).ok_or_else(|| format!("unknown class {l:?}"))?)
        }
        (None, false) => return Err("no label (or pass --self-labels)".into()),
    };
    let run = Video::open(&e.path)
        .map_err(|e| e.to_string())
        .and_then(|v| {
            pipeline::video_input(&v, model, &Control::default()).map_err(|e| e.to_string())
        })
        .and_then(|input| pipeline::inspect(model, &input).map_err(|e| e.to_string()))?;
    let mut logits = match &run.raw {
        RawOutput::Ada3dFocus(clips) => match clips.as_slice() {
            [one] => one.step_logits.clone(),
            _ => {
                return Err(format!(
                    "{} clips: calibration videos must be one clip long",
                    clips.len()
                ))
            }
        },
        RawOutput::UniAdaFocus(o) => o.step_logits.clone(),
        RawOutput::Ada3d { .. } => return Err(format!("{} has no exit steps", model.arch())),
    };
    let last_steps = run.trace.clips.first().map(|c| &c.steps[..]).unwrap_or(&[]);
    let mut gflops: Vec<f64> = last_steps.iter().map(|s| s.cumulative_gflops).collect();
    // Self-labelling: the class the full run predicts (its last step's top-1).
    let own = last_steps
        .last()
        .and_then(|s| s.top.first())
        .map(|t| t.class);
    pad_steps(&mut logits, &mut gflops, steps);
    if logits.len() != steps || gflops.len() != steps {
        return Err(format!(
            "{} steps where the checkpoint has {steps}",
            logits.len()
        ));
    }
    let label = label
        .or(own)
        .ok_or_else(|| "the model made no prediction".to_string())?;
    Ok(Sample {
        path: e.path.display().to_string(),
        logits,
        gflops,
        label,
    })
}

/// With fewer kept frames than cubes a video has fewer steps; stopping at a step it does not
/// have means stopping at its last one, with that prediction and cost: repeat the last step's
/// logits and cumulative GFLOPs up to `steps`.
pub fn pad_steps(logits: &mut Vec<Vec<f32>>, gflops: &mut Vec<f64>, steps: usize) {
    while logits.len() < steps {
        let (Some(l), Some(g)) = (logits.last().cloned(), gflops.last().copied()) else {
            break;
        };
        logits.push(l);
        gflops.push(g);
    }
}

/// The calibration set of `samples` (in list order): they alternate between the fitting and
/// the evaluation split.
pub fn assemble(
    samples: &[Sample],
    steps: usize,
    classes: usize,
) -> Result<CalibrationSet, CalibrateError> {
    let n = samples.len();
    let outputs = samples
        .iter()
        .flat_map(|s| s.logits.iter().flatten().copied())
        .collect();
    let costs = samples
        .iter()
        .flat_map(|s| s.gflops.iter().copied())
        .collect();
    let labels = samples.iter().map(|s| s.label).collect();
    let roles = (0..n)
        .map(|i| {
            if n < 2 {
                Role::Both
            } else if i % 2 == 0 {
                Role::Fit
            } else {
                Role::Eval
            }
        })
        .collect();
    Ok(CalibrationSet::new(
        n,
        steps,
        classes,
        OutputKind::Logits,
        outputs,
        Labels::Single(labels),
        StepCosts::PerSample(costs),
        roles,
    )?)
}

/// Run `model` on every entry and build the set. With `parts`, every video's sample is kept
/// in that folder as it finishes (written atomically), and videos with a sample there are not
/// run again: an interrupted calibration resumes where it stopped.
pub fn calibrate(
    model: &LoadedModel,
    entries: &[Entry],
    self_labels: bool,
    parts: Option<&Path>,
    progress: &dyn Fn(usize, usize),
) -> Result<Calibrated, CalibrateError> {
    let steps = model_steps(model);
    if steps <= 1 {
        return Err(CalibrateError::NoSteps(model.arch()));
    }
    let classes = model.config.class_names().len();
    let part_err = |p: &Path, e: std::io::Error| CalibrateError::Parts {
        path: p.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(dir) = parts {
        std::fs::create_dir_all(dir).map_err(|e| part_err(dir, e))?;
        crate::fsutil::remove_stale_temporaries(dir);
        // Samples of another checkpoint or labelling must not be mixed in.
        let settings = serde_json::json!({
            "checkpoint": model.path.display().to_string(),
            "self_labels": self_labels,
        });
        let path = dir.join("settings.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let have: Option<serde_json::Value> = serde_json::from_str(&text).ok();
                if have.as_ref() != Some(&settings) {
                    return Err(CalibrateError::Parts {
                        path: dir.to_path_buf(),
                        message: format!(
                            "holds the samples of another run ({}); delete it to start afresh",
                            text.trim()
                        ),
                    });
                }
            }
            Err(_) => crate::fsutil::write_atomic(&path, settings.to_string().as_bytes())
                .map_err(|e| part_err(&path, e))?,
        }
    }
    let mut samples = Vec::new();
    let mut failed = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        progress(i, entries.len());
        let part = parts.map(|d| d.join(format!("{}.json", e.key)));
        let stored = part
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| serde_json::from_str::<Sample>(&s).ok())
            .filter(|s| {
                s.path == e.path.display().to_string()
                    && s.logits.len() == steps
                    && s.logits.iter().all(|l| l.len() == classes)
            });
        if let Some(s) = stored {
            samples.push(s);
            continue;
        }
        match sample(model, e, self_labels) {
            Ok(s) => {
                if let Some(p) = &part {
                    let json = serde_json::to_string(&s).unwrap_or_default();
                    crate::fsutil::write_atomic(p, json.as_bytes())
                        .map_err(|err| part_err(p, err))?;
                }
                samples.push(s);
            }
            Err(why) => failed.push((e.path.clone(), why)),
        }
    }
    progress(entries.len(), entries.len());
    if samples.is_empty() {
        return Err(CalibrateError::NothingRan {
            failed: failed.len(),
        });
    }
    let set = assemble(&samples, steps, classes)?;
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
