use crate::app::command::Command;
use crate::app::AdalensApp;

impl AdalensApp {
    /// Open buttons, recent files, view toggles, the running job with its cancel button.
    pub(crate) fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("top_bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .button("Open video…")
                    .on_hover_text("Ctrl+O, or drop a file on the window")
                    .clicked()
                {
                    self.push(Command::PickVideo);
                }
                ui.menu_button("Recent", |ui| {
                    if self.state.recent_videos.is_empty() {
                        ui.label("No recent videos");
                    }
                    for p in self.state.recent_videos.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.push(Command::OpenVideo(p));
                            ui.close();
                        }
                    }
                });
                ui.menu_button("View", |ui| {
                    ui.checkbox(&mut self.state.show_strip, "Frame strip");
                    ui.checkbox(&mut self.state.show_probe, "Video details");
                    ui.add(
                        egui::Slider::new(&mut self.state.strip_frames, 4..=96)
                            .text("thumbnails (next open)"),
                    );
                });
                ui.separator();
                if let Some(p) = &self.progress {
                    let frac = if p.total > 0 {
                        p.done as f32 / p.total as f32
                    } else {
                        0.0
                    };
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .desired_width(200.0)
                            .text(format!("{} {}/{}", p.label, p.done, p.total)),
                    );
                    if ui.button("Cancel").clicked() {
                        self.push(Command::CancelJob);
                    }
                } else if self.jobs_busy() {
                    ui.spinner();
                }
            });
        });
    }
}
