//! Run B of compare mode: its checkpoint (or A's) with its knobs on the open video, through the
//! runner every other caller uses, on a worker thread of its own with progress and cancel (the
//! window's model worker keeps A warm for the sliders).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::compare::CompareSpec;
use super::job_event::JobEvent;
use super::jobs::Jobs;
use super::model_worker::{checkpoint_info, load_calibration};
use crate::model::config::Knobs;
use crate::model::device;
use crate::model::load::{ConfigOverrides, LoadedModel};
use crate::runner::{run_video, AnalysisRun, Observer};
use crate::video::Video;

/// Tells the window how far B's run is, and sends the clips finished so far (drawn as B while
/// the rest runs, as A's are).
struct Progress<'a> {
    send: &'a (dyn Fn(JobEvent) + Sync),
    generation: u64,
}

impl Observer for Progress<'_> {
    fn progress(&self, what: &str, done: usize, total: usize) {
        (self.send)(JobEvent::Progress {
            label: format!("B: {what}"),
            done,
            total,
        });
    }

    fn wants_partial(&self) -> bool {
        true
    }

    fn partial(&self, run: &AnalysisRun) {
        (self.send)(JobEvent::CompareRan {
            generation: self.generation,
            run: Box::new(run.clone()),
            info: None,
            calibration: Ok(None),
            partial: true,
        });
    }
}

impl Jobs {
    /// Run B on `video`: `spec`'s checkpoint, else `a_checkpoint`, with `spec`'s knobs over
    /// that checkpoint's own (`a_knobs` for A's). Returns the flag that cancels it.
    pub fn run_compare(
        &self,
        video: Video,
        a_checkpoint: PathBuf,
        a_knobs: Knobs,
        spec: CompareSpec,
        generation: u64,
    ) -> Arc<AtomicBool> {
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = cancel.clone();
        self.spawn_video_job(move |send| {
            let path = spec.checkpoint.clone().unwrap_or(a_checkpoint);
            let fail = |error: String| send(JobEvent::CompareFailed { generation, error });
            send(JobEvent::Progress {
                label: "B: loading the checkpoint".into(),
                done: 0,
                total: 1,
            });
            let choice = device::select(false);
            let over = ConfigOverrides::default();
            let model = match LoadedModel::open(&path, None, &over, &choice.device) {
                Ok(m) => m,
                Err(e) => return fail(e.to_string()),
            };
            let own = spec.checkpoint.is_some();
            let knobs = spec.knobs(if own { model.config.knobs() } else { a_knobs });
            let (info, calibration) = if own {
                let info = checkpoint_info(&model, &choice.description);
                (Some(Box::new(info)), load_calibration(&model))
            } else {
                (None, Ok(None))
            };
            let observer = Progress { send, generation };
            match run_video(&model, &video, &knobs, None, &stop, &observer) {
                Ok(_) if stop.load(Ordering::Relaxed) => send(JobEvent::Cancelled),
                Ok(run) => send(JobEvent::CompareRan {
                    generation,
                    run: Box::new(run),
                    info,
                    calibration,
                    partial: false,
                }),
                Err(e) if e.is_cancelled() => send(JobEvent::Cancelled),
                Err(e) => fail(e.to_string()),
            }
        });
        cancel
    }
}
