//! The window (eframe on wgpu). One `AdalensApp` holds the persisted [`state::AppState`], the
//! loaded data, and the background [`jobs::Jobs`]; panels live in `panels/`, one per file;
//! [`Command`]s from the panels are handled once per frame in `handle.rs`, worker events in
//! `events.rs`. The UI thread never decodes video or runs the model.

mod batch_job;
mod budget;
mod command;
mod compare;
mod compare_handle;
mod compare_job;
mod dataset;
mod dataset_handle;
mod decisions;
mod events;
mod handle;
mod history;
mod job_event;
mod jobs;
mod logged;
mod model_worker;
mod panels;
pub mod render;
mod row_thumbs;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;

use crate::video::{RgbFrame, Video};
pub use budget::BudgetModel;
pub use command::Command;
pub use compare::{CompareSpec, CompareView};
pub use dataset::{DatasetView, Flip};
pub use decisions::Decisions;
pub use job_event::CheckpointInfo;
pub use jobs::FigureRequest;
use jobs::{FrameCache, Jobs};
pub use state::AppState;

/// The bundled demo, relative to the repository root (where `make run` starts the app): the
/// checkpoint trained on the synthetic benchmark (`scripts/train_demo.sh`) and four of its test
/// videos in a row, two appearance and two motion actions, so the timeline shows four clips.
pub const DEMO_VIDEO: &str = "assets/demo/synth/four_actions.mp4";
pub const DEMO_CHECKPOINT: &str = "models/ada3d_focus_synth.safetensors";
/// The untrained `ada3d_focus` parity fixture the window warns about (the tests' model).
pub const UNTRAINED_CHECKPOINT: &str = "models/demo/ada3d_focus_untrained.safetensors";

/// What to open at start. With nothing given, the demo video and checkpoint.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    pub video: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// A batch run to open in the dataset view (the folder `adalens batch --out` wrote).
    pub run: Option<PathBuf>,
    /// Measure this many frames of continuous redraw once everything is loaded, print the
    /// frame times and close (the window benchmark in BENCHMARKS.md).
    pub frame_stats: Option<usize>,
    /// What those frames draw.
    pub frame_stats_scene: FrameStatsScene,
    /// Open in compare mode: the model's run A beside this run B.
    pub compare: Option<CompareSpec>,
    /// A trace logged elsewhere to open on `video` (else the video it names), with no model.
    pub trace: Option<PathBuf>,
    /// The calibration set of that trace's budget slider.
    pub calibration: Option<PathBuf>,
}

/// What `--frame-stats` redraws: the window stepping the playhead every frame (the default,
/// so every frame has new work), the window with the playhead still, or an empty panel (the
/// floor of eframe and the renderer, BENCHMARKS.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FrameStatsScene {
    #[default]
    Moving,
    Still,
    Empty,
}

impl Launch {
    /// The bundled demo video and checkpoint.
    pub fn demo() -> Self {
        Self {
            video: Some(bundled(DEMO_VIDEO)),
            checkpoint: Some(bundled(DEMO_CHECKPOINT)),
            ..Default::default()
        }
    }
}

