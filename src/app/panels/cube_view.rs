//! The 3D cube view: the clip under the playhead as a stack of its sampled frames in (x, y, t)
//! — discarded frames dark, kept frames textured — with the cubes as wireframe boxes in their
//! step colours (dim after the exit); drag to orbit, scroll to zoom. Drawn with wgpu through an
//! egui paint callback (`render/cube_view.rs`, `shaders/cube_view.wgsl`).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::step_colour;
use crate::app::render::cube_view::{
    mat, Atlas, CubeViewCallback, CubeViewUniforms, FrameVertex, LineVertex,
};
use crate::app::{AdalensApp, Decisions, Thumb};
use crate::decision::trace::ClipTrace;

/// Depth of the stack along t, in frame heights.
const DEPTH: f32 = 3.0;
const ATLAS_COLUMNS: usize = 8;

/// The scene in world coordinates: frames are quads `aspect` wide and 1 high at z = their time.
pub struct Scene {
    pub frames: Vec<FrameVertex>,
    pub lines: Vec<LineVertex>,
    pub frame_count: usize,
    pub cube_count: usize,
}

impl AdalensApp {
    pub(crate) fn cube_view_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("3D: frames in (x, y, t) with the cubes");
        let Some(d) = &self.decisions else {
            ui.weak("Appears when the model has run.");
            return;
        };
        let Some(l) = &mut self.loaded else { return };
        let clip_index = d
            .trace
            .clips
            .iter()
            .position(|c| c.frames.iter().any(|f| f.frame >= l.current))
            .unwrap_or(0)
            .min(d.trace.clips.len().saturating_sub(1));
        let Some(clip) = d.trace.clips.get(clip_index) else {
            return;
        };
        let p = l.video.probe();
        let (atlas, cells) = atlas_for(clip, &l.thumbs, &mut l.atlas, d.generation);
        let display = (
            p.display_width.max(1) as f32,
            p.display_height.max(1) as f32,
        );
        let scene = build_scene(d, clip, display, &cells, l.current);
        let size = ui.available_size().max(egui::vec2(120.0, 120.0));
        let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click_and_drag());
        if response.dragged() {
            let delta = response.drag_delta();
            self.orbit.yaw -= delta.x * 0.01;
            self.orbit.pitch = (self.orbit.pitch + delta.y * 0.01).clamp(-1.45, 1.45);
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            self.orbit.distance = (self.orbit.distance * (1.0 - scroll * 0.002)).clamp(1.2, 12.0);
        }
        if response.double_clicked() {
            self.orbit = Default::default();
        }
        let label = format!(
            "3D cube view: clip {}, {} frames, {} cubes",
            clip_index + 1,
            scene.frame_count,
            scene.cube_count
        );
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Group, true, &label));
        let response =
            response.on_hover_text("Drag to orbit, scroll to zoom, double-click to reset");
        let _ = response;
        if !self.has_wgpu {
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "needs the wgpu renderer",
                egui::FontId::proportional(14.0),
                egui::Color32::GRAY,
            );
            return;
        }
        let o = self.orbit;
        let eye = [
            o.distance * o.pitch.cos() * o.yaw.sin(),
            o.distance * o.pitch.sin(),
            o.distance * o.pitch.cos() * o.yaw.cos(),
        ];
        let view = mat::look_at(eye, [0.0; 3], [0.0, 1.0, 0.0]);
        let proj = mat::perspective(0.8, rect.width() / rect.height().max(1.0), 0.05, 50.0);
        let view_proj = mat::mul(&proj, &view);
        let mut frames = scene.frames;
        sort_back_to_front(&mut frames, eye);
        let callback = CubeViewCallback {
            uniforms: CubeViewUniforms {
                view_proj,
                params: [if atlas.is_some() { 1.0 } else { 0.0 }, 0.0, 0.0, 0.0],
            },
            frames,
            lines: scene.lines,
            atlas,
        };
        ui.painter()
            .add(egui_wgpu::Callback::new_paint_callback(rect, callback));
    }
}

