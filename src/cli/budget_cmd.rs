//! `adalens budget`: exit thresholds for a compute budget (AdaFocusV3 eq. 7), and
//! `adalens bench budget`: how fast that is.
//!
//! Reads our calibration format, or the official Uni-AdaFocus early-exit logits file (`.pth`)
//! together with its per-step GFLOPs table. All the work is in `adalens::decision`; this file
//! parses arguments and prints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::decision::calibration::MAGIC;
use crate::decision::synthetic::{synthetic_set, SyntheticSpec};
use crate::decision::{
    CalibrationSet, Clamp, Criterion, Curve, CurveOptions, Evaluation, PreparedCalibration,
    Rounding, Solution, Split,
};
use crate::model::official_logits::{load_official_logits, uniadafocus_gflops};

/// Arguments of `adalens budget`.
#[derive(clap::Args, Debug)]
pub struct BudgetArgs {
    /// Calibration set: our format (written by `adalens calibrate`), or the official Uni-AdaFocus
    /// logits file (torch.save'd train/val logits and targets; needs --gflops-table).
    pub calib: PathBuf,
    /// Budget in mean GFLOPs per video (clamped to what the fitting split can reach).
    #[arg(long, conflicts_with = "p", required_unless_present_any = ["p", "curve"])]
    pub budget: Option<f64>,
    /// Geometric parameter p directly (exit shares q_t ∝ p^t), to compare with other
    /// implementations at the same p.
    #[arg(long)]
    pub p: Option<f64>,
    /// Exit criterion: entropy (exit when H ≤ η_t) or confidence (exit when max p ≥ τ_t).
    #[arg(long, default_value = "entropy")]
    pub criterion: Criterion,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print the whole curve: 19 budgets across the reachable range with the random-exit
    /// baseline, and the fixed-step curve.
    #[arg(long)]
    pub curve: bool,
    /// With --curve: sweep the 19 geometric parameters p = 1/20 … 19/20 instead of budgets.
    #[arg(long, requires = "curve")]
    pub sweep_p: bool,
    /// Per-step cumulative GFLOPs for an official logits file: "g0,g1,…" or "uniadafocus:128"
    /// (the official table for patch size 96, 128, 160 or 192).
    #[arg(long, value_name = "G0,G1,...")]
    pub gflops_table: Option<String>,
    /// Also compute mAP on curves for single-label sets (always done for multi-label sets).
    #[arg(long)]
    pub map: bool,
    /// Seed of the random-exit baseline.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How exit counts are rounded from the geometric shares: `cumulative` (the default: a
    /// budget search that is sound, both extremes reachable) or `official` (each share rounded
    /// down as the official MSDNet/AdaFocus scripts do, the remainder to the last exit: their
    /// exact exit counts, thresholds and accuracy at a given --p).
    #[arg(long, default_value = "cumulative")]
    pub rounding: Rounding,
}

