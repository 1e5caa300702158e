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
