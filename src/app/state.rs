//! What the window remembers between runs (eframe persistence). Loaded data (videos, decoded
//! frames) is never persisted; only the user's choices are.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

const MAX_RECENT: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AppState {
    pub recent_videos: Vec<PathBuf>,
    /// Thumbnails on the strip (TSN centres of this many segments).
    pub strip_frames: usize,
    pub show_strip: bool,
    pub show_probe: bool,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            recent_videos: Vec::new(),
            strip_frames: 32,
            show_strip: true,
            show_probe: true,
        }
    }
}

impl AppState {
    pub fn remember_video(&mut self, path: PathBuf) {
        self.recent_videos.retain(|p| p != &path);
        self.recent_videos.insert(0, path);
        self.recent_videos.truncate(MAX_RECENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_videos_are_unique_newest_first_and_bounded() {
        let mut s = AppState::default();
        for i in 0..12 {
            s.remember_video(PathBuf::from(format!("v{i}.mp4")));
        }
        s.remember_video(PathBuf::from("v5.mp4"));
        assert_eq!(s.recent_videos.len(), MAX_RECENT);
        assert_eq!(s.recent_videos[0], PathBuf::from("v5.mp4"));
        assert_eq!(
            s.recent_videos
                .iter()
                .filter(|p| p.ends_with("v5.mp4"))
                .count(),
            1
        );
    }

    #[test]
    fn old_state_without_new_fields_still_loads() {
        let s: AppState = serde_json::from_str(r#"{"recent_videos":["a.mp4"]}"#).unwrap();
        assert_eq!(s.strip_frames, 32);
    }
}
