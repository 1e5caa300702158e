//! The real window, driven by egui_kittest: the bundled demo video decoded by FFmpeg, the demo
//! checkpoint run by candle on worker threads, rendered with wgpu (Mesa's software Vulkan where
//! there is no GPU). The numbers each lane shows (its AccessKit label) are checked against an
//! independent headless run of the library and the budget engine.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use adalens::app::{AdalensApp, Command, Launch, DEMO_CHECKPOINT, DEMO_VIDEO};
use adalens::decision::trace::DecisionTrace;
use adalens::decision::{CalibrationSet, Criterion, PreparedCalibration, Split};
use adalens::model::load::{calibration_sidecar, ConfigOverrides, LoadedModel};
use adalens::runner::{self, Input};
use adalens::video::{DecodeChecked, Video};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

const BUDGET_LABEL: &str = "Budget (GFLOPs / video)";

fn demo_app() -> Harness<'static, AdalensApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 720.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(|cc| AdalensApp::new(cc, Launch::demo()));
    settle(&mut h, |a| {
        a.decisions.is_some()
            && sampled_thumbnails_in(a)
            && a.loaded.as_ref().is_some_and(|l| l.frame_texture.is_some())
    });
    h
}

fn sampled_thumbnails_in(a: &AdalensApp) -> bool {
    let (Some(l), Some(d)) = (&a.loaded, &a.decisions) else {
        return false;
    };
    d.trace
        .clips
        .iter()
        .flat_map(|c| &c.frames)
        .all(|f| l.thumbs.contains_key(&f.frame))
}

/// Step the window until `ready` holds, workers running or not (they run for real).
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
                .map(|e| &e.detail)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Step the window until the workers are done and `ready` holds.
fn settle(h: &mut Harness<'static, AdalensApp>, ready: impl Fn(&AdalensApp) -> bool) {
    step_until(h, |a| a.is_idle() && ready(a));
    // A few more frames so the panels lay out what arrived.
    for _ in 0..3 {
        h.step();
    }
}

/// The demo run headless through the library: what the lanes must show (run once per binary).
fn reference() -> &'static (DecisionTrace, PreparedCalibration) {
    static REFERENCE: std::sync::OnceLock<(DecisionTrace, PreparedCalibration)> =
        std::sync::OnceLock::new();
    REFERENCE.get_or_init(|| {
        let model = LoadedModel::open(
            DEMO_CHECKPOINT,
            None,
            &ConfigOverrides::default(),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let video = Video::open(DEMO_VIDEO).unwrap();
        let input = Input::plan(&video, &model).unwrap();
        let trace = runner::inspect(&model, input).unwrap().trace;
        let set = CalibrationSet::load(calibration_sidecar(Path::new(DEMO_CHECKPOINT))).unwrap();
        (trace, PreparedCalibration::new(set).unwrap())
    })
}

/// The sampled-frames lane's label for the reference run.
fn sampled_frames_label() -> String {
    let frames = || reference().0.clips.iter().flat_map(|c| &c.frames);
    let (sampled, discarded) = (frames().count(), frames().filter(|f| !f.kept).count());
    format!("Sampled frames lane: {sampled} sampled frames, {discarded} discarded")
}

/// The exit step and the computed cubes the budget engine gives for `budget`.
fn expected_at(trace: &DecisionTrace, prep: &PreparedCalibration, budget: f64) -> (usize, usize) {
    let sol = prep.solve_budget(Criterion::Entropy, budget).unwrap();
    let mut t = trace.clone();
    adalens::ExitRule::from_solution(&sol, Criterion::Entropy, budget).apply(&mut t);
    // The lanes show the first clip's exit and the computed cubes of every clip.
    let exit_of = |c: &adalens::decision::trace::ClipTrace| c.exit.as_ref().unwrap().exit_step;
    let computed = t
        .clips
        .iter()
        .map(|c| c.cubes.iter().filter(|q| q.order <= exit_of(c)).count())
        .sum();
    (exit_of(&t.clips[0]), computed)
}

