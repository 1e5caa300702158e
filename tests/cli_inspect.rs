//! `adalens inspect` and `adalens inspect-checkpoint` as a user runs them: the binary, real
//! files, exit codes and readable errors.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{model_fixture as fixture, uni_adafocus_input_file, uni_adafocus_io};

fn adalens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(args)
        .output()
        .expect("run adalens")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "adalens failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn inspect_checkpoint_reads_the_official_style_file() {
    let ck = fixture("uni_adafocus_tiny.pth.tar");
    let text = stdout(&adalens(&["inspect-checkpoint", path(&ck)]));
    for want in [
        "uni_adafocus",
        "global_CNN",
        "local_CNN",
        "spatial_policy",
        "GFLOPs after each step",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&stdout(&adalens(&[
        "inspect-checkpoint",
        path(&ck),
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["arch"], "uni_adafocus");
    assert_eq!(json["gflops_per_step"].as_array().unwrap().len(), 4);
    let params: u64 = json["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        params, 295_426,
        "parameters of the fixture (PyTorch: sum of p.numel())"
    );
}

#[test]
fn inspect_on_frames_prints_the_trace_and_raw_logits() {
    let dir = tempfile::tempdir().unwrap();
    // Frames from the fixture, normalised as the checkpoint expects.
    let io = uni_adafocus_io();
    let input = uni_adafocus_input_file(&io, 0, dir.path());
    let ck = fixture("uni_adafocus_tiny.pth.tar");
    let out = stdout(&adalens(&[
        "inspect",
        "--input",
        path(&input),
        "--checkpoint",
        path(&ck),
        "--json",
        "--raw",
    ]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let focus: Vec<i64> = io["focus_indices"].get(0).unwrap().to_vec1().unwrap();
    let got: Vec<i64> = json["raw"]["focus_indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(got, focus, "focus frames");
    let steps = json["trace"]["clips"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    assert_eq!(json["raw"]["step_logits"].as_array().unwrap().len(), 4);
    assert_eq!(
        json["trace"]["clips"][0]["cubes"].as_array().unwrap().len(),
        3
    );
    // PyTorch's step logits, within the float32 noise the parity test documents
    let want: Vec<Vec<f32>> = io["step_logits"].get(0).unwrap().to_vec2().unwrap();
    let scale = want.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    for (row, w) in json["raw"]["step_logits"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&want)
    {
        for (a, b) in row.as_array().unwrap().iter().zip(w) {
            let e = (a.as_f64().unwrap() as f32 - b).abs() / scale;
            assert!(e < 5e-4, "{a} vs {b}: {e:.1e} of the largest logit");
        }
    }
}

#[test]
fn inspect_runs_on_a_video() {
    let video = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo_testsrc_320x240.mp4");
    let ck = fixture("uni_adafocus_tiny.safetensors");
    let out = stdout(&adalens(&[
        "inspect",
        path(&video),
        "--checkpoint",
        path(&ck),
        "--json",
        "--raw",
    ]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let frames = json["trace"]["clips"][0]["frames"].as_array().unwrap();
    // 8 TSN centres of 300 frames: floor(37.5 · (i + ½))
    let numbers: Vec<u64> = frames
        .iter()
        .map(|f| f["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![18, 56, 93, 131, 168, 206, 243, 281]);
    // shorter side to 128·256/224 = 146 (320×240 → 194×146), centre crop 128 at (33, 9):
    // in display pixels x = 33·320/194, y = 9·240/146, w = 128·320/194, h = 128·240/146
    let rect: Vec<f64> = json["trace"]["input"]["source_rect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want = [
        33.0 * 320.0 / 194.0,
        9.0 * 240.0 / 146.0,
        128.0 * 320.0 / 194.0,
        128.0 * 240.0 / 146.0,
    ];
    for (a, b) in rect.iter().zip(want) {
        assert!((a - b).abs() < 1e-9, "{rect:?} vs {want:?}");
    }
}

#[test]
fn bad_checkpoints_get_readable_errors() {
    let video = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo_testsrc_320x240.mp4");
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("cut.pth.tar");
    let bytes = std::fs::read(fixture("uni_adafocus_tiny.pth.tar")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let missing = dir.path().join("nope.pth");
    for (ck, want) in [
        (fixture("evil.pth"), "refused"),
        (truncated, "cut.pth.tar"),
        (missing, "no such file"),
        (fixture("mobilenet_v2_w010.pth.tar"), "give --config"),
    ] {
        let o = adalens(&["inspect", path(&video), "--checkpoint", path(&ck)]);
        assert!(!o.status.success(), "{} was accepted", ck.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{}: {err}", ck.display());
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// The ada3d arch on a video: the test protocol's clips (uniform, stride 2 from the sidecar,
/// 3 clips from the flag), each with 8 frames and their m_t, 5 stages with n_k, one prediction;
/// a higher τ_f keeps no more frames than a lower one.
#[test]
fn inspect_runs_ada3d_on_a_video() {
    let video = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo_testsrc_320x240.mp4");
    let ck = fixture("ada3d_tiny.pyth");
    let kept_at = |tau: &str| -> (serde_json::Value, usize) {
        let out = stdout(&adalens(&[
            "inspect",
            path(&video),
            "--checkpoint",
            path(&ck),
            "--num-clips",
            "3",
            "--frame-threshold",
            tau,
            "--json",
            "--raw",
        ]));
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let kept = json["trace"]["clips"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["frames"].as_array().unwrap().clone())
            .filter(|f| f["kept"] == true)
            .count();
        (json, kept)
    };
    let (json, kept_low) = kept_at("0.3");
    let clips = json["trace"]["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 3);
    // 300 frames, clips of 8 at stride 2 (span 16): starts 0, 142, 284.
    let starts: Vec<u64> = clips
        .iter()
        .map(|c| c["frames"][0]["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, [0, 142, 284]);
    for c in clips {
        assert_eq!(c["frames"].as_array().unwrap().len(), 8);
        assert_eq!(c["stages"].as_array().unwrap().len(), 5);
        assert_eq!(c["steps"].as_array().unwrap().len(), 1);
        assert!(c["frames"][0]["keep_prob"].is_number());
    }
    assert_eq!(json["raw"]["clips"].as_array().unwrap().len(), 3);
    let (_, kept_high) = kept_at("0.9");
    assert!(
        kept_high <= kept_low && kept_high >= 3,
        "{kept_high} vs {kept_low}"
    );
}

/// A bare PySlowFast checkpoint: arch, K adaptive stages and the FLOPs table at 224².
#[test]
fn inspect_checkpoint_reads_a_pyslowfast_file() {
    let ck = fixture("resnet3d_slow_only_tiny.pyth");
    let out = stdout(&adalens(&["inspect-checkpoint", path(&ck), "--json"]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["arch"], "resnet3d");
    assert_eq!(json["config"]["backbone"]["preset"], "slow_only");
    assert_eq!(json["adaptive_stages"].as_array().unwrap().len(), 2);
    let rows = json["gflops"]["backbone_224"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let (a8, b8) = (
        rows[0]["all_3d"].as_f64().unwrap(),
        rows[0]["all_2d"].as_f64().unwrap(),
    );
    let a16 = rows[1]["all_3d"].as_f64().unwrap();
    assert!(b8 < a8 && (a16 - 2.0 * a8).abs() < 1e-3 * a8, "{rows:?}");
    let text = stdout(&adalens(&["inspect-checkpoint", path(&ck)]));
    assert!(
        text.contains("K = 2 adaptive stages: s4 (res4), s5 (res5)"),
        "{text}"
    );
}

/// The full model on a video: frames (m_t, kept, role), stages (n_k, 3D or 2D), cubes in
/// order (centre, T' frames that are all kept, box) and one step per cube after the glance.
#[test]
fn inspect_runs_ada3d_focus_on_a_video() {
    let video = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo_testsrc_320x240.mp4");
    let ck = fixture("ada3d_focus_tiny.safetensors");
    let out = stdout(&adalens(&[
        "inspect",
        path(&video),
        "--checkpoint",
        path(&ck),
        "--frame-threshold",
        "0.3",
        "--json",
        "--raw",
    ]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["trace"]["arch"], "ada3d_focus");
    let clip = &json["trace"]["clips"][0];
    let frames = clip["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 8);
    let kept: Vec<u64> = frames
        .iter()
        .filter(|f| f["kept"] == true)
        .map(|f| f["frame"].as_u64().unwrap())
        .collect();
    assert!(frames.iter().all(|f| f["keep_prob"].is_number()));
    assert_eq!(clip["stages"].as_array().unwrap().len(), 2);
    let cubes = clip["cubes"].as_array().unwrap();
    assert_eq!(cubes.len(), 3.min(kept.len()));
    for (k, c) in cubes.iter().enumerate() {
        assert_eq!(c["order"].as_u64(), Some(k as u64 + 1));
        assert_eq!(c["t"].as_u64(), Some(3.min(kept.len()) as u64));
        for f in c["frames"].as_array().unwrap() {
            assert!(
                kept.contains(&f.as_u64().unwrap()),
                "cube frame {f} not kept"
            );
        }
        assert_eq!(c["w"].as_u64(), Some(40));
    }
    let steps = clip["steps"].as_array().unwrap();
    assert_eq!(steps.len(), cubes.len() + 1);
    let g: Vec<f64> = steps
        .iter()
        .map(|s| s["cumulative_gflops"].as_f64().unwrap())
        .collect();
    assert!(g.windows(2).all(|w| w[1] > w[0]), "{g:?}");
    // The raw output has a run per clip: this short video is one.
    assert_eq!(json["raw"].as_array().unwrap().len(), 1);
    assert_eq!(
        json["raw"][0]["step_logits"].as_array().unwrap().len(),
        steps.len()
    );
}

/// A long file is numbered from its packets unless `--exact` decodes them all: then a packet
/// the decoder gives no picture for gets no frame number, as in the ffmpeg CLI, and stderr
/// says so.
#[test]
fn inspect_exact_numbers_a_long_damaged_file_as_the_cli_does() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("damaged.mp4");
    common::make_long_damaged_video(d.path(), &bad);
    let ck = fixture("uni_adafocus_tiny.safetensors");
    let frames_of = |extra: &[&str]| {
        let mut args = vec!["inspect", path(&bad), "--checkpoint", path(&ck), "--json"];
        args.extend_from_slice(extra);
        let o = adalens(&args);
        let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let count = json["video"]["frame_count"].as_u64().unwrap();
        (count, String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (packets, _) = frames_of(&[]);
    assert_eq!(packets, 160, "numbered from the packets");
    let (exact, err) = frames_of(&["--exact"]);
    assert_eq!(exact, 159, "as the CLI counts");
    assert!(err.contains("1 packet is too damaged"), "{err}");
}
