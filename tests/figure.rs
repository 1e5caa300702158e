//! Figures: the SVG's structure against a known trace (frame images, masks, cube boxes with
//! their coordinates, stage markers, plot points, the exit), PNG size and resolution, the PDF
//! opened by pdfinfo, and `adalens figure` end to end against `adalens inspect --json`.

mod common;

use std::path::Path;
use std::process::Command;

use adalens::decision::trace::{
    ClassProb, ClipTrace, Cube, DecisionTrace, ExitDecision, FrameDecision, FrameRole,
    InputGeometry, StageDecision, StepPrediction, VideoInfo, TRACE_VERSION,
};
use adalens::decision::Criterion;
use adalens::figure::{self, FigureOptions, Lane, Panel, PanelFrame, ONE_COLUMN_MM};
use adalens::video::RgbFrame;

/// 6 sampled frames of a 320×240 video (frames 1 and 4 discarded), 2 stages (the second 3D),
/// 3 cubes over frames, 4 steps, exit at step 2 with thresholds at steps 0–2.
fn known_trace() -> DecisionTrace {
    let frames = (0..6)
        .map(|i| FrameDecision {
            frame: i * 10,
            seconds: i as f64 * 0.4,
            keep_prob: Some(if i == 1 || i == 4 { 0.2 } else { 0.8 }),
            kept: !(i == 1 || i == 4),
            role: FrameRole::Glance,
            focus_weight: None,
        })
        .collect();
    let cube = |order: usize, frames: Vec<usize>, region: [f32; 4]| Cube {
        order,
        x: 0.5,
        y: 0.5,
        z: frames[0],
        w: 32,
        h: 32,
        t: frames.len() as u32,
        frames,
        region: Some(region),
    };
    let step = |k: usize, entropy: f32| StepPrediction {
        probs: None,
        step: k,
        top: vec![ClassProb {
            class: (k % 2) as u32,
            prob: 0.5 + 0.1 * k as f32,
        }],
        entropy,
        confidence: 0.5 + 0.1 * k as f32,
        cumulative_gflops: 1.0 + k as f64,
    };
    DecisionTrace {
        lanes: Vec::new(),
        version: TRACE_VERSION,
        arch: "ada3d_focus".into(),
        video: VideoInfo {
            path: "known.mp4".into(),
            frame_count: 60,
            fps: Some(25.0),
            width: 320,
            height: 240,
        },
        clips: vec![ClipTrace {
            lanes: Default::default(),
            frames,
            stages: vec![
                StageDecision {
                    prob: 0.3,
                    ran_3d: false,
                },
                StageDecision {
                    prob: 0.7,
                    ran_3d: true,
                },
            ],
            cubes: vec![
                // Model input 128×128 = the centre 240×240 of the picture (x from 40).
                cube(1, vec![0, 20], [0.0, 0.0, 64.0, 64.0]),
                cube(2, vec![20, 30], [32.0, 64.0, 96.0, 128.0]),
                // Reaches past the input: the box is clamped to the frame.
                cube(3, vec![50], [-40.0, 100.0, 60.0, 160.0]),
            ],
            steps: vec![step(0, 1.5), step(1, 1.0), step(2, 0.4), step(3, 0.2)],
            exit: Some(ExitDecision {
                criterion: Criterion::Entropy,
                thresholds: vec![Some(1.2), Some(0.9), Some(0.5), None],
                exit_step: 2,
                gflops: 3.0,
                budget: Some(3.5),
            }),
        }],
        video_prediction: vec![],
        class_names: vec!["archery".into(), "diving".into(), "fencing".into()],
        input: Some(InputGeometry {
            width: 128,
            height: 128,
            source_rect: [40.0, 0.0, 240.0, 240.0],
        }),
    }
}

fn panel(trace: DecisionTrace) -> Panel {
    let frames = trace.clips[0]
        .frames
        .iter()
        .map(|f| PanelFrame {
            frame: f.frame,
            image: Some(RgbFrame {
                width: 32,
                height: 24,
                data: vec![(f.frame * 4) as u8; 32 * 24 * 3],
            }),
        })
        .collect();
    Panel {
        trace,
        clip: 0,
        frames,
        label: Some("known".into()),
        knobs: None,
        differs: None,
    }
}

/// Elements whose id starts with `prefix`, with their attributes.
fn with_id<'a>(doc: &'a roxmltree::Document, prefix: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.attribute("id").is_some_and(|i| i.starts_with(prefix)))
        .collect()
}

fn f(n: &roxmltree::Node, a: &str) -> f64 {
    n.attribute(a).unwrap().parse().unwrap()
}

