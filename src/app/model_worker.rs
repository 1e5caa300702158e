//! The model's own worker thread. It owns the loaded checkpoint and the warm [`Session`] of the
//! current video (the runner every other caller uses); the UI thread sends requests and receives [`JobEvent`]s. Requests of a kind
//! replace an older one still waiting (dragging τ_f queues one re-run, not fifty), and are done in
//! the order load → analyse → re-run. A failed load keeps the previous checkpoint. The sessions
//! of the last videos opened stay warm, so opening one of them again with the same checkpoint
//! draws its results at once; the clip the viewer is at ([`ModelWorker::set_focus`]) runs first.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_channel::Sender;

use super::budget::BudgetModel;
use super::job_event::{CheckpointInfo, JobEvent};
use crate::decision::PreparedCalibration;
use crate::model::config::Knobs;
use crate::model::device;
use crate::model::load::{calibration_sidecar, ConfigOverrides, LoadedModel};
use crate::runner::{AnalysisRun, Edit, Input, Observer, RunError, Session};
use crate::video::Video;

pub enum ModelRequest {
    Load {
        path: PathBuf,
        config: Option<PathBuf>,
    },
    Analyse {
        video: Video,
        knobs: Knobs,
        generation: u64,
    },
    Rerun {
        knobs: Knobs,
        generation: u64,
    },
    /// Make the video's session ready without running it (a stored trace is drawn): a later
    /// `Rerun` for τ_f or τ_s runs it.
    Prepare {
        video: Video,
        generation: u64,
    },
    /// What-if: clip `clip` run again with `edits` over the decisions of `knobs` (the glance
    /// and policies of the warm session reused).
    WhatIf {
        clip: usize,
        knobs: Knobs,
        edits: Vec<Edit>,
        generation: u64,
    },
}

#[derive(Default)]
struct Pending {
    load: Option<(PathBuf, Option<PathBuf>)>,
    /// `None` knobs: prepare the session only.
    analyse: Option<(Video, Option<Knobs>, u64)>,
    rerun: Option<(Knobs, u64)>,
    /// What-if runs waiting, one per clip (a newer edit of a clip replaces the waiting one).
    what_if: Vec<WhatIfRequest>,
}

type WhatIfRequest = (usize, Knobs, Vec<Edit>, u64);

impl Pending {
    fn any(&self) -> bool {
        self.load.is_some()
            || self.analyse.is_some()
            || self.rerun.is_some()
            || !self.what_if.is_empty()
    }
}

/// The handle the UI holds.
pub struct ModelWorker {
    slot: Arc<(Mutex<Pending>, Condvar)>,
    cancel: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    focus: Arc<AtomicUsize>,
}

/// Sessions kept warm besides the current one (each holds its video's sampled frames at the
/// model's size: about 50 MB for a 10-minute video with the demo checkpoint).
const RECENT_SESSIONS: usize = 2;

impl ModelWorker {
    /// `repaint` wakes the UI at once (results, failures, the end of a request); `throttled`
    /// at most every so often (a run's progress and partial runs).
    pub fn spawn(
        tx: Sender<JobEvent>,
        repaint: Arc<dyn Fn() + Send + Sync>,
        throttled: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let slot = Arc::new((Mutex::new(Pending::default()), Condvar::new()));
        let cancel = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicBool::new(false));
        let focus = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            tx,
            repaint,
            throttled,
            cancel: cancel.clone(),
            busy: busy.clone(),
            focus: focus.clone(),
            model: None,
            session: None,
            recent: Vec::new(),
        };
        let s = slot.clone();
        std::thread::Builder::new()
            .name("adalens-model".into())
            .spawn(move || worker.run(s))
            .ok();
        Self {
            slot,
            cancel,
            busy,
            focus,
        }
    }

    /// The frame the viewer is at: a run takes the clips from there first.
    pub fn set_focus(&self, frame: usize) {
        self.focus.store(frame, Ordering::Relaxed);
    }

    pub fn send(&self, req: ModelRequest) {
        let (lock, cv) = &*self.slot;
        if let Ok(mut p) = lock.lock() {
            match req {
                ModelRequest::Load { path, config } => {
                    // A new checkpoint makes what runs and waits for the old one pointless;
                    // the window asks for the analysis again once it is loaded.
                    self.cancel.store(true, Ordering::Relaxed);
                    *p = Pending::default();
                    p.load = Some((path, config));
                }
                ModelRequest::Analyse {
                    video,
                    knobs,
                    generation,
                } => {
                    // A new analysis makes the running one and any waiting re-run pointless.
                    self.cancel.store(true, Ordering::Relaxed);
                    p.rerun = None;
                    p.analyse = Some((video, Some(knobs), generation));
                }
                ModelRequest::Prepare { video, generation } => {
                    self.cancel.store(true, Ordering::Relaxed);
                    p.rerun = None;
                    p.analyse = Some((video, None, generation));
                }
                ModelRequest::Rerun { knobs, generation } => p.rerun = Some((knobs, generation)),
                ModelRequest::WhatIf {
                    clip,
                    knobs,
                    edits,
                    generation,
                } => {
                    p.what_if.retain(|w| w.0 != clip);
                    p.what_if.push((clip, knobs, edits, generation));
                }
            }
            cv.notify_one();
        }
    }

    /// Stop the running request and drop the waiting ones. The flag is set under the lock the
    /// worker takes to start its next request (and clear the flag), so no cancel is lost.
    pub fn cancel(&self) {
        if let Ok(mut p) = self.slot.0.lock() {
            self.cancel.store(true, Ordering::Relaxed);
            *p = Pending::default();
        }
    }

    /// Working, or holding a request it has not started.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) || self.slot.0.lock().is_ok_and(|p| p.any())
    }
}

