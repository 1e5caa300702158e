//! Compare mode in the real window (egui_kittest, wgpu): the demo at two budgets, the demo
//! against the untrained fixture, and a what-if edit. The lanes of A and B carry each run's
//! numbers (their AccessKit labels), checked against headless runs of the library, the budget
//! engine and `decision::compare::diff`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use adalens::app::{
    AdalensApp, Command, CompareSpec, Launch, DEMO_CHECKPOINT, DEMO_VIDEO, UNTRAINED_CHECKPOINT,
};
use adalens::decision::compare::diff;
use adalens::decision::trace::DecisionTrace;
use adalens::decision::{CalibrationSet, Criterion, ExitRule, PreparedCalibration};
use adalens::model::load::{calibration_sidecar, ConfigOverrides, LoadedModel};
use adalens::runner::{self, Edit, Input};
use adalens::video::Video;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

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
            start.elapsed() < Duration::from_secs(180),
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

fn labels(h: &Harness<'static, AdalensApp>) -> Vec<String> {
    h.query_all_by_label_contains("lane")
        .map(|n| format!("{n:?}"))
        .collect()
}

fn has_label(h: &Harness<'static, AdalensApp>, label: &str) {
    assert!(
        h.query_by_label(label).is_some(),
        "no node labelled {label:?}; lanes: {:#?}",
        labels(h)
    );
}

/// A checkpoint's run of the demo video, headless.
fn headless(checkpoint: &str) -> DecisionTrace {
    let model = LoadedModel::open(
        checkpoint,
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let input = Input::plan(&Video::open(DEMO_VIDEO).unwrap(), &model).unwrap();
    runner::inspect(&model, input).unwrap().trace
}

fn prep(checkpoint: &str) -> PreparedCalibration {
    let set = CalibrationSet::load(calibration_sidecar(Path::new(checkpoint))).unwrap();
    PreparedCalibration::new(set).unwrap()
}

/// `trace` with the exits the budget engine gives for `budget`.
fn at_budget(trace: &DecisionTrace, prep: &PreparedCalibration, budget: f64) -> DecisionTrace {
    let sol = prep.solve_budget(Criterion::Entropy, budget).unwrap();
    let mut t = trace.clone();
    ExitRule::from_solution(&sol, Criterion::Entropy, budget).apply(&mut t);
    t
}

/// The entropy lane's label of a trace: the first clip's exit over all steps.
fn entropy_label(t: &DecisionTrace) -> String {
    let steps: usize = t.clips.iter().map(|c| c.steps.len()).sum();
    let exit = t.clips[0].exit.as_ref().unwrap().exit_step;
    format!("Entropy lane: {steps} steps, exit at step {exit}")
}

/// The cubes lane's label of a trace: the cubes computed up to each clip's exit.
fn cubes_label(t: &DecisionTrace) -> String {
    let cubes: usize = t.clips.iter().map(|c| c.cubes.len()).sum();
    let computed: usize = t
        .clips
        .iter()
        .map(|c| {
            let exit = c.exit.as_ref().unwrap().exit_step;
            c.cubes.iter().filter(|q| q.order <= exit).count()
        })
        .sum();
    format!(
        "Cubes lane: {cubes} cubes, {computed} computed, {} not computed",
        cubes - computed
    )
}

/// The differences lane's label for A and B, from `adalens::decision::compare::diff`.
fn differences_label(a: &DecisionTrace, b: &DecisionTrace) -> String {
    let d = diff(a, b);
    let count = |f: &dyn Fn(&adalens::decision::compare::ClipDiff) -> bool| {
        d.iter().filter(|c| f(c)).count()
    };
    let ious: Vec<f64> = d
        .iter()
        .filter(|c| !c.cubes.is_empty())
        .map(|c| c.cubes.iter().map(|q| q.iou).sum::<f64>() / c.cubes.len() as f64)
        .collect();
    format!(
        "Differences lane: {} of {} clips differ (exit in {}, prediction in {}, kept frames in \
         {}, 3D stages in {}, cubes in {}); mean cube IoU {:.2}; GFLOPs A {:.3}, B {:.3}",
        count(&|c| !c.is_same()),
        d.len(),
        count(&|c| c.exit_a != c.exit_b),
        count(&|c| c.top1_a.map(|t| t.class) != c.top1_b.map(|t| t.class)),
        count(&|c| !c.kept_only_a.is_empty() || !c.kept_only_b.is_empty()),
        count(&|c| !c.stages_3d_only_a.is_empty() || !c.stages_3d_only_b.is_empty()),
        count(&|c| {
            c.cubes_only_a + c.cubes_only_b > 0 || c.cubes.iter().any(|q| q.iou < 1.0 - 1e-9)
        }),
        ious.iter().sum::<f64>() / ious.len() as f64,
        d.iter().map(|c| c.gflops_a).sum::<f64>(),
        d.iter().map(|c| c.gflops_b).sum::<f64>(),
    )
}

/// One checkpoint at two budgets: B's lanes exit where the budget engine says for B's budget,
/// A's for A's, and the differences lane counts what `diff` counts. B linked to A: no difference.
#[test]
fn two_budgets_stack_both_runs_and_mark_their_differences() {
    let prep = prep(DEMO_CHECKPOINT);
    let (lo, hi) = prep.fit_cost_range();
    let launch = Launch {
        compare: Some(CompareSpec {
            budget: Some(lo),
            ..Default::default()
        }),
        ..Launch::demo()
    };
    let mut h = app(launch);
    settle(&mut h, |a| {
        a.compare.as_ref().is_some_and(|c| c.decisions.is_some())
    });
    // A at the top of the range (every cube), B at the bottom (the glance alone).
    h.get_by_role_and_label(egui::Role::Slider, "Budget (GFLOPs / video)")
        .set_value_accesskit(hi);
    settle(&mut h, |_| true);
    let trace = headless(DEMO_CHECKPOINT);
    let (ta, tb) = (at_budget(&trace, &prep, hi), at_budget(&trace, &prep, lo));
    has_label(&h, &entropy_label(&ta));
    has_label(&h, &format!("B: {}", entropy_label(&tb)));
    has_label(&h, &cubes_label(&ta));
    has_label(&h, &format!("B: {}", cubes_label(&tb)));
    has_label(&h, &differences_label(&ta, &tb));
    assert!(tb
        .clips
        .iter()
        .all(|c| c.exit.as_ref().unwrap().exit_step == 0));
    assert_ne!(cubes_label(&ta), cubes_label(&tb));
    assert!(
        h.query_all_by_label_contains("B: budget").count() > 0,
        "B's heading names its budget"
    );

    // Export figure in compare mode: A and B as two rows, what differs under the first title.
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("compare.svg");
    h.state_mut().push(Command::ExportFigureTo(svg.clone()));
    settle(&mut h, |_| svg.is_file());
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("id=\"title-0\"") && text.contains("id=\"title-1\""));
    assert!(text.contains("id=\"differs-0\""), "what differs is written");

    // B linked to A: nothing differs.
    h.state_mut().compare.as_mut().unwrap().linked = true;
    settle(&mut h, |_| true);
    let th = at_budget(&trace, &prep, hi);
    has_label(&h, &format!("B: {}", entropy_label(&th)));
    assert!(
        h.query_by_label_contains("Differences lane: 0 of 4 clips differ")
            .is_some(),
        "{:#?}",
        labels(&h)
    );
}

