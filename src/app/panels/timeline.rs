//! The timeline (bottom): lanes on one shared time axis of video frames, zoomable (ctrl+scroll),
//! pannable (scroll), scrubbable (click / drag), with the playhead. Lanes are painted in
//! `lanes.rs`; each lane also carries an accessibility label with its numbers.

use super::clips;
use super::lanes::{self, Axis, Hit, LaneKind};
use crate::app::command::Command;
use crate::app::{AdalensApp, TimeView};

const GUTTER: f32 = 118.0;
/// The frame ruler and, under it, the clip band.
const RULER: f32 = 32.0;

impl AdalensApp {
    pub(crate) fn timeline_ui(&mut self, ui: &mut egui::Ui) {
        if self.loaded.is_none() {
            return;
        }
        // At most half the window: a small window (900×560) keeps room for the viewer. Compare
        // mode stacks two runs: a taller panel of its own (its own remembered size).
        let (id, share, default): (&str, f32, f32) = match self.compare {
            Some(_) => ("timeline compare", 0.68, 620.0),
            None => ("timeline", 0.5, 340.0),
        };
        let most = (ui.available_height() * share).max(160.0);
        egui::Panel::bottom(id)
            .frame(self.panel_frame(egui::Frame::side_top_panel(ui.style())))
            .resizable(true)
            .default_size(default.min(most))
            .min_size(120.0)
            .max_size(most)
            .show(ui, |ui| {
                self.timeline_header_ui(ui);
                self.timeline_lanes_ui(ui);
            });
    }

    fn timeline_header_ui(&mut self, ui: &mut egui::Ui) {
        let Some(l) = &self.loaded else { return };
        let (current, count) = (l.current, l.video.frame_count());
        let secs = l.video.index().seconds(current).unwrap_or(0.0);
        ui.horizontal(|ui| {
            let play = if self.playing.is_some() {
                "Pause"
            } else {
                "Play"
            };
            if ui.button(play).on_hover_text("Space").clicked() {
                self.push(Command::TogglePlay);
            }
            // Before the long labels, so a narrow window never pushes it out of sight.
            if ui
                .small_button("Whole video")
                .on_hover_text("Double-click the lanes does the same")
                .clicked()
            {
                self.time_view = None;
            }
            ui.label(format!(
                "frame {current} / {} · {secs:.3} s",
                count.saturating_sub(1)
            ));
            if let Some(d) = &self.decisions {
                let c = d.counts;
                ui.separator();
                // Say what this arch decided: frames discarded only with a frame policy, 3D
                // stages only with a stage policy.
                let mut parts = vec![if c.frame_policy {
                    format!("{} sampled · {} discarded", c.sampled, c.discarded)
                } else {
                    format!("{} sampled (no frame policy)", c.sampled)
                }];
                parts.push(format!("{} cubes ({} computed)", c.cubes, c.computed_cubes));
                if c.stages > 0 {
                    parts.push(format!("{} 3D stages of {}", c.stages_3d, c.stages));
                }
                if c.clips > 1 {
                    // The exit of the clip under the playhead, not of the first clip.
                    let at = d.clip_at(current);
                    if let Some(e) = d.trace.clips.get(at).and_then(|k| k.stop_step()) {
                        parts.push(format!(
                            "clip {} of {}: exit after step {e}",
                            at + 1,
                            c.clips
                        ));
                    }
                } else if let Some(e) = c.exit_step {
                    parts.push(format!("exit after step {e}"));
                }
                // Elided when the window is narrow; the whole line on hover.
                let line = parts.join(" · ");
                ui.add(egui::Label::new(&line).truncate());
            }
            // The hint takes what room is left (elided), so a long status never widens the
            // timeline past the window.
            ui.add(
                egui::Label::new(
                    egui::RichText::new(
                        "Shift+Left/Right: decision points · Ctrl+scroll: zoom · F1: help",
                    )
                    .weak(),
                )
                .truncate(),
            );
        });
    }

