//! Typed errors of the video pipeline. Every message names the file and says what is wrong in
//! words a user can act on; the detail from FFmpeg follows where there is one.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("{0}: no such file")]
    NotFound(PathBuf),
    #[error("{0}: is a directory, not a video file")]
    IsDirectory(PathBuf),
    #[error("{0}: not a regular file (a FIFO, socket or device); give a video file")]
    NotRegularFile(PathBuf),
    #[error("{path}: cannot read the file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a media file FFmpeg can read ({detail})")]
    NotMedia { path: PathBuf, detail: String },
    #[error("{0}: has no video stream (audio-only or data file)")]
    NoVideoStream(PathBuf),
    #[error("{path}: the video codec '{codec}' cannot be decoded by this FFmpeg build")]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("{path}: the video is {width}×{height}, above the limit of {max_side} pixels a side or {max_pixels} pixels a frame")]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("{0}: the video stream holds no frames")]
    NoFrames(PathBuf),
    #[error(
        "{path}: frame {frame} does not exist (the video has {count} frames, numbered from 0)"
    )]
    FrameOutOfRange {
        path: PathBuf,
        frame: usize,
        count: usize,
    },
    #[error("{path}: no frame could be decoded ({detail})")]
    Decode { path: PathBuf, detail: String },
    #[error("{path}: writing the video: {detail}")]
    Encode { path: PathBuf, detail: String },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("cancelled")]
    Cancelled,
}

/// FFmpeg's own words for an error code.
pub(crate) fn av_error_text(code: i32) -> String {
    ffmpeg_next::Error::from(code).to_string()
}
