//! Frame time of the window with the demo loaded and every lane, the viewer, the side panel and
//! the 3D view visible, and the time from a budget-slider move to the redrawn overlays; then the
//! same UI pass with a 10-minute video of 225 clips loaded (made with the ffmpeg CLI at 160×120,
//! so the run takes seconds), at whole-video zoom (the clips' summary) and zoomed in. Runs the
//! real app in egui_kittest with the wgpu renderer (Mesa's software Vulkan on a machine without
//! a GPU), and a what-if edit until its run is drawn. `cargo bench --bench window`; results in
//! BENCHMARKS.md.

use std::time::{Duration, Instant};

use adalens::app::{AdalensApp, Launch};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

fn stats(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:<44} n={:<4} median {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        ms.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
}

/// `cargo bench --bench window [-- demo|long|dataset]`: all sections, or the ones named.
fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if run("demo") {
        demo();
    }
    if run("long") {
        long_video();
    }
    if run("dataset") {
        dataset();
    }
}

/// The dataset view's UI pass on a 25,000-video run: scrolling, and a budget move that
/// re-decides every video. The run is `adalens bench dataset`'s synthetic one, made from a real
/// batch run of the bundled checkpoint over the demo's videos.
fn dataset() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let synth = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/synth");
    let mut list = String::from("path,label\n");
    for c in ["red_disc", "green_square", "moves_up", "moves_left"] {
        list.push_str(&format!(
            "{},{c}\n",
            synth.join(format!("{c}.mp4")).display()
        ));
    }
    std::fs::write(dir.path().join("list.csv"), list).expect("list");
    let (small, big) = (dir.path().join("small"), dir.path().join("big"));
    let adalens = |args: &[&std::ffi::OsStr]| {
        let ok = std::process::Command::new(env!("CARGO_BIN_EXE_adalens"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("adalens");
        assert!(ok.success());
    };
    let checkpoint = adalens::app::bundled(adalens::app::DEMO_CHECKPOINT);
    adalens(&[
        "batch".as_ref(),
        dir.path().join("list.csv").as_os_str(),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--out".as_ref(),
        small.as_os_str(),
    ]);
    adalens(&[
        "bench".as_ref(),
        "dataset".as_ref(),
        "--from".as_ref(),
        small.as_os_str(),
        "--out".as_ref(),
        big.as_os_str(),
        "--repeat".as_ref(),
        "1".as_ref(),
    ]);
    let launch = Launch {
        run: Some(big),
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .wgpu()
        .build_eframe(move |cc| AdalensApp::new(cc, launch));
    let start = Instant::now();
    let open = loop {
        h.step();
        if h.state().is_idle()
            && h.state()
                .dataset
                .as_ref()
                .is_some_and(|d| matches!(d.exits, adalens::batch::table::Exits::Rule(_)))
        {
            break start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(1));
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run did not open"
        );
    };
    println!(
        "{:<44} {:.0} ms (window started, run read, checkpoint loaded, exits decided)",
        "dataset view, 25,000 videos: open",
        open.as_secs_f64() * 1e3
    );
    for _ in 0..10 {
        h.step();
    }
    let mut scroll = Vec::new();
    for i in 0..300 {
        if let Some(d) = &mut h.state_mut().dataset {
            d.scroll_to = Some((i * 997 % 25_000) as f32 * 30.0);
        }
        let t = Instant::now();
        h.step();
        scroll.push(t.elapsed().as_secs_f64() * 1e3);
    }
    stats("UI pass, 25,000-video run, scrolling", scroll);
    let range = h
        .state()
        .model
        .as_ref()
        .and_then(|m| m.budget.as_ref())
        .map(|b| b.range)
        .expect("the calibration set");
    let mut moves = Vec::new();
    for i in 0..100 {
        let f = (i % 10) as f64 / 9.0;
        h.state_mut().state.sliders.budget = Some(range.0 + f * (range.1 - range.0));
        let t = Instant::now();
        h.step();
        moves.push(t.elapsed().as_secs_f64() * 1e3);
    }
    stats("UI pass, 25,000-video run, budget move", moves);
}

/// The UI pass with 225 clips loaded, at whole-video zoom and zoomed in on a few clips.
fn long_video() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("ten_minutes.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
        ])
        .args([
            "-t", "600", "-c:v", "libx264", "-g", "250", "-pix_fmt", "yuv420p",
        ])
        .arg(&path)
        .status()
        .expect("the ffmpeg CLI");
    assert!(made.success());
    let launch = Launch {
        video: Some(path),
        checkpoint: Some(adalens::app::bundled(adalens::app::DEMO_CHECKPOINT)),
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .wgpu()
        .build_eframe(move |cc| AdalensApp::new(cc, launch));
    let start = Instant::now();
    while !(h.state().is_idle()
        && h.state()
            .decisions
            .as_ref()
            .is_some_and(|d| d.pending.is_empty()))
    {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the long video did not load"
        );
    }
    let clips = h
        .state()
        .decisions
        .as_ref()
        .map_or(0, |d| d.trace.clips.len());
    for (what, view) in [
        ("whole video, summary", None),
        (
            "zoomed in on 4 clips",
            Some(adalens::app::TimeView {
                start: 6000.0,
                end: 6267.0,
            }),
        ),
    ] {
        h.state_mut().time_view = view;
        for _ in 0..10 {
            h.step();
        }
        let mut ui = Vec::new();
        for i in 0..300 {
            h.state_mut()
                .push(adalens::app::Command::Step(if i % 2 == 0 { 1 } else { -1 }));
            let t = Instant::now();
            h.step();
            ui.push(t.elapsed().as_secs_f64() * 1e3);
        }
        stats(&format!("UI pass, {clips} clips, {what}"), ui);
    }
}

