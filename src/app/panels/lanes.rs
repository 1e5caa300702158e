//! The timeline's lanes. Each painter draws one lane over the shared time axis, returns the
//! accessibility label with the lane's numbers, and what the pointer is over (its numbers, and
//! the frame a click jumps to).

use super::{clips, step_colour};
use crate::app::decisions::Decisions;
use crate::app::state::Lanes;
use crate::app::AdalensApp;
use crate::decision::trace::ClipTrace;
use crate::decision::Criterion;

/// Frames ↔ pixels of the visible range.
pub struct Axis {
    pub left: f32,
    pub width: f32,
    pub start: f64,
    pub end: f64,
}

impl Axis {
    /// x of a (fractional) frame position; frame n spans [n, n+1).
    pub fn x(&self, frame: f64) -> f32 {
        self.left + ((frame - self.start) / (self.end - self.start)) as f32 * self.width
    }

    pub fn frame_f(&self, x: f32) -> f64 {
        self.start + ((x - self.left) / self.width.max(1.0)) as f64 * (self.end - self.start)
    }

    pub fn frame_at(&self, x: f32) -> usize {
        self.frame_f(x).max(0.0) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneKind {
    Thumbnails,
    Keep,
    Cubes,
    Entropy,
    Stages,
}

impl LaneKind {
    pub const ALL: [LaneKind; 5] = [
        LaneKind::Thumbnails,
        LaneKind::Keep,
        LaneKind::Cubes,
        LaneKind::Entropy,
        LaneKind::Stages,
    ];

    pub fn title(self) -> &'static str {
        match self {
            LaneKind::Thumbnails => "Sampled frames",
            LaneKind::Keep => "Keep prob. m_t",
            LaneKind::Cubes => "Cubes",
            LaneKind::Entropy => "Entropy / step",
            LaneKind::Stages => "3D stages",
        }
    }

    /// The title drawn beside the lane: the exit lane is named after the criterion it draws.
    pub fn label(self, criterion: Criterion) -> &'static str {
        match (self, criterion) {
            (LaneKind::Entropy, Criterion::Confidence) => "Confidence / step",
            _ => self.title(),
        }
    }

    pub fn shown(self, lanes: &Lanes) -> bool {
        match self {
            LaneKind::Thumbnails => lanes.thumbnails,
            LaneKind::Keep => lanes.keep,
            LaneKind::Cubes => lanes.cubes,
            LaneKind::Entropy => lanes.entropy,
            LaneKind::Stages => lanes.stages,
        }
    }

    pub fn height(self, cube_rows: usize) -> f32 {
        match self {
            LaneKind::Thumbnails => 72.0,
            LaneKind::Keep => 52.0,
            LaneKind::Cubes => (cube_rows as f32 * 16.0 + 8.0).max(40.0),
            LaneKind::Entropy => 80.0,
            LaneKind::Stages => 32.0,
        }
    }
}

/// What the pointer is over.
pub struct Hit {
    pub text: String,
    pub jump: Option<usize>,
}

pub struct LaneCtx<'a> {
    pub painter: &'a egui::Painter,
    pub visuals: &'a egui::Visuals,
    pub axis: &'a Axis,
    pub rect: egui::Rect,
    pub pointer: Option<egui::Pos2>,
}

impl LaneCtx<'_> {
    pub(super) fn hovered(&self, r: egui::Rect) -> bool {
        self.pointer.is_some_and(|p| r.expand(2.0).contains(p))
    }

    pub(super) fn x(&self, frame: usize) -> f32 {
        self.axis.x(frame as f64 + 0.5)
    }

    /// Horizontal span of frames `a..=b`.
    pub(super) fn span(&self, a: usize, b: usize) -> (f32, f32) {
        (self.axis.x(a as f64), self.axis.x(b as f64 + 1.0))
    }

    /// Whether any of `clip` is in view (the others are not drawn at all).
    pub(super) fn in_view(&self, clip: &ClipTrace) -> bool {
        let a = clip.frames.iter().map(|f| f.frame).min().unwrap_or(0);
        let b = clip.frames.iter().map(|f| f.frame).max().unwrap_or(0);
        let (x0, x1) = self.span(a, b);
        x1 >= self.rect.left() - 40.0 && x0 <= self.rect.right() + 40.0
    }
}