/// The demo against the untrained fixture: B runs its own checkpoint on a worker, and every
/// lane of B shows the fixture's own decisions.
#[test]
fn another_checkpoint_runs_beside_the_model() {
    let launch = Launch {
        compare: Some(CompareSpec {
            checkpoint: Some(UNTRAINED_CHECKPOINT.into()),
            ..Default::default()
        }),
        ..Launch::demo()
    };
    let mut h = app(launch);
    settle(&mut h, |a| {
        a.compare.as_ref().is_some_and(|c| c.decisions.is_some())
    });
    let b = h
        .state()
        .compare
        .as_ref()
        .unwrap()
        .decisions
        .as_ref()
        .unwrap();
    let headless_b = headless(UNTRAINED_CHECKPOINT);
    assert_eq!(b.trace.clips.len(), headless_b.clips.len());
    for (x, y) in b.trace.clips.iter().zip(&headless_b.clips) {
        assert_eq!(x.frames, y.frames);
        assert_eq!(x.cubes, y.cubes);
        assert_eq!(x.stages, y.stages);
    }
    let bars = headless_b
        .clips
        .iter()
        .flat_map(|c| &c.frames)
        .filter(|f| f.keep_prob.is_some())
        .count();
    has_label(
        &h,
        &format!("B: Keep probability lane: {bars} bars, tau_f 0.50"),
    );
    assert!(
        h.query_by_label_contains("Differences lane:").is_some(),
        "{:#?}",
        labels(&h)
    );
    // Close: back to the model's run alone.
    h.state_mut().push(Command::CloseCompare);
    settle(&mut h, |a| a.compare.is_none());
    assert!(h.query_by_label_contains("Differences lane").is_none());
}