    fn timeline_lanes_ui(&mut self, ui: &mut egui::Ui) {
        let Some(l) = &self.loaded else { return };
        let count = l.video.frame_count().max(1);
        let current = l.current;
        let view = self.time_view.unwrap_or(TimeView {
            start: 0.0,
            end: count as f64,
        });
        let kinds: Vec<LaneKind> = LaneKind::ALL
            .into_iter()
            .filter(|k| k.shown(&self.state.lanes))
            .collect();
        let size = egui::vec2(ui.available_width(), ui.available_height().max(60.0));
        let (id, rect) = ui.allocate_space(size);
        let area = egui::Rect::from_min_max(
            egui::pos2(rect.left() + GUTTER, rect.top() + RULER),
            rect.max,
        );
        let axis = Axis {
            left: area.left(),
            width: area.width(),
            start: view.start,
            end: view.end,
        };
        // Thumbnails of the clips shown in detail (none when many clips are summarised).
        let shown: Vec<usize> = self
            .decisions
            .as_ref()
            .filter(|d| !clips::summarised(&axis, d))
            .map(|d| {
                d.summaries
                    .iter()
                    .zip(&d.trace.clips)
                    .filter(|(s, _)| {
                        s.done
                            && axis.x((s.last + 1) as f64) >= axis.left
                            && axis.x(s.first as f64) <= axis.left + axis.width
                    })
                    .flat_map(|(_, c)| c.frames.iter().map(|f| f.frame))
                    .collect()
            })
            .unwrap_or_default();
        self.want_thumbnails(shown);
        let Some(l) = &self.loaded else { return };
        let painter = ui.painter_at(rect);
        let visuals = ui.visuals().clone();
        lanes::ruler(
            &painter,
            &visuals,
            &axis,
            rect.top(),
            l.video.probe().frame_rate_avg,
        );
        let band_rect = egui::Rect::from_min_max(
            egui::pos2(area.left(), rect.top() + 19.0),
            egui::pos2(area.right(), rect.top() + RULER - 2.0),
        );
        let band_hit = self.decisions.as_ref().and_then(|d| {
            painter.text(
                egui::pos2(rect.left() + 4.0, band_rect.center().y),
                egui::Align2::LEFT_CENTER,
                format!("Clips ({})", d.summaries.len()),
                egui::FontId::proportional(12.0),
                visuals.text_color(),
            );
            let band_pointer = ui.input(|i| i.pointer.hover_pos());
            clips::band(
                &painter.with_clip_rect(band_rect.expand2(egui::vec2(0.0, 2.0))),
                &visuals,
                &axis,
                band_rect,
                d,
                d.clip_at(current),
                band_pointer,
            )
        });
        let band_response = ui.interact(band_rect, id.with("clip band"), egui::Sense::click());
        if let Some(h) = &band_hit {
            if band_response.clicked() {
                if let Some(to) = h.jump {
                    self.push(Command::Seek(to));
                }
            }
            band_response.on_hover_text_at_pointer(h.text.clone());
        }

        // Lane heights: fixed, the cubes lane grows with the number of cube rows. In compare
        // mode A's lanes, the differences and B's lanes stack on the one axis.
        let b_decisions = self.compare.as_ref().and_then(|c| c.decisions.as_ref());
        let cube_rows = [self.decisions.as_ref(), b_decisions]
            .into_iter()
            .flatten()
            .flat_map(|d| d.trace.clips.iter().map(|c| c.cubes.len()))
            .max()
            .unwrap_or(1);
        let mut rows: Vec<Row> = kinds.iter().map(|k| Row::A(*k)).collect();
        // A trace's own lanes (a logged model's resolution, tokens kept, ...) under A's.
        let generic: Vec<f32> = self
            .decisions
            .as_ref()
            .map(|d| {
                d.trace
                    .lanes
                    .iter()
                    .map(super::logged_lanes::height)
                    .collect()
            })
            .unwrap_or_default();
        rows.extend((0..generic.len()).map(Row::Generic));
        if self.compare.is_some() {
            rows.push(Row::Differences);
            rows.push(Row::HeaderB);
            rows.extend(
                kinds
                    .iter()
                    .filter(|k| **k != LaneKind::Thumbnails)
                    .map(|k| Row::B(*k)),
            );
        }
        let heights: Vec<f32> = rows
            .iter()
            .map(|r| match r {
                Row::Generic(i) => generic[*i],
                _ => r.height(cube_rows),
            })
            .collect();
        let total: f32 = heights.iter().sum::<f32>().max(1.0);
        let scale = (area.height() / total).min(1.6);
        let pointer = ui
            .input(|i| i.pointer.hover_pos())
            .filter(|p| area.contains(*p));
        let mut hit: Option<Hit> = None;
        // Lane contents stay right of the lane titles, however far the view is zoomed.
        let lane_painter = painter.with_clip_rect(area);
        let mut top = area.top();
        for (row, h) in rows.iter().zip(&heights) {
            let lane = egui::Rect::from_min_max(
                egui::pos2(area.left(), top),
                egui::pos2(area.right(), top + h * scale),
            );
            top = lane.bottom();
            let ctx = lanes::LaneCtx {
                painter: &lane_painter,
                visuals: &visuals,
                axis: &axis,
                rect: lane,
                pointer,
            };
            let (kind, run) = match row {
                Row::Generic(i) => {
                    let Some(d) = &self.decisions else { continue };
                    let name = d.trace.lanes.get(*i).map_or("", |l| l.name.as_str());
                    painter.text(
                        egui::pos2(rect.left() + 4.0, lane.center().y),
                        egui::Align2::LEFT_CENTER,
                        name,
                        egui::FontId::proportional(12.0),
                        visuals.text_color(),
                    );
                    painter.line_segment(
                        [lane.left_bottom(), lane.right_bottom()],
                        egui::Stroke::new(0.5, visuals.weak_text_color()),
                    );
                    let (label, lane_hit) = super::logged_lanes::paint(&ctx, d, *i);
                    if lane_hit.is_some() {
                        hit = lane_hit;
                    }
                    let r = ui.interact(lane, id.with(row.id()), egui::Sense::hover());
                    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Group, true, &label));
                    continue;
                }
                Row::A(k) => (k, self.decisions.as_ref()),
                Row::B(k) => (k, self.compare.as_ref().and_then(|c| c.decisions.as_ref())),
                Row::HeaderB | Row::Differences => {
                    let (label, lane_hit) = self.compare_row_ui(&painter, &ctx, rect.left(), row);
                    if lane_hit.is_some() {
                        hit = lane_hit;
                    }
                    let r = ui.interact(lane, id.with(row.id()), egui::Sense::hover());
                    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Group, true, &label));
                    continue;
                }
            };
            let summary =
                *kind != LaneKind::Thumbnails && run.is_some_and(|d| clips::summarised(&axis, d));
            if summary {
                // One caption per heat row, beside it.
                let rows = clips::summary_rows(*kind);
                let row_h = (lane.height() - 4.0) / rows.len() as f32;
                for (k, row) in rows.iter().enumerate() {
                    painter.text(
                        egui::pos2(
                            rect.left() + 4.0,
                            lane.top() + 2.0 + (k as f32 + 0.5) * row_h,
                        ),
                        egui::Align2::LEFT_CENTER,
                        format!("{}{}", &row[..1].to_uppercase(), &row[1..]),
                        egui::FontId::proportional(11.0),
                        visuals.text_color(),
                    );
                }
            } else {
                let title = kind.label(self.state.sliders.criterion);
                painter.text(
                    egui::pos2(rect.left() + 4.0, lane.center().y),
                    egui::Align2::LEFT_CENTER,
                    match (row, self.compare.is_some()) {
                        (Row::A(_), true) => format!("A · {title}"),
                        (Row::B(_), _) => format!("B · {title}"),
                        _ => title.to_string(),
                    },
                    egui::FontId::proportional(12.0),
                    visuals.text_color(),
                );
            }
            painter.line_segment(
                [lane.left_bottom(), lane.right_bottom()],
                egui::Stroke::new(0.5, visuals.weak_text_color()),
            );
            let (label, lane_hit) = match row {
                Row::B(k) => self.b_lane(*k, &ctx),
                _ => lanes::paint(*kind, &ctx, self),
            };
            if lane_hit.is_some() {
                hit = lane_hit;
            }
            // The lane's numbers, for screen readers and the UI tests.
            let r = ui.interact(lane, id.with(row.id()), egui::Sense::hover());
            r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Group, true, &label));
        }
        let x = axis.x(current as f64 + 0.5);
        if (area.left()..=area.right()).contains(&x) {
            painter.line_segment(
                [egui::pos2(x, rect.top()), egui::pos2(x, area.bottom())],
                egui::Stroke::new(2.0, visuals.selection.stroke.color),
            );
        }

        let response = ui.interact(area, id.with("scrub"), egui::Sense::click_and_drag());
        let frame_at = |p: egui::Pos2| axis.frame_at(p.x).min(count - 1);
        if response.double_clicked() {
            self.time_view = None;
        } else if response.clicked() {
            if let Some(p) = response.interact_pointer_pos() {
                let to = hit
                    .as_ref()
                    .and_then(|h| h.jump)
                    .unwrap_or_else(|| frame_at(p));
                self.push(Command::Seek(to));
            }
        } else if response.dragged() {
            if let Some(p) = response.interact_pointer_pos() {
                self.push(Command::Seek(frame_at(p)));
            }
        }
        if let Some(p) = pointer {
            let text = match &hit {
                Some(h) => h.text.clone(),
                None => format!("frame {}", frame_at(p)),
            };
            response.on_hover_text_at_pointer(text);
            self.zoom_and_pan(ui, &axis, p, count);
        }
        if self.playing.is_some() && !(view.start..view.end).contains(&(current as f64)) {
            let span = view.end - view.start;
            self.time_view = Some(TimeView {
                start: current as f64,
                end: current as f64 + span,
            });
        }
    }

    /// Ctrl+scroll zooms around the pointer, scroll pans; the view stays inside the video.
    fn zoom_and_pan(&mut self, ui: &egui::Ui, axis: &Axis, pointer: egui::Pos2, count: usize) {
        let (zoom, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta));
        let n = count as f64;
        let (mut start, mut end) = (axis.start, axis.end);
        if zoom != 1.0 {
            let at = axis.frame_f(pointer.x);
            let span = ((end - start) / zoom as f64).clamp(8.0_f64.min(n), n);
            let frac = (at - start) / (end - start);
            start = at - frac * span;
            end = start + span;
        }
        let pan = if scroll.x != 0.0 { scroll.x } else { scroll.y };
        if pan != 0.0 && zoom == 1.0 {
            let per_px = (end - start) / axis.width as f64;
            start -= pan as f64 * per_px;
            end -= pan as f64 * per_px;
        }
        if (start, end) != (axis.start, axis.end) {
            let span = end - start;
            let start = start.clamp(0.0, (n - span).max(0.0));
            self.time_view = Some(TimeView {
                start,
                end: start + span,
            });
        }
    }
}

/// A row of the lanes: the model's (A), and in compare mode the differences, B's heading and
/// B's lanes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Row {
    A(LaneKind),
    /// Generic lane `i` of the model's trace (`decision::lanes`).
    Generic(usize),
    Differences,
    HeaderB,
    B(LaneKind),
}

impl Row {
    fn height(self, cube_rows: usize) -> f32 {
        match self {
            Row::A(k) | Row::B(k) => k.height(cube_rows),
            Row::Generic(_) => 30.0,
            Row::Differences => 44.0,
            Row::HeaderB => 20.0,
        }
    }

    /// The lane's widget id (A's keep their titles, as before compare mode).
    fn id(self) -> String {
        match self {
            Row::A(k) => k.title().to_string(),
            Row::B(k) => format!("B {}", k.title()),
            Row::Generic(i) => format!("lane {i}"),
            Row::Differences => "A vs B".into(),
            Row::HeaderB => "B".into(),
        }
    }
}
