//! Build a calibration set (what the budget solver and the window's budget slider need) by
//! running a checkpoint over labelled videos: every step's class scores and cumulative GFLOPs per
//! video, through the same decoding path the window uses. Samples alternate between the fitting
//! and the evaluation split, so thresholds are never judged on the videos they were fitted to.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::dataset::{class_index, Entry};
use crate::decision::{CalibrationSet, Labels, OutputKind, Role, StepCosts};
use crate::fsutil::{ResumableDir, ResumeError};
use crate::model::load::LoadedModel;
use crate::runner::{self, RunError};
use crate::video::Video;

#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error(transparent)]
    List(#[from] crate::dataset::DatasetError),
    #[error("no video of the list could be run ({failed} failed)")]
    NothingRan { failed: usize },
    #[error("{0} has no per-step predictions to calibrate an exit on")]
    NoSteps(&'static str),
    #[error(transparent)]
    Decision(#[from] crate::decision::DecisionError),
    #[error(transparent)]
    Parts(#[from] ResumeError),
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

/// Why one video gives no sample (the run goes on without it).
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("unknown class {0:?}")]
    UnknownClass(String),
    #[error("no label (or pass --self-labels)")]
    NoLabel,
    #[error(transparent)]
    Video(#[from] crate::video::VideoError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{0} clips: calibration videos must be one clip long")]
    Clips(usize),
    #[error("{0} has no exit steps")]
    NoSteps(&'static str),
    #[error("{found} steps where the checkpoint has {steps}")]
    Steps { found: usize, steps: usize },
    #[error("the model made no prediction")]
    NoPrediction,
}

/// Run `model` on one video (with the checkpoint's τ_f, τ_s and all cubes) and read off its
/// sample. With `self_labels`, the label is the model's own prediction after its last step.
pub fn sample(model: &LoadedModel, e: &Entry, self_labels: bool) -> Result<Sample, SampleError> {
    let steps = model.config.steps();
    let names = model.config.class_names();
    let classes = names.len();
    let label = match (&e.label, self_labels) {
        (_, true) => None,
        (Some(l), false) => Some(
            class_index(l, &names, classes).ok_or_else(|| SampleError::UnknownClass(l.clone()))?,
        ),
        (None, false) => return Err(SampleError::NoLabel),
    };
    let video = Video::open(&e.path)?;
    let knobs = model.config.knobs();
    let never = AtomicBool::new(false);
    let run = runner::run_video(model, &video, &knobs, None, &never, &runner::Quiet)?.inspection;
    if !model.kind().has_early_exit() {
        return Err(SampleError::NoSteps(model.arch()));
    }
    let mut logits = match run.raw.single_clip_steps() {
        Some(l) => l.to_vec(),
        None => return Err(SampleError::Clips(run.trace.clips.len())),
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
        return Err(SampleError::Steps {
            found: logits.len(),
            steps,
        });
    }
    let label = label.or(own).ok_or(SampleError::NoPrediction)?;
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
    let roles = Role::alternating(n);
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
    let steps = model.config.steps();
    if steps <= 1 {
        return Err(CalibrateError::NoSteps(model.arch()));
    }
    let classes = model.config.class_names().len();
    // Samples of another checkpoint or labelling must not be mixed in.
    let settings = serde_json::json!({
        "checkpoint": model.path.display().to_string(),
        "self_labels": self_labels,
    });
    let parts = parts
        .map(|dir| ResumableDir::open(dir, "settings.json", &settings, &[]))
        .transpose()?;
    let mut samples = Vec::new();
    let mut failed = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        progress(i, entries.len());
        let part = format!("{}.json", e.key);
        let stored = parts
            .as_ref()
            .and_then(|d| d.read_json::<Sample>(&part))
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
                if let Some(d) = &parts {
                    d.write(
                        &part,
                        serde_json::to_string(&s).unwrap_or_default().as_bytes(),
                    )?;
                }
                samples.push(s);
            }
            Err(why) => failed.push((e.path.clone(), why.to_string())),
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

/// The calibration set of traces logged elsewhere (`adalens calibrate --traces`): every clip
/// whose steps all carry their whole softmax (`probs`) is one sample, labelled with its
/// video's label (a class name of the traces or an index), or with its own last step's top-1
/// with `self_labels`. Costs are the clips' cumulative GFLOPs; a clip with fewer steps than
/// the longest stops at its last (as [`pad_steps`]). Traces whose classes differ from the
/// first one's, and clips without probabilities or labels, are listed in `failed`.
pub fn from_traces(
    traces: &[crate::logged::LabelledTrace],
    self_labels: bool,
) -> Result<Calibrated, CalibrateError> {
    let mut failed = Vec::new();
    let Some(first) = traces.first() else {
        return Err(CalibrateError::NothingRan { failed: 0 });
    };
    let names = first.trace.class_names.clone();
    let classes = names.len();
    let mut samples: Vec<crate::decision::calibration::LabelledClip> = Vec::new();
    for t in traces {
        let mut skip = |why: String| failed.push((t.file.clone(), why));
        if t.trace.class_names != names {
            skip(format!(
                "its {} classes are not those of {}",
                t.trace.class_names.len(),
                first.file.display()
            ));
            continue;
        }
        let label = match (&t.label, self_labels) {
            (_, true) => None,
            (Some(l), false) => match class_index(l, &names, classes) {
                Some(c) => Some(c),
                None => {
                    skip(format!("unknown class {l:?}"));
                    continue;
                }
            },
            (None, false) => {
                skip("no label (give a list with labels, or --self-labels)".into());
                continue;
            }
        };
        for (ci, clip) in t.trace.clips.iter().enumerate() {
            let steps: Option<Vec<(Vec<f32>, f64)>> = clip
                .steps
                .iter()
                .map(|s| Some((s.probs.clone()?, s.cumulative_gflops)))
                .collect();
            let Some(steps) = steps.filter(|r| !r.is_empty()) else {
                skip(format!(
                    "clip {ci}: its steps do not all carry probabilities (probs)"
                ));
                continue;
            };
            let own = clip
                .steps
                .last()
                .and_then(|s| s.top.first())
                .map(|p| p.class);
            match label.or(own) {
                Some(l) => samples.push((l, steps)),
                None => skip(format!("clip {ci}: no prediction to label it with")),
            }
        }
    }
    if samples.is_empty() {
        return Err(CalibrateError::NothingRan {
            failed: failed.len(),
        });
    }
    let set = CalibrationSet::of_clips(classes, &samples)?;
    Ok(Calibrated { set, failed })
}