/// Paint one lane of the model's run; returns its accessibility label and the hit under the
/// pointer.
pub fn paint(kind: LaneKind, cx: &LaneCtx, app: &AdalensApp) -> (String, Option<Hit>) {
    let no_cubes = app.state.sliders.max_cubes == Some(0);
    paint_run(kind, cx, app, app.decisions.as_ref(), no_cubes)
}

/// Paint one lane of `decisions` (the model's run, or compare mode's run B); `no_cubes`: the
/// run was asked for no cubes.
pub fn paint_run(
    kind: LaneKind,
    cx: &LaneCtx,
    app: &AdalensApp,
    decisions: Option<&Decisions>,
    no_cubes: bool,
) -> (String, Option<Hit>) {
    let Some(d) = decisions else {
        if kind == LaneKind::Thumbnails {
            return strip(cx, app);
        }
        let why = if app.model.is_none() {
            "no checkpoint open"
        } else if app.resumable {
            "cancelled before a clip finished: Resume (top bar) goes on"
        } else {
            "the model has not run yet"
        };
        return (absent(cx, &format!("{} lane", kind.title()), why), None);
    };
    if clips::summarised(cx.axis, d) {
        return match kind {
            // Evenly spread thumbnails stay readable at any zoom.
            LaneKind::Thumbnails => {
                strip(cx, app);
                let n = app.loaded.as_ref().map_or(0, |l| l.strip.len());
                (
                    format!(
                        "Sampled frames lane: {n} thumbnails over {} clips (zoom in for the sampled frames)",
                        d.summaries.len()
                    ),
                    None,
                )
            }
            _ => clips::summary(kind, cx, d),
        };
    }
    let painted = match kind {
        LaneKind::Thumbnails => thumbnails(cx, app, d),
        LaneKind::Keep => keep(cx, d),
        LaneKind::Cubes => cubes(cx, d, no_cubes),
        LaneKind::Entropy => entropy(cx, d),
        LaneKind::Stages => stages(cx, d),
    };
    if kind != LaneKind::Thumbnails {
        clips::pending_overlay(cx, d);
    }
    painted
}

/// The ruler: frame numbers (and seconds) at a readable spacing.
pub fn ruler(
    painter: &egui::Painter,
    visuals: &egui::Visuals,
    axis: &Axis,
    top: f32,
    fps: Option<f64>,
) {
    let span = axis.end - axis.start;
    let target = span * 90.0 / axis.width.max(1.0) as f64;
    let step = [
        1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000,
    ]
    .into_iter()
    .find(|&s| s as f64 >= target)
    .unwrap_or(50000);
    let mut f = (axis.start / step as f64).ceil() as usize * step;
    while (f as f64) < axis.end {
        let x = axis.x(f as f64 + 0.5);
        painter.line_segment(
            [egui::pos2(x, top + 12.0), egui::pos2(x, top + 18.0)],
            egui::Stroke::new(1.0, visuals.weak_text_color()),
        );
        let label = match fps {
            Some(r) if r > 0.0 => format!("{f} · {:.1}s", f as f64 / r),
            _ => f.to_string(),
        };
        painter.text(
            egui::pos2(x + 2.0, top),
            egui::Align2::LEFT_TOP,
            label,
            egui::FontId::proportional(10.0),
            visuals.weak_text_color(),
        );
        f += step;
    }
}

/// Width of a marker at each of `frames` (sorted, unique): the gap to the nearest neighbour.
fn slot_width(cx: &LaneCtx, frames: &[usize], max: f32) -> f32 {
    let gap = frames
        .windows(2)
        .map(|w| cx.x(w[1]) - cx.x(w[0]))
        .fold(f32::INFINITY, f32::min);
    let gap = if gap.is_finite() { gap } else { max };
    (gap - 2.0).clamp(2.0, max)
}