#[test]
fn svg_structure_matches_the_trace() {
    let opts = FigureOptions {
        frames_per_row: Some(3),
        caption: Some("A caption".into()),
        ..FigureOptions::default()
    };
    let svg = figure::render_svg(&[panel(known_trace())], &opts);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(with_id(&doc, "image-0-").len(), 6, "one image per frame");
    assert!(with_id(&doc, "image-0-")
        .iter()
        .all(|n| n.tag_name().name() == "image"
            && n.attribute(("http://www.w3.org/1999/xlink", "href"))
                .unwrap()
                .starts_with("data:image/jpeg;base64,")));
    let masks: Vec<String> = with_id(&doc, "mask-0-")
        .iter()
        .map(|n| n.attribute("id").unwrap().to_string())
        .collect();
    assert_eq!(masks, ["mask-0-1", "mask-0-4"], "the discarded frames");
    assert_eq!(with_id(&doc, "stage-0-").len(), 2);
    assert_eq!(with_id(&doc, "point-0-").len(), 4, "one point per step");
    assert_eq!(with_id(&doc, "threshold-0-").len(), 3, "finite η_t only");
    assert_eq!(with_id(&doc, "prediction-0-").len(), 4);
    assert_eq!(with_id(&doc, "gflops-step-0-").len(), 4);
    assert_eq!(with_id(&doc, "budget-0").len(), 1);
    assert_eq!(with_id(&doc, "caption").len(), 1);
    // Points after the exit are hollow, up to it filled.
    let fills: Vec<&str> = with_id(&doc, "point-0-")
        .iter()
        .map(|n| n.attribute("fill").unwrap())
        .collect();
    assert_eq!(fills[2], fills[0]);
    assert_ne!(fills[3], fills[0]);
    // The exit line passes through the exit step's point.
    let exit = &with_id(&doc, "exit-0")[0];
    let p2 = &with_id(&doc, "point-0-2")[0];
    assert_eq!(f(exit, "x1"), f(p2, "cx"));

    // Cubes up to the exit step, on every frame they cover: cube 1 on frames 0 and 20
    // (shown 0 and 2), cube 2 on 20 and 30 (2 and 3); cube 3 is after the exit.
    let ids: Vec<String> = with_id(&doc, "cube-0-")
        .iter()
        .map(|n| n.attribute("id").unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        ["cube-0-1-0", "cube-0-1-2", "cube-0-2-2", "cube-0-2-3"]
    );
    // Coordinates: layout of 3 per row in 174 mm, margins 3, gap 1.2.
    let fw = (ONE_COLUMN_MM.max(174.0) - 6.0 - 2.0 * 1.2) / 3.0;
    let fh = fw * 0.75;
    let frame0 = &with_id(&doc, "image-0-0")[0];
    assert!((f(frame0, "width") - fw).abs() < 1e-3);
    assert!((f(frame0, "height") - fh).abs() < 1e-3);
    let (x0, y0) = (f(frame0, "x"), f(frame0, "y"));
    // Cube 1: input (0,0)-(64,64) → display (40,0)-(160,120) of 320×240.
    let c = &with_id(&doc, "cube-0-1-0")[0];
    let near = |a: f64, b: f64| (a - b).abs() < 2e-3;
    assert!(near(f(c, "x"), x0 + 40.0 / 320.0 * fw), "{svg}");
    assert!(near(f(c, "y"), y0));
    assert!(near(f(c, "width"), 120.0 / 320.0 * fw));
    assert!(near(f(c, "height"), 120.0 / 240.0 * fh));
    // Cube 2 on frame 30 (row 1, column 0).
    let frame3 = &with_id(&doc, "image-0-3")[0];
    let c = &with_id(&doc, "cube-0-2-3")[0];
    assert!(near(f(c, "x"), f(frame3, "x") + 100.0 / 320.0 * fw));
    assert!(near(f(c, "y"), f(frame3, "y") + 120.0 / 240.0 * fh));

    // With the cubes after the exit: cube 3 appears, dashed, clamped to its frame (index 5).
    let opts = FigureOptions {
        after_exit: true,
        frames_per_row: Some(3),
        ..FigureOptions::default()
    };
    let svg = figure::render_svg(&[panel(known_trace())], &opts);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let c3 = &with_id(&doc, "cube-0-3-5")[0];
    assert!(c3.attribute("stroke-dasharray").is_some());
    let frame5 = &with_id(&doc, "image-0-5")[0];
    // Input x −40 → display −35 → clamped to the frame's left edge; y 160 → 300 → bottom.
    assert!(near(f(c3, "x"), f(frame5, "x")));
    assert!(near(f(c3, "y") + f(c3, "height"), f(frame5, "y") + fh));

    // Lanes left out are not drawn; the text-as-paths SVG keeps every id.
    let opts = FigureOptions {
        lanes: vec![Lane::Frames, Lane::Entropy],
        ..FigureOptions::default()
    };
    let svg = figure::render_svg(&[panel(known_trace()), panel(known_trace())], &opts);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(with_id(&doc, "cube-").is_empty());
    assert!(with_id(&doc, "stage-").is_empty());
    assert!(with_id(&doc, "prediction-").is_empty());
    assert_eq!(with_id(&doc, "image-1-").len(), 6, "second panel");
    let paths = figure::svg_with_paths(&svg).unwrap();
    let pdoc = roxmltree::Document::parse(&paths).unwrap();
    assert!(pdoc.descendants().all(|n| n.tag_name().name() != "text"));
    for prefix in [
        "image-0-",
        "image-1-",
        "mask-1-",
        "point-1-",
        "threshold-0-",
    ] {
        assert_eq!(
            with_id(&pdoc, prefix).len(),
            with_id(&doc, prefix).len(),
            "{prefix} after text to paths"
        );
    }
}

