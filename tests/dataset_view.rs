//! The dataset view and `adalens query` on a real batch run: the bundled checkpoint over the
//! demo's synthetic test videos (FFmpeg decodes them, candle runs the model), then read back.
//! The table's numbers are checked against the summary the batch wrote and against exits
//! re-marked on the traces with the budget engine; the Parquet files against the traces; the
//! window (egui_kittest) against `adalens query`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use adalens::app::{AdalensApp, Command as AppCommand, Launch};
use adalens::batch::parquet::{read_columns, Values};
use adalens::batch::query::{self, Filter, QueryError};
use adalens::batch::summary::HEADER;
use adalens::batch::table::{Exits, RowStatus, RunTable, StepsFrom};
use adalens::decision::trace::DecisionTrace;
use adalens::decision::{CalibrationSet, Criterion, ExitRule, PreparedCalibration};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

const CHECKPOINT: &str = "models/ada3d_focus_synth.safetensors";
const CLASSES: [&str; 8] = [
    "blue_triangle",
    "green_square",
    "moves_down",
    "moves_left",
    "moves_right",
    "moves_up",
    "red_disc",
    "yellow_ring",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn adalens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(args)
        .output()
        .expect("run adalens")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "adalens failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A list of the demo's videos with their labels, and one more: the four-action video labelled
/// as one of them (several clips; wrong whatever it predicts for three of its four).
fn write_list(dir: &Path) -> PathBuf {
    let synth = root().join("assets/demo/synth");
    let mut list = String::from("path,label\n");
    for c in CLASSES {
        list.push_str(&format!(
            "{},{c}\n",
            synth.join(format!("{c}.mp4")).display()
        ));
    }
    list.push_str(&format!(
        "{},moves_up\n",
        synth.join("four_actions.mp4").display()
    ));
    let p = dir.join("list.csv");
    std::fs::write(&p, list).unwrap();
    p
}

/// A batch run copied into a fresh folder (each test may damage its own).
fn run_copy() -> (tempfile::TempDir, PathBuf) {
    static RUN: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, out) = RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let list = write_list(dir.path());
        let out = dir.path().join("out");
        let checkpoint = root().join(CHECKPOINT);
        ok(adalens(&[
            "batch",
            list.to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]));
        (dir, out)
    });
    let copy = tempfile::tempdir().unwrap();
    let to = copy.path().join("out");
    copy_dir(out, &to);
    (copy, to)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn summary_csv(out: &Path) -> Vec<Vec<String>> {
    adalens::batch::summary::read_csv(&out.join("summary.csv")).unwrap()
}

fn traces(out: &Path) -> Vec<DecisionTrace> {
    summary_csv(out)
        .iter()
        .map(|r| {
            let p = out.join("traces").join(format!("{}.json", r[17]));
            DecisionTrace::from_json(&std::fs::read_to_string(p).unwrap()).unwrap()
        })
        .collect()
}

fn prep() -> PreparedCalibration {
    let set = CalibrationSet::load(root().join("models/ada3d_focus_synth.adlcal")).unwrap();
    PreparedCalibration::new(set).unwrap()
}

/// Under the exits the batch stored, every row of the table says what summary.csv says.
#[test]
fn the_table_reads_back_what_the_summary_says() {
    let (_d, out) = run_copy();
    let table = RunTable::open(&out).unwrap();
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    let csv = summary_csv(&out);
    assert_eq!(table.rows.len(), CLASSES.len() + 1);
    let decided = table.decide(&Exits::Stored);
    for (i, want) in csv.iter().enumerate() {
        let got: Vec<String> = (0..HEADER.len())
            .map(|c| query::cell(&table, &table.rows[i], &decided[i], c).text())
            .collect();
        assert_eq!(&got, want, "row {i}");
    }
    // The steps came from steps.parquet; from the traces they are the same.
    let from_traces = RunTable::open_with(&out, StepsFrom::Traces, &|_, _| {}).unwrap();
    assert_eq!(from_traces.rows, table.rows);
}

