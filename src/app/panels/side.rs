//! The side panel: the sliders (budget, τ_f, τ_s, max cubes, exit criterion), the prediction
//! after each step, the GFLOPs of this video by part against the budget, and the calibration
//! curve with the current operating point.

use egui_plot::{Legend, Line, Plot, PlotPoints, Points, VLine};

use super::step_colour;
use crate::app::command::Command;
use crate::app::AdalensApp;
use crate::decision::Criterion;
use crate::model::arch::Arch;

pub const BUDGET_LABEL: &str = "Budget (GFLOPs / video)";

impl AdalensApp {
    pub(crate) fn side_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::right("side")
            .frame(self.panel_frame(egui::Frame::side_top_panel(ui.style())))
            .resizable(true)
            .default_size(360.0)
            .min_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.model_heading_ui(ui);
                    ui.separator();
                    self.sliders_ui(ui);
                    ui.separator();
                    if self.compare.is_some() {
                        self.compare_side_ui(ui);
                        ui.separator();
                    }
                    self.what_if_ui(ui);
                    // The curve answers the budget slider above it: kept in view with it.
                    self.curve_ui(ui);
                    ui.separator();
                    self.steps_ui(ui);
                    ui.separator();
                    self.breakdown_ui(ui);
                });
            });
    }

    fn model_heading_ui(&mut self, ui: &mut egui::Ui) {
        if let (None, Some(l)) = (&self.model, &self.logged) {
            ui.heading(format!("Logged trace: {}", l.arch));
            ui.label(format!(
                "{} (decisions made elsewhere; nothing re-runs)",
                l.path.display()
            ));
            return;
        }
        let Some(m) = &self.model else {
            ui.heading("No checkpoint");
            ui.label("Open one to see its decisions on this video.");
            return;
        };
        ui.heading(m.info.arch.name());
        if self.is_untrained_demo() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "Untrained checkpoint: the ada3d_focus test fixture (random weights). Its \
                 decisions are real runs of the full model but mean nothing (the trained demo is \
                 models/ada3d_focus_synth); its calibration labels are its own full-budget \
                 predictions.",
            );
        }
    }

    /// The budget slider and the exit criterion (the inspector's and the dataset view's: one
    /// value). Returns whether either moved.
    pub(crate) fn budget_controls_ui(&mut self, ui: &mut egui::Ui) -> bool {
        let budget = self
            .active_budget()
            .map(|b| (b.range, b.description.clone()));
        let problem = match (&self.model, &self.logged) {
            (Some(m), _) => m.calibration_problem.clone(),
            (None, Some(l)) => l.calibration_problem.clone(),
            (None, None) => None,
        };
        let sliders = &mut self.state.sliders;
        let mut remark = false;
        ui.strong("Budget and thresholds");
        match budget {
            Some(((lo, hi), description)) => {
                let mut b = sliders.budget.unwrap_or((lo + hi) / 2.0).clamp(lo, hi);
                let r = ui
                    .add(
                        egui::Slider::new(&mut b, lo..=hi)
                            .text(BUDGET_LABEL)
                            .max_decimals(4),
                    )
                    .on_hover_text(format!(
                        "Mean GFLOPs per calibration video, one clip each: a longer video's \
                         clips each get this budget. Thresholds η_t are solved on the \
                         calibration set (AdaFocusV3 eq. 7). Set: {description}"
                    ));
                if r.changed() {
                    sliders.budget = Some(b);
                    remark = true;
                }
            }
            None => {
                ui.add_enabled(
                    false,
                    egui::Slider::new(&mut 0.0, 0.0..=1.0).text(BUDGET_LABEL),
                );
                ui.weak(problem.unwrap_or_else(|| {
                    "No calibration set beside the checkpoint (NAME.adlcal); make one with \
                     `adalens calibrate`. Every video runs to its last step."
                        .into()
                }));
            }
        }
        ui.horizontal(|ui| {
            ui.label("Exit criterion");
            for (c, name) in [
                (Criterion::Entropy, "entropy ≤ η_t"),
                (Criterion::Confidence, "confidence ≥ τ_t"),
            ] {
                if ui.radio_value(&mut sliders.criterion, c, name).changed() {
                    remark = true;
                }
            }
        });
        remark
    }

    fn sliders_ui(&mut self, ui: &mut egui::Ui) {
        if self.model.is_none() && self.logged.is_some() {
            if self.budget_controls_ui(ui) {
                self.remark();
            }
            return;
        }
        let Some(m) = &self.model else { return };
        let own = m.info.knobs;
        let max_cubes = m.info.max_cubes;
        let has_ada3d_policies = m.info.arch.has_frame_policy();
        let budget_known = m.budget.is_some();
        let mut moved = false;
        let mut remark = self.budget_controls_ui(ui);
        let sliders = &mut self.state.sliders;
        let mut rerun = false;
        // τ_f and τ_s are Ada3D's: only the archs with its frame and stage policies use them.
        if has_ada3d_policies {
            let mut tf = sliders.frame_threshold.unwrap_or(own.frame_threshold);
            if ui
                .add(egui::Slider::new(&mut tf, 0.0..=1.0).text("τ_f (keep frame when m_t ≥ τ_f)"))
                .changed()
            {
                sliders.frame_threshold = Some(tf);
                rerun = true;
            }
            let mut ts = sliders.stage_threshold.unwrap_or(own.stage_threshold);
            if ui
                .add(egui::Slider::new(&mut ts, 0.0..=1.0).text("τ_s (stage 3D when n_k ≥ τ_s)"))
                .changed()
            {
                sliders.stage_threshold = Some(ts);
                rerun = true;
            }
            moved |= (tf, ts) != (own.frame_threshold, own.stage_threshold);
        }
        if max_cubes > 0 {
            let mut n = sliders.max_cubes.unwrap_or(max_cubes).min(max_cubes);
            if ui
                .add(egui::Slider::new(&mut n, 0..=max_cubes).text("max cubes"))
                .changed()
            {
                sliders.max_cubes = Some(n);
                rerun = true;
            }
            moved |= n < max_cubes;
        }
        // The calibration set was made with the checkpoint's own values: say so once they move.
        if budget_known && moved {
            let own = has_ada3d_policies.then_some((own.frame_threshold, own.stage_threshold));
            ui.weak(moved_thresholds_note(own));
        }
        if ui.small_button("Checkpoint's own values").clicked() {
            // Every slider and the exit criterion back to the checkpoint's own.
            *sliders = crate::app::state::Sliders::default();
            rerun = true;
            remark = true;
        }
        if rerun {
            self.push(Command::Rerun);
        }
        if remark {
            // Re-mark now and redo this pass: the timeline, drawn before this panel, shows the
            // new exits in the same frame as the slider.
            self.remark();
            ui.ctx().request_discard("budget or criterion moved");
        }
    }

    fn steps_ui(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &self.decisions else { return };
        let clips = d.trace.clips.len();
        // The clip under the playhead: the panel describes what the user is looking at.
        let at = d.clip_at(self.loaded.as_ref().map_or(0, |l| l.current));
        if clips > 1 {
            ui.strong(format!(
                "Clip {} of {clips}: prediction after each step",
                at + 1
            ));
            // The clip picker: moves the playhead to the clip's first sampled frame.
            let mut pick = at + 1;
            let picked = ui
                .horizontal(|ui| {
                    ui.label("Go to clip");
                    ui.add(egui::DragValue::new(&mut pick).range(1..=clips))
                        .on_hover_text("The playhead moves to the clip's first sampled frame")
                        .changed()
                })
                .inner;
            if picked && pick != at + 1 {
                if let Some(s) = d.summaries.get(pick - 1) {
                    self.push(Command::Seek(s.first));
                    return;
                }
            }
        } else {
            ui.strong("Prediction after each step");
        }
        let mut jump = None;
        let current = self.loaded.as_ref().map_or(0, |l| l.current);
        if let Some(i) = d.pending.iter().copied().find(|&i| {
            d.summaries
                .get(i)
                .is_some_and(|s| (s.first..=s.last).contains(&current))
        }) {
            ui.weak(format!(
                "Clip {} has not run yet: the model runs the clips from the playhead's on.",
                i + 1
            ));
        }
        match d.trace.clips.get(at).filter(|c| !c.steps.is_empty()) {
            Some(clip) => {
                let exit = clip.stop_step().unwrap_or(0);
                // Step 0 is a glance for adalens's archs; a logged model's is its first step.
                let glance = self.logged.is_none() || self.model.is_some();
                for s in &clip.steps {
                    let title = format!(
                        "step {}{} · {:.4} GFLOPs · H = {:.3}{}",
                        s.step,
                        if s.step == 0 && glance {
                            " (glance)"
                        } else {
                            ""
                        },
                        s.cumulative_gflops,
                        s.entropy,
                        if s.step == exit {
                            " · EXIT"
                        } else if s.step > exit {
                            " · not computed"
                        } else {
                            ""
                        }
                    );
                    let colour = if s.step == 0 {
                        ui.visuals().text_color()
                    } else {
                        step_colour(s.step)
                    };
                    let header =
                        egui::CollapsingHeader::new(egui::RichText::new(title).color(colour))
                            .id_salt(("step", at, s.step))
                            .default_open(s.step == exit)
                            .show(ui, |ui| {
                                for (rank, t) in s.top.iter().enumerate() {
                                    ui.horizontal(|ui| {
                                        ui.label(format!(
                                            "{}. {}",
                                            rank + 1,
                                            d.class_name(t.class)
                                        ));
                                        ui.add(
                                            egui::ProgressBar::new(t.prob)
                                                .desired_width(90.0)
                                                .text(format!("{:.1}%", t.prob * 100.0)),
                                        );
                                    });
                                }
                                if ui.small_button("Go to its frame").clicked() {
                                    jump = Some(crate::app::Decisions::step_frame(clip, s.step));
                                }
                            });
                    let _ = header;
                }
            }
            None => video_prediction_ui(
                ui,
                d,
                "This arch predicts per clip; the video's prediction (mean of the clips' softmax):",
            ),
        }
        if clips > 1 && d.trace.clips.iter().any(|c| !c.steps.is_empty()) {
            ui.add_space(4.0);
            let run = clips - d.pending.len();
            let so_far = if run < clips {
                format!("{run} of the {clips} clips run so far")
            } else {
                format!("the {clips} clips")
            };
            ui.horizontal_wrapped(|ui| {
                ui.vertical(|ui| {
                    video_prediction_ui(
                        ui,
                        d,
                        &format!("The video (mean of the softmax of {so_far}, each at its exit):"),
                    );
                });
                // Beside it, what the clip under the playhead says on its own.
                if let Some((class, p)) = d.summaries.get(at).and_then(|s| s.top1) {
                    ui.separator();
                    ui.label(format!(
                        "Clip {}'s top-1:\n{} {:.1}%",
                        at + 1,
                        d.class_name(class),
                        p * 100.0
                    ));
                }
            });
        }
        if let Some(n) = jump {
            self.push(Command::Seek(n));
        }
    }

    fn breakdown_ui(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &self.decisions else { return };
        let spent = d.spent_gflops();
        let clips = d.trace.clips.len();
        // Many clips: the parts of the clip at the playhead, and the video's total below.
        let at = (clips > 1).then(|| d.clip_at(self.loaded.as_ref().map_or(0, |l| l.current)));
        match at {
            Some(i) => ui.strong(format!("GFLOPs of clip {} of {clips}", i + 1)),
            None => ui.strong("GFLOPs of this video"),
        };
        egui::Grid::new("breakdown").striped(true).show(ui, |ui| {
            for p in d
                .breakdown
                .iter()
                .filter(|p| at.is_none_or(|i| p.clip == i))
            {
                if d.part_spent(p) {
                    ui.label(&p.label);
                    ui.label(format!("{:.4}", p.gflops));
                } else {
                    ui.weak(format!("{} (after the exit)", p.label));
                    ui.weak(format!("{:.4}", p.gflops));
                }
                ui.end_row();
            }
            if let Some(i) = at {
                let clip_spent: f64 = d
                    .breakdown
                    .iter()
                    .filter(|p| p.clip == i && d.part_spent(p))
                    .map(|p| p.gflops)
                    .sum();
                ui.strong("clip spent");
                ui.strong(format!("{clip_spent:.4}"));
                ui.end_row();
                ui.strong(format!(
                    "video spent ({} clips run)",
                    clips - d.pending.len()
                ));
            } else {
                ui.strong("spent");
            }
            ui.strong(format!("{spent:.4}"));
            ui.end_row();
        });
        // What the adaptive decisions save: Ada3D's comparison with the network that runs
        // every frame and every 3D stage (Table 1, "Upper"), with every cube or patch.
        if let Some(line) = self
            .model
            .as_ref()
            .and_then(|m| largest_budget_line(m.info.arch, spent, d.largest_gflops))
        {
            ui.label(line).on_hover_text(
                "τ_f = τ_s = 0 and every cube or patch; eval's report measures (1b) against it",
            );
        }
        if let Some((_, b)) = self.budget_choice() {
            // The calibration videos are one clip each, so the budget is per clip.
            let clips = d.trace.clips.len().max(1);
            let per_clip = spent / clips as f64;
            let frac = (per_clip / b).min(2.0) as f32;
            ui.add(egui::ProgressBar::new(frac / 2.0).text(budget_bar_text(per_clip, clips, b)));
            ui.weak(
                "The budget is a mean over the calibration videos, one clip each: one clip \
                 may spend more or less.",
            );
        }
    }

    fn curve_ui(&mut self, ui: &mut egui::Ui) {
        let Some((m, b)) = self.budget_choice() else {
            return;
        };
        let criterion = self.state.sliders.criterion;
        let Some(curve) = m.curve(criterion) else {
            return;
        };
        ui.strong("Calibration curve: top-1 % against GFLOPs (held-out calibration videos)");
        let adaptive: PlotPoints = curve
            .adaptive
            .iter()
            .map(|p| [p.gflops, p.top1 * 100.0])
            .collect();
        let random: PlotPoints = curve
            .adaptive
            .iter()
            .filter_map(|p| p.random.as_ref().map(|r| [r.gflops, r.top1 * 100.0]))
            .collect();
        let fixed: PlotPoints = curve
            .fixed_step
            .iter()
            .map(|p| [p.gflops, p.top1 * 100.0])
            .collect();
        // One corner per video on sets of a few hundred (a straight line between thinned
        // corners runs above the true staircase); a pass over the sorted costs per frame.
        let oracle: PlotPoints = m
            .oracle
            .points(1000)
            .into_iter()
            .map(|[g, t]| [g, t * 100.0])
            .collect();
        let op = self
            .decisions
            .as_ref()
            .and_then(|d| d.operating.as_ref())
            .map(|(_, ev)| [ev.gflops, ev.top1 * 100.0]);
        Plot::new("calibration_curve")
            .height(220.0)
            // Bottom right is below every curve (they all rise to the right).
            .legend(
                Legend::default()
                    .position(egui_plot::Corner::RightBottom)
                    .text_style(egui::TextStyle::Small),
            )
            .x_axis_label("GFLOPs / video")
            // The y axis is named in the heading: a rotated title at the panel's edge is cut
            // off in a narrow panel.
            .allow_scroll(false)
            .show(ui, |plot| {
                let adaptive_name = match criterion {
                    Criterion::Entropy => "adaptive (entropy exit)",
                    Criterion::Confidence => "adaptive (confidence exit)",
                };
                plot.line(Line::new(adaptive_name, adaptive).width(2.0));
                plot.line(
                    Line::new("random exit", random).style(egui_plot::LineStyle::dashed_loose()),
                );
                plot.points(Points::new("fixed step", fixed).radius(3.0));
                plot.line(
                    Line::new("oracle exit (knows the labels)", oracle)
                        .style(egui_plot::LineStyle::dotted_dense())
                        .color(egui::Color32::GRAY),
                );
                plot.vline(VLine::new("budget", b));
                if let Some(p) = op {
                    plot.points(
                        Points::new("this budget", vec![p])
                            .radius(6.0)
                            .color(egui::Color32::from_rgb(234, 67, 53)),
                    );
                }
            });
        if let Some(op) = op {
            ui.label(format!(
                "At {b:.4} GFLOPs: {:.1}% top-1 on the evaluation split (mean {:.4} GFLOPs).",
                op[1], op[0]
            ));
            // What no threshold can beat: the room left for a better exit rule at this cost.
            ui.weak(format!(
                "An exit that knew the labels: {:.1}% at that cost.",
                100.0 * m.oracle.top1_at(op[0])
            ));
        }
    }
}

