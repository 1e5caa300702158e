//! The dataset view's loaded data: a batch run ([`RunTable`]) and what the window derives from
//! it — every video under the budget on the slider, the rows the filter and class facet keep
//! in the chosen order, the selection, and which videos flipped right↔wrong since the budget
//! last moved. Nothing here is persisted; the budget is the inspector's (one value).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::batch::query::{self, Filter};
use crate::batch::table::{Decided, Exits, RowStatus, RunTable};
use crate::decision::{Criterion, ExitRule};

use super::budget::BudgetModel;

pub use crate::batch::compare::Flip;

/// Per class (of the labels): how the run does on it under the current exits.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    pub class: u32,
    pub name: String,
    pub videos: usize,
    pub accuracy: f64,
    pub mean_gflops: f64,
}

/// The whole run under the current exits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunSummary {
    /// Videos with results.
    pub ran: usize,
    /// Of those with a label the checkpoint knows: the share right.
    pub accuracy: Option<f64>,
    pub mean_gflops: f64,
    pub right_to_wrong: usize,
    pub wrong_to_right: usize,
}

/// A second run compared with the open one, video by video (paired by path).
pub struct OtherRun {
    pub table: Arc<RunTable>,
    /// Its checkpoint's calibration set, to re-decide it for the same budget (else its exits
    /// stay as stored).
    prep: Option<crate::decision::PreparedCalibration>,
    pub exits: Exits,
    pub decided: Vec<Decided>,
    /// For each row of the open run, its row in this one.
    pub pair: Vec<Option<usize>>,
    /// Flips from the open run (A) to this one (B), and the mean GFLOPs of both over the
    /// videos both ran.
    pub right_to_wrong: usize,
    pub wrong_to_right: usize,
    pub mean_gflops: (f64, f64),
}

pub struct DatasetView {
    pub table: Arc<RunTable>,
    /// The exits `decided` holds.
    pub exits: Exits,
    pub decided: Vec<Decided>,
    /// Each video's correctness before the current budget move (flips are against it).
    anchor: Vec<Option<bool>>,
    /// A budget move is under way (the slider held): the anchor stays.
    moving: bool,
    pub flips: HashMap<usize, Flip>,
    pub filter_text: String,
    pub filter_error: Option<String>,
    filter: Option<Filter>,
    /// Only videos labelled with this class (a facet clicked).
    pub class_filter: Option<u32>,
    /// Column (index into the summary header) and descending.
    pub sort: Option<(usize, bool)>,
    /// Rows shown, in order.
    pub visible: Vec<usize>,
    pub selected: BTreeSet<usize>,
    pub summary: RunSummary,
    pub facets: Vec<Facet>,
    /// Accuracy against mean GFLOPs of this run over the calibration range, per criterion.
    pub curve: Option<(Criterion, Vec<[f64; 2]>)>,
    /// Exit-frame thumbnails by row: the frame and its picture (`None`: could not be
    /// decoded); and the (row, frame) pairs asked for.
    pub thumbs: HashMap<usize, (usize, Option<egui::TextureHandle>)>,
    pub thumbs_requested: std::collections::HashSet<(usize, usize)>,
    /// A second run to compare with (`flip`, `exit_b`, … columns).
    pub other: Option<OtherRun>,
    /// Fit the thresholds on this run's own labels instead of the checkpoint's calibration set.
    pub use_own: bool,
    /// That calibration set, prepared (built when first asked for), or why there is none.
    pub own: Option<Result<Box<BudgetModel>, String>>,
    /// The row clicked last (where Shift+click extends from).
    last_clicked: Option<usize>,
    /// Scroll the table to this offset (points) on the next frame.
    pub scroll_to: Option<f32>,
    /// Rows arrived since the curve was drawn (a run in progress): redrawn at most once a
    /// second.
    curve_stale: bool,
    curve_at: Option<std::time::Instant>,
}

/// Budgets the run's curve is drawn at.
const CURVE_POINTS: usize = 19;

impl DatasetView {
    pub fn new(table: Arc<RunTable>) -> Self {
        let exits = Exits::Stored;
        let decided = table.decide(&exits);
        let anchor = decided.iter().map(|d| d.correct).collect();
        let mut v = Self {
            table,
            exits,
            decided,
            anchor,
            moving: false,
            flips: HashMap::new(),
            filter_text: String::new(),
            filter_error: None,
            filter: None,
            class_filter: None,
            sort: None,
            visible: Vec::new(),
            selected: BTreeSet::new(),
            summary: RunSummary::default(),
            facets: Vec::new(),
            curve: None,
            thumbs: HashMap::new(),
            thumbs_requested: Default::default(),
            scroll_to: None,
            last_clicked: None,
            other: None,
            use_own: false,
            own: None,
            curve_stale: false,
            curve_at: None,
        };
        v.derive();
        v
    }

