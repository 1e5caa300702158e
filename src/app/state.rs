//! What the window remembers between runs (eframe persistence). Loaded data (videos, decoded
//! frames, model results) is never persisted; only the user's choices are.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::decision::Criterion;

const MAX_RECENT: usize = 10;

/// Which lanes of the timeline are shown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lanes {
    pub thumbnails: bool,
    pub keep: bool,
    pub cubes: bool,
    pub entropy: bool,
    pub stages: bool,
}

impl Default for Lanes {
    fn default() -> Self {
        Self {
            thumbnails: true,
            keep: true,
            cubes: true,
            entropy: true,
            stages: true,
        }
    }
}

/// What the viewer draws over the frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Overlays {
    pub cubes: bool,
    pub mask: bool,
    pub labels: bool,
}

impl Default for Overlays {
    fn default() -> Self {
        Self {
            cubes: true,
            mask: true,
            labels: true,
        }
    }
}

/// The side panel's sliders. `None` = the checkpoint's own value (or the middle of the
/// calibration range for the budget).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sliders {
    pub budget: Option<f64>,
    pub frame_threshold: Option<f32>,
    pub stage_threshold: Option<f32>,
    pub max_cubes: Option<usize>,
    pub criterion: Criterion,
}

impl Default for Sliders {
    fn default() -> Self {
        Self {
            budget: None,
            frame_threshold: None,
            stage_threshold: None,
            max_cubes: None,
            criterion: Criterion::Entropy,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AppState {
    pub recent_videos: Vec<PathBuf>,
    pub recent_checkpoints: Vec<PathBuf>,
    /// Batch runs opened in the dataset view.
    pub recent_runs: Vec<PathBuf>,
    /// Thumbnails on the strip before a model has run (TSN centres of this many segments).
    pub strip_frames: usize,
    pub show_probe: bool,
    pub show_timeline: bool,
    pub show_side: bool,
    pub show_cube_view: bool,
    pub lanes: Lanes,
    pub overlays: Overlays,
    pub sliders: Sliders,
    /// "Export figure": paper or slides, and the width in mm.
    pub figure_theme: crate::figure::Theme,
    pub figure_width_mm: f64,
    /// The folder of the last file opened or saved through a dialog: dialogs open there.
    pub last_folder: Option<PathBuf>,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            recent_videos: Vec::new(),
            recent_checkpoints: Vec::new(),
            recent_runs: Vec::new(),
            strip_frames: 32,
            show_probe: true,
            show_timeline: true,
            show_side: true,
            show_cube_view: true,
            lanes: Lanes::default(),
            overlays: Overlays::default(),
            sliders: Sliders::default(),
            figure_theme: crate::figure::Theme::Light,
            figure_width_mm: crate::figure::TWO_COLUMN_MM,
            last_folder: None,
        }
    }
}

fn remember(list: &mut Vec<PathBuf>, path: PathBuf) {
    list.retain(|p| p != &path);
    list.insert(0, path);
    list.truncate(MAX_RECENT);
}

impl AppState {
    pub fn remember_video(&mut self, path: PathBuf) {
        remember(&mut self.recent_videos, path);
    }

    pub fn remember_checkpoint(&mut self, path: PathBuf) {
        remember(&mut self.recent_checkpoints, path);
    }

    pub fn remember_run(&mut self, path: PathBuf) {
        remember(&mut self.recent_runs, path);
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
        let s: AppState =
            serde_json::from_str(r#"{"recent_videos":["a.mp4"],"show_strip":false}"#).unwrap();
        assert_eq!(s.strip_frames, 32);
        assert!(s.lanes.cubes && s.overlays.mask);
        assert_eq!(s.sliders.criterion, Criterion::Entropy);
    }

    #[test]
    fn sliders_round_trip() {
        let mut s = AppState::default();
        s.sliders.budget = Some(0.0125);
        s.sliders.frame_threshold = Some(0.3);
        s.lanes.entropy = false;
        let back: AppState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.sliders, s.sliders);
        assert_eq!(back.lanes, s.lanes);
    }
}
