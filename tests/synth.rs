//! `adalens synth` as a user runs it: real H.264 files that FFmpeg decodes back to what was
//! rendered, balanced labels, per-frame target boxes that match the pictures, motion targets
//! that move the way their class says, resumable and deterministic.

mod common;

use std::path::Path;
use std::process::Command;

use adalens::synth::{self, Family, Split, SynthSpec, CLASSES};
use adalens::video::{Resize, Video};

fn adalens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(args)
        .output()
        .expect("run adalens")
}

fn synth_into(out: &Path) -> std::process::Output {
    adalens(&[
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "5",
        "--train",
        "16",
        "--calib",
        "8",
        "--test",
        "8",
        "--frames",
        "12",
        "--size",
        "96x64",
        "--jobs",
        "2",
    ])
}

#[test]
fn benchmark_files_decode_to_their_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let o = synth_into(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spec = SynthSpec {
        width: 96,
        height: 64,
        frames: 12,
        fps: 12,
    };

    let csv = std::fs::read_to_string(out.join("train.csv")).unwrap();
    let rows: Vec<(&str, &str)> = csv
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap())
        .collect();
    assert_eq!(rows.len(), 16);
    for c in CLASSES {
        assert_eq!(rows.iter().filter(|r| r.1 == c).count(), 2, "{c}: balanced");
    }
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("test_boxes.json")).unwrap())
            .unwrap();
    assert_eq!(truth.as_object().unwrap().len(), 8);

    for (i, (rel, label)) in rows.iter().enumerate().take(8) {
        let video = Video::open(out.join(rel)).unwrap();
        assert_eq!(video.frame_count(), 12, "{rel}");
        let p = video.probe();
        assert_eq!((p.display_width, p.display_height), (96, 64));
        assert_eq!(p.codec, "h264");
        let rendered = synth::render(5, Split::Train, i, &spec);
        assert_eq!(CLASSES[rendered.class], *label);
        let decoded = video.frames(&[0, 6, 11], Resize::Native).unwrap().frames;
        for (d, t) in decoded.iter().zip([0, 6, 11]) {
            let r = &rendered.frames[t];
            let mad: f64 = d
                .data
                .iter()
                .zip(&r.data)
                .map(|(a, b)| (*a as f64 - *b as f64).abs())
                .sum::<f64>()
                / r.data.len() as f64;
            assert!(
                mad < 6.0,
                "{rel} frame {t}: mean abs diff {mad:.2} from the render"
            );
        }
        let b = &rendered.boxes;
        let area = (b[0][2] - b[0][0]) * (b[0][3] - b[0][1]);
        assert!(area <= 96.0 * 64.0 / 16.0, "target covers {area} px²");
        for bx in b {
            assert!(bx[0] >= -1e-3 && bx[1] >= -1e-3 && bx[2] <= 96.001 && bx[3] <= 64.001);
        }
        let (dx, dy) = (b[11][0] - b[0][0], b[11][1] - b[0][1]);
        let side = b[0][2] - b[0][0];
        match synth::family(rendered.class) {
            // Appearance targets drift less than half their size over the video; their colour
            // is at the box centre of the decoded frame.
            Family::Appearance => {
                assert!(dx.hypot(dy) < side * 0.7, "{rel}: drift {dx},{dy}");
                let d = &decoded[1];
                let (cx, cy) = ((b[6][0] + b[6][2]) / 2.0, (b[6][1] + b[6][3]) / 2.0);
                let px = d.pixel(cx as u32, (cy + side * 0.2) as u32);
                let want =
                    [[220, 30, 30], [30, 200, 40], [40, 70, 235], [240, 220, 20]][rendered.class];
                if rendered.class != 3 {
                    // (The ring's centre is background.)
                    let err: i32 = px
                        .iter()
                        .zip(want)
                        .map(|(a, b)| (*a as i32 - b).abs())
                        .sum();
                    assert!(err < 90, "{rel}: {px:?} at the target, want {want:?}");
                }
            }
            // Motion targets cross a good part of the frame in their class's direction.
            Family::Motion => {
                let (along, across) = match CLASSES[rendered.class] {
                    "moves_right" => (dx, dy),
                    "moves_left" => (-dx, dy),
                    "moves_down" => (dy, dx),
                    _ => (-dy, dx),
                };
                assert!(along > side, "{rel}: moved {along} along its direction");
                assert!(across.abs() < 1e-3);
            }
        }
    }

    // Resumable: a rerun keeps the videos; the same settings into another folder give the same
    // bytes; other settings into this folder are refused.
    let first = out.join(rows[0].0);
    let mtime = std::fs::metadata(&first).unwrap().modified().unwrap();
    assert!(synth_into(&out).status.success());
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        mtime
    );
    let again = dir.path().join("again");
    assert!(synth_into(&again).status.success());
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(again.join(rows[0].0)).unwrap(),
        "same seed, same bytes"
    );
    let o = adalens(&[
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "6",
        "--train",
        "1",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("other settings"));
}

#[test]
fn train_refuses_bad_settings_and_missing_data_readably() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ck.safetensors");
    let missing = dir.path().join("no_such_folder");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            missing.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = adalens(&args);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    assert!(run(&["--cube-sigma=-0.5"]).contains("--cube-sigma -0.5: must be 0 or more"));
    assert!(run(&[]).contains("no_such_folder"));
    assert!(!out.exists());
}

/// The planes the ffmpeg CLI decodes from `path` (YUV 4:2:0, every frame in decode order).
fn cli_yuv(path: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args([
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ])
        .output()
        .expect("ffmpeg CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A benchmark made from one seed must be the same on every machine, but x264 and swscale pick
/// SIMD kernels by CPU, and some of them round differently (x264's AVX macroblock-tree cost
/// changed this very video on an AVX2 CPU). So the encode of a rendered benchmark video must
/// decode to exactly what the ffmpeg CLI gives with every SIMD path off (FFmpeg's `-cpuflags 0`,
/// x264's `asm=0`): what any CPU gives.
#[test]
fn benchmark_encoding_does_not_depend_on_the_cpu() {
    let spec = SynthSpec {
        width: 160,
        height: 120,
        frames: 32,
        fps: 12,
    };
    let video = synth::render(0, Split::Test, 15, &spec);
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.mp4");
    adalens::video::write_h264(&ours, &video.frames, spec.fps, 18).unwrap();

    let raw = dir.path().join("frames.rgb");
    let bytes: Vec<u8> = video.frames.iter().flat_map(|f| f.data.clone()).collect();
    std::fs::write(&raw, bytes).unwrap();
    let reference = dir.path().join("simd_free.mp4");
    common::ffmpeg(&[
        "-cpuflags",
        "0",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        "160x120",
        "-r",
        "12",
        "-i",
        raw.to_str().unwrap(),
        "-sws_flags",
        "bicubic+accurate_rnd+bitexact",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-threads",
        "1",
        "-x264-params",
        "asm=0",
        reference.to_str().unwrap(),
    ]);
    let (a, b) = (cli_yuv(&ours), cli_yuv(&reference));
    assert_eq!(a.len(), 32 * 160 * 120 * 3 / 2);
    assert!(
        a == b,
        "the benchmark's encode differs from the SIMD-free encode"
    );
}