/// The uv rectangle of each sampled frame of the clip in the atlas (None when its thumbnail is
/// not decoded yet), and the atlas itself once every thumbnail is in. The atlas is rebuilt only
/// when the clip's frames change (its key hashes the video's generation and the frame numbers).
fn atlas_for(
    clip: &ClipTrace,
    thumbs: &BTreeMap<usize, Thumb>,
    cache: &mut Option<Arc<Atlas>>,
    generation: u64,
) -> (Option<Arc<Atlas>>, Vec<Option<[f32; 4]>>) {
    let thumbs: Vec<_> = clip.frames.iter().map(|f| thumbs.get(&f.frame)).collect();
    if thumbs.iter().any(|t| t.is_none()) || thumbs.is_empty() {
        return (None, vec![None; clip.frames.len()]);
    }
    let (tw, th) = thumbs.iter().flatten().fold((1, 1), |(w, h), t| {
        (w.max(t.image.width), h.max(t.image.height))
    });
    let cols = ATLAS_COLUMNS.min(thumbs.len());
    let rows = thumbs.len().div_ceil(cols);
    let (aw, ah) = (tw as usize * cols, th as usize * rows);
    let key = {
        let mut h = DefaultHasher::new();
        (
            generation,
            clip.frames.iter().map(|f| f.frame).collect::<Vec<_>>(),
        )
            .hash(&mut h);
        h.finish()
    };
    let atlas = match cache.as_ref().filter(|a| a.key == key) {
        Some(a) => a.clone(),
        None => {
            let mut rgba = vec![0u8; aw * ah * 4];
            for (i, t) in thumbs.iter().flatten().enumerate() {
                let (cx, cy) = ((i % cols) * tw as usize, (i / cols) * th as usize);
                let w = t.image.width as usize;
                for (y, row) in t.image.data.chunks_exact(w * 3).enumerate() {
                    let d = ((cy + y) * aw + cx) * 4;
                    for (px, out) in row
                        .chunks_exact(3)
                        .zip(rgba[d..d + w * 4].chunks_exact_mut(4))
                    {
                        out.copy_from_slice(&[px[0], px[1], px[2], 255]);
                    }
                }
            }
            let a = Arc::new(Atlas {
                key,
                width: aw as u32,
                height: ah as u32,
                rgba,
            });
            *cache = Some(a.clone());
            a
        }
    };
    let cells = thumbs
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            let (x, y) = ((i % cols) as f32 * tw as f32, (i / cols) as f32 * th as f32);
            Some([
                x / aw as f32,
                y / ah as f32,
                (x + t.image.width as f32) / aw as f32,
                (y + t.image.height as f32) / ah as f32,
            ])
        })
        .collect();
    (Some(atlas), cells)
}

fn rgba(c: egui::Color32, alpha: f32) -> [f32; 4] {
    [
        c.r() as f32 / 255.0,
        c.g() as f32 / 255.0,
        c.b() as f32 / 255.0,
        alpha,
    ]
}

/// z of sampled frame `i` of `n`.
fn z_of(i: usize, n: usize) -> f32 {
    if n <= 1 {
        0.0
    } else {
        (i as f32 / (n - 1) as f32 - 0.5) * DEPTH
    }
}

