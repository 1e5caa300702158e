//! Compare mode's rows of the timeline: what differs between A and B per clip (a band over
//! each clip: grey the same, amber different decisions, red a different prediction; ticks at
//! the frames kept by one run only; the exits, cube overlap and GFLOPs in words where the
//! clip is wide enough), B's heading, and B's lanes (the same painters as A's).

use super::lanes::{self, Hit, LaneCtx, LaneKind};
use super::timeline::Row;
use crate::app::{AdalensApp, CompareView, Decisions};
use crate::decision::compare::ClipDiff;

/// A's colour in compare mode (the viewer's solid boxes, the ticks above the band).
pub const A_COLOUR: egui::Color32 = egui::Color32::from_rgb(70, 140, 230);
/// B's colour (the viewer's dotted boxes, the ticks below the band).
pub const B_COLOUR: egui::Color32 = egui::Color32::from_rgb(235, 140, 40);

impl AdalensApp {
    /// B's lane of `kind`, or why B has nothing to draw yet.
    pub(super) fn b_lane(&self, kind: LaneKind, cx: &LaneCtx) -> (String, Option<Hit>) {
        let Some(c) = &self.compare else {
            return (String::new(), None);
        };
        match &c.decisions {
            Some(d) => {
                let (label, hit) =
                    lanes::paint_run(kind, cx, self, Some(d), c.spec.max_cubes == Some(0));
                (format!("B: {label}"), hit)
            }
            None => {
                let why = match &c.problem {
                    Some(p) => format!("B could not run: {p}"),
                    None if c.waiting() => "B is running…".into(),
                    None => "waiting for A".into(),
                };
                (
                    lanes::absent(cx, &format!("B {} lane", kind.title()), &why),
                    None,
                )
            }
        }
    }

    /// The differences row or B's heading.
    pub(super) fn compare_row_ui(
        &self,
        painter: &egui::Painter,
        cx: &LaneCtx,
        title_x: f32,
        row: &Row,
    ) -> (String, Option<Hit>) {
        let Some(c) = &self.compare else {
            return (String::new(), None);
        };
        let title = |text: &str, colour: egui::Color32| {
            painter.text(
                egui::pos2(title_x + 4.0, cx.rect.center().y),
                egui::Align2::LEFT_CENTER,
                text,
                egui::FontId::proportional(12.0),
                colour,
            );
        };
        painter.line_segment(
            [cx.rect.left_bottom(), cx.rect.right_bottom()],
            egui::Stroke::new(0.5, cx.visuals.weak_text_color()),
        );
        if *row == Row::HeaderB {
            title("B", B_COLOUR);
            let text = format!("B: {}", c.spec.label());
            cx.painter.text(
                cx.rect.left_center() + egui::vec2(6.0, 0.0),
                egui::Align2::LEFT_CENTER,
                &text,
                egui::FontId::proportional(12.0),
                B_COLOUR,
            );
            return (text, None);
        }
        title("A vs B", cx.visuals.text_color());
        match &self.decisions {
            Some(a) if c.decisions.is_some() => differences(cx, a, c),
            _ => (
                lanes::absent(cx, "Differences lane", "waiting for both runs"),
                None,
            ),
        }
    }
}

/// The differences lane: one band per clip, and its label with the counts.
fn differences(cx: &LaneCtx, a: &Decisions, c: &CompareView) -> (String, Option<Hit>) {
    let mut hit = None;
    let names = |class: u32| a.class_name(class);
    // Clips either run has not run yet are left out (drawn once both have them).
    let b_pending = c.decisions.as_ref().map_or(&[][..], |b| &b.pending[..]);
    // (`pending` is sorted.)
    let ran =
        |k: usize| a.pending.binary_search(&k).is_err() && b_pending.binary_search(&k).is_err();
    for (d, clip) in c.diffs.iter().zip(&a.trace.clips) {
        if clip.frames.is_empty() || !cx.in_view(clip) || !ran(d.clip) {
            continue;
        }
        let first = clip.frames.iter().map(|f| f.frame).min().unwrap_or(0);
        let last = clip.frames.iter().map(|f| f.frame).max().unwrap_or(first);
        let (x0, x1) = cx.span(first, last);
        let margin = (cx.rect.height() * 0.25).min(12.0);
        let band = egui::Rect::from_x_y_ranges(
            x0..=x1.max(x0 + 1.0),
            cx.rect.top() + margin..=cx.rect.bottom() - margin,
        );
        let prediction = d.top1_a.map(|t| t.class) != d.top1_b.map(|t| t.class);
        let fill = if d.is_same() {
            cx.visuals.faint_bg_color
        } else if prediction {
            egui::Color32::from_rgb(200, 60, 60).gamma_multiply(0.55)
        } else {
            egui::Color32::from_rgb(220, 170, 40).gamma_multiply(0.45)
        };
        cx.painter.rect_filled(band, 1.0, fill);
        let tick = |frame: usize, colour: egui::Color32, up: bool| {
            let x = cx.x(frame);
            let (y0, y1) = if up {
                (cx.rect.top() + 2.0, band.top())
            } else {
                (band.bottom(), cx.rect.bottom() - 2.0)
            };
            cx.painter.line_segment(
                [egui::pos2(x, y0), egui::pos2(x, y1)],
                egui::Stroke::new(2.0, colour),
            );
        };
        d.kept_only_a.iter().for_each(|&f| tick(f, A_COLOUR, true));
        d.kept_only_b.iter().for_each(|&f| tick(f, B_COLOUR, false));
        let short = short_text(d);
        if band.width() > 90.0 && band.height() >= 11.0 && !short.is_empty() {
            cx.painter.text(
                band.center(),
                egui::Align2::CENTER_CENTER,
                &short,
                egui::FontId::proportional(11.0),
                cx.visuals.strong_text_color(),
            );
        }
        if cx.hovered(band.expand2(egui::vec2(0.0, 12.0))) {
            hit = Some(Hit {
                text: long_text(d, &names),
                jump: Some(first),
            });
        }
    }
    let done: Vec<&ClipDiff> = c.diffs.iter().filter(|d| ran(d.clip)).collect();
    (label(&done), hit)
}

