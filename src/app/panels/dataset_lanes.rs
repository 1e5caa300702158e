//! The dataset view's summary of a run's generic lanes (a run of logged traces): for each
//! categorical lane, the share of frames per category as one bar in the timeline's colours
//! (with what they cost); for each scalar lane, its range and mean.

use crate::app::AdalensApp;
use crate::decision::lanes::LaneKind;

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
                    ui.label(format!(
                        "{}{}",
                        t.spec.name,
                        t.gflops
                            .map_or(String::new(), |g| format!(" · {g:.2} GFLOPs"))
                    ));
                    let size = egui::vec2(ui.available_width().min(300.0), 14.0);
                    let shares = super::logged_lanes::category_bar(ui, &t.spec, &t.counts, size);
                    ui.weak(shares);
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
