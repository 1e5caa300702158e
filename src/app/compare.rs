//! Compare mode: a second run B of the open video beside the model's own run A. B is A's
//! checkpoint at another budget or criterion (A's trace re-marked: nothing runs), or another
//! checkpoint or other τ_f / τ_s / cube cap (a run of its own on a worker thread). The lanes of
//! B stack under A's on the one time axis, the viewer draws B's cubes dotted over A's, and what
//! differs per clip comes from [`crate::decision::compare::diff`], the code `adalens diff`
//! prints. Pure data: tested without a window.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::budget::BudgetModel;
use super::decisions::Decisions;
use super::job_event::CheckpointInfo;
use crate::decision::compare::{diff, ClipDiff};
use crate::decision::trace::{ClipTrace, DecisionTrace};
use crate::decision::Criterion;
use crate::model::config::Knobs;
use crate::runner::{AnalysisRun, Edit};

/// What B changes of A (what it leaves `None` it takes from A).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareSpec {
    /// Another checkpoint.
    pub checkpoint: Option<PathBuf>,
    /// B's budget (GFLOPs per video); `None`: B's slider starts linked to A's.
    pub budget: Option<f64>,
    pub criterion: Option<Criterion>,
    pub tau_f: Option<f32>,
    pub tau_s: Option<f32>,
    pub max_cubes: Option<usize>,
    /// What-if: B is A with decisions edited by hand (see [`CompareView::edits`]).
    pub what_if: bool,
    /// B is the trace another batch run stored for this video (this run's folder; see
    /// [`CompareView::stored`]).
    pub run: Option<PathBuf>,
}

impl CompareSpec {
    /// Whether B is a run of its own (another network or other knobs); else it is A's trace
    /// with other exits.
    pub fn needs_run(&self) -> bool {
        self.checkpoint.is_some()
            || self.tau_f.is_some()
            || self.tau_s.is_some()
            || self.max_cubes.is_some()
    }

    /// Refuse what no run can use: a budget that is not a positive number, a threshold outside
    /// [0, 1].
    pub fn check(&self) -> Result<(), String> {
        if let Some(b) = self.budget.filter(|b| !b.is_finite() || *b <= 0.0) {
            return Err(format!("B's budget {b} is not a positive number of GFLOPs"));
        }
        for (name, t) in [("τ_f", self.tau_f), ("τ_s", self.tau_s)] {
            if let Some(t) = t.filter(|t| !(0.0..=1.0).contains(t)) {
                return Err(format!("B's {name} {t} is outside [0, 1]"));
            }
        }
        Ok(())
    }

    /// B's knobs: what it sets, else `a`'s (B's own checkpoint's when it has one).
    pub fn knobs(&self, a: Knobs) -> Knobs {
        a.with(self.tau_f, self.tau_s, self.max_cubes)
    }

    /// How the lanes and the side panel name B.
    pub fn label(&self) -> String {
        if self.what_if {
            return "what-if: the model's run with your edits".into();
        }
        if let Some(run) = &self.run {
            return format!("the run {}", run.display());
        }
        let mut parts = Vec::new();
        if let Some(p) = &self.checkpoint {
            let name = p.file_name().unwrap_or(p.as_os_str());
            parts.push(name.to_string_lossy().into_owned());
        }
        if let Some(b) = self.budget {
            parts.push(format!("budget {b:.3} GFLOPs"));
        }
        if let Some(c) = self.criterion {
            parts.push(format!("{c} exit"));
        }
        if let Some(t) = self.tau_f {
            parts.push(format!("τ_f {t:.2}"));
        }
        if let Some(t) = self.tau_s {
            parts.push(format!("τ_s {t:.2}"));
        }
        if let Some(n) = self.max_cubes {
            parts.push(format!("≤ {n} cubes"));
        }
        if parts.is_empty() {
            "A's settings".into()
        } else {
            parts.join(", ")
        }
    }
}

/// What B was built from, what its exits are marked with, and where A's exits were.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stamp {
    source: Source,
    a_exits: u64,
    budget: Option<u64>,
    criterion: Criterion,
}

