//! The centre: the frame under the playhead at full resolution with the cubes covering it
//! (numbered boxes in their step colour, dashed after the exit) and the black mask of a
//! discarded frame; the 3D cube view beside it.

use super::compare_lanes::B_COLOUR;
use super::step_colour;
use crate::app::AdalensApp;

impl AdalensApp {
    pub(crate) fn centre_ui(&mut self, ui: &mut egui::Ui) {
        let frame = self.panel_frame(egui::Frame::central_panel(ui.style()));
        egui::CentralPanel::default().frame(frame).show(ui, |ui| {
            if self.loaded.is_none() {
                ui.centered_and_justified(|ui| {
                    ui.heading("Open a video to start (Ctrl+O or drop a file here)");
                });
                return;
            }
            if self.state.show_cube_view {
                let w = ui.available_width();
                let h = ui.available_height();
                ui.horizontal(|ui| {
                    let (left, right) = (w * 0.58, w * 0.42 - 8.0);
                    let down = egui::Layout::top_down(egui::Align::Min);
                    ui.allocate_ui_with_layout(egui::vec2(left, h), down, |ui| self.viewer_ui(ui));
                    ui.separator();
                    ui.allocate_ui_with_layout(egui::vec2(right, h), down, |ui| {
                        self.cube_view_ui(ui)
                    });
                });
            } else {
                self.viewer_ui(ui);
            }
        });
    }

