//! `adalens train`: trains an `ada3d_focus` checkpoint in three stages (see [`step`]) on a
//! labelled list of videos, seeded and resumable, and ends by calibrating the budget engine on
//! a held-out list. The networks here are trainable twins of `crate::model`'s (same structure,
//! same `state_dict` names), so what training saves loads into the inference model unchanged.

pub(crate) mod backbones;
pub(crate) mod batchnorm;
pub mod data;
pub(crate) mod heads;
pub mod init;
pub(crate) mod kernels;
pub mod layers;
pub mod net;
pub(crate) mod step;

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Var};
use candle_nn::{Optimizer, ParamsAdamW, VarMap};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::calibrate::{calibrate, CalibrateError};
use crate::dataset::Entry;
use crate::model::ada3d_config::Ada3dFocusConfig;
use crate::model::config::ModelConfig;
use crate::model::load::{calibration_sidecar, ConfigOverrides, LoadedModel, ModelError};
pub use step::{Reward, Stage};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Setup(String),
    #[error("training: {0}")]
    Model(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: holds a run with other settings; delete it or pick another --out / --name")]
    OtherRun(PathBuf),
    #[error(transparent)]
    Folder(#[from] crate::fsutil::ResumeError),
    #[error("the trained checkpoint does not load: {0}")]
    Load(#[from] ModelError),
    #[error("calibration: {0}")]
    Calibrate(#[from] CalibrateError),
}

/// Everything that decides the result (a resumed run must have the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub config: Ada3dFocusConfig,
    pub seed: u64,
    /// Epochs of stages 1, 2 and 3.
    pub epochs: [usize; 3],
    pub batch: usize,
    /// Learning rates of stages 1, 2 and 3 (AdamW, cosine decay within a stage).
    pub lr: [f64; 3],
    pub reward: Reward,
    /// Stage 2's first epochs in which only the cube policy trains, the frame and stage
    /// policies held where stage 1 left them. Trained together from the start, the frame and
    /// stage policies can learn that extra frames do not pay before the cubes find the
    /// target, drop to one frame for every video, and stay there: Bernoulli draws near 0
    /// no longer explore (a rebuild on another CPU did this; see docs/training.md).
    #[serde(default)]
    pub cube_first: usize,
    /// The training videos and labels, in order.
    pub train: Vec<(String, String)>,
}

impl Settings {
    /// Whether a run with `other` computes the same stage 1, weights and logs: stage 1 reads
    /// only these (its loss has no reward, and each epoch's random stream comes from the seed,
    /// the stage and the epoch).
    fn same_stage1(&self, other: &Settings) -> bool {
        self.config == other.config
            && self.seed == other.seed
            && self.epochs[0] == other.epochs[0]
            && self.batch == other.batch
            && self.lr[0] == other.lr[0]
            && self.train == other.train
    }
}

/// One finished epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    pub stage: usize,
    pub epoch: usize,
    pub loss: f64,
    /// Last-step accuracy on the training batches, with the decisions trained on.
    pub accuracy: f64,
    pub mean_kept_frames: f64,
    pub mean_3d_stages: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    settings: Settings,
    epochs: Vec<EpochLog>,
}

/// What the trainer reports as it goes.
pub enum Event<'a> {
    Decoding {
        done: usize,
        total: usize,
    },
    /// The training videos are in memory: how many decoded, and each that did not, with why.
    Decoded {
        clips: usize,
        failed: &'a [(PathBuf, String)],
    },
    Step {
        stage: Stage,
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
        accuracy: f64,
    },
    Epoch(&'a EpochLog),
    Resumed {
        epochs: usize,
    },
    Calibrating {
        done: usize,
        total: usize,
    },
}

pub struct TrainRun<'a> {
    pub settings: Settings,
    pub train: &'a [Entry],
    pub calib: &'a [Entry],
    /// The checkpoint to write: `NAME.safetensors`, `NAME.json`, `NAME.adlcal`, and the
    /// resumable state in `NAME.train/`.
    pub checkpoint: PathBuf,
    pub jobs: usize,
    pub device: Device,
    /// An earlier run's checkpoint whose finished stage 1 this run starts from, when this
    /// run differs only in what stages 2 and 3 read (β, γ, σ, their epochs…): stage 1 is most
    /// of the hour, and it is the same computation.
    pub stage1_from: Option<PathBuf>,
}

