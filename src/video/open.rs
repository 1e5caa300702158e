//! Opening a file with libavformat without the path restrictions of `ffmpeg_next::format::input`
//! (which panics on non-UTF-8 paths and lets FFmpeg read `a:b.mp4` as protocol `a`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::Once;

use ffmpeg_next::ffi;
use ffmpeg_next::format::context::Input;

use super::error::{av_error_text, VideoError};

/// Initialise FFmpeg once per process and keep its logging quiet: problems reach the user as
/// typed errors and counts, not as lines on stderr. `ADALENS_FFMPEG_LOG=1` shows FFmpeg's log.
pub(crate) fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg_next::init();
        let level = if std::env::var_os("ADALENS_FFMPEG_LOG").is_some() {
            ffmpeg_next::util::log::Level::Warning
        } else {
            ffmpeg_next::util::log::Level::Quiet
        };
        ffmpeg_next::util::log::set_level(level);
    });
}

/// Check the path on the file system first, so a missing file, a directory or a special file
/// gets its own error instead of FFmpeg's generic one (or a read that never returns).
pub(crate) fn check_path(path: &Path) -> Result<(), VideoError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(VideoError::IsDirectory(path.to_path_buf())),
        // A FIFO, socket or device would block FFmpeg's reads forever (or never end).
        Ok(m) if !m.is_file() => Err(VideoError::NotRegularFile(path.to_path_buf())),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(VideoError::NotFound(path.to_path_buf()))
        }
        Err(e) => Err(VideoError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Open `path` as a demuxer input and read its stream information.
pub(crate) fn open_input(path: &Path) -> Result<Input, VideoError> {
    init();
    check_path(path)?;
    // Raw bytes of the path behind the `file:` protocol: any byte sequence the OS allows works,
    // and a colon in the name is not taken for a protocol.
    let mut url = b"file:".to_vec();
    url.extend_from_slice(path.as_os_str().as_bytes());
    let url = CString::new(url).map_err(|_| {
        VideoError::InvalidRequest(format!("{}: path contains a NUL byte", path.display()))
    })?;
    // SAFETY: plain libavformat calls; on failure avformat_open_input frees the context itself,
    // and after success ownership passes to `Input`, which closes it on drop.
    unsafe {
        let mut ctx: *mut ffi::AVFormatContext = ptr::null_mut();
        let ret = ffi::avformat_open_input(&mut ctx, url.as_ptr(), ptr::null(), ptr::null_mut());
        if ret < 0 {
            return Err(VideoError::NotMedia {
                path: path.to_path_buf(),
                detail: av_error_text(ret),
            });
        }
        let input = Input::wrap(ctx);
        let ret = ffi::avformat_find_stream_info(ctx, ptr::null_mut());
        if ret < 0 {
            return Err(VideoError::NotMedia {
                path: path.to_path_buf(),
                detail: av_error_text(ret),
            });
        }
        Ok(input)
    }
}
