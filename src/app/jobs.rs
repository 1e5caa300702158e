//! Background work for the window: opening videos, decoding thumbnails and frames. The UI thread
//! only sends requests and receives events; every decode runs here, with progress and cancel.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_channel::{Receiver, Sender};

pub use super::job_event::JobEvent;
use super::model_worker::{ModelRequest, ModelWorker};
use crate::video::{plan, Control, DecodeCheck, Resize, RgbFrame, Video};

/// Largest picture the viewer asks for; bigger videos are scaled down to fit (memory, upload).
pub const VIEW_MAX: (u32, u32) = (1920, 1080);
const THUMB: (u32, u32) = (192, 108);

/// What "Export figure" draws (see [`crate::figure`]): the trace with the exits on screen.
pub struct FigureRequest {
    /// The open video (its frame index is reused, not rebuilt).
    pub video: Video,
    pub trace: crate::decision::trace::DecisionTrace,
    pub clip: usize,
    pub knobs: crate::model::config::Knobs,
    pub options: crate::figure::FigureOptions,
    /// Compare mode: run B (trace, knobs, title), drawn as a second row with the differences
    /// marked.
    pub compare: Option<(
        crate::decision::trace::DecisionTrace,
        crate::model::config::Knobs,
        String,
    )>,
}

/// Counts a running video job; the count drops when the job ends, even by a panic.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The worker threads and the channels to them.
pub struct Jobs {
    events_tx: Sender<JobEvent>,
    pub events: Receiver<JobEvent>,
    cancel: Arc<AtomicBool>,
    frame_slot: Arc<(Mutex<Option<FrameRequest>>, Condvar)>,
    repaint: Arc<dyn Fn() + Send + Sync>,
    /// Video jobs running (opening, thumbnails).
    busy: Arc<AtomicUsize>,
    model: ModelWorker,
    pub row_thumbs: super::row_thumbs::RowThumbs,
}

#[derive(Clone)]
struct FrameRequest {
    generation: u64,
    video: Video,
    number: usize,
    ahead: usize,
}

