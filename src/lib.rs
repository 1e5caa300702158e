//! adalens: inspect the decisions of adaptive video-recognition models.
//!
//! Layers (imports point downwards only): `app` (egui) → `video` (FFmpeg), `decision` (pure math).
//! `video` and `decision` know nothing of each other or of the GUI.

pub mod app;
pub mod decision;
pub mod model;
pub mod pipeline;
pub mod video;