#[test]
fn png_has_the_requested_size_and_pdf_opens() {
    let dir = tempfile::tempdir().unwrap();
    let opts = FigureOptions {
        width_mm: ONE_COLUMN_MM,
        theme: figure::Theme::Dark,
        ..FigureOptions::default()
    };
    let svg = figure::render_svg(&[panel(known_trace())], &opts);
    let height_mm: f64 = {
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let h = doc.root_element().attribute("height").unwrap();
        h.trim_end_matches("mm").parse().unwrap()
    };
    let png = dir.path().join("f.png");
    let out = figure::OutputOptions {
        dpi: 150.0,
        svg_text: false,
    };
    figure::save(&svg, &png, &out).unwrap();
    let img = image::open(&png).unwrap();
    let px = |mm: f64| (mm / 25.4 * 150.0).round() as u32;
    assert_eq!(img.width(), px(ONE_COLUMN_MM));
    assert_eq!(img.height(), px(height_mm));
    // The dark background is painted and the resolution is stored (pHYs, pixels per metre).
    let rgba = img.to_rgba8();
    assert_eq!(rgba.get_pixel(1, 1).0, [0x1b, 0x1b, 0x1f, 255]);
    let bytes = std::fs::read(&png).unwrap();
    let at = bytes.windows(4).position(|w| w == b"pHYs").unwrap();
    let ppm = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().unwrap());
    assert_eq!(ppm, (150.0f64 / 0.0254).round() as u32);

    let pdf = dir.path().join("f.pdf");
    figure::save(&svg, &pdf, &out).unwrap();
    let info = Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let text = String::from_utf8_lossy(&info.stdout);
    let pages = text.lines().find(|l| l.starts_with("Pages:")).unwrap();
    assert_eq!(pages.split_whitespace().nth(1), Some("1"), "{text}");
    let size = text.lines().find(|l| l.starts_with("Page size:")).unwrap();
    let pts: Vec<f64> = size
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!((pts[0] - ONE_COLUMN_MM / 25.4 * 72.0).abs() < 0.5, "{size}");
    assert!((pts[1] - height_mm / 25.4 * 72.0).abs() < 0.5, "{size}");
    // Fonts are embedded: the PDF does not depend on the reader's fonts.
    let fonts = Command::new("pdffonts").arg(&pdf).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("DejaVuSans"), "{fonts}");

    assert!(figure::save(&svg, &dir.path().join("f.jpg"), &out).is_err());
    assert!(!dir.path().join("f.jpg").exists());
}

fn adalens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(args)
        .output()
        .expect("run adalens")
}

#[test]
fn figure_command_draws_what_inspect_reports() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = root.join("assets/demo/demo_testsrc_320x240.mp4");
    let other = common::make_video(
        dir.path(),
        "motion.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=240x180:rate=25:duration=3",
        ],
    );
    let ck = root.join("models/demo/ada3d_focus_untrained.safetensors");
    let (demo, other, ck) = (
        demo.to_str().unwrap(),
        other.to_str().unwrap(),
        ck.to_str().unwrap(),
    );
    let svg_path = dir.path().join("grid.svg");
    let out = adalens(&[
        "figure",
        demo,
        "--grid",
        other,
        "--labels",
        "static,motion",
        "--checkpoint",
        ck,
        "--after-exit",
        "--svg-text",
        "--budget",
        "0.013",
        "-o",
        svg_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    for (p, video) in [demo, other].iter().enumerate() {
        let out = adalens(&["inspect", video, "--checkpoint", ck, "--json"]);
        assert!(out.status.success());
        let trace = DecisionTrace::from_json(&String::from_utf8_lossy(&out.stdout)).unwrap();
        common::assert_figure_panel(&svg, p, &trace.clips[0]);
    }
    let title = &with_id(&doc, "title-1")[0];
    assert_eq!(title.text(), Some("motion — motion.mp4"));

    // Readable errors: an unknown extension, a missing video, a budget without calibration.
    let bad = adalens(&["figure", demo, "--checkpoint", ck, "-o", "x.gif"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains(".svg, .png or .pdf"));
    let bad = adalens(&["figure", "/no/such.mp4", "--checkpoint", ck, "-o", "x.svg"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/no/such.mp4"));
    let lonely = dir.path().join("ck.safetensors");
    std::fs::copy(ck, &lonely).unwrap();
    std::fs::copy(
        root.join("models/demo/ada3d_focus_untrained.json"),
        dir.path().join("ck.json"),
    )
    .unwrap();
    let bad = adalens(&[
        "figure",
        demo,
        "--checkpoint",
        lonely.to_str().unwrap(),
        "--budget",
        "0.01",
        "-o",
        "x.svg",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("needs a calibration set"));
}
