//! The warm analysis the window uses (glance once, re-runs for τ_f / τ_s / max cubes) gives
//! exactly what a fresh run with those settings gives; `calibrate` turns a labelled list of real
//! videos into a calibration set the budget engine accepts.

mod common;

use std::sync::atomic::AtomicBool;

use adalens::calibrate::calibrate;
use adalens::decision::{Criterion, PreparedCalibration};
use adalens::model::config::Knobs;
use adalens::model::load::{ConfigOverrides, LoadedModel};
use adalens::runner::{self, Input, Quiet, Session};
use adalens::video::Video;
use common::{make_video, model_fixture, open_model};

fn testsrc(dir: &std::path::Path, name: &str, seconds: &str) -> std::path::PathBuf {
    make_video(
        dir,
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
            "-t",
            seconds,
            "-pix_fmt",
            "yuv420p",
        ],
    )
}

#[test]
fn reruns_of_a_warm_analysis_equal_fresh_runs() {
    let dir = tempfile::tempdir().unwrap();
    let video = Video::open(testsrc(dir.path(), "a.mp4", "3")).unwrap();
    let ck = model_fixture("ada3d_focus_tiny.safetensors");
    let model = open_model(&ck);
    let mut warm = Session::new(&model, Input::plan(&video, &model).unwrap());
    let no = AtomicBool::new(false);
    for (tf, ts) in [(0.5, 0.5), (0.3, 0.7), (0.9, 0.1)] {
        let knobs = Knobs {
            frame_threshold: tf,
            stage_threshold: ts,
            max_cubes: None,
        };
        let ours = warm.run(&knobs, &no, &Quiet).unwrap().inspection.trace;
        let over = ConfigOverrides {
            frame_threshold: Some(tf),
            stage_threshold: Some(ts),
            ..Default::default()
        };
        let fresh_model = LoadedModel::open(&ck, None, &over, &candle_core::Device::Cpu).unwrap();
        let input = Input::plan(&video, &fresh_model).unwrap();
        let fresh = runner::inspect(&fresh_model, input).unwrap().trace;
        assert_eq!(ours.clips[0].frames, fresh.clips[0].frames, "τ {tf}/{ts}");
        assert_eq!(ours.clips[0].stages, fresh.clips[0].stages);
        assert_eq!(ours.clips[0].cubes, fresh.clips[0].cubes);
        assert_eq!(ours.clips[0].steps, fresh.clips[0].steps);
    }
    // A cube cap keeps the first cubes and their steps, and drops their compute.
    let all = warm.run(&model.config.knobs(), &no, &Quiet).unwrap();
    let capped = Knobs {
        max_cubes: Some(1),
        ..model.config.knobs()
    };
    let one = warm.run(&capped, &no, &Quiet).unwrap();
    let (a, o) = (
        &all.inspection.trace.clips[0],
        &one.inspection.trace.clips[0],
    );
    assert_eq!(o.cubes.len(), 1.min(a.cubes.len()));
    assert_eq!(o.steps.len(), o.cubes.len() + 1);
    assert_eq!(o.cubes[..], a.cubes[..o.cubes.len()]);
    assert_eq!(o.steps[..], a.steps[..o.steps.len()]);
    let spent =
        |r: &adalens::runner::AnalysisRun| r.breakdown.iter().map(|p| p.gflops).sum::<f64>();
    assert!(spent(&one) < spent(&all));
    let last = a.steps.last().unwrap().cumulative_gflops;
    assert!(
        (spent(&all) - last).abs() < 1e-9,
        "breakdown {} vs steps {last}",
        spent(&all)
    );
}

