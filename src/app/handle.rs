//! Commands, keyboard shortcuts and playback, handled once per frame.

use std::path::PathBuf;

use super::budget::BudgetModel;
use super::command::Command;
use super::jobs::FigureRequest;
use super::model_worker::ModelRequest;
use super::{to_color_image, AdalensApp, ErrorNote, Playing};
use crate::figure::{FigureOptions, Lane};
use crate::model::config::Knobs;
use crate::video::DecodeCheck;

use crate::batch::VIDEO_EXTENSIONS;
const CHECKPOINT_EXTENSIONS: &[&str] = &["safetensors", "pth", "tar", "pyth", "pt", "bin"];

/// A dropped or opened file is a checkpoint when its name says so.
pub fn is_checkpoint(path: &std::path::Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    CHECKPOINT_EXTENSIONS
        .iter()
        .any(|e| name.ends_with(&format!(".{e}")))
}

impl AdalensApp {
    /// τ_f, τ_s and the cube cap from the sliders, else the checkpoint's own.
    pub fn knobs(&self) -> Knobs {
        let own = self.model.as_ref().map_or(
            Knobs {
                frame_threshold: 0.5,
                stage_threshold: 0.5,
                max_cubes: None,
            },
            |m| m.info.knobs,
        );
        let s = &self.state.sliders;
        own.with(s.frame_threshold, s.stage_threshold, s.max_cubes)
    }

    /// The calibration set and the budget on the slider (clamped to its range; the middle of
    /// it when the slider was never moved).
    pub fn budget_choice(&self) -> Option<(&BudgetModel, f64)> {
        let m = self.active_budget()?;
        let (lo, hi) = m.range;
        let b = self.state.sliders.budget.unwrap_or((lo + hi) / 2.0);
        Some((m, b.clamp(lo, hi)))
    }

    /// The calibration set the budget slider solves on: the open run's own labels when the
    /// dataset view is asked to fit on them, else the checkpoint's.
    pub fn active_budget(&self) -> Option<&BudgetModel> {
        if let Some(d) = self.dataset.as_ref().filter(|d| d.use_own) {
            return d.own.as_ref().and_then(|o| o.as_ref().ok()).map(|b| &**b);
        }
        match (&self.model, &self.logged) {
            (Some(m), _) => m.budget.as_deref(),
            (None, Some(l)) => l.budget.as_deref(),
            (None, None) => None,
        }
    }

    /// A file dialog opening in the folder of the last file picked or saved.
    fn dialog(&self) -> rfd::FileDialog {
        let d = rfd::FileDialog::new();
        match self.state.last_folder.as_deref().filter(|f| f.is_dir()) {
            Some(folder) => d.set_directory(folder),
            None => d,
        }
    }

    /// Remember where a dialog's file was, for the next dialog.
    /// Open `path` as the newest video (an older open still running is dropped when done).
    fn open_video(&mut self, path: PathBuf, check: DecodeCheck) {
        self.issued += 1;
        self.jobs
            .open_video(path, check, self.state.strip_frames, self.issued);
    }