struct Worker {
    tx: Sender<JobEvent>,
    repaint: Arc<dyn Fn() + Send + Sync>,
    throttled: Arc<dyn Fn() + Send + Sync>,
    cancel: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    focus: Arc<AtomicUsize>,
    model: Option<Arc<LoadedModel>>,
    session: Option<(Session, u64)>,
    /// Sessions of videos opened before, newest first (all of the loaded checkpoint).
    recent: Vec<Session>,
}

/// Whether `session` was planned on this very file (same path, size and frame count).
fn same_video(session: &Session, video: &Video) -> bool {
    let len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let (a, b) = (session.input.path(), video.path());
    a == b && session.input.video.frame_count == video.frame_count() && len(&a) == len(b)
}

/// Progress of a run, sent to the window as it happens, and the clips finished so far.
struct Events {
    tx: Sender<JobEvent>,
    repaint: Arc<dyn Fn() + Send + Sync>,
    generation: u64,
    focus: Arc<AtomicUsize>,
}

impl Observer for Events {
    fn progress(&self, what: &str, done: usize, total: usize) {
        let _ = self.tx.send(JobEvent::Progress {
            label: what.into(),
            done,
            total,
        });
        (self.repaint)();
    }

    fn wants_partial(&self) -> bool {
        true
    }

    fn focus(&self) -> usize {
        self.focus.load(Ordering::Relaxed)
    }

    fn partial(&self, run: &AnalysisRun) {
        let _ = self.tx.send(JobEvent::Analysed {
            generation: self.generation,
            run: Box::new(run.clone()),
            partial: true,
        });
        (self.repaint)();
    }
}

impl Worker {
    fn send(&self, e: JobEvent) {
        let _ = self.tx.send(e);
        (self.repaint)();
    }

    fn progress(&self, label: &str, done: usize, total: usize) {
        self.send(JobEvent::Progress {
            label: label.into(),
            done,
            total,
        });
    }

