//! The figure layout, in millimetres: per panel (video) a header, the frames with masks and
//! cube boxes, the stage markers, the entropy plot beside the per-step predictions, and the
//! GFLOPs bar; the caption under all panels. Every counted element carries an `id`
//! (`frame-P-I`, `mask-P-I`, `cube-P-K-I`, `stage-P-K`, `point-P-K`, …) that survives the
//! conversion of text to paths, so tests can check the figure against its trace.

use std::io::Cursor;

use base64::Engine;

use super::svg::{num, Svg};
use super::{FigureOptions, Lane, Panel, Theme};
use crate::decision::trace::{ClipTrace, Cube};
use crate::decision::Criterion;
use crate::video::RgbFrame;

/// The cube colour of AdaFocusV3 Fig. 4.
pub const CUBE_BLUE: [u8; 3] = [31, 99, 214];

pub use crate::decision::trace::STEP_PALETTE;

const FONT: &str = "DejaVu Sans";
const MARGIN: f64 = 3.0;
const GAP: f64 = 1.2;
/// Smallest frame width when the number per row is chosen automatically.
const MIN_FRAME_MM: f64 = 16.0;
const TITLE: f64 = 2.8;
const BODY: f64 = 2.3;
const SMALL: f64 = 1.8;
const LINE: f64 = 0.25;
/// Compare figures: what differs between the two rows (a frame kept by one run only).
const DIFFER: &str = "#d62728";

struct Colours {
    background: &'static str,
    text: &'static str,
    muted: &'static str,
    axis: &'static str,
    accent: &'static str,
    budget: &'static str,
    highlight: &'static str,
}