    /// Re-decide every video when the exits differ from those shown. `settled`: the slider is
    /// not held, so the next change starts a new move (and a new anchor for the flips).
    pub fn set_exits(&mut self, exits: Exits, settled: bool) {
        if exits == self.exits {
            if settled {
                self.moving = false;
            }
            return;
        }
        // The first budget (the checkpoint's calibration set has just arrived) is where the
        // run starts, not a move: nothing has flipped yet.
        let first = self.exits == Exits::Stored;
        if !self.moving {
            self.anchor = self.decided.iter().map(|d| d.correct).collect();
        }
        self.moving = !settled;
        self.decided = self.table.decide(&exits);
        self.decide_other(&exits);
        if first {
            self.anchor = self.decided.iter().map(|d| d.correct).collect();
        }
        self.exits = exits;
        self.flips = self
            .anchor
            .iter()
            .zip(&self.decided)
            .enumerate()
            .filter_map(|(i, (before, now))| Flip::of(*before, now.correct).map(|f| (i, f)))
            .collect();
        self.derive();
    }

    /// The exits for the budget on the slider: thresholds from the run's checkpoint's
    /// calibration set (as `adalens budget`), else where the batch stopped.
    pub fn exits_for(budget: Option<(&BudgetModel, f64)>, criterion: Criterion) -> Exits {
        match budget.map(|(m, b)| (m.prep.solve_budget(criterion, b), b)) {
            Some((Ok(sol), b)) => Exits::Rule(ExitRule::from_solution(&sol, criterion, b)),
            _ => Exits::Stored,
        }
    }

