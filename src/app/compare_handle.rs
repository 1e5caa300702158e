//! Compare mode's side effects: entering and leaving it, starting B's run when the video or A's
//! checkpoint changes, applying B's results, and keeping B's decisions in step with A's.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::budget::BudgetModel;
use super::compare::{CompareSpec, CompareView};
use super::job_event::CheckpointInfo;
use super::model_worker::ModelRequest;
use super::{AdalensApp, ErrorNote};
use crate::runner::{AnalysisRun, Edit, WhatIf};

impl AdalensApp {
    /// Compare the model's run A with `spec` (replacing any B); B's run starts when it needs one.
    pub(crate) fn open_compare(&mut self, spec: CompareSpec) {
        if let Err(why) = spec.check() {
            self.errors.push(ErrorNote {
                what: "Compare".into(),
                detail: why,
            });
            return;
        }
        self.close_compare();
        self.compare = Some(CompareView::new(spec));
        self.start_compare_run();
    }

    pub(crate) fn close_compare(&mut self) {
        if let Some(c) = self.compare.take() {
            if let Some(cancel) = c.cancel {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Compare with another checkpoint at its own settings.
    pub(crate) fn compare_with_checkpoint(&mut self, path: PathBuf) {
        self.open_compare(CompareSpec {
            checkpoint: Some(path),
            ..Default::default()
        });
    }

    /// (Re)start B's own run on the open video (nothing to run when B is A's trace at another
    /// budget or criterion).
    pub(crate) fn start_compare_run(&mut self) {
        let knobs = self.knobs();
        let (Some(c), Some(l), Some(m)) = (&mut self.compare, &self.loaded, &self.model) else {
            return;
        };
        if let Some(old) = c.cancel.take() {
            old.store(true, Ordering::Relaxed);
        }
        c.run = None;
        c.problem = None;
        if !c.spec.needs_run() {
            return;
        }
        c.cancel = Some(self.jobs.run_compare(
            l.video.clone(),
            m.info.path.clone(),
            knobs,
            c.spec.clone(),
            self.generation,
        ));
    }

    /// B's run arrived (for the video open now).
    pub(crate) fn compare_ran(
        &mut self,
        generation: u64,
        run: AnalysisRun,
        info: Option<Box<CheckpointInfo>>,
        calibration: Result<Option<Box<BudgetModel>>, String>,
    ) {
        let Some(c) = self
            .compare
            .as_mut()
            .filter(|_| generation == self.generation)
        else {
            return;
        };
        c.set_run(run);
        c.cancel = None;
        if let Some(info) = info {
            c.info = Some(*info);
        }
        match calibration {
            Ok(b) => c.budget_model = b,
            Err(why) => self.errors.push(ErrorNote {
                what: "B's calibration set cannot be used (B runs to its last step)".into(),
                detail: why,
            }),
        }
        self.progress = None;
    }

    /// B's clips finished so far (its run goes on).
    pub(crate) fn compare_partial(&mut self, generation: u64, run: AnalysisRun) {
        if let Some(c) = self
            .compare
            .as_mut()
            .filter(|_| generation == self.generation)
        {
            if c.cancel.is_some() {
                c.set_run(run);
            }
        }
    }

    pub(crate) fn compare_failed(&mut self, generation: u64, error: String) {
        let Some(c) = self
            .compare
            .as_mut()
            .filter(|_| generation == self.generation)
        else {
            return;
        };
        c.problem = Some(error.clone());
        c.cancel = None;
        self.progress = None;
        self.errors.push(ErrorNote {
            what: format!("Running B ({})", c.spec.label()),
            detail: error,
        });
    }

    /// What-if: edit clip `clip`'s decisions (B becomes the model's run with the edits) and run
    /// the clip again on the warm session.
    pub(crate) fn what_if_edit(&mut self, clip: usize, edit: Edit) {
        if !self.compare.as_ref().is_some_and(|c| c.spec.what_if) {
            self.open_compare(CompareSpec {
                what_if: true,
                ..Default::default()
            });
        }
        let Some(c) = &mut self.compare else { return };
        let edits = c.add_edit(clip, edit);
        self.run_what_if(clip, edits);
    }

    /// Ask the model worker for clip `clip` with `edits` over the sliders' decisions.
    fn run_what_if(&self, clip: usize, edits: Vec<Edit>) {
        self.jobs.model(ModelRequest::WhatIf {
            clip,
            knobs: self.knobs(),
            edits,
            generation: self.generation,
        });
    }

    /// Run every edited clip again (A's knobs moved under the edits).
    pub(crate) fn rerun_what_if(&mut self) {
        let Some(c) = self.compare.as_ref().filter(|c| c.spec.what_if) else {
            return;
        };
        for (&clip, e) in &c.edits {
            self.run_what_if(clip, e.edits.clone());
        }
    }

    /// A what-if run of a clip arrived.
    pub(crate) fn what_if_ran(
        &mut self,
        generation: u64,
        clip: usize,
        edits: Vec<Edit>,
        result: Result<Box<WhatIf>, String>,
        ms: f64,
    ) {
        let Some(c) = self
            .compare
            .as_mut()
            .filter(|c| c.spec.what_if && generation == self.generation)
        else {
            return;
        };
        if let Err(why) = &result {
            self.errors.push(ErrorNote {
                what: format!("The what-if run of clip {}", clip + 1),
                detail: why.clone(),
            });
        }
        let again = c.edited_ran(clip, edits, result.map(|w| w.trace), ms);
        self.notice = Some(format!(
            "What-if: clip {} ran again in {ms:.0} ms",
            clip + 1
        ));
        if let Some(edits) = again {
            self.run_what_if(clip, edits);
        }
    }

    /// Keep B's decisions and the differences in step with A (cheap when nothing moved).
    pub(crate) fn sync_compare(&mut self) {
        let Some(mut c) = self.compare.take() else {
            return;
        };
        if let Some(a) = &self.decisions {
            let a_budget = self.budget_choice().map(|(_, b)| b);
            c.sync(a, self.active_budget(), a_budget);
        }
        self.compare = Some(c);
    }
}
