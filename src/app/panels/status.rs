use crate::app::command::Command;
use crate::app::AdalensApp;
use crate::video::DecodeChecked;

impl AdalensApp {
    /// Bottom status bar: errors with their detail, the device, the checkpoint's arch and the
    /// video's probe data.
    pub(crate) fn status_ui(&mut self, ui: &mut egui::Ui) {
        let frame = self.panel_frame(egui::Frame::side_top_panel(ui.style()));
        egui::Panel::bottom("status").frame(frame).show(ui, |ui| {
            if !self.errors.is_empty() {
                for e in &self.errors {
                    ui.horizontal_wrapped(|ui| {
                        ui.colored_label(ui.visuals().error_fg_color, format!("Error — {}:", e.what));
                        ui.label(&e.detail);
                    });
                }
                if ui.small_button("Dismiss").clicked() {
                    self.push(Command::DismissError);
                }
                ui.separator();
            }
            if let Some(n) = &self.notice {
                ui.label(n);
                ui.separator();
            }
            ui.horizontal_wrapped(|ui| {
                match &self.model {
                    Some(m) => {
                        // The short name in the bar (one line at 1400 px), why on hover.
                        let short = m.info.device.split(" (").next().unwrap_or(&m.info.device);
                        ui.label(format!("Device: {short}")).on_hover_text(&m.info.device);
                        ui.separator();
                        let name = m.info.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                        ui.label(format!("{} · {} · {} parameters", m.info.arch, name, m.info.parameters))
                            .on_hover_text(format!("{} ({}; config from {})", m.info.path.display(), m.info.format, m.info.config_source));
                        if self.is_untrained_demo() {
                            ui.colored_label(ui.visuals().warn_fg_color, "· demo: an untrained test fixture (random weights), not a trained model");
                        }
                    }
                    None => match &self.logged {
                        Some(l) => {
                            ui.label(format!(
                                "Logged trace {} ({}): no model, nothing re-runs",
                                l.path.display(),
                                l.arch
                            ));
                        }
                        None => {
                            ui.label("No checkpoint open (“Open checkpoint…” or drop one on the window).");
                        }
                    },
                }
                ui.separator();
                match &self.loaded {
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
                            match (p.rotation, p.mirrored) {
                                (0, false) => String::new(),
                                (0, true) => " (mirrored)".into(),
                                (r, false) => format!(" (rotated {r}°)"),
                                (r, true) => format!(" (rotated {r}°, mirrored)"),
                            },
                            p.frame_count,
                            rate,
                            p.duration_s.map_or("duration unknown".into(), |d| format!("{d:.2} s")),
                        ));
                        if p.has_audio {
                            ui.label("· audio");
                        }
                        for w in l.video.warnings() {
                            ui.colored_label(ui.visuals().warn_fg_color, format!("· {w}"));
                        }
                        if *l.video.decode_checked() == DecodeChecked::NotRun {
                            // Not split over two rows: it moves to the next one whole.
                            let wrap = ui.style().wrap_mode;
                            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                            let link = ui.link("· check frame numbers");
                            ui.style_mut().wrap_mode = wrap;
                            if link
                                .on_hover_text(
                                    "This long file's frames are numbered from its packets. \
                                     Checking decodes every packet (about as long as ffmpeg \
                                     decoding the whole file) so that a packet too damaged to \
                                     decode gets no frame number, as in the ffmpeg CLI's count.",
                                )
                                .clicked()
                            {
                                self.commands.push(Command::CheckFrameNumbers);
                            }
                        }
                        if let Some(w) = self.decisions.as_ref().and_then(|d| d.warning.as_ref()) {
                            ui.colored_label(ui.visuals().error_fg_color, format!("· {w}"));
                        }
                        if l.substituted_thumbnails > 0 {
                            ui.colored_label(ui.visuals().warn_fg_color, format!("· {} damaged frames replaced by neighbours", l.substituted_thumbnails));
                        }
                    }
                    Some(_) => {}
                    None => {
                        ui.label("No video open. Open one with “Open video…”, Ctrl+O, or drop a file on the window.");
                    }
                }
            });
        });
    }
}
