//! Which rows of a run to show and in what order: the dataset view's filter box and sort, and
//! `adalens query`, with one engine.
//!
//! A filter is an expression over the summary's columns (`correct == false && exit_step <= 1`,
//! `label == "moves_up" && stages_3d > 0`), parsed and evaluated by the `evalexpr` crate. The
//! columns that depend on where videos stop (`exit_step`, `gflops`, `cubes_used`, `top1`,
//! `top1_name`, `top1_prob`, `correct`) are read under the exits the caller decided
//! ([`super::table::Decided`]), so a filter follows the budget.

use evalexpr::{Context, EvalexprError, EvalexprResult, Node, Value};

use super::summary::HEADER;
use super::table::{Decided, RunTable, VideoRow};

/// The longest filter taken, and its deepest nesting of parentheses (the parser recurses).
pub const MAX_EXPRESSION_CHARS: usize = 4096;
pub const MAX_NESTING: usize = 32;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("the filter is longer than {MAX_EXPRESSION_CHARS} characters")]
    TooLong,
    #[error("the filter nests parentheses deeper than {MAX_NESTING}")]
    TooDeep,
    #[error("the filter does not parse: {0}")]
    Parse(String),
    #[error("the filter names `{0}`, which is not a column (columns: {columns}; comparing two runs: {compared})", columns = HEADER.join(", "), compared = COMPARED.join(", "))]
    UnknownColumn(String),
    #[error("the filter cannot be evaluated on any row: {0}")]
    Eval(String),
    #[error("no column `{0}` to sort by (columns: {columns})", columns = HEADER.join(", "))]
    UnknownSort(String),
}

/// One cell of the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Empty,
}

impl Cell {
    fn value(self) -> Value {
        match self {
            Cell::Int(v) => Value::Int(v),
            Cell::Float(v) => Value::Float(v),
            Cell::Bool(v) => Value::Boolean(v),
            Cell::Text(v) => Value::String(v),
            Cell::Empty => Value::Empty,
        }
    }

    /// As the summary CSV writes it.
    pub fn text(&self) -> String {
        match self {
            Cell::Int(v) => v.to_string(),
            Cell::Float(v) => format!("{v:.6}"),
            Cell::Bool(v) => v.to_string(),
            Cell::Text(v) => v.clone(),
            Cell::Empty => String::new(),
        }
    }

    /// Order for sorting: empty cells last, numbers by value, text by its bytes.
    fn cmp(&self, other: &Cell) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        let num = |c: &Cell| match c {
            Cell::Int(v) => Some(*v as f64),
            Cell::Float(v) => Some(*v),
            Cell::Bool(v) => Some(f64::from(u8::from(*v))),
            _ => None,
        };
        match (self, other) {
            (Cell::Empty, Cell::Empty) => Equal,
            (Cell::Empty, _) => Greater,
            (_, Cell::Empty) => Less,
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            _ => match (num(self), num(other)) {
                (Some(a), Some(b)) => a.total_cmp(&b),
                (Some(_), None) => Less,
                (None, Some(_)) => Greater,
                (None, None) => Equal,
            },
        }
    }
}

/// Column `column` (an index into [`HEADER`]) of `row` under the exits that gave `d`.
pub fn cell(table: &RunTable, row: &VideoRow, d: &Decided, column: usize) -> Cell {
    let int = |v: Option<u32>| v.map_or(Cell::Empty, |v| Cell::Int(v.into()));
    let ran = d.exit_step.is_some();
    match HEADER.get(column).copied().unwrap_or_default() {
        "index" => Cell::Int(row.index as i64),
        "path" => Cell::Text(row.path.clone()),
        "label" => Cell::Text(row.label.clone()),
        "status" => Cell::Text(row.status.name().into()),
        "error" => Cell::Text(row.error.clone()),
        "exit_step" => int(d.exit_step),
        "steps" => int(d.steps),
        "gflops" if ran => Cell::Float(d.gflops),
        "kept_frames" if ran => int(Some(row.kept_frames)),
        "sampled_frames" if ran => int(Some(row.sampled_frames)),
        "stages_3d" if ran => int(Some(row.stages_3d)),
        "stages" if ran => int(Some(row.stages)),
        "cubes_used" if ran => int(Some(d.cubes_used)),
        "top1" => int(d.top1.map(|t| t.class)),
        "top1_name" => d
            .top1
            .map_or(Cell::Empty, |t| Cell::Text(table.class_name(t.class))),
        "top1_prob" => d.top1.map_or(Cell::Empty, |t| Cell::Float(t.prob.into())),
        "correct" => d.correct.map_or(Cell::Empty, Cell::Bool),
        "key" => Cell::Text(row.key.clone()),
        _ => Cell::Empty,
    }
}

