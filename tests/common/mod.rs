//! Helpers for tests: the real videos in tests/fixtures/videos, videos made with the ffmpeg CLI, and
//! the ffmpeg CLI's own decode of a frame number as the reference.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Real camera footage committed in the repository (tests/fixtures/videos, see its NOTICE).
/// Tests that need it fail loudly when it is missing rather than pass without checking anything.
pub fn real_video(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/videos")
        .join(name);
    assert!(p.exists(), "real test footage missing: {}", p.display());
    p
}

/// Run the ffmpeg CLI; panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg CLI not installed (scripts/bootstrap installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Make a video with the ffmpeg CLI from `args` (inputs and options), written to `dir/name`.
/// A 96 s, 160×120 H.264 video (36 clips of the demo checkpoint), `long.mp4` in `dir`.
pub fn make_long_video(dir: &Path) -> PathBuf {
    make_video(
        dir,
        "long.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
            "-t",
            "96",
            "-c:v",
            "libx264",
            "-g",
            "250",
            "-pix_fmt",
            "yuv420p",
        ],
    )
}

pub fn make_video(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut a: Vec<&str> = args.to_vec();
    let s = out.to_str().expect("utf-8 temp path");
    a.push(s);
    ffmpeg(&a);
    out
}

/// What the ffmpeg CLI decodes as frame number `n` (display order), after `extra` filters,
/// as RGB24 of `w`×`h`.
pub fn cli_frame(path: &Path, n: usize, extra: &str, w: u32, h: u32) -> Vec<u8> {
    let vf = if extra.is_empty() {
        format!("select=eq(n\\,{n})")
    } else {
        format!("select=eq(n\\,{n}),{extra}")
    };
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args([
            "-vf",
            &vf,
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .expect("ffmpeg CLI");
    assert!(
        out.status.success(),
        "ffmpeg reference for frame {n} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout.len(),
        (w * h * 3) as usize,
        "ffmpeg reference frame {n} of {} has {} bytes, expected {w}×{h}×3",
        path.display(),
        out.stdout.len()
    );
    out.stdout
}

/// Frames decoded by the ffmpeg CLI (counting every frame it outputs).
pub fn cli_frame_count(path: &Path) -> usize {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    // MPEG-TS lists the stream once per program: take the first line.
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    first
        .trim_end_matches(',')
        .parse()
        .unwrap_or_else(|_| panic!("frame count from ffprobe: {text:?}"))
}

/// Largest per-channel difference and how many bytes differ.
pub fn diff(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len(), "pictures differ in size");
    let mut max = 0u8;
    let mut count = 0;
    for (x, y) in a.iter().zip(b) {
        let d = x.abs_diff(*y);
        if d > 0 {
            count += 1;
            max = max.max(d);
        }
    }
    (max, count)
}

/// Assert our frame equals the CLI's within one level (swscale rounding), naming the frame.
pub fn assert_same_picture(ours: &[u8], cli: &[u8], what: &str) {
    let (max, count) = diff(ours, cli);
    assert!(
        max <= 1,
        "{what}: differs from the ffmpeg CLI by up to {max} levels in {count} of {} bytes",
        ours.len()
    );
}

/// Mean absolute difference, to tell "a different frame" from "the same frame".
pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y) as f64)
        .sum::<f64>()
        / a.len().max(1) as f64
}

/// A file from tests/fixtures/model (made by scripts/make_model_fixtures.py).
pub fn model_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/model")
        .join(name)
}

/// The device the parity tests run on: the CPU, or with `ADALENS_TEST_DEVICE=cuda` (a
/// `--features cuda` build; scripts/gpu_check.sh) the first CUDA GPU, with the same bounds.
/// Anything else, or a GPU that does not answer, fails the test rather than quietly using the CPU.
pub fn device() -> candle_core::Device {
    static DEVICE: std::sync::OnceLock<candle_core::Device> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| match std::env::var("ADALENS_TEST_DEVICE").as_deref() {
            Err(_) | Ok("") | Ok("cpu") => candle_core::Device::Cpu,
            Ok("cuda") => candle_core::Device::new_cuda(0)
                .unwrap_or_else(|e| panic!("ADALENS_TEST_DEVICE=cuda but no CUDA device: {e}")),
            Ok(other) => panic!("ADALENS_TEST_DEVICE={other}: expected cpu or cuda"),
        })
        .clone()
}