fn draw_thumb(cx: &LaneCtx, tex: &egui::TextureHandle, centre_x: f32, width: f32) -> egui::Rect {
    let size = tex.size_vec2();
    let h = cx.rect.height() - 6.0;
    let w = width.min(h * size.x / size.y.max(1.0));
    let r =
        egui::Rect::from_center_size(egui::pos2(centre_x, cx.rect.center().y), egui::vec2(w, h));
    let (img_aspect, slot_aspect) = (size.x / size.y.max(1.0), w / h.max(1.0));
    let uv = if img_aspect > slot_aspect {
        let f = slot_aspect / img_aspect;
        egui::Rect::from_min_max(
            egui::pos2(0.5 - f / 2.0, 0.0),
            egui::pos2(0.5 + f / 2.0, 1.0),
        )
    } else {
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0))
    };
    cx.painter.image(tex.id(), r, uv, egui::Color32::WHITE);
    r
}

/// Before a model has run: evenly spread thumbnails of the video.
fn strip(cx: &LaneCtx, app: &AdalensApp) -> (String, Option<Hit>) {
    let Some(l) = &app.loaded else {
        return ("Sampled frames lane: no video".into(), None);
    };
    let w = slot_width(cx, &l.strip, 200.0);
    for n in &l.strip {
        if let Some(t) = l.thumbs.get(n) {
            draw_thumb(cx, &t.texture, cx.x(*n), w);
        }
    }
    (
        format!(
            "Sampled frames lane: {} thumbnails, no model run yet",
            l.strip.len()
        ),
        None,
    )
}

fn thumbnails(cx: &LaneCtx, app: &AdalensApp, d: &Decisions) -> (String, Option<Hit>) {
    let c = d.counts;
    let w = slot_width(cx, &d.sampled, 160.0);
    let tau = d.knobs.frame_threshold;
    let mut hit = None;
    for clip in d.trace.clips.iter().filter(|c| cx.in_view(c)) {
        for f in &clip.frames {
            let x = cx.x(f.frame);
            let r = match app.loaded.as_ref().and_then(|l| l.thumbs.get(&f.frame)) {
                Some(t) => draw_thumb(cx, &t.texture, x, w),
                None => {
                    let r = egui::Rect::from_center_size(
                        egui::pos2(x, cx.rect.center().y),
                        egui::vec2(w.min(40.0), cx.rect.height() - 6.0),
                    );
                    cx.painter.rect_filled(r, 1.0, cx.visuals.faint_bg_color);
                    r
                }
            };
            let covering: Vec<usize> = clip
                .cubes
                .iter()
                .filter(|q| q.frames.contains(&f.frame))
                .map(|q| q.order)
                .collect();
            if !f.kept {
                // The papers' figures: a discarded frame under a black mask.
                cx.painter
                    .rect_filled(r, 0.0, egui::Color32::from_black_alpha(215));
                cx.painter.text(
                    r.center(),
                    egui::Align2::CENTER_CENTER,
                    "×",
                    egui::FontId::proportional(14.0),
                    egui::Color32::from_gray(200),
                );
            } else if let Some(&first) = covering.first() {
                cx.painter.rect_stroke(
                    r,
                    0.0,
                    egui::Stroke::new(2.0, step_colour(first)),
                    egui::StrokeKind::Inside,
                );
            }
            if cx.hovered(r) {
                let m = f
                    .keep_prob
                    .map_or("no frame policy".into(), |p| format!("m_t = {p:.3}"));
                let what = if !f.kept {
                    format!("discarded ({m} < τ_f = {tau:.2})")
                } else if covering.is_empty() {
                    format!("kept, glance only ({m})")
                } else {
                    format!("kept ({m}), in cube {}", join(&covering))
                };
                hit = Some(Hit {
                    text: format!("frame {} · {:.3} s · {what}", f.frame, f.seconds),
                    jump: Some(f.frame),
                });
            }
        }
    }
    (
        format!(
            "Sampled frames lane: {} sampled frames, {} discarded",
            c.sampled, c.discarded
        ),
        hit,
    )
}

