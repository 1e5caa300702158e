//! Bad input gets its own typed error with a readable message: no panic, no hang.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use adalens::video::{Control, DecodeCheck, DecodeChecked, Resize, Video, VideoError};
use common::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn small_h264(dir: &std::path::Path, name: &str, extra: &[&str]) -> PathBuf {
    let mut a = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=4",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-pix_fmt",
        "yuv420p",
    ];
    a.extend_from_slice(extra);
    make_video(dir, name, &a)
}

#[test]
fn missing_file() {
    let e = Video::open("/nonexistent/clip.mp4").unwrap_err();
    assert!(matches!(e, VideoError::NotFound(_)), "{e}");
    assert!(e.to_string().contains("no such file"), "{e}");
}

#[test]
fn directory() {
    let d = tmp();
    let e = Video::open(d.path()).unwrap_err();
    assert!(matches!(e, VideoError::IsDirectory(_)), "{e}");
}

#[test]
fn text_file_named_mp4() {
    let d = tmp();
    let p = d.path().join("notes.mp4");
    std::fs::write(&p, "these are my notes, not a video\n".repeat(50)).unwrap();
    let e = Video::open(&p).unwrap_err();
    assert!(matches!(e, VideoError::NotMedia { .. }), "{e}");
    assert!(e.to_string().contains("not a media file"), "{e}");
}

#[test]
fn empty_file() {
    let d = tmp();
    let p = d.path().join("empty.mp4");
    std::fs::write(&p, b"").unwrap();
    assert!(matches!(
        Video::open(&p).unwrap_err(),
        VideoError::NotMedia { .. }
    ));
}

#[test]
fn audio_only() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "a.m4a",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-c:a",
            "aac",
        ],
    );
    let e = Video::open(&p).unwrap_err();
    assert!(matches!(e, VideoError::NoVideoStream(_)), "{e}");
    assert!(e.to_string().contains("no video stream"));
}

#[test]
fn video_stream_without_frames() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "zero.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
            "-frames:v",
            "0",
            "-c:v",
            "libx264",
        ],
    );
    let e = Video::open(&p).unwrap_err();
    assert!(
        matches!(e, VideoError::NoFrames(_) | VideoError::NotMedia { .. }),
        "{e}"
    );
}

#[test]
fn unsupported_codec() {
    let d = tmp();
    let src = small_h264(d.path(), "s.mp4", &[]);
    let avi = d.path().join("s.avi");
    ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c",
        "copy",
        avi.to_str().unwrap(),
    ]);
    // Rewrite the stream's FourCC (in strh and strf) to one no decoder knows: the demuxer still
    // reads the stream, but nothing can decode it.
    let mut bytes = std::fs::read(&avi).unwrap();
    let head = bytes.len().min(8192);
    let mut patched = 0;
    for i in 0..head - 4 {
        if &bytes[i..i + 4] == b"avc1" || &bytes[i..i + 4] == b"H264" {
            bytes[i..i + 4].copy_from_slice(b"ZZZZ");
            patched += 1;
        }
    }
    assert!(patched >= 1, "no FourCC found to patch");
    let out = d.path().join("zzzz.avi");
    std::fs::write(&out, bytes).unwrap();
    let e = Video::open(&out).unwrap_err();
    assert!(matches!(e, VideoError::UnsupportedCodec { .. }), "{e}");
    assert!(e.to_string().contains("cannot be decoded"), "{e}");
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    let d = tmp();
    let p = d.path().join("huge.y4m");
    let mut f = std::fs::File::create(&p).unwrap();
    // A YUV4MPEG2 header claiming 60000×60000 (5.4 GB a frame) over a few bytes of data.
    f.write_all(b"YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n")
        .unwrap();
    f.write_all(&[16u8; 4096]).unwrap();
    drop(f);
    let e = Video::open(&p).unwrap_err();
    assert!(
        matches!(e, VideoError::TooLarge { .. } | VideoError::NotMedia { .. }),
        "{e}"
    );
}

#[test]
fn truncated_file_keeps_what_is_there() {
    let d = tmp();
    // Matroska can be read up to a cut; the frames that survive decode, the rest are gone.
    let src = small_h264(d.path(), "full.mkv", &[]);
    let bytes = std::fs::read(&src).unwrap();
    let cut = d.path().join("cut.mkv");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let v = Video::open(&cut).unwrap();
    assert!(
        v.frame_count() > 10 && v.frame_count() < 100,
        "{}",
        v.frame_count()
    );
    let last = v.frame_count() - 1;
    let r = v.frames(&[0, last / 2, last], Resize::Native).unwrap();
    assert_eq!(r.frames.len(), 3);
    // MP4 cut before its index: a clear error, not a panic.
    let mp4 = small_h264(d.path(), "s.mp4", &[]);
    let bytes = std::fs::read(&mp4).unwrap();
    let cut = d.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    match Video::open(&cut) {
        Err(e) => assert!(
            matches!(e, VideoError::NotMedia { .. } | VideoError::NoFrames(_)),
            "{e}"
        ),
        Ok(v) => {
            // moov at the front: the index holds what survived, and it decodes.
            let r = v.frames(&[0], Resize::Native);
            assert!(r.is_ok());
        }
    }
}