impl Jobs {
    /// Workers whose events wake the UI of `ctx`: at once for frames and thumbnails, at most
    /// every [`MODEL_REDRAW_GAP`] for the model's progress and partial runs.
    pub fn new(ctx: egui::Context) -> Self {
        let (events_tx, events) = crossbeam_channel::unbounded();
        let frame_slot = Arc::new((Mutex::new(None), Condvar::new()));
        let repaint: Arc<dyn Fn() + Send + Sync> = {
            let ctx = ctx.clone();
            Arc::new(move || ctx.request_repaint())
        };
        spawn_frame_worker(frame_slot.clone(), events_tx.clone(), repaint.clone());
        let model = ModelWorker::spawn(events_tx.clone(), repaint.clone(), throttled_repaint(ctx));
        let row_thumbs = super::row_thumbs::RowThumbs::spawn(events_tx.clone(), repaint.clone());
        Self {
            row_thumbs,
            model,
            events_tx,
            events,
            cancel: Arc::new(AtomicBool::new(false)),
            frame_slot,
            repaint,
            busy: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0 || self.model.busy()
    }

    /// Stop what runs now; jobs started later get a fresh flag.
    pub fn cancel(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.cancel = Arc::new(AtomicBool::new(false));
        self.model.cancel();
    }

    /// The frame the viewer is at (the model runs the clips from there first).
    pub fn set_focus(&self, frame: usize) {
        self.model.set_focus(frame);
    }

    /// Ask the model worker for something (see [`ModelRequest`]).
    pub fn model(&self, req: ModelRequest) {
        self.model.send(req);
    }

    /// Stop the video job running now and hand out a fresh cancel flag for the next one.
    pub(super) fn fresh_cancel(&mut self) -> Arc<AtomicBool> {
        self.cancel.store(true, Ordering::Relaxed);
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancel = cancel.clone();
        cancel
    }

    /// Open a video, then decode its strip of thumbnails, in a worker thread. `check`: whether
    /// every packet is decoded to number the frames (see [`DecodeCheck`]).
    pub fn open_video(
        &mut self,
        path: PathBuf,
        check: DecodeCheck,
        strip_frames: usize,
        generation: u64,
    ) {
        let cancel = self.fresh_cancel();
        self.spawn_video_job(move |send| {
            let what = "Opening the video".to_string();
            send(JobEvent::Progress {
                label: what.clone(),
                done: 0,
                total: 1,
            });
            // Small files (and any on request) have every packet decoded to number frames as
            // the CLI does.
            let checking = "Decoding every packet to number the frames".to_string();
            let progress = |done, total| {
                send(JobEvent::Progress {
                    label: checking.clone(),
                    done,
                    total,
                })
            };
            let ctl = Control {
                cancel: Some(&*cancel),
                progress: Some(&progress),
                threads: 0,
            };
            match Video::open_with(&path, check, &ctl) {
                // A newer open (or Cancel) came while this one was indexing the file.
                Ok(_) if cancel.load(Ordering::Relaxed) => send(JobEvent::Cancelled),
                Ok(video) => {
                    let numbers = strip_frames_of(&video, strip_frames.max(1));
                    send(JobEvent::VideoOpened {
                        video: video.clone(),
                        generation,
                        strip: numbers.clone(),
                    });
                    decode_thumbnails(&video, numbers, generation, &cancel, send);
                }
                Err(crate::video::VideoError::Cancelled) => send(JobEvent::Cancelled),
                Err(e) => send(JobEvent::Failed {
                    what,
                    error: e.to_string(),
                }),
            }
        });
    }

    /// Run `job` on its own thread, counted as a running video job until it returns (even by a
    /// panic); `send` delivers an event and wakes the UI.
    pub(crate) fn spawn_video_job(
        &self,
        job: impl FnOnce(&(dyn Fn(JobEvent) + Sync)) + Send + 'static,
    ) {
        let (tx, repaint) = (self.events_tx.clone(), self.repaint.clone());
        let running = Running::start(&self.busy);
        std::thread::spawn(move || {
            let send = |e: JobEvent| {
                let _ = tx.send(e);
                repaint();
            };
            job(&send);
            // The job is no longer counted as busy; one more frame shows it.
            drop(running);
            repaint();
        });
    }

    /// Read a logged trace and its calibration set in a worker thread.
    pub fn open_trace(&self, trace: PathBuf, video: Option<PathBuf>, calibration: Option<PathBuf>) {
        self.spawn_video_job(move |send| {
            send(super::logged::read(&trace, video, calibration.as_deref()))
        });
    }

    /// Read a batch run (its summary, and steps from `steps.parquet` or the traces) in a worker
    /// thread; `compare`: as the run to compare the open one with (with its checkpoint's
    /// calibration set, when there is one).
    pub fn open_run(&self, dir: PathBuf, compare: bool) {
        self.spawn_video_job(move |send| {
            let label = "Reading the batch run".to_string();
            let progress = |done, total| {
                send(JobEvent::Progress {
                    label: label.clone(),
                    done,
                    total,
                })
            };
            use crate::batch::import;
            use crate::batch::table::{RunTable, StepsFrom};
            // A folder of logged traces: made a run (in it) first, then read as one.
            let mut dir = dir;
            if import::is_trace_folder(&dir) {
                let out = import::run_folder_for(&dir);
                let list = import::default_list(&dir);
                if let Err(e) = import::import_traces(&dir, list.as_deref(), &out) {
                    return send(JobEvent::Failed {
                        what: format!("Opening the traces in {}", dir.display()),
                        error: e.to_string(),
                    });
                }
                dir = out;
            }
            match RunTable::open_with(&dir, StepsFrom::Any, &progress) {
                Ok(t) if compare => {
                    let path = crate::model::load::calibration_sidecar(&t.settings.checkpoint);
                    let prep = crate::decision::CalibrationSet::load(&path)
                        .ok()
                        .and_then(|s| crate::decision::PreparedCalibration::new(s).ok());
                    send(JobEvent::CompareRunOpened {
                        table: Arc::new(t),
                        prep: prep.map(Box::new),
                    })
                }
                Ok(t) => send(JobEvent::RunOpened { table: Arc::new(t) }),
                Err(e) => send(JobEvent::Failed {
                    what: format!("Opening the batch run {}", dir.display()),
                    error: e.to_string(),
                }),
            }
        });
    }

    /// Decode the figure's frames, lay it out and write it, in a worker thread.
    pub fn export_figure(&self, req: FigureRequest, path: PathBuf) {
        let cancel = self.cancel.clone();
        self.spawn_video_job(move |send| {
            send(JobEvent::Progress {
                label: "Exporting the figure".into(),
                done: 0,
                total: 1,
            });
            let ctl = Control {
                cancel: Some(&cancel),
                ..Control::default()
            };
            let label = req
                .compare
                .as_ref()
                .map(|_| "A: the model's run".to_string());
            let panel = crate::figure::make_panel(
                &req.video,
                req.trace,
                req.clip,
                None,
                label,
                Some(req.knobs),
                &ctl,
            );
            let panels = match (panel, req.compare) {
                (Ok(a), Some((trace, knobs, title))) => crate::figure::make_panel(
                    &req.video,
                    trace,
                    req.clip,
                    None,
                    Some(format!("B: {title}")),
                    Some(knobs),
                    &ctl,
                )
                .map(|b| crate::figure::Panel::compared(a, b).to_vec()),
                (panel, _) => panel.map(|p| vec![p]),
            };
            write_figure(panels, &req.options, path, send);
        });
    }

    /// A grid figure (`adalens figure --grid`'s layout) of several videos, one row each with
    /// its label, in a worker thread.
    pub fn export_grid(
        &self,
        rows: Vec<(
            PathBuf,
            crate::decision::trace::DecisionTrace,
            Option<String>,
        )>,
        knobs: Option<crate::model::config::Knobs>,
        options: crate::figure::FigureOptions,
        path: PathBuf,
    ) {
        let cancel = self.cancel.clone();
        self.spawn_video_job(move |send| {
            let total = rows.len();
            let ctl = Control {
                cancel: Some(&cancel),
                ..Control::default()
            };
            let mut panels = Vec::new();
            for (done, (video, trace, label)) in rows.into_iter().enumerate() {
                send(JobEvent::Progress {
                    label: "Exporting the figure".into(),
                    done,
                    total,
                });
                let panel = Video::open(&video)
                    .map_err(crate::figure::FigureError::from)
                    .and_then(|v| {
                        crate::figure::make_panel(&v, trace, 0, None, label, knobs, &ctl)
                    });
                match panel {
                    Ok(p) => panels.push(p),
                    Err(e) => return write_figure(Err(e), &options, path, send),
                }
            }
            write_figure(Ok(panels), &options, path, send);
        });
    }

    /// Decode thumbnails of `numbers` (the model's sampled frames) in a worker thread.
    pub fn thumbnails(&self, video: &Video, numbers: Vec<usize>, generation: u64) {
        let (video, cancel) = (video.clone(), self.cancel.clone());
        self.spawn_video_job(move |send| {
            decode_thumbnails(&video, numbers, generation, &cancel, send);
        });
    }

    /// Ask for frame `number` at viewer size, and `ahead` frames after it (playback: one run of
    /// decoding serves the next frames too, where one request per frame would reopen the file
    /// each time). Only the latest request is kept: scrubbing fast never queues a backlog.
    pub fn request_frame(&self, video: &Video, number: usize, ahead: usize, generation: u64) {
        let (lock, cv) = &*self.frame_slot;
        if let Ok(mut slot) = lock.lock() {
            *slot = Some(FrameRequest {
                generation,
                video: video.clone(),
                number,
                ahead,
            });
            cv.notify_one();
        }
    }
}

/// Lay out `panels` and write the figure, saying how it went.
fn write_figure(
    panels: Result<Vec<crate::figure::Panel>, crate::figure::FigureError>,
    options: &crate::figure::FigureOptions,
    path: PathBuf,
    send: &(dyn Fn(JobEvent) + Sync),
) {
    let written = panels.and_then(|panels| {
        let svg = crate::figure::render_svg(&panels, options);
        crate::figure::save(&svg, &path, &crate::figure::OutputOptions::default())
    });
    match written {
        Ok(()) => send(JobEvent::FigureWritten { path }),
        Err(crate::figure::FigureError::Video(crate::video::VideoError::Cancelled)) => {
            send(JobEvent::Cancelled)
        }
        Err(e) => send(JobEvent::Failed {
            what: format!("Exporting the figure to {}", path.display()),
            error: e.to_string(),
        }),
    }
}

fn decode_thumbnails(
    video: &Video,
    numbers: Vec<usize>,
    generation: u64,
    cancel: &AtomicBool,
    send: &(dyn Fn(JobEvent) + Sync),
) {
    let progress = |done: usize, total: usize| {
        send(JobEvent::Progress {
            label: "Decoding thumbnails".into(),
            done,
            total,
        })
    };
    let ctl = Control {
        cancel: Some(cancel),
        progress: Some(&progress),
        threads: 0,
    };
    let fit = Resize::Fit {
        width: THUMB.0,
        height: THUMB.1,
    };
    match video.frames_with(&numbers, fit, &ctl) {
        Ok(d) => send(JobEvent::Thumbnails {
            generation,
            substituted: d.stats.substituted.len(),
            frames: numbers.into_iter().zip(d.frames).collect(),
        }),
        Err(crate::video::VideoError::Cancelled) => send(JobEvent::Cancelled),
        Err(e) => send(JobEvent::Failed {
            what: "Decoding thumbnails".into(),
            error: e.to_string(),
        }),
    }
}

fn spawn_frame_worker(
    slot: Arc<(Mutex<Option<FrameRequest>>, Condvar)>,
    tx: Sender<JobEvent>,
    repaint: Arc<dyn Fn() + Send + Sync>,
) {
    std::thread::spawn(move || loop {
        let req = {
            let (lock, cv) = &*slot;
            let Ok(mut guard) = lock.lock() else { return };
            loop {
                if let Some(r) = guard.take() {
                    break r;
                }
                guard = match cv.wait(guard) {
                    Ok(g) => g,
                    Err(_) => return,
                };
            }
        };
        let resize = Resize::Fit {
            width: VIEW_MAX.0,
            height: VIEW_MAX.1,
        };
        let p = req.video.probe();
        let resize = if p.display_width <= VIEW_MAX.0 && p.display_height <= VIEW_MAX.1 {
            Resize::Native
        } else {
            resize
        };
        let last = req.video.frame_count().saturating_sub(1);
        let numbers: Vec<usize> = (req.number..=(req.number + req.ahead).min(last)).collect();
        let events = match req.video.frames_with(
            &numbers,
            resize,
            &Control {
                threads: 1,
                ..Default::default()
            },
        ) {
            Ok(d) => numbers
                .into_iter()
                .zip(d.frames)
                .map(|(number, image)| JobEvent::Frame {
                    generation: req.generation,
                    number,
                    image,
                })
                .collect(),
            Err(e) => vec![JobEvent::FrameFailed {
                generation: req.generation,
                number: req.number,
                error: e.to_string(),
            }],
        };
        for event in events {
            if tx.send(event).is_err() {
                return;
            }
        }
        repaint();
    });
}

/// Decoded frames kept for the viewer, least recently used dropped first, within a byte budget.
pub struct FrameCache {
    budget: usize,
    used: usize,
    entries: VecDeque<(usize, RgbFrame)>,
}

impl FrameCache {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget: budget_bytes,
            used: 0,
            entries: VecDeque::new(),
        }
    }

    pub fn get(&mut self, n: usize) -> Option<&RgbFrame> {
        let i = self.entries.iter().position(|(k, _)| *k == n)?;
        let e = self.entries.remove(i)?;
        self.entries.push_front(e);
        self.entries.front().map(|(_, f)| f)
    }

    pub fn insert(&mut self, n: usize, frame: RgbFrame) {
        if let Some(i) = self.entries.iter().position(|(k, _)| *k == n) {
            if let Some((_, old)) = self.entries.remove(i) {
                self.used -= old.data.len();
            }
        }
        self.used += frame.data.len();
        self.entries.push_front((n, frame));
        while self.used > self.budget && self.entries.len() > 1 {
            if let Some((_, old)) = self.entries.pop_back() {
                self.used -= old.data.len();
            }
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.used = 0;
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.used
    }
}

