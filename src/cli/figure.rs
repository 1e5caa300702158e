//! `adalens figure`: one paper-ready figure (SVG, PNG or PDF) of what a checkpoint decided on a
//! video, or a grid of videos, with the layout the window's "Export figure" uses.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::decision::{Criterion, ExitRule};
use crate::figure::{
    self, FigureOptions, Lane, OutputOptions, Theme, ONE_COLUMN_MM, TWO_COLUMN_MM,
};
use crate::runner::{run_video, Quiet};
use crate::video::{Control, Video};
use anyhow::Context;

use super::run_args::RunArgs;
use super::side_b::{SideA, SideBArgs};

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum Column {
    /// 84 mm: one column of a two-column paper.
    One,
    /// 174 mm: across both columns.
    Two,
}

#[derive(clap::Args, Debug)]
pub struct FigureArgs {
    /// The video (with --grid, the first row; with --trace, default: the one it names).
    #[arg(required_unless_present_any = ["grid", "trace"])]
    pub video: Option<PathBuf>,
    /// Draw a trace logged elsewhere (no checkpoint): its exits at --budget on
    /// --calibration (default: calibration.adlcal beside it), or --thresholds.
    #[arg(long, value_name = "TRACE.json", conflicts_with_all = ["grid", "compare"])]
    pub trace: Option<PathBuf>,
    /// More videos, one row each under the first (e.g. an easy and a hard one).
    #[arg(long, num_args = 1..)]
    pub grid: Vec<PathBuf>,
    /// Row titles, comma-separated, in the order of the videos (default: file names).
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Show N of the sampled frames, spread evenly (default: all).
    #[arg(long)]
    pub frames: Option<usize>,
    /// Which clip to show, numbered from 1 as the window and the traces' messages number them
    /// (ada3d: the test protocol's clips; ada3d_focus: the windows of a longer video).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub clip: u64,
    /// Output file: .svg, .png or .pdf.
    #[arg(short, long)]
    pub output: PathBuf,
    /// light (papers) or dark (slides).
    #[arg(long, default_value = "light")]
    pub theme: Theme,
    /// Parts to draw, comma-separated: frames, cubes, stages, entropy, predictions, gflops.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "frames,cubes,stages,entropy,predictions,gflops"
    )]
    pub lanes: Vec<Lane>,
    /// Figure width: one or two columns of a two-column paper.
    #[arg(long, default_value = "two", conflicts_with = "width_mm")]
    pub column: Column,
    /// Figure width in mm instead of --column.
    #[arg(long)]
    pub width_mm: Option<f64>,
    /// Frames per row (default: as many as stay 16 mm wide).
    #[arg(long)]
    pub frames_per_row: Option<usize>,
    /// Cube boxes in step colours instead of one blue.
    #[arg(long)]
    pub step_colours: bool,
    /// Also draw the cubes after the exit, dashed.
    #[arg(long)]
    pub after_exit: bool,
    /// Caption under the figure.
    #[arg(long)]
    pub caption: Option<String>,
    /// PNG resolution.
    #[arg(long, default_value_t = 300.0)]
    pub dpi: f32,
    /// SVG: keep text editable (`<text>`) instead of paths in the bundled font.
    #[arg(long)]
    pub svg_text: bool,
    /// Two rows of one video: A (the checkpoint as given) and B (`--checkpoint-b`,
    /// `--budget-b`, …, as `adalens diff` takes them), what differs marked.
    #[arg(long, conflicts_with = "grid")]
    pub compare: bool,
    #[command(flatten)]
    pub b: SideBArgs,
}

