//! The dataset view's side effects: opening a batch run, opening one of its videos in the
//! inspector with the trace the batch stored (no model run), the way back, exporting a figure
//! of the selected rows, and keeping every row's exit on the budget of the slider.

use std::path::PathBuf;
use std::sync::Arc;

use super::command::Command;
use super::dataset::DatasetView;
use super::model_worker::ModelRequest;
use super::row_thumbs::RowThumbRequest;
use super::{to_color_image, AdalensApp, Decisions, ErrorNote};
use crate::batch::table::{Exits, RunTable};

impl AdalensApp {
    pub(crate) fn handle_dataset_command(&mut self, c: Command) {
        match c {
            Command::PickRun => {
                if let Some(dir) = rfd::FileDialog::new()
                    .set_title("Open a batch run (the --out folder of adalens batch)")
                    .pick_folder()
                {
                    self.push(Command::OpenRun(dir));
                }
            }
            Command::OpenRun(dir) => self.jobs.open_run(dir, false),
            Command::PickCompareRun => {
                if let Some(dir) = rfd::FileDialog::new()
                    .set_title("Compare with another batch run (B)")
                    .pick_folder()
                {
                    self.push(Command::OpenCompareRun(dir));
                }
            }
            Command::OpenCompareRun(dir) => self.jobs.open_run(dir, true),
            Command::PickBatchSource { folder } => {
                let dialog = rfd::FileDialog::new();
                let source = if folder {
                    dialog
                        .set_title("Run on a folder of videos (class/video.mp4 labels them)")
                        .pick_folder()
                } else {
                    dialog
                        .set_title("Run on a path,label list")
                        .add_filter("CSV", &["csv", "txt"])
                        .pick_file()
                };
                let out = source.as_ref().and_then(|_| {
                    rfd::FileDialog::new()
                        .set_title(
                            "Where the run's results go (an empty folder, or a run to resume)",
                        )
                        .pick_folder()
                });
                if let (Some(source), Some(out)) = (source, out) {
                    self.push(Command::RunBatch { source, out });
                }
            }
            Command::RunBatch { source, out } => match &self.model {
                Some(m) => {
                    let (checkpoint, knobs) = (m.info.path.clone(), self.knobs());
                    self.last_batch = Some((source.clone(), out.clone()));
                    self.jobs.run_batch(source, out, checkpoint, knobs);
                }
                None => self.errors.push(ErrorNote {
                    what: "Running a batch".into(),
                    detail: "Open a checkpoint first: the batch runs the loaded one".into(),
                }),
            },
            Command::OpenRow(i) => self.open_row(i),
            Command::ShowDataset => self.showing_dataset = self.dataset.is_some(),
            Command::ExportSelection => {
                if let Some(p) = rfd::FileDialog::new()
                    .set_title("Export a figure of the selected videos")
                    .add_filter("Figure", &["svg", "png", "pdf"])
                    .set_file_name("videos.pdf")
                    .save_file()
                {
                    self.push(Command::ExportSelectionTo(p));
                }
            }
            Command::ExportSelectionTo(path) => self.export_selection(path),
            _ => {}
        }
    }

    /// A batch run arrived from the worker: show it, and load its checkpoint (for the budget's
    /// calibration set and re-runs) unless it is the one loaded.
    pub(crate) fn run_opened(&mut self, table: Arc<RunTable>) {
        for w in &table.warnings {
            self.errors.push(ErrorNote {
                what: format!(
                    "Part of the batch run {} cannot be used",
                    table.dir.display()
                ),
                detail: w.clone(),
            });
        }
        let checkpoint = table.settings.checkpoint.clone();
        let loaded = self.model.as_ref().map(|m| m.info.path.clone());
        if checkpoint.as_os_str().is_empty() {
            // Logged traces (`adalens import`, a folder of traces): no model made them.
            self.logged_run_opened(&table);
        } else if checkpoint.is_file() && !loaded.is_some_and(|p| same_file(&p, &checkpoint)) {
            self.push(Command::OpenCheckpoint(checkpoint));
        }
        self.state.remember_run(table.dir.clone());
        self.run_generation += 1;
        self.dataset = Some(DatasetView::new(table));
        self.showing_dataset = true;
        self.open_row = None;
    }

    /// Whether the loaded checkpoint is the one the open run was made with (its calibration
    /// set then decides the run's exits).
    fn run_model_loaded(&self) -> bool {
        match (&self.dataset, &self.model) {
            (Some(d), Some(m)) => same_file(&m.info.path, &d.table.settings.checkpoint),
            _ => false,
        }
    }

    /// Every row's exit on the slider's budget (no work when it has not moved), and the run's
    /// curve once the calibration set is there.
    pub(crate) fn refresh_dataset(&mut self, settled: bool) {
        let logged = self.model.is_none() && self.logged.is_some();
        let ours =
            self.run_model_loaded() || logged || self.dataset.as_ref().is_some_and(|d| d.use_own);
        let criterion = self.state.sliders.criterion;
        let budget = ours.then(|| self.budget_choice()).flatten();
        let has_budget = budget.is_some();
        let exits = DatasetView::exits_for(budget, criterion);
        let checkpoint = match (&self.model, &self.logged) {
            (Some(m), _) => m.budget.as_deref(),
            (None, Some(l)) => l.budget.as_deref(),
            (None, None) => None,
        };
        let Some(d) = self.dataset.as_mut() else {
            return;
        };
        d.set_exits(exits, settled);
        if has_budget {
            d.ensure_curve(checkpoint, criterion);
        }
    }