#[test]
fn a_truncated_faststart_mp4_says_how_many_frames_are_decodable() {
    let d = tmp();
    for (codec, pix) in [
        ("libx264", "yuv420p"),
        ("libx265", "yuv420p"),
        ("mpeg4", "yuv420p"),
        ("mjpeg", "yuvj420p"),
        ("libvpx-vp9", "yuv420p"),
    ] {
        let full = make_video(
            d.path(),
            &format!("{codec}.mp4"),
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=30:duration=10",
                "-c:v",
                codec,
                "-g",
                "30",
                "-pix_fmt",
                pix,
                "-movflags",
                "+faststart",
            ],
        );
        assert!(Video::open(&full).unwrap().warnings().is_empty(), "{codec}");
        let bytes = std::fs::read(&full).unwrap();
        let cut = d.path().join(format!("{codec}_cut.mp4"));
        std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
        let v = Video::open(&cut).unwrap();
        let n = v.frame_count();
        assert!(n > 100 && n < 300, "{codec}: {n}");
        assert_eq!(n, cli_frame_count(&cut), "{codec}: frames the CLI decodes");
        let warnings = v.warnings();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("lists 300 frames")
                    && w.contains(&format!("{n} decodable frames"))),
            "{codec}: {warnings:?}"
        );
        let tail = v.frames(&[n - 2, n - 1], Resize::Native).unwrap();
        assert!(tail.stats.substituted.is_empty(), "{codec}");
        // The last picture may be the partial one; Motion JPEG conceals its missing part
        // differently from the CLI (a known difference), so only the whole one is compared there.
        let compared = if codec == "mjpeg" { 1 } else { 2 };
        for (i, f) in [n - 2, n - 1].into_iter().enumerate().take(compared) {
            assert_same_picture(
                &tail.frames[i].data,
                &cli_frame(&cut, f, "", 160, 120),
                &format!("{codec}: frame {f} of {n}"),
            );
        }
    }
}

#[test]
fn a_later_frame_claiming_a_huge_size_fails_alone() {
    let d = tmp();
    // Motion JPEG: every frame carries its own size (SOF0: FF C0, length, precision, height,
    // width). The container says 64×64; frame 4 claims 16000×16000, which would need gigabytes.
    let p = make_video(
        d.path(),
        "m.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x64:rate=10:duration=1",
            "-c:v",
            "mjpeg",
            "-pix_fmt",
            "yuvj420p",
        ],
    );
    let mut bytes = std::fs::read(&p).unwrap();
    let sofs: Vec<usize> = bytes
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w == [0xff, 0xc0])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(sofs.len(), 10, "one SOF0 per frame");
    let at = sofs[4];
    bytes[at + 5..at + 7].copy_from_slice(&16000u16.to_be_bytes());
    bytes[at + 7..at + 9].copy_from_slice(&16000u16.to_be_bytes());
    let big = d.path().join("big.mkv");
    std::fs::write(&big, &bytes).unwrap();
    // Decoding every packet on open finds that frame 4 gives no picture: like the CLI, which
    // refuses it and numbers 9 frames, the file has 9.
    let v = Video::open(&big).unwrap();
    assert_eq!(v.frame_count(), 9);
    assert_eq!(cli_frame_count(&big), 9);
    let all: Vec<usize> = (0..9).collect();
    let r = v.frames(&all, Resize::Native).unwrap();
    assert_eq!(r.frames.len(), 9);
    assert!(r.frames.iter().all(|f| (f.width, f.height) == (64, 64)));
    // Counted from the packets alone, frame 4 is there and is reported, not decoded at
    // 16000×16000.
    let packets = Video::open_with(&big, DecodeCheck::Never, &Control::default()).unwrap();
    assert_eq!(packets.frame_count(), 10);
    let r10 = packets
        .frames(&(0..10).collect::<Vec<_>>(), Resize::Native)
        .unwrap();
    assert!(
        r10.stats.substituted.iter().any(|&(n, _)| n == 4),
        "frame 4 is reported, not decoded at 16000×16000: {:?}",
        r10.stats
    );
    // Every other frame (all intra) is what the undamaged file gives.
    let clean = Video::open(&p)
        .unwrap()
        .frames(&(0..10).collect::<Vec<_>>(), Resize::Native)
        .unwrap();
    for (ours, n) in (0..10).filter(|&n| n != 4).enumerate() {
        assert_eq!(r.frames[ours].data, clean.frames[n].data, "frame {n}");
    }
}