fn has_label(h: &Harness<'static, AdalensApp>, label: &str) {
    assert!(
        h.query_by_label(label).is_some(),
        "no node labelled {label:?}; lanes: {:?}",
        h.query_all_by_label_contains("lane:")
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn each_lane_shows_what_the_headless_run_decided() {
    let (trace, _) = reference();
    // The demo is four actions in a row: four clips, each with its own decisions.
    let clips = &trace.clips;
    assert_eq!(clips.len(), 4);
    assert!(clips
        .iter()
        .all(|c| !c.cubes.is_empty() && c.steps.len() == c.cubes.len() + 1));
    let clip = &clips[0];

    let h = demo_app();
    has_label(&h, &sampled_frames_label());
    let bars = clips
        .iter()
        .flat_map(|c| &c.frames)
        .filter(|f| f.keep_prob.is_some())
        .count();
    has_label(
        &h,
        &format!("Keep probability lane: {bars} bars, tau_f 0.50"),
    );
    has_label(
        &h,
        &format!(
            "3D stages lane: 4 clips, {} of {} stages 3D",
            clips
                .iter()
                .flat_map(|c| &c.stages)
                .filter(|s| s.ran_3d)
                .count(),
            clips.iter().map(|c| c.stages.len()).sum::<usize>()
        ),
    );
    has_label(
        &h,
        &format!(
            "3D cube view: clip 1, {} frames, {} cubes",
            clip.frames.len(),
            clip.cubes.len()
        ),
    );
}

/// The budget slider at both ends of the calibration range and between: the exit step and
/// the solid / hollow cubes follow the budget engine exactly, and the oracle line beside it.
#[test]
fn the_budget_slider_moves_the_exits_as_the_budget_engine_does() {
    let (trace, prep) = reference();
    let cubes: usize = trace.clips.iter().map(|c| c.cubes.len()).sum();
    let steps: usize = trace.clips.iter().map(|c| c.steps.len()).sum();
    let mut h = demo_app();
    let (lo, hi) = prep.fit_cost_range();
    let mut seen = Vec::new();
    for budget in [lo, hi, (lo + hi) / 2.0] {
        h.get_by_role_and_label(egui::Role::Slider, BUDGET_LABEL)
            .set_value_accesskit(budget);
        // One frame: the lanes (drawn before the side panel) already show the new exit.
        h.step();
        // The slider keeps what it shows (rounded to its decimals), within the range.
        let used = h.state().state.sliders.budget.unwrap().clamp(lo, hi);
        assert!(
            (used - budget).abs() < 1e-4,
            "slider at {used}, asked {budget}"
        );
        let (exit, computed) = expected_at(trace, prep, used);
        has_label(
            &h,
            &format!("Entropy lane: {steps} steps, exit at step {exit}"),
        );
        has_label(
            &h,
            &format!(
                "Cubes lane: {cubes} cubes, {computed} computed, {} not computed",
                cubes - computed
            ),
        );
        settle(&mut h, |_| true);
        has_label(
            &h,
            &format!("Entropy lane: {steps} steps, exit at step {exit}"),
        );
        // Under the calibration curve: what an exit that knew the labels would reach at the
        // operating point's cost, never less than the entropy exit there.
        let ev = prep.evaluate(&prep.solve_budget(Criterion::Entropy, used).unwrap());
        let oracle = prep.oracle(Split::Eval).top1_at(ev.gflops);
        assert!(
            oracle >= ev.top1,
            "oracle {oracle} < entropy exit {}",
            ev.top1
        );
        has_label(
            &h,
            &format!(
                "An exit that knew the labels: {:.1}% at that cost.",
                100.0 * oracle
            ),
        );
        seen.push(exit);
    }
    assert_ne!(
        seen[0], seen[1],
        "the budget range should move the exit: {seen:?}"
    );
    // The cheapest budget is the glance alone: every clip stops at step 0.
    assert_eq!(seen[0], 0, "{seen:?}");
}

/// Under the GFLOPs breakdown: what every frame, stage and cube of every clip would cost, and
/// the bar of what the clips spend up to their exits.
#[test]
fn the_gflops_lines_add_up_to_what_each_clip_spends() {
    let h = demo_app();
    let d = h.state().decisions.as_ref().unwrap();
    let every_part: f64 = d.breakdown.iter().map(|p| p.gflops).sum();
    assert!(
        d.largest_gflops > every_part,
        "{} ≤ {every_part}",
        d.largest_gflops
    );
    let line = format!(
        "Every frame, stage and cube would cost {:.4}",
        d.largest_gflops
    );
    assert!(h.query_by_label_contains(&line).is_some(), "{line}");
    // The calibration videos are one clip each: the bar compares the budget with one clip's
    // share of the demo's four.
    let clips = d.trace.clips.len();
    assert_eq!(clips, 4);
    // Each clip spends up to its own exit: the model's cumulative GFLOPs at that step.
    let at_exits: f64 = d
        .trace
        .clips
        .iter()
        .map(|c| c.stop_step().map_or(0.0, |k| c.steps[k].cumulative_gflops))
        .sum();
    assert!(
        (d.spent_gflops() - at_exits).abs() < 1e-9,
        "{} vs {at_exits}",
        d.spent_gflops()
    );
    let bar = format!(
        "{:.4} per clip ({clips} clips) of ",
        at_exits / clips as f64
    );
    assert!(h.query_by_label_contains(&bar).is_some(), "{bar}");
}

/// Moving τ_f off the checkpoint's own value: the side panel says the budget's η_t come from a
/// calibration set made at the own values, and the run keeps every frame; the checkpoint's own
/// values come back with one click.
#[test]
fn tau_f_off_the_checkpoints_value_reruns_and_flags_the_calibration() {
    let mut h = demo_app();
    assert!(h
        .query_by_label_contains("made at τ_f 0.50, τ_s 0.50")
        .is_none());
    let ran_at_tau_f = |t: f32| {
        move |a: &AdalensApp| {
            a.decisions
                .as_ref()
                .is_some_and(|d| d.knobs.frame_threshold == t)
        }
    };
    h.get_by_role_and_label(egui::Role::Slider, "τ_f (keep frame when m_t ≥ τ_f)")
        .set_value_accesskit(0.0);
    settle(&mut h, ran_at_tau_f(0.0));
    assert!(h
        .query_by_label_contains("made at τ_f 0.50, τ_s 0.50")
        .is_some());
    let d = h.state().decisions.as_ref().unwrap();
    assert!(d
        .trace
        .clips
        .iter()
        .all(|c| c.frames.iter().all(|f| f.kept)));
    // The reset restores the exit criterion too.
    h.get_by_label("confidence ≥ τ_t").click();
    h.step();
    assert_eq!(h.state().state.sliders.criterion, Criterion::Confidence);
    h.get_by_label("Checkpoint's own values").click();
    settle(&mut h, ran_at_tau_f(0.5));
    assert!(h
        .query_by_label_contains("made at τ_f 0.50, τ_s 0.50")
        .is_none());
    assert_eq!(h.state().state.sliders.criterion, Criterion::Entropy);
}

/// A corrupt video: a readable error, and the demo stays loaded with its decisions.
#[test]
fn a_corrupt_video_is_an_error_and_the_demo_stays() {
    let mut h = demo_app();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.mp4");
    std::fs::write(&bad, b"this is not a video, only text with an .mp4 name").unwrap();
    h.state_mut().push(Command::OpenVideo(bad));
    settle(&mut h, |a| !a.errors.is_empty());
    assert!(h
        .query_by_label_contains("not a media file FFmpeg can read")
        .is_some());
    let app = h.state();
    assert!(app
        .loaded
        .as_ref()
        .unwrap()
        .video
        .path()
        .ends_with(DEMO_VIDEO));
    assert!(app.decisions.is_some());
    has_label(&h, &sampled_frames_label());
}

#[test]
fn snapshots_of_the_main_window_and_the_3d_view() {
    let mut h = demo_app();
    h.snapshot("main_window");
    // The 3D view large: timeline and side panel hidden.
    h.state_mut().state.show_timeline = false;
    h.state_mut().state.show_side = false;
    settle(&mut h, |_| true);
    h.snapshot("cube_view");
}

#[test]
fn keys_step_jump_to_decision_points_and_play() {
    let mut h = demo_app();
    let points = h.state().decisions.as_ref().unwrap().points.clone();
    let current = |h: &Harness<'static, AdalensApp>| h.state().loaded.as_ref().unwrap().current;
    assert_eq!(current(&h), 0);
    h.key_press(egui::Key::ArrowRight);
    h.step();
    assert_eq!(current(&h), 1);
    // Shift+→ goes to the next decision point after frame 1, Shift+← back to the one before.
    let next = *points.iter().find(|&&p| p > 1).unwrap();
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowRight);
    h.step();
    assert_eq!(current(&h), next);
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowRight);
    h.step();
    let after = *points.iter().find(|&&p| p > next).unwrap();
    assert_eq!(current(&h), after);
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowLeft);
    h.step();
    assert_eq!(current(&h), next);
    // Space plays: the playhead moves with time at the video's rate; Space again stops it.
    h.key_press(egui::Key::Space);
    h.step();
    assert!(h.state().playing.is_some());
    std::thread::sleep(Duration::from_millis(300));
    h.step();
    assert!(current(&h) > next, "playback did not move the playhead");
    h.key_press(egui::Key::Space);
    h.step();
    assert!(h.state().playing.is_none());
    // F1 opens the help overlay listing the shortcuts.
    h.key_press(egui::Key::F1);
    h.step();
    assert!(h.query_by_label("Ctrl + Shift + O").is_some());
}