/// A bundled file: from the working directory, else from the source tree this was built in.
pub fn bundled(relative: &str) -> PathBuf {
    let here = PathBuf::from(relative);
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Open the window.
pub fn run(launch: Launch) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        viewport: egui::ViewportBuilder::default()
            .with_title("adalens")
            .with_app_id("adalens")
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([800.0, 500.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "adalens",
        options,
        Box::new(move |cc| {
            let mut app = AdalensApp::new(cc, launch);
            app.cleared_to_panel_fill = true;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow!("the window could not start: {e}"))
}

/// A dataset row's video, the trace the batch stored for it, and the knobs it ran with.
type StoredTrace = (
    PathBuf,
    crate::decision::trace::DecisionTrace,
    crate::model::config::Knobs,
);

/// A user-visible error: what failed and FFmpeg's, candle's or our detail.
pub struct ErrorNote {
    pub what: String,
    pub detail: String,
}

/// A thumbnail: on the GPU for the lanes, and its pixels for the 3D view's atlas.
pub struct Thumb {
    pub texture: egui::TextureHandle,
    pub image: Arc<RgbFrame>,
}

/// The open video and what was decoded of it (never persisted).
pub struct Loaded {
    pub video: Video,
    pub current: usize,
    /// Thumbnails by frame number: the strip's and the model's sampled frames, each decoded
    /// once.
    pub thumbs: BTreeMap<usize, Thumb>,
    /// Thumbnails asked for and not arrived yet.
    pub thumbs_requested: BTreeSet<usize>,
    /// The evenly spread frames shown before a model has run.
    pub strip: Vec<usize>,
    pub frame_texture: Option<(usize, egui::TextureHandle)>,
    pub substituted_thumbnails: usize,
    /// The 3D view's atlas of the clip it shows.
    pub atlas: Option<Arc<render::cube_view::Atlas>>,
    /// A frame the viewer could not decode: not asked for again until the playhead moves.
    pub failed_frame: Option<usize>,
}

/// A cube dragged on the viewer: which, where its box was on screen and where the drag began.
#[derive(Debug, Clone, Copy)]
pub struct CubeDrag {
    pub clip: usize,
    pub order: usize,
    pub rect: egui::Rect,
    pub from: egui::Pos2,
}

/// The loaded checkpoint, as the UI knows it.
pub struct ModelView {
    pub info: CheckpointInfo,
    pub budget: Option<Box<BudgetModel>>,
    /// Why a calibration set beside the checkpoint could not be used.
    pub calibration_problem: Option<String>,
}

pub struct Progress {
    pub label: String,
    pub done: usize,
    pub total: usize,
}

/// Playback: the playhead moves at the video's rate from where it started.
#[derive(Debug, Clone, Copy)]
pub struct Playing {
    pub since: f64,
    pub from: usize,
}

/// The timeline's visible range, in frames (fractional while zooming).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeView {
    pub start: f64,
    pub end: f64,
}

/// Orbit camera of the 3D cube view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orbit {
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
}

impl Default for Orbit {
    fn default() -> Self {
        Self {
            yaw: 0.9,
            pitch: 0.3,
            distance: 5.0,
        }
    }
}

pub struct AdalensApp {
    pub state: AppState,
    pub loaded: Option<Loaded>,
    pub model: Option<ModelView>,
    pub decisions: Option<Decisions>,
    /// Compare mode: run B beside the model's run A (the decisions above).
    pub compare: Option<CompareView>,
    /// A cube being dragged on the viewer (what-if).
    pub cube_drag: Option<CubeDrag>,
    pub errors: Vec<ErrorNote>,
    pub progress: Option<Progress>,
    pub playing: Option<Playing>,
    pub time_view: Option<TimeView>,
    pub orbit: Orbit,
    pub show_help: bool,
    /// A one-line notice for the status bar (a figure written…).
    pub notice: Option<String>,
    /// The model's run was cancelled before it finished: Resume goes on from what it kept.
    pub resumable: bool,
    /// The batch run open in the dataset view, and whether that view is shown (else the
    /// inspector).
    pub dataset: Option<DatasetView>,
    pub showing_dataset: bool,
    /// The dataset row the inspector shows.
    pub open_row: Option<usize>,
    /// The logged trace open without a model (`--trace`), if any.
    pub logged: Option<logged::LoggedView>,
    /// A row's stored trace and the knobs it ran with, waiting for its video to open.
    stored_trace: Option<StoredTrace>,
    /// The compared run's trace of that row (its folder, trace, knobs): opens as B.
    stored_compare: Option<StoredTrace>,
    /// Which batch run the row thumbnails belong to.
    run_generation: u64,
    /// The last batch the window ran (source, result folder): Resume runs it again.
    pub last_batch: Option<(PathBuf, PathBuf)>,
    /// Undo and redo of the sliders and toggles.
    history: history::History,
    commands: Vec<Command>,
    jobs: Jobs,
    cache: FrameCache,
    /// The generation of the loaded video; results of other generations are ignored.
    generation: u64,
    /// The last generation handed out (a video being opened may not have arrived yet).
    issued: u64,
    /// Frames asked of the frame worker and not arrived yet (first, last).
    requested_frame: Option<(usize, usize)>,
    config: Option<PathBuf>,
    /// Whether the wgpu render state exists (the 3D view needs it).
    has_wgpu: bool,
    /// The native window clears to the panels' colour ([`eframe::App::clear_color`]), so its
    /// panels paint no fill of their own (see `panels::panel_frame`); the test harness clears
    /// to transparent and keeps them.
    pub(crate) cleared_to_panel_fill: bool,
    frame_stats: Option<FrameStats>,
}

/// Frame-to-frame times of continuous redraw (see [`Launch::frame_stats`]), and how long after
/// the window's first frame the first clip's decisions and the last one's arrived to be drawn.
struct FrameStats {
    want: usize,
    scene: FrameStatsScene,
    last: Option<std::time::Instant>,
    times_ms: Vec<f64>,
    first_frame: Option<std::time::Instant>,
    first_clip_ms: Option<f64>,
    all_clips_ms: Option<f64>,
}

impl AdalensApp {
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> Self {
        let state: AppState = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let has_wgpu = cc.wgpu_render_state.is_some();
        if let Some(rs) = &cc.wgpu_render_state {
            render::cube_view::install(rs);
        }
        let ctx = cc.egui_ctx.clone();
        let jobs = Jobs::new(ctx);
        let mut app = Self {
            state,
            loaded: None,
            model: None,
            decisions: None,
            compare: None,
            cube_drag: None,
            errors: Vec::new(),
            progress: None,
            playing: None,
            time_view: None,
            orbit: Orbit::default(),
            show_help: false,
            notice: None,
            resumable: false,
            dataset: None,
            showing_dataset: false,
            open_row: None,
            stored_trace: None,
            logged: None,
            stored_compare: None,
            run_generation: 0,
            last_batch: None,
            history: history::History::default(),
            commands: Vec::new(),
            jobs,
            cache: FrameCache::new(512 << 20),
            generation: 0,
            issued: 0,
            requested_frame: None,
            config: launch.config.clone(),
            has_wgpu,
            cleared_to_panel_fill: false,
            frame_stats: launch.frame_stats.map(|want| FrameStats {
                want: want.max(1),
                scene: launch.frame_stats_scene,
                last: None,
                times_ms: Vec::new(),
                first_frame: None,
                first_clip_ms: None,
                all_clips_ms: None,
            }),
        };
        if let Some(run) = launch.run.clone() {
            app.commands.push(Command::OpenRun(run));
        }
        if let Some(trace) = launch.trace.clone() {
            app.commands.push(Command::OpenTrace {
                trace,
                video: launch.video.clone(),
                calibration: launch.calibration.clone(),
            });
            return app;
        }
        let demo = launch.video.is_none() && launch.checkpoint.is_none() && launch.run.is_none();
        let launch = if demo {
            Launch {
                frame_stats: launch.frame_stats,
                frame_stats_scene: launch.frame_stats_scene,
                compare: launch.compare,
                ..Launch::demo()
            }
        } else {
            launch
        };
        // A video without a checkpoint: the one opened last, else the demo's.
        let checkpoint = launch.checkpoint.or_else(|| {
            app.state
                .recent_checkpoints
                .first()
                .filter(|p| p.is_file())
                .cloned()
                .or_else(|| Some(bundled(DEMO_CHECKPOINT)))
        });
        let video = launch.video;
        // A batch run opens its own checkpoint.
        let checkpoint = checkpoint.filter(|_| launch.run.is_none());
        if let Some(c) = checkpoint {
            app.commands.push(Command::OpenCheckpoint(c));
        }
        if let Some(v) = video {
            app.commands.push(Command::OpenVideo(v));
        }
        if let Some(spec) = launch.compare {
            app.commands.push(Command::Compare(spec));
        }
        app
    }

    pub fn push(&mut self, c: Command) {
        self.commands.push(c);
    }

    pub fn jobs_busy(&self) -> bool {
        self.jobs.busy()
    }

    /// Whether the bundled untrained fixture is the loaded checkpoint.
    pub fn is_untrained_demo(&self) -> bool {
        self.model
            .as_ref()
            .is_some_and(|m| m.info.path.ends_with(UNTRAINED_CHECKPOINT))
    }

    /// No job is running or waiting and the model's last result is in (for tests and scripts).
    pub fn is_idle(&self) -> bool {
        !self.jobs.busy() && self.commands.is_empty() && self.progress.is_none()
    }

    pub fn has_wgpu(&self) -> bool {
        self.has_wgpu
    }
}

impl AdalensApp {
    /// With `--frame-stats`: a run's result (`whole`, or the clips so far) has arrived and is
    /// drawn this frame.
    fn note_run_arrived(&mut self, whole: bool) {
        let Some(s) = &mut self.frame_stats else {
            return;
        };
        let since = s
            .first_frame
            .map(|t| t.elapsed().as_secs_f64() * 1e3)
            .unwrap_or(0.0);
        s.first_clip_ms.get_or_insert(since);
        if whole {
            s.all_clips_ms.get_or_insert(since);
        }
    }

    /// With `--frame-stats N`: once the demo is loaded, redraw continuously (stepping the
    /// playhead so every frame has new work), then print median / p99 and close.
    fn measure_frame(&mut self, ctx: &egui::Context) {
        let ready = self.is_idle() && self.decisions.is_some();
        let Some(s) = &mut self.frame_stats else {
            return;
        };
        s.first_frame.get_or_insert_with(std::time::Instant::now);
        if !ready && s.last.is_none() {
            return;
        }
        let now = std::time::Instant::now();
        if let Some(last) = s.last.replace(now) {
            s.times_ms.push((now - last).as_secs_f64() * 1e3);
        }
        if s.times_ms.len() >= s.want {
            let mut t = std::mem::take(&mut s.times_ms);
            t.sort_by(f64::total_cmp);
            let q = |p: f64| t[(t.len().saturating_sub(1) as f64 * p).round() as usize];
            println!(
                "frame time over {} frames: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                t.len(),
                q(0.5),
                q(0.99),
                q(1.0)
            );
            let ms = |v: Option<f64>| v.map_or("none".into(), |v| format!("{v:.0}"));
            println!(
                "first_clip_ms {} all_clips_ms {}",
                ms(s.first_clip_ms),
                ms(s.all_clips_ms)
            );
            self.frame_stats = None;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        let step = if s.times_ms.len() % 2 == 0 { 1 } else { -1 };
        // Still: redraw without moving the playhead (no frame decoding alongside).
        if s.scene == FrameStatsScene::Moving {
            self.commands.push(Command::Step(step));
        }
        ctx.request_repaint();
    }
}

pub fn to_color_image(img: &RgbFrame) -> egui::ColorImage {
    egui::ColorImage::from_rgb([img.width as usize, img.height as usize], &img.data)
}

impl eframe::App for AdalensApp {
    /// The panels' own colour: with the window cleared to it, the panels need not paint it.
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.handle_events(ctx);
        self.handle_input(ctx);
        self.advance_playback(ctx);
        self.handle_commands(ctx);
        self.sync_compare();
        let settled = !ctx.input(|i| i.pointer.any_down());
        self.history
            .observe(history::Settings::of(&self.state), settled);
        if let Some(l) = &self.loaded {
            self.jobs.set_focus(l.current);
        }
        self.refresh_dataset(settled);
        let at_playhead = self.frames_at_playhead();
        self.want_thumbnails(at_playhead);
        self.measure_frame(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        // Benchmark floor (BENCHMARKS.md): the same window drawing nothing but an empty panel.
        if self
            .frame_stats
            .as_ref()
            .is_some_and(|s| s.scene == FrameStatsScene::Empty)
        {
            egui::CentralPanel::default().show(ui, |ui| ui.label("empty"));
            return;
        }
        self.top_bar_ui(ui);
        self.status_ui(ui);
        if self.showing_dataset && self.dataset.is_some() {
            self.dataset_side_ui(ui);
            self.dataset_table_ui(ui);
            if self.show_help {
                self.help_ui(ui);
            }
            return;
        }
        if self.state.show_timeline {
            self.timeline_ui(ui);
        }
        if self.state.show_side {
            self.side_ui(ui);
        }
        self.centre_ui(ui);
        if self.show_help {
            self.help_ui(ui);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}
