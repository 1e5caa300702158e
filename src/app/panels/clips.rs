//! The timeline's view of clips: the clip band under the ruler (one numbered segment per clip,
//! run or still to run, the one under the playhead outlined) and, when clips are narrower than
//! their labels, the lanes' summary: one heat cell per clip per lane instead of per-frame
//! details. Both draw with level of detail: clips outside the view are skipped and clips
//! narrower than a pixel share one cell, so the cost follows the timeline's width, not the
//! clip count. Narrow cells go into one mesh per call, two triangles each on whole pixels:
//! drawn as separate anti-aliased (and, in the band, rounded) rectangles, 225 clips cost the
//! software rasteriser more than the rest of the window (BENCHMARKS.md, "The window").

use super::lanes::{Axis, Hit, LaneCtx, LaneKind};
use super::step_colour;
use crate::app::decisions::{ClipSummary, Decisions};

/// Clips narrower than this (in pixels) are summarised.
pub const SUMMARY_BELOW: f32 = 48.0;

/// Whether the lanes show the summary: the typical clip is narrower than its details need.
pub fn summarised(axis: &Axis, d: &Decisions) -> bool {
    let Some(s) = d.summaries.first() else {
        return false;
    };
    d.summaries.len() > 1 && axis.x((s.last + 1) as f64) - axis.x(s.first as f64) < SUMMARY_BELOW
}