#[test]
fn after_a_cancel_a_new_checkpoint_still_gets_its_thumbnails() {
    let mut h = demo_app();
    // Cancel, then open a checkpoint that samples other frames: the thumbnail job it starts
    // must not inherit the cancelled flag.
    h.state_mut().push(Command::CancelJob);
    h.step();
    let ck =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/ada3d_tiny.safetensors");
    h.state_mut().push(Command::OpenCheckpoint(ck));
    settle(&mut h, |a| {
        a.model
            .as_ref()
            .is_some_and(|m| m.info.arch == adalens::Arch::Ada3d)
            && a.decisions
                .as_ref()
                .is_some_and(|d| d.trace.arch == "ada3d")
            && sampled_thumbnails_in(a)
    });
    let app = h.state();
    assert!(
        app.errors.is_empty(),
        "{:?}",
        app.errors.iter().map(|e| &e.detail).collect::<Vec<_>>()
    );
    let d = app.decisions.as_ref().unwrap();
    assert!(d.trace.clips.len() > 1, "ada3d runs several clips");
}

/// "Export figure" writes the figure of what is on screen through the worker thread: the
/// exits marked at the budget on screen, the lanes and overlays that are visible.
#[test]
fn export_figure_writes_what_is_on_screen() {
    let mut h = demo_app();
    let dir = tempfile::tempdir().unwrap();
    let req = h.state().figure_request().unwrap();
    let d = h.state().decisions.as_ref().unwrap();
    assert_eq!(req.trace, d.trace, "the trace with the exits on screen");
    assert!(req.options.lanes.contains(&adalens::figure::Lane::Cubes));
    // Hide the cube overlay: the figure leaves the boxes out too.
    h.state_mut().state.overlays.cubes = false;
    let req = h.state().figure_request().unwrap();
    assert!(!req.options.lanes.contains(&adalens::figure::Lane::Cubes));
    h.state_mut().state.overlays.cubes = true;

    let svg = dir.path().join("figure.svg");
    h.state_mut().push(Command::ExportFigureTo(svg.clone()));
    settle(&mut h, |a| a.notice.is_some() || !a.errors.is_empty());
    assert!(
        h.state().errors.is_empty(),
        "{:?}",
        h.state().errors.first().map(|e| &e.detail)
    );
    assert!(h.state().notice.as_ref().unwrap().contains("figure.svg"));
    let text = std::fs::read_to_string(&svg).unwrap();
    let d = h.state().decisions.as_ref().unwrap();
    common::assert_figure_panel(&text, 0, &d.trace.clips[0]);

    // A PNG through the same path; a bad target is an error note, the app keeps going.
    let png = dir.path().join("figure.png");
    h.state_mut().push(Command::ExportFigureTo(png.clone()));
    settle(&mut h, |a| a.notice.is_some() || !a.errors.is_empty());
    assert!(image::open(&png).is_ok());
    h.state_mut().push(Command::ExportFigureTo(
        dir.path().join("no/such/dir/f.pdf"),
    ));
    settle(&mut h, |a| !a.errors.is_empty());
    assert!(h.state().decisions.is_some());
}

