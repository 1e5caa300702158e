//! A trace logged elsewhere, open without a model (`adalens VIDEO --trace T.json`, a dropped
//! `.json`, *File → Open trace…*): its video opens with the trace drawn as a stored one, and
//! the budget slider solves on the calibration set given with it (`--calibration`, else
//! `calibration.adlcal` beside the trace). Nothing re-runs: there is no model.

use std::path::{Path, PathBuf};

use super::budget::BudgetModel;
use super::job_event::JobEvent;
use super::{AdalensApp, ErrorNote};
use crate::decision::lanes::{LaneKind, LaneTotals};
use crate::decision::trace::DecisionTrace;
use crate::decision::{CalibrationSet, PreparedCalibration};
use crate::model::config::Knobs;

/// The open logged trace: where it came from and the budget its calibration set gives.
pub struct LoggedView {
    pub path: PathBuf,
    pub arch: String,
    pub budget: Option<Box<BudgetModel>>,
    /// Why there is no budget (no calibration set, or one that cannot be used).
    pub calibration_problem: Option<String>,
    /// A run of logged traces: its generic lanes summed over every video (read on a worker).
    pub lanes: Vec<LaneTotals>,
    /// Its first categorical lane per row (row index → frames per category): the table's
    /// lane column.
    pub row_lanes: std::collections::HashMap<usize, Vec<usize>>,
}

/// The calibration set of a logged trace: the one given, else `calibration.adlcal` beside it.
pub fn calibration_for(trace: &Path, given: Option<&Path>) -> Option<PathBuf> {
    given.map(Path::to_path_buf).or_else(|| {
        let beside = trace.parent()?.join("calibration.adlcal");
        beside.is_file().then_some(beside)
    })
}

/// Read a logged trace and its calibration set (on a worker thread).
pub fn read(trace: &Path, video: Option<PathBuf>, calibration: Option<&Path>) -> JobEvent {
    let t = match crate::logged::read_trace(trace) {
        Ok(t) => t,
        Err(e) => {
            return JobEvent::Failed {
                what: format!("Opening the trace {}", trace.display()),
                error: e,
            }
        }
    };
    let video = video.unwrap_or_else(|| crate::logged::video_of(&t, trace));
    let budget = calibration_for(trace, calibration).map(|p| read_budget(&p, t.class_names.len()));
    JobEvent::TraceOpened {
        path: trace.to_path_buf(),
        video,
        trace: Box::new(t),
        budget,
    }
}

/// The budget of a calibration set for traces of `classes` classes.
pub fn read_budget(path: &Path, classes: usize) -> Result<Box<BudgetModel>, String> {
    let set = CalibrationSet::load(path).map_err(|e| e.to_string())?;
    if set.classes() != classes {
        return Err(format!(
            "{}: {} classes, the traces have {classes}",
            path.display(),
            set.classes()
        ));
    }
    let prep = PreparedCalibration::new(set).map_err(|e| e.to_string())?;
    BudgetModel::new(prep)
        .map(Box::new)
        .map_err(|e| e.to_string())
}

/// The calibration set of a run made of logged traces: `calibration.adlcal` in the run's
/// folder, or in the folder of traces it was imported from.
pub fn run_calibration(run: &crate::batch::table::RunTable) -> Option<PathBuf> {
    [Some(&run.dir), run.settings.traces.as_ref()]
        .into_iter()
        .flatten()
        .map(|d| d.join("calibration.adlcal"))
        .find(|p| p.is_file())
}

