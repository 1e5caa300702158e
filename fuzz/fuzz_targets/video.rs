//! Videos: probe, frame index and decoding of the first and last frames, on whatever bytes
//! (FFmpeg reads a file, so the input is written to one first).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use adalens::video::{Resize, Video};
mod alloc_guard;

use libfuzzer_sys::fuzz_target;

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| std::env::temp_dir().join(format!("adalens-fuzz-{}.video", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = file();
    if std::fs::write(path, data).is_err() {
        return;
    }
    if let Ok(v) = Video::open(path) {
        let last = v.frame_count().saturating_sub(1);
        let _ = v.frames(&[0, last], Resize::Exact { width: 32, height: 24 });
        let _ = v.warnings();
    }
});