/// The point at fraction `f` of the budget slider's track, and a primary-button event there.
fn budget_track(h: &Harness<'static, AdalensApp>) -> impl Fn(f32) -> egui::Pos2 {
    let rect = h
        .get_by_role_and_label(egui::Role::Slider, BUDGET_LABEL)
        .rect();
    move |f| egui::pos2(rect.left() + f * rect.width(), rect.center().y)
}

fn primary(pos: egui::Pos2, pressed: bool) -> egui::Event {
    egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::default(),
    }
}

/// The budget the slider holds is at fraction `f` of the calibration range, give or take the
/// handle's width.
fn assert_budget_at(h: &Harness<'static, AdalensApp>, prep: &PreparedCalibration, f: f64) {
    let (lo, hi) = prep.fit_cost_range();
    let b = h
        .state()
        .state
        .sliders
        .budget
        .expect("the pointer set a budget");
    let want = lo + f * (hi - lo);
    assert!(
        (b - want).abs() < 0.08 * (hi - lo),
        "budget {b}, expected {f} of [{lo}, {hi}]"
    );
}

/// A click on the budget slider's track moves the budget there (a new user's first try).
#[test]
fn a_click_on_the_budget_slider_track_moves_the_budget() {
    let (_, prep) = reference();
    let mut h = demo_app();
    let at = budget_track(&h)(0.1);
    h.event(egui::Event::PointerMoved(at));
    h.step();
    // Press and release within one frame, as a quick click on a slow (software-rendered)
    // window arrives.
    h.event(primary(at, true));
    h.event(primary(at, false));
    h.run_steps(3);
    assert_budget_at(&h, prep, 0.1);
}

