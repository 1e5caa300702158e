//! Compare mode's section of the side panel: what B is, B's budget (its own slider, or linked to
//! A's), both predictions after each step of the clip under the playhead, and the clip's exits,
//! GFLOPs and cube overlap side by side.

use super::compare_lanes::{A_COLOUR, B_COLOUR};
use super::side::BUDGET_LABEL;
use crate::app::command::Command;
use crate::app::AdalensApp;
use crate::decision::trace::ClipTrace;

impl AdalensApp {
    pub(crate) fn compare_side_ui(&mut self, ui: &mut egui::Ui) {
        let a_model = self.active_budget().map(|m| m.range);
        let a_budget = self.budget_choice().map(|(_, b)| b);
        let current = self.loaded.as_ref().map_or(0, |l| l.current);
        let Some(c) = &mut self.compare else { return };
        let mut close = false;
        ui.horizontal(|ui| {
            ui.strong("Compare");
            ui.colored_label(A_COLOUR, "A: the model's run");
            ui.colored_label(B_COLOUR, format!("B: {}", c.spec.label()));
            let close_label = if c.spec.what_if {
                "Reset to the model's decisions"
            } else {
                "Close"
            };
            close = ui.small_button(close_label).clicked();
        });
        if let Some(info) = &c.info {
            ui.weak(format!(
                "B's checkpoint: {} ({})",
                info.path.display(),
                info.arch.name()
            ));
        }
        // B's budget: its own calibration set's range when it has its own checkpoint.
        let b_range = match &c.spec.checkpoint {
            Some(_) => c.budget_model.as_ref().map(|m| m.range),
            None => a_model,
        };
        match b_range {
            Some((lo, hi)) => {
                ui.checkbox(&mut c.linked, "B's budget follows A's");
                let mut b = c.budget_value((lo, hi), a_budget);
                let r = ui.add_enabled(
                    !c.linked,
                    egui::Slider::new(&mut b, lo..=hi)
                        .text(format!("B: {BUDGET_LABEL}"))
                        .max_decimals(4),
                );
                if r.changed() {
                    c.budget = Some(b);
                }
            }
            None => {
                ui.weak("B has no calibration set: it runs every clip to its last step.");
            }
        }
        if close {
            self.push(Command::CloseCompare);
            return;
        }
        let (Some(a), Some(c)) = (&self.decisions, &self.compare) else {
            return;
        };
        let Some(b) = &c.decisions else {
            ui.weak(match &c.problem {
                Some(p) => format!("B could not run: {p}"),
                None => "B is running…".into(),
            });
            return;
        };
        ui.label(format!(
            "{} of {} clips differ",
            c.differing_clips(),
            c.diffs.len()
        ));
        let at = a.clip_at(current);
        let (Some(ca), Some(cb)) = (a.trace.clips.get(at), b.trace.clips.get(at)) else {
            return;
        };
        ui.strong(format!("Clip {}: each step's top-1 and entropy", at + 1));
        egui::Grid::new("compare steps")
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                ui.label("step");
                ui.colored_label(A_COLOUR, "A");
                ui.colored_label(B_COLOUR, "B");
                ui.end_row();
                let steps = ca.steps.len().max(cb.steps.len());
                for s in 0..steps {
                    ui.label(s.to_string());
                    ui.label(step_text(ca, s, &|k| a.class_name(k)));
                    ui.label(step_text(cb, s, &|k| b.class_name(k)));
                    ui.end_row();
                }
                ui.label("GFLOPs");
                ui.label(format!("{:.3}", ca.spent_gflops()));
                ui.label(format!("{:.3}", cb.spent_gflops()));
                ui.end_row();
            });
        if let Some(d) = c.diffs.get(at) {
            if !d.cubes.is_empty() {
                let ious: Vec<String> = d
                    .cubes
                    .iter()
                    .map(|q| format!("{} {:.2}", q.order, q.iou))
                    .collect();
                ui.label(format!("Cube overlap (IoU): {}", ious.join(", ")));
            }
        }
    }
}

/// A step's top-1 and entropy, and whether the run stops there or never computes it.
fn step_text(clip: &ClipTrace, step: usize, name: &dyn Fn(u32) -> String) -> String {
    let Some(s) = clip.steps.get(step) else {
        return "–".into();
    };
    let exit = clip.stop_step().unwrap_or(usize::MAX);
    let top = s.top.first().map_or("–".into(), |t| {
        format!("{} {:.0}%", name(t.class), t.prob * 100.0)
    });
    let mark = if step == exit {
        " · EXIT"
    } else if step > exit {
        " (not computed)"
    } else {
        ""
    };
    format!("{top} · H {:.2}{mark}", s.entropy)
}