/// The visible clips with their spans in pixels, at most one per pixel column: a clip that
/// starts within a pixel of the previous one drawn is folded into it (the later one wins).
fn visible<'a>(
    axis: &'a Axis,
    d: &'a Decisions,
) -> impl Iterator<Item = (usize, &'a ClipSummary, f32, f32)> + 'a {
    let right = axis.left + axis.width;
    let mut drawn_to = f32::NEG_INFINITY;
    d.summaries.iter().enumerate().filter_map(move |(i, s)| {
        let x0 = axis.x(s.first as f64);
        let x1 = axis.x((s.last + 1) as f64).max(x0 + 1.0);
        if x1 < axis.left || x0 > right || x0 < drawn_to {
            return None;
        }
        drawn_to = x0 + 1.0;
        Some((i, s, x0, x1))
    })
}

/// Cells narrower than this (in points) carry no rounding or outline that could be seen.
const PLAIN_BELOW: f32 = 6.0;

/// Flat, axis-aligned cells on whole pixels, painted as one texture: a row of cells is one
/// texel per pixel column, drawn as a single quad with nearest sampling. Adjacent cells meet
/// without a seam or an overlap, and none needs an anti-aliasing fringe. As triangles (two a
/// cell, even in one mesh), cells a few pixels wide share the software rasteriser's 4×4 pixel
/// blocks, each block shaded once per triangle that touches it: 225 clips' summary cost
/// llvmpipe 14 ms a frame, a fifth of the window's (BENCHMARKS.md, "The window").
struct Cells {
    rows: Vec<CellRow>,
    pixels_per_point: f32,
}

/// One row of cells: its top and bottom in points, and its cells in pixel columns.
struct CellRow {
    top: f32,
    bottom: f32,
    cells: Vec<(i32, i32, egui::Color32)>,
}

/// The widest row in pixels a texture holds (wider than any screen); columns past it are cut.
const MAX_CELL_COLUMNS: i32 = 8192;

impl Cells {
    fn new(pixels_per_point: f32) -> Self {
        Self {
            rows: Vec::new(),
            pixels_per_point,
        }
    }

    fn snap(&self, y: f32) -> f32 {
        (y * self.pixels_per_point).round() / self.pixels_per_point
    }

    /// A cell from `x0` to `x1` (at least one pixel wide) and `top` to `bottom`.
    fn add(&mut self, x0: f32, x1: f32, top: f32, bottom: f32, fill: egui::Color32) {
        let left = (x0 * self.pixels_per_point).round() as i32;
        let right = ((x1 * self.pixels_per_point).round() as i32).max(left.saturating_add(1));
        let (top, bottom) = (self.snap(top), self.snap(bottom));
        let row = match self
            .rows
            .iter()
            .position(|r| r.top == top && r.bottom == bottom)
        {
            Some(k) => k,
            None => {
                self.rows.push(CellRow {
                    top,
                    bottom,
                    cells: Vec::new(),
                });
                self.rows.len() - 1
            }
        };
        self.rows[row].cells.push((left, right, fill));
    }

    /// The rows as an image, one texel per pixel column (later cells win), and the pixel
    /// columns it spans.
    fn image(&self) -> Option<(egui::ColorImage, i32, i32)> {
        let cells = self.rows.iter().flat_map(|r| &r.cells);
        let lo = cells.clone().map(|c| c.0).min()?;
        let hi = cells
            .map(|c| c.1)
            .max()?
            .min(lo.saturating_add(MAX_CELL_COLUMNS));
        let width = (hi - lo) as usize;
        let mut pixels = vec![egui::Color32::TRANSPARENT; width * self.rows.len()];
        for (k, row) in self.rows.iter().enumerate() {
            let line = &mut pixels[k * width..(k + 1) * width];
            for &(a, b, fill) in &row.cells {
                let (a, b) = (
                    (a - lo).max(0) as usize,
                    ((b - lo).max(0) as usize).min(width),
                );
                if a < b {
                    line[a..b].fill(fill);
                }
            }
        }
        Some((
            egui::ColorImage::new([width, self.rows.len()], pixels),
            lo,
            hi,
        ))
    }

    fn paint(self, painter: &egui::Painter) {
        let Some((image, lo, hi)) = self.image() else {
            return;
        };
        let texture = cell_texture(painter.ctx(), image);
        let n = self.rows.len() as f32;
        let (left, right) = (
            lo as f32 / self.pixels_per_point,
            hi as f32 / self.pixels_per_point,
        );
        let mut mesh = egui::Mesh::with_texture(texture);
        for (k, row) in self.rows.iter().enumerate() {
            mesh.add_rect_with_uv(
                egui::Rect::from_min_max(egui::pos2(left, row.top), egui::pos2(right, row.bottom)),
                egui::Rect::from_min_max(
                    egui::pos2(0.0, k as f32 / n),
                    egui::pos2(1.0, (k as f32 + 1.0) / n),
                ),
                egui::Color32::WHITE,
            );
        }
        painter.add(egui::Shape::mesh(mesh));
    }
}

/// The textures of this frame's cell rows, reused frame after frame: the n-th `Cells`
/// painted in a pass gets the n-th texture (the timeline paints them in the same order every
/// frame), which is uploaded again only when its pixels change.
#[derive(Clone, Default)]
struct CellTextures(std::sync::Arc<std::sync::Mutex<CellSlots>>);

#[derive(Default)]
struct CellSlots {
    pass: u64,
    used: usize,
    slots: Vec<(egui::ColorImage, egui::TextureHandle)>,
}

fn cell_texture(ctx: &egui::Context, image: egui::ColorImage) -> egui::TextureId {
    let id = egui::Id::unique("clip cell textures");
    let textures = ctx.data_mut(|d| d.get_temp_mut_or_default::<CellTextures>(id).clone());
    let mut t = textures.0.lock().unwrap_or_else(|e| e.into_inner());
    let pass = ctx.cumulative_pass_nr();
    if t.pass != pass {
        t.pass = pass;
        t.used = 0;
    }
    let slot = t.used;
    t.used += 1;
    let options = egui::TextureOptions::NEAREST;
    if let Some((shown, handle)) = t.slots.get_mut(slot) {
        if *shown != image {
            handle.set(image.clone(), options);
            *shown = image;
        }
        return handle.id();
    }
    let handle = ctx.load_texture(format!("clip cells {slot}"), image.clone(), options);
    let texture = handle.id();
    t.slots.push((image, handle));
    texture
}

/// The clip under `x`, if any.
fn clip_at_x(axis: &Axis, d: &Decisions, x: f32) -> Option<usize> {
    let f = axis.frame_at(x);
    let i = d
        .summaries
        .partition_point(|s| s.first <= f)
        .checked_sub(1)?;
    (d.summaries[i].last + 1 >= f).then_some(i)
}

/// What a clip's numbers say, for hovers.
fn describe(d: &Decisions, i: usize) -> String {
    let s = &d.summaries[i];
    let head = format!("clip {} · frames {}–{}", i + 1, s.first, s.last);
    if !s.done {
        return format!("{head} · not run yet");
    }
    let mut parts = vec![head];
    if let Some(e) = s.stop_step {
        parts.push(format!("exit after step {e}"));
    }
    if let Some((c, p)) = s.top1 {
        parts.push(format!("top-1 {} {:.1}%", d.class_name(c), p * 100.0));
    }
    parts.push(format!("{:.4} GFLOPs", s.spent_gflops));
    parts.push(format!("{} of {} frames kept", s.kept, s.sampled));
    if s.cubes > 0 {
        parts.push(format!(
            "{} of {} cubes computed",
            s.computed_cubes, s.cubes
        ));
    }
    if s.stages > 0 {
        parts.push(format!("{} of {} stages 3D", s.stages_3d, s.stages));
    }
    parts.join(" · ")
}

/// The clip band: numbered segments, filled once run, the clip at the playhead outlined.
/// Returns the hover over it.
pub fn band(
    painter: &egui::Painter,
    visuals: &egui::Visuals,
    axis: &Axis,
    rect: egui::Rect,
    d: &Decisions,
    at: usize,
    pointer: Option<egui::Pos2>,
) -> Option<Hit> {
    let done_fill = visuals.widgets.inactive.bg_fill;
    let mut cells = Cells::new(painter.pixels_per_point());
    let mut at_rect = None;
    for (i, s, x0, x1) in visible(axis, d) {
        let r = egui::Rect::from_min_max(
            egui::pos2(x0 + 0.5, rect.top()),
            egui::pos2((x1 - 0.5).max(x0 + 1.0), rect.bottom()),
        );
        if i == at {
            at_rect = Some(r);
        }
        if r.width() < PLAIN_BELOW {
            // Too narrow for rounding, an outline or a number: a plain cell, a fainter one
            // until the clip has run.
            let fill = if s.done {
                done_fill
            } else {
                visuals.faint_bg_color
            };
            cells.add(r.left(), r.right(), r.top(), r.bottom(), fill);
            continue;
        }
        if s.done {
            painter.rect_filled(r, 2.0, done_fill);
        } else {
            painter.rect_stroke(
                r,
                2.0,
                egui::Stroke::new(1.0, visuals.weak_text_color()),
                egui::StrokeKind::Inside,
            );
        }
        let label = (i + 1).to_string();
        if r.width() >= 8.0 * label.len() as f32 + 6.0 {
            painter.text(
                r.left_center() + egui::vec2(3.0, 0.0),
                egui::Align2::LEFT_CENTER,
                label,
                egui::FontId::proportional(10.0),
                if s.done {
                    visuals.text_color()
                } else {
                    visuals.weak_text_color()
                },
            );
        }
    }
    cells.paint(painter);
    if let Some(r) = at_rect {
        // Last, so no neighbour's cell covers it.
        painter.rect_stroke(
            r,
            2.0,
            egui::Stroke::new(1.5, visuals.selection.stroke.color),
            egui::StrokeKind::Outside,
        );
    }
    let p = pointer.filter(|p| rect.contains(*p))?;
    let i = clip_at_x(axis, d, p.x)?;
    Some(Hit {
        text: describe(d, i),
        jump: Some(d.summaries[i].first),
    })
}

/// The rows of a lane's summary, top to bottom (also their captions beside the lane).
pub fn summary_rows(kind: LaneKind) -> &'static [&'static str] {
    match kind {
        LaneKind::Thumbnails | LaneKind::Keep => &["kept frames"],
        LaneKind::Cubes => &["cubes computed"],
        LaneKind::Entropy => &["exit step", "GFLOPs spent", "top-1 probability"],
        LaneKind::Stages => &["3D stages"],
    }
}

