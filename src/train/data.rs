//! Training videos, decoded once through the app's own path (FFmpeg, the checkpoint's TSN
//! frame plan and test crop), kept in memory as RGB bytes: the network trains on exactly the
//! pixels it will see in the window.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{Device, Tensor};

use crate::dataset::Entry;
use crate::model::ada3d_config::Ada3dFocusConfig;
use crate::video::{plan, Control, RgbFrame, Video};

/// One video: its T frames at S×S, and its class.
#[derive(Debug, Clone)]
pub struct Clip {
    pub frames: Vec<RgbFrame>,
    pub label: u32,
}

#[derive(Debug, Default)]
pub struct Dataset {
    pub clips: Vec<Clip>,
    /// Videos that could not be used, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// The class names of a labelled list: the synthetic benchmark's order when the labels are
/// its classes, else sorted.
pub fn class_names(entries: &[Entry]) -> Vec<String> {
    let labels: BTreeSet<&str> = entries.iter().filter_map(|e| e.label.as_deref()).collect();
    let synth: BTreeSet<&str> = crate::synth::CLASSES.iter().copied().collect();
    if labels == synth {
        crate::synth::CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        labels.into_iter().map(String::from).collect()
    }
}

/// Decode one video as the checkpoint samples it.
fn decode(e: &Entry, c: &Ada3dFocusConfig) -> Result<Vec<RgbFrame>, String> {
    let video = Video::open(&e.path).map_err(|err| err.to_string())?;
    let numbers = plan::tsn_centres(video.frame_count(), c.num_segments);
    if numbers.len() != c.num_segments {
        return Err(format!(
            "{} frames sampled, the checkpoint needs {}",
            numbers.len(),
            c.num_segments
        ));
    }
    let resize = crate::runner::resize_of(c.input_transform());
    let ctl = Control {
        threads: 1,
        ..Control::default()
    };
    let decoded = video
        .frames_with(&numbers, resize, &ctl)
        .map_err(|err| err.to_string())?;
    Ok(decoded.frames)
}

/// The median duration in seconds of up to 64 of `entries` spread over the list (what the
/// checkpoint's `clip_seconds` records); `None` when none can be probed.
pub fn median_seconds(entries: &[Entry]) -> Option<f64> {
    let step = entries.len().div_ceil(64).max(1);
    let mut seconds: Vec<f64> = entries
        .iter()
        .step_by(step)
        .filter_map(|e| {
            let v = Video::open(&e.path).ok()?;
            let p = v.probe();
            let fps = p.frame_rate_nominal.or(p.frame_rate_avg)?;
            (fps > 0.0 && v.frame_count() > 0).then(|| v.frame_count() as f64 / fps)
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    seconds.get(seconds.len() / 2).copied()
}

/// Decode every entry on `jobs` threads; `progress(done, total)`.
pub fn load(
    entries: &[Entry],
    classes: &[String],
    c: &Ada3dFocusConfig,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Dataset {
    let done = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, Result<Clip, String>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(e) = entries.get(i) else { break };
                        let label = e
                            .label
                            .as_deref()
                            .and_then(|l| classes.iter().position(|c| c == l))
                            .ok_or_else(|| format!("label {:?} is not a class", e.label));
                        let clip = label.and_then(|label| {
                            decode(e, c).map(|frames| Clip {
                                frames,
                                label: label as u32,
                            })
                        });
                        out.push((i, clip));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, entries.len());
                    }
                    out
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    let mut all: Vec<(usize, Result<Clip, String>)> = results.into_iter().flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    let mut data = Dataset::default();
    for (i, r) in all {
        match r {
            Ok(clip) => data.clips.push(clip),
            Err(why) => data.failed.push((entries[i].path.clone(), why)),
        }
    }
    data
}

/// A batch of clips as the model's input, (B·T)×3×S×S normalised, and their labels.
pub fn batch(
    clips: &[&Clip],
    c: &Ada3dFocusConfig,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let frames = clips.iter().flat_map(|clip| &clip.frames);
    let labels: Vec<u32> = clips.iter().map(|c| c.label).collect();
    Ok((
        crate::runner::normalise(frames, c.mean, c.std, device)?,
        Tensor::new(labels.as_slice(), device)?,
    ))
}