    /// This run's accuracy against mean GFLOPs across the calibration range (once per
    /// criterion): the range of the run's own labels when fitting on them, else `checkpoint`'s.
    pub fn ensure_curve(&mut self, checkpoint: Option<&BudgetModel>, criterion: Criterion) {
        let fresh = !self.curve_stale
            || self
                .curve_at
                .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1));
        if fresh && self.curve.as_ref().is_some_and(|(c, _)| *c == criterion) {
            return;
        }
        let model = match (self.use_own, &self.own, checkpoint) {
            (true, Some(Ok(own)), _) => &**own,
            (false, _, Some(m)) => m,
            _ => return,
        };
        let points = model
            .prep
            .default_budgets(CURVE_POINTS)
            .into_iter()
            .filter_map(|b| {
                let exits = Self::exits_for(Some((model, b)), criterion);
                let s = summarise(&self.table, &self.table.decide(&exits));
                Some([s.mean_gflops, s.accuracy?])
            })
            .collect();
        self.curve = Some((criterion, points));
        self.curve_stale = false;
        self.curve_at = Some(std::time::Instant::now());
    }

    /// Compare with `table` (run B), re-decided for the same budget on `prep` when given.
    pub fn set_other(
        &mut self,
        table: Arc<RunTable>,
        prep: Option<crate::decision::PreparedCalibration>,
    ) {
        let by_path: HashMap<&str, usize> = table
            .rows
            .iter()
            .enumerate()
            .map(|(j, r)| (r.path.as_str(), j))
            .collect();
        let pair = self
            .table
            .rows
            .iter()
            .map(|r| by_path.get(r.path.as_str()).copied())
            .collect();
        self.other = Some(OtherRun {
            decided: table.decide(&Exits::Stored),
            table,
            prep,
            exits: Exits::Stored,
            pair,
            right_to_wrong: 0,
            wrong_to_right: 0,
            mean_gflops: (0.0, 0.0),
        });
        let exits = self.exits.clone();
        self.decide_other(&exits);
        self.derive();
    }

    pub fn close_other(&mut self) {
        self.other = None;
        self.derive();
    }

    /// Run B under the same budget and criterion as `exits` (its own thresholds for it), or
    /// as stored.
    fn decide_other(&mut self, exits: &Exits) {
        let Some(o) = &mut self.other else { return };
        let want = match (exits, &o.prep) {
            (Exits::Rule(r), Some(prep)) => r
                .budget
                .and_then(|b| ExitRule::for_budget(prep, r.criterion, b).ok())
                .map_or(Exits::Stored, |(rule, _)| Exits::Rule(rule)),
            _ => Exits::Stored,
        };
        if want != o.exits {
            o.decided = o.table.decide(&want);
            o.exits = want;
        }
    }

    /// Switch the thresholds' source: the run's own labels (`true`, built the first time) or
    /// the checkpoint's calibration set.
    pub fn fit_on_own_labels(&mut self, on: bool) {
        self.use_own = on;
        if on && self.own.is_none() {
            let built = self
                .table
                .own_calibration()
                .map_err(|e| e.to_string())
                .and_then(|set| {
                    crate::decision::PreparedCalibration::new(set).map_err(|e| e.to_string())
                })
                .and_then(|prep| BudgetModel::new(prep).map_err(|e| e.to_string()));
            self.own = Some(built.map(Box::new));
        }
        // The curve belongs to the other set.
        self.curve = None;
    }

    /// A video of a run in progress finished: its row anew (not a flip: it had no result).
    pub fn replace_row(&mut self, pos: usize, row: crate::batch::table::VideoRow) {
        let table = Arc::make_mut(&mut self.table);
        let Some(slot) = table.rows.get_mut(pos) else {
            return;
        };
        *slot = row;
        // A run's own calibration set grows with it: rebuilt when next asked for.
        self.own = None;
        self.use_own = false;
        let d = slot.decide(&self.exits);
        if let (Some(x), Some(a)) = (self.decided.get_mut(pos), self.anchor.get_mut(pos)) {
            *x = d;
            *a = d.correct;
        }
        self.thumbs.remove(&pos);
        self.curve_stale = true;
        self.derive();
    }

    /// A click on the visible row at `pos`: selects it alone; with Ctrl (`toggle`) adds or
    /// removes it; with Shift (`extend`) selects every row from the last one clicked to it.
    pub fn click_row(&mut self, pos: usize, toggle: bool, extend: bool) {
        let Some(&i) = self.visible.get(pos) else {
            return;
        };
        if toggle {
            if !self.selected.remove(&i) {
                self.selected.insert(i);
            }
        } else if extend {
            let from = self
                .last_clicked
                .and_then(|r| self.visible.iter().position(|&v| v == r))
                .unwrap_or(pos);
            let (a, b) = (from.min(pos), from.max(pos));
            self.selected.extend(self.visible[a..=b].iter().copied());
        } else {
            self.selected.clear();
            self.selected.insert(i);
        }
        self.last_clicked = Some(i);
    }

    /// Parse and apply the filter box's text.
    pub fn set_filter(&mut self, text: String) {
        self.filter_text = text;
        match Filter::parse(&self.filter_text) {
            Ok(f) => {
                self.filter = f;
                self.filter_error = None;
            }
            Err(e) => self.filter_error = Some(e.to_string()),
        }
        self.order_rows();
    }

    /// Sort by `column`; the same column again turns the direction.
    pub fn sort_by(&mut self, column: usize) {
        self.sort = match self.sort {
            Some((c, desc)) if c == column => Some((c, !desc)),
            _ => Some((column, false)),
        };
        self.order_rows();
    }

    pub fn set_class_filter(&mut self, class: Option<u32>) {
        self.class_filter = class;
        self.order_rows();
    }

    /// Summary, facets and visible rows from `decided`.
    fn derive(&mut self) {
        let mut s = summarise(&self.table, &self.decided);
        s.right_to_wrong = self
            .flips
            .values()
            .filter(|f| **f == Flip::RightToWrong)
            .count();
        s.wrong_to_right = self.flips.len() - s.right_to_wrong;
        self.summary = s;
        self.facets = facets(&self.table, &self.decided);
        if let Some(o) = &mut self.other {
            let (mut rw, mut wr, mut ga, mut gb, mut n) = (0, 0, 0.0, 0.0, 0usize);
            for (d, j) in self.decided.iter().zip(&o.pair) {
                let Some(b) = j.and_then(|j| o.decided.get(j)) else {
                    continue;
                };
                if d.exit_step.is_none() || b.exit_step.is_none() {
                    continue;
                }
                match Flip::of(d.correct, b.correct) {
                    Some(Flip::RightToWrong) => rw += 1,
                    Some(Flip::WrongToRight) => wr += 1,
                    None => {}
                }
                (ga, gb, n) = (ga + d.gflops, gb + b.gflops, n + 1);
            }
            let n = n.max(1) as f64;
            (o.right_to_wrong, o.wrong_to_right, o.mean_gflops) = (rw, wr, (ga / n, gb / n));
        }
        self.order_rows();
    }

    fn order_rows(&mut self) {
        let other = self.other.as_ref().map(|o| query::Compared {
            table: &o.table,
            decided: &o.decided,
            pair: &o.pair,
        });
        let selected = query::select_compared(
            &self.table,
            &self.decided,
            self.filter.as_ref(),
            other.as_ref(),
        );
        let mut rows = match selected {
            Ok(rows) => rows,
            Err(e) => {
                self.filter_error = Some(e.to_string());
                Vec::new()
            }
        };
        if let Some(class) = self.class_filter {
            rows.retain(|&i| self.table.rows[i].label_class == Some(class));
        }
        if let Some((by, desc)) = self.sort {
            query::sort_compared(
                &self.table,
                &self.decided,
                &mut rows,
                by,
                desc,
                other.as_ref(),
            );
        }
        self.visible = rows;
    }
}

