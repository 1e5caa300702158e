//! The generic lanes of a trace (`decision::lanes`): a categorical lane draws each sampled
//! frame's category as a coloured cell (categories that cost nothing, a skipped frame, in the
//! discarded grey), a scalar lane draws each frame's value as a bar. Drawn under the model's
//! lanes, on the same axis, for traces logged from any model.

use super::lanes::{absent, Hit, LaneCtx};
use crate::app::decisions::Decisions;
use crate::decision::lanes::{category_colour, LaneKind, LaneSpec, LaneTotals};

/// Height of a generic lane's row.
pub fn height(spec: &LaneSpec) -> f32 {
    match spec.kind {
        LaneKind::Categorical => 30.0,
        LaneKind::Scalar => 44.0,
    }
}

fn colour([r, g, b]: [u8; 3]) -> egui::Color32 {
    egui::Color32::from_rgb(r, g, b)
}

/// Paint lane `index` of the trace in `d`; its accessibility label and the hit under the pointer.
pub fn paint(cx: &LaneCtx, d: &Decisions, index: usize) -> (String, Option<Hit>) {
    let Some(spec) = d.trace.lanes.get(index) else {
        return (absent(cx, "Lane", "not in this trace"), None);
    };
    let Some(totals) = d.lane_totals.iter().find(|t| t.spec.name == spec.name) else {
        return (absent(cx, "Lane", "not in this trace"), None);
    };
    let seen = range_of(totals);
    let w = {
        let gap = d
            .sampled
            .windows(2)
            .map(|p| cx.x(p[1]) - cx.x(p[0]))
            .fold(f32::INFINITY, f32::min);
        if gap.is_finite() { gap - 1.0 } else { 12.0 }.clamp(1.0, 14.0)
    };
    let (top, bottom) = (cx.rect.top() + 3.0, cx.rect.bottom() - 3.0);
    let mut hit = None;
    let mut values = 0;
    for c in d.trace.clips.iter().filter(|c| cx.in_view(c)) {
        let Some(vals) = c.lanes.get(&spec.name) else {
            continue;
        };
        for (f, v) in c.frames.iter().zip(vals) {
            let x = cx.x(f.frame);
            let r = match spec.kind {
                LaneKind::Categorical => {
                    let Some((i, cat)) = spec.category(*v) else {
                        continue;
                    };
                    let r = egui::Rect::from_min_max(
                        egui::pos2(x - w / 2.0, top),
                        egui::pos2(x + w / 2.0, bottom),
                    );
                    cx.painter
                        .rect_filled(r, 1.0, colour(category_colour(i, cat)));
                    r
                }
                LaneKind::Scalar => {
                    let Some(p) = spec.unit_position(*v, seen) else {
                        continue;
                    };
                    let y = bottom - p as f32 * (bottom - top);
                    let r = egui::Rect::from_min_max(
                        egui::pos2(x - w / 2.0, y.min(bottom - 1.0)),
                        egui::pos2(x + w / 2.0, bottom),
                    );
                    cx.painter
                        .rect_filled(r, 1.0, egui::Color32::from_rgb(0, 150, 170));
                    r
                }
            };
            values += 1;
            if cx.hovered(r) {
                let cost = spec
                    .category(*v)
                    .and_then(|(_, c)| c.gflops)
                    .map_or(String::new(), |g| format!(" ({g:.3} GFLOPs)"));
                hit = Some(Hit {
                    text: format!(
                        "frame {}: {} {}{cost}",
                        f.frame,
                        spec.name,
                        spec.value_text(*v)
                    ),
                    jump: Some(f.frame),
                });
            }
        }
    }
    if values == 0 {
        return (
            absent(cx, &format!("{} lane", spec.name), "no values in view"),
            None,
        );
    }
    (label(totals, cx), hit)
}

/// A scalar lane's lowest and highest value ((0, 1) without any).
fn range_of(t: &LaneTotals) -> (f64, f64) {
    if t.values > 0 {
        (t.min, t.max)
    } else {
        (0.0, 1.0)
    }
}

/// The lane's numbers (also its legend, drawn at its right end for a categorical lane).
fn label(totals: &LaneTotals, cx: &LaneCtx) -> String {
    let spec = &totals.spec;
    match spec.kind {
        LaneKind::Categorical => {
            let (counts, cost) = (&totals.counts, totals.gflops);
            let mut x = cx.rect.right() - 4.0;
            for (i, cat) in spec.categories.iter().enumerate().rev() {
                let r = cx.painter.text(
                    egui::pos2(x, cx.rect.top() + 1.0),
                    egui::Align2::RIGHT_TOP,
                    &cat.name,
                    egui::FontId::proportional(10.0),
                    colour(category_colour(i, cat)),
                );
                x = r.left() - 6.0;
            }
            let parts: Vec<String> = spec
                .categories
                .iter()
                .zip(counts)
                .map(|(c, n)| format!("{} x{n}", c.name))
                .collect();
            format!(
                "{} lane: {}{}",
                spec.name,
                parts.join(", "),
                cost.map_or(String::new(), |g| format!(", {g:.3} GFLOPs"))
            )
        }
        LaneKind::Scalar => {
            let (lo, hi) = range_of(totals);
            format!(
                "{} lane: values {lo:.3} to {hi:.3}{}",
                spec.name,
                spec.unit
                    .as_deref()
                    .map_or(String::new(), |u| format!(" {u}"))
            )
        }
    }
}

/// A share of frames per category as one bar of `size`, in the lane's colours; its hover
/// text and the shares as text (`224 25% · 168 26% · …`).
pub(super) fn category_bar(
    ui: &mut egui::Ui,
    spec: &LaneSpec,
    counts: &[usize],
    size: egui::Vec2,
) -> String {
    let (rect, r) = ui.allocate_exact_size(size, egui::Sense::hover());
    let all = counts.iter().sum::<usize>().max(1) as f32;
    let mut x = rect.left();
    for (k, (cat, n)) in spec.categories.iter().zip(counts).enumerate() {
        let w = rect.width() * *n as f32 / all;
        ui.painter().rect_filled(
            egui::Rect::from_min_size(egui::pos2(x, rect.top()), egui::vec2(w, rect.height())),
            0.0,
            colour(category_colour(k, cat)),
        );
        x += w;
    }
    let shares: Vec<String> = spec
        .categories
        .iter()
        .zip(counts)
        .map(|(c, n)| format!("{} {:.0}%", c.name, 100.0 * *n as f32 / all))
        .collect();
    let shares = shares.join(" · ");
    r.on_hover_text(format!("{}: {shares}", spec.name));
    shares
}
