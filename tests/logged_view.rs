//! A trace logged from another program in the real window (egui_kittest, wgpu): it opens with
//! no checkpoint (`adalens VIDEO --trace T.json`), its generic lanes are drawn with their
//! numbers, the budget slider solves on the calibration set beside it and marks the exits the
//! budget engine marks, and a folder of such traces opens in the dataset view.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adalens::app::{AdalensApp, Launch, DEMO_VIDEO};
use adalens::decision::lanes::category_counts;
use adalens::decision::{Criterion, ExitRule, PreparedCalibration};
use adalens::logged::{LoggedClip, StepOutputs, TraceBuilder};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

const BUDGET_LABEL: &str = "Budget (GFLOPs / video)";

fn app(launch: Launch) -> Harness<'static, AdalensApp> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(move |cc| AdalensApp::new(cc, launch))
}

fn settle(h: &mut Harness<'static, AdalensApp>, ready: impl Fn(&AdalensApp) -> bool) {
    let start = Instant::now();
    loop {
        h.step();
        if h.state().is_idle() && ready(h.state()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the window did not get there; errors: {:?}",
            h.state()
                .errors
                .iter()
                .map(|e| &e.detail)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..3 {
        h.step();
    }
}

fn lane_labels(h: &Harness<'static, AdalensApp>) -> Vec<String> {
    h.query_all_by_label_contains("lane")
        .map(|n| format!("{n:?}"))
        .collect()
}

/// A model that is not one of adalens's archs: four clips over `video`, each frame at one of
/// three resolutions (or skipped), a share of tokens kept, and four steps of a softmax over
/// two classes that grows surer at a pace of its own per clip (`seed` varies it).
fn logged(video: &Path, seed: usize) -> TraceBuilder {
    let count = adalens::Video::open(video).unwrap().frame_count();
    let mut b = TraceBuilder::new(video, vec!["left".into(), "right".into()], "ar_net").unwrap();
    b.declare_categorical(
        "resolution",
        vec![
            ("224".into(), Some(4.1)),
            ("160".into(), Some(2.1)),
            ("skip".into(), Some(0.0)),
        ],
    )
    .unwrap();
    b.declare_scalar("tokens kept", Some("share".into()), Some([0.0, 1.0]))
        .unwrap();
    for c in 0..4 {
        let frames: Vec<usize> = (0..6).map(|i| (c * 6 + i) * (count / 24)).collect();
        let mut lanes = std::collections::BTreeMap::new();
        lanes.insert(
            "resolution".to_string(),
            (0..6)
                .map(|i| {
                    Some(if i + c < seed {
                        0.0
                    } else {
                        ((i + c + seed) % 3) as f64
                    })
                })
                .collect(),
        );
        lanes.insert(
            "tokens kept".to_string(),
            (0..6).map(|i| Some(i as f64 / 5.0)).collect(),
        );
        let pace = 0.05 + 0.03 * ((c * 7 + seed * 3) % 5) as f32;
        let probs = (0..4)
            .map(|s| {
                let p = (0.5 + pace * s as f32).min(0.99);
                vec![p, 1.0 - p]
            })
            .collect();
        b.add_clip(LoggedClip {
            frames,
            lanes,
            outputs: Some(StepOutputs::Probabilities(probs)),
            gflops: vec![2.0, 4.0, 6.0, 8.0],
            ..Default::default()
        })
        .unwrap();
    }
    b
}

/// A folder with the demo's logged trace, seven more of copies of the demo, their labels and
/// the calibration set made from them (`calibration.adlcal` beside the traces).
fn folder() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::new();
    for i in 0..8 {
        let v = dir.path().join(format!("v{i}.mp4"));
        std::fs::copy(DEMO_VIDEO, &v).unwrap();
        logged(&v, i)
            .save(&dir.path().join(format!("v{i}.json")))
            .unwrap();
        list.push_str(&format!("v{i}.mp4,left\n"));
    }
    std::fs::write(dir.path().join("labels.csv"), list).unwrap();
    let f = adalens::logged::read_folder(dir.path(), Some(&dir.path().join("labels.csv"))).unwrap();
    let set = adalens::calibrate::from_traces(&f.traces, false)
        .unwrap()
        .set;
    set.save(dir.path().join("calibration.adlcal")).unwrap();
    let trace = dir.path().join("v0.json");
    (dir, trace)
}

#[test]
fn a_logged_trace_opens_without_a_model_with_its_lanes_and_budget() {
    let (dir, trace_path) = folder();
    let trace = adalens::logged::read_trace(&trace_path).unwrap();
    let mut h = app(Launch {
        trace: Some(trace_path.clone()),
        ..Default::default()
    });
    settle(&mut h, |a| a.decisions.is_some() && a.logged.is_some());
    assert!(
        h.state().model.is_none(),
        "no checkpoint is opened for a logged trace"
    );
    assert!(h.state().errors.is_empty());
    let spec = trace.lane("resolution").unwrap();
    let (counts, cost) = category_counts(spec, &trace.clips);
    let label = format!(
        "resolution lane: 224 x{}, 160 x{}, skip x{}, {:.3} GFLOPs",
        counts[0],
        counts[1],
        counts[2],
        cost.unwrap()
    );
    assert!(
        h.query_by_label(&label).is_some(),
        "no {label:?} in {:#?}",
        lane_labels(&h)
    );
    assert!(h
        .query_by_label("tokens kept lane: values 0.000 to 1.000 share")
        .is_some());
    // The budget slider solves on the calibration set beside the trace; the exits it marks
    // are the budget engine's.
    let set =
        adalens::decision::CalibrationSet::load(dir.path().join("calibration.adlcal")).unwrap();
    let prep = PreparedCalibration::new(set).unwrap();
    let (lo, hi) = prep.fit_cost_range();
    let mut exits_seen = std::collections::BTreeSet::new();
    for budget in [lo, (lo + hi) / 2.0, hi] {
        h.get_by_role_and_label(egui::Role::Slider, BUDGET_LABEL)
            .set_value_accesskit(budget);
        h.step();
        let used = h.state().state.sliders.budget.unwrap().clamp(lo, hi);
        let mut want = trace.clone();
        ExitRule::for_budget(&prep, Criterion::Entropy, used)
            .unwrap()
            .0
            .apply(&mut want);
        let got = &h.state().decisions.as_ref().unwrap().trace;
        let stops = |t: &adalens::DecisionTrace| -> Vec<Option<usize>> {
            t.clips.iter().map(|c| c.stop_step()).collect()
        };
        assert_eq!(stops(got), stops(&want), "at budget {used}");
        exits_seen.insert(stops(got));
    }
    assert!(
        exits_seen.len() >= 2,
        "the budget moved no exit: {exits_seen:?}"
    );

    // Export figure: each frame banded with its category, the values under it.
    let svg = dir.path().join("logged.svg");
    h.state_mut()
        .push(adalens::app::Command::ExportFigureTo(svg.clone()));
    settle(&mut h, |a| a.notice.is_some() || !a.errors.is_empty());
    assert!(
        h.state().errors.is_empty(),
        "{:?}",
        h.state().errors.first().map(|e| &e.detail)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    let clip = &h.state().decisions.as_ref().unwrap().trace.clips[0];
    let doc = roxmltree::Document::parse(&text).unwrap();
    // (Text is drawn as paths in an exported SVG; the elements keep their ids.)
    let count = |prefix: &str| {
        doc.descendants()
            .filter(|n| n.attribute("id").is_some_and(|id| id.starts_with(prefix)))
            .count()
    };
    let shown = count("frame-0-");
    assert!(shown > 0, "no frames in {text}");
    assert_eq!(count("lane-0-"), shown, "one category band per frame");
    // The first frame's band is its category's colour (the window's).
    let (k, cat) = spec.category(clip.lanes["resolution"][0]).unwrap();
    let [r, g, b] = adalens::decision::lanes::category_colour(k, cat);
    let band = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("lane-0-0-1"))
        .unwrap();
    assert_eq!(
        band.attribute("fill"),
        Some(format!("#{r:02x}{g:02x}{b:02x}").as_str())
    );
}

#[test]
fn a_folder_of_logged_traces_opens_in_the_dataset_view() {
    let (dir, _) = folder();
    let mut h = app(Launch {
        run: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    // The run's budget comes from the calibration set beside the traces (no model).
    settle(&mut h, |a| {
        a.dataset.is_some() && a.logged.as_ref().is_some_and(|l| l.budget.is_some())
    });
    assert!(h.state().model.is_none());
    let d = h.state().dataset.as_ref().unwrap();
    assert_eq!(d.table.rows.len(), 8);
    assert_eq!(d.table.settings.arch, "ar_net");
    assert!(dir.path().join(".adalens-run/summary.parquet").is_file());
    assert!(h.state().active_budget().is_some());
    // The side panel's summary of the run's lanes: every frame of the eight traces counted.
    settle(&mut h, |a| {
        a.logged.as_ref().is_some_and(|l| !l.lanes.is_empty())
    });
    let totals = &h.state().logged.as_ref().unwrap().lanes;
    assert_eq!(totals[0].spec.name, "resolution");
    assert_eq!(totals[0].counts.iter().sum::<usize>(), 8 * 4 * 6);
    assert_eq!(totals[1].values, 8 * 4 * 6);
    assert!(h
        .query_by_label_contains("Per-frame decisions over the run")
        .is_some());
    // Each row's frames per category: the table's lane column (its label carries the counts).
    h.step();
    let mut cells = std::collections::BTreeMap::new();
    for k in 0..8 {
        let t = adalens::logged::read_trace(&dir.path().join(format!("v{k}.json"))).unwrap();
        let (c, _) = category_counts(t.lane("resolution").unwrap(), &t.clips);
        let cell = format!("resolution 224 x{} 160 x{} skip x{}", c[0], c[1], c[2]);
        *cells.entry(cell).or_insert(0) += 1;
    }
    for (cell, rows) in cells {
        assert_eq!(
            h.query_all_by_label_contains(&cell).count(),
            rows,
            "rows saying {cell:?}"
        );
    }
}