#[test]
fn corrupt_packets_in_the_middle_are_skipped_and_counted() {
    let d = tmp();
    // MPEG-TS resynchronises after damage; overwrite a stretch in the middle with garbage.
    let p = make_video(
        d.path(),
        "c.ts",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=8",
            "-c:v",
            "libx264",
            "-g",
            "50",
            "-bf",
            "0",
        ],
    );
    let len = std::fs::metadata(&p).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for k in [0.45, 0.55] {
        f.seek(SeekFrom::Start((len as f64 * k) as u64)).unwrap();
        let junk: Vec<u8> = (0..3000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        f.write_all(&junk).unwrap();
    }
    drop(f);
    let v = Video::open(&p).unwrap();
    let n = v.frame_count();
    assert!(n > 150, "index lost too much: {n}");
    let all: Vec<usize> = (0..n).collect();
    let r = v
        .frames(
            &all,
            Resize::Exact {
                width: 32,
                height: 24,
            },
        )
        .unwrap();
    assert_eq!(r.frames.len(), n);
    let damage = r.stats.corrupt_packets
        + r.stats.corrupt_frames
        + r.stats.substituted.len()
        + v.index().corrupt_packets;
    assert!(damage > 0, "the damage went unnoticed: {:?}", r.stats);
    // Frames far from the damage still equal the CLI's.
    assert_same_picture(
        &r.frames[5].data,
        &cli_frame(&p, 5, "scale=32:24", 32, 24),
        "frame 5",
    );
}

#[test]
fn frame_numbers_past_the_end_are_an_error() {
    let d = tmp();
    let p = small_h264(d.path(), "s.mp4", &[]);
    let v = Video::open(&p).unwrap();
    let e = v.frames(&[0, 100], Resize::Native).unwrap_err();
    assert!(
        matches!(
            e,
            VideoError::FrameOutOfRange {
                frame: 100,
                count: 100,
                ..
            }
        ),
        "{e}"
    );
    let e = v
        .frames(
            &[0],
            Resize::Exact {
                width: 0,
                height: 10,
            },
        )
        .unwrap_err();
    assert!(matches!(e, VideoError::InvalidRequest(_)), "{e}");
    let e = v
        .frames(
            &[0],
            Resize::Exact {
                width: 100_000,
                height: 10,
            },
        )
        .unwrap_err();
    assert!(matches!(e, VideoError::InvalidRequest(_)), "{e}");
}

#[test]
fn unusual_and_non_utf8_paths() {
    let d = tmp();
    let src = small_h264(d.path(), "s.mp4", &[]);
    let names: Vec<std::ffi::OsString> = vec![
        "a:b ü ✓ 'quoted' #1.mp4".into(),
        std::ffi::OsStr::from_bytes(b"bytes-\xff\xfe-not-utf8.mp4").to_os_string(),
        "file:looks-like-a-url.mp4".into(),
    ];
    for name in names {
        let p = d.path().join(&name);
        std::fs::copy(&src, &p).unwrap();
        let v = Video::open(&p).unwrap_or_else(|e| panic!("{:?}: {e}", name));
        assert_eq!(v.frame_count(), 100);
        assert_eq!(v.frames(&[99], Resize::Native).unwrap().frames.len(), 1);
    }
}

