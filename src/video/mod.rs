//! The video pipeline (FFmpeg through ffmpeg-next; nothing else in adalens touches FFmpeg):
//! probe a file, index its frames by demuxing, plan which frames a model samples, and decode
//! exactly those frames to RGB.

mod convert;
mod decodable;
mod decode;
mod encode;
mod error;
mod index;
mod limit;
mod open;
pub mod plan;
mod probe;
mod shown;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub use convert::{rotate, Resize, RgbFrame};
pub use decode::{Control, DecodeStats, Decoded};
pub use encode::write_h264;
pub use error::VideoError;
pub use index::{FrameEntry, FrameIndex, OrderSource};
pub use limit::LimitReport;
pub use probe::{Orientation, Probe, MAX_PIXELS, MAX_SIDE};

/// An opened video: its probe and frame index. Cheap to clone; decoding opens the file afresh
/// in each worker, so a `Video` can be shared between threads.
#[derive(Clone)]
pub struct Video {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    probe: Probe,
    index: FrameIndex,
    facts: probe::StreamFacts,
    checked: DecodeChecked,
}

/// Whether opening a video decodes every packet, to number frames exactly as the `ffmpeg` CLI
/// does even where damage inside a picture makes the decoder drop it (see `decodable.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecodeCheck {
    /// When it is cheap: at most [`AUTO_CHECK_PIXELS`] pixels in all (about half a second of
    /// decoding on two cores), which covers the clips of most datasets.
    #[default]
    Auto,
    Always,
    Never,
}

impl DecodeCheck {
    /// A command's `--exact`: always check, or only when cheap.
    pub fn exact_if(exact: bool) -> Self {
        if exact {
            Self::Always
        } else {
            Self::Auto
        }
    }
}

/// Frames × pixels a frame up to which [`DecodeCheck::Auto`] decodes every packet.
pub const AUTO_CHECK_PIXELS: u64 = 300_000_000;

/// What opening a video learnt about its frame numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decode_check")]
pub enum DecodeChecked {
    /// Not decoded: frame numbers come from the packets as the bitstream describes them.
    NotRun,
    /// Every packet decoded: frame numbers are the pictures the decoder output.
    Done {
        /// Frames the packets alone had promised.
        packet_frames: usize,
    },
    /// Every packet decoded, but some pictures could not be traced to their packets, and the
    /// count differs from the packets': frame numbers come from the packets.
    Untraced { pictures: usize },
}

impl std::fmt::Debug for Video {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Video")
            .field("path", &self.inner.path)
            .field("frames", &self.inner.index.len())
            .finish()
    }
}