/// A what-if edit: a discarded frame kept by hand runs the clip again; B is the edited run and
/// the differences lane says which frame only B keeps.
#[test]
fn a_what_if_edit_reruns_the_clip_and_is_drawn_as_b() {
    let mut h = app(Launch::demo());
    settle(&mut h, |a| a.decisions.is_some());
    let a = h.state().decisions.as_ref().unwrap().trace.clone();
    let (clip, index) = a
        .clips
        .iter()
        .enumerate()
        .find_map(|(k, c)| c.frames.iter().position(|f| !f.kept).map(|i| (k, i)))
        .unwrap();
    h.state_mut().push(Command::WhatIf {
        clip,
        edit: Edit::ToggleFrame { index },
    });
    settle(&mut h, |a| {
        a.compare.as_ref().is_some_and(|c| {
            c.spec.what_if
                && c.edits.get(&clip).is_some_and(|e| e.trace.is_some())
                && c.decisions.is_some()
        })
    });
    let c = h.state().compare.as_ref().unwrap();
    let frame = a.clips[clip].frames[index].frame;
    assert_eq!(c.diffs[clip].kept_only_b, vec![frame]);
    assert!(c.diffs[clip].kept_only_a.is_empty());
    assert!(c
        .diffs
        .iter()
        .enumerate()
        .all(|(k, d)| k == clip || d.is_same()));
    assert!(
        h.query_by_label_contains("Differences lane: 1 of 4 clips differ")
            .is_some(),
        "{:#?}",
        labels(&h)
    );
    assert!(h.query_all_by_label_contains("B: what-if").count() > 0);
    // Reset: the model's decisions alone again.
    h.get_by_label("Reset to the model's decisions").click();
    settle(&mut h, |a| a.compare.is_none());
}

/// A B checkpoint that cannot be opened is an error naming it; A stays drawn and B's lanes say
/// why they are empty.
#[test]
fn a_bad_b_checkpoint_is_an_error_and_a_stays() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.safetensors");
    std::fs::write(
        &bad,
        b"\xff\xff\xff\xff\xff\xff\xff\x7fnot a safetensors file",
    )
    .unwrap();
    let launch = Launch {
        compare: Some(CompareSpec {
            checkpoint: Some(bad.clone()),
            ..Default::default()
        }),
        ..Launch::demo()
    };
    let mut h = app(launch);
    settle(&mut h, |a| {
        a.decisions.is_some() && a.compare.as_ref().is_some_and(|c| c.problem.is_some())
    });
    let name = bad.display().to_string();
    assert!(
        h.state().errors.iter().any(|e| e.detail.contains(&name)),
        "{:?}",
        h.state()
            .errors
            .iter()
            .map(|e| &e.detail)
            .collect::<Vec<_>>()
    );
    assert!(h.query_all_by_label_contains("B could not run").count() > 0);
    assert!(h
        .query_by_label_contains("Differences lane: waiting")
        .is_some());
}

/// A long video (36 clips) at whole-video zoom: B's lanes summarise their clips as A's do, and
/// the differences row counts every clip.
#[test]
fn a_long_video_compares_clip_by_clip_at_whole_video_zoom() {
    let d = tempfile::tempdir().unwrap();
    let path = common::make_long_video(d.path());
    let (lo, _) = prep(DEMO_CHECKPOINT).fit_cost_range();
    let launch = Launch {
        video: Some(path),
        checkpoint: Some(DEMO_CHECKPOINT.into()),
        compare: Some(CompareSpec {
            budget: Some(lo),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut h = app(launch);
    settle(&mut h, |a| {
        a.decisions.as_ref().is_some_and(|d| d.pending.is_empty())
            && a.compare.as_ref().is_some_and(|c| c.decisions.is_some())
    });
    let c = h.state().compare.as_ref().unwrap();
    assert_eq!(c.diffs.len(), 36);
    assert!(
        h.query_by_label_contains("B: Keep prob. m_t lane: summary of 36 clips")
            .is_some(),
        "{:#?}",
        labels(&h)
    );
    assert!(
        h.query_by_label_contains("Differences lane: ")
            .is_some_and(|n| format!("{n:?}").contains(" of 36 clips differ")),
        "{:#?}",
        labels(&h)
    );
}
