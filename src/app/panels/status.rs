use crate::app::command::Command;
use crate::app::AdalensApp;

impl AdalensApp {
    /// Bottom status bar: the video's probe data, and any error with its detail.
    pub(crate) fn status_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::bottom("status").show(ui, |ui| {
            if !self.errors.is_empty() {
                let mut dismiss = false;
                for e in &self.errors {
                    ui.horizontal_wrapped(|ui| {
                        ui.colored_label(ui.visuals().error_fg_color, format!("Error — {}:", e.what));
                        ui.label(&e.detail);
                    });
                }
                if ui.small_button("Dismiss").clicked() {
                    dismiss = true;
                }
                if dismiss {
                    self.push(Command::DismissError);
                }
                ui.separator();
            }
            ui.horizontal_wrapped(|ui| match &self.loaded {
                Some(l) if self.state.show_probe => {
                    let p = l.video.probe();
                    let rate = p.frame_rate_avg.or(p.frame_rate_nominal).map_or("? fps".into(), |r| format!("{r:.3} fps"));
                    ui.label(format!(
                        "{} · {} · {} · {}×{}{} · {} frames · {} · {}",
                        l.video.path().display(),
                        p.container.split(',').next().unwrap_or(&p.container),
                        p.codec,
                        p.display_width,
                        p.display_height,
                        if p.rotation != 0 { format!(" (rotated {}°)", p.rotation) } else { String::new() },
                        p.frame_count,
                        rate,
                        p.duration_s.map_or("duration unknown".into(), |d| format!("{d:.2} s")),
                    ));
                    if p.has_audio {
                        ui.label("· audio");
                    }
                    if l.substituted_thumbnails > 0 {
                        ui.colored_label(ui.visuals().warn_fg_color, format!("· {} damaged frames replaced by neighbours", l.substituted_thumbnails));
                    }
                }
                Some(_) => {}
                None => {
                    ui.label("No video open. Open one with “Open video…”, Ctrl+O, or drop a file on the window.");
                }
            });
        });
    }
}
