//! The dataset view's summary of a run's generic lanes (a run of logged traces): for each
//! categorical lane, the share of frames per category as one bar in the timeline's colours
//! (with what they cost); for each scalar lane, its range and mean.

use crate::app::AdalensApp;
use crate::decision::lanes::{category_colour, LaneKind};

impl AdalensApp {
    pub(crate) fn dataset_lanes_ui(&mut self, ui: &mut egui::Ui) {
        let Some(totals) = self.logged.as_ref().map(|l| &l.lanes) else {
            return;
        };
        if totals.is_empty() {
            return;
        }
        ui.strong("Per-frame decisions over the run");
        for t in totals {
            match t.spec.kind {
                LaneKind::Categorical => {
                    let all: usize = t.counts.iter().sum::<usize>().max(1);
                    ui.label(format!(
                        "{}{}",
                        t.spec.name,
                        t.gflops
                            .map_or(String::new(), |g| format!(" · {g:.2} GFLOPs"))
                    ));
                    let (rect, _) = ui.allocate_exact_size(
                        egui::vec2(ui.available_width().min(300.0), 14.0),
                        egui::Sense::hover(),
                    );
                    let mut x = rect.left();
                    for (i, (cat, n)) in t.spec.categories.iter().zip(&t.counts).enumerate() {
                        let w = rect.width() * *n as f32 / all as f32;
                        let [r, g, b] = category_colour(i, cat);
                        ui.painter().rect_filled(
                            egui::Rect::from_min_size(
                                egui::pos2(x, rect.top()),
                                egui::vec2(w, rect.height()),
                            ),
                            0.0,
                            egui::Color32::from_rgb(r, g, b),
                        );
                        x += w;
                    }
                    let parts: Vec<String> = t
                        .spec
                        .categories
                        .iter()
                        .zip(&t.counts)
                        .map(|(c, n)| format!("{} {:.0}%", c.name, 100.0 * *n as f64 / all as f64))
                        .collect();
                    ui.weak(parts.join(" · "));
                }
                LaneKind::Scalar if t.values > 0 => {
                    ui.label(format!(
                        "{}: {:.3} to {:.3}, mean {:.3}{}",
                        t.spec.name,
                        t.min,
                        t.max,
                        t.sum / t.values as f64,
                        t.spec
                            .unit
                            .as_deref()
                            .map_or(String::new(), |u| format!(" {u}"))
                    ));
                }
                LaneKind::Scalar => {}
            }
        }
    }
}