/// What a finished run wrote and measured.
#[derive(Debug)]
pub struct Trained {
    pub checkpoint: PathBuf,
    pub calibration: PathBuf,
    pub epochs: Vec<EpochLog>,
    /// Training videos that could not be decoded (none when the run only calibrated), and
    /// calibration videos that could not be run, each with why.
    pub skipped_training: Vec<(PathBuf, String)>,
    pub skipped_calibration: Vec<(PathBuf, String)>,
    /// Last-step top-1 on the calibration list.
    pub calib_accuracy: Option<f64>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `x.safetensors` → `x.train/`.
pub fn state_dir(checkpoint: &Path) -> PathBuf {
    let stem = checkpoint
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    checkpoint.with_file_name(format!("{stem}.train"))
}

fn save_vars(map: &VarMap, path: &Path) -> Result<(), TrainError> {
    let tmp = path.with_file_name(format!(
        "{}{}",
        crate::fsutil::TEMP_PREFIX,
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    map.save(&tmp)?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// The variables `stage` trains; with `cube_only`, of those only the cube policy's.
fn stage_vars(map: &VarMap, stage: Stage, cube_only: bool) -> Result<Vec<Var>, TrainError> {
    let data = map
        .data()
        .lock()
        .map_err(|_| TrainError::Setup("poisoned".into()))?;
    let mut names: Vec<&String> = data
        .keys()
        .filter(|n| stage.trains(n) && (!cube_only || Stage::is_cube_policy(n)))
        .collect();
    names.sort();
    Ok(names.into_iter().map(|n| data[n].clone()).collect())
}

/// Train, save, calibrate. Resumes from `NAME.train/` when it holds the same settings.
pub fn train(run: &TrainRun, on: &(dyn Fn(Event) + Sync)) -> Result<Trained, TrainError> {
    let s = &run.settings;
    let c = &s.config;
    if run.train.is_empty() || run.calib.is_empty() {
        return Err(TrainError::Setup(
            "training needs videos to train on and videos to calibrate on".into(),
        ));
    }
    let classes = c.class_names();
    let dir = state_dir(&run.checkpoint);
    // Refuses a folder of a run with other settings before anything is loaded from it.
    crate::fsutil::ResumableDir::open(&dir, "settings.json", s, &[])?;
    let progress_path = dir.join("progress.json");
    let state_path = dir.join("state.safetensors");

    let mut map = VarMap::new();
    let net = net::TrainNet::new(c.clone(), &map, &run.device)?;
    init::initialise(&map, s.seed)?;
    // Where this run starts: its own saved state, else another run's finished stage 1.
    let mut earlier = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&progress_path) {
        let have: Progress = serde_json::from_str(&text)
            .map_err(|e| TrainError::Setup(format!("{}: {e}", progress_path.display())))?;
        if have.settings != *s {
            return Err(TrainError::OtherRun(dir));
        }
        if !have.epochs.is_empty() {
            map.load(&state_path)?;
            earlier = have.epochs;
        }
    }
    if let Some(from) = run.stage1_from.as_ref().filter(|_| earlier.is_empty()) {
        earlier = reuse_stage1(from, s, &mut map, &dir)?;
    }
    if !earlier.is_empty() {
        on(Event::Resumed {
            epochs: earlier.len(),
        });
    }
    let progress = Progress {
        settings: s.clone(),
        epochs: earlier,
    };
    finish_training(run, &net, map, progress, on, &classes)
}

/// Load the finished stage 1 of the run that wrote `from` into `map`, copy it into this run's
/// state folder `dir`, and return its epoch logs; refused unless that stage 1 is what `s` would
/// compute.
fn reuse_stage1(
    from: &Path,
    s: &Settings,
    map: &mut VarMap,
    dir: &Path,
) -> Result<Vec<EpochLog>, TrainError> {
    let from_dir = state_dir(from);
    let progress_path = from_dir.join("progress.json");
    let text = std::fs::read_to_string(&progress_path).map_err(|e| {
        TrainError::Setup(format!(
            "--stage1-from {}: no training state beside it ({}: {e})",
            from.display(),
            progress_path.display()
        ))
    })?;
    let have: Progress = serde_json::from_str(&text)
        .map_err(|e| TrainError::Setup(format!("{}: {e}", progress_path.display())))?;
    if !have.settings.same_stage1(s) {
        return Err(TrainError::Setup(format!(
            "--stage1-from {}: its stage 1 ran with another config, seed, stage-1 epochs, batch, \
             stage-1 learning rate or training list",
            from.display()
        )));
    }
    let logs: Vec<EpochLog> = have.epochs.into_iter().filter(|e| e.stage == 1).collect();
    let weights = from_dir.join("stage1.safetensors");
    if logs.len() != s.epochs[0] || !weights.is_file() {
        return Err(TrainError::Setup(format!(
            "--stage1-from {}: its stage 1 has not finished ({} of {} epochs)",
            from.display(),
            logs.len(),
            s.epochs[0]
        )));
    }
    map.load(&weights)?;
    // This run's own state, as if it had run stage 1 itself: a stop now resumes here.
    let kept = dir.join("stage1.safetensors");
    std::fs::copy(&weights, &kept).map_err(io(&kept))?;
    let progress = Progress {
        settings: s.clone(),
        epochs: logs,
    };
    save_state(dir, map, &progress)?;
    Ok(progress.epochs)
}

/// The resumable state after an epoch: the weights and the settings with every epoch's log.
fn save_state(dir: &Path, map: &VarMap, progress: &Progress) -> Result<(), TrainError> {
    save_vars(map, &dir.join("state.safetensors"))?;
    let json = serde_json::to_string_pretty(progress).unwrap_or_default();
    let path = dir.join("progress.json");
    crate::fsutil::write_atomic(&path, json.as_bytes()).map_err(io(&path))
}

fn finish_training(
    run: &TrainRun,
    net: &net::TrainNet,
    map: VarMap,
    mut progress: Progress,
    on: &(dyn Fn(Event) + Sync),
    classes: &[String],
) -> Result<Trained, TrainError> {
    let s = &run.settings;
    let dir = state_dir(&run.checkpoint);
    let total_epochs: usize = s.epochs.iter().sum();
    let mut skipped = Vec::new();
    if progress.epochs.len() < total_epochs {
        let report = |done: usize, total: usize| on(Event::Decoding { done, total });
        let mut data = data::load(run.train, classes, &s.config, run.jobs, &report);
        on(Event::Decoded {
            clips: data.clips.len(),
            failed: &data.failed,
        });
        skipped = std::mem::take(&mut data.failed);
        if data.clips.len() < s.batch.max(2) {
            return Err(TrainError::Setup(format!(
                "{} decodable training videos, fewer than one batch of {}",
                data.clips.len(),
                s.batch
            )));
        }
        for (si, stage) in Stage::ALL.into_iter().enumerate() {
            let cube_only = |epoch: usize| stage == Stage::Policy && epoch < s.cube_first;
            let optimiser = |epoch: usize| -> Result<candle_nn::AdamW, TrainError> {
                Ok(candle_nn::AdamW::new(
                    stage_vars(&map, stage, cube_only(epoch))?,
                    ParamsAdamW {
                        lr: s.lr[si],
                        weight_decay: 1e-4,
                        ..ParamsAdamW::default()
                    },
                )?)
            };
            // Built again where the cube-only epochs end (a resumed run may start on either
            // side).
            let mut opt = optimiser(0)?;
            let mut opt_cube_only = cube_only(0);
            let batches = data.clips.len() / s.batch;
            let total_steps = (s.epochs[si] * batches).max(1);
            for epoch in 0..s.epochs[si] {
                let done = progress
                    .epochs
                    .iter()
                    .any(|e| e.stage == stage.number() && e.epoch == epoch);
                if done {
                    continue;
                }
                if cube_only(epoch) != opt_cube_only {
                    opt = optimiser(epoch)?;
                    opt_cube_only = cube_only(epoch);
                }
                let started = Instant::now();
                let stream = (stage.number() as u64) << 32 | epoch as u64;
                let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
                rng.set_stream(stream);
                let mut order: Vec<usize> = (0..data.clips.len()).collect();
                order.shuffle(&mut rng);
                let mut sum = step::StepStats::default();
                for bi in 0..batches {
                    let at = epoch * batches + bi;
                    let cos = (std::f64::consts::PI * at as f64 / total_steps as f64).cos();
                    let decay = 0.5 * (1.0 + cos);
                    opt.set_learning_rate(s.lr[si] * decay);
                    // The entropy bonus explores early in stage 2 and fades with the learning
                    // rate, so the policies end decisive (the test-time threshold is 1/2);
                    // stage 3 trains eq. 8 as written.
                    let reward = step::Reward {
                        policy_entropy: match stage {
                            Stage::Policy => s.reward.policy_entropy * decay,
                            _ => 0.0,
                        },
                        ..s.reward
                    };
                    let clips: Vec<&data::Clip> = order[bi * s.batch..(bi + 1) * s.batch]
                        .iter()
                        .map(|&i| &data.clips[i])
                        .collect();
                    let (frames, labels) = data::batch(&clips, &s.config, &run.device)?;
                    let (loss, st) = step::step(net, stage, &frames, &labels, reward, &mut rng)?;
                    opt.backward_step(&loss)?;
                    sum.loss += st.loss * st.videos as f64;
                    sum.correct += st.correct;
                    sum.videos += st.videos;
                    sum.kept += st.kept;
                    sum.stages_3d += st.stages_3d;
                    on(Event::Step {
                        stage,
                        epoch,
                        batch: bi + 1,
                        batches,
                        loss: sum.loss / sum.videos as f64,
                        accuracy: sum.correct as f64 / sum.videos as f64,
                    });
                }
                let n = sum.videos.max(1) as f64;
                let log = EpochLog {
                    stage: stage.number(),
                    epoch,
                    loss: sum.loss / n,
                    accuracy: sum.correct as f64 / n,
                    mean_kept_frames: sum.kept as f64 / n,
                    mean_3d_stages: sum.stages_3d as f64 / n,
                    seconds: started.elapsed().as_secs_f64(),
                };
                on(Event::Epoch(&log));
                progress.epochs.push(log);
                save_state(&dir, &map, &progress)?;
                if epoch + 1 == s.epochs[si] {
                    // The weights each stage ended with, to try later stages' settings from.
                    let kept = dir.join(format!("stage{}.safetensors", stage.number()));
                    save_vars(&map, &kept)?;
                }
            }
        }
    }
    // The checkpoint: weights, and the config beside them.
    save_vars(&map, &run.checkpoint)?;
    // Videos longer than those trained on are cut into clips of this length at inference.
    let mut config = s.config.clone();
    config.clip_seconds = config
        .clip_seconds
        .or_else(|| data::median_seconds(run.train));
    let config = ModelConfig::Ada3dFocus(config);
    let json_path = run.checkpoint.with_extension("json");
    let json = serde_json::to_string_pretty(&config).unwrap_or_default();
    crate::fsutil::write_atomic(&json_path, json.as_bytes()).map_err(io(&json_path))?;
    let model = LoadedModel::open(
        &run.checkpoint,
        None,
        &ConfigOverrides::default(),
        &run.device,
    )?;
    let calibration = calibration_sidecar(&run.checkpoint);
    let parts = dir.join("calibration.parts");
    let report = |done: usize, total: usize| on(Event::Calibrating { done, total });
    let out = calibrate(&model, run.calib, false, Some(&parts), &report)?;
    let steps = out.set.steps();
    let calib_accuracy = last_step_accuracy(&out.set, steps);
    let set = out.set.with_description(format!(
        "{}: trained by adalens train (seed {}), calibrated on {} held-out videos",
        run.checkpoint
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        s.seed,
        run.calib.len()
    ));
    set.save(&calibration)
        .map_err(|e| TrainError::Setup(format!("{}: {e}", calibration.display())))?;
    let _ = std::fs::remove_dir_all(&parts);
    Ok(Trained {
        checkpoint: run.checkpoint.clone(),
        calibration,
        epochs: progress.epochs,
        skipped_training: skipped,
        skipped_calibration: out.failed,
        calib_accuracy,
    })
}

/// Top-1 of the last step over a calibration set.
fn last_step_accuracy(
    set: &crate::decision::calibration::CalibrationSet,
    steps: usize,
) -> Option<f64> {
    let n = set.samples();
    if n == 0 || steps == 0 {
        return None;
    }
    let correct = (0..n)
        .filter(|&i| {
            let top = crate::eval::argmax(set.row(i, steps - 1)) as u32;
            set.labels().of(i).contains(&top)
        })
        .count();
    Some(correct as f64 / n as f64)
}