    /// Open row `i` in the inspector: its video, its stored trace drawn at once, the playhead
    /// at its exit.
    fn open_row(&mut self, i: usize) {
        let Some(d) = &self.dataset else { return };
        let Some(row) = d.table.rows.get(i) else {
            return;
        };
        match d.table.trace(row) {
            Ok(trace) => {
                let knobs = d
                    .table
                    .settings
                    .knobs
                    .unwrap_or(crate::model::config::Knobs {
                        frame_threshold: 0.5,
                        stage_threshold: 0.5,
                        max_cubes: None,
                    });
                // The inspector shows the video as the batch ran it.
                let s = &mut self.state.sliders;
                s.frame_threshold = Some(knobs.frame_threshold);
                s.stage_threshold = Some(knobs.stage_threshold);
                s.max_cubes = knobs.max_cubes;
                let path = PathBuf::from(&row.path);
                // A compared run's trace of the same video opens as B.
                let other = d.other.as_ref().and_then(|o| {
                    let j = (*o.pair.get(i)?)?;
                    let t = o.table.trace(o.table.rows.get(j)?).ok()?;
                    let k = o.table.settings.knobs.unwrap_or(knobs);
                    Some((o.table.dir.clone(), t, k))
                });
                self.stored_compare = other;
                self.stored_trace = Some((path.clone(), trace, knobs));
                self.open_row = Some(i);
                self.showing_dataset = false;
                self.push(Command::OpenVideo(path));
            }
            Err(e) => self.errors.push(ErrorNote {
                what: format!("Opening {}", row.path),
                detail: e.to_string(),
            }),
        }
    }

    /// The video just opened: draw its stored trace if it is the row's, and have the model
    /// worker make its session ready for τ_f / τ_s re-runs. Returns whether it did.
    pub(crate) fn draw_stored_trace(&mut self) -> bool {
        let Some(l) = &self.loaded else { return false };
        let Some((path, trace, knobs)) = self.stored_trace.take() else {
            return false;
        };
        if !same_file(&path, l.video.path()) {
            return false;
        }
        let exit_frame = self.open_row.and_then(|i| {
            let d = self.dataset.as_ref()?;
            d.table.rows.get(i)?.exit_frame(&d.exits)
        });
        let mut dec = Decisions::from_trace(
            self.generation,
            trace,
            knobs,
            self.budget_choice(),
            self.state.sliders.criterion,
        );
        dec.stored = true;
        self.decisions = Some(dec);
        match self.stored_compare.take() {
            Some((run, trace, knobs)) => {
                self.open_compare(crate::app::CompareSpec {
                    run: Some(run),
                    ..Default::default()
                });
                if let Some(c) = &mut self.compare {
                    c.stored = Some((trace, knobs));
                }
            }
            None => self.close_compare(),
        }
        if let Some(n) = exit_frame {
            self.push(Command::Seek(n));
        }
        self.prepare_session();
        true
    }

    /// Have the model worker plan the open video's session without running it.
    pub(crate) fn prepare_session(&mut self) {
        if let (Some(l), Some(_)) = (&self.loaded, &self.model) {
            self.jobs.model(ModelRequest::Prepare {
                video: l.video.clone(),
                generation: self.generation,
            });
        }
    }

    /// A row's thumbnail arrived.
    pub(crate) fn row_thumb_arrived(
        &mut self,
        ctx: &egui::Context,
        run: u64,
        row: usize,
        frame: usize,
        image: Option<crate::video::RgbFrame>,
    ) {
        if run != self.run_generation {
            return;
        }
        let Some(d) = &mut self.dataset else { return };
        let texture = image.map(|img| {
            ctx.load_texture(
                format!("row{row}"),
                to_color_image(&img),
                egui::TextureOptions::LINEAR,
            )
        });
        d.thumbs.insert(row, (frame, texture));
    }

    /// Ask for the thumbnails of `rows` not asked for yet.
    pub(crate) fn want_row_thumbs(&mut self, rows: &[usize]) {
        let run = self.run_generation;
        let Some(d) = &mut self.dataset else { return };
        for &i in rows {
            let Some(row) = d.table.rows.get(i) else {
                continue;
            };
            let Some(frame) = row.exit_frame(&d.exits) else {
                continue;
            };
            if d.thumbs.get(&i).is_some_and(|(f, _)| *f == frame)
                || !d.thumbs_requested.insert((i, frame))
            {
                continue;
            }
            self.jobs.row_thumbs.request(RowThumbRequest {
                run,
                row: i,
                path: PathBuf::from(&row.path),
                frame,
            });
        }
    }

    /// `adalens figure --grid` of the selected rows, with their labels.
    fn export_selection(&mut self, path: PathBuf) {
        let Some(d) = &self.dataset else { return };
        let rows: Vec<usize> = d.selected.iter().copied().collect();
        if rows.is_empty() {
            self.notice = Some("Select rows first (click, Ctrl+click, Shift+click)".into());
            return;
        }
        let mut items = Vec::new();
        for i in rows {
            let row = &d.table.rows[i];
            match d.table.trace(row) {
                Ok(mut trace) => {
                    if let Exits::Rule(r) = &d.exits {
                        r.apply(&mut trace);
                    }
                    let label = (!row.label.is_empty()).then(|| row.label.clone());
                    items.push((PathBuf::from(&row.path), trace, label));
                }
                Err(e) => {
                    self.errors.push(ErrorNote {
                        what: format!("Exporting the figure of {}", row.path),
                        detail: e.to_string(),
                    });
                    return;
                }
            }
        }
        let options = self.figure_options();
        let Some(d) = &self.dataset else { return };
        self.notice = None;
        self.jobs
            .export_grid(items, d.table.settings.knobs, options, path);
    }
}

/// Two spellings of one file (a relative path and its absolute one) are the same file.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
}