/// Runs `adalens budget`.
pub fn run(args: &BudgetArgs) -> anyhow::Result<()> {
    let set = load_calibration(&args.calib, args.gflops_table.as_deref())?;
    let prep = PreparedCalibration::new(set).context("preparing the calibration set")?;
    let with_map = args.map || prep.uses_map();

    if args.curve {
        let opts = CurveOptions {
            with_map,
            with_random: true,
            random_seed: args.seed,
            rounding: args.rounding,
        };
        let curve = if args.sweep_p {
            prep.curve_for_ps(args.criterion, &crate::decision::geometric_ps(), &opts)?
        } else {
            prep.curve_for_budgets(args.criterion, &prep.default_budgets(19), &opts)?
        };
        if args.json {
            let oracle = prep.oracle(Split::Eval);
            let out = CurveJson {
                calib: &args.calib,
                summary: summary(&prep),
                curve: &curve,
                oracle_top1: curve
                    .adaptive
                    .iter()
                    .map(|pt| oracle.top1_at(pt.gflops))
                    .collect(),
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            print_curve(&prep, &args.calib, &curve);
        }
        return Ok(());
    }

    let sol = match (args.budget, args.p) {
        (Some(b), _) => prep.solve_budget_with(args.criterion, b, args.rounding)?,
        (None, Some(p)) => prep.solve_p_with(args.criterion, p, args.rounding)?,
        (None, None) => bail!("give --budget B or --p P (or --curve)"),
    };
    if args.json {
        let out = solution_json(&args.calib, &prep, &sol, args.seed)?;
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let ev = prep.evaluate(&sol);
        let map = prep.mean_average_precision(&ev);
        let random = prep.random_exit(&ev.counts, args.seed)?;
        let random_map = prep.mean_average_precision(&random);
        print_solution(&prep, &args.calib, &sol, &ev, map, &random, random_map);
    }
    Ok(())
}

/// `adalens budget CALIB --budget B --criterion C --json` as a value: the Python package's
/// `adalens.budget` returns the same numbers.
pub fn budget_json(
    calib: &Path,
    budget: f64,
    criterion: Criterion,
) -> anyhow::Result<serde_json::Value> {
    let set = load_calibration(calib, None)?;
    let prep = PreparedCalibration::new(set).context("preparing the calibration set")?;
    let sol = prep.solve_budget_with(criterion, budget, Rounding::default())?;
    solution_json(calib, &prep, &sol, 0)
}

/// What `adalens budget --json` prints for a solved budget.
fn solution_json(
    calib: &Path,
    prep: &PreparedCalibration,
    sol: &Solution,
    seed: u64,
) -> anyhow::Result<serde_json::Value> {
    let ev = prep.evaluate(sol);
    let map = prep.mean_average_precision(&ev);
    let random = prep.random_exit(&ev.counts, seed)?;
    let random_map = prep.mean_average_precision(&random);
    {
        let out = SolutionJson {
            calib,
            summary: summary(prep),
            criterion: sol.criterion,
            rounding: sol.rounding,
            budget: sol.budget,
            p: finite(sol.p),
            clamp: sol.clamp,
            fit_cost_range: sol.fit_cost_range,
            fit_gflops: sol.fit_gflops,
            gflops: ev.gflops,
            top1: ev.top1,
            top5: ev.top5,
            map,
            steps: step_rows(prep, sol, &ev),
            random_exit: MetricsJson {
                gflops: random.gflops,
                top1: random.top1,
                top5: random.top5,
                map: random_map,
            },
        };
        Ok(serde_json::to_value(&out)?)
    }
}

/// Loads our format or an official logits file, by content (not by extension).
fn load_calibration(path: &Path, gflops_table: Option<&str>) -> anyhow::Result<CalibrationSet> {
    let mut head = [0u8; 8];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path)
            .with_context(|| format!("cannot open calibration file {}", path.display()))?;
        let mut got = 0;
        loop {
            let k = f.read(&mut head[got..])?;
            if k == 0 || got + k == head.len() {
                break got + k;
            }
            got += k;
        }
    };
    if n == MAGIC.len() && &head == MAGIC {
        if gflops_table.is_some() {
            bail!("--gflops-table is only for official logits files; our format carries its costs");
        }
        return Ok(CalibrationSet::load(path)?);
    }
    let Some(table) = gflops_table else {
        bail!(
            "{} is not an adalens calibration file; for an official Uni-AdaFocus logits file \
             give its per-step GFLOPs with --gflops-table g0,g1,… (or uniadafocus:128)",
            path.display()
        );
    };
    let table = parse_gflops_table(table)?;
    Ok(load_official_logits(path, &table)?)
}

fn parse_gflops_table(s: &str) -> anyhow::Result<Vec<f64>> {
    if let Some(size) = s.strip_prefix("uniadafocus:") {
        let size: u32 = size
            .trim()
            .parse()
            .with_context(|| format!("bad patch size in '{s}'"))?;
        return uniadafocus_gflops(size)
            .with_context(|| format!("no official table for patch size {size} (96/128/160/192)"));
    }
    s.split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .with_context(|| format!("bad GFLOPs value '{x}' in --gflops-table"))
        })
        .collect()
}