/// The strip's frames: `count` evenly spread (TSN centres), each moved to the keyframe nearest
/// it when one lies in its segment. A keyframe decodes on its own, so the strip of a long video
/// with long GOPs costs `count` frames, not `count` GOPs, and leaves the cores to the model.
fn strip_frames_of(video: &Video, count: usize) -> Vec<usize> {
    let n = video.frame_count();
    let keys = &video.index().keyframes;
    let tick = n as f64 / count.max(1) as f64;
    let mut out: Vec<usize> = plan::tsn_centres(n, count)
        .into_iter()
        .enumerate()
        .map(|(i, centre)| {
            let (lo, hi) = ((tick * i as f64) as usize, (tick * (i + 1) as f64) as usize);
            let at = keys.partition_point(|&k| k < centre);
            [at.checked_sub(1), Some(at)]
                .into_iter()
                .flatten()
                .filter_map(|j| keys.get(j).copied())
                .filter(|&k| (lo..hi.max(lo + 1)).contains(&k))
                .min_by_key(|&k| k.abs_diff(centre))
                .unwrap_or(centre)
        })
        .collect();
    out.dedup();
    out
}

/// The model's events redraw the window at most this often while it runs (the first after a
/// quiet spell at once, so the first clip's decisions appear without delay).
pub const MODEL_REDRAW_GAP: std::time::Duration = std::time::Duration::from_millis(500);

