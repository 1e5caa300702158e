//! adalens: inspect the decisions of adaptive video-recognition models.
//!
//! Layers (imports point downwards only): `app` (egui) → `analysis` (a warm model on a video) →
//! `pipeline` (video meets model) → `video` (FFmpeg), `model` (candle), `decision` (pure math).
//! `video` and `decision` know nothing of each other or of the GUI.

pub mod analysis;
pub mod app;
pub mod batch;
pub mod calibrate;
pub mod decision;
pub mod eval;
pub mod figure;
pub mod fsutil;
pub mod headless;
pub mod model;
pub mod pipeline;
pub mod synth;
pub mod train;
pub mod video;