/// A budget re-decides each video exactly as the budget engine's thresholds marked on its trace
/// (`ExitRule::apply`, what `adalens budget` solves and `inspect --budget` applies).
#[test]
fn a_budget_re_decides_every_exit_as_the_budget_engine_does() {
    let (_d, out) = run_copy();
    let table = RunTable::open(&out).unwrap();
    let prep = prep();
    let traces = traces(&out);
    let (lo, hi) = prep.fit_cost_range();
    let mut exits_seen = std::collections::BTreeSet::new();
    for f in [0.0, 0.2, 0.5, 0.8, 1.0] {
        let b = lo + f * (hi - lo);
        for criterion in Criterion::ALL {
            let (rule, _) = ExitRule::for_budget(&prep, criterion, b).unwrap();
            let decided = table.decide(&Exits::Rule(rule.clone()));
            for (i, t) in traces.iter().enumerate() {
                let mut t = t.clone();
                rule.apply(&mut t);
                let first = t.clips[0].exit.as_ref().unwrap().exit_step as u32;
                let gflops: f64 = t.clips.iter().map(|c| c.spent_gflops()).sum();
                let top = t.exit_prediction()[0];
                let label = table
                    .class_names
                    .iter()
                    .position(|c| *c == table.rows[i].label)
                    .unwrap() as u32;
                assert_eq!(decided[i].exit_step, Some(first), "row {i} at {b}");
                assert!((decided[i].gflops - gflops).abs() < 1e-12, "row {i} at {b}");
                assert_eq!(decided[i].top1.unwrap().class, top.class, "row {i} at {b}");
                assert_eq!(decided[i].correct, Some(top.class == label), "row {i}");
                exits_seen.insert(first);
            }
        }
    }
    // The budgets tried move the exits (the test is not of one exit only).
    assert!(exits_seen.len() >= 2, "{exits_seen:?}");
}

/// `adalens query` prints the rows a filter keeps, in the sort asked for; the rows are those
/// of summary.csv that satisfy the predicate written out in Rust here.
#[test]
fn query_prints_the_rows_the_filter_keeps() {
    let (_d, out) = run_copy();
    let csv = summary_csv(&out);
    let o = ok(adalens(&[
        "query",
        out.to_str().unwrap(),
        "correct == false || exit_step <= 1",
        "--sort",
        "gflops",
        "--desc",
        "--json",
    ]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&o).unwrap();
    let mut want: Vec<&Vec<String>> = csv
        .iter()
        .filter(|r| r[16] == "false" || r[5].parse::<u32>().unwrap() <= 1)
        .collect();
    want.sort_by(|a, b| {
        let g = |r: &Vec<String>| r[7].parse::<f64>().unwrap();
        g(b).total_cmp(&g(a))
    });
    let got: Vec<String> = rows
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = want.iter().map(|r| r[1].clone()).collect();
    assert!(!want.is_empty() && want.len() < csv.len(), "{want:?}");
    assert_eq!(got, want);
    // The label column compares as text; CSV output has the summary's header.
    let o = ok(adalens(&[
        "query",
        out.to_str().unwrap(),
        "label == \"moves_up\" && stages_3d >= 0",
    ]));
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines[0], HEADER.join(","));
    assert_eq!(lines.len(), 1 + 2, "{o}");
    // A budget re-decides the exits the filter sees.
    let (lo, _) = prep().fit_cost_range();
    let o = ok(adalens(&[
        "query",
        out.to_str().unwrap(),
        "exit_step == 0",
        "--budget",
        &lo.to_string(),
        "--json",
    ]));
    let at_lo: Vec<serde_json::Value> = serde_json::from_str(&o).unwrap();
    assert_eq!(
        at_lo.len(),
        csv.len(),
        "the cheapest budget stops every video at the glance"
    );
}