    fn remember_folder(&mut self, file: &std::path::Path) {
        if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
            self.state.last_folder = Some(folder.to_path_buf());
        }
    }

    pub(crate) fn handle_commands(&mut self, ctx: &egui::Context) {
        for c in std::mem::take(&mut self.commands) {
            match c {
                Command::PickVideo => {
                    let picked = self
                        .dialog()
                        .set_title("Open video")
                        .add_filter("Videos", &VIDEO_EXTENSIONS)
                        .add_filter("All files", &["*"])
                        .pick_file();
                    if let Some(p) = picked {
                        self.remember_folder(&p);
                        self.commands.push(Command::OpenVideo(p));
                    }
                }
                Command::PickCheckpoint => {
                    let picked = self
                        .dialog()
                        .set_title("Open checkpoint")
                        .add_filter("Checkpoints", CHECKPOINT_EXTENSIONS)
                        .add_filter("All files", &["*"])
                        .pick_file();
                    if let Some(p) = picked {
                        self.remember_folder(&p);
                        self.commands.push(Command::OpenCheckpoint(p));
                    }
                }
                Command::OpenVideo(path) => self.open_video(path, DecodeCheck::Auto),
                Command::CheckFrameNumbers => {
                    if let Some(l) = &self.loaded {
                        let path = l.video.path().to_path_buf();
                        self.open_video(path, DecodeCheck::Always);
                    }
                }
                Command::PickTrace => {
                    if let Some(p) = self
                        .dialog()
                        .add_filter("DecisionTrace", &["json"])
                        .pick_file()
                    {
                        self.remember_folder(&p);
                        self.commands.push(Command::OpenTrace {
                            trace: p,
                            video: None,
                            calibration: None,
                        });
                    }
                }
                Command::OpenTrace {
                    trace,
                    video,
                    calibration,
                } => self.jobs.open_trace(trace, video, calibration),
                Command::OpenCheckpoint(path) => {
                    self.logged = None;
                    self.jobs.model(ModelRequest::Load {
                        path,
                        config: self.config.take(),
                    });
                }
                Command::ExportDecisions => self.export_decisions(),
                Command::ExportFigure => self.export_figure(),
                Command::ExportFigureTo(path) => {
                    if let Some(req) = self.figure_request() {
                        self.notice = None;
                        self.jobs.export_figure(req, path);
                    }
                }
                Command::Seek(n) => self.seek(n),
                Command::Step(d) => {
                    self.playing = None;
                    if let Some(l) = &self.loaded {
                        let n = (l.current as i64 + d).clamp(0, l.video.frame_count() as i64 - 1);
                        self.seek(n as usize);
                    }
                }
                Command::JumpDecision(dir) => {
                    self.playing = None;
                    let current = self.loaded.as_ref().map(|l| l.current);
                    if let (Some(d), Some(c)) = (&self.decisions, current) {
                        if let Some(n) = d.next_point(c, dir) {
                            self.seek(n);
                        }
                    }
                }
                Command::TogglePlay => {
                    self.playing = match (self.playing, &self.loaded) {
                        (None, Some(l)) => Some(Playing {
                            since: ctx.input(|i| i.time),
                            from: if l.current + 1 >= l.video.frame_count() {
                                0
                            } else {
                                l.current
                            },
                        }),
                        _ => None,
                    }
                }
                // A logged trace has no model to run again.
                Command::Rerun if self.model.is_none() => {}
                Command::Rerun => match &self.decisions {
                    Some(d) => self.jobs.model(ModelRequest::Rerun {
                        knobs: self.knobs(),
                        generation: d.generation,
                    }),
                    // No result yet (still running, or cancelled): the whole analysis, with
                    // the sliders as they are now.
                    None => self.analyse(),
                },
                Command::CancelJob => {
                    self.jobs.cancel();
                    if let Some(cancel) = self.compare.as_mut().and_then(|c| c.cancel.take()) {
                        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    self.progress = None;
                }
                Command::Resume => {
                    self.resumable = false;
                    // The warm session keeps every clip it finished: only the rest runs.
                    self.jobs.model(ModelRequest::Rerun {
                        knobs: self.knobs(),
                        generation: self.generation,
                    });
                }
                Command::DismissError => self.errors.clear(),
                c @ (Command::PickRun
                | Command::PickBatchSource { .. }
                | Command::RunBatch { .. }
                | Command::OpenRun(_)
                | Command::PickCompareRun
                | Command::OpenCompareRun(_)
                | Command::OpenRow(_)
                | Command::ShowDataset
                | Command::ExportSelection
                | Command::ExportSelectionTo(_)) => self.handle_dataset_command(c),
                Command::Compare(spec) => self.open_compare(spec),
                Command::PickCompareCheckpoint => {
                    let picked = self
                        .dialog()
                        .set_title("Compare with checkpoint (B)")
                        .add_filter("Checkpoints", CHECKPOINT_EXTENSIONS)
                        .add_filter("All files", &["*"])
                        .pick_file();
                    if let Some(p) = picked {
                        self.remember_folder(&p);
                        self.compare_with_checkpoint(p);
                    }
                }
                Command::CloseCompare => self.close_compare(),
                Command::WhatIf { clip, edit } => self.what_if_edit(clip, edit),
            }
        }
        self.show_current_frame(ctx);
    }

    /// Upload the frame under the playhead if it is cached, else ask the frame worker for it.
    fn show_current_frame(&mut self, ctx: &egui::Context) {
        let Some(l) = &mut self.loaded else { return };
        let shown = l.frame_texture.as_ref().map(|(n, _)| *n);
        if shown == Some(l.current) || l.failed_frame == Some(l.current) {
            return;
        }
        if let Some(img) = self.cache.get(l.current) {
            l.frame_texture = Some((
                l.current,
                ctx.load_texture("frame", to_color_image(img), egui::TextureOptions::LINEAR),
            ));
        } else if !self
            .requested_frame
            .is_some_and(|(a, b)| (a..=b).contains(&l.current))
        {
            // While playing, decode a second of frames ahead in one run.
            let ahead = if self.playing.is_some() { 25 } else { 0 };
            let last = (l.current + ahead).min(l.video.frame_count().saturating_sub(1));
            self.requested_frame = Some((l.current, last));
            self.jobs
                .request_frame(&l.video, l.current, ahead, self.generation);
        }
    }

    /// Re-mark the exits for the budget and criterion on the sliders (pure data, no model run).
    pub(crate) fn remark(&mut self) {
        let criterion = self.state.sliders.criterion;
        if let Some(mut d) = self.decisions.take() {
            d.remark(self.budget_choice(), criterion);
            self.decisions = Some(d);
        }
    }

    fn seek(&mut self, n: usize) {
        if let Some(l) = &mut self.loaded {
            l.current = n.min(l.video.frame_count().saturating_sub(1));
            // The user moved: a frame that failed before may be tried again.
            l.failed_frame = None;
        }
    }

    fn export_decisions(&mut self) {
        let Some(d) = &self.decisions else { return };
        let Some(path) = self
            .dialog()
            .set_title("Export decisions (DecisionTrace JSON)")
            .add_filter("JSON", &["json"])
            .set_file_name("decisions.json")
            .save_file()
        else {
            return;
        };
        self.state.last_folder = path.parent().map(std::path::Path::to_path_buf);
        let written = d
            .trace
            .to_json()
            .map_err(|e| e.to_string())
            .and_then(|json| std::fs::write(&path, json).map_err(|e| e.to_string()));
        if let Err(e) = written {
            self.errors.push(ErrorNote {
                what: format!("Writing {}", path.display()),
                detail: e,
            });
        }
    }

    /// What "Export figure" draws: the lanes and overlays on screen, the window's step colours
    /// and hollow after-exit cubes, the clip under the playhead.
    pub fn figure_request(&self) -> Option<FigureRequest> {
        let d = self.decisions.as_ref()?;
        let loaded = self.loaded.as_ref()?;
        let current = loaded.current;
        let clip = d
            .trace
            .clips
            .iter()
            .position(|c| {
                let f = c.frames.iter().map(|f| f.frame);
                f.clone().min().is_some_and(|a| a <= current)
                    && f.max().is_some_and(|b| current <= b)
            })
            .unwrap_or(0);
        Some(FigureRequest {
            video: loaded.video.clone(),
            trace: d.trace.clone(),
            clip,
            knobs: d.knobs,
            options: self.figure_options(),
            compare: self.compare.as_ref().and_then(|c| {
                let b = c.decisions.as_ref()?;
                Some((b.trace.clone(), b.knobs, c.spec.label()))
            }),
        })
    }

    /// The figure options of what is on screen: the lanes and overlays shown, the window's
    /// step colours and hollow after-exit cubes (the inspector's and the dataset view's
    /// exports).
    pub fn figure_options(&self) -> FigureOptions {
        let (lanes, overlays) = (&self.state.lanes, &self.state.overlays);
        let mut shown = Vec::new();
        if lanes.thumbnails {
            shown.push(Lane::Frames);
        }
        if lanes.cubes && overlays.cubes {
            shown.push(Lane::Cubes);
        }
        if lanes.stages {
            shown.push(Lane::Stages);
        }
        if lanes.entropy {
            shown.push(Lane::Entropy);
        }
        shown.extend([Lane::Predictions, Lane::Gflops]);
        FigureOptions {
            theme: self.state.figure_theme,
            lanes: shown,
            width_mm: self.state.figure_width_mm,
            step_colours: true,
            after_exit: true,
            caption: None,
            frames_per_row: None,
        }
    }

    fn export_figure(&mut self) {
        if self.decisions.is_none() {
            return;
        }
        let Some(path) = self
            .dialog()
            .set_title("Export figure")
            .add_filter("PNG (300 DPI)", &["png"])
            .add_filter("PDF", &["pdf"])
            .add_filter("SVG", &["svg"])
            .set_file_name("figure.png")
            .save_file()
        else {
            return;
        };
        self.state.last_folder = path.parent().map(std::path::Path::to_path_buf);
        self.push(Command::ExportFigureTo(path));
    }

    /// Move the playhead at the video's frame rate while playing.
    pub(crate) fn advance_playback(&mut self, ctx: &egui::Context) {
        let (Some(p), Some(l)) = (self.playing, &mut self.loaded) else {
            return;
        };
        let probe = l.video.probe();
        let fps = probe
            .frame_rate_avg
            .or(probe.frame_rate_nominal)
            .filter(|r| *r > 0.0)
            .unwrap_or(25.0);
        let elapsed = ctx.input(|i| i.time) - p.since;
        let n = p.from + (elapsed * fps) as usize;
        let last = l.video.frame_count().saturating_sub(1);
        l.current = n.min(last);
        if n >= last {
            self.playing = None;
        } else {
            ctx.request_repaint();
        }
    }

    pub(crate) fn handle_input(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for p in dropped {
            self.commands.push(if is_checkpoint(&p) {
                Command::OpenCheckpoint(p)
            } else if p.is_dir() {
                Command::OpenRun(p)
            } else if p.extension().is_some_and(|e| e == "json") {
                Command::OpenTrace {
                    trace: p,
                    video: None,
                    calibration: None,
                }
            } else {
                Command::OpenVideo(p)
            });
        }
        use egui::{Key, Modifiers};
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::O)) {
            self.commands.push(Command::PickCheckpoint);
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::O)) {
            self.commands.push(Command::PickVideo);
        }
        if ctx.egui_wants_keyboard_input() {
            // A text field takes Ctrl+Z for its text.
            return;
        }
        // Redo first: Ctrl+Z alone also matches Ctrl+Shift+Z.
        let redo = ctx.input_mut(|i| {
            i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z)
                || i.consume_key(Modifiers::COMMAND, Key::Y)
        });
        let undo = !redo && ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::Z));
        if undo || redo {
            let now = super::history::Settings::of(&self.state);
            let to = if redo {
                self.history.redo(now)
            } else {
                self.history.undo(now)
            };
            if let Some(s) = to {
                s.apply(&mut self.state);
                // τ_f, τ_s or the cap may have changed (a warm re-run; nothing when they did
                // not), and the budget or criterion (a re-mark).
                self.push(Command::Rerun);
                self.remark();
            }
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let keys = ctx.input(|i| {
            [
                Key::ArrowRight,
                Key::ArrowLeft,
                Key::Home,
                Key::End,
                Key::Space,
                Key::F1,
                Key::Questionmark,
                Key::Escape,
            ]
            .map(|k| i.key_pressed(k))
        });
        let shift = ctx.input(|i| i.modifiers.shift);
        let [right, left, home, end, space, f1, question, escape] = keys;
        for (pressed, dir) in [(right, 1), (left, -1)] {
            if pressed {
                self.commands.push(if shift {
                    Command::JumpDecision(dir)
                } else {
                    Command::Step(dir)
                });
            }
        }
        if home {
            self.commands.push(Command::Seek(0));
        }
        if end {
            self.commands.push(Command::Seek(usize::MAX));
        }
        if space {
            self.commands.push(Command::TogglePlay);
        }
        if f1 || question {
            self.show_help = !self.show_help;
        }
        if escape {
            self.show_help = false;
        }
    }
}