/// A fast drag along the budget slider ends where the pointer let go.
#[test]
fn a_fast_drag_on_the_budget_slider_ends_where_it_let_go() {
    let (_, prep) = reference();
    let mut h = demo_app();
    let at = budget_track(&h);
    h.event(egui::Event::PointerMoved(at(0.2)));
    h.step();
    h.event(primary(at(0.2), true));
    h.step();
    // Two big moves, one frame each, then the release.
    h.event(egui::Event::PointerMoved(at(0.5)));
    h.step();
    h.event(egui::Event::PointerMoved(at(0.8)));
    h.event(primary(at(0.8), false));
    h.run_steps(3);
    assert_budget_at(&h, prep, 0.8);
}

/// The side panel describes the clip under the playhead: moving into clip k shows clip k's
/// steps, as the headless run computed them.
#[test]
fn the_side_panel_follows_the_clip_at_the_playhead() {
    let mut h = demo_app();
    let (trace, _) = reference();
    assert_eq!(trace.clips.len(), 4);
    for (k, clip) in trace.clips.iter().enumerate() {
        h.state_mut().push(Command::Seek(clip.frames[1].frame));
        for _ in 0..3 {
            h.step();
        }
        assert!(
            h.query_by_label(&format!("Clip {} of 4: prediction after each step", k + 1))
                .is_some(),
            "clip {} not described",
            k + 1
        );
        for s in &clip.steps {
            let head = format!(
                "step {}{} · {:.4} GFLOPs · H = {:.3}",
                s.step,
                if s.step == 0 { " (glance)" } else { "" },
                s.cumulative_gflops,
                s.entropy
            );
            assert!(
                h.query_by_label_contains(&head).is_some(),
                "clip {}: no {head:?}",
                k + 1
            );
        }
    }
}

/// Ctrl+Z undoes a slider move (the model re-runs with the value before), Ctrl+Shift+Z redoes it.
#[test]
fn ctrl_z_undoes_a_slider_move_and_ctrl_shift_z_redoes_it() {
    let mut h = demo_app();
    let ran_at_tau_f = |t: f32| {
        move |a: &AdalensApp| {
            a.decisions
                .as_ref()
                .is_some_and(|d| d.knobs.frame_threshold == t)
        }
    };
    h.get_by_role_and_label(egui::Role::Slider, "τ_f (keep frame when m_t ≥ τ_f)")
        .set_value_accesskit(0.2);
    settle(&mut h, ran_at_tau_f(0.2));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    settle(&mut h, ran_at_tau_f(0.5));
    assert_eq!(h.state().state.sliders.frame_threshold, None);
    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    settle(&mut h, ran_at_tau_f(0.2));
    assert_eq!(h.state().state.sliders.frame_threshold, Some(0.2));
}