#[test]
fn a_bad_filter_is_an_error_that_says_why() {
    let (_d, out) = run_copy();
    let table = RunTable::open(&out).unwrap();
    let decided = table.decide(&Exits::Stored);
    assert!(matches!(
        Filter::parse("exit_stepp <= 1"),
        Err(QueryError::UnknownColumn(c)) if c == "exit_stepp"
    ));
    assert!(matches!(Filter::parse("(((("), Err(QueryError::Parse(_))));
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert_eq!(Filter::parse(&deep).unwrap_err(), QueryError::TooDeep);
    assert_eq!(
        Filter::parse(&"1 + ".repeat(2000)).unwrap_err(),
        QueryError::TooLong
    );
    // A type error on every row is reported, not an empty table.
    let f = Filter::parse("label > 3").unwrap();
    assert!(matches!(
        query::select(&table, &decided, f.as_ref()),
        Err(QueryError::Eval(_))
    ));
    let o = adalens(&["query", out.to_str().unwrap(), "nonsense_column == 1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nonsense_column"));
}

/// summary.parquet holds the summary's columns typed; steps.parquet one row per video × clip ×
/// step with the traces' numbers.
#[test]
fn the_parquet_files_hold_the_summary_and_every_step() {
    let (_d, out) = run_copy();
    let csv = summary_csv(&out);
    let s = read_columns(&out.join("summary.parquet")).unwrap();
    assert_eq!(s.rows, csv.len());
    let mut names = s.class_names.clone();
    names.sort();
    assert_eq!(names, CLASSES);
    let Values::I32(exit) = &s.columns["exit_step"] else {
        panic!("exit_step is not int32")
    };
    let Values::Bool(correct) = &s.columns["correct"] else {
        panic!("correct is not boolean")
    };
    let Values::F64(gflops) = &s.columns["gflops"] else {
        panic!("gflops is not double")
    };
    for (i, r) in csv.iter().enumerate() {
        assert_eq!(exit[i].unwrap().to_string(), r[5]);
        assert_eq!(correct[i].unwrap().to_string(), r[16]);
        assert!((gflops[i].unwrap() - r[7].parse::<f64>().unwrap()).abs() < 1e-6);
    }
    let traces = traces(&out);
    let steps = read_columns(&out.join("steps.parquet")).unwrap();
    let all: Vec<_> = traces
        .iter()
        .flat_map(|t| t.clips.iter().flat_map(|c| &c.steps))
        .collect();
    assert_eq!(steps.rows, all.len());
    let Values::F32(entropy) = &steps.columns["entropy"] else {
        panic!()
    };
    let Values::F64(cum) = &steps.columns["cumulative_gflops"] else {
        panic!()
    };
    for (k, s) in all.iter().enumerate() {
        assert_eq!(entropy[k], Some(s.entropy));
        assert_eq!(cum[k], Some(s.cumulative_gflops));
    }
}

/// What is wrong with a run is named with its file, and the rest of the run opens.
#[test]
fn a_damaged_run_opens_what_it_can_and_names_each_problem() {
    // Not a batch run at all.
    let dir = tempfile::tempdir().unwrap();
    let e = RunTable::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not an adalens batch run"), "{e}");

    // Its checkpoint gone, a torn summary, a trace of another model, and garbage Parquet.
    let (_d, out) = run_copy();
    let settings = std::fs::read_to_string(out.join("batch.json")).unwrap();
    let gone = settings.replace("ada3d_focus_synth.safetensors", "moved_away.safetensors");
    std::fs::write(out.join("batch.json"), gone).unwrap();
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let torn = &csv[..csv.len() - 20];
    std::fs::write(out.join("summary.csv"), torn).unwrap();
    std::fs::write(out.join("steps.parquet"), b"PAR1 this is not parquet PAR1").unwrap();
    let rows = summary_csv_lenient(&out);
    let victim = out.join("traces").join(format!("{}.json", rows[2][17]));
    let mut t: DecisionTrace =
        DecisionTrace::from_json(&std::fs::read_to_string(&victim).unwrap()).unwrap();
    t.class_names.reverse();
    std::fs::write(&victim, t.to_json().unwrap()).unwrap();

    let table = RunTable::open(&out).unwrap();
    let w = table.warnings.join("\n");
    assert!(w.contains("moved_away.safetensors"), "{w}");
    assert!(
        w.contains("summary.csv") && w.contains("could not be read"),
        "{w}"
    );
    assert!(w.contains("steps.parquet"), "{w}");
    assert!(
        w.contains(&victim.display().to_string()) && w.contains("another model"),
        "{w}"
    );
    // The torn last row is gone, the other model's trace fails its row, the rest ran.
    assert_eq!(table.rows.len(), CLASSES.len());
    assert_eq!(table.rows[2].status, RowStatus::Failed);
    let ran = table
        .rows
        .iter()
        .filter(|r| r.status == RowStatus::Ok)
        .count();
    assert_eq!(ran, CLASSES.len() - 1);
}