#[derive(Serialize)]
struct Summary {
    description: String,
    steps: usize,
    classes: usize,
    fit_samples: usize,
    eval_samples: usize,
    multi_label: bool,
    headline_metric: &'static str,
}

fn summary(prep: &PreparedCalibration) -> Summary {
    Summary {
        description: prep.set().description().to_string(),
        steps: prep.steps(),
        classes: prep.set().classes(),
        fit_samples: prep.split_len(Split::Fit),
        eval_samples: prep.split_len(Split::Eval),
        multi_label: prep.uses_map(),
        headline_metric: if prep.uses_map() { "mAP" } else { "top-1" },
    }
}

#[derive(Serialize)]
struct StepRow {
    step: usize,
    /// Mean cumulative GFLOPs of stopping here (evaluation split).
    gflops: f64,
    /// Threshold in the criterion's unit; null where the step takes nobody or everybody.
    threshold: Option<f64>,
    /// "nobody", "everybody" or "threshold".
    rule: &'static str,
    planned_count: usize,
    planned_share: f64,
    count: usize,
    share: f64,
}

fn step_rows(prep: &PreparedCalibration, sol: &Solution, ev: &Evaluation) -> Vec<StepRow> {
    let th = sol.thresholds();
    let planned = sol.planned_shares();
    (0..prep.steps())
        .map(|t| {
            let s = sol.score_thresholds[t];
            StepRow {
                step: t,
                gflops: prep.mean_cost_at(Split::Eval, t),
                threshold: th[t].is_finite().then_some(th[t]),
                rule: if s == f64::INFINITY {
                    "nobody"
                } else if s == f64::NEG_INFINITY {
                    "everybody"
                } else {
                    "threshold"
                },
                planned_count: sol.planned_counts[t],
                planned_share: planned[t],
                count: ev.counts[t],
                share: ev.shares[t],
            }
        })
        .collect()
}

#[derive(Serialize)]
struct MetricsJson {
    gflops: f64,
    top1: f64,
    top5: f64,
    map: f64,
}

#[derive(Serialize)]
struct SolutionJson<'a> {
    calib: &'a Path,
    summary: Summary,
    criterion: Criterion,
    rounding: Rounding,
    budget: Option<f64>,
    /// null when p is infinite (everyone at the last step).
    p: Option<f64>,
    clamp: Clamp,
    fit_cost_range: (f64, f64),
    fit_gflops: f64,
    gflops: f64,
    top1: f64,
    top5: f64,
    map: f64,
    steps: Vec<StepRow>,
    random_exit: MetricsJson,
}

#[derive(Serialize)]
struct CurveJson<'a> {
    calib: &'a Path,
    summary: Summary,
    curve: &'a Curve,
    /// At each adaptive point's GFLOPs, the best top-1 any exit rule could reach (the oracle
    /// exit on the evaluation split, `adalens::decision::oracle`).
    oracle_top1: Vec<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn header(prep: &PreparedCalibration, calib: &Path) {
    let s = summary(prep);
    println!("calibration   {}", calib.display());
    if !s.description.is_empty() {
        println!("              {}", s.description);
    }
    println!(
        "              {} steps, {} classes, {} fitting / {} evaluation samples, {}",
        s.steps,
        s.classes,
        s.fit_samples,
        s.eval_samples,
        if s.multi_label {
            "multi-label (mAP)"
        } else {
            "single-label (top-1)"
        }
    );
    let (lo, hi) = prep.fit_cost_range();
    println!("reachable     {lo:.3} … {hi:.3} GFLOPs/video on the fitting split");
}

