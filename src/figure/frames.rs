//! Which sampled frames a figure shows, and their pictures.

use super::{FigureError, Panel, PanelFrame};
use crate::decision::trace::{ClipTrace, DecisionTrace};
use crate::model::config::Knobs;
use crate::video::{Control, Resize, Video};

/// Longest side of a frame picture embedded in a figure: 600 px is 300 DPI at 50 mm, wider
/// than a frame of any sensible figure, and keeps an 8-frame figure under a few MB.
pub const PANEL_FRAME_SIDE: u32 = 600;

/// The frame numbers a figure shows of `clip`: all its sampled frames, or `n` of them spread
/// evenly (first and last included), in sampling order.
pub fn shown_frames(clip: &ClipTrace, n: Option<usize>) -> Vec<usize> {
    let all: Vec<usize> = clip.frames.iter().map(|f| f.frame).collect();
    match n {
        Some(n) if n < all.len() => {
            if n == 0 {
                return Vec::new();
            }
            if n == 1 {
                return vec![all[0]];
            }
            let last = all.len() - 1;
            (0..n)
                .map(|i| all[(i * last + (n - 1) / 2) / (n - 1)])
                .collect()
        }
        _ => all,
    }
}

/// Decode `numbers` of `video` for a figure (one decoding pass, at most `side` px a side).
pub fn decode_panel_frames(
    video: &Video,
    numbers: &[usize],
    side: u32,
    ctl: &Control,
) -> Result<Vec<PanelFrame>, crate::video::VideoError> {
    let decoded = video.frames_with(
        numbers,
        Resize::Fit {
            width: side,
            height: side,
        },
        ctl,
    )?;
    Ok(numbers
        .iter()
        .zip(decoded.frames)
        .map(|(&frame, image)| PanelFrame {
            frame,
            image: Some(image),
        })
        .collect())
}

/// A figure panel of `trace` (exits marked): clip `clip`, `frames` of its sampled frames (all
/// when `None`) decoded from `video` (the one the trace was made on, already open).
pub fn make_panel(
    video: &Video,
    trace: DecisionTrace,
    clip: usize,
    frames: Option<usize>,
    label: Option<String>,
    knobs: Option<Knobs>,
    ctl: &Control,
) -> Result<Panel, FigureError> {
    let Some(c) = trace.clips.get(clip) else {
        return Err(FigureError::Clip {
            clip,
            clips: trace.clips.len(),
        });
    };
    let numbers = shown_frames(c, frames);
    let frames = decode_panel_frames(video, &numbers, PANEL_FRAME_SIDE, ctl)?;
    Ok(Panel {
        trace,
        clip,
        frames,
        label,
        knobs,
        differs: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::trace::{FrameDecision, FrameRole};

    #[test]
    fn spreads_frames_evenly_with_both_ends() {
        let clip = ClipTrace {
            lanes: Default::default(),
            frames: (0..16)
                .map(|i| FrameDecision {
                    frame: i * 10,
                    seconds: 0.0,
                    keep_prob: None,
                    kept: true,
                    role: FrameRole::Glance,
                    focus_weight: None,
                })
                .collect(),
            stages: vec![],
            cubes: vec![],
            steps: vec![],
            exit: None,
        };
        assert_eq!(shown_frames(&clip, None).len(), 16);
        assert_eq!(shown_frames(&clip, Some(40)).len(), 16);
        assert_eq!(shown_frames(&clip, Some(4)), vec![0, 50, 100, 150]);
        assert_eq!(shown_frames(&clip, Some(1)), vec![0]);
        assert!(shown_frames(&clip, Some(0)).is_empty());
    }
}