    fn viewer_ui(&mut self, ui: &mut egui::Ui) {
        let Some(l) = &self.loaded else { return };
        ui.horizontal(|ui| {
            ui.strong(format!("Frame {}", l.current));
            let o = &mut self.state.overlays;
            ui.checkbox(&mut o.cubes, "cubes");
            ui.checkbox(&mut o.labels, "numbers");
            ui.checkbox(&mut o.mask, "mask discarded");
        });
        let Some((shown, tex)) = &l.frame_texture else {
            ui.centered_and_justified(|ui| ui.spinner());
            return;
        };
        let avail = ui.available_size();
        let size = tex.size_vec2();
        let scale = (avail.x / size.x).min(avail.y / size.y).max(0.01);
        // Dragging a cube moves it (what-if).
        let (rect, response) = ui.allocate_exact_size(avail, egui::Sense::drag());
        let img = egui::Rect::from_center_size(rect.center(), size * scale);
        let painter = ui.painter_at(rect);
        painter.image(
            tex.id(),
            img,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        let Some(d) = &self.decisions else { return };
        // The overlays belong to the picture on screen, which lags the playhead while the next
        // frame decodes.
        let current = *shown;
        let probe = l.video.probe();
        let (dw, dh) = (
            probe.display_width.max(1) as f32,
            probe.display_height.max(1) as f32,
        );
        let o = self.state.overlays;
        let mut status = match d.frame(current) {
            Some(f) if !f.kept => {
                if o.mask {
                    painter.rect_filled(img, 0.0, egui::Color32::from_black_alpha(225));
                }
                format!(
                    "discarded by the frame policy (m_t = {})",
                    f.keep_prob.map_or("–".into(), |p| format!("{p:.3}"))
                )
            }
            Some(f) => format!(
                "sampled, kept{}",
                f.keep_prob
                    .map_or(String::new(), |p| format!(" (m_t = {p:.3})"))
            ),
            None => "not sampled by the model".into(),
        };
        let (Some(g), true) = (d.geometry(), o.cubes) else {
            self.viewer_caption(&painter, img, &status);
            return;
        };
        let cubes = d.cubes_at(current);
        if !cubes.is_empty() {
            status.push_str(&format!(
                " · in cube {}",
                cubes
                    .iter()
                    .map(|c| c.cube.order.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // Model-input pixels → display pixels of the video → screen.
        let to_screen = |x: f32, y: f32| {
            let (vx, vy) = g.to_display(x as f64, y as f64);
            egui::pos2(
                img.left() + vx as f32 / dw * img.width(),
                img.top() + vy as f32 / dh * img.height(),
            )
        };
        let mut placed: Vec<egui::Rect> = Vec::new();
        // The boxes a drag can take: the model's, or a what-if's where the clip is edited.
        let mut boxes: Vec<(usize, usize, egui::Rect)> = Vec::new();
        for c in &cubes {
            let Some([x1, y1, x2, y2]) = c.cube.region else {
                continue;
            };
            let r = egui::Rect::from_two_pos(to_screen(x1, y1), to_screen(x2, y2));
            boxes.push((c.clip, c.cube.order, r));
            let colour = step_colour(c.cube.order);
            if c.computed {
                painter.rect_stroke(
                    r,
                    0.0,
                    egui::Stroke::new(3.0, colour),
                    egui::StrokeKind::Middle,
                );
            } else {
                let pts = outline(r);
                painter.add(egui::Shape::dashed_line(
                    &pts,
                    egui::Stroke::new(2.0, colour.gamma_multiply(0.7)),
                    8.0,
                    6.0,
                ));
            }
            if o.labels {
                // Cubes at the same place would hide each other's numbers: a tag that would
                // cover one already drawn moves right of it.
                let mut tag = egui::Rect::from_min_size(r.left_top(), egui::vec2(20.0, 18.0));
                while placed
                    .iter()
                    .any(|p: &egui::Rect| p.intersects(tag.shrink(0.5)))
                {
                    tag = tag.translate(egui::vec2(21.0, 0.0));
                }
                placed.push(tag);
                painter.rect_filled(
                    tag,
                    0.0,
                    if c.computed {
                        colour
                    } else {
                        egui::Color32::from_gray(90)
                    },
                );
                painter.text(
                    tag.center(),
                    egui::Align2::CENTER_CENTER,
                    c.cube.order.to_string(),
                    egui::FontId::proportional(13.0),
                    egui::Color32::WHITE,
                );
            }
        }
        // Compare mode: B's cubes dotted over A's, tagged "B1", "B2"… below their boxes.
        let edited = |clip: usize| {
            self.compare
                .as_ref()
                .is_some_and(|c| c.spec.what_if && c.edits.contains_key(&clip))
        };
        boxes.retain(|(clip, _, _)| !edited(*clip));
        if let Some(b) = self.compare.as_ref().and_then(|c| c.decisions.as_ref()) {
            let b_cubes = b.cubes_at(current);
            if !b_cubes.is_empty() {
                status.push_str(&format!(
                    " · B: cube {}",
                    b_cubes
                        .iter()
                        .map(|c| c.cube.order.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for c in &b_cubes {
                let Some([x1, y1, x2, y2]) = c.cube.region else {
                    continue;
                };
                let full = egui::Rect::from_two_pos(to_screen(x1, y1), to_screen(x2, y2));
                if edited(c.clip) {
                    boxes.push((c.clip, c.cube.order, full));
                }
                let r = full.shrink(2.0);
                let pts = outline(r);
                let alpha = if c.computed { 1.0 } else { 0.5 };
                painter.add(egui::Shape::dotted_line(
                    &pts,
                    B_COLOUR.gamma_multiply(alpha),
                    5.0,
                    1.8,
                ));
                if o.labels {
                    let tag = egui::Rect::from_min_size(
                        r.left_bottom() - egui::vec2(0.0, 18.0),
                        egui::vec2(26.0, 18.0),
                    );
                    painter.rect_filled(tag, 0.0, B_COLOUR.gamma_multiply(alpha));
                    painter.text(
                        tag.center(),
                        egui::Align2::CENTER_CENTER,
                        format!("B{}", c.cube.order),
                        egui::FontId::proportional(12.0),
                        egui::Color32::BLACK,
                    );
                }
            }
        }
        // What-if: a drag takes the box under the pointer (the last drawn on top) and drops
        // it where the pointer lets go; the clip runs again with the cube there.
        if response.drag_started() {
            if let Some(p) = response.interact_pointer_pos() {
                self.cube_drag = boxes.iter().rev().find(|(_, _, r)| r.contains(p)).map(
                    |&(clip, order, rect)| crate::app::CubeDrag {
                        clip,
                        order,
                        rect,
                        from: p,
                    },
                );
            }
        }
        if let (Some(drag), Some(p)) = (self.cube_drag, response.interact_pointer_pos()) {
            let moved = drag.rect.translate(p - drag.from);
            painter.rect_stroke(
                moved,
                0.0,
                egui::Stroke::new(2.0, egui::Color32::WHITE),
                egui::StrokeKind::Middle,
            );
            if response.drag_stopped() {
                self.cube_drag = None;
                let c = moved.center();
                let (vx, vy) = (
                    (c.x - img.left()) / img.width() * dw,
                    (c.y - img.top()) / img.height() * dh,
                );
                let (x, y) = g.to_input(vx as f64, vy as f64);
                self.commands.push(crate::app::Command::WhatIf {
                    clip: drag.clip,
                    edit: crate::runner::Edit::MoveCube {
                        order: drag.order,
                        x: x as f32,
                        y: y as f32,
                    },
                });
            }
        } else if response.drag_stopped() {
            self.cube_drag = None;
        }
        self.viewer_caption(&painter, img, &status);
        response.on_hover_text(status);
    }

    fn viewer_caption(&self, painter: &egui::Painter, img: egui::Rect, text: &str) {
        let pos = img.left_bottom() + egui::vec2(6.0, -6.0);
        let galley = painter.layout_no_wrap(
            text.to_string(),
            egui::FontId::proportional(13.0),
            egui::Color32::WHITE,
        );
        let bg = egui::Rect::from_min_size(
            pos - egui::vec2(3.0, galley.size().y + 2.0),
            galley.size() + egui::vec2(6.0, 4.0),
        );
        painter.rect_filled(bg, 2.0, egui::Color32::from_black_alpha(160));
        painter.galley(
            pos - egui::vec2(0.0, galley.size().y),
            galley,
            egui::Color32::WHITE,
        );
    }
}

/// A box's corners as a closed path (for the dashed and dotted outlines).
fn outline(r: egui::Rect) -> [egui::Pos2; 5] {
    [
        r.left_top(),
        r.right_top(),
        r.right_bottom(),
        r.left_bottom(),
        r.left_top(),
    ]
}