fn keep(cx: &LaneCtx, d: &Decisions) -> (String, Option<Hit>) {
    let w = slot_width(cx, &d.sampled, 14.0);
    let tau = d.knobs.frame_threshold;
    let y = |p: f32| cx.rect.bottom() - 3.0 - p.clamp(0.0, 1.0) * (cx.rect.height() - 6.0);
    let mut hit = None;
    let mut bars = 0;
    for f in d
        .trace
        .clips
        .iter()
        .filter(|c| cx.in_view(c))
        .flat_map(|c| &c.frames)
    {
        let Some(p) = f.keep_prob else { continue };
        bars += 1;
        let x = cx.x(f.frame);
        let r = egui::Rect::from_min_max(
            egui::pos2(x - w / 2.0, y(p)),
            egui::pos2(x + w / 2.0, cx.rect.bottom() - 3.0),
        );
        let colour = if f.kept {
            egui::Color32::from_rgb(67, 160, 71)
        } else {
            egui::Color32::from_gray(110)
        };
        cx.painter.rect_filled(r, 1.0, colour);
        if cx.hovered(r) {
            hit = Some(Hit {
                text: format!(
                    "frame {}: m_t = {p:.3}, {} (τ_f = {tau:.2})",
                    f.frame,
                    if f.kept { "kept" } else { "discarded" }
                ),
                jump: Some(f.frame),
            });
        }
    }
    if bars == 0 {
        return (
            absent(cx, "Keep probability lane", "this arch has no frame policy"),
            None,
        );
    }
    let ty = y(tau);
    cx.painter.add(egui::Shape::dashed_line(
        &[
            egui::pos2(cx.rect.left(), ty),
            egui::pos2(cx.rect.right(), ty),
        ],
        egui::Stroke::new(1.0, cx.visuals.warn_fg_color),
        6.0,
        4.0,
    ));
    cx.painter.text(
        egui::pos2(cx.rect.right() - 4.0, ty - 1.0),
        egui::Align2::RIGHT_BOTTOM,
        format!("τ_f = {tau:.2}"),
        egui::FontId::proportional(10.0),
        cx.visuals.warn_fg_color,
    );
    (
        format!("Keep probability lane: {bars} bars, tau_f {tau:.2}"),
        hit,
    )
}

fn cubes(cx: &LaneCtx, d: &Decisions, none_asked: bool) -> (String, Option<Hit>) {
    let c = d.counts;
    let mut hit = None;
    for clip in d.trace.clips.iter().filter(|c| cx.in_view(c)) {
        for q in &clip.cubes {
            let (Some(&a), Some(&b)) = (q.frames.first(), q.frames.last()) else {
                continue;
            };
            let (x0, x1) = cx.span(a, b);
            let row = (q.order - 1) as f32;
            let r = egui::Rect::from_min_max(
                egui::pos2(x0, cx.rect.top() + 4.0 + row * 16.0),
                egui::pos2(x1.max(x0 + 6.0), cx.rect.top() + 4.0 + row * 16.0 + 13.0),
            );
            let colour = step_colour(q.order);
            let computed = Decisions::cube_computed(clip, q.order);
            if computed {
                cx.painter.rect_filled(r, 2.0, colour);
            } else {
                cx.painter.rect_stroke(
                    r,
                    2.0,
                    egui::Stroke::new(1.5, colour),
                    egui::StrokeKind::Inside,
                );
            }
            let text_colour = if computed {
                egui::Color32::WHITE
            } else {
                colour
            };
            cx.painter.text(
                r.left_center() + egui::vec2(3.0, 0.0),
                egui::Align2::LEFT_CENTER,
                q.order.to_string(),
                egui::FontId::proportional(11.0),
                text_colour,
            );
            if cx.hovered(r) {
                hit = Some(Hit {
                    text: format!(
                        "cube {} (step {}): frames {} · centre ({:.2}, {:.2}) · {}×{} px × {} frames · {}",
                        q.order, q.order, join(&q.frames), q.x, q.y, q.w, q.h, q.t,
                        if computed { "computed at this budget" } else { "not computed at this budget (after the exit)" }
                    ),
                    jump: Some(q.z),
                });
            }
        }
    }
    if c.cubes == 0 {
        return (
            absent(
                cx,
                "Cubes lane",
                if none_asked {
                    "max cubes is 0: no cube looked at"
                } else {
                    "this arch looks at no cubes"
                },
            ),
            None,
        );
    }
    (
        format!(
            "Cubes lane: {} cubes, {} computed, {} not computed",
            c.cubes,
            c.computed_cubes,
            c.cubes - c.computed_cubes
        ),
        hit,
    )
}