#[test]
fn calibrate_builds_a_set_the_budget_engine_takes_and_reports_bad_videos() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        testsrc(dir.path(), &format!("v{i}.mp4"), &format!("{}", i + 1));
    }
    std::fs::write(dir.path().join("broken.mp4"), b"not a video").unwrap();
    let list = dir.path().join("list.csv");
    std::fs::write(
        &list,
        "path,label\nv0.mp4,archery\nv1.mp4,1\nbroken.mp4,2\nv2.mp4,diving\nv3.mp4,nosuchclass\n",
    )
    .unwrap();
    let model = open_model(model_fixture("ada3d_focus_tiny.safetensors"));
    let entries = adalens::batch::entries(&list).unwrap();
    let parts = dir.path().join("calib.parts");
    let out = calibrate(&model, &entries, false, Some(&parts), &|_, _| {}).unwrap();
    // Resumable: every video that ran left its sample; a rerun takes them from there (the
    // videos themselves are gone) and builds the same set.
    let stored = std::fs::read_dir(&parts).unwrap().count();
    assert_eq!(stored, 3 + 1, "three samples and the settings");
    for i in 0..3 {
        std::fs::remove_file(dir.path().join(format!("v{i}.mp4"))).unwrap();
    }
    let again = calibrate(&model, &entries, false, Some(&parts), &|_, _| {}).unwrap();
    assert_eq!(again.set.to_bytes(), out.set.to_bytes());
    // Samples of another labelling are refused, not mixed in.
    assert!(calibrate(&model, &entries, true, Some(&parts), &|_, _| {}).is_err());
    assert_eq!(out.set.samples(), 3);
    assert_eq!(out.set.steps(), 4);
    assert_eq!(out.failed.len(), 2, "{:?}", out.failed);
    assert!(out
        .failed
        .iter()
        .any(|(p, why)| p.ends_with("broken.mp4") && !why.is_empty()));
    assert!(out
        .failed
        .iter()
        .any(|(_, why)| why.contains("nosuchclass")));
    let prep = PreparedCalibration::new(out.set).unwrap();
    let (lo, hi) = prep.fit_cost_range();
    assert!(lo > 0.0 && hi >= lo);
    prep.solve_budget(Criterion::Entropy, (lo + hi) / 2.0)
        .unwrap();
}

/// What a run told its observer: the clips in the order run, the decoding progress, and the
/// clips done in each partial run.
#[derive(Default)]
struct Recorder {
    clips: std::sync::Mutex<Vec<usize>>,
    /// The decoding progress reported.
    decoded: std::sync::Mutex<Vec<usize>>,
    /// The clips done (not pending) in each partial run delivered.
    partials: std::sync::Mutex<Vec<usize>>,
    /// Set once clip `cancel_after` is delivered (the window's cancel button between clips).
    cancel_after: Option<usize>,
    cancel: AtomicBool,
    /// The frame the viewer is at.
    focus: usize,
}

