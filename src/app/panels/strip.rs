use crate::app::command::Command;
use crate::app::AdalensApp;

impl AdalensApp {
    /// The scrubbable strip: thumbnails of evenly spread frames over a time axis with the
    /// playhead; click or drag anywhere on it to move the playhead.
    pub(crate) fn strip_ui(&mut self, ui: &mut egui::Ui) {
        let Some(l) = &self.loaded else { return };
        let count = l.video.frame_count();
        let current = l.current;
        let mut seek_to = None;
        egui::Panel::bottom("strip")
            .resizable(true)
            .default_size(150.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    let secs = l.video.index().seconds(current).unwrap_or(0.0);
                    ui.label(format!(
                        "frame {current} / {} · {secs:.3} s",
                        count.saturating_sub(1)
                    ));
                    ui.weak(
                        "Left/Right: one frame · Shift: ten · Home/End · click or drag to scrub",
                    );
                });
                let width = ui.available_width();
                let height = (ui.available_height() - 4.0).max(40.0);
                let (rect, response) = ui
                    .allocate_exact_size(egui::vec2(width, height), egui::Sense::click_and_drag());
                let painter = ui.painter_at(rect);
                painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
                let x_of =
                    |n: usize| rect.left() + rect.width() * (n as f32 + 0.5) / count.max(1) as f32;
                // A filmstrip: each thumbnail fills the span of frames up to the next one, centre-
                // cropped to the slot so the strip has no gaps at any width.
                let n_thumbs = l.thumbnails.len().max(1);
                let slot = rect.width() / n_thumbs as f32;
                let strip_h = rect.height() - 8.0;
                for (i, (_, tex)) in l.thumbnails.iter().enumerate() {
                    let r = egui::Rect::from_min_size(
                        egui::pos2(rect.left() + i as f32 * slot, rect.top()),
                        egui::vec2(slot - 1.0, strip_h),
                    );
                    let size = tex.size_vec2();
                    let (img_aspect, slot_aspect) =
                        (size.x / size.y.max(1.0), r.width() / r.height().max(1.0));
                    let uv = if img_aspect > slot_aspect {
                        let w = slot_aspect / img_aspect;
                        egui::Rect::from_min_max(
                            egui::pos2(0.5 - w / 2.0, 0.0),
                            egui::pos2(0.5 + w / 2.0, 1.0),
                        )
                    } else {
                        let h = img_aspect / slot_aspect;
                        egui::Rect::from_min_max(
                            egui::pos2(0.0, 0.5 - h / 2.0),
                            egui::pos2(1.0, 0.5 + h / 2.0),
                        )
                    };
                    painter.image(tex.id(), r, uv, egui::Color32::WHITE);
                }
                for (n, _) in &l.thumbnails {
                    let x = x_of(*n);
                    painter.line_segment(
                        [
                            egui::pos2(x, rect.bottom() - 6.0),
                            egui::pos2(x, rect.bottom()),
                        ],
                        ui.visuals().widgets.inactive.fg_stroke,
                    );
                }
                let x = x_of(current);
                painter.line_segment(
                    [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
                    egui::Stroke::new(2.0, ui.visuals().selection.stroke.color),
                );
                if let Some(pos) = response.interact_pointer_pos() {
                    let frac = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
                    seek_to = Some(((frac * count as f32) as usize).min(count.saturating_sub(1)));
                }
                if let Some(pos) = response.hover_pos() {
                    let frac = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
                    let n = ((frac * count as f32) as usize).min(count.saturating_sub(1));
                    response.on_hover_text_at_pointer(format!("frame {n}"));
                }
            });
        if let Some(n) = seek_to {
            if n != current {
                self.push(Command::Seek(n));
            }
        }
    }
}
