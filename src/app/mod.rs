//! The window (eframe on wgpu). One `AdalensApp` holds the persisted [`state::AppState`], the
//! loaded data, and the background [`jobs::Jobs`]; panels live in `panels/`, one per file.

mod command;
mod jobs;
mod panels;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;

use crate::video::{RgbFrame, Video};
use command::Command;
use jobs::{FrameCache, JobEvent, Jobs};
use state::AppState;

/// Open the window; `video` is opened at start when given.
pub fn run(video: Option<PathBuf>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        viewport: egui::ViewportBuilder::default()
            .with_title("adalens")
            .with_app_id("adalens")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "adalens",
        options,
        Box::new(move |cc| Ok(Box::new(AdalensApp::new(cc, video)))),
    )
    .map_err(|e| anyhow!("the window could not start: {e}"))
}

/// A user-visible error: what failed and FFmpeg's or our detail.
pub struct ErrorNote {
    pub what: String,
    pub detail: String,
}

/// What is loaded right now (never persisted).
pub struct Loaded {
    pub video: Video,
    pub current: usize,
    pub thumbnails: Vec<(usize, egui::TextureHandle)>,
    pub frame_texture: Option<(usize, egui::TextureHandle)>,
    pub substituted_thumbnails: usize,
}

pub struct Progress {
    pub label: String,
    pub done: usize,
    pub total: usize,
}

pub struct AdalensApp {
    pub state: AppState,
    pub loaded: Option<Loaded>,
    pub errors: Vec<ErrorNote>,
    pub progress: Option<Progress>,
    commands: Vec<Command>,
    jobs: Jobs,
    cache: FrameCache,
    /// Bumped on every open, so results of an older video are ignored.
    generation: u64,
    requested_frame: Option<usize>,
}

impl AdalensApp {
    fn new(cc: &eframe::CreationContext<'_>, video: Option<PathBuf>) -> Self {
        let state: AppState = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let jobs = Jobs::new(Arc::new(move || ctx.request_repaint()));
        let mut app = Self {
            state,
            loaded: None,
            errors: Vec::new(),
            progress: None,
            commands: Vec::new(),
            jobs,
            cache: FrameCache::new(512 << 20),
            generation: 0,
            requested_frame: None,
        };
        if let Some(v) = video {
            app.commands.push(Command::OpenVideo(v));
        }
        app
    }

    pub fn push(&mut self, c: Command) {
        self.commands.push(c);
    }

    pub fn jobs_busy(&self) -> bool {
        self.jobs.busy()
    }

    fn handle_commands(&mut self, ctx: &egui::Context) {
        for c in std::mem::take(&mut self.commands) {
            match c {
                Command::PickVideo => {
                    let picked = rfd::FileDialog::new()
                        .set_title("Open video")
                        .add_filter(
                            "Videos",
                            &[
                                "mp4", "mkv", "webm", "avi", "mov", "m4v", "mpg", "mpeg", "ts",
                                "flv", "wmv",
                            ],
                        )
                        .add_filter("All files", &["*"])
                        .pick_file();
                    if let Some(p) = picked {
                        self.commands.push(Command::OpenVideo(p));
                    }
                }
                Command::OpenVideo(path) => {
                    self.generation += 1;
                    self.jobs
                        .open_video(path, self.state.strip_frames, self.generation);
                }
                Command::Seek(n) => self.seek(n),
                Command::Step(d) => {
                    if let Some(l) = &self.loaded {
                        let n = (l.current as i64 + d).clamp(0, l.video.frame_count() as i64 - 1);
                        self.seek(n as usize);
                    }
                }
                Command::CancelJob => self.jobs.cancel(),
                Command::DismissError => {
                    self.errors.clear();
                }
            }
        }
        // Upload the frame under the playhead if it is cached and not shown yet.
        if let Some(l) = &mut self.loaded {
            let shown = l.frame_texture.as_ref().map(|(n, _)| *n);
            if shown != Some(l.current) {
                if let Some(img) = self.cache.get(l.current) {
                    l.frame_texture = Some((
                        l.current,
                        ctx.load_texture(
                            "frame",
                            to_color_image(img),
                            egui::TextureOptions::LINEAR,
                        ),
                    ));
                } else if self.requested_frame != Some(l.current) {
                    self.requested_frame = Some(l.current);
                    self.jobs
                        .request_frame(&l.video, l.current, self.generation);
                }
            }
        }
    }

    fn seek(&mut self, n: usize) {
        if let Some(l) = &mut self.loaded {
            l.current = n.min(l.video.frame_count().saturating_sub(1));
        }
    }

    fn handle_events(&mut self, ctx: &egui::Context) {
        while let Ok(e) = self.jobs.events.try_recv() {
            match e {
                JobEvent::Progress { label, done, total } => {
                    self.progress = Some(Progress { label, done, total })
                }
                JobEvent::VideoOpened { video } => {
                    self.state.remember_video(video.path().to_path_buf());
                    self.cache.clear();
                    self.requested_frame = None;
                    self.loaded = Some(Loaded {
                        video,
                        current: 0,
                        thumbnails: Vec::new(),
                        frame_texture: None,
                        substituted_thumbnails: 0,
                    });
                }
                JobEvent::Thumbnails {
                    generation,
                    frames,
                    substituted,
                } if generation == self.generation => {
                    self.progress = None;
                    if let Some(l) = &mut self.loaded {
                        l.substituted_thumbnails = substituted;
                        l.thumbnails = frames
                            .iter()
                            .map(|(n, img)| {
                                (
                                    *n,
                                    ctx.load_texture(
                                        format!("thumb{n}"),
                                        to_color_image(img),
                                        egui::TextureOptions::LINEAR,
                                    ),
                                )
                            })
                            .collect();
                    }
                }
                JobEvent::Frame {
                    generation,
                    number,
                    image,
                } if generation == self.generation => {
                    self.cache.insert(number, image);
                    if self.requested_frame == Some(number) {
                        self.requested_frame = None;
                    }
                }
                JobEvent::Thumbnails { .. } | JobEvent::Frame { .. } => {}
                JobEvent::Failed { what, error } => {
                    self.progress = None;
                    self.requested_frame = None;
                    self.errors.push(ErrorNote {
                        what,
                        detail: error,
                    });
                }
                JobEvent::Cancelled => self.progress = None,
            }
        }
        if !self.jobs.busy() && self.progress.as_ref().is_some_and(|p| p.done >= p.total) {
            self.progress = None;
        }
    }

    fn handle_input(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(p) = dropped.into_iter().next() {
            self.commands.push(Command::OpenVideo(p));
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (right, left, shift, home, end) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::ArrowLeft),
                i.modifiers.shift,
                i.key_pressed(egui::Key::Home),
                i.key_pressed(egui::Key::End),
            )
        });
        let step = if shift { 10 } else { 1 };
        if right {
            self.commands.push(Command::Step(step));
        }
        if left {
            self.commands.push(Command::Step(-step));
        }
        if home {
            self.commands.push(Command::Seek(0));
        }
        if end {
            self.commands.push(Command::Seek(usize::MAX));
        }
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::O)) {
            self.commands.push(Command::PickVideo);
        }
    }
}

pub fn to_color_image(img: &RgbFrame) -> egui::ColorImage {
    egui::ColorImage::from_rgb([img.width as usize, img.height as usize], &img.data)
}

impl eframe::App for AdalensApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.handle_events(ctx);
        self.handle_input(ctx);
        self.handle_commands(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.top_bar_ui(ui);
        self.status_ui(ui);
        if self.state.show_strip {
            self.strip_ui(ui);
        }
        self.viewer_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}