/// A checkpoint opened on the test device with its own config (sidecar, metadata or weights);
/// panics with the loader's message.
pub fn open_model(path: impl AsRef<Path>) -> adalens::model::load::LoadedModel {
    let over = adalens::model::load::ConfigOverrides::default();
    adalens::model::load::LoadedModel::open(path, None, &over, &device())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Largest absolute element of a tensor (read back to the CPU first).
pub fn max_abs(t: &candle_core::Tensor) -> f32 {
    t.to_device(&candle_core::Device::Cpu)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// Largest absolute difference relative to the reference's largest magnitude.
pub fn max_rel_err(ours: &candle_core::Tensor, reference: &candle_core::Tensor) -> f32 {
    assert_eq!(ours.dims(), reference.dims(), "shapes differ");
    let cpu = |t: &candle_core::Tensor| t.to_device(&candle_core::Device::Cpu).unwrap();
    let (ours, reference) = (cpu(ours), cpu(reference));
    max_abs(&(&ours - &reference).unwrap()) / max_abs(&reference).max(1e-12)
}

/// Asserts `ours` is within 1e-4 relative error of `reference` (the parity bound), naming `what`.
pub fn assert_close(what: &str, ours: &candle_core::Tensor, reference: &candle_core::Tensor) {
    let e = max_rel_err(ours, reference);
    assert!(e < 1e-4, "{what}: relative error {e:.2e}");
}

/// The tensors of the whole-model fixture (scripts/make_uni_adafocus_fixture.py).
pub fn uni_adafocus_io() -> std::collections::HashMap<String, candle_core::Tensor> {
    candle_core::safetensors::load(model_fixture("uni_adafocus_tiny_io.safetensors"), &device())
        .unwrap()
}

/// Video `b` of that fixture as RGB frames (the fixture stores T×3×S×S bytes).
pub fn uni_adafocus_rgb_frames(
    io: &std::collections::HashMap<String, candle_core::Tensor>,
    b: usize,
) -> Vec<adalens::video::RgbFrame> {
    let u8s = io["frames_u8"].get(b).unwrap(); // T×3×S×S
    let (t, _, h, w) = u8s.dims4().unwrap();
    let hwc = u8s.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap();
    (0..t)
        .map(|i| adalens::video::RgbFrame {
            width: w as u32,
            height: h as u32,
            data: hwc
                .get(i)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<u8>()
                .unwrap(),
        })
        .collect()
}

/// Video `b` of that fixture as the model's float input, written to `dir/frames.safetensors`
/// (the `--input` format of `adalens inspect`).
pub fn uni_adafocus_input_file(
    io: &std::collections::HashMap<String, candle_core::Tensor>,
    b: usize,
    dir: &Path,
) -> PathBuf {
    let frames = adalens::runner::normalise(
        &uni_adafocus_rgb_frames(io, b),
        [0.485, 0.456, 0.406],
        [0.229, 0.224, 0.225],
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let path = dir.join("frames.safetensors");
    frames.save_safetensors("frames", &path).unwrap();
    path
}

/// Check panel `p` of a figure's SVG against the clip it draws (every sampled frame shown,
/// cubes after the exit included): one image per frame, a mask per discarded frame, a marker per
/// stage, a point per step, a box per cube on every frame it covers.
pub fn assert_figure_panel(svg: &str, p: usize, clip: &adalens::decision::trace::ClipTrace) {
    let doc = roxmltree::Document::parse(svg).expect("the figure is XML");
    let count = |what: &str| {
        let prefix = format!("{what}-{p}-");
        doc.descendants()
            .filter(|n| n.attribute("id").is_some_and(|i| i.starts_with(&prefix)))
            .count()
    };
    let covered: usize = clip
        .cubes
        .iter()
        .map(|c| {
            clip.frames
                .iter()
                .filter(|f| c.frames.contains(&f.frame))
                .count()
        })
        .sum();
    let discarded = clip.frames.iter().filter(|f| !f.kept).count();
    assert_eq!(count("image"), clip.frames.len(), "frame images");
    assert_eq!(count("mask"), discarded, "masks");
    assert_eq!(count("stage"), clip.stages.len(), "stage markers");
    assert_eq!(count("point"), clip.steps.len(), "plot points");
    assert_eq!(count("cube"), covered, "cube boxes");
}

/// The most memory this process has used, in bytes (Linux's VmHWM).
pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A copy of `src` with bytes `from..to` of video packet `k` (file order, offsets inside the
/// packet, clamped to it) overwritten by `fill` (`None`: pseudo-random bytes).
pub fn damage_packet(
    src: &std::path::Path,
    k: usize,
    from: usize,
    to: usize,
    fill: Option<u8>,
) -> Vec<u8> {
    let o = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "packet=pos,size", "-of", "csv=p=0"])
        .arg(src)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(k)
        .unwrap()
        .to_string();
    let mut fields = line.split(',').map(|f| f.trim().parse::<usize>().unwrap());
    let (size, pos) = (fields.next().unwrap(), fields.next().unwrap());
    let mut bytes = std::fs::read(src).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ k as u64;
    for b in &mut bytes[pos + from.min(size)..pos + to.min(size)] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = fill.unwrap_or((x >> 24) as u8);
    }
    bytes
}

/// A long video with one packet the decoder outputs no picture for, written as `out`:
/// 1920×1080 × 160 frames H.264 (over the 300 M pixels up to which opening decodes every
/// packet by itself) with packet 60's slice data destroyed. The ffmpeg CLI decodes 159
/// pictures; the packets alone promise 160.
pub fn make_long_damaged_video(dir: &Path, out: &Path) {
    let good = make_video(
        dir,
        "long_undamaged.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=25",
            "-t",
            "6.4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-bf",
            "0",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    std::fs::write(out, damage_packet(&good, 60, 6, usize::MAX, Some(0xff))).unwrap();
    assert_eq!(
        cli_frame_count(out),
        159,
        "the CLI drops the damaged picture"
    );
}