impl Video {
    /// Open, probe and index `path`. Reads every packet of the file once, and decodes them all
    /// when that is cheap ([`DecodeCheck::Auto`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Video, VideoError> {
        Self::open_with(path, DecodeCheck::Auto, &Control::default())
    }

    /// As [`Video::open`], choosing whether every packet is decoded to check the frame numbers;
    /// `ctl` cancels that decode and reports its progress (packets).
    pub fn open_with(
        path: impl AsRef<Path>,
        check: DecodeCheck,
        ctl: &Control,
    ) -> Result<Video, VideoError> {
        let path = path.as_ref().to_path_buf();
        let mut input = open::open_input(&path)?;
        let facts = probe::best_video_stream(&input)
            .ok_or_else(|| VideoError::NoVideoStream(path.clone()))?;
        if facts.width > MAX_SIDE
            || facts.height > MAX_SIDE
            || facts.width as u64 * facts.height as u64 > MAX_PIXELS
        {
            return Err(VideoError::TooLarge {
                path,
                width: facts.width,
                height: facts.height,
                max_side: MAX_SIDE,
                max_pixels: MAX_PIXELS,
            });
        }
        decode::check_decoder(&path, &facts)?;
        let mut probe = probe::read_probe(&input, &facts);
        let mut index = index::build(&mut input, &facts, None);
        let cost = index.len() as u64 * facts.width as u64 * facts.height as u64;
        let check = match check {
            DecodeCheck::Auto => cost <= AUTO_CHECK_PIXELS,
            DecodeCheck::Always => true,
            DecodeCheck::Never => false,
        };
        let mut checked = DecodeChecked::NotRun;
        if check {
            let shown = decodable::shown_packets(&path, &facts, index.len(), ctl)?;
            checked = if shown.untraced == 0 {
                let exact = index::build(&mut open::open_input(&path)?, &facts, Some(&shown.shown));
                let packet_frames = index.len();
                index = exact;
                DecodeChecked::Done { packet_frames }
            } else if shown.pictures() == index.len() {
                DecodeChecked::Done {
                    packet_frames: index.len(),
                }
            } else {
                DecodeChecked::Untraced {
                    pictures: shown.pictures(),
                }
            };
        }
        if index.is_empty() {
            return Err(VideoError::NoFrames(path));
        }
        probe.frame_count = index.len();
        probe.keyframe_count = index.keyframes.len();
        Ok(Video {
            inner: Arc::new(Inner {
                path,
                probe,
                index,
                facts,
                checked,
            }),
        })
    }

    /// Whether the frame numbers were checked by decoding every packet, and what that found.
    pub fn decode_checked(&self) -> &DecodeChecked {
        &self.inner.checked
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn probe(&self) -> &Probe {
        &self.inner.probe
    }

    pub fn index(&self) -> &FrameIndex {
        &self.inner.index
    }

    pub fn frame_count(&self) -> usize {
        self.inner.index.len()
    }

    /// What a user should know before trusting this file, one sentence each: fewer frames
    /// than the header or the container's duration promise (a truncated or damaged file),
    /// packets marked corrupt. Empty for a healthy file.
    pub fn warnings(&self) -> Vec<String> {
        let (p, idx) = (&self.inner.probe, &self.inner.index);
        let n = idx.len();
        let mut out = Vec::new();
        // Headers' frame counts alone mislead (MP4 counts samples an edit list cuts off, AVI
        // can be wrong): the container's duration against the frames found is the test, and
        // the header count only adds to a loss it confirms.
        if let (Some(d), Some(rate)) = (p.duration_s, p.frame_rate_avg.or(p.frame_rate_nominal)) {
            // Frames cover [first, last + one frame); a container that says much longer
            // (half a second and a tenth, so rounding and audio tails do not count) lost some.
            let first = idx.seconds(0).unwrap_or(0.0);
            let covered = idx.seconds(n - 1).unwrap_or(0.0) - first + 1.0 / rate;
            if d - covered > 0.5_f64.max(0.1 * d) {
                let listed = p
                    .header_frame_count
                    .filter(|&h| h > n as u64)
                    .map(|h| format!("; its header lists {h} frames"))
                    .unwrap_or_default();
                out.push(format!(
                    "the container says {d:.2} s but the {n} decodable frames cover {covered:.2} s\
                     {listed} (truncated or damaged file?)"
                ));
            }
        }
        match self.inner.checked {
            DecodeChecked::Done { packet_frames } if packet_frames > n => {
                let k = packet_frames - n;
                out.push(format!(
                    "{k} packet{} too damaged for the decoder to output a picture: they get no \
                     frame number, as in the ffmpeg CLI's count",
                    if k == 1 { " is" } else { "s are" }
                ));
            }
            DecodeChecked::Untraced { pictures } => out.push(format!(
                "the decoder outputs {pictures} pictures where the packets give {n} frames: \
                 frame numbers after the first damaged packet may differ from the ffmpeg CLI's"
            )),
            _ => {}
        }
        if idx.corrupt_packets > 0 {
            out.push(match idx.corrupt_packets {
                1 => "1 packet is marked corrupt".to_string(),
                k => format!("{k} packets are marked corrupt"),
            });
        }
        out
    }

    /// Decode frames `numbers` (display order, from 0; repeats allowed) at `resize`.
    pub fn frames(&self, numbers: &[usize], resize: Resize) -> Result<Decoded, VideoError> {
        self.frames_with(numbers, resize, &Control::default())
    }

    /// As [`Video::frames`], with cancellation, progress and a thread count.
    pub fn frames_with(
        &self,
        numbers: &[usize],
        resize: Resize,
        ctl: &Control,
    ) -> Result<Decoded, VideoError> {
        if numbers.is_empty() {
            return Ok(Decoded {
                frames: Vec::new(),
                stats: DecodeStats::default(),
            });
        }
        decode::decode_frames(
            &self.inner.path,
            &self.inner.facts,
            &self.inner.index,
            numbers,
            resize,
            ctl,
        )
    }

    /// A decoder that stays open between requests at `resize`, with `threads` FFmpeg threads
    /// (0 = FFmpeg's choice): for frames asked for in increasing order, as a model's clips are.
    pub fn cursor(&self, resize: Resize, threads: usize) -> Result<FrameCursor, VideoError> {
        let i = &self.inner;
        decode::check_resize(&i.path, &i.facts, resize)?;
        Ok(FrameCursor {
            cursor: decode::Cursor::open(&i.path, &i.facts, &i.index, resize, threads)?,
            video: self.clone(),
        })
    }
}

/// A video's decoder kept open between requests ([`Video::cursor`]): a request for frames
/// further on continues decoding where the last one stopped rather than seeking back to a
/// keyframe, so neighbouring clips share one decode run; a request further back seeks. For
/// H.264, pictures that no other picture refers to are skipped unless requested.
pub struct FrameCursor {
    video: Video,
    cursor: decode::Cursor,
}

impl FrameCursor {
    /// Decode `numbers` (display order, repeats allowed), as [`Video::frames_with`] does.
    pub fn frames(&mut self, numbers: &[usize], ctl: &Control) -> Result<Decoded, VideoError> {
        if numbers.is_empty() {
            return Ok(Decoded {
                frames: Vec::new(),
                stats: DecodeStats::default(),
            });
        }
        let i = &self.video.inner;
        decode::decode_with_cursor(&mut self.cursor, &i.path, &i.facts, &i.index, numbers, ctl)
    }

    /// Decode every picture, wanted or not (to measure what skipping gains).
    pub fn never_skip(&mut self) {
        self.cursor.never_skip();
    }

    /// Packets sent to the decoder since the cursor opened (the decoding work done).
    pub fn packets_decoded(&self) -> usize {
        self.cursor.packets()
    }
}
