use crate::app::command::Command;
use crate::app::AdalensApp;
use crate::decision::Criterion;

impl AdalensApp {
    /// Open buttons, recent files, view toggles, export, the running job with its cancel button.
    pub(crate) fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        let frame = self.panel_frame(egui::Frame::side_top_panel(ui.style()));
        egui::Panel::top("top_bar").frame(frame).show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .button("Open video…")
                    .on_hover_text("Ctrl+O, or drop a file on the window")
                    .clicked()
                {
                    self.push(Command::PickVideo);
                }
                if ui
                    .button("Open checkpoint…")
                    .on_hover_text("Ctrl+Shift+O, or drop a .safetensors / .pth file on the window")
                    .clicked()
                {
                    self.push(Command::PickCheckpoint);
                }
                ui.menu_button("Dataset", |ui| self.dataset_menu_ui(ui));
                ui.menu_button("Compare", |ui| self.compare_menu_ui(ui));
                if self.dataset.is_some() {
                    if self.showing_dataset {
                        if ui
                            .add_enabled(self.loaded.is_some(), egui::Button::new("Inspector"))
                            .clicked()
                        {
                            self.showing_dataset = false;
                        }
                    } else if ui
                        .button("Back to the run")
                        .on_hover_text("The dataset view, with its filter, sort and selection")
                        .clicked()
                    {
                        self.push(Command::ShowDataset);
                    }
                }
                ui.menu_button("Recent", |ui| self.recent_menu_ui(ui));
                ui.menu_button("View", |ui| self.view_menu_ui(ui));
                if ui
                    .add_enabled(
                        self.decisions.is_some(),
                        egui::Button::new("Export decisions…"),
                    )
                    .on_hover_text("The DecisionTrace of this video, as JSON")
                    .clicked()
                {
                    self.push(Command::ExportDecisions);
                }
                ui.add_enabled_ui(self.decisions.is_some(), |ui| {
                    ui.menu_button("Export figure", |ui| self.figure_menu_ui(ui))
                        .response
                        .on_hover_text(
                            "A paper-ready figure (SVG, PNG or PDF) of what is on screen, \
                             laid out as `adalens figure` does",
                        );
                });
                if ui.button("Help").on_hover_text("F1 or ?").clicked() {
                    self.show_help = !self.show_help;
                }
                ui.separator();
                self.progress_ui(ui);
            });
        });
    }

    /// Compare mode: B is another checkpoint, another budget or the other exit criterion.
    fn compare_menu_ui(&mut self, ui: &mut egui::Ui) {
        let ready = self.loaded.is_some() && self.model.is_some();
        if ui
            .add_enabled(ready, egui::Button::new("With another checkpoint…"))
            .on_hover_text("B runs that checkpoint (same or other arch) at its own settings")
            .clicked()
        {
            self.push(Command::PickCompareCheckpoint);
            ui.close();
        }
        let other_budget = self.budget_choice().map(|(m, a)| {
            let (lo, hi) = m.range;
            if a >= (lo + hi) / 2.0 {
                lo + 0.25 * (hi - lo)
            } else {
                hi - 0.25 * (hi - lo)
            }
        });
        if ui
            .add_enabled(
                ready && other_budget.is_some(),
                egui::Button::new("At another budget"),
            )
            .on_hover_text("B is this run with the exits of another budget (its own slider)")
            .clicked()
        {
            self.push(Command::Compare(crate::app::CompareSpec {
                budget: other_budget,
                ..Default::default()
            }));
            ui.close();
        }
        let other = match self.state.sliders.criterion {
            Criterion::Entropy => Criterion::Confidence,
            Criterion::Confidence => Criterion::Entropy,
        };
        if ui
            .add_enabled(ready, egui::Button::new(format!("With the {other} exit")))
            .clicked()
        {
            self.push(Command::Compare(crate::app::CompareSpec {
                criterion: Some(other),
                ..Default::default()
            }));
            ui.close();
        }
        if ui
            .add_enabled(self.compare.is_some(), egui::Button::new("Close compare"))
            .clicked()
        {
            self.push(Command::CloseCompare);
            ui.close();
        }
    }

    /// Open a batch run, or run the loaded checkpoint over a folder or list.
    fn dataset_menu_ui(&mut self, ui: &mut egui::Ui) {
        if ui
            .button("Open batch run…")
            .on_hover_text(
                "The --out folder of `adalens batch`, or a folder of logged traces with a \
                 labels.csv (or drop the folder on the window)",
            )
            .clicked()
        {
            self.push(Command::PickRun);
            ui.close();
        }
        if ui
            .button("Open logged trace…")
            .on_hover_text(
                "A trace another program logged (Python's adalens.TraceBuilder): its video opens \
                 with the decisions drawn, no checkpoint needed",
            )
            .clicked()
        {
            self.push(Command::PickTrace);
            ui.close();
        }
        if ui
            .add_enabled(
                self.dataset.is_some(),
                egui::Button::new("Compare with another run…"),
            )
            .on_hover_text(
                "Another batch run over the same videos (B): per video, flips from this run to \
                 it, its exit and GFLOPs (columns flip, exit_b, gflops_b, gflops_diff, correct_b)",
            )
            .clicked()
        {
            self.push(Command::PickCompareRun);
            ui.close();
        }
        ui.add_enabled_ui(self.model.is_some(), |ui| {
            let hint = "Runs the loaded checkpoint with the sliders' τ_f, τ_s and cube cap, \
                        as `adalens batch` (same files: resumable from either)";
            if ui.button("Run on a folder…").on_hover_text(hint).clicked() {
                self.push(Command::PickBatchSource { folder: true });
                ui.close();
            }
            if ui
                .button("Run on a list (path,label CSV)…")
                .on_hover_text(hint)
                .clicked()
            {
                self.push(Command::PickBatchSource { folder: false });
                ui.close();
            }
        });
    }

    fn recent_menu_ui(&mut self, ui: &mut egui::Ui) {
        ui.label("Videos");
        if self.state.recent_videos.is_empty() {
            ui.weak("none yet");
        }
        for p in self.state.recent_videos.clone() {
            if ui.button(p.display().to_string()).clicked() {
                self.push(Command::OpenVideo(p));
                ui.close();
            }
        }
        ui.separator();
        ui.label("Batch runs");
        if self.state.recent_runs.is_empty() {
            ui.weak("none yet");
        }
        for p in self.state.recent_runs.clone() {
            if ui.button(p.display().to_string()).clicked() {
                self.push(Command::OpenRun(p));
                ui.close();
            }
        }
        ui.separator();
        ui.label("Checkpoints");
        if self.state.recent_checkpoints.is_empty() {
            ui.weak("none yet");
        }
        for p in self.state.recent_checkpoints.clone() {
            if ui.button(p.display().to_string()).clicked() {
                self.push(Command::OpenCheckpoint(p));
                ui.close();
            }
        }
    }

    fn view_menu_ui(&mut self, ui: &mut egui::Ui) {
        let s = &mut self.state;
        ui.checkbox(&mut s.show_timeline, "Timeline");
        ui.checkbox(&mut s.show_side, "Side panel");
        ui.checkbox(&mut s.show_cube_view, "3D cube view");
        ui.checkbox(&mut s.show_probe, "Video details");
        ui.separator();
        ui.label("Lanes");
        ui.checkbox(&mut s.lanes.thumbnails, "Sampled frames");
        ui.checkbox(&mut s.lanes.keep, "Keep probability m_t");
        ui.checkbox(&mut s.lanes.cubes, "Cubes");
        ui.checkbox(&mut s.lanes.entropy, "Entropy per step");
        ui.checkbox(&mut s.lanes.stages, "3D stages");
        ui.separator();
        ui.label("Viewer overlays");
        ui.checkbox(&mut s.overlays.cubes, "Cube boxes");
        ui.checkbox(&mut s.overlays.labels, "Cube numbers");
        ui.checkbox(&mut s.overlays.mask, "Mask discarded frames");
        ui.separator();
        ui.add(egui::Slider::new(&mut s.strip_frames, 4..=96).text("strip thumbnails (next open)"));
    }

    fn progress_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(p) = &self.progress {
            let frac = if p.total > 0 {
                p.done as f32 / p.total as f32
            } else {
                0.0
            };
            // The label beside the bar, the count in it: a long label is never cut off.
            ui.label(&p.label);
            ui.add(
                egui::ProgressBar::new(frac)
                    .desired_width(140.0)
                    .text(format!("{}/{}", p.done, p.total)),
            );
            if ui.button("Cancel").clicked() {
                self.push(Command::CancelJob);
            }
        } else if self.jobs_busy() {
            ui.spinner();
            if ui.button("Cancel").clicked() {
                self.push(Command::CancelJob);
            }
        } else if self.resumable {
            let left = self.decisions.as_ref().map_or(String::new(), |d| {
                format!(
                    " ({} of {} clips run)",
                    d.pending_total() - d.pending.len(),
                    d.pending_total()
                )
            });
            ui.label(format!("Cancelled{left}"));
            if ui
                .button("Resume")
                .on_hover_text("Run the clips not run yet; the finished ones are kept")
                .clicked()
            {
                self.push(Command::Resume);
            }
        }
    }

    /// Theme and width of the exported figure, and the button that saves it.
    fn figure_menu_ui(&mut self, ui: &mut egui::Ui) {
        use crate::figure::{Theme, ONE_COLUMN_MM, TWO_COLUMN_MM};
        ui.label("Theme");
        ui.radio_value(&mut self.state.figure_theme, Theme::Light, "Light (paper)");
        ui.radio_value(&mut self.state.figure_theme, Theme::Dark, "Dark (slides)");
        ui.separator();
        ui.label("Width");
        ui.radio_value(
            &mut self.state.figure_width_mm,
            ONE_COLUMN_MM,
            format!("One column ({ONE_COLUMN_MM} mm)"),
        );
        ui.radio_value(
            &mut self.state.figure_width_mm,
            TWO_COLUMN_MM,
            format!("Two columns ({TWO_COLUMN_MM} mm)"),
        );
        ui.separator();
        if ui.button("Save figure…").clicked() {
            self.push(Command::ExportFigure);
            ui.close();
        }
    }
}
