//! A corpus of malformed videos made here: eight small files in eight containers and codecs
//! (made with the ffmpeg CLI), each damaged nine ways — truncated at three points, its head cut
//! off, its header bytes flipped, bytes flipped throughout, a stretch zeroed, a stretch
//! repeated, its halves swapped, its first word set to all ones. Every one must open to a
//! typed error that names the file, or to a video whose frames decode (or fail with an error
//! naming the file) — no panic, no hang, no huge allocation.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use adalens::decision::synthetic::SplitMix64;
use adalens::video::{Resize, Video, MAX_SIDE};
use common::peak_rss;

/// (file name, ffmpeg output arguments)
const SOURCES: [(&str, &[&str]); 8] = [
    (
        "h264.mp4",
        &["-c:v", "libx264", "-bf", "2", "-movflags", "+faststart"],
    ),
    ("h264.mkv", &["-c:v", "libx264", "-bf", "2"]),
    ("mpeg2.ts", &["-c:v", "mpeg2video", "-r", "25"]),
    ("mpeg4.avi", &["-c:v", "mpeg4"]),
    ("vp9.webm", &["-c:v", "libvpx-vp9", "-deadline", "realtime"]),
    ("mjpeg.mov", &["-c:v", "mjpeg"]),
    ("h264.flv", &["-c:v", "libx264"]),
    ("mpeg1.mpg", &["-c:v", "mpeg1video", "-r", "25"]),
];

fn make_source(dir: &Path, name: &str, codec: &[&str]) -> PathBuf {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=12.5:duration=1.6",
        "-pix_fmt",
    ];
    args.push(if name.starts_with("mjpeg") {
        "yuvj420p"
    } else {
        "yuv420p"
    });
    args.extend_from_slice(codec);
    common::make_video(dir, name, &args)
}

/// The nine damages, by name.
fn damages(bytes: &[u8], seed: u64) -> Vec<(&'static str, Vec<u8>)> {
    let n = bytes.len();
    let mut rng = SplitMix64::new(seed);
    let mut flip = |b: &mut Vec<u8>, count: usize, within: usize| {
        for _ in 0..count {
            let at = (rng.next_u64() as usize) % within.clamp(1, b.len().max(1));
            let mask = (rng.next_u64() as u8) | 1;
            if let Some(x) = b.get_mut(at) {
                *x ^= mask;
            }
        }
    };
    let mut header = bytes.to_vec();
    flip(&mut header, 16, 256);
    let mut throughout = bytes.to_vec();
    flip(&mut throughout, 64, n);
    let mut zeroed = bytes.to_vec();
    for b in zeroed.iter_mut().skip(n / 2).take(512) {
        *b = 0;
    }
    let repeated = [&bytes[..2 * n / 3], &bytes[n / 3..]].concat();
    let swapped = [&bytes[n / 2..], &bytes[..n / 2]].concat();
    let mut ones = bytes.to_vec();
    for b in ones.iter_mut().take(4) {
        *b = 0xff;
    }
    vec![
        ("cut_at_an_eighth", bytes[..n / 8].to_vec()),
        ("cut_at_a_third", bytes[..n / 3].to_vec()),
        ("cut_at_two_thirds", bytes[..2 * n / 3].to_vec()),
        ("head_cut_off", bytes[n / 4..].to_vec()),
        ("header_flipped", header),
        ("flipped_throughout", throughout),
        ("stretch_zeroed", zeroed),
        ("stretch_repeated", repeated),
        ("halves_swapped", swapped),
        ("first_word_all_ones", ones),
    ]
}

/// What happened to one damaged file, or the problem with how it went.
fn try_file(path: &Path) -> Result<String, String> {
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let v = match Video::open(path) {
        Err(e) => {
            let msg = e.to_string();
            return if msg.contains(&name) {
                Ok(format!("refused: {msg}"))
            } else {
                Err(format!("error without the file name: {msg}"))
            };
        }
        Ok(v) => v,
    };
    let p = v.probe();
    if p.display_width > MAX_SIDE || p.display_height > MAX_SIDE {
        return Err(format!(
            "opened at {}×{}",
            p.display_width, p.display_height
        ));
    }
    let n = v.frame_count();
    let _ = v.warnings();
    let wanted = [0, n / 2, n - 1];
    match v.frames(
        &wanted,
        Resize::Exact {
            width: 32,
            height: 24,
        },
    ) {
        Ok(d)
            if d.frames.len() == wanted.len()
                && d.frames.iter().all(|f| f.data.len() == 32 * 24 * 3) =>
        {
            Ok(format!("{n} frames, {:?}", d.stats.substituted))
        }
        Ok(d) => Err(format!(
            "{} pictures for {} frames",
            d.frames.len(),
            wanted.len()
        )),
        Err(e) if e.to_string().contains(&name) => Ok(format!("decode refused: {e}")),
        Err(e) => Err(format!("decode error without the file name: {e}")),
    }
}

#[test]
fn eighty_damaged_videos_each_get_an_error_naming_them_or_decode() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (name, codec)) in SOURCES.iter().enumerate() {
        let src = make_source(dir.path(), name, codec);
        let bytes = std::fs::read(&src).unwrap();
        assert!(
            Video::open(&src).is_ok(),
            "{name}: the undamaged source opens"
        );
        for (damage, data) in damages(&bytes, i as u64 + 1) {
            let path = dir.path().join(format!("{damage}_{name}"));
            std::fs::write(&path, data).unwrap();
            files.push(path);
        }
    }
    assert!(files.len() >= 80, "{}", files.len());
    let mut problems = Vec::new();
    let (mut refused, mut decoded) = (0, 0);
    for path in &files {
        // A hang is a failure like a panic: each file gets two minutes in its own thread.
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(|| try_file(&p))
                .unwrap_or_else(|_| Err("panicked".to_string()));
            let _ = tx.send(outcome);
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(what)) if what.starts_with("refused") => refused += 1,
            Ok(Ok(_)) => decoded += 1,
            Ok(Err(why)) => problems.push(format!("{}: {why}", path.display())),
            Err(_) => problems.push(format!("{}: no answer within two minutes", path.display())),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Both outcomes occur: the damage is real, and the readers salvage what they can.
    assert!(
        refused >= 10 && decoded >= 10,
        "{refused} refused, {decoded} decoded"
    );
    eprintln!("{refused} refused, {decoded} decoded");
    assert!(peak_rss() < 2 << 30, "peak RSS {} MiB", peak_rss() >> 20);
}
