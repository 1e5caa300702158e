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

/// How one video's prediction changed since the budget last moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flip {
    RightToWrong,
    WrongToRight,
}

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
        if first {
            self.anchor = self.decided.iter().map(|d| d.correct).collect();
        }
        self.exits = exits;
        self.flips = self
            .anchor
            .iter()
            .zip(&self.decided)
            .enumerate()
            .filter_map(|(i, (before, now))| match (before, now.correct) {
                (Some(true), Some(false)) => Some((i, Flip::RightToWrong)),
                (Some(false), Some(true)) => Some((i, Flip::WrongToRight)),
                _ => None,
            })
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
    /// criterion).
    pub fn ensure_curve(&mut self, model: &BudgetModel, criterion: Criterion) {
        if self.curve.as_ref().is_some_and(|(c, _)| *c == criterion) {
            return;
        }
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
        self.order_rows();
    }

    fn order_rows(&mut self) {
        let mut rows = match query::select(&self.table, &self.decided, self.filter.as_ref()) {
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
            query::sort(&self.table, &self.decided, &mut rows, by, desc);
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