fn colours(theme: Theme) -> Colours {
    match theme {
        Theme::Light => Colours {
            background: "#ffffff",
            text: "#1a1a1a",
            muted: "#6b6b6b",
            axis: "#404040",
            accent: "#1f63d6",
            budget: "#d62728",
            highlight: "#e8eefb",
        },
        Theme::Dark => Colours {
            background: "#1b1b1f",
            text: "#e6e6e6",
            muted: "#9a9a9a",
            axis: "#b0b0b0",
            accent: "#6ea1ff",
            budget: "#ff6b6b",
            highlight: "#2a3550",
        },
    }
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The cube colour for step `order` under `opts`.
fn cube_colour(opts: &FigureOptions, order: usize) -> String {
    if opts.step_colours {
        hex(crate::decision::trace::step_rgb(order))
    } else {
        hex(CUBE_BLUE)
    }
}

/// The whole figure as an SVG document (text as `<text>` in DejaVu Sans).
pub fn render_svg(panels: &[Panel], opts: &FigureOptions) -> String {
    let c = colours(opts.theme);
    let width = opts.width_mm.max(40.0);
    let mut svg = Svg::new();
    svg.open(
        "g",
        &[
            ("font-family", FONT.into()),
            ("fill", c.text.into()),
            ("font-size", num(BODY)),
        ],
    );
    let mut y = MARGIN;
    for (p, panel) in panels.iter().enumerate() {
        if p > 0 {
            y += GAP;
            svg.empty(
                "line",
                &[
                    ("x1", num(MARGIN)),
                    ("x2", num(width - MARGIN)),
                    ("y1", num(y)),
                    ("y2", num(y)),
                    ("stroke", c.muted.into()),
                    ("stroke-width", num(LINE)),
                ],
            );
            y += 2.0 * GAP;
        }
        let mut w = PanelWriter {
            svg: &mut svg,
            opts,
            c: &c,
            width,
            p,
            panel,
            clip: panel.trace.clips.get(panel.clip),
        };
        y = w.write(y);
    }
    if let Some(caption) = opts.caption.as_deref().filter(|s| !s.trim().is_empty()) {
        y += GAP;
        let per_line = ((width - 2.0 * MARGIN) / (0.55 * BODY)).floor().max(10.0) as usize;
        for line in wrap(caption, per_line) {
            y += BODY * 1.25;
            svg.text(
                &[("id", "caption".into()), ("x", num(MARGIN)), ("y", num(y))],
                &line,
            );
        }
    }
    svg.close("g");
    svg.finish(width, y + MARGIN, c.background)
}

/// Greedy word wrap at `per_line` characters.
fn wrap(text: &str, per_line: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > per_line {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A frame as an embedded JPEG data URL.
fn jpeg_data_url(img: &RgbFrame) -> Option<String> {
    let mut buf = Cursor::new(Vec::new());
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90);
    image::ImageEncoder::write_image(
        enc,
        &img.data,
        img.width,
        img.height,
        image::ExtendedColorType::Rgb8,
    )
    .ok()?;
    Some(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
    ))
}

fn truncate(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(chars.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

struct PanelWriter<'a> {
    svg: &'a mut Svg,
    opts: &'a FigureOptions,
    c: &'a Colours,
    width: f64,
    /// Panel index (ids).
    p: usize,
    panel: &'a Panel,
    clip: Option<&'a ClipTrace>,
}

impl PanelWriter<'_> {
    fn inner(&self) -> f64 {
        self.width - 2.0 * MARGIN
    }

    fn exit_step(&self) -> Option<usize> {
        self.clip?.stop_step()
    }

    fn write(&mut self, mut y: f64) -> f64 {
        y = self.header(y);
        let Some(clip) = self.clip else {
            y += BODY * 1.4;
            self.svg.text(
                &[("x", num(MARGIN)), ("y", num(y))],
                "(the trace has no such clip)",
            );
            return y;
        };
        if self.opts.has(Lane::Frames) && !self.panel.frames.is_empty() {
            y = self.frames(clip, y + GAP);
        }
        if self.opts.has(Lane::Stages) && !clip.stages.is_empty() {
            y = self.stages(clip, y + GAP);
        }
        let plot = self.opts.has(Lane::Entropy) && clip.steps.len() > 1;
        let table = self.opts.has(Lane::Predictions) && !clip.steps.is_empty();
        if plot || table {
            let top = y + GAP;
            let inner = self.inner();
            let (plot_w, table_x) = match (plot, table) {
                (true, true) => (inner * 0.56, MARGIN + inner * 0.56 + 3.0 * GAP),
                (true, false) => (inner, 0.0),
                (false, _) => (0.0, MARGIN),
            };
            let mut bottom = top;
            if plot {
                bottom = bottom.max(self.entropy_plot(clip, MARGIN, top, plot_w));
            }
            if table {
                let w = self.width - MARGIN - table_x;
                bottom = bottom.max(self.predictions(clip, table_x, top, w));
            }
            y = bottom;
        }
        if self.opts.has(Lane::Gflops) && !clip.steps.is_empty() {
            y = self.gflops(clip, y + GAP);
        }
        y
    }

    /// Title line: label, the top-1 at the exit, the exit step and the GFLOPs spent.
    fn header(&mut self, y: f64) -> f64 {
        let trace = &self.panel.trace;
        let name = std::path::Path::new(&trace.video.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| trace.video.path.clone());
        let title = match &self.panel.label {
            Some(l) => format!("{l} — {name}"),
            None => name,
        };
        let mut facts = Vec::new();
        if trace.clips.len() > 1 {
            facts.push(format!(
                "clip {} of {}",
                self.panel.clip + 1,
                trace.clips.len()
            ));
        }
        let exit = self.exit_step();
        let top = match (self.clip, exit) {
            (Some(clip), Some(e)) => clip.steps.get(e).and_then(|s| s.top.first()).copied(),
            _ => None,
        }
        .or_else(|| trace.video_prediction.first().copied());
        if let Some(t) = top {
            let at = if exit.is_some() { "at exit" } else { "" };
            facts.push(format!(
                "top-1 {at}: {} ({:.2})",
                trace.class_name(t.class),
                t.prob
            ));
        }
        if let (Some(clip), Some(e)) = (self.clip, exit) {
            if clip.steps.len() > 1 {
                facts.push(format!("exit at step {e} of {}", clip.steps.len() - 1));
            }
            if let Some(s) = clip.steps.get(e) {
                facts.push(format!("{:.3} GFLOPs", s.cumulative_gflops));
            }
        }
        if let Some(k) = self.panel.knobs {
            if self
                .clip
                .is_some_and(|c| c.frames.iter().any(|f| f.keep_prob.is_some()))
            {
                facts.push(format!("τ_f {:.2}", k.frame_threshold));
            }
            if self.clip.is_some_and(|c| !c.stages.is_empty()) {
                facts.push(format!("τ_s {:.2}", k.stage_threshold));
            }
        }
        let y = y + TITLE;
        self.svg.text(
            &[
                ("id", format!("title-{}", self.p)),
                ("x", num(MARGIN)),
                ("y", num(y)),
                ("font-size", num(TITLE)),
                ("font-weight", "bold".into()),
            ],
            &title,
        );
        let mut y = y + BODY * 1.3;
        self.svg.text(
            &[
                ("id", format!("facts-{}", self.p)),
                ("x", num(MARGIN)),
                ("y", num(y)),
                ("fill", self.c.muted.into()),
            ],
            &facts.join(" · "),
        );
        // A compared row says what differs from the other, under its facts (on the first row
        // only: it is the same sentence for both).
        if let Some(d) = self.panel.differs.as_ref().filter(|_| self.p == 0) {
            y += BODY * 1.3;
            self.svg.text(
                &[
                    ("id", format!("differs-{}", self.p)),
                    ("x", num(MARGIN)),
                    ("y", num(y)),
                    ("fill", DIFFER.into()),
                ],
                &d.note,
            );
        }
        y
    }

    /// The frames in rows, each with its mask (discarded), cube boxes and caption.
    fn frames(&mut self, clip: &ClipTrace, top: f64) -> f64 {
        let n = self.panel.frames.len();
        let inner = self.inner();
        let cols = self
            .opts
            .frames_per_row
            .unwrap_or(((inner + GAP) / (MIN_FRAME_MM + GAP)).floor() as usize)
            .clamp(1, n.max(1));
        let rows = n.div_ceil(cols);
        let fw = (inner - (cols - 1) as f64 * GAP) / cols as f64;
        let v = &self.panel.trace.video;
        let aspect = if v.width > 0 && v.height > 0 {
            v.height as f64 / v.width as f64
        } else {
            0.75
        };
        let fh = fw * aspect;
        let cap = SMALL * 1.5;
        for (i, pf) in self.panel.frames.iter().enumerate() {
            let (r, col) = (i / cols, i % cols);
            let x = MARGIN + col as f64 * (fw + GAP);
            let y = top + r as f64 * (fh + cap + GAP);
            let decision = clip.frames.iter().find(|f| f.frame == pf.frame);
            let kept = decision.is_none_or(|d| d.kept);
            self.svg.open(
                "g",
                &[
                    ("id", format!("frame-{}-{i}", self.p)),
                    ("class", "frame".into()),
                ],
            );
            let rect = [
                ("x", num(x)),
                ("y", num(y)),
                ("width", num(fw)),
                ("height", num(fh)),
            ];
            match pf.image.as_ref().and_then(jpeg_data_url) {
                Some(url) => {
                    let mut a = rect.to_vec();
                    a.extend([
                        ("id", format!("image-{}-{i}", self.p)),
                        ("class", "frame-image".into()),
                        ("preserveAspectRatio", "none".into()),
                        ("xlink:href", url),
                    ]);
                    self.svg.empty("image", &a);
                }
                None => {
                    let mut a = rect.to_vec();
                    a.extend([
                        ("fill", "#808080".into()),
                        ("class", "frame-missing".into()),
                    ]);
                    self.svg.empty("rect", &a);
                }
            }
            if !kept {
                let mut a = rect.to_vec();
                a.extend([
                    ("id", format!("mask-{}-{i}", self.p)),
                    ("class", "mask".into()),
                    ("fill", "#000000".into()),
                    ("fill-opacity", "0.72".into()),
                ]);
                self.svg.empty("rect", &a);
                self.svg.text(
                    &[
                        ("x", num(x + fw / 2.0)),
                        ("y", num(y + fh / 2.0 + SMALL / 3.0)),
                        ("text-anchor", "middle".into()),
                        ("font-size", num(SMALL)),
                        ("fill", "#ffffff".into()),
                    ],
                    "discarded",
                );
            }
            if self.opts.has(Lane::Cubes) {
                self.cubes_on(clip, pf.frame, i, [x, y, fw, fh]);
            }
            let differs = self
                .panel
                .differs
                .as_ref()
                .is_some_and(|d| d.frames.contains(&pf.frame));
            let mut a = rect.to_vec();
            if differs {
                a.extend([
                    ("id", format!("differs-{}-{i}", self.p)),
                    ("fill", "none".into()),
                    ("stroke", DIFFER.into()),
                    ("stroke-width", num(LINE * 3.0)),
                ]);
            } else {
                a.extend([
                    ("fill", "none".into()),
                    ("stroke", self.c.axis.into()),
                    ("stroke-width", num(LINE * 0.6)),
                ]);
            }
            self.svg.empty("rect", &a);
            let mut label = format!("#{}", pf.frame);
            if let Some(m) = decision.and_then(|d| d.keep_prob) {
                label.push_str(&format!("  m={m:.2}"));
            }
            label.push_str(&self.generic_lanes_on(clip, pf.frame, i, [x, y, fw, fh]));
            self.svg.text(
                &[
                    ("x", num(x)),
                    ("y", num(y + fh + SMALL * 1.15)),
                    ("font-size", num(SMALL)),
                    ("fill", self.c.muted.into()),
                ],
                &label,
            );
            self.svg.close("g");
        }
        top + rows as f64 * (fh + cap + GAP) - GAP
    }

    /// The trace's generic lanes on the frame drawn at `[x, y, w, h]`: each categorical
    /// lane's category as a coloured band along the frame's bottom edge (the window's
    /// colours); returns the values for the frame's caption.
    fn generic_lanes_on(
        &mut self,
        clip: &ClipTrace,
        frame: usize,
        i: usize,
        [x, y, fw, fh]: [f64; 4],
    ) -> String {
        let Some(at) = clip.frames.iter().position(|f| f.frame == frame) else {
            return String::new();
        };
        let mut caption = String::new();
        let band = (fh * 0.07).max(LINE * 2.0);
        let mut bands = 0;
        for spec in &self.panel.trace.lanes {
            let v = clip
                .lanes
                .get(&spec.name)
                .and_then(|vals| vals.get(at))
                .copied()
                .flatten();
            if v.is_none() {
                continue;
            }
            caption.push_str(&format!("  {}", spec.value_text(v)));
            if let Some((k, cat)) = spec.category(v) {
                bands += 1;
                self.svg.empty(
                    "rect",
                    &[
                        ("id", format!("lane-{}-{i}-{}", self.p, bands)),
                        ("class", "lane-category".into()),
                        ("x", num(x)),
                        ("y", num(y + fh - bands as f64 * band)),
                        ("width", num(fw)),
                        ("height", num(band)),
                        ("fill", hex(crate::decision::lanes::category_colour(k, cat))),
                    ],
                );
            }
        }
        caption
    }

    /// A cube's box on the frame drawn at `[x, y, w, h]`, clamped to the frame, in frame
    /// fractions; `None` without a region or geometry.
    fn cube_box(&self, cube: &Cube) -> Option<[f64; 4]> {
        let g = self.panel.trace.input?;
        let [x1, y1, x2, y2] = cube.region?;
        let v = &self.panel.trace.video;
        let (vw, vh) = (v.width.max(1) as f64, v.height.max(1) as f64);
        let (a, b) = g.to_display(x1 as f64, y1 as f64);
        let (c, d) = g.to_display(x2 as f64, y2 as f64);
        let fx = |px: f64| (px / vw).clamp(0.0, 1.0);
        let fy = |py: f64| (py / vh).clamp(0.0, 1.0);
        Some([fx(a), fy(b), fx(c), fy(d)])
    }

    fn cubes_on(&mut self, clip: &ClipTrace, frame: usize, i: usize, [x, y, fw, fh]: [f64; 4]) {
        let tag = SMALL * 1.15;
        let mut tags = 0;
        for cube in clip.cubes.iter().filter(|q| q.frames.contains(&frame)) {
            let computed = clip.cube_computed(cube.order);
            if !computed && !self.opts.after_exit {
                continue;
            }
            let Some([a, b, c, d]) = self.cube_box(cube) else {
                continue;
            };
            let (bx, by) = (x + a * fw, y + b * fh);
            let (bw, bh) = ((c - a) * fw, (d - b) * fh);
            if bw <= 0.0 || bh <= 0.0 {
                continue;
            }
            let colour = cube_colour(self.opts, cube.order);
            let mut attrs = vec![
                ("id", format!("cube-{}-{}-{i}", self.p, cube.order)),
                ("class", "cube".into()),
                ("x", num(bx)),
                ("y", num(by)),
                ("width", num(bw)),
                ("height", num(bh)),
                ("fill", "none".into()),
                ("stroke", colour.clone()),
                ("stroke-width", num(LINE * 2.0)),
            ];
            if !computed {
                attrs.push(("stroke-dasharray", "0.8 0.6".into()));
                attrs.push(("stroke-opacity", "0.6".into()));
            }
            self.svg.empty("rect", &attrs);
            // The number in a filled tag at the box's top-left corner, kept inside the frame;
            // cubes on the same frame put their tags side by side (they often overlap).
            let tx = (bx + tags as f64 * tag).min(x + fw - tag);
            let ty = by.min(y + fh - tag);
            tags += 1;
            self.svg.empty(
                "rect",
                &[
                    ("x", num(tx)),
                    ("y", num(ty)),
                    ("width", num(tag)),
                    ("height", num(tag)),
                    ("fill", colour),
                    ("fill-opacity", if computed { "1" } else { "0.6" }.into()),
                ],
            );
            self.svg.text(
                &[
                    ("x", num(tx + tag / 2.0)),
                    ("y", num(ty + tag * 0.8)),
                    ("text-anchor", "middle".into()),
                    ("font-size", num(SMALL * 0.95)),
                    ("font-weight", "bold".into()),
                    ("fill", "#ffffff".into()),
                ],
                &cube.order.to_string(),
            );
        }
    }

    /// One marker per stage: filled "3D" when it ran 3D, outlined "2D" when it degraded.
    fn stages(&mut self, clip: &ClipTrace, top: f64) -> f64 {
        let label_w = 20.0;
        let h = BODY * 1.7;
        self.svg.text(
            &[
                ("x", num(MARGIN)),
                ("y", num(top + h * 0.7)),
                ("fill", self.c.muted.into()),
            ],
            "stages",
        );
        let avail = self.inner() - label_w;
        let mw = (avail / clip.stages.len() as f64 - GAP).min(16.0);
        for (k, s) in clip.stages.iter().enumerate() {
            let x = MARGIN + label_w + k as f64 * (mw + GAP);
            let (fill, text) = if s.ran_3d {
                (self.c.accent, self.c.background)
            } else {
                ("none", self.c.text)
            };
            self.svg.empty(
                "rect",
                &[
                    ("id", format!("stage-{}-{k}", self.p)),
                    (
                        "class",
                        if s.ran_3d {
                            "stage stage-3d"
                        } else {
                            "stage stage-2d"
                        }
                        .into(),
                    ),
                    ("x", num(x)),
                    ("y", num(top)),
                    ("width", num(mw)),
                    ("height", num(h)),
                    ("rx", num(0.6)),
                    ("fill", fill.into()),
                    ("stroke", self.c.accent.into()),
                    ("stroke-width", num(LINE * 1.5)),
                ],
            );
            self.svg.text(
                &[
                    ("x", num(x + mw / 2.0)),
                    ("y", num(top + h * 0.68)),
                    ("text-anchor", "middle".into()),
                    ("font-size", num(SMALL)),
                    ("fill", text.into()),
                ],
                &format!(
                    "{} {}  n={:.2}",
                    k + 1,
                    if s.ran_3d { "3D" } else { "2D" },
                    s.prob
                ),
            );
        }
        top + h
    }

    /// Entropy (or confidence, for that criterion) per step; η_t as short dashes at each step,
    /// the exit as a dashed vertical; points after the exit hollow.
    fn entropy_plot(&mut self, clip: &ClipTrace, x0: f64, top: f64, w: f64) -> f64 {
        let criterion = clip
            .exit
            .as_ref()
            .map(|e| e.criterion)
            .unwrap_or(Criterion::Entropy);
        let value = |s: &crate::decision::trace::StepPrediction| criterion.value(s) as f64;
        // The same axis as the window's lane: ln C for entropy (no value can pass it), 1 for
        // confidence.
        let ymax = criterion.axis_top(self.panel.trace.class_names.len());
        let (left, bottom, h) = (9.0, 6.0, 30.0);
        let (px, py, pw, ph) = (x0 + left, top + 1.5, w - left - 1.0, h - bottom - 1.5);
        let n = clip.steps.len();
        let sx = |k: usize| px + (k as f64 + 0.5) * pw / n as f64;
        let sy = |v: f64| py + ph - (v / ymax).clamp(0.0, 1.0) * ph;
        let axis = |svg: &mut Svg, x1: f64, y1: f64, x2: f64, y2: f64, c: &str| {
            svg.empty(
                "line",
                &[
                    ("x1", num(x1)),
                    ("y1", num(y1)),
                    ("x2", num(x2)),
                    ("y2", num(y2)),
                    ("stroke", c.into()),
                    ("stroke-width", num(LINE)),
                ],
            );
        };
        axis(self.svg, px, py, px, py + ph, self.c.axis);
        axis(self.svg, px, py + ph, px + pw, py + ph, self.c.axis);
        for v in [0.0, ymax / 2.0, ymax] {
            let y = sy(v);
            axis(self.svg, px - 0.8, y, px, y, self.c.axis);
            self.svg.text(
                &[
                    ("x", num(px - 1.2)),
                    ("y", num(y + SMALL / 3.0)),
                    ("text-anchor", "end".into()),
                    ("font-size", num(SMALL)),
                ],
                &format!("{v:.1}"),
            );
        }
        let ylabel = match criterion {
            Criterion::Entropy => "entropy (nats)",
            Criterion::Confidence => "confidence",
        };
        let (lx, ly) = (x0 + SMALL, py + ph / 2.0);
        self.svg.text(
            &[
                ("x", num(lx)),
                ("y", num(ly)),
                ("text-anchor", "middle".into()),
                ("font-size", num(SMALL)),
                ("transform", format!("rotate(-90 {} {})", num(lx), num(ly))),
            ],
            ylabel,
        );
        for k in 0..n {
            self.svg.text(
                &[
                    ("x", num(sx(k))),
                    ("y", num(py + ph + SMALL * 1.3)),
                    ("text-anchor", "middle".into()),
                    ("font-size", num(SMALL)),
                ],
                &if k == 0 {
                    "glance".into()
                } else {
                    k.to_string()
                },
            );
        }
        self.svg.text(
            &[
                ("x", num(px + pw / 2.0)),
                ("y", num(py + ph + SMALL * 2.7)),
                ("text-anchor", "middle".into()),
                ("font-size", num(SMALL)),
                ("fill", self.c.muted.into()),
            ],
            "step",
        );
        // η_t: the threshold of each step, a dash over its column.
        if let Some(exit) = &clip.exit {
            let half = 0.3 * pw / n as f64;
            for (k, t) in exit.thresholds.iter().enumerate().take(n) {
                let Some(t) = t.filter(|t| t.is_finite()) else {
                    continue;
                };
                let y = sy(t);
                self.svg.empty(
                    "line",
                    &[
                        ("id", format!("threshold-{}-{k}", self.p)),
                        ("class", "threshold".into()),
                        ("x1", num(sx(k) - half)),
                        ("x2", num(sx(k) + half)),
                        ("y1", num(y)),
                        ("y2", num(y)),
                        ("stroke", self.c.budget.into()),
                        ("stroke-width", num(LINE * 1.5)),
                        ("stroke-dasharray", "0.7 0.4".into()),
                    ],
                );
            }
            let name = match criterion {
                Criterion::Entropy => "η_t",
                Criterion::Confidence => "τ_t",
            };
            self.svg.text(
                &[
                    ("x", num(px + pw)),
                    ("y", num(py + ph + SMALL * 2.7)),
                    ("text-anchor", "end".into()),
                    ("font-size", num(SMALL)),
                    ("fill", self.c.budget.into()),
                ],
                &format!(
                    "– – {name}: stop when {}",
                    match criterion {
                        Criterion::Entropy => "below",
                        Criterion::Confidence => "above",
                    }
                ),
            );
        }
        let pts: Vec<String> = clip
            .steps
            .iter()
            .enumerate()
            .map(|(k, s)| format!("{},{}", num(sx(k)), num(sy(value(s)))))
            .collect();
        self.svg.empty(
            "polyline",
            &[
                ("points", pts.join(" ")),
                ("fill", "none".into()),
                ("stroke", self.c.accent.into()),
                ("stroke-width", num(LINE * 1.5)),
            ],
        );
        let exit = self.exit_step();
        if let Some(e) = exit.filter(|&e| e < n) {
            let x = sx(e);
            self.svg.empty(
                "line",
                &[
                    ("id", format!("exit-{}", self.p)),
                    ("class", "exit".into()),
                    ("x1", num(x)),
                    ("x2", num(x)),
                    ("y1", num(py)),
                    ("y2", num(py + ph)),
                    ("stroke", self.c.text.into()),
                    ("stroke-width", num(LINE)),
                    ("stroke-dasharray", "1 0.6".into()),
                ],
            );
            self.svg.text(
                &[
                    ("x", num(x + 0.6)),
                    ("y", num(py + SMALL)),
                    ("font-size", num(SMALL)),
                ],
                "exit",
            );
        }
        for (k, s) in clip.steps.iter().enumerate() {
            let spent = exit.is_none_or(|e| k <= e);
            self.svg.empty(
                "circle",
                &[
                    ("id", format!("point-{}-{k}", self.p)),
                    ("class", "point".into()),
                    ("cx", num(sx(k))),
                    ("cy", num(sy(value(s)))),
                    ("r", num(0.75)),
                    (
                        "fill",
                        if spent {
                            self.c.accent
                        } else {
                            self.c.background
                        }
                        .into(),
                    ),
                    ("stroke", self.c.accent.into()),
                    ("stroke-width", num(LINE * 1.5)),
                ],
            );
        }
        top + h
    }

    /// Per step: the top-1 class with its probability and the GFLOPs so far; the exit row
    /// highlighted, rows after it muted.
    fn predictions(&mut self, clip: &ClipTrace, x: f64, top: f64, w: f64) -> f64 {
        let row = SMALL * 1.45;
        let cols = [0.0, 0.16, 0.72, 0.86].map(|f| x + f * w);
        let exit = self.exit_step();
        let header = ["step", "top-1", "p", "GFLOPs"];
        let mut y = top + row;
        for (cx, h) in cols.iter().zip(header) {
            self.svg.text(
                &[
                    ("x", num(*cx)),
                    ("y", num(y)),
                    ("font-size", num(SMALL)),
                    ("font-weight", "bold".into()),
                ],
                h,
            );
        }
        let name_chars = ((cols[2] - cols[1]) / (0.55 * SMALL)).floor().max(4.0) as usize;
        for (k, s) in clip.steps.iter().enumerate() {
            y += row;
            let at_exit = exit == Some(k);
            if at_exit {
                self.svg.empty(
                    "rect",
                    &[
                        ("x", num(x - 0.5)),
                        ("y", num(y - row * 0.75)),
                        ("width", num(w)),
                        ("height", num(row)),
                        ("fill", self.c.highlight.into()),
                    ],
                );
            }
            let after = exit.is_some_and(|e| k > e);
            let fill = if after { self.c.muted } else { self.c.text };
            let top1 = s.top.first();
            let cells = [
                if k == 0 {
                    "glance".to_string()
                } else {
                    k.to_string()
                },
                top1.map(|t| truncate(&self.panel.trace.class_name(t.class), name_chars))
                    .unwrap_or_default(),
                top1.map(|t| format!("{:.2}", t.prob)).unwrap_or_default(),
                format!("{:.3}", s.cumulative_gflops),
            ];
            self.svg.open(
                "g",
                &[
                    ("id", format!("prediction-{}-{k}", self.p)),
                    ("class", "prediction".into()),
                    ("fill", fill.into()),
                ],
            );
            for (cx, cell) in cols.iter().zip(cells) {
                let mut a = vec![("x", num(*cx)), ("y", num(y)), ("font-size", num(SMALL))];
                if at_exit {
                    a.push(("font-weight", "bold".into()));
                }
                self.svg.text(&a, &cell);
            }
            self.svg.close("g");
        }
        y + row * 0.4
    }

    /// The GFLOPs of each step as bar segments (spent up to the exit filled), the budget line.
    fn gflops(&mut self, clip: &ClipTrace, top: f64) -> f64 {
        let exit = self.exit_step();
        let total = clip
            .steps
            .last()
            .map(|s| s.cumulative_gflops)
            .unwrap_or(0.0);
        let budget = clip.exit.as_ref().and_then(|e| e.budget);
        let spent = clip.spent_gflops();
        let scale_max = budget.unwrap_or(0.0).max(total).max(1e-12);
        let label_w = 20.0;
        let (bx, bw, bh) = (MARGIN + label_w, self.inner() - label_w, BODY * 1.5);
        let by = top + BODY * 1.4;
        let mut text = format!("{spent:.3} GFLOPs spent of {total:.3} for every step");
        if let Some(b) = budget {
            text.push_str(&format!(" · budget {b:.3} (mean per video)"));
        }
        self.svg.text(
            &[
                ("id", format!("gflops-{}", self.p)),
                ("x", num(bx)),
                ("y", num(top + BODY)),
                ("fill", self.c.muted.into()),
            ],
            &text,
        );
        self.svg.text(
            &[
                ("x", num(MARGIN)),
                ("y", num(by + bh * 0.72)),
                ("fill", self.c.muted.into()),
            ],
            "GFLOPs",
        );
        let mut prev = 0.0;
        for (k, s) in clip.steps.iter().enumerate() {
            let (a, b) = (prev, s.cumulative_gflops.max(prev));
            prev = b;
            let spent_step = exit.is_none_or(|e| k <= e);
            self.svg.empty(
                "rect",
                &[
                    ("id", format!("gflops-step-{}-{k}", self.p)),
                    ("class", "gflops-step".into()),
                    ("x", num(bx + a / scale_max * bw)),
                    ("y", num(by)),
                    ("width", num((b - a) / scale_max * bw)),
                    ("height", num(bh)),
                    (
                        "fill",
                        if spent_step { self.c.accent } else { "none" }.into(),
                    ),
                    ("fill-opacity", if k % 2 == 0 { "1" } else { "0.7" }.into()),
                    ("stroke", self.c.accent.into()),
                    ("stroke-width", num(LINE)),
                ],
            );
        }
        if let Some(b) = budget {
            let x = bx + b / scale_max * bw;
            self.svg.empty(
                "line",
                &[
                    ("id", format!("budget-{}", self.p)),
                    ("class", "budget".into()),
                    ("x1", num(x)),
                    ("x2", num(x)),
                    ("y1", num(by - 0.8)),
                    ("y2", num(by + bh + 0.8)),
                    ("stroke", self.c.budget.into()),
                    ("stroke-width", num(LINE * 2.0)),
                ],
            );
        }
        by + bh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_word_boundaries() {
        assert_eq!(
            wrap("one two three four", 9),
            vec!["one two", "three", "four"]
        );
        assert!(wrap("   ", 9).is_empty());
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