/// The value the exit criterion compares, per step.
fn criterion_value(criterion: Criterion, s: &crate::decision::trace::StepPrediction) -> f32 {
    criterion.value(s)
}

fn entropy(cx: &LaneCtx, d: &Decisions) -> (String, Option<Hit>) {
    let c = d.counts;
    if c.steps == 0 {
        return (
            absent(cx, "Entropy lane", "this arch has no exit steps"),
            None,
        );
    }
    let criterion = d.criterion;
    let top_value = criterion.axis_top(d.trace.class_names.len()) as f32;
    let y = |v: f32| {
        cx.rect.bottom() - 4.0 - (v / top_value).clamp(0.0, 1.0) * (cx.rect.height() - 10.0)
    };
    let mut hit = None;
    for clip in d
        .trace
        .clips
        .iter()
        .filter(|c| !c.steps.is_empty() && cx.in_view(c))
    {
        let exit = clip.exit.as_ref();
        let exit_step = clip.stop_step().unwrap_or(0);
        let points: Vec<egui::Pos2> = clip
            .steps
            .iter()
            .map(|s| {
                egui::pos2(
                    cx.x(Decisions::step_frame(clip, s.step)),
                    y(criterion_value(criterion, s)),
                )
            })
            .collect();
        cx.painter.add(egui::Shape::line(
            points[..=exit_step.min(points.len() - 1)].to_vec(),
            egui::Stroke::new(1.5, cx.visuals.text_color()),
        ));
        if exit_step + 1 < points.len() {
            cx.painter.add(egui::Shape::dashed_line(
                &points[exit_step..],
                egui::Stroke::new(1.0, cx.visuals.weak_text_color()),
                4.0,
                3.0,
            ));
        }
        for (s, p) in clip.steps.iter().zip(&points) {
            let colour = if s.step == 0 {
                cx.visuals.text_color()
            } else {
                step_colour(s.step)
            };
            // ±∞ (a step that stops nobody or everybody) has no place on the axis.
            let threshold = exit
                .and_then(|e| e.thresholds.get(s.step).copied().flatten())
                .filter(|t| t.is_finite());
            if let Some(t) = threshold {
                let ty = y(t as f32);
                cx.painter.line_segment(
                    [egui::pos2(p.x - 9.0, ty), egui::pos2(p.x + 9.0, ty)],
                    egui::Stroke::new(2.0, cx.visuals.warn_fg_color),
                );
            }
            if s.step <= exit_step {
                cx.painter.circle_filled(*p, 4.0, colour);
            } else {
                cx.painter
                    .circle_stroke(*p, 4.0, egui::Stroke::new(1.5, colour));
            }
            if s.step == exit_step {
                cx.painter
                    .circle_stroke(*p, 8.0, egui::Stroke::new(2.0, cx.visuals.warn_fg_color));
                cx.painter.text(
                    *p + egui::vec2(10.0, -8.0),
                    egui::Align2::LEFT_BOTTOM,
                    "exit",
                    egui::FontId::proportional(11.0),
                    cx.visuals.warn_fg_color,
                );
            }
            let r = egui::Rect::from_center_size(*p, egui::vec2(14.0, 14.0));
            if cx.hovered(r) {
                let (name, unit) = match criterion {
                    Criterion::Entropy => ("entropy", " nats"),
                    Criterion::Confidence => ("confidence", ""),
                };
                let th = threshold.map_or("none (never exits here)".into(), |t| format!("{t:.3}"));
                let top = s.top.first().map_or(String::new(), |t| {
                    format!(" · top-1 {} {:.1}%", d.class_name(t.class), t.prob * 100.0)
                });
                hit = Some(Hit {
                    text: format!(
                        "step {}: {name} {:.3}{unit}, threshold {th}{top} · {:.4} GFLOPs so far{}",
                        s.step,
                        criterion_value(criterion, s),
                        s.cumulative_gflops,
                        if s.step == exit_step {
                            " · EXIT"
                        } else if s.step > exit_step {
                            " · not computed"
                        } else {
                            ""
                        }
                    ),
                    jump: Some(Decisions::step_frame(clip, s.step)),
                });
            }
        }
    }
    let exit = c
        .exit_step
        .map_or("no exit".into(), |e| format!("exit at step {e}"));
    (format!("Entropy lane: {} steps, {exit}", c.steps), hit)
}