    fn run(mut self, slot: Arc<(Mutex<Pending>, Condvar)>) {
        loop {
            let next = {
                let (lock, cv) = &*slot;
                let Ok(mut p) = lock.lock() else { return };
                loop {
                    if p.any() {
                        break;
                    }
                    p = match cv.wait(p) {
                        Ok(p) => p,
                        Err(_) => return,
                    };
                }
                self.busy.store(true, Ordering::Relaxed);
                self.cancel.store(false, Ordering::Relaxed);
                if let Some(l) = p.load.take() {
                    Next::Load(l)
                } else if let Some(a) = p.analyse.take() {
                    Next::Analyse(a)
                } else if let Some(r) = p.rerun.take() {
                    Next::Rerun(r)
                } else if !p.what_if.is_empty() {
                    Next::WhatIf(p.what_if.remove(0))
                } else {
                    continue;
                }
            };
            // A panic in candle or FFmpeg code fails this request, not the worker.
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match next {
                Next::Load((path, config)) => self.load(path, config),
                Next::Analyse((video, knobs, generation)) => self.analyse(video, knobs, generation),
                Next::Rerun((knobs, generation)) => self.rerun(knobs, generation),
                Next::WhatIf(w) => self.what_if(w),
            }));
            if let Err(panic) = done {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                self.session = None;
                self.send(JobEvent::Failed {
                    what: "The model worker".into(),
                    error: format!("an internal error stopped the request: {why}"),
                });
            }
            self.busy.store(false, Ordering::Relaxed);
            (self.repaint)();
        }
    }

    fn load(&mut self, path: PathBuf, config: Option<PathBuf>) {
        self.progress("Loading the checkpoint", 0, 1);
        let choice = device::select(false);
        match LoadedModel::open(
            &path,
            config.as_deref(),
            &ConfigOverrides::default(),
            &choice.device,
        ) {
            Ok(model) => {
                let info = checkpoint_info(&model, &choice.description);
                let calibration = load_calibration(&model);
                self.model = Some(Arc::new(model));
                self.session = None;
                self.recent.clear();
                self.send(JobEvent::CheckpointLoaded {
                    info: Box::new(info),
                    calibration,
                });
            }
            Err(e) => self.send(JobEvent::Failed {
                what: format!("Opening checkpoint {}", path.display()),
                error: e.to_string(),
            }),
        }
    }

    fn analyse(&mut self, video: Video, knobs: Option<Knobs>, generation: u64) {
        let Some(model) = self.model.clone() else {
            return;
        };
        if let Some((old, _)) = self.session.take() {
            self.recent.insert(0, old);
        }
        // The same file opened again: its warm session, with what it has run.
        if let Some(i) = self.recent.iter().position(|s| same_video(s, &video)) {
            let warm = self.recent.remove(i);
            self.session = Some((warm, generation));
        }
        self.recent.truncate(RECENT_SESSIONS);
        if self.session.is_none() {
            match Input::plan(&video, &model) {
                Ok(input) => self.session = Some((Session::new(&model, input), generation)),
                Err(e) => return self.fail("Running the model", e),
            }
        }
        if let Some(knobs) = knobs {
            self.rerun(knobs, generation);
        }
    }

    /// Run the session for `knobs`: the first run decodes and glances clip by clip, later ones
    /// run only the local network.
    fn rerun(&mut self, knobs: Knobs, generation: u64) {
        let events = Events {
            tx: self.tx.clone(),
            repaint: self.throttled.clone(),
            generation,
            focus: self.focus.clone(),
        };
        let Some((session, g)) = &mut self.session else {
            return;
        };
        if *g != generation {
            return;
        }
        let result = session.run(&knobs, &self.cancel, &events);
        match result {
            Ok(_) if self.cancel.load(Ordering::Relaxed) => self.send(JobEvent::Cancelled),
            Ok(run) => self.send(JobEvent::Analysed {
                generation,
                run: Box::new(run),
                partial: false,
            }),
            Err(e) => self.fail("Running the model", e),
        }
    }

    fn what_if(&mut self, (clip, knobs, edits, generation): WhatIfRequest) {
        let Some((session, g)) = &mut self.session else {
            return;
        };
        if *g != generation {
            return;
        }
        let start = std::time::Instant::now();
        let result = session
            .what_if(clip, &knobs, &edits)
            .map(Box::new)
            .map_err(|e| e.to_string());
        self.send(JobEvent::WhatIfRan {
            generation,
            clip,
            edits,
            result,
            ms: start.elapsed().as_secs_f64() * 1e3,
        });
    }

    fn fail(&self, what: &str, e: RunError) {
        if e.is_cancelled() {
            self.send(JobEvent::Cancelled)
        } else {
            self.send(JobEvent::Failed {
                what: what.into(),
                error: e.to_string(),
            })
        }
    }
}

enum Next {
    Load((PathBuf, Option<PathBuf>)),
    Analyse((Video, Option<Knobs>, u64)),
    Rerun((Knobs, u64)),
    WhatIf(WhatIfRequest),
}

pub(super) fn checkpoint_info(model: &LoadedModel, device: &str) -> CheckpointInfo {
    CheckpointInfo {
        path: model.path.clone(),
        arch: model.kind(),
        format: model.format,
        config_source: model.config_source.clone(),
        device: device.to_string(),
        class_names: model.config.class_names(),
        parameters: model.parameters.iter().map(|(_, n)| n).sum(),
        knobs: model.config.knobs(),
        // The cube cap re-plans ada3d_focus's cubes; Uni-AdaFocus always runs its N patches.
        max_cubes: model.config.max_cubes(),
        non_finite: model.non_finite_warning(),
    }
}

/// The calibration set beside the checkpoint, if any: `Ok(None)` when there is none, `Err`
/// with the reason when there is one that cannot serve this checkpoint.
pub(super) fn load_calibration(model: &LoadedModel) -> Result<Option<Box<BudgetModel>>, String> {
    let path = calibration_sidecar(&model.path);
    if !path.is_file() {
        return Ok(None);
    }
    let err = |e: String| format!("{}: {e}", path.display());
    let set = crate::runner::load_calibration(model, &path).map_err(|e| e.to_string())?;
    let prep = PreparedCalibration::new(set).map_err(|e| err(e.to_string()))?;
    let budget = BudgetModel::new(prep).map_err(|e| err(e.to_string()))?;
    Ok(Some(Box::new(budget)))
}