fn summary_csv_lenient(out: &Path) -> Vec<Vec<String>> {
    adalens::batch::summary::read_csv_lenient(&out.join("summary.csv"))
        .unwrap()
        .0
}

// ---- The window ----

fn step_until(h: &mut Harness<'static, AdalensApp>, ready: impl Fn(&AdalensApp) -> bool) {
    let start = Instant::now();
    loop {
        h.step();
        if ready(h.state()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the window did not get there; errors: {:?}",
            h.state()
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.what, e.detail))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(3);
}

/// The window on the batch run in `out`, once the run and its checkpoint's calibration set are
/// in (every exit re-decided for the budget).
fn run_window(out: &Path, width: f32) -> Harness<'static, AdalensApp> {
    let run = out.to_path_buf();
    let mut h = Harness::builder()
        .with_size(egui::vec2(width, 800.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(move |cc| {
            AdalensApp::new(
                cc,
                Launch {
                    run: Some(run),
                    ..Default::default()
                },
            )
        });
    step_until(&mut h, |a| {
        a.is_idle()
            && a.dataset
                .as_ref()
                .is_some_and(|d| matches!(d.exits, Exits::Rule(_)))
    });
    h
}

fn paths_of(a: &AdalensApp) -> Vec<String> {
    let d = a.dataset.as_ref().unwrap();
    d.visible
        .iter()
        .map(|&i| d.table.rows[i].path.clone())
        .collect()
}

/// The dataset view end to end: the run opens with its checkpoint's budget; the filter box and
/// a header click show the rows `adalens query` prints; moving the budget re-decides every
/// video as the budget engine does; a row opens in the inspector with its stored trace (no
/// model run), and Back returns to the same filter.
#[test]
fn the_dataset_view_filters_sorts_re_decides_and_opens_a_row() {
    let (_d, out) = run_copy();
    // The run, then its checkpoint with the calibration set: exits re-decided for the budget.
    let mut h = run_window(&out, 1400.0);
    assert!(h.state().showing_dataset);

    // Type a filter into the box: the rows shown are `adalens query`'s, in its order.
    let expr = "correct == true && exit_step >= 1";
    h.get_by_role(egui::Role::TextInput).focus();
    h.step();
    h.get_by_role(egui::Role::TextInput).type_text(expr);
    h.run_steps(3);
    h.get_by_label("Sort by gflops").click();
    h.run_steps(3);
    let budget = h.state().state.sliders.budget;
    let (lo, hi) = prep().fit_cost_range();
    let b = budget.unwrap_or((lo + hi) / 2.0);
    let o = ok(adalens(&[
        "query",
        out.to_str().unwrap(),
        expr,
        "--sort",
        "gflops",
        "--budget",
        &b.to_string(),
        "--json",
    ]));
    let want: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&o)
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(h.state().dataset.as_ref().unwrap().filter_text, expr);
    assert_eq!(paths_of(h.state()), want);

    // A new budget: every video's exit and the run's accuracy as the budget engine gives.
    h.state_mut().state.sliders.budget = Some(lo);
    h.run_steps(3);
    // The slider holds its value to 4 decimals.
    let at = h.state().state.sliders.budget.unwrap();
    assert!((at - lo).abs() < 1e-4);
    let prep = prep();
    let (rule, _) = ExitRule::for_budget(&prep, Criterion::Entropy, at).unwrap();
    let traces = traces(&out);
    let d = h.state().dataset.as_ref().unwrap();
    let mut right = 0;
    for (i, t) in traces.iter().enumerate() {
        let mut t = t.clone();
        rule.apply(&mut t);
        assert_eq!(
            d.decided[i].exit_step,
            Some(t.clips[0].exit.as_ref().unwrap().exit_step as u32)
        );
        right += usize::from(d.decided[i].correct == Some(true));
    }
    let acc = d.summary.accuracy.unwrap();
    assert!((acc - right as f64 / traces.len() as f64).abs() < 1e-12);
    // The accuracy and the flips are on screen.
    h.get_by_label_contains(&format!("Run top-1 {:.1}%", 100.0 * acc));
    let flipped = d.summary.right_to_wrong;
    h.get_by_label_contains(&format!("{flipped} right to wrong"));

    // Open the first row shown: the inspector draws its stored trace, no model run.
    h.state_mut().state.sliders.budget = budget;
    h.run_steps(3);
    let first = h.state().dataset.as_ref().unwrap().visible[0];
    h.state_mut().push(AppCommand::OpenRow(first));
    step_until(&mut h, |a| {
        a.decisions.as_ref().is_some_and(|d| d.stored) && a.is_idle()
    });
    let a = h.state();
    assert!(!a.showing_dataset);
    let stored = &traces[first];
    let shown = &a.decisions.as_ref().unwrap().trace;
    assert_eq!(shown.video.path, stored.video.path);
    assert_eq!(shown.clips.len(), stored.clips.len());
    for (s, t) in shown.clips.iter().zip(&stored.clips) {
        assert_eq!(s.steps, t.steps);
        assert_eq!(s.cubes, t.cubes);
    }
    // The lanes say so.
    let frames = || stored.clips.iter().flat_map(|c| &c.frames);
    h.get_by_label(&format!(
        "Sampled frames lane: {} sampled frames, {} discarded",
        frames().count(),
        frames().filter(|f| !f.kept).count()
    ));

    // Back: the same filter and order.
    h.get_by_label("Back to the run").click();
    h.run_steps(3);
    assert!(h.state().showing_dataset);
    assert_eq!(h.state().dataset.as_ref().unwrap().filter_text, expr);
    assert_eq!(paths_of(h.state()), want);
}