fn summarise(table: &RunTable, decided: &[Decided]) -> RunSummary {
    let mut s = RunSummary::default();
    let (mut labelled, mut right, mut gflops) = (0usize, 0usize, 0.0);
    for (r, d) in table.rows.iter().zip(decided) {
        if r.status != RowStatus::Ok || d.exit_step.is_none() {
            continue;
        }
        s.ran += 1;
        gflops += d.gflops;
        if let Some(c) = d.correct {
            labelled += 1;
            right += usize::from(c);
        }
    }
    s.mean_gflops = if s.ran > 0 {
        gflops / s.ran as f64
    } else {
        0.0
    };
    s.accuracy = (labelled > 0).then(|| right as f64 / labelled as f64);
    s
}

fn facets(table: &RunTable, decided: &[Decided]) -> Vec<Facet> {
    let mut by: std::collections::BTreeMap<u32, (usize, usize, f64)> = Default::default();
    for (r, d) in table.rows.iter().zip(decided) {
        let (Some(class), Some(c)) = (r.label_class, d.correct) else {
            continue;
        };
        let e = by.entry(class).or_default();
        e.0 += 1;
        e.1 += usize::from(c);
        e.2 += d.gflops;
    }
    by.into_iter()
        .map(|(class, (n, right, g))| Facet {
            class,
            name: table.class_name(class),
            videos: n,
            accuracy: right as f64 / n as f64,
            mean_gflops: g / n as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::table::{RunSettings, VideoRow};

    fn view(n: usize) -> DatasetView {
        let row = |i: usize| VideoRow {
            index: i,
            path: format!("v{i}.mp4"),
            label: String::new(),
            label_class: None,
            status: RowStatus::Pending,
            error: String::new(),
            key: format!("v{i}"),
            kept_frames: 0,
            sampled_frames: 0,
            stages_3d: 0,
            stages: 0,
            clips: Vec::new(),
        };
        let table = RunTable {
            dir: "run".into(),
            settings: RunSettings {
                checkpoint: "ck".into(),
                knobs: None,
                arch: "ada3d_focus".into(),
                criterion: Criterion::Entropy,
                budget: None,
                traces: None,
            },
            class_names: Vec::new(),
            rows: (0..n).map(row).collect(),
            warnings: Vec::new(),
        };
        DatasetView::new(Arc::new(table))
    }

    #[test]
    fn click_selects_ctrl_toggles_and_shift_extends_in_the_shown_order() {
        let mut v = view(6);
        // Shown in reverse order (a descending sort).
        v.visible = vec![5, 4, 3, 2, 1, 0];
        v.click_row(1, false, false);
        assert_eq!(v.selected, BTreeSet::from([4]));
        v.click_row(4, false, true);
        assert_eq!(v.selected, BTreeSet::from([4, 3, 2, 1]));
        v.click_row(2, true, false);
        assert_eq!(v.selected, BTreeSet::from([4, 2, 1]));
        v.click_row(5, true, false);
        assert_eq!(v.selected, BTreeSet::from([4, 2, 1, 0]));
        v.click_row(0, false, false);
        assert_eq!(v.selected, BTreeSet::from([5]));
        // Out of range: nothing happens.
        v.click_row(99, false, false);
        assert_eq!(v.selected, BTreeSet::from([5]));
    }
}