/// What B's trace is made of: A's run (its generation, knobs and the clips it has run) and
/// B's own runs or edits. While it holds, a budget or exit move only re-marks B.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Source {
    a_generation: u64,
    a_knobs: Knobs,
    a_pending: usize,
    run: u64,
}

/// Run B, its decisions at its own budget, and what differs from A per clip.
pub struct CompareView {
    pub spec: CompareSpec,
    /// B's own checkpoint (when it has one), once loaded.
    pub info: Option<CheckpointInfo>,
    /// B's calibration set: its own checkpoint's, else B uses A's.
    pub budget_model: Option<Box<BudgetModel>>,
    /// B's own run (as run, exits unmarked), once it has arrived.
    pub run: Option<AnalysisRun>,
    /// Counts B's runs (a new one rebuilds the decisions).
    run_count: u64,
    /// B's decisions as drawn: its run (or A's trace) with B's exits marked.
    pub decisions: Option<Decisions>,
    /// Clip by clip, what differs between A and B as drawn.
    pub diffs: Vec<ClipDiff>,
    /// B's budget slider follows A's.
    pub linked: bool,
    /// B's budget when not linked (`None`: the middle of its range).
    pub budget: Option<f64>,
    /// Why B could not run.
    pub problem: Option<String>,
    /// Cancels B's run while it runs.
    pub cancel: Option<Arc<AtomicBool>>,
    /// B's stored trace and the knobs it ran with (a compared batch run's row).
    pub stored: Option<(DecisionTrace, Knobs)>,
    /// What-if: each edited clip's edits, and the clip as run with them once it has.
    pub edits: BTreeMap<usize, EditedClip>,
    stamp: Option<Stamp>,
}

/// One clip's what-if edits and their run.
#[derive(Debug, Clone, Default)]
pub struct EditedClip {
    pub edits: Vec<Edit>,
    /// The clip run with `ran_edits` (the latest edits once it catches up).
    pub trace: Option<ClipTrace>,
    pub ran_edits: Vec<Edit>,
    /// How long the model took for the last run (ms).
    pub ms: Option<f64>,
    pub problem: Option<String>,
}

impl CompareView {
    pub fn new(spec: CompareSpec) -> Self {
        Self {
            linked: spec.budget.is_none(),
            budget: spec.budget,
            spec,
            info: None,
            budget_model: None,
            run: None,
            run_count: 0,
            decisions: None,
            diffs: Vec::new(),
            problem: None,
            cancel: None,
            stored: None,
            edits: BTreeMap::new(),
            stamp: None,
        }
    }

    /// B's own run has arrived.
    pub fn set_run(&mut self, run: AnalysisRun) {
        self.run = Some(run);
        self.run_count += 1;
        self.problem = None;
    }

    /// What-if: add `edit` to clip `clip`'s edits; returns the clip's edits to run.
    pub fn add_edit(&mut self, clip: usize, edit: Edit) -> Vec<Edit> {
        let e = self.edits.entry(clip).or_default();
        e.edits.push(edit);
        e.edits.clone()
    }

    /// What-if: a clip's run arrived; returns the edits to run again when the clip was edited
    /// since it was asked for.
    pub fn edited_ran(
        &mut self,
        clip: usize,
        edits: Vec<Edit>,
        result: Result<ClipTrace, String>,
        ms: f64,
    ) -> Option<Vec<Edit>> {
        let e = self.edits.get_mut(&clip)?;
        match result {
            Ok(trace) => {
                e.trace = Some(trace);
                e.problem = None;
            }
            Err(why) => e.problem = Some(why),
        }
        e.ran_edits = edits;
        e.ms = Some(ms);
        self.run_count += 1;
        (e.ran_edits != e.edits).then(|| e.edits.clone())
    }

    /// Whether B waits for a run of its own.
    pub fn waiting(&self) -> bool {
        self.spec.needs_run() && self.run.is_none() && self.problem.is_none()
    }