/// A video of many clips: the first clips are drawn before the last is decoded, Cancel keeps
/// them and Resume ends with the trace of an uninterrupted headless run; at whole-video zoom
/// the lanes summarise the clips, one heat cell each.
#[test]
fn a_long_video_streams_its_clips_cancels_resumes_and_summarises() {
    let d = tempfile::tempdir().unwrap();
    let path = common::make_long_video(d.path());
    let launch = Launch {
        video: Some(path.clone()),
        checkpoint: Some(DEMO_CHECKPOINT.into()),
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 720.0))
        .wgpu()
        .build_eframe(move |cc| AdalensApp::new(cc, launch));
    // Step until some clips are drawn while others are still to run, then cancel.
    step_until(&mut h, |a| {
        a.decisions
            .as_ref()
            .is_some_and(|d| !d.pending.is_empty() && d.pending.len() < d.trace.clips.len())
    });
    h.state_mut().push(Command::CancelJob);
    settle(&mut h, |a| a.resumable);
    let kept = h.state().decisions.as_ref().unwrap().pending.len();
    assert!(kept > 0, "the run finished before the cancel");
    h.get_by_label("Resume").click();
    settle(&mut h, |a| {
        a.decisions.as_ref().is_some_and(|d| d.pending.is_empty())
    });
    let model = LoadedModel::open(
        DEMO_CHECKPOINT,
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let input = Input::plan(&Video::open(&path).unwrap(), &model).unwrap();
    let headless = runner::inspect(&model, input).unwrap().trace;
    let shown = &h.state().decisions.as_ref().unwrap().trace;
    assert_eq!(shown.clips.len(), 36);
    for (a, b) in shown.clips.iter().zip(&headless.clips) {
        assert_eq!(a.frames, b.frames);
        assert_eq!(a.cubes, b.cubes);
        assert_eq!(a.steps, b.steps);
    }
    // 36 clips across the timeline are narrower than their labels: the summary.
    assert!(
        h.query_by_label_contains("Keep prob. m_t lane: summary of 36 clips (36 run)")
            .is_some(),
        "lanes: {:?}",
        h.query_all_by_label_contains("lane:")
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
    );
}

/// Reopening a video with the same checkpoint draws its kept results at once: the model runs
/// nothing again (no partial run of its clips ever shows).
#[test]
fn reopening_a_video_reuses_its_results() {
    let mut h = demo_app();
    let first = h.state().decisions.as_ref().unwrap().trace.clone();
    let d = tempfile::tempdir().unwrap();
    let other = common::make_video(
        d.path(),
        "other.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
            "-t",
            "12",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    h.state_mut().push(Command::OpenVideo(other.clone()));
    settle(&mut h, |a| {
        a.loaded.as_ref().is_some_and(|l| l.video.path() == other)
            && a.decisions.as_ref().is_some_and(|d| d.pending.is_empty())
    });
    h.state_mut().push(Command::OpenVideo(DEMO_VIDEO.into()));
    let start = Instant::now();
    let mut saw_partial = false;
    loop {
        h.step();
        let a = h.state();
        let demo_open = a
            .loaded
            .as_ref()
            .is_some_and(|l| l.video.path().ends_with(DEMO_VIDEO));
        if let Some(d) = a.decisions.as_ref().filter(|_| demo_open) {
            saw_partial |= !d.pending.is_empty();
            if d.pending.is_empty() && a.is_idle() {
                assert_eq!(d.trace.clips, first.clips);
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the demo did not reopen"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(!saw_partial, "the demo's clips ran again");
}

/// A long file is numbered from its packets when it opens (decoding it all would delay the
/// first results); "check frame numbers" in the status line decodes every packet, and a
/// packet too damaged for the decoder then gets no frame number, as in the ffmpeg CLI's count,
/// and the model runs again on the new numbering.
#[test]
fn checking_a_long_files_frame_numbers_drops_a_packet_the_decoder_refuses() {
    let mut h = demo_app();
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("damaged.mp4");
    common::make_long_damaged_video(d.path(), &bad);

    h.state_mut().push(Command::OpenVideo(bad.clone()));
    let opened = |a: &AdalensApp| {
        a.loaded.as_ref().is_some_and(|l| l.video.path() == bad)
            && a.decisions.as_ref().is_some_and(|d| d.pending.is_empty())
    };
    settle(&mut h, opened);
    let video = h.state().loaded.as_ref().unwrap().video.clone();
    assert_eq!(*video.decode_checked(), DecodeChecked::NotRun);
    assert_eq!(video.frame_count(), 160, "numbered from the packets");

    h.get_by_label("· check frame numbers").click();
    settle(&mut h, |a| {
        opened(a)
            && a.loaded
                .as_ref()
                .is_some_and(|l| *l.video.decode_checked() != DecodeChecked::NotRun)
    });
    let app = h.state();
    let video = &app.loaded.as_ref().unwrap().video;
    assert_eq!(
        *video.decode_checked(),
        DecodeChecked::Done { packet_frames: 160 }
    );
    assert_eq!(video.frame_count(), 159, "as the CLI counts");
    assert!(video
        .warnings()
        .iter()
        .any(|w| w.contains("1 packet is too damaged")));
    // The run is of the new numbering, and the offer is gone.
    let trace = &app.decisions.as_ref().unwrap().trace;
    assert_eq!(trace.video.frame_count, 159);
    assert!(h.query_by_label("· check frame numbers").is_none());
}