/// A lane as one heat cell per clip (the summary of many clips). Returns its accessibility
/// label and the hover.
pub fn summary(kind: LaneKind, cx: &LaneCtx, d: &Decisions) -> (String, Option<Hit>) {
    let max_gflops = d
        .summaries
        .iter()
        .map(|s| s.spent_gflops)
        .fold(0.0, f64::max)
        .max(1e-12);
    let max_cubes = d
        .summaries
        .iter()
        .map(|s| s.cubes)
        .max()
        .unwrap_or(0)
        .max(1);
    let rows = summary_rows(kind);
    let base = match kind {
        LaneKind::Cubes => egui::Color32::from_rgb(66, 133, 244),
        LaneKind::Stages => egui::Color32::from_rgb(66, 133, 244),
        _ => egui::Color32::from_rgb(67, 160, 71),
    };
    let row_h = (cx.rect.height() - 4.0) / rows.len() as f32;
    let heat = |v: f64, colour: egui::Color32| {
        let a = (40.0 + 215.0 * v.clamp(0.0, 1.0)) as u8;
        egui::Color32::from_rgba_unmultiplied(colour.r(), colour.g(), colour.b(), a)
    };
    let mut cells = Cells::new(cx.painter.pixels_per_point());
    for (_, s, x0, x1) in visible(cx.axis, d) {
        for (k, row) in rows.iter().enumerate() {
            let top = cx.rect.top() + 2.0 + k as f32 * row_h;
            let bottom = cx.rect.top() + 2.0 + (k as f32 + 1.0) * row_h - 1.0;
            if !s.done {
                cells.add(x0, x1, top, bottom, cx.visuals.faint_bg_color);
                continue;
            }
            let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let fill = match *row {
                "kept frames" => heat(ratio(s.kept, s.sampled), base),
                "cubes computed" => heat(ratio(s.computed_cubes, max_cubes), base),
                "3D stages" => heat(ratio(s.stages_3d, s.stages), base),
                "exit step" => match s.stop_step {
                    Some(0) => cx.visuals.weak_text_color(),
                    Some(e) => step_colour(e),
                    None => cx.visuals.faint_bg_color,
                },
                "GFLOPs spent" => heat(
                    s.spent_gflops / max_gflops,
                    egui::Color32::from_rgb(255, 112, 67),
                ),
                _ => heat(
                    s.top1.map_or(0.0, |(_, p)| p as f64),
                    egui::Color32::from_rgb(171, 71, 188),
                ),
            };
            cells.add(x0, x1, top, bottom, fill);
        }
    }
    cells.paint(cx.painter);
    let hit = cx.pointer.filter(|p| cx.rect.contains(*p)).and_then(|p| {
        let i = clip_at_x(cx.axis, d, p.x)?;
        let k = (((p.y - cx.rect.top() - 2.0) / row_h) as usize).min(rows.len() - 1);
        Some(Hit {
            text: format!("{}: {}", rows[k], describe(d, i)),
            jump: Some(d.summaries[i].first),
        })
    });
    let run = d.summaries.iter().filter(|s| s.done).count();
    (
        format!(
            "{} lane: summary of {} clips ({} run): {}",
            kind.title(),
            d.summaries.len(),
            run,
            rows.join(", ")
        ),
        hit,
    )
}