/// Columns a second run adds when two runs are compared (run B against this one, A, video by
/// video; empty without a second run or for a video B did not run).
pub const COMPARED: [&str; 5] = ["correct_b", "exit_b", "gflops_b", "gflops_diff", "flip"];

/// A second run, paired with the first by video path.
pub struct Compared<'a> {
    pub table: &'a RunTable,
    pub decided: &'a [Decided],
    /// For each row of the first run, its row in this one.
    pub pair: &'a [Option<usize>],
}

/// The column named `name`: an index into [`HEADER`], then [`COMPARED`].
pub fn column(name: &str) -> Option<usize> {
    HEADER.iter().position(|h| *h == name).or_else(|| {
        COMPARED
            .iter()
            .position(|h| *h == name)
            .map(|i| HEADER.len() + i)
    })
}

/// The name of column `c` (see [`column`]).
pub fn column_name(c: usize) -> &'static str {
    HEADER
        .get(c)
        .or_else(|| COMPARED.get(c.wrapping_sub(HEADER.len())))
        .copied()
        .unwrap_or_default()
}

/// Column `c` of row `i` of `table` (under `d`), the compared columns from `other`.
pub fn cell_compared(
    table: &RunTable,
    i: usize,
    d: &Decided,
    c: usize,
    other: Option<&Compared>,
) -> Cell {
    if c < HEADER.len() {
        return table
            .rows
            .get(i)
            .map_or(Cell::Empty, |row| cell(table, row, d, c));
    }
    let b = other
        .and_then(|o| {
            o.pair
                .get(i)
                .copied()
                .flatten()
                .and_then(|j| o.decided.get(j))
        })
        .filter(|b| b.exit_step.is_some());
    let Some(b) = b else { return Cell::Empty };
    match column_name(c) {
        "correct_b" => b.correct.map_or(Cell::Empty, Cell::Bool),
        "exit_b" => b.exit_step.map_or(Cell::Empty, |e| Cell::Int(e.into())),
        "gflops_b" => Cell::Float(b.gflops),
        "gflops_diff" if d.exit_step.is_some() => Cell::Float(b.gflops - d.gflops),
        "flip" => Cell::Text(match super::compare::Flip::of(d.correct, b.correct) {
            Some(super::compare::Flip::RightToWrong) => "right_to_wrong".into(),
            Some(super::compare::Flip::WrongToRight) => "wrong_to_right".into(),
            None => String::new(),
        }),
        _ => Cell::Empty,
    }
}

/// A parsed filter.
#[derive(Debug, Clone)]
pub struct Filter {
    node: Node,
    /// The columns it reads.
    used: Vec<usize>,
    pub text: String,
}

impl Filter {
    /// Parse `expr`; a blank one is `None` (every row).
    pub fn parse(expr: &str) -> Result<Option<Filter>, QueryError> {
        if expr.trim().is_empty() {
            return Ok(None);
        }
        if expr.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(QueryError::TooLong);
        }
        let mut depth = 0usize;
        for c in expr.chars() {
            match c {
                '(' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(QueryError::TooDeep);
                    }
                }
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let node =
            evalexpr::build_operator_tree(expr).map_err(|e| QueryError::Parse(e.to_string()))?;
        let mut used = Vec::new();
        for name in node.iter_variable_identifiers() {
            let c = column(name).ok_or_else(|| QueryError::UnknownColumn(name.to_string()))?;
            if !used.contains(&c) {
                used.push(c);
            }
        }
        Ok(Some(Filter {
            node,
            used,
            text: expr.to_string(),
        }))
    }
}

