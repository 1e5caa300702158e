//! The dataset view's thumbnails: each visible row's exit frame, decoded on a worker thread of
//! their own. Requests are a stack (the rows scrolled to last come first) with a bound, so a
//! fast scroll through 25,000 rows decodes what is on screen, not a backlog.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_channel::Sender;

use super::job_event::JobEvent;
use crate::video::{Control, Resize, Video};

/// Thumbnail size in the table.
const SIZE: (u32, u32) = (96, 54);
/// Requests kept waiting; older ones are dropped (asked again if still visible).
const MAX_WAITING: usize = 48;

/// One row's thumbnail: the run it belongs to, the row, the video and the frame.
pub struct RowThumbRequest {
    pub run: u64,
    pub row: usize,
    pub path: PathBuf,
    pub frame: usize,
}

pub struct RowThumbs {
    slot: Arc<(Mutex<Vec<RowThumbRequest>>, Condvar)>,
}

impl RowThumbs {
    pub fn spawn(tx: Sender<JobEvent>, repaint: Arc<dyn Fn() + Send + Sync>) -> Self {
        let slot: Arc<(Mutex<Vec<RowThumbRequest>>, Condvar)> = Arc::default();
        let worker = slot.clone();
        std::thread::spawn(move || loop {
            let req = {
                let (lock, cv) = &*worker;
                let Ok(mut stack) = lock.lock() else { return };
                loop {
                    if let Some(r) = stack.pop() {
                        break r;
                    }
                    stack = match cv.wait(stack) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                }
            };
            // A video that cannot be read gets no thumbnail (and is not asked for again).
            let image = std::panic::catch_unwind(|| decode(&req.path, req.frame))
                .ok()
                .flatten();
            let event = JobEvent::RowThumb {
                run: req.run,
                row: req.row,
                frame: req.frame,
                image,
            };
            if tx.send(event).is_err() {
                return;
            }
            repaint();
        });
        Self { slot }
    }

    pub fn request(&self, req: RowThumbRequest) {
        let (lock, cv) = &*self.slot;
        if let Ok(mut stack) = lock.lock() {
            stack.push(req);
            if stack.len() > MAX_WAITING {
                let extra = stack.len() - MAX_WAITING;
                stack.drain(..extra);
            }
            cv.notify_one();
        }
    }
}

fn decode(path: &std::path::Path, frame: usize) -> Option<crate::video::RgbFrame> {
    let video = Video::open(path).ok()?;
    let fit = Resize::Fit {
        width: SIZE.0,
        height: SIZE.1,
    };
    let ctl = Control {
        threads: 1,
        ..Default::default()
    };
    let frame = frame.min(video.frame_count().saturating_sub(1));
    video.frames_with(&[frame], fit, &ctl).ok()?.frames.pop()
}