fn print_solution(
    prep: &PreparedCalibration,
    calib: &Path,
    sol: &Solution,
    ev: &Evaluation,
    map: f64,
    random: &Evaluation,
    random_map: f64,
) {
    header(prep, calib);
    let unit = if sol.criterion.exits_below() {
        "η (exit if H ≤ η)"
    } else {
        "τ (exit if max p ≥ τ)"
    };
    match sol.budget {
        Some(b) => println!("budget        {b:.3} GFLOPs/video"),
        None => println!("budget        none (p given)"),
    }
    match sol.clamp {
        Clamp::None => {}
        Clamp::BelowMinimum => {
            println!("              CLAMPED: below the cost of stopping everyone at step 0")
        }
        Clamp::AboveMaximum => {
            println!("              CLAMPED: above the cost of running everyone to the end")
        }
    }
    println!(
        "criterion     {}, p = {}",
        sol.criterion,
        if sol.p.is_finite() {
            format!("{:.6}", sol.p)
        } else {
            "inf".into()
        }
    );
    println!();
    println!(
        "{:>4}  {:>9}  {:>22}  {:>8}  {:>8}  {:>7}  {:>8}",
        "step", "GFLOPs", unit, "planned", "share", "exits", "share"
    );
    for r in step_rows(prep, sol, ev) {
        let th = match (r.threshold, r.rule) {
            (Some(v), _) => format!("{v:.6}"),
            (None, "nobody") => "— (nobody)".into(),
            _ => "— (everybody)".into(),
        };
        println!(
            "{:>4}  {:>9.3}  {:>22}  {:>8}  {:>8}  {:>7}  {:>8}",
            r.step,
            r.gflops,
            th,
            r.planned_count,
            pct(r.planned_share),
            r.count,
            pct(r.share)
        );
    }
    println!(
        "{:>4}  {:>9}  {:>22}  {:>8}  {:>8}  {:>7}",
        "", "", "", "(fit)", "", "(eval)"
    );
    println!();
    println!(
        "expected      {:.3} GFLOPs/video on the evaluation split ({:.3} on the fitting split)",
        ev.gflops, sol.fit_gflops
    );
    println!(
        "metric        top-1 {}  top-5 {}  mAP {}",
        pct(ev.top1),
        pct(ev.top5),
        pct(map)
    );
    println!(
        "random exit   top-1 {}  top-5 {}  mAP {}  (same exits per step, random samples)",
        pct(random.top1),
        pct(random.top5),
        pct(random_map)
    );
}

fn print_curve(prep: &PreparedCalibration, calib: &Path, curve: &Curve) {
    header(prep, calib);
    let use_map = prep.uses_map();
    let metric = |top1: f64, map: Option<f64>| match (use_map, map) {
        (true, Some(m)) => pct(m),
        _ => pct(top1),
    };
    let name = if use_map { "mAP" } else { "top-1" };
    println!("criterion     {}", curve.criterion);
    println!();
    let oracle = prep.oracle(Split::Eval);
    println!(
        "{:>10}  {:>9}  {:>8}  {:>9}  {:>8}  {:>9}  {:>12}  {:>12}",
        "budget",
        "p",
        "clamped",
        "GFLOPs",
        name,
        "rand.GF",
        format!("random {name}"),
        "oracle top-1"
    );
    for pt in &curve.adaptive {
        let (rg, rm) = match &pt.random {
            Some(r) => (format!("{:.3}", r.gflops), metric(r.top1, r.map)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:>10}  {:>9}  {:>8}  {:>9.3}  {:>8}  {:>9}  {:>12}  {:>12}",
            pt.budget.map_or("-".into(), |b| format!("{b:.3}")),
            if pt.p.is_finite() {
                format!("{:.5}", pt.p)
            } else {
                "inf".into()
            },
            if pt.clamp == Clamp::None { "" } else { "yes" },
            pt.gflops,
            metric(pt.top1, pt.map),
            rg,
            rm,
            pct(oracle.top1_at(pt.gflops))
        );
    }
    println!();
    println!(
        "oracle top-1: the best top-1 any exit rule could reach at that GFLOPs (an exit that \
         knows the labels stops each sample at its first right step, cheapest first); on \
         multi-label sets a right top-1 is any of the sample's labels, and it bounds top-1, \
         not mAP"
    );
    println!();
    println!("fixed step (everyone stops at step t)");
    println!("{:>4}  {:>9}  {:>8}", "step", "GFLOPs", name);
    for f in &curve.fixed_step {
        println!(
            "{:>4}  {:>9.3}  {:>8}",
            f.step,
            f.gflops,
            metric(f.top1, f.map)
        );
    }
}

