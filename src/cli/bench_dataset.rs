//! `adalens bench dataset`: the dataset view's work on a large run. It writes a run of N videos
//! (valid traces made from a real small run's: each copied with its per-step entropies,
//! confidences and top-k probabilities perturbed by a seeded generator, so exits and
//! correctness vary), then times opening it, one filter, one sort and one re-decision for a
//! budget — the numbers BENCHMARKS.md reports next to pandas doing the same on its Parquet
//! files (`scripts/bench_dataset_pandas.py`). The run is synthetic; the tests use real ones.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};

use crate::batch::query::{self, Filter};
use crate::batch::summary::{row_ok, to_csv};
use crate::batch::table::{Exits, RowStatus, RunTable};
use crate::batch::Entry;
use crate::decision::trace::DecisionTrace;
use crate::decision::{CalibrationSet, Criterion, ExitRule, PreparedCalibration};

#[derive(clap::Args, Debug)]
pub struct BenchDatasetArgs {
    /// A real batch run whose traces serve as templates.
    #[arg(long)]
    pub from: PathBuf,
    /// Where to write the synthetic run (made once; reused when it is there).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 25_000)]
    pub videos: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Filter timed.
    #[arg(long, default_value = "correct == false && exit_step <= 1")]
    pub filter: String,
    /// Repetitions of each timed operation (the median is printed).
    #[arg(long, default_value_t = 15)]
    pub repeat: usize,
}

pub fn run(a: &BenchDatasetArgs) -> anyhow::Result<()> {
    if !a.out.join("batch.json").is_file() {
        let t = Instant::now();
        generate(a)?;
        eprintln!(
            "wrote {} videos in {:.1} s",
            a.videos,
            t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    let table = RunTable::open(&a.out)?;
    let open = t.elapsed();
    anyhow::ensure!(table.warnings.is_empty(), "{:?}", table.warnings);
    let calib = crate::model::load::calibration_sidecar(&table.settings.checkpoint);
    let prep = PreparedCalibration::new(
        CalibrationSet::load(&calib).with_context(|| calib.display().to_string())?,
    )?;
    let (lo, hi) = prep.fit_cost_range();
    let mut budgets = (0..a.repeat).map(|i| lo + (hi - lo) * (i % 5) as f64 / 4.0);
    let mut decide = Vec::new();
    for _ in 0..a.repeat {
        let b = budgets.next().unwrap_or(lo);
        let t = Instant::now();
        let (rule, _) = ExitRule::for_budget(&prep, Criterion::Entropy, b)?;
        let d = table.decide(&Exits::Rule(rule));
        decide.push(t.elapsed());
        std::hint::black_box(d);
    }
    // The filter, the sorts and the pandas peer work at the middle of the range.
    let (rule, _) = ExitRule::for_budget(&prep, Criterion::Entropy, (lo + hi) / 2.0)?;
    let exits = Exits::Rule(rule);
    let decided = table.decide(&exits);
    let filter = Filter::parse(&a.filter)?;
    let (mut filter_t, mut sort_t, mut sort_text_t) = (Vec::new(), Vec::new(), Vec::new());
    // The same filter on the exits as stored: the rows pandas filters in summary.parquet.
    let stored = table.decide(&Exits::Stored);
    let mut stored_t = Vec::new();
    let mut stored_rows = 0;
    for _ in 0..a.repeat {
        let t = Instant::now();
        stored_rows = query::select(&table, &stored, filter.as_ref())?.len();
        stored_t.push(t.elapsed());
    }
    let mut kept = 0;
    for _ in 0..a.repeat {
        let t = Instant::now();
        let rows = query::select(&table, &decided, filter.as_ref())?;
        filter_t.push(t.elapsed());
        kept = rows.len();
        let mut all: Vec<usize> = (0..table.rows.len()).collect();
        let t = Instant::now();
        query::sort_by_name(&table, &decided, &mut all, "gflops", true)?;
        sort_t.push(t.elapsed());
        let t = Instant::now();
        query::sort_by_name(&table, &decided, &mut all, "path", false)?;
        sort_text_t.push(t.elapsed());
    }
    // The window's "thresholds from this run's own labels": the set, prepared, with curves.
    let t = Instant::now();
    let own = PreparedCalibration::new(table.own_calibration()?)?;
    let own_set = t.elapsed();
    std::hint::black_box(own);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let out = serde_json::json!({
        "videos": table.rows.len(),
        "steps_rows": table.rows.iter().map(|r| r.clips.iter().map(|c| c.steps.len()).sum::<usize>()).sum::<usize>(),
        "open_ms": ms(open),
        "redecide_ms": ms(super::bench::median(decide)),
        "filter_ms": ms(super::bench::median(filter_t)),
        "filter_rows": kept,
        "filter_stored_ms": ms(super::bench::median(stored_t)),
        "filter_stored_rows": stored_rows,
        "sort_ms": ms(super::bench::median(sort_t)),
        "sort_path_ms": ms(super::bench::median(sort_text_t)),
        "own_labels_set_ms": ms(own_set),
        // The last budget's thresholds: the pandas peer re-decides with these.
        // (as text: JSON has no infinities; null never exits there)
        "thresholds": match &exits {
            Exits::Rule(r) => r.thresholds.iter().map(|t| t.map(|v| v.to_string())).collect(),
            Exits::Stored => Vec::new(),
        },
    });
    println!("{out}");
    Ok(())
}

/// Write the synthetic run: traces, summary.csv, batch.json, then its Parquet files.
fn generate(a: &BenchDatasetArgs) -> anyhow::Result<()> {
    let template = RunTable::open(&a.from)?;
    let traces: Vec<DecisionTrace> = template
        .rows
        .iter()
        .filter(|r| r.status == RowStatus::Ok)
        .map(|r| template.trace(r))
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        !traces.is_empty(),
        "{} has no finished videos",
        a.from.display()
    );
    let labels: Vec<String> = template
        .rows
        .iter()
        .filter(|r| r.status == RowStatus::Ok)
        .map(|r| r.label.clone())
        .collect();
    std::fs::create_dir_all(a.out.join("traces"))?;
    std::fs::create_dir_all(a.out.join("failed"))?;
    std::fs::copy(a.from.join("batch.json"), a.out.join("batch.json"))?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let classes = template.class_names.len().max(2) as f32;
    let mut rows = Vec::with_capacity(a.videos);
    for i in 0..a.videos {
        let k = i % traces.len();
        let mut t = traces[k].clone();
        for c in &mut t.clips {
            for s in &mut c.steps {
                s.entropy = (s.entropy * rng.random_range(0.5..1.5)).clamp(0.0, classes.ln());
                // Now and then the runner-up wins: correctness varies across copies.
                if s.top.len() > 1 && rng.random_bool(0.2) {
                    s.top.swap(0, 1);
                    let (a0, a1) = (s.top[0].prob, s.top[1].prob);
                    s.top[0].prob = a1;
                    s.top[1].prob = a0;
                }
                s.confidence = s.top.first().map_or(s.confidence, |p| p.prob);
            }
        }
        let key = format!("synthetic_{i:06}");
        let e = Entry {
            index: i,
            path: PathBuf::from(&t.video.path),
            label: Some(labels[k].clone()),
            key: key.clone(),
        };
        crate::fsutil::write_atomic(
            &a.out.join("traces").join(format!("{key}.json")),
            t.to_json()?.as_bytes(),
        )?;
        rows.push(row_ok(&e, &t));
    }
    crate::fsutil::write_atomic(&a.out.join("summary.csv"), to_csv(&rows).as_bytes())?;
    crate::batch::parquet::write_run(&a.out)?;
    Ok(())
}
