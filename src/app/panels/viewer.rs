use crate::app::AdalensApp;

impl AdalensApp {
    /// The frame under the playhead, as large as fits, aspect kept.
    pub(crate) fn viewer_ui(&mut self, ui: &mut egui::Ui) {
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(l) = &self.loaded else {
                ui.centered_and_justified(|ui| {
                    ui.heading("Open a video to start (Ctrl+O or drop a file here)");
                });
                return;
            };
            match &l.frame_texture {
                Some((_, tex)) => {
                    let avail = ui.available_size();
                    let size = tex.size_vec2();
                    let scale = (avail.x / size.x).min(avail.y / size.y).max(0.01);
                    ui.centered_and_justified(|ui| {
                        ui.add(egui::Image::new(tex).fit_to_exact_size(size * scale));
                    });
                }
                None => {
                    ui.centered_and_justified(|ui| {
                        ui.spinner();
                    });
                }
            }
        });
    }
}
