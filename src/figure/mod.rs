//! Paper-ready figures of a DecisionTrace (the layout of Ada3D Fig. 1/4 and AdaFocusV3
//! Fig. 4/5): the sampled frames with discarded ones masked, the cubes as numbered boxes, the
//! 3D/2D stage markers, the entropy per step with η_t and the exit, the top-1 per step and the
//! GFLOPs against the budget. One layout ([`render_svg`]) serves `adalens figure` and the
//! window's "Export figure"; PNG and PDF are rendered from that SVG ([`save`]) with the bundled
//! DejaVu Sans, so the output is the same on every machine.

mod frames;
mod layout;
mod output;
pub(crate) mod svg;

use std::str::FromStr;

pub use frames::{decode_panel_frames, make_panel, shown_frames, PANEL_FRAME_SIDE};
pub use layout::{render_svg, CUBE_BLUE, STEP_PALETTE};
pub use output::{pdf, png, save, svg_with_paths, Format, OutputOptions};

use crate::decision::trace::DecisionTrace;
use crate::model::config::Knobs;
use crate::video::RgbFrame;

#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    #[error("{0}: write .svg, .png or .pdf")]
    Format(String),
    #[error("the figure's SVG could not be read back: {0}")]
    Svg(String),
    #[error("rendering the PNG: {0}")]
    Png(String),
    #[error("writing the PDF: {0}")]
    Pdf(String),
    /// `clip` counts from 0; the message numbers clips from 1, as the window does.
    #[error("clip {} does not exist (the trace has {clips}, numbered from 1)", .clip + 1)]
    Clip { clip: usize, clips: usize },
    #[error("decoding the frames of the figure: {0}")]
    Video(#[from] crate::video::VideoError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Paper (white background, the default) or dark (slides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl FromStr for Theme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "light" => Ok(Theme::Light),
            "dark" => Ok(Theme::Dark),
            _ => Err(format!("theme {s:?}: light or dark")),
        }
    }
}

/// The parts of a figure that can be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Lane {
    /// The sampled frames, discarded ones masked, with m_t.
    Frames,
    /// Numbered cube boxes on the frames.
    Cubes,
    /// 3D/2D marker per stage.
    Stages,
    /// Entropy (or confidence) per step with η_t and the exit.
    Entropy,
    /// Top-1 class and probability per step.
    Predictions,
    /// GFLOPs per step against the budget.
    Gflops,
}

impl Lane {
    pub const ALL: [Lane; 6] = [
        Lane::Frames,
        Lane::Cubes,
        Lane::Stages,
        Lane::Entropy,
        Lane::Predictions,
        Lane::Gflops,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Lane::Frames => "frames",
            Lane::Cubes => "cubes",
            Lane::Stages => "stages",
            Lane::Entropy => "entropy",
            Lane::Predictions => "predictions",
            Lane::Gflops => "gflops",
        }
    }
}

impl FromStr for Lane {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Lane::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Lane::ALL.iter().map(|l| l.name()).collect();
                format!("lane {s:?}: one of {}", names.join(", "))
            })
    }
}

/// Width of a one-column and a two-column figure of a two-column paper (CVPR/NeurIPS style).
pub const ONE_COLUMN_MM: f64 = 84.0;
pub const TWO_COLUMN_MM: f64 = 174.0;

/// How a figure looks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FigureOptions {
    pub theme: Theme,
    pub lanes: Vec<Lane>,
    pub width_mm: f64,
    /// Cube boxes in the step colours of the window instead of one blue (AdaFocusV3 Fig. 4).
    pub step_colours: bool,
    /// Also draw the cubes after the exit step, dashed.
    pub after_exit: bool,
    pub caption: Option<String>,
    /// Frames per row; `None` fits as many as stay at least 16 mm wide.
    pub frames_per_row: Option<usize>,
}

impl Default for FigureOptions {
    fn default() -> Self {
        Self {
            theme: Theme::Light,
            lanes: Lane::ALL.to_vec(),
            width_mm: TWO_COLUMN_MM,
            step_colours: false,
            after_exit: false,
            caption: None,
            frames_per_row: None,
        }
    }
}

impl FigureOptions {
    pub fn has(&self, lane: Lane) -> bool {
        self.lanes.contains(&lane)
    }
}

/// A frame shown in a figure: its number in the video and its picture (display orientation,
/// any size; `None` draws a placeholder).
#[derive(Debug, Clone)]
pub struct PanelFrame {
    pub frame: usize,
    pub image: Option<RgbFrame>,
}

/// One video's row of a figure: a trace with its exits marked, the clip shown, its frames.
#[derive(Debug, Clone)]
pub struct Panel {
    pub trace: DecisionTrace,
    pub clip: usize,
    pub frames: Vec<PanelFrame>,
    /// Row title (for a grid: "easy", "motion-intensive"…); default the file name.
    pub label: Option<String>,
    /// τ_f and τ_s the run used, printed with the stages.
    pub knobs: Option<Knobs>,
    /// A compared row: what differs from the other run (see [`Panel::compared`]).
    pub differs: Option<PanelDiff>,
}

/// What a row of a compare figure marks: frames whose keep decision differs from the other
/// row's (outlined in red), and what else differs in words under its title.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PanelDiff {
    pub frames: Vec<usize>,
    pub note: String,
}

impl Panel {
    /// Rows A and B of a compare figure: `a` and `b` with the differences of their clip
    /// (from [`crate::decision::compare::diff`], the code `adalens diff` prints) marked.
    pub fn compared(mut a: Panel, mut b: Panel) -> [Panel; 2] {
        let diffs = crate::decision::compare::diff(&a.trace, &b.trace);
        if let Some(d) = diffs.get(a.clip) {
            let mut frames: Vec<usize> = d
                .kept_only_a
                .iter()
                .chain(&d.kept_only_b)
                .copied()
                .collect();
            frames.sort_unstable();
            frames.dedup();
            let mut parts = Vec::new();
            if d.is_same() {
                parts.push("the same decisions and prediction".to_string());
            }
            if d.exit_a != d.exit_b {
                let s = |e: Option<usize>| e.map_or("–".into(), |e: usize| e.to_string());
                parts.push(format!("exit step {} vs {}", s(d.exit_a), s(d.exit_b)));
            }
            if d.top1_a.map(|t| t.class) != d.top1_b.map(|t| t.class) {
                parts.push("another prediction".into());
            }
            if !frames.is_empty() {
                parts.push(format!(
                    "{} frames kept by one run only (red)",
                    frames.len()
                ));
            }
            let stages = d.stages_3d_only_a.len() + d.stages_3d_only_b.len();
            if stages > 0 {
                parts.push(format!("{stages} stages 3D in one run only"));
            }
            if !d.cubes.is_empty() {
                let mean = d.cubes.iter().map(|c| c.iou).sum::<f64>() / d.cubes.len() as f64;
                if mean < 1.0 - 1e-9 {
                    parts.push(format!("mean cube IoU {mean:.2}"));
                }
            }
            if (d.gflops_b - d.gflops_a).abs() >= 5e-4 {
                parts.push(format!("GFLOPs {:.3} vs {:.3}", d.gflops_a, d.gflops_b));
            }
            let note = format!("A vs B: {}", parts.join(", "));
            a.differs = Some(PanelDiff {
                frames: frames.clone(),
                note: note.clone(),
            });
            b.differs = Some(PanelDiff { frames, note });
        }
        [a, b]
    }
}
