//! Videos made with the ffmpeg CLI in many codecs and containers, with B-frames, odd sizes,
//! 10-bit, variable frame rate, rotation and start offsets: our frame n must be the CLI's frame n.

mod common;

use std::path::Path;

use adalens::video::{Resize, Video};
use common::*;

const SRC: &str = "testsrc2=size=320x240:rate=25:duration=4";

/// Frame count equals the CLI's, and first, last and a spread of middle frames (native and
/// 96×72) equal the CLI's decode.
fn check(path: &Path) -> Video {
    let v = Video::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let n = v.frame_count();
    assert_eq!(
        n,
        cli_frame_count(path),
        "{}: frame count differs from the CLI",
        path.display()
    );
    let numbers = [0, 1, 2, n / 3, n / 2 + 1, n - 2, n - 1];
    let (w, h) = (v.probe().display_width, v.probe().display_height);
    let native = v.frames(&numbers, Resize::Native).unwrap();
    let small = v
        .frames(
            &numbers,
            Resize::Exact {
                width: 96,
                height: 72,
            },
        )
        .unwrap();
    for (i, &f) in numbers.iter().enumerate() {
        let what = format!("{} frame {f}", path.display());
        assert_same_picture(&native.frames[i].data, &cli_frame(path, f, "", w, h), &what);
        assert_same_picture(
            &small.frames[i].data,
            &cli_frame(path, f, "scale=96:72", 96, 72),
            &format!("{what} at 96×72"),
        );
    }
    assert!(native.stats.substituted.is_empty());
    v
}

/// `testsrc2` at `size`, 25 fps, `duration` s, as H.264 yuv420p in `dir/src.mp4`.
fn h264_source(dir: &Path, size: &str, duration: &str, extra: &[&str]) -> std::path::PathBuf {
    let input = format!("testsrc2=size={size}:rate=25:duration={duration}");
    let mut args = vec!["-f", "lavfi", "-i", &input, "-c:v", "libx264"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-pix_fmt", "yuv420p"]);
    make_video(dir, "src.mp4", &args)
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn h264_with_b_frames_in_mp4() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "b.mp4",
        &[
            "-f", "lavfi", "-i", SRC, "-c:v", "libx264", "-bf", "3", "-g", "24", "-pix_fmt",
            "yuv420p",
        ],
    );
    let v = check(&p);
    assert!(v.index().keyframes.len() >= 4);
}

#[test]
fn hevc_in_mkv() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "h.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            SRC,
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error:keyint=30",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    assert_eq!(check(&p).probe().codec, "hevc");
}

#[test]
fn vp9_in_webm() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "v.webm",
        &[
            "-f",
            "lavfi",
            "-i",
            SRC,
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-g",
            "30",
        ],
    );
    assert_eq!(check(&p).probe().codec, "vp9");
}

#[test]
fn av1_in_mp4() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "a.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=2",
            "-c:v",
            "libaom-av1",
            "-cpu-used",
            "8",
            "-g",
            "20",
            "-b:v",
            "200k",
        ],
    );
    assert_eq!(check(&p).probe().codec, "av1");
}

#[test]
fn mpeg4_with_b_frames_in_avi() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "m.avi",
        &[
            "-f", "lavfi", "-i", SRC, "-c:v", "mpeg4", "-bf", "2", "-g", "20", "-q:v", "5",
        ],
    );
    check(&p);
}

#[test]
fn mjpeg_in_mov_and_avi() {
    let d = tmp();
    for name in ["j.mov", "j.avi"] {
        let p = make_video(
            d.path(),
            name,
            &[
                "-f", "lavfi", "-i", SRC, "-c:v", "mjpeg", "-q:v", "4", "-pix_fmt", "yuvj420p",
            ],
        );
        assert_eq!(check(&p).probe().codec, "mjpeg");
    }
}

#[test]
fn odd_size() {
    let d = tmp();
    // VP9 keeps odd sizes in 4:2:0 (the chroma planes round up).
    let p = make_video(
        d.path(),
        "odd.webm",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-vf",
            "scale=322:241",
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let v = check(&p);
    assert_eq!((v.probe().width, v.probe().height), (322, 241));
}

#[test]
fn ten_bit_420() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "10.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            SRC,
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-pix_fmt",
            "yuv420p10le",
        ],
    );
    let v = check(&p);
    assert!(
        v.probe().pixel_format.contains("10"),
        "{}",
        v.probe().pixel_format
    );
}

