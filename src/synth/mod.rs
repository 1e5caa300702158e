//! The synthetic benchmark (`adalens synth`): videos where the right decisions are known.
//!
//! Eight classes in two families. *Appearance* classes: a small target whose colour and shape
//! alone name the class in any single frame; it drifts slowly in a random direction.
//! *Motion* classes: one look for all four (a black-and-white checkered square); the class is
//! the direction it moves in, so it takes several frames in order to tell. Clutter makes where
//! to look matter: a textured background and moving distractors in muted colours, some moving
//! as fast as the motion targets; the target covers at most 1/16 of the frame (about 2 % by
//! default) at a random position. Every video is a pure function of (seed, split, index): the
//! splits draw from disjoint ChaCha streams. The same on any CPU: sines come from the pure-Rust
//! `libm` rather than the system's, and the encoder avoids CPU-picked kernels
//! (`video::write_h264`).

pub mod write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::video::RgbFrame;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Appearance,
    Motion,
}

/// The classes, in label order.
pub const CLASSES: [&str; 8] = [
    "red_disc",
    "green_square",
    "blue_triangle",
    "yellow_ring",
    "moves_right",
    "moves_left",
    "moves_down",
    "moves_up",
];

pub fn family(class: usize) -> Family {
    if class < 4 {
        Family::Appearance
    } else {
        Family::Motion
    }
}

/// The splits, each with its own random stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Calib,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Calib, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Calib => "calib",
            Split::Test => "test",
        }
    }

    fn stream(self) -> u64 {
        match self {
            Split::Train => 1,
            Split::Calib => 2,
            Split::Test => 3,
        }
    }
}

/// Size and length of the videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthSpec {
    pub width: u32,
    pub height: u32,
    pub frames: usize,
    pub fps: u32,
}

impl Default for SynthSpec {
    fn default() -> Self {
        Self {
            width: 160,
            height: 120,
            frames: 32,
            fps: 12,
        }
    }
}

/// One rendered video and its ground truth.
#[derive(Debug, Clone)]
pub struct SynthVideo {
    pub class: usize,
    pub frames: Vec<RgbFrame>,
    /// The target's box per frame: x1, y1, x2, y2 in pixels (x2, y2 exclusive).
    pub boxes: Vec<[f32; 4]>,
}

#[derive(Clone, Copy)]
enum Shape {
    Disc,
    Square,
    Triangle,
    Ring,
    Checker,
}

/// A moving thing: shape, colour, size, position of its top-left corner, velocity.
#[derive(Clone, Copy)]
struct Sprite {
    shape: Shape,
    colour: [u8; 3],
    side: f32,
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
}

impl Sprite {
    /// Whether pixel (px, py) (its centre) is inside the sprite at frame `t`, and its colour.
    fn sample(&self, t: usize, px: f32, py: f32) -> Option<[u8; 3]> {
        let (x0, y0) = (self.x + self.vx * t as f32, self.y + self.vy * t as f32);
        let (u, v) = ((px - x0) / self.side, (py - y0) / self.side);
        if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
            return None;
        }
        let (du, dv) = (u - 0.5, v - 0.5);
        let r2 = du * du + dv * dv;
        let inside = match self.shape {
            Shape::Disc => r2 <= 0.25,
            Shape::Square => true,
            Shape::Triangle => v >= 1.0 - 2.0 * (0.5 - du.abs()),
            Shape::Ring => (0.09..=0.25).contains(&r2),
            Shape::Checker => {
                let cell = ((u * 4.0) as u32 + (v * 4.0) as u32) % 2;
                return Some(if cell == 0 {
                    [250, 250, 250]
                } else {
                    [10, 10, 10]
                });
            }
        };
        inside.then_some(self.colour)
    }

    fn bbox(&self, t: usize) -> [f32; 4] {
        let (x0, y0) = (self.x + self.vx * t as f32, self.y + self.vy * t as f32);
        [x0, y0, x0 + self.side, y0 + self.side]
    }
}

/// The target of `class`: its look, and a path that stays inside the frame.
fn target(class: usize, spec: &SynthSpec, rng: &mut ChaCha8Rng) -> Sprite {
    let (w, h) = (spec.width as f32, spec.height as f32);
    // At most 1/16 of the frame's area: side ≤ √(w·h)/4; the default is ~2 %.
    let side = (w * h).sqrt() * rng.random_range(0.13..0.16);
    let span = spec.frames.saturating_sub(1).max(1) as f32;
    let (shape, colour, vx, vy) = match class {
        0 => (Shape::Disc, [220, 30, 30], 0.0, 0.0),
        1 => (Shape::Square, [30, 200, 40], 0.0, 0.0),
        2 => (Shape::Triangle, [40, 70, 235], 0.0, 0.0),
        3 => (Shape::Ring, [240, 220, 20], 0.0, 0.0),
        c => {
            // Cross a good part of the frame over the video, whatever its length.
            let travel = rng.random_range(0.35..0.5);
            let (sx, sy) = ((w - side) * travel / span, (h - side) * travel / span);
            let (vx, vy) = match c {
                4 => (sx, 0.0),
                5 => (-sx, 0.0),
                6 => (0.0, sy),
                _ => (0.0, -sy),
            };
            (Shape::Checker, [0, 0, 0], vx, vy)
        }
    };
    let (vx, vy) = if family(class) == Family::Appearance {
        // A slow drift, in any direction: position over time says nothing of the class.
        let a = rng.random_range(0.0..std::f32::consts::TAU);
        let s = rng.random_range(0.0..0.15) * side / span * 4.0;
        (s * libm::cosf(a), s * libm::sinf(a))
    } else {
        (vx, vy)
    };
    // A start such that the whole path stays inside the frame.
    let range = |len: f32, v: f32| {
        let (a, b) = (0.0f32.min(v * span), 0.0f32.max(v * span));
        (-a, (len - side - b).max(-a + 1e-3))
    };
    let (xa, xb) = range(w, vx);
    let (ya, yb) = range(h, vy);
    Sprite {
        shape,
        colour,
        side,
        x: rng.random_range(xa..xb),
        y: rng.random_range(ya..yb),
        vx,
        vy,
    }
}