/// *Run on a list…* from the window: the loaded checkpoint runs on a worker thread, the rows
/// fill in, and the folder is `adalens batch`'s own (the CLI finds every video done).
#[test]
fn a_batch_started_from_the_window_is_the_clis_resumable_run() {
    let dir = tempfile::tempdir().unwrap();
    let list = write_list(dir.path());
    let out = dir.path().join("from_window");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 800.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(|cc| {
            AdalensApp::new(
                cc,
                Launch {
                    checkpoint: Some(root().join(CHECKPOINT)),
                    ..Default::default()
                },
            )
        });
    step_until(&mut h, |a| a.model.is_some() && a.is_idle());
    h.state_mut().push(AppCommand::RunBatch {
        source: list.clone(),
        out: out.clone(),
    });
    step_until(&mut h, |a| {
        a.is_idle()
            && a.dataset.as_ref().is_some_and(|d| {
                d.table.rows.len() == CLASSES.len() + 1
                    && d.table.rows.iter().all(|r| r.status == RowStatus::Ok)
            })
    });
    assert!(h.state().showing_dataset);
    // What the window shows is what reading the folder gives.
    let read = RunTable::open(&out).unwrap();
    assert_eq!(h.state().dataset.as_ref().unwrap().table.rows, read.rows);
    // The CLI resumes it: nothing left to run.
    let o = ok(adalens(&[
        "batch",
        list.to_str().unwrap(),
        "--checkpoint",
        root().join(CHECKPOINT).to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(
        o.contains(&format!("0 ran, {} already done", CLASSES.len() + 1)),
        "{o}"
    );
}

/// Export figure with three rows selected: `figure --grid`'s layout, one panel per video with its
/// stored decisions (exits at the slider's budget) and its label as the row title.
#[test]
fn export_figure_of_a_selection_draws_each_selected_video() {
    let (_d, out) = run_copy();
    let mut h = run_window(&out, 1400.0);
    let d = h.state_mut().dataset.as_mut().unwrap();
    d.click_row(1, false, false);
    d.click_row(3, true, false);
    d.click_row(5, true, false);
    let picked: Vec<usize> = d.selected.iter().copied().collect();
    let Exits::Rule(rule) = d.exits.clone() else {
        unreachable!()
    };
    let svg_path = out.join("selection.svg");
    h.state_mut()
        .push(AppCommand::ExportSelectionTo(svg_path.clone()));
    step_until(&mut h, |a| a.is_idle() && a.notice.is_some());
    assert!(h.state().errors.is_empty());
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let traces = traces(&out);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(picked.len(), 3);
    for (p, &i) in picked.iter().enumerate() {
        let mut t = traces[i].clone();
        rule.apply(&mut t);
        common::assert_figure_panel(&svg, p, &t.clips[0]);
        // Each panel has its title; a fourth has none.
        assert!(doc
            .descendants()
            .any(|n| n.attribute("id") == Some(&format!("title-{p}"))));
    }
    assert!(!doc
        .descendants()
        .any(|n| n.attribute("id") == Some("title-3")));
}

/// Thresholds fitted on the run's own labels: every labelled clip a sample whose rebuilt rows
/// keep the trace's entropy and top-1; the window's radio switches the budget to them.
#[test]
fn thresholds_fitted_on_the_runs_own_labels() {
    let (_d, out) = run_copy();
    let table = RunTable::open(&out).unwrap();
    let set = table.own_calibration().unwrap();
    let clips: Vec<_> = table
        .rows
        .iter()
        .flat_map(|r| r.clips.iter().map(move |c| (r, c)))
        .collect();
    assert_eq!(set.samples(), clips.len());
    assert_eq!(set.steps(), table.max_steps());
    let prep = PreparedCalibration::new(set.clone()).unwrap();
    for (i, (_, c)) in clips.iter().enumerate() {
        for t in 0..set.steps() {
            let s = &c.steps[t.min(c.steps.len() - 1)];
            let row = set.row(i, t);
            let sum: f32 = row.iter().sum();
            let h: f32 = row
                .iter()
                .map(|&p| p / sum)
                .filter(|&p| p > 0.0)
                .map(|p| -p * p.ln())
                .sum();
            assert!(
                (h - s.entropy).abs() < 1e-3,
                "clip {i} step {t}: {h} vs {}",
                s.entropy
            );
            let best = (0..row.len())
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            assert_eq!(best as u32, s.top[0].class);
        }
    }

    let mut h = run_window(&out, 1400.0);
    h.get_by_label("this run's own labels").click();
    h.run_steps(4);
    let a = h.state();
    let d = a.dataset.as_ref().unwrap();
    assert!(d.use_own);
    let (lo, hi) = prep.fit_cost_range();
    let b = a
        .state
        .sliders
        .budget
        .unwrap_or((lo + hi) / 2.0)
        .clamp(lo, hi);
    let (want, _) = ExitRule::for_budget(&prep, Criterion::Entropy, b).unwrap();
    let Exits::Rule(got) = &d.exits else {
        panic!("no exit rule")
    };
    assert_eq!(got.thresholds, want.thresholds);
    h.get_by_label_contains("thresholds from this run's own labels");
}

/// A steps.parquet written by an earlier build still reads; cut short or with bytes changed it
/// is an error (or, where the damage misses what is read, the same columns), never a panic or
/// a hang.
#[test]
fn damaged_parquet_is_an_error_not_a_panic() {
    use adalens::batch::parquet::{columns_from_bytes, read_steps};
    let fixture = root().join("tests/fixtures/batch/steps.parquet");
    let steps = read_steps(&fixture).unwrap();
    assert_eq!(steps.clips.len(), CLASSES.len() + 1);
    let bytes = std::fs::read(&fixture).unwrap();
    let whole = columns_from_bytes(bytes.clone()).unwrap();
    // The fuzzer's first finding: a column chunk at a negative offset (the parquet crate
    // asserts on it); refused before the crate reads it. Its footer also has a field the
    // typed walk (the sixth finding) refuses first: a chunk's geospatial statistics.
    let found =
        std::fs::read(root().join("tests/fixtures/batch/fuzz-negative-chunk.parquet")).unwrap();
    let e = columns_from_bytes(found).unwrap_err();
    assert!(
        e.contains("claims bytes") || e.contains("adalens writes none"),
        "{e}"
    );
    // The second: a dictionary page whose header claims 1.7 billion values (the parquet crate
    // allocates its table from that count; 14 GB). adalens writes no dictionary pages and
    // reads none; this file's footer is also malformed (a value of no Thrift type), which the
    // footer walk now refuses first.
    let found = std::fs::read(root().join("tests/fixtures/batch/fuzz-oom.parquet")).unwrap();
    let e = columns_from_bytes(found).unwrap_err();
    assert!(
        e.contains("dictionary page") || e.contains("unknown type"),
        "{e}"
    );
    // The third: 2.6 KB whose footer the parquet crate's metadata parser took 2 s (release)
    // to refuse: a list that claims 266 million elements in 2.4 KB. The footer walk refuses
    // it before the crate parses anything.
    let found = std::fs::read(root().join("tests/fixtures/batch/fuzz-slow.parquet")).unwrap();
    let e = columns_from_bytes(found).unwrap_err();
    assert!(e.contains("claims 266123634 elements"), "{e}");
    // The fourth (found by the fuzz targets' allocation guard, stop 38): 2.4 KB whose schema
    // element claims 2^31 children; the crate reserves room for them all before reading one
    // (16 GB, an abort where the allocation fails). The footer walk bounds the count by the
    // schema's length.
    let found = std::fs::read(root().join("tests/fixtures/batch/fuzz-children.parquet")).unwrap();
    let e = columns_from_bytes(found).unwrap_err();
    assert!(e.contains("children in a schema of"), "{e}");
    // The fifth (the same guard): a page header claiming an unpacked size of 2 GB, which the
    // crate reserves before unpacking. Every page header is read first and bounded by its
    // chunk's sizes. (Its footer also gives a statistics field the wrong type code, which
    // the typed walk of the sixth finding refuses first; `batch::parquet`'s unit tests check
    // the page bounds on their own.)
    let found = std::fs::read(root().join("tests/fixtures/batch/fuzz-page-size.parquet")).unwrap();
    let e = columns_from_bytes(found).unwrap_err();
    assert!(
        e.contains("a page claims") || e.contains("a page header") || e.contains("type code"),
        "{e}"
    );
    // The sixth (the same guard, stop 39): 2.4 KB whose schema elements carry fields of the
    // wrong type (a struct where an i32 is declared). The crate reads a field by its id as
    // the declared type whatever the bytes say, so it read another footer than the one the
    // walk had bounded, with a child count of its own (16 GB reserved). The walk now reads
    // every field the crate knows as the crate does and refuses a code that disagrees.
    let found = std::fs::read(root().join("tests/fixtures/batch/fuzz-typecode.parquet")).unwrap();
    let e = columns_from_bytes(found).unwrap_err();
    assert!(e.contains("the type code"), "{e}");
    // The seventh (a timeout, stop 39, found in the first version of the typed walk): 5.4 KB
    // whose page header has an unknown boolean field. A boolean field carries its value in
    // its type code; that walk took a byte for it, so it and the crate parted ways and the
    // crate skipped a list of booleans for 11 s. The walk takes no byte now and refuses the
    // type code that follows.
    let found = std::fs::read(root().join("tests/fixtures/batch/fuzz-bool-field.parquet")).unwrap();
    let e = columns_from_bytes(found).unwrap_err();
    assert!(e.contains("unknown type 13"), "{e}");
    for cut in (0..bytes.len()).step_by(97) {
        assert!(
            columns_from_bytes(bytes[..cut].to_vec()).is_err(),
            "cut at {cut}"
        );
    }
    // A seeded walk of single-byte changes.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let start = Instant::now();
    for _ in 0..400 {
        let mut b = bytes.clone();
        let at = (next() % b.len() as u64) as usize;
        b[at] ^= (next() % 255 + 1) as u8;
        if let Ok(c) = columns_from_bytes(b) {
            assert_eq!(c.rows, whole.rows);
        }
    }
    assert!(start.elapsed() < Duration::from_secs(60));
}

/// Two runs in the dataset view: the open one (A) and the same videos run with the glance only
/// (B, no cubes). The compared columns and the flipped rows are `adalens diff`'s for the same
/// budget.
#[test]
fn comparing_two_runs_shows_what_adalens_diff_prints() {
    let (_d, out) = run_copy();
    let b_dir = out.parent().unwrap().join("glance_only");
    let list = write_list(out.parent().unwrap());
    ok(adalens(&[
        "batch",
        list.to_str().unwrap(),
        "--checkpoint",
        root().join(CHECKPOINT).to_str().unwrap(),
        "--max-cubes",
        "0",
        "--out",
        b_dir.to_str().unwrap(),
    ]));
    let mut h = run_window(&out, 1600.0);
    h.state_mut()
        .push(AppCommand::OpenCompareRun(b_dir.clone()));
    step_until(&mut h, |a| {
        a.is_idle() && a.dataset.as_ref().is_some_and(|d| d.other.is_some())
    });
    let (lo, hi) = prep().fit_cost_range();
    let b = h.state().state.sliders.budget.unwrap_or((lo + hi) / 2.0);
    let d = {
        let o = adalens(&[
            "diff",
            out.to_str().unwrap(),
            b_dir.to_str().unwrap(),
            "--budget",
            &b.to_string(),
            "--json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let videos = d["videos"].as_array().unwrap();
    let flipped: Vec<String> = videos
        .iter()
        .filter(|v| !v["flip"].is_null())
        .map(|v| v["path"].as_str().unwrap().to_string())
        .collect();
    h.state_mut()
        .dataset
        .as_mut()
        .unwrap()
        .set_filter("flip != \"\"".into());
    h.run_steps(3);
    assert_eq!(paths_of(h.state()), flipped);
    // Every video's B exit is diff's.
    let view = h.state().dataset.as_ref().unwrap();
    let o = view.other.as_ref().unwrap();
    for (i, v) in videos.iter().enumerate() {
        let j = o.pair[i].unwrap();
        assert_eq!(
            o.decided[j].exit_step.map(u64::from),
            v["exit_b"].as_u64(),
            "{}",
            v["path"]
        );
    }
    let moved = videos.iter().filter(|v| v["exit_a"] != v["exit_b"]).count();
    assert!(moved > 0, "the glance alone should move some exit");
    assert!(
        !flipped.is_empty(),
        "the glance alone should get some video wrong"
    );
    h.get_by_label_contains(&format!(
        "A to B: {} right to wrong, {} wrong to right",
        o.right_to_wrong, o.wrong_to_right
    ));

    // A compared row opens in the compare view: A and B are the traces the two runs stored
    // for that video, and B (no cubes) differs from A where diff says its exit moved.
    let row = videos
        .iter()
        .position(|v| v["exit_a"] != v["exit_b"])
        .unwrap();
    let path = videos[row]["path"].as_str().unwrap().to_string();
    let i = view.table.rows.iter().position(|r| r.path == path).unwrap();
    h.state_mut().push(AppCommand::OpenRow(i));
    step_until(&mut h, |a| {
        a.is_idle()
            && !a.showing_dataset
            && a.compare
                .as_ref()
                .is_some_and(|c| c.decisions.is_some() && c.stored.is_some())
    });
    let c = h.state().compare.as_ref().unwrap();
    let stored_b = RunTable::open(&b_dir).unwrap();
    let rb = stored_b.rows.iter().find(|r| r.path == path).unwrap();
    let tb = stored_b.trace(rb).unwrap();
    let shown_b = &c.decisions.as_ref().unwrap().trace;
    assert_eq!(shown_b.clips.len(), tb.clips.len());
    for (x, y) in shown_b.clips.iter().zip(&tb.clips) {
        assert_eq!(x.frames, y.frames);
        assert!(x.cubes.is_empty(), "B ran with --max-cubes 0");
    }
    assert!(c.diffs.iter().any(|d| !d.is_same()), "{:?}", c.diffs);
    assert!(h.query_all_by_label_contains("B: the run").count() > 0);
}