#[test]
fn the_frames_command_writes_each_number_once_and_equal_to_the_cli() {
    let d = tmp();
    let p = small_h264(d.path(), "f.mp4", &[]);
    let out = d.path().join("out");
    let repeats = ["3"; 200].join(",");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_adalens"))
        .arg("frames")
        .arg(&p)
        .arg("--at")
        .arg(format!("{repeats},0,3"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    let png = image::open(out.join("frame_000003.png")).unwrap().to_rgb8();
    assert_same_picture(png.as_raw(), &cli_frame(&p, 3, "", 160, 120), "frame 3");
}

/// Frames `numbers` of the 160×120 video `v` (opened from `path`) equal the CLI's.
fn assert_frames_equal_cli(v: &Video, path: &std::path::Path, numbers: &[usize], what: &str) {
    let got = v.frames(numbers, Resize::Native).unwrap();
    for (img, &f) in got.frames.iter().zip(numbers) {
        assert_same_picture(
            &img.data,
            &cli_frame(path, f, "", 160, 120),
            &format!("{what}: frame {f}"),
        );
    }
}

/// A copy of `src` with packet `k`'s picture data overwritten (its length prefix kept).
fn destroy_packet(src: &std::path::Path, k: usize, out: &std::path::Path) {
    std::fs::write(
        out,
        common::damage_packet(src, k, 4, usize::MAX, Some(0xff)),
    )
    .unwrap();
}

#[test]
fn a_packet_whose_picture_is_destroyed_gets_no_frame_number_as_in_the_cli() {
    let d = tmp();
    // Intra only; a P frame in a GOP; a B frame.
    for (name, gop, bframes, k) in [
        ("intra", "1", "0", 20),
        ("p", "25", "0", 20),
        ("b", "25", "2", 22),
    ] {
        // 100 frames; a later -g overrides small_h264's own.
        let src = small_h264(
            d.path(),
            &format!("{name}.mp4"),
            &["-g", gop, "-bf", bframes],
        );
        let bad = d.path().join(format!("{name}_bad.mp4"));
        destroy_packet(&src, k, &bad);
        let v = Video::open(&bad).unwrap();
        let n = v.frame_count();
        assert_eq!(n, cli_frame_count(&bad), "{name}: frames the CLI decodes");
        assert_eq!(n, 99, "{name}");
        assert_frames_equal_cli(&v, &bad, &[0, 19, 20, 21, 30, n - 1], name);
    }
}

/// Issue 26, kind 4: a packet whose picture data is there but so damaged that the decoder
/// outputs nothing for it (a refused slice header, a broken JPEG, a VP9 frame whose references
/// are gone, which drops every frame up to the next keyframe). The CLI numbers only what its
/// decoder outputs; so does adalens, by decoding every packet when it opens a small file.
#[test]
fn a_packet_the_decoder_refuses_gets_no_frame_number_as_in_the_cli() {
    let d = tmp();
    let src = |name: &str, codec: &[&str]| {
        let mut a = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=4",
            "-pix_fmt",
            "yuv420p",
        ];
        a.extend_from_slice(codec);
        make_video(d.path(), name, &a)
    };
    // (file, codec, damaged packet, byte range, fill)
    type Case<'a> = (&'a str, &'a [&'a str], usize, usize, usize, Option<u8>);
    let cases: [Case; 7] = [
        (
            "h264.mkv",
            &["-c:v", "libx264", "-g", "25", "-bf", "0"],
            30,
            4,
            40,
            Some(0),
        ),
        (
            "h264_slice.mkv",
            &["-c:v", "libx264", "-g", "25", "-bf", "0"],
            10,
            4,
            20,
            None,
        ),
        (
            "h264_b.mp4",
            &["-c:v", "libx264", "-g", "25", "-bf", "2"],
            30,
            0,
            usize::MAX,
            None,
        ),
        (
            "hevc.mp4",
            &[
                "-c:v",
                "libx265",
                "-x265-params",
                "log-level=none",
                "-g",
                "25",
            ],
            30,
            4,
            40,
            Some(0),
        ),
        (
            "mpeg4.avi",
            &["-c:v", "mpeg4", "-g", "25", "-bf", "1"],
            30,
            4,
            40,
            Some(0),
        ),
        ("mjpeg.avi", &["-c:v", "mjpeg"], 30, 0, usize::MAX, None),
        (
            "vp9.webm",
            &["-c:v", "libvpx-vp9", "-g", "25", "-b:v", "300k"],
            30,
            6,
            30,
            None,
        ),
    ];
    for (name, codec, k, from, to, fill) in cases {
        let good = src(name, codec);
        let bad = d.path().join(format!("bad_{name}"));
        std::fs::write(&bad, common::damage_packet(&good, k, from, to, fill)).unwrap();
        let packets = Video::open_with(&bad, DecodeCheck::Never, &Control::default())
            .unwrap()
            .frame_count();
        let v = Video::open(&bad).unwrap();
        let n = v.frame_count();
        let cli = cli_frame_count(&bad);
        assert!(
            cli < packets,
            "{name}: the damage must make the decoder drop a picture ({cli} of {packets})"
        );
        assert_eq!(n, cli, "{name}: frames the CLI decodes");
        assert!(
            matches!(v.decode_checked(), DecodeChecked::Done { packet_frames } if *packet_frames == packets),
            "{name}: {:?}",
            v.decode_checked()
        );
        assert!(
            v.warnings().iter().any(|w| w.contains("no frame number")),
            "{name}: {:?}",
            v.warnings()
        );
        // Frames well past the damage (after the next keyframes), whose pictures no longer
        // depend on it: the same numbers give the same pictures. (A picture the decoder
        // conceals differs with the CLI's own thread count, so those are not compared.)
        assert_frames_equal_cli(&v, &bad, &[60, 75, n - 1], name);
    }
}
