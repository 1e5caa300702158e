//! The dataset view's side panel: the run, the budget slider (the inspector's: one value) that
//! re-decides every video, the run's accuracy against mean GFLOPs with the operating point,
//! what flipped since the budget last moved, and the class facets.

use egui_plot::{Line, Plot, Points};

use crate::app::AdalensApp;
use crate::batch::table::{Exits, RowStatus};

impl AdalensApp {
    pub(crate) fn dataset_side_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::right("dataset_side")
            .frame(self.panel_frame(egui::Frame::side_top_panel(ui.style())))
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.run_heading_ui(ui);
                    ui.separator();
                    self.thresholds_source_ui(ui);
                    if self.budget_controls_ui(ui) {
                        // Every video re-decided now: the summary below and the table (drawn
                        // after this panel) show the new exits in the same frame.
                        self.remark();
                        let settled = !ui.input(|i| i.pointer.any_down());
                        self.refresh_dataset(settled);
                    }
                    self.run_summary_ui(ui);
                    self.compare_summary_ui(ui);
                    self.dataset_lanes_ui(ui);
                    ui.separator();
                    self.run_curve_ui(ui);
                    ui.separator();
                    self.facets_ui(ui);
                });
            });
    }

    fn run_heading_ui(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &self.dataset else { return };
        let t = &d.table;
        ui.heading("Batch run");
        ui.label(t.dir.display().to_string());
        let count = |s: RowStatus| t.rows.iter().filter(|r| r.status == s).count();
        ui.label(format!(
            "{} videos: {} ran, {} failed, {} pending",
            t.rows.len(),
            count(RowStatus::Ok),
            count(RowStatus::Failed),
            count(RowStatus::Pending)
        ));
        ui.label(format!(
            "{} · {}",
            t.settings.arch,
            t.settings.checkpoint.display()
        ));
        let pending = count(RowStatus::Pending);
        let resumable = self
            .last_batch
            .clone()
            .filter(|(_, out)| *out == t.dir && pending > 0 && !self.jobs_busy());
        if let Some((source, out)) = resumable {
            if ui
                .button(format!("Resume the run ({pending} videos to go)"))
                .on_hover_text("Runs the videos not done yet; the finished ones are kept")
                .clicked()
            {
                self.push(crate::app::Command::RunBatch { source, out });
            }
        }
        let Some(d) = &self.dataset else { return };
        let t = &d.table;
        if !t.warnings.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} problem(s) reading it", t.warnings.len()),
            )
            .on_hover_text(t.warnings.join("\n"));
        }
    }

    /// Where η_t come from: the checkpoint's calibration set, or a fit on this run's labels.
    fn thresholds_source_ui(&mut self, ui: &mut egui::Ui) {
        let logged = self.model.is_none() && self.logged.is_some();
        let Some(d) = &mut self.dataset else { return };
        let mut own = d.use_own;
        ui.horizontal(|ui| {
            ui.label("Thresholds from");
            let given = if logged {
                "the traces' calibration set"
            } else {
                "the checkpoint's calibration set"
            };
            ui.radio_value(&mut own, false, given);
            ui.radio_value(&mut own, true, "this run's own labels");
        });
        if own != d.use_own {
            d.fit_on_own_labels(own);
            self.remark();
            self.refresh_dataset(true);
        }
        let Some(d) = &self.dataset else { return };
        if d.use_own {
            match &d.own {
                Some(Ok(_)) => {
                    ui.weak(
                        "Fitted on half of this run's labelled clips, evaluated on the other \
                         half; the inspector uses them too while this is on.",
                    );
                }
                Some(Err(why)) => {
                    ui.colored_label(ui.visuals().error_fg_color, why);
                }
                None => {}
            }
        }
    }

    fn run_summary_ui(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &self.dataset else { return };
        let s = d.summary;
        let how = match &d.exits {
            Exits::Stored => "Exits as the batch stored them (the run's checkpoint and its \
                              calibration set are not loaded)"
                .to_string(),
            Exits::Rule(r) => format!(
                "Every video re-decided for {:.4} GFLOPs ({} exit; thresholds from {})",
                r.budget.unwrap_or(0.0),
                r.criterion.name(),
                if d.use_own {
                    "this run's own labels"
                } else {
                    "the checkpoint's calibration set, as `adalens budget`"
                }
            ),
        };
        ui.weak(how);
        let acc = s
            .accuracy
            .map_or("no labels".into(), |a| format!("{:.1}%", 100.0 * a));
        ui.strong(format!(
            "Run top-1 {acc} · mean {:.4} GFLOPs/video ({} videos)",
            s.mean_gflops, s.ran
        ));
        ui.horizontal(|ui| {
            ui.colored_label(
                egui::Color32::from_rgb(234, 67, 53),
                format!("{} right to wrong", s.right_to_wrong),
            );
            ui.colored_label(
                egui::Color32::from_rgb(52, 168, 83),
                format!("{} wrong to right", s.wrong_to_right),
            );
            ui.weak("since the budget last moved");
        });
    }

    /// The run compared with (B): flips from this run to it, and the GFLOPs of both.
    fn compare_summary_ui(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &mut self.dataset else { return };
        let Some(o) = &d.other else { return };
        ui.separator();
        ui.strong(format!("Compared with {}", o.table.dir.display()));
        ui.label(format!(
            "A to B: {} right to wrong, {} wrong to right; mean GFLOPs {:.4} to {:.4}",
            o.right_to_wrong, o.wrong_to_right, o.mean_gflops.0, o.mean_gflops.1
        ));
        ui.weak(match &o.exits {
            Exits::Rule(_) => {
                "B re-decided for the same budget on its checkpoint's calibration set"
            }
            Exits::Stored => "B with the exits it stored",
        });
        if ui.small_button("Stop comparing").clicked() {
            d.close_other();
        }
    }

    fn run_curve_ui(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &self.dataset else { return };
        let Some((_, points)) = &d.curve else {
            ui.weak(
                "The run's accuracy curve appears once its checkpoint's calibration set is loaded.",
            );
            return;
        };
        ui.strong("This run: top-1 % against mean GFLOPs / video");
        let line: Vec<[f64; 2]> = points.iter().map(|[g, a]| [*g, a * 100.0]).collect();
        let op = d
            .summary
            .accuracy
            .map(|a| [d.summary.mean_gflops, a * 100.0]);
        Plot::new("run_curve")
            .height(180.0)
            .x_axis_label("GFLOPs / video")
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(Line::new("adaptive exits", line).width(2.0));
                if let Some(p) = op {
                    plot.points(
                        Points::new("this budget", vec![p])
                            .radius(6.0)
                            .color(egui::Color32::from_rgb(234, 67, 53)),
                    );
                }
            });
    }

    fn facets_ui(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &mut self.dataset else { return };
        ui.strong("Classes (click to show only that label)");
        let mut pick = None;
        egui::Grid::new("facets").striped(true).show(ui, |ui| {
            ui.label("label");
            ui.label("videos");
            ui.label("top-1");
            ui.label("GFLOPs");
            ui.end_row();
            for f in &d.facets {
                let on = d.class_filter == Some(f.class);
                if ui.selectable_label(on, &f.name).clicked() {
                    pick = Some(if on { None } else { Some(f.class) });
                }
                ui.label(f.videos.to_string());
                ui.label(format!("{:.0}%", 100.0 * f.accuracy));
                ui.label(format!("{:.4}", f.mean_gflops));
                ui.end_row();
            }
        });
        if let Some(c) = pick {
            d.set_class_filter(c);
        }
    }
}