/// Redraws at most one per [`MODEL_REDRAW_GAP`]: later requests within the gap fold into one
/// redraw at its end. A run of a long video finishes a clip every ~0.1 s, and on a software
/// renderer each redraw costs a core ~0.2 s that the decoder and the model would lose.
fn throttled_repaint(ctx: egui::Context) -> Arc<dyn Fn() + Send + Sync> {
    // When the next redraw may happen, and the redraw already asked for, if any.
    let slots = Mutex::new((std::time::Instant::now(), None::<std::time::Instant>));
    Arc::new(move || {
        let now = std::time::Instant::now();
        let Ok(mut slots) = slots.lock() else {
            return ctx.request_repaint();
        };
        let (next, asked) = &mut *slots;
        if now >= *next {
            *next = now + MODEL_REDRAW_GAP;
            ctx.request_repaint();
        } else if asked.is_none_or(|a| a < now) {
            // Not covered by a redraw still to come: ask for one at the next slot.
            ctx.request_repaint_after(*next - now);
            *asked = Some(*next);
            *next += MODEL_REDRAW_GAP;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: usize) -> RgbFrame {
        RgbFrame {
            width: (bytes / 3) as u32,
            height: 1,
            data: vec![0; bytes],
        }
    }

    /// The strip of a long-GOP video lands on keyframes, one per segment, in order; a video
    /// with keyframes rarer than the segments keeps the evenly spread centres.
    #[test]
    fn the_strip_snaps_to_keyframes_in_its_segments() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str, gop: &str| {
            let path = dir.path().join(name);
            let ok = std::process::Command::new("ffmpeg")
                .args([
                    "-v",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=64x48:rate=25",
                ])
                .args(["-t", "20", "-c:v", "libx264", "-g", gop, "-keyint_min", gop])
                .args(["-sc_threshold", "0", "-pix_fmt", "yuv420p"])
                .arg(&path)
                .status()
                .unwrap()
                .success();
            assert!(ok);
            Video::open(&path).unwrap()
        };
        let v = make("gop50.mp4", "50");
        let strip = strip_frames_of(&v, 8);
        assert_eq!(strip.len(), 8);
        let tick = v.frame_count() as f64 / 8.0;
        for (i, &n) in strip.iter().enumerate() {
            assert!(
                v.index().keyframes.contains(&n),
                "frame {n} is not a keyframe"
            );
            assert!((tick * i as f64..tick * (i + 1) as f64).contains(&(n as f64)));
        }
        // One keyframe in 500 frames: only the first segment holds it.
        let v = make("gop500.mp4", "500");
        let strip = strip_frames_of(&v, 8);
        assert_eq!(strip[0], 0);
        assert_eq!(strip[1..], plan::tsn_centres(v.frame_count(), 8)[1..]);
    }

    #[test]
    fn cache_keeps_within_budget_and_drops_least_recent() {
        let mut c = FrameCache::new(300);
        c.insert(1, frame(120));
        c.insert(2, frame(120));
        assert!(c.get(1).is_some()); // 1 is now the most recent
        c.insert(3, frame(120));
        assert!(c.bytes() <= 300);
        assert!(c.get(2).is_none());
        assert!(c.get(1).is_some() && c.get(3).is_some());
        c.insert(3, frame(30));
        assert_eq!(c.bytes(), 150);
    }
}