#[test]
fn variable_frame_rate() {
    let d = tmp();
    // Keep frames in an irregular pattern and keep their timestamps: gaps of 1, 2 and 3 frames.
    let p = make_video(
        d.path(),
        "vfr.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            SRC,
            "-vf",
            "select='not(mod(n\\,3))+not(mod(n\\,7))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-bf",
            "2",
        ],
    );
    let v = check(&p);
    let idx = v.index();
    let gaps: std::collections::BTreeSet<i64> =
        idx.frames.windows(2).map(|w| w[1].pts - w[0].pts).collect();
    assert!(
        gaps.len() > 1,
        "expected irregular frame spacing, got {gaps:?}"
    );
}

#[test]
fn rotation_metadata_is_applied_like_the_cli() {
    let d = tmp();
    let src = h264_source(d.path(), "320x240", "2", &[]);
    for (deg, name) in [(90, "r90.mp4"), (270, "r270.mp4"), (180, "r180.mp4")] {
        let out = d.path().join(name);
        let rot = deg.to_string();
        ffmpeg(&[
            "-i",
            src.to_str().unwrap(),
            "-c",
            "copy",
            "-metadata:s:v",
            &format!("rotate={rot}"),
            out.to_str().unwrap(),
        ]);
        let v = check(&out);
        let p = v.probe();
        // FFmpeg 5.1 stores `rotate=90` so that the CLI turns the picture counter-clockwise.
        assert_eq!(p.rotation, (360 - deg) % 360, "{name}");
        let expect = if deg == 180 { (320, 240) } else { (240, 320) };
        assert_eq!((p.display_width, p.display_height), expect, "{name}");
    }
}

#[test]
fn edit_lists_that_cut_into_a_b_frame_stream() {
    let d = tmp();
    let src = h264_source(d.path(), "160x120", "2", &["-bf", "2", "-g", "12"]);
    // Stream copies that start between keyframes: the edit list hides the packets before the
    // start, which are still decoded as references.
    for (start, length) in [
        ("0.12", "0.48"),
        ("0.3", "0.48"),
        ("0.5", "1.0"),
        ("0.04", "1.9"),
    ] {
        let out = d.path().join(format!("cut_{start}_{length}.mp4"));
        ffmpeg(&[
            "-ss",
            start,
            "-i",
            src.to_str().unwrap(),
            "-c",
            "copy",
            "-t",
            length,
            out.to_str().unwrap(),
        ]);
        let v = check(&out);
        assert!(
            v.warnings().is_empty(),
            "{}: {:?}",
            out.display(),
            v.warnings()
        );
    }
}

/// The frames of an IVF file as (frame header, data), after its 32-byte file header.
fn ivf_frames(bytes: &[u8]) -> Vec<([u8; 12], Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 32;
    while at + 12 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let head: [u8; 12] = bytes[at..at + 12].try_into().unwrap();
        out.push((head, bytes[at + 12..at + 12 + size].to_vec()));
        at += 12 + size;
    }
    out
}

/// Each VP9 superframe split into its frames, each a packet of its own with the same
/// timestamp (what muxers that do not re-merge them store).
fn split_superframes(frames: Vec<([u8; 12], Vec<u8>)>) -> Vec<([u8; 12], Vec<u8>)> {
    let mut out = Vec::new();
    for (head, data) in frames {
        let marker = *data.last().unwrap();
        let count = (marker & 7) as usize + 1;
        let width = ((marker >> 3) & 3) as usize + 1;
        let index_len = 2 + width * count;
        if marker & 0xe0 != 0xc0 || data[data.len() - index_len] != marker {
            out.push((head, data));
            continue;
        }
        let index = &data[data.len() - index_len + 1..];
        let mut at = 0;
        for k in 0..count {
            let size = index[k * width..(k + 1) * width]
                .iter()
                .rev()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            let mut h = head;
            h[..4].copy_from_slice(&(size as u32).to_le_bytes());
            out.push((h, data[at..at + size].to_vec()));
            at += size;
        }
    }
    out
}

