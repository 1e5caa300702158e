//! Side effects the UI asks for. Panels push commands; the app handles them once per frame, so
//! no panel opens files, starts jobs or mutates loaded data directly.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show the file dialog for a video.
    PickVideo,
    OpenVideo(PathBuf),
    /// Show frame `n` (display order).
    Seek(usize),
    /// Move the playhead by this many frames.
    Step(i64),
    CancelJob,
    DismissError,
}