impl adalens::runner::Observer for Recorder {
    fn progress(&self, what: &str, done: usize, _: usize) {
        if what.starts_with("Decoding") {
            self.decoded.lock().unwrap().push(done);
        }
    }
    fn wants_partial(&self) -> bool {
        true
    }
    fn partial(&self, run: &adalens::AnalysisRun) {
        let trace = &run.inspection.trace;
        for &p in &run.pending {
            assert!(
                trace.clips[p].steps.is_empty(),
                "pending clip {p} has steps"
            );
        }
        self.partials
            .lock()
            .unwrap()
            .push(trace.clips.len() - run.pending.len());
    }
    fn clip(&self, index: usize, _: usize, clip: &adalens::ClipTrace) {
        assert!(
            !clip.steps.is_empty(),
            "clip {index} delivered without its steps"
        );
        self.clips.lock().unwrap().push(index);
        if self.cancel_after == Some(index) {
            self.cancel
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    fn focus(&self) -> usize {
        self.focus
    }
}

/// The runner streams clip by clip, stops between clips when cancelled and keeps what it
/// finished, resumes from there to the trace an uninterrupted run gives, and a re-run with
/// other knobs decodes nothing again.
#[test]
fn a_run_streams_clips_cancels_between_them_and_resumes_without_decoding_again() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The bundled checkpoint records its clip length: the demo video is four clips.
    let model = open_model(root.join("models/ada3d_focus_synth.safetensors"));
    let video = Video::open(root.join("assets/demo/synth/four_actions.mp4")).unwrap();
    let input = Input::plan(&video, &model).unwrap();
    let (clips, t) = (input.clips(), input.clip_len);
    assert_eq!(clips, 4, "the demo is four actions in a row");
    let mut session = Session::new(&model, input);
    let own = model.config.knobs();

    let first = Recorder {
        cancel_after: Some(1),
        ..Default::default()
    };
    let err = session
        .run(&own, &first.cancel, &first)
        .map(|_| ())
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(*first.clips.lock().unwrap(), [0, 1]);
    // A first run hands over the clips so far after each clip (what the window draws).
    assert_eq!(*first.partials.lock().unwrap(), [1, 2]);
    assert_eq!(session.warm_clips(), 2);
    assert_eq!(session.clips_done(&own), 2);
    // The decoding thread runs ahead of the model (one clip waiting, one in hand at most);
    // what it decoded is kept.
    assert!((2..=4).contains(&session.input.decoded_clips()));

    let second = Recorder::default();
    let run = session.run(&own, &second.cancel, &second).unwrap();
    // The finished clips are kept: only clips 2 and 3 run now, each decoded once in all.
    assert_eq!(*second.clips.lock().unwrap(), [2, 3]);
    assert_eq!(*second.partials.lock().unwrap(), [3]);
    assert!(run.pending.is_empty());
    assert_eq!(session.input.frames_decoded(), 4 * t);
    assert_eq!(
        (session.warm_clips(), session.input.decoded_clips()),
        (4, 4)
    );
    // Cancel and resume end where an uninterrupted run does.
    let whole =
        runner::run_video(&model, &video, &own, None, &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!(run.inspection.trace, whole.inspection.trace);

    // Running again with the same knobs computes nothing.
    let again = Recorder::default();
    session.run(&own, &again.cancel, &again).unwrap();
    assert!(again.clips.lock().unwrap().is_empty());

    let third = Recorder::default();
    let knobs = Knobs {
        frame_threshold: 0.1,
        ..own
    };
    let rerun = session.run(&knobs, &third.cancel, &third).unwrap();
    assert_eq!(*third.clips.lock().unwrap(), [0, 1, 2, 3]);
    // Every clip warm: a re-run is drawn when whole, and decodes nothing.
    assert!(third.partials.lock().unwrap().is_empty());
    assert_eq!(
        session.input.frames_decoded(),
        4 * t,
        "a re-run decoded frames again"
    );
    // And it is what a fresh run with those knobs computes.
    let fresh = runner::run_video(
        &model,
        &video,
        &knobs,
        None,
        &AtomicBool::new(false),
        &Quiet,
    )
    .unwrap();
    assert_eq!(rerun.inspection.trace.clips, fresh.inspection.trace.clips);
}

/// Clips run from the one the viewer is at onwards, then the ones before it; the partial runs
/// hold the clips not run yet as pending, and the finished trace is the same in any order.
#[test]
fn a_run_starts_at_the_clip_the_viewer_is_at() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = open_model(root.join("models/ada3d_focus_synth.safetensors"));
    let video = Video::open(root.join("assets/demo/synth/four_actions.mp4")).unwrap();
    let input = Input::plan(&video, &model).unwrap();
    let t = input.clip_len;
    let third_clip_frame = input.sampled.numbers[2 * t + 1];
    let mut session = Session::new(&model, input);
    let at_third = Recorder {
        focus: third_clip_frame,
        ..Default::default()
    };
    let run = session
        .run(&model.config.knobs(), &at_third.cancel, &at_third)
        .unwrap();
    assert_eq!(*at_third.clips.lock().unwrap(), [2, 3, 0, 1]);
    assert_eq!(*at_third.partials.lock().unwrap(), [1, 2, 3]);
    let whole = runner::run_video(
        &model,
        &video,
        &model.config.knobs(),
        None,
        &AtomicBool::new(false),
        &Quiet,
    )
    .unwrap();
    assert_eq!(run.inspection.trace, whole.inspection.trace);
}