/// Over a lane in detail: the clips not run yet, shaded, so a partial run reads as one.
pub fn pending_overlay(cx: &LaneCtx, d: &Decisions) {
    for &i in &d.pending {
        let Some(s) = d.summaries.get(i) else {
            continue;
        };
        let (x0, x1) = (cx.axis.x(s.first as f64), cx.axis.x((s.last + 1) as f64));
        if x1 < cx.rect.left() || x0 > cx.rect.right() {
            continue;
        }
        let r = egui::Rect::from_min_max(
            egui::pos2(x0, cx.rect.top() + 1.0),
            egui::pos2(x1, cx.rect.bottom() - 1.0),
        );
        cx.painter.rect_filled(r, 0.0, cx.visuals.faint_bg_color);
        if r.width() > 70.0 {
            cx.painter.text(
                r.center(),
                egui::Align2::CENTER_CENTER,
                "not run yet",
                egui::FontId::proportional(10.0),
                cx.visuals.weak_text_color(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::Color32;

    #[test]
    fn cells_become_one_texel_per_pixel_column_and_later_cells_win() {
        let (red, blue) = (Color32::RED, Color32::BLUE);
        let mut cells = Cells::new(2.0);
        // Row 1: red over [10, 12) points = pixels [20, 24), blue over [11.5, 13) = [23, 26).
        cells.add(10.0, 12.0, 0.0, 5.0, red);
        cells.add(11.5, 13.0, 0.0, 5.0, blue);
        // Row 2: a cell narrower than a pixel still gets one; a gap stays transparent.
        cells.add(10.0, 10.1, 6.0, 9.0, blue);
        let (image, lo, hi) = cells.image().unwrap();
        assert_eq!((lo, hi), (20, 26));
        assert_eq!(image.size, [6, 2]);
        let row = |k: usize| image.pixels[k * 6..(k + 1) * 6].to_vec();
        assert_eq!(row(0), [red, red, red, blue, blue, blue]);
        let t = Color32::TRANSPARENT;
        assert_eq!(row(1), [blue, t, t, t, t, t]);
        assert!(Cells::new(1.0).image().is_none());
    }

    #[test]
    fn a_row_wider_than_any_screen_is_cut_not_allocated() {
        let mut cells = Cells::new(1.0);
        cells.add(0.0, 1e9, 0.0, 1.0, Color32::RED);
        let (image, lo, hi) = cells.image().unwrap();
        assert_eq!((lo, hi), (0, MAX_CELL_COLUMNS));
        assert_eq!(image.size, [MAX_CELL_COLUMNS as usize, 1]);
    }
}