/// Distractors: muted squares and discs, some still, some as fast as a motion target.
fn distractors(spec: &SynthSpec, rng: &mut ChaCha8Rng) -> Vec<Sprite> {
    let (w, h) = (spec.width as f32, spec.height as f32);
    let span = spec.frames.saturating_sub(1).max(1) as f32;
    let n = rng.random_range(3..=6);
    (0..n)
        .map(|_| {
            let side = (w * h).sqrt() * rng.random_range(0.08..0.15);
            let speed = rng.random_range(0.0..0.45) * w.min(h) / span;
            let a = rng.random_range(0.0..std::f32::consts::TAU);
            let grey = rng.random_range(70..170u8);
            let tint = [
                rng.random_range(0..40u8),
                rng.random_range(0..40u8),
                rng.random_range(0..40u8),
            ];
            Sprite {
                shape: if rng.random_bool(0.5) {
                    Shape::Square
                } else {
                    Shape::Disc
                },
                colour: tint.map(|t| grey.saturating_add(t)),
                side,
                x: rng.random_range(-side..w),
                y: rng.random_range(-side..h),
                vx: speed * libm::cosf(a),
                vy: speed * libm::sinf(a),
            }
        })
        .collect()
}

/// A smooth texture: a few random plane waves per channel around mid grey, plus fine noise.
fn background(spec: &SynthSpec, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (w, h) = (spec.width as usize, spec.height as usize);
    let waves: Vec<[f32; 5]> = (0..9)
        .map(|i| {
            let a = rng.random_range(0.0..std::f32::consts::TAU);
            let f = rng.random_range(0.02..0.12);
            [
                (i % 3) as f32,
                f * libm::cosf(a),
                f * libm::sinf(a),
                rng.random_range(0.0..std::f32::consts::TAU),
                rng.random_range(10.0..28.0),
            ]
        })
        .collect();
    let mut out = vec![0f32; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut v = 110.0 + rng.random_range(-12.0..12.0f32);
                for wv in waves.iter().filter(|wv| wv[0] as usize == c) {
                    v += wv[4] * libm::sinf(wv[1] * x as f32 + wv[2] * y as f32 + wv[3]);
                }
                out[(y * w + x) * 3 + c] = v;
            }
        }
    }
    out
}

fn video_rng(seed: u64, split: Split, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(split.stream() << 40 | index as u64);
    rng
}

/// The target's box per frame of video `index` of `split`, without rendering it (the target
/// is the first thing drawn from the video's stream).
pub fn boxes(seed: u64, split: Split, index: usize, spec: &SynthSpec) -> Vec<[f32; 4]> {
    let tgt = target(
        index % CLASSES.len(),
        spec,
        &mut video_rng(seed, split, index),
    );
    (0..spec.frames).map(|t| tgt.bbox(t)).collect()
}

/// Video `index` of `split`: its class is `index mod 8` (balanced splits), everything else
/// drawn from the split's own stream.
pub fn render(seed: u64, split: Split, index: usize, spec: &SynthSpec) -> SynthVideo {
    let mut rng = video_rng(seed, split, index);
    let class = index % CLASSES.len();
    let tgt = target(class, spec, &mut rng);
    let others = distractors(spec, &mut rng);
    let bg = background(spec, &mut rng);
    let (w, h) = (spec.width as usize, spec.height as usize);
    let mut frames = Vec::with_capacity(spec.frames);
    let mut boxes = Vec::with_capacity(spec.frames);
    for t in 0..spec.frames {
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                // The target is drawn over the distractors: it is never hidden.
                let hit = tgt
                    .sample(t, px, py)
                    .or_else(|| others.iter().rev().find_map(|s| s.sample(t, px, py)));
                match hit {
                    Some(c) => data.extend_from_slice(&c),
                    None => {
                        let i = (y * w + x) * 3;
                        data.extend(bg[i..i + 3].iter().map(|v| v.clamp(0.0, 255.0) as u8));
                    }
                }
            }
        }
        frames.push(RgbFrame {
            width: spec.width,
            height: spec.height,
            data,
        });
        boxes.push(tgt.bbox(t));
    }
    SynthVideo {
        class,
        frames,
        boxes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_split_and_index() {
        let spec = SynthSpec {
            frames: 4,
            ..Default::default()
        };
        let a = render(7, Split::Train, 3, &spec);
        let b = render(7, Split::Train, 3, &spec);
        assert_eq!(a.frames, b.frames);
        assert_eq!(a.boxes, b.boxes);
        let c = render(7, Split::Test, 3, &spec);
        assert_eq!(c.class, a.class);
        assert_ne!(c.frames, a.frames, "another split, another video");
        assert_ne!(render(8, Split::Train, 3, &spec).frames, a.frames);
        assert_eq!(boxes(7, Split::Train, 3, &spec), a.boxes);
    }
}