/// The columns a filter reads, with one row's values.
struct RowContext {
    names: Vec<&'static str>,
    values: Vec<Value>,
}

impl Context for RowContext {
    fn get_value(&self, identifier: &str) -> Option<&Value> {
        let i = self.names.iter().position(|n| *n == identifier)?;
        self.values.get(i)
    }

    fn call_function(&self, identifier: &str, _argument: &Value) -> EvalexprResult<Value> {
        Err(EvalexprError::FunctionIdentifierNotFound(
            identifier.to_string(),
        ))
    }

    fn are_builtin_functions_disabled(&self) -> bool {
        false
    }

    fn set_builtin_functions_disabled(&mut self, _disabled: bool) -> EvalexprResult<()> {
        Err(EvalexprError::ContextNotMutable)
    }
}

/// The rows (indices into `table.rows`) that `filter` keeps, in table order. A row where the
/// filter cannot be evaluated (an empty cell compared with a number: a failed video) is left
/// out; a filter that fails on every row is an error.
pub fn select(
    table: &RunTable,
    decided: &[Decided],
    filter: Option<&Filter>,
) -> Result<Vec<usize>, QueryError> {
    select_compared(table, decided, filter, None)
}

/// [`select`] with the compared columns read from `other`.
pub fn select_compared(
    table: &RunTable,
    decided: &[Decided],
    filter: Option<&Filter>,
    other: Option<&Compared>,
) -> Result<Vec<usize>, QueryError> {
    let Some(f) = filter else {
        return Ok((0..table.rows.len()).collect());
    };
    let mut ctx = RowContext {
        names: f.used.iter().map(|&c| column_name(c)).collect(),
        values: vec![Value::Empty; f.used.len()],
    };
    let mut keep = Vec::new();
    let mut first_error = None;
    let mut evaluated = 0usize;
    for (i, d) in decided.iter().enumerate().take(table.rows.len()) {
        for (slot, &c) in ctx.values.iter_mut().zip(&f.used) {
            *slot = cell_compared(table, i, d, c, other).value();
        }
        match f.node.eval_boolean_with_context(&ctx) {
            Ok(true) => {
                keep.push(i);
                evaluated += 1;
            }
            Ok(false) => evaluated += 1,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if evaluated == 0 => Err(QueryError::Eval(e.to_string())),
        _ => Ok(keep),
    }
}

/// Sort `rows` by column `by` (stable; empty cells last whichever the direction).
pub fn sort(
    table: &RunTable,
    decided: &[Decided],
    rows: &mut [usize],
    by: usize,
    descending: bool,
) {
    sort_compared(table, decided, rows, by, descending, None)
}

/// [`sort`] with the compared columns read from `other`.
pub fn sort_compared(
    table: &RunTable,
    decided: &[Decided],
    rows: &mut [usize],
    by: usize,
    descending: bool,
    other: Option<&Compared>,
) {
    let key: Vec<Cell> = rows
        .iter()
        .map(|&i| match decided.get(i) {
            Some(d) => cell_compared(table, i, d, by, other),
            None => Cell::Empty,
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&key[a], &key[b]);
        match (x, y) {
            (Cell::Empty, _) | (_, Cell::Empty) => x.cmp(y),
            _ if descending => y.cmp(x),
            _ => x.cmp(y),
        }
    });
    let sorted: Vec<usize> = order.iter().map(|&o| rows[o]).collect();
    rows.copy_from_slice(&sorted);
}

/// Sort by the column named `name`.
pub fn sort_by_name(
    table: &RunTable,
    decided: &[Decided],
    rows: &mut [usize],
    name: &str,
    descending: bool,
) -> Result<(), QueryError> {
    let by = column(name).ok_or_else(|| QueryError::UnknownSort(name.to_string()))?;
    sort(table, decided, rows, by, descending);
    Ok(())
}