fn demo() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .wgpu()
        .build_eframe(|cc| AdalensApp::new(cc, Launch::demo()));
    let start = Instant::now();
    while !(h.state().is_idle()
        && h.state().decisions.is_some()
        && h.state()
            .loaded
            .as_ref()
            .is_some_and(|l| l.frame_texture.is_some()))
    {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "demo did not load"
        );
    }
    for _ in 0..10 {
        h.step();
    }
    let frames = 300;
    let mut ui = Vec::new();
    let mut full = Vec::new();
    for i in 0..frames {
        // Move the playhead so every frame has new work (the viewer, the lanes' playhead).
        h.state_mut()
            .push(adalens::app::Command::Step(if i % 2 == 0 { 1 } else { -1 }));
        let t = Instant::now();
        h.step();
        ui.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        h.step();
        h.render().expect("render");
        full.push(t.elapsed().as_secs_f64() * 1e3);
    }
    stats("UI pass (logic + ui, no tessellation)", ui);
    stats("whole frame (UI pass + wgpu render, readback)", full);

    let (lo, hi) = h
        .state()
        .model
        .as_ref()
        .unwrap()
        .budget
        .as_ref()
        .unwrap()
        .range;
    let mut moves = Vec::new();
    for i in 0..100 {
        let b = if i % 2 == 0 { lo } else { hi };
        let t = Instant::now();
        h.get_by_role_and_label(egui::Role::Slider, "Budget (GFLOPs / video)")
            .set_value_accesskit(b);
        // One frame: the slider takes the value, the exits are re-marked and the pass is redone
        // so every overlay is drawn from them.
        h.step();
        moves.push(t.elapsed().as_secs_f64() * 1e3);
    }
    stats("budget slider move -> overlays redrawn", moves);

    // What-if: a cube moved (as a drag on the viewer ends), until the edited run is drawn as B
    // (the worker re-runs the clip on the warm session; the frame after it arrives draws it).
    let clip = 1;
    let mut edits = Vec::new();
    for i in 0..40 {
        let t = Instant::now();
        h.state_mut().push(adalens::app::Command::WhatIf {
            clip,
            edit: adalens::runner::Edit::MoveCube {
                order: 1,
                x: 30.0 + (i % 5) as f32 * 10.0,
                y: 30.0 + (i % 7) as f32 * 8.0,
            },
        });
        let done = |a: &AdalensApp| {
            a.compare.as_ref().is_some_and(|c| {
                c.edits
                    .get(&clip)
                    .is_some_and(|e| e.trace.is_some() && e.ran_edits.len() == e.edits.len())
                    && c.decisions.is_some()
            }) && a.is_idle()
        };
        h.step();
        while !done(h.state()) {
            std::thread::sleep(Duration::from_micros(200));
            h.step();
        }
        h.step();
        edits.push(t.elapsed().as_secs_f64() * 1e3);
    }
    stats("what-if edit -> edited run drawn as B", edits);
}