impl AdalensApp {
    /// A run of logged traces was opened: no model (its budget comes from the traces'
    /// calibration set, read on a worker).
    pub(crate) fn logged_run_opened(
        &mut self,
        table: &std::sync::Arc<crate::batch::table::RunTable>,
    ) {
        self.model = None;
        self.logged = Some(LoggedView {
            path: table.dir.clone(),
            arch: table.settings.arch.clone(),
            budget: None,
            calibration_problem: Some(
                "No calibration.adlcal beside the traces (`adalens calibrate --traces DIR LIST` \
                 makes one); every video runs to its last step, or fit on the run's own labels."
                    .into(),
            ),
            lanes: Vec::new(),
            row_lanes: Default::default(),
        });
        // The run's lanes, summed over its traces.
        let run = table.clone();
        self.jobs.spawn_video_job(move |send| {
            // One trace at a time: a run of thousands need not sit in memory.
            let mut lanes = Vec::new();
            let mut first: Option<String> = None;
            let mut rows = std::collections::HashMap::new();
            for (i, r) in run.rows.iter().enumerate() {
                if r.status != crate::batch::table::RowStatus::Ok {
                    continue;
                }
                let Ok(t) = run.trace(r) else { continue };
                LaneTotals::add(&mut lanes, &t);
                first = first.or_else(|| {
                    let l = t.lanes.iter().find(|l| l.kind == LaneKind::Categorical)?;
                    Some(l.name.clone())
                });
                if let Some(spec) = first.as_ref().and_then(|n| t.lane(n)) {
                    rows.insert(i, crate::decision::lanes::category_counts(spec, &t.clips).0);
                }
            }
            send(JobEvent::LoggedLanes {
                dir: run.dir.clone(),
                lanes,
                rows,
            })
        });
        if let Some(path) = run_calibration(table) {
            let classes = table.class_names.len();
            self.jobs.spawn_video_job(move |send| {
                send(JobEvent::LoggedBudget {
                    budget: read_budget(&path, classes),
                    path,
                })
            });
        }
    }

    /// The lanes of the open run of logged traces, summed, arrived.
    pub(crate) fn logged_lanes(
        &mut self,
        dir: PathBuf,
        lanes: Vec<LaneTotals>,
        rows: std::collections::HashMap<usize, Vec<usize>>,
    ) {
        if let Some(l) = self.logged.as_mut().filter(|l| l.path == dir) {
            l.lanes = lanes;
            l.row_lanes = rows;
        }
    }

    /// The calibration set of the open run of logged traces arrived.
    pub(crate) fn logged_budget(
        &mut self,
        path: PathBuf,
        budget: Result<Box<BudgetModel>, String>,
    ) {
        let Some(l) = &mut self.logged else { return };
        match budget {
            Ok(b) => {
                let (lo, hi) = b.range;
                self.state.sliders.budget = Some((lo + hi) / 2.0);
                l.budget = Some(b);
                l.calibration_problem = None;
            }
            Err(e) => {
                self.errors.push(ErrorNote {
                    what: format!("The calibration set {} cannot be used", path.display()),
                    detail: e.clone(),
                });
                l.calibration_problem = Some(e);
            }
        }
    }

    /// A logged trace arrived: the model is put aside (nothing runs on a logged trace), and
    /// the trace's video opens with the trace drawn on it.
    pub(crate) fn trace_opened(
        &mut self,
        path: PathBuf,
        video: PathBuf,
        trace: DecisionTrace,
        budget: Option<Result<Box<BudgetModel>, String>>,
    ) {
        let (budget, problem) = match budget {
            None => (
                None,
                Some(format!(
                    "No calibration set: give one with --calibration, or put calibration.adlcal \
                     beside {} (`adalens calibrate --traces DIR` makes one from traces with \
                     per-step probabilities). Every clip runs to its last step.",
                    path.display()
                )),
            ),
            Some(Ok(b)) => (Some(b), None),
            Some(Err(e)) => {
                self.errors.push(ErrorNote {
                    what: "The trace's calibration set cannot be used".into(),
                    detail: e.clone(),
                });
                (None, Some(e))
            }
        };
        // The budget of another model's range means nothing here: start in the middle.
        if let Some(b) = &budget {
            let (lo, hi) = b.range;
            self.state.sliders.budget = Some((lo + hi) / 2.0);
        }
        self.model = None;
        self.close_compare();
        self.dataset = None;
        self.showing_dataset = false;
        self.open_row = None;
        self.logged = Some(LoggedView {
            path,
            arch: trace.arch.clone(),
            budget,
            calibration_problem: problem,
            lanes: Vec::new(),
            row_lanes: Default::default(),
        });
        // The knobs only label τ lanes, which a logged trace's frames do not use.
        let knobs = Knobs {
            frame_threshold: 0.5,
            stage_threshold: 0.5,
            max_cubes: None,
        };
        self.stored_trace = Some((video.clone(), trace, knobs));
        self.push(super::Command::OpenVideo(video));
    }
}
