//! `adalens query OUT EXPR`: the rows of a batch run the dataset view's filter would show, in
//! its sort order, for scripts. The work is in `adalens::batch::{table, query}`.

use std::path::PathBuf;

use anyhow::Context;

use crate::batch::query::{self, Filter};
use crate::batch::summary::HEADER;
use crate::batch::table::{Exits, RunTable};
use crate::decision::{CalibrationSet, Criterion, ExitRule, PreparedCalibration};

#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    /// The folder `adalens batch --out` wrote.
    pub out: PathBuf,
    /// Filter over the summary's columns, e.g. `correct == false && exit_step <= 1` (empty:
    /// every row).
    #[arg(default_value = "")]
    pub expr: String,
    /// Sort by this column.
    #[arg(long)]
    pub sort: Option<String>,
    /// Sort descending.
    #[arg(long, requires = "sort")]
    pub desc: bool,
    /// Re-decide every video's exit for this budget (mean GFLOPs per video), with the
    /// thresholds the checkpoint's calibration set gives (as `adalens budget`).
    #[arg(long)]
    pub budget: Option<f64>,
    /// Exit criterion for --budget.
    #[arg(long, default_value = "entropy", requires = "budget")]
    pub criterion: Criterion,
    /// Calibration set for --budget (default: the one beside the run's checkpoint).
    #[arg(long, requires = "budget")]
    pub calib: Option<PathBuf>,
    /// Print JSON (one object per row) instead of CSV.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &QueryArgs) -> anyhow::Result<()> {
    let table = RunTable::open(&a.out)?;
    for w in &table.warnings {
        eprintln!("warning: {w}");
    }
    let exits = match a.budget {
        None => Exits::Stored,
        Some(b) => {
            let calib = a.calib.clone().unwrap_or_else(|| {
                crate::model::load::calibration_sidecar(&table.settings.checkpoint)
            });
            let set = CalibrationSet::load(&calib)
                .with_context(|| format!("the calibration set {}", calib.display()))?;
            let prep = PreparedCalibration::new(set)?;
            Exits::Rule(ExitRule::for_budget(&prep, a.criterion, b)?.0)
        }
    };
    let decided = table.decide(&exits);
    let filter = Filter::parse(&a.expr)?;
    let mut rows = query::select(&table, &decided, filter.as_ref())?;
    if let Some(col) = &a.sort {
        query::sort_by_name(&table, &decided, &mut rows, col, a.desc)?;
    }
    let (table, decided) = (&table, &decided);
    let cells = |i: usize| {
        (0..HEADER.len()).map(move |c| query::cell(table, &table.rows[i], &decided[i], c))
    };
    if a.json {
        let out: Vec<serde_json::Map<String, serde_json::Value>> = rows
            .iter()
            .map(|&i| {
                HEADER
                    .iter()
                    .zip(cells(i))
                    .map(|(h, c)| (h.to_string(), json_of(c)))
                    .collect()
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(std::io::stdout().lock());
        w.write_record(HEADER)?;
        for &i in &rows {
            w.write_record(cells(i).map(|c| c.text()))?;
        }
        w.flush()?;
    }
    Ok(())
}

fn json_of(c: query::Cell) -> serde_json::Value {
    use query::Cell;
    match c {
        Cell::Int(v) => v.into(),
        Cell::Float(v) => {
            serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into)
        }
        Cell::Bool(v) => v.into(),
        Cell::Text(v) => v.into(),
        Cell::Empty => serde_json::Value::Null,
    }
}