/// The breakdown's line on the largest budget, for the archs that decide what to compute.
pub fn largest_budget_line(arch: Arch, spent: f64, largest: f64) -> Option<String> {
    let everything = arch.largest_run()?;
    (largest > 0.0).then(|| {
        format!(
            "{everything} would cost {largest:.4}: this video spends {:.0}% of it.",
            100.0 * spent / largest
        )
    })
}

/// The video-level prediction under a heading.
fn video_prediction_ui(ui: &mut egui::Ui, d: &crate::app::Decisions, heading: &str) {
    ui.label(heading);
    for (rank, t) in d.trace.video_prediction.iter().enumerate() {
        ui.label(format!(
            "{}. {} {:.1}%",
            rank + 1,
            d.class_name(t.class),
            t.prob * 100.0
        ));
    }
}

/// The breakdown's bar against the budget, per clip.
pub fn budget_bar_text(per_clip: f64, clips: usize, budget: f64) -> String {
    let pct = 100.0 * per_clip / budget;
    if clips > 1 {
        // Short enough to fit the bar at the side panel's default width.
        format!("{per_clip:.4} per clip ({clips} clips) of {budget:.4} ({pct:.0}%)")
    } else {
        format!("{per_clip:.4} of the {budget:.4} GFLOPs budget ({pct:.0}%)")
    }
}

/// Under the sliders once τ_f, τ_s (`own`, for the archs that have them) or the cube cap leave
/// the checkpoint's own values.
pub fn moved_thresholds_note(own: Option<(f32, f32)>) -> String {
    let at = own.map_or(String::new(), |(f, s)| {
        format!("at τ_f {f:.2}, τ_s {s:.2} ")
    });
    format!(
        "The budget's η_t and its curve come from the calibration set, made {at}with every \
         cube: at other values the exits keep those η_t, and the spend follows what is now \
         computed (GFLOPs of this video, below)."
    )
}