/// What differs in a few words (the band's caption).
fn short_text(d: &ClipDiff) -> String {
    if d.is_same() {
        return "same".into();
    }
    let mut parts = Vec::new();
    if d.exit_a != d.exit_b {
        let s = |e: Option<usize>| e.map_or("–".into(), |e| e.to_string());
        parts.push(format!("exit {} vs {}", s(d.exit_a), s(d.exit_b)));
    }
    if let Some(iou) = mean_iou(d) {
        if iou < 1.0 - 1e-9 {
            parts.push(format!("IoU {iou:.2}"));
        }
    }
    let dg = d.gflops_b - d.gflops_a;
    if dg.abs() >= 5e-4 {
        parts.push(format!("{dg:+.3} GF"));
    }
    parts.join(" · ")
}

/// Everything that differs in a clip (the band's hover text).
fn long_text(d: &ClipDiff, names: &dyn Fn(u32) -> String) -> String {
    let top = |t: Option<crate::decision::trace::ClassProb>| {
        t.map_or("–".into(), |t| {
            format!("{} {:.1}%", names(t.class), t.prob * 100.0)
        })
    };
    let step = |e: Option<usize>| e.map_or("–".into(), |e| e.to_string());
    let frames = |v: &[usize]| {
        if v.is_empty() {
            "none".into()
        } else {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut lines = vec![
        format!(
            "Clip {}: {}",
            d.clip + 1,
            if d.is_same() {
                "the same in A and B"
            } else {
                "A and B differ"
            }
        ),
        format!("exit step: A {}, B {}", step(d.exit_a), step(d.exit_b)),
        format!("top-1: A {}, B {}", top(d.top1_a), top(d.top1_b)),
        format!(
            "GFLOPs: A {:.3}, B {:.3} ({:+.3})",
            d.gflops_a,
            d.gflops_b,
            d.gflops_b - d.gflops_a
        ),
    ];
    if !d.cubes.is_empty() {
        let ious: Vec<String> = d
            .cubes
            .iter()
            .map(|c| format!("{}: {:.2}", c.order, c.iou))
            .collect();
        lines.push(format!("cube IoU: {}", ious.join(", ")));
    }
    if d.cubes_only_a + d.cubes_only_b > 0 {
        lines.push(format!(
            "cubes in A only: {}, in B only: {}",
            d.cubes_only_a, d.cubes_only_b
        ));
    }
    lines.push(format!(
        "frames kept by A only: {}; by B only: {}",
        frames(&d.kept_only_a),
        frames(&d.kept_only_b)
    ));
    if !d.stages_3d_only_a.is_empty() || !d.stages_3d_only_b.is_empty() {
        lines.push(format!(
            "stages 3D in A only: {}; in B only: {}",
            frames(&d.stages_3d_only_a),
            frames(&d.stages_3d_only_b)
        ));
    }
    lines.join("\n")
}

fn mean_iou(d: &ClipDiff) -> Option<f64> {
    (!d.cubes.is_empty()).then(|| d.cubes.iter().map(|c| c.iou).sum::<f64>() / d.cubes.len() as f64)
}

/// The differences lane's accessibility label: how many clips differ, and in what.
pub fn label(diffs: &[&ClipDiff]) -> String {
    let count = |f: &dyn Fn(&ClipDiff) -> bool| diffs.iter().filter(|d| f(d)).count();
    let differ = count(&|d| !d.is_same());
    let exits = count(&|d| d.exit_a != d.exit_b);
    let predictions = count(&|d| d.top1_a.map(|t| t.class) != d.top1_b.map(|t| t.class));
    let frames = count(&|d| !d.kept_only_a.is_empty() || !d.kept_only_b.is_empty());
    let stages = count(&|d| !d.stages_3d_only_a.is_empty() || !d.stages_3d_only_b.is_empty());
    let cubes = count(&|d| {
        d.cubes_only_a + d.cubes_only_b > 0 || d.cubes.iter().any(|c| c.iou < 1.0 - 1e-9)
    });
    let ga: f64 = diffs.iter().map(|d| d.gflops_a).sum();
    let gb: f64 = diffs.iter().map(|d| d.gflops_b).sum();
    let ious: Vec<f64> = diffs.iter().copied().filter_map(mean_iou).collect();
    let iou = if ious.is_empty() {
        "no cubes".into()
    } else {
        format!(
            "mean cube IoU {:.2}",
            ious.iter().sum::<f64>() / ious.len() as f64
        )
    };
    format!(
        "Differences lane: {differ} of {} clips differ (exit in {exits}, prediction in \
         {predictions}, kept frames in {frames}, 3D stages in {stages}, cubes in {cubes}); \
         {iou}; GFLOPs A {ga:.3}, B {gb:.3}",
        diffs.len()
    )
}