#[test]
fn vp9_invisible_frames_in_packets_of_their_own_get_no_frame_number() {
    let d = tmp();
    for (name, pix) in [("vp9_8bit", "yuv420p"), ("vp9_10bit", "yuv420p10le")] {
        // libvpx makes alt-ref frames in two-pass mode.
        let src = d.path().join(format!("{name}.ivf"));
        let log = d.path().join(name);
        for (pass, out) in [("1", "-"), ("2", src.to_str().unwrap())] {
            let format: &[&str] = if pass == "1" { &["-f", "null"] } else { &[] };
            let args = [
                &[
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=160x120:rate=24:duration=3",
                    "-c:v",
                    "libvpx-vp9",
                    "-b:v",
                    "200k",
                    "-auto-alt-ref",
                    "1",
                    "-lag-in-frames",
                    "25",
                    "-pix_fmt",
                    pix,
                    "-pass",
                    pass,
                    "-passlogfile",
                    log.to_str().unwrap(),
                ][..],
                format,
                &[out],
            ]
            .concat();
            ffmpeg(&args);
        }
        let bytes = std::fs::read(&src).unwrap();
        let frames = split_superframes(ivf_frames(&bytes));
        assert!(
            frames.len() > 72,
            "{name}: the encoder made no alt-ref frames"
        );
        let mut out = bytes[..32].to_vec();
        out[24..28].copy_from_slice(&(frames.len() as u32).to_le_bytes());
        for (head, data) in &frames {
            out.extend_from_slice(head);
            out.extend_from_slice(data);
        }
        let split = d.path().join(format!("{name}_split.ivf"));
        std::fs::write(&split, &out).unwrap();
        let v = check(&split);
        assert_eq!(v.frame_count(), 72, "{name}");
    }
}

/// Rewrite the first `tkhd` box's display matrix (a, b, c, d in 16.16; translation kept).
fn set_tkhd_matrix(bytes: &mut [u8], [a, b, c, d]: [i32; 4]) {
    let at = bytes
        .windows(4)
        .position(|w| w == b"tkhd")
        .expect("an MP4 has a tkhd box");
    // After the type: version+flags, then times and ids (4 or 8 bytes each by version), the
    // reserved fields, layer, group, volume: the matrix starts 44 (version 0) or 56 bytes in.
    let m = at + if bytes[at + 4] == 1 { 56 } else { 44 };
    for (i, v) in [(0, a), (1, b), (3, c), (4, d)] {
        bytes[m + i * 4..m + i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
}

#[test]
fn reflecting_display_matrices_are_applied_like_the_cli() {
    let d = tmp();
    let src = h264_source(d.path(), "320x240", "1", &[]);
    let bytes = std::fs::read(&src).unwrap();
    let one = 1 << 16;
    // (name, matrix a b c d, turn, mirror, display size)
    let cases = [
        ("transpose", [0, one, one, 0], 90, true, (240, 320)),
        ("antitranspose", [0, -one, -one, 0], 270, true, (240, 320)),
        ("hflip", [-one, 0, 0, one], 0, true, (320, 240)),
        ("vflip", [one, 0, 0, -one], 180, true, (320, 240)),
        ("half_turn", [-one, 0, 0, -one], 180, false, (320, 240)),
    ];
    for (name, matrix, turn, mirror, size) in cases {
        let mut b = bytes.clone();
        set_tkhd_matrix(&mut b, matrix);
        let out = d.path().join(format!("{name}.mp4"));
        std::fs::write(&out, &b).unwrap();
        let v = check(&out);
        let p = v.probe();
        assert_eq!((p.rotation, p.mirrored), (turn, mirror), "{name}");
        assert_eq!((p.display_width, p.display_height), size, "{name}");
    }
}

#[test]
fn start_time_offset() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "off.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            SRC,
            "-c:v",
            "libx264",
            "-bf",
            "2",
            "-output_ts_offset",
            "3.5",
        ],
    );
    let v = check(&p);
    assert!(
        (v.probe().start_time_s - 3.5).abs() < 0.05,
        "{}",
        v.probe().start_time_s
    );
    assert!((v.index().seconds(0).unwrap() - 3.5).abs() < 0.05);
}

#[test]
fn mpeg_ts_with_its_natural_offset() {
    let d = tmp();
    let p = make_video(
        d.path(),
        "t.ts",
        &[
            "-f", "lavfi", "-i", SRC, "-c:v", "libx264", "-bf", "2", "-g", "25",
        ],
    );
    let v = check(&p);
    assert!(v.probe().start_time_s > 1.0);
}