/// `adalens bench budget`: times the budget engine on a random calibration set (the same
/// SplitMix64 data as `scripts/budget_reference.py --bench`, seed 7, Uni-AdaFocus-like costs).
pub fn bench(samples: usize, steps: usize, classes: usize) -> anyhow::Result<()> {
    if samples == 0 || steps == 0 || classes == 0 {
        bail!("samples, steps and classes must be positive");
    }
    let spec = SyntheticSpec {
        samples,
        steps,
        classes,
        seed: 7,
        max_labels: 1,
        step_costs: crate::decision::synthetic::uniadafocus_like_costs(steps),
        per_sample_costs: false,
        fit_samples: None,
    };
    let t0 = Instant::now();
    let set = synthetic_set(&spec)?;
    let gen = t0.elapsed().as_secs_f64();

    let prep_times = median_of(5, || {
        let copy = set.clone();
        let t = Instant::now();
        let p = PreparedCalibration::new(copy);
        (t.elapsed().as_secs_f64(), p)
    })?;
    let prep = PreparedCalibration::new(set)?;
    let (lo, hi) = prep.fit_cost_range();
    let budget = lo + 0.4 * (hi - lo);
    let budgets = prep.default_budgets(19);

    let one = median_of(300, || {
        let t = Instant::now();
        let r = prep
            .solve_budget(Criterion::Entropy, budget)
            .map(|s| prep.evaluate(&s).top1);
        (t.elapsed().as_secs_f64(), r)
    })?;
    let opts = CurveOptions::default();
    let curve = median_of(50, || {
        let t = Instant::now();
        let r = prep.curve_for_budgets(Criterion::Entropy, &budgets, &opts);
        (t.elapsed().as_secs_f64(), r)
    })?;
    let sol = prep.solve_budget(Criterion::Entropy, budget)?;
    let ev = prep.evaluate(&sol);
    let map = median_of(10, || {
        let t = Instant::now();
        let m = prep.mean_average_precision(&ev);
        (
            t.elapsed().as_secs_f64(),
            Ok::<f64, crate::decision::DecisionError>(m),
        )
    })?;
    let curve_map_opts = CurveOptions {
        with_map: true,
        ..CurveOptions::default()
    };
    let curve_map = median_of(3, || {
        let t = Instant::now();
        let r = prep.curve_for_budgets(Criterion::Entropy, &budgets, &curve_map_opts);
        (t.elapsed().as_secs_f64(), r)
    })?;

    let build = if cfg!(debug_assertions) {
        "debug build: timings not representative"
    } else {
        "release build"
    };
    println!("adalens budget engine, {samples}x{steps}x{classes} ({build}, 1 thread)");
    println!(
        "  generate synthetic set                 {:10.2} ms (once)",
        gen * 1e3
    );
    println!(
        "  prepare (softmax, criteria, orders)    {:10.2} ms (median of 5)",
        prep_times * 1e3
    );
    println!(
        "  solve budget + evaluate accuracy       {:10.3} ms (median of 300)",
        one * 1e3
    );
    println!(
        "  19-budget curve (+random, fixed-step)  {:10.3} ms (median of 50)",
        curve * 1e3
    );
    println!(
        "  mAP ({classes} classes, one point)          {:10.3} ms (median of 10)",
        map * 1e3
    );
    println!(
        "  19-budget curve with mAP (+random mAP) {:10.3} ms (median of 3)",
        curve_map * 1e3
    );
    println!(
        "  top-1 at budget {budget:.3}: {:.4}, gflops {:.3}, p = {:.5}",
        ev.top1, ev.gflops, sol.p
    );
    Ok(())
}

/// Runs `f` `reps` times and returns the median of the times it reports; errors propagate.
fn median_of<T, E>(reps: usize, mut f: impl FnMut() -> (f64, Result<T, E>)) -> anyhow::Result<f64>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let (t, r) = f();
        std::hint::black_box(r?);
        times.push(t);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
