//! Decoding leaks nothing: decoding a file again and again keeps the process's memory flat.
//! (Found by the `video` fuzz target: every packet read into a reused packet leaked its
//! buffer, so memory grew by the compressed size of what was decoded, on every decode.)
//! One test in its own binary, so no other test's memory is counted.

mod common;

use adalens::video::{Resize, Video};

/// Resident memory now, in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn decoding_a_file_fifty_times_does_not_grow_memory_by_its_size() {
    let dir = tempfile::tempdir().unwrap();
    // High bitrate with audio interleaved: the leak was per packet read, audio included.
    let p = common::make_video(
        dir.path(),
        "v.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x480:rate=25:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=4",
            "-c:v",
            "libx264",
            "-qp",
            "0",
            "-g",
            "25",
            "-c:a",
            "aac",
        ],
    );
    let size = std::fs::metadata(&p).unwrap().len();
    assert!(size > 1 << 20, "the file should be over 1 MiB, is {size}");
    let v = Video::open(&p).unwrap();
    let all: Vec<usize> = (0..v.frame_count()).collect();
    let small = Resize::Exact {
        width: 32,
        height: 24,
    };
    let decode = || {
        let d = v.frames(&all, small).unwrap();
        assert_eq!(d.frames.len(), all.len());
    };
    for _ in 0..5 {
        decode();
    }
    let before = rss();
    let rounds = 45;
    for _ in 0..rounds {
        decode();
    }
    let grown = rss().saturating_sub(before);
    // A leak of what is read would add `size` per round; allow a third of one round's worth
    // per round for the allocator's own slack.
    assert!(
        grown < rounds * size / 3,
        "memory grew by {} MiB over {rounds} decodes of a {} KiB file",
        grown >> 20,
        size >> 10
    );
}