    /// The calibration set B's slider solves on: its own checkpoint's, else A's.
    pub fn budget_model<'a>(&'a self, a: Option<&'a BudgetModel>) -> Option<&'a BudgetModel> {
        match &self.spec.checkpoint {
            Some(_) => self.budget_model.as_deref(),
            None => a,
        }
    }

    /// B's budget: A's when linked (clamped to B's range), else its own (the middle of its
    /// range when never set).
    pub fn budget_value(&self, range: (f64, f64), a_budget: Option<f64>) -> f64 {
        budget_value(self.linked, self.budget, range, a_budget)
    }

    /// Rebuild B's decisions and the differences when A's run or exits, B's run, or B's
    /// budget or criterion changed since the last time (a cheap check every frame).
    pub fn sync(&mut self, a: &Decisions, a_model: Option<&BudgetModel>, a_budget: Option<f64>) {
        let criterion = self.spec.criterion.unwrap_or(a.criterion);
        let model = match &self.spec.checkpoint {
            Some(_) => self.budget_model.as_deref(),
            None => a_model,
        };
        let (linked, own) = (self.linked, self.budget);
        let budget = model.map(|m| (m, budget_value(linked, own, m.range, a_budget)));
        let stamp = Stamp {
            source: Source {
                a_generation: a.generation,
                a_knobs: a.knobs,
                a_pending: a.pending.len(),
                run: self.run_count,
            },
            a_exits: exits_hash(a),
            budget: budget.map(|(_, b)| b.to_bits()),
            criterion,
        };
        let last = self.stamp.replace(stamp);
        if last == Some(stamp) {
            return;
        }
        // Only the budget, the criterion or A's exits moved: re-mark B (as A is re-marked),
        // no copy of the traces.
        if let Some(b) = self
            .decisions
            .as_mut()
            .filter(|_| last.is_some_and(|l| l.source == stamp.source))
        {
            b.remark(budget, criterion);
            self.diffs = diff(&a.trace, &b.trace);
            return;
        }
        let b = if let Some((trace, knobs)) = &self.stored {
            let mut d =
                Decisions::from_trace(a.generation, trace.clone(), *knobs, budget, criterion);
            d.stored = true;
            d
        } else if self.spec.what_if {
            let mut trace = a.trace.clone();
            for (&k, e) in &self.edits {
                if let (Some(slot), Some(t)) = (trace.clips.get_mut(k), &e.trace) {
                    *slot = t.clone();
                }
            }
            let mut d = Decisions::from_trace(a.generation, trace, a.knobs, budget, criterion);
            d.largest_gflops = a.largest_gflops;
            d.pending = a.pending.clone();
            d
        } else if self.spec.needs_run() {
            let Some(run) = &self.run else {
                self.decisions = None;
                self.diffs.clear();
                return;
            };
            Decisions::new(a.generation, run.clone(), budget, criterion)
        } else {
            let mut d =
                Decisions::from_trace(a.generation, a.trace.clone(), a.knobs, budget, criterion);
            d.breakdown = a.breakdown.clone();
            d.largest_gflops = a.largest_gflops;
            d.pending = a.pending.clone();
            d.stored = a.stored;
            d
        };
        self.diffs = diff(&a.trace, &b.trace);
        self.decisions = Some(b);
    }

    /// Clips where anything differs.
    pub fn differing_clips(&self) -> usize {
        self.diffs.iter().filter(|d| !d.is_same()).count()
    }
}

/// B's budget: A's when `linked` (clamped to B's range), else `own` (the middle of its range
/// when never set).
fn budget_value(linked: bool, own: Option<f64>, range: (f64, f64), a_budget: Option<f64>) -> f64 {
    let (lo, hi) = range;
    let b = match (linked, a_budget) {
        (true, Some(a)) => a,
        _ => own.unwrap_or((lo + hi) / 2.0),
    };
    b.clamp(lo, hi)
}

/// A's exits as one number: B (built from A's trace) is rebuilt when they move.
fn exits_hash(a: &Decisions) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in &a.trace.clips {
        c.exit.as_ref().map(|e| e.exit_step).hash(&mut h);
    }
    a.pending.hash(&mut h);
    h.finish()
}
