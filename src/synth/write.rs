//! Writing the benchmark: per split `SPLIT/CLASS/SPLIT_NNNNN.mp4` (H.264 through FFmpeg), the
//! labels `SPLIT.csv` (`path,label`, paths relative to the folder: what `batch`, `calibrate`
//! and `eval` read), the target boxes `SPLIT_boxes.json`, and `synth.json` (seed, sizes,
//! classes and their families). Resumable: a video already there is not written again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use super::{family, render, Family, Split, SynthSpec, CLASSES};
use crate::fsutil::{write_atomic, ResumableDir, TEMP_PREFIX};
use crate::video::{write_h264, VideoError};

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Video(#[from] VideoError),
    #[error(transparent)]
    Folder(#[from] crate::fsutil::ResumeError),
}

/// How many videos per split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SplitSizes {
    pub train: usize,
    pub calib: usize,
    pub test: usize,
}

impl SplitSizes {
    pub fn of(&self, s: Split) -> usize {
        match s {
            Split::Train => self.train,
            Split::Calib => self.calib,
            Split::Test => self.test,
        }
    }
}

#[derive(Serialize)]
struct Manifest<'a> {
    seed: u64,
    spec: &'a SynthSpec,
    sizes: &'a SplitSizes,
    /// x264's constant rate factor.
    crf: u32,
    classes: Vec<(&'static str, Family)>,
}

#[derive(Serialize)]
struct Truth {
    class: &'static str,
    family: Family,
    /// Target box per frame: x1, y1, x2, y2 in pixels.
    boxes: Vec<[f32; 4]>,
}

/// Relative path of video `i` of `split`.
pub fn video_path(split: Split, i: usize) -> String {
    format!(
        "{}/{}/{}_{i:05}.mp4",
        split.name(),
        CLASSES[i % CLASSES.len()],
        split.name()
    )
}

/// Write the benchmark into `out` with `jobs` threads; `progress(done, total)`.
pub fn write_benchmark(
    out: &Path,
    seed: u64,
    spec: &SynthSpec,
    sizes: &SplitSizes,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(), SynthError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Io { path, source }
    };
    const CRF: u32 = 18;
    let manifest = Manifest {
        seed,
        spec,
        sizes,
        crf: CRF,
        classes: (0..CLASSES.len())
            .map(|c| (CLASSES[c], family(c)))
            .collect(),
    };
    let work: Vec<(Split, usize)> = Split::ALL
        .iter()
        .flat_map(|&s| (0..sizes.of(s)).map(move |i| (s, i)))
        .collect();
    let folders: Vec<String> = Split::ALL
        .iter()
        .flat_map(|s| CLASSES.iter().map(move |c| format!("{}/{c}", s.name())))
        .collect();
    let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
    ResumableDir::open(out, "synth.json", &manifest, &folders)?;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let first_error = parking_lot::Mutex::new(None);
    let worker = || loop {
        if first_error.lock().is_some() {
            return;
        }
        let Some(&(split, i)) = work.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return;
        };
        let path = out.join(video_path(split, i));
        if !path.is_file() {
            let v = render(seed, split, i, spec);
            // Encode to a temporary name in the same folder (still `.mp4`, so the muxer is
            // chosen), then rename: a killed run never leaves half a video under a real name.
            let tmp = path.with_file_name(format!(
                "{TEMP_PREFIX}{}-{}",
                std::process::id(),
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            let written = write_h264(&tmp, &v.frames, spec.fps, CRF)
                .map_err(SynthError::from)
                .and_then(|()| std::fs::rename(&tmp, &path).map_err(io(&path)));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                *first_error.lock() = Some(e);
                return;
            }
        }
        progress(done.fetch_add(1, Ordering::Relaxed) + 1, work.len());
    };
    std::thread::scope(|s| {
        for _ in 1..jobs.max(1) {
            s.spawn(worker);
        }
        worker();
    });
    if let Some(e) = first_error.into_inner() {
        return Err(e);
    }
    // Labels and boxes, re-derived from the seed (cheap next to encoding, and always whole).
    for s in Split::ALL {
        let mut csv = String::from("path,label\n");
        let mut truth = BTreeMap::new();
        for i in 0..sizes.of(s) {
            let rel = video_path(s, i);
            let class = i % CLASSES.len();
            csv.push_str(&format!("{rel},{}\n", CLASSES[class]));
            truth.insert(
                rel,
                Truth {
                    class: CLASSES[class],
                    family: family(class),
                    boxes: super::boxes(seed, s, i, spec),
                },
            );
        }
        let p = out.join(format!("{}.csv", s.name()));
        write_atomic(&p, csv.as_bytes()).map_err(io(&p))?;
        let p = out.join(format!("{}_boxes.json", s.name()));
        let json = serde_json::to_string(&truth).unwrap_or_default();
        write_atomic(&p, json.as_bytes()).map_err(io(&p))?;
    }
    Ok(())
}