/// Frames as quads (two triangles each), their outlines, the cubes as boxes and a time arrow.
pub fn build_scene(
    d: &Decisions,
    clip: &ClipTrace,
    (dw, dh): (f32, f32),
    cells: &[Option<[f32; 4]>],
    current: usize,
) -> Scene {
    let aspect = dw / dh;
    let n = clip.frames.len();
    let (hw, hh) = (aspect / 2.0, 0.5);
    let mut frames = Vec::with_capacity(n * 6);
    let mut lines = Vec::new();
    let mut edge = |a: [f32; 3], b: [f32; 3], c: [f32; 4]| {
        lines.push(LineVertex {
            position: a,
            colour: c,
        });
        lines.push(LineVertex {
            position: b,
            colour: c,
        });
    };
    for (i, f) in clip.frames.iter().enumerate() {
        let z = z_of(i, n);
        let [u0, v0, u1, v1] = cells
            .get(i)
            .copied()
            .flatten()
            .unwrap_or([0.0, 0.0, 1.0, 1.0]);
        let tint = if f.kept {
            [1.0, 1.0, 1.0, 0.85]
        } else {
            [0.12, 0.12, 0.12, 0.85]
        };
        let corner = |x: f32, y: f32, u: f32, v: f32| FrameVertex {
            position: [x, y, z],
            uv: [u, v],
            tint,
        };
        let (a, b, c, e) = (
            corner(-hw, hh, u0, v0),
            corner(hw, hh, u1, v0),
            corner(hw, -hh, u1, v1),
            corner(-hw, -hh, u0, v1),
        );
        frames.extend([a, b, c, a, c, e]);
        let outline = if f.frame == current {
            [1.0, 1.0, 1.0, 1.0]
        } else if f.kept {
            [0.6, 0.6, 0.6, 0.8]
        } else {
            [0.3, 0.3, 0.3, 0.8]
        };
        let pts = [[-hw, hh, z], [hw, hh, z], [hw, -hh, z], [-hw, -hh, z]];
        for k in 0..4 {
            edge(pts[k], pts[(k + 1) % 4], outline);
        }
    }
    // The time arrow under the stack.
    let (z0, z1) = (z_of(0, n) - 0.2, z_of(n.saturating_sub(1), n) + 0.3);
    edge(
        [-hw, -hh - 0.08, z0],
        [-hw, -hh - 0.08, z1],
        [0.8, 0.8, 0.8, 1.0],
    );
    let g = d.geometry();
    let mut cube_count = 0;
    for q in &clip.cubes {
        let (Some(g), Some([x1, y1, x2, y2])) = (g, q.region) else {
            continue;
        };
        let idx = |frame: usize| clip.frames.iter().position(|f| f.frame == frame);
        let (Some(a), Some(b)) = (
            q.frames.first().and_then(|&f| idx(f)),
            q.frames.last().and_then(|&f| idx(f)),
        ) else {
            continue;
        };
        cube_count += 1;
        // Model-input pixels → display fraction → world.
        let wx = |x: f32| (g.to_display(x as f64, 0.0).0 as f32 / dw - 0.5) * aspect;
        let wy = |y: f32| 0.5 - g.to_display(0.0, y as f64).1 as f32 / dh;
        let pad = if n > 1 {
            DEPTH / (n - 1) as f32 * 0.25
        } else {
            0.1
        };
        let (za, zb) = (z_of(a, n) - pad, z_of(b, n) + pad);
        let (xa, xb, ya, yb) = (wx(x1), wx(x2), wy(y1), wy(y2));
        let computed = Decisions::cube_computed(clip, q.order);
        let c = rgba(step_colour(q.order), if computed { 1.0 } else { 0.35 });
        let v = |i: usize| {
            [
                if i & 1 == 0 { xa } else { xb },
                if i & 2 == 0 { ya } else { yb },
                if i & 4 == 0 { za } else { zb },
            ]
        };
        for (p, r) in [
            (0, 1),
            (2, 3),
            (4, 5),
            (6, 7),
            (0, 2),
            (1, 3),
            (4, 6),
            (5, 7),
            (0, 4),
            (1, 5),
            (2, 6),
            (3, 7),
        ] {
            edge(v(p), v(r), c);
        }
    }
    Scene {
        frames,
        lines,
        frame_count: n,
        cube_count,
    }
}

/// Sort the quads (six vertices each) far to near from `eye`, for blending without depth.
fn sort_back_to_front(frames: &mut Vec<FrameVertex>, eye: [f32; 3]) {
    let mut quads: Vec<[FrameVertex; 6]> = frames
        .chunks_exact(6)
        .map(|c| [c[0], c[1], c[2], c[3], c[4], c[5]])
        .collect();
    let dist = |q: &[FrameVertex; 6]| {
        let z = q[0].position[2];
        let d = [eye[0], eye[1], eye[2] - z];
        d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    };
    quads.sort_by(|a, b| dist(b).total_cmp(&dist(a)));
    *frames = quads.into_iter().flatten().collect();
}