#[test]
fn seeking_decodes_only_what_is_needed() {
    let d = tmp();
    // 20 s at 25 fps with a keyframe every 100 frames: frame 450 needs frames 400..=450 only.
    let p = make_video(
        d.path(),
        "long.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=20",
            "-c:v",
            "libx264",
            "-g",
            "100",
            "-keyint_min",
            "100",
            "-sc_threshold",
            "0",
            "-bf",
            "2",
        ],
    );
    let v = Video::open(&p).unwrap();
    assert_eq!(v.frame_count(), 500);
    let r = v.frames(&[450], Resize::Native).unwrap();
    assert!(
        r.stats.packets_decoded <= 51 + 45,
        "decoded {} packets for one frame",
        r.stats.packets_decoded
    );
    assert_eq!(r.stats.seeks, 1);
    // two frames of one GOP share one seek and one run of decoding
    let r = v.frames(&[410, 420], Resize::Native).unwrap();
    assert_eq!(r.stats.seeks, 1);
    assert_same_picture(
        &r.frames[1].data,
        &cli_frame(&p, 420, "", 160, 120),
        "frame 420",
    );
}

/// A cut made with `-ss … -c copy`: MP4 keeps the packets from the keyframe before the cut and an
/// edit list that hides them. Our frames must be the CLI's, also when the hidden stretch is
/// longer than the decoder's reordering slack and when no keyframe is left in the shown part.
#[test]
fn stream_copied_cut_with_an_edit_list() {
    let d = tmp();
    let long = "testsrc2=size=320x240:rate=25:duration=10";
    for (gop, keyframes) in [("250", vec![]), ("100", vec![50])] {
        let src = make_video(
            d.path(),
            &format!("long_g{gop}.mp4"),
            &[
                "-f",
                "lavfi",
                "-i",
                long,
                "-c:v",
                "libx264",
                "-bf",
                "2",
                "-g",
                gop,
                "-x264-params",
                "scenecut=0",
            ],
        );
        let cut = d.path().join(format!("cut_g{gop}.mp4"));
        let (src_s, cut_s) = (src.to_str().unwrap(), cut.to_str().unwrap());
        ffmpeg(&["-ss", "6", "-i", src_s, "-t", "3", "-c", "copy", cut_s]);
        let v = check(&cut);
        // The shown part starts 50 or 150 packets after the keyframe decoding must start from.
        assert_eq!(v.index().keyframes, keyframes, "{}", cut.display());
    }
}

/// A cursor kept open between clips (as the runner decodes a long video) goes on from where
/// the last clip stopped: neighbouring clips of one GOP share one seek and one decode run, and
/// the pictures it skips (H.264 pictures nothing refers to, unless asked for) change no frame:
/// each is the CLI's.
#[test]
fn a_cursor_shares_one_decode_run_between_neighbouring_clips() {
    let d = tmp();
    let p = h264_source(
        d.path(),
        "160x120",
        "12",
        &[
            "-bf",
            "3",
            "-g",
            "250",
            "-keyint_min",
            "250",
            "-sc_threshold",
            "0",
        ],
    );
    let v = Video::open(&p).unwrap();
    assert_eq!(v.frame_count(), 300);
    // Four clips of eight frames, as TSN centres of 60-frame windows sample them.
    let clips: Vec<Vec<usize>> = (0..4)
        .map(|c| (0..8).map(|k| c * 60 + 3 + k * 7 + (k % 3)).collect())
        .collect();
    let mut cursor = v.cursor(Resize::Native, 0).unwrap();
    let (mut seeks, mut packets) = (0, 0);
    for clip in &clips {
        let got = cursor.frames(clip, &Default::default()).unwrap();
        seeks += got.stats.seeks;
        packets += got.stats.packets_decoded;
        assert!(
            got.stats.substituted.is_empty(),
            "{:?}",
            got.stats.substituted
        );
        for (i, &f) in clip.iter().enumerate().step_by(3) {
            assert_same_picture(
                &got.frames[i].data,
                &cli_frame(&p, f, "", 160, 120),
                &format!("frame {f} through the cursor"),
            );
        }
    }
    assert_eq!(seeks, 1, "the four clips share one decode run");
    // Each clip decoded on its own starts again at the keyframe.
    let separate: usize = clips
        .iter()
        .map(|c| v.frames(c, Resize::Native).unwrap().stats.packets_decoded)
        .sum();
    assert!(
        packets < separate,
        "cursor {packets} packets, separate {separate}"
    );
    // Going back seeks again, and still gives the CLI's frame.
    let back = cursor.frames(&[5], &Default::default()).unwrap();
    assert_eq!(back.stats.seeks, 1);
    assert_same_picture(
        &back.frames[0].data,
        &cli_frame(&p, 5, "", 160, 120),
        "frame 5 after going back",
    );
}