pub fn run(a: &FigureArgs) -> anyhow::Result<()> {
    // Check the output name before minutes of decoding.
    figure::Format::of(&a.output)?;
    if let Some(trace) = &a.trace {
        let panel = logged_panel(a, trace)?;
        return write(a, &[panel]);
    }
    let (model, knobs, rule) = a.run.open()?;
    let videos: Vec<&PathBuf> = a.video.iter().chain(&a.grid).collect();
    let rows = if a.compare { 2 } else { videos.len() };
    if !a.labels.is_empty() && a.labels.len() != rows {
        anyhow::bail!(
            "{} labels for {rows} rows (give one per row, or none)",
            a.labels.len(),
        );
    }
    if a.b.is_set() && !a.compare {
        anyhow::bail!("--checkpoint-b, --budget-b, … describe B of --compare: add --compare");
    }
    let never = AtomicBool::new(false);
    // Without a rule every clip runs to its last step, and the figure says so.
    let last = ExitRule::last_step(Criterion::Entropy);
    let rule = Some(rule.as_ref().unwrap_or(&last));
    let mut panels = Vec::new();
    if a.compare {
        let side_a = SideA {
            model: &model,
            tau_f: None,
            tau_s: None,
            max_cubes: a.run.max_cubes,
            budget: a.run.exit.budget,
            criterion: a.run.exit.criterion,
        };
        let b = a.b.open(&side_a)?;
        // B keeps A's exit (thresholds too) unless it sets its own.
        let own_exit = a.b.budget_b.is_some() || a.b.criterion_b.is_some() || b.model.is_some();
        let rule_b = if own_exit { Some(&b.rule) } else { rule };
        let v = videos[0];
        let video = Video::open(v)?;
        let mut rows = Vec::new();
        for (m, k, r, label) in [
            (
                &model,
                &knobs,
                rule,
                a.labels.first().cloned().unwrap_or("A".into()),
            ),
            (
                b.model(&model),
                &b.knobs,
                rule_b,
                a.labels.get(1).cloned().unwrap_or("B".into()),
            ),
        ] {
            let run = run_video(m, &video, k, r, &never, &Quiet)
                .with_context(|| format!("running {} on {}", m.path.display(), v.display()))?;
            rows.push(figure::make_panel(
                &video,
                run.inspection.trace,
                (a.clip - 1) as usize,
                a.frames,
                Some(format!("{label}: {}", describe(m, k))),
                Some(run.knobs),
                &Control::default(),
            )?);
        }
        let row_b = rows.pop();
        if let (Some(pa), Some(pb)) = (rows.pop(), row_b) {
            panels.extend(figure::Panel::compared(pa, pb));
        }
    }
    for (i, v) in videos.iter().enumerate().filter(|_| !a.compare) {
        // One open (and frame index) serves both the model's frames and the figure's.
        let video = Video::open(v)?;
        let run = run_video(&model, &video, &knobs, rule, &never, &Quiet)
            .with_context(|| format!("running {} on {}", model.path.display(), v.display()))?;
        let panel = figure::make_panel(
            &video,
            run.inspection.trace,
            (a.clip - 1) as usize,
            a.frames,
            a.labels.get(i).cloned(),
            Some(run.knobs),
            &Control::default(),
        )
        .with_context(|| v.display().to_string())?;
        panels.push(panel);
    }
    write(a, &panels)
}

/// The panel of a logged trace (`--trace`): its video, its exits as asked.
fn logged_panel(a: &FigureArgs, path: &std::path::Path) -> anyhow::Result<figure::Panel> {
    let mut trace =
        crate::logged::read_trace(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let video_path = a
        .video
        .clone()
        .unwrap_or_else(|| crate::logged::video_of(&trace, path));
    let video = Video::open(&video_path)?;
    let rule = a
        .run
        .exit
        .rule_for_trace(path, trace.class_names.len())?
        .unwrap_or_else(|| ExitRule::last_step(Criterion::Entropy));
    rule.apply(&mut trace);
    figure::make_panel(
        &video,
        trace,
        (a.clip - 1) as usize,
        a.frames,
        a.labels.first().cloned(),
        None,
        &Control::default(),
    )
    .with_context(|| video_path.display().to_string())
}

/// Lay the panels out and write the figure.
fn write(a: &FigureArgs, panels: &[figure::Panel]) -> anyhow::Result<()> {
    let opts = FigureOptions {
        theme: a.theme,
        lanes: a.lanes.clone(),
        width_mm: a.width_mm.unwrap_or(match a.column {
            Column::One => ONE_COLUMN_MM,
            Column::Two => TWO_COLUMN_MM,
        }),
        step_colours: a.step_colours,
        after_exit: a.after_exit,
        caption: a.caption.clone(),
        frames_per_row: a.frames_per_row,
    };
    let svg = figure::render_svg(panels, &opts);
    let out = OutputOptions {
        dpi: a.dpi,
        svg_text: a.svg_text,
    };
    figure::save(&svg, &a.output, &out)?;
    println!("{}", a.output.display());
    Ok(())
}

/// A compared row's title: its checkpoint's file name and its cube cap.
fn describe(m: &crate::model::load::LoadedModel, k: &crate::model::config::Knobs) -> String {
    let name = m.path.file_name().unwrap_or(m.path.as_os_str());
    match k.max_cubes {
        Some(n) => format!("{} (≤ {n} cubes)", name.to_string_lossy()),
        None => name.to_string_lossy().into_owned(),
    }
}