fn stages(cx: &LaneCtx, d: &Decisions) -> (String, Option<Hit>) {
    let c = d.counts;
    if c.stages == 0 {
        return (
            absent(cx, "3D stages lane", "this arch has no adaptive stages"),
            None,
        );
    }
    let tau = d.knobs.stage_threshold;
    let mut hit = None;
    for (ci, clip) in d.trace.clips.iter().enumerate() {
        if !cx.in_view(clip) {
            continue;
        }
        let (x0, x1) = clip_span(cx, clip);
        let k = clip.stages.len().max(1) as f32;
        let step = ((x1 - x0) / k).min(22.0);
        let radius = (step * 0.35).clamp(2.0, 6.0);
        for (i, s) in clip.stages.iter().enumerate() {
            let p = egui::pos2(x0 + step * (i as f32 + 0.5), cx.rect.center().y);
            let colour = egui::Color32::from_rgb(66, 133, 244);
            if s.ran_3d {
                cx.painter.circle_filled(p, radius, colour);
            } else {
                cx.painter
                    .circle_stroke(p, radius, egui::Stroke::new(1.5, colour));
            }
            if cx.hovered(egui::Rect::from_center_size(
                p,
                egui::vec2(radius * 2.0 + 4.0, radius * 2.0 + 4.0),
            )) {
                hit = Some(Hit {
                    text: format!(
                        "clip {}, stage {}: n_k = {:.3}, {} (τ_s = {tau:.2})",
                        ci + 1,
                        i + 1,
                        s.prob,
                        if s.ran_3d { "3D" } else { "degraded to 2D" }
                    ),
                    jump: clip.frames.first().map(|f| f.frame),
                });
            }
        }
    }
    (
        format!(
            "3D stages lane: {} clips, {} of {} stages 3D",
            c.clips, c.stages_3d, c.stages
        ),
        hit,
    )
}

pub(super) fn clip_span(cx: &LaneCtx, clip: &ClipTrace) -> (f32, f32) {
    let a = clip.frames.first().map_or(0, |f| f.frame);
    let b = clip.frames.last().map_or(a, |f| f.frame);
    let (x0, x1) = cx.span(a, b);
    (x0, x1.max(x0 + 30.0))
}

/// A lane with nothing to show (no model run yet, or nothing of this kind in the arch): say
/// so in the lane and in its label.
pub(super) fn absent(cx: &LaneCtx, lane: &str, why: &str) -> String {
    cx.painter.text(
        cx.rect.left_center() + egui::vec2(6.0, 0.0),
        egui::Align2::LEFT_CENTER,
        why,
        egui::FontId::proportional(11.0),
        cx.visuals.weak_text_color(),
    );
    format!("{lane}: {why}")
}

fn join(v: &[usize]) -> String {
    v.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
