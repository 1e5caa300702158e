//! `adalens diff`: what differs between two runs. On one video, A and B are two checkpoints, or
//! one checkpoint at two budgets, criteria, τ_f / τ_s or cube caps (`--checkpoint-b`,
//! `--budget-b`, …; what B does not set it takes from A); on two batch-run folders, the videos
//! that flipped and how exits and GFLOPs moved. The work is in `adalens::decision::compare` and
//! `adalens::batch::compare`; this file parses, runs and prints.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context};

use crate::batch::compare::{diff_runs, Flip};
use crate::batch::table::{Exits, RunTable};
use crate::decision::compare::{diff, ClipDiff};
use crate::decision::trace::DecisionTrace;
use crate::decision::{CalibrationSet, Criterion, ExitRule, PreparedCalibration};
use crate::model::load::{calibration_sidecar, ConfigOverrides, LoadedModel};
use crate::runner::{run_video, Quiet};
use crate::video::Video;

use super::side_b::{exit_rule, knobs, SideA, SideBArgs};

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// A video (with --checkpoint), or two batch-run folders (the --out of `adalens batch`).
    #[arg(num_args = 1..=2, required = true)]
    pub inputs: Vec<PathBuf>,
    /// A's checkpoint (a video).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A's budget (mean GFLOPs per video, thresholds from its checkpoint's calibration set);
    /// without one every clip runs to its last step (a video) or keeps its stored exits (runs).
    #[arg(long)]
    pub budget: Option<f64>,
    #[arg(long, default_value = "entropy")]
    pub criterion: Criterion,
    /// τ_f, τ_s and the cube cap of A (default: the checkpoint's).
    #[arg(long)]
    pub tau_f: Option<f32>,
    #[arg(long)]
    pub tau_s: Option<f32>,
    #[arg(long)]
    pub max_cubes: Option<usize>,
    #[command(flatten)]
    pub b: SideBArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &DiffArgs) -> anyhow::Result<()> {
    match a.inputs.as_slice() {
        [x, y] if x.is_dir() && y.is_dir() => runs(a, x, y),
        [video] if !video.is_dir() => one_video(a, video),
        _ => bail!("give a video with --checkpoint, or two batch-run folders"),
    }
}

fn one_video(a: &DiffArgs, video: &Path) -> anyhow::Result<()> {
    let Some(ck_a) = &a.checkpoint else {
        bail!("a video needs --checkpoint")
    };
    let device = crate::model::device::select(false).device;
    let model_a = LoadedModel::open(ck_a, None, &ConfigOverrides::default(), &device)?;
    let side_a = SideA {
        model: &model_a,
        tau_f: a.tau_f,
        tau_s: a.tau_s,
        max_cubes: a.max_cubes,
        budget: a.budget,
        criterion: a.criterion,
    };
    let b = a.b.open(&side_a)?;
    let mb = b.model(&model_a);
    let (ka, kb) = (knobs(&model_a, a.tau_f, a.tau_s, a.max_cubes), b.knobs);
    let (ra, rb) = (exit_rule(&model_a, a.budget, a.criterion)?, b.rule.clone());
    let v = Video::open(video)?;
    let cancel = AtomicBool::new(false);
    let ta = run_video(&model_a, &v, &ka, Some(&ra), &cancel, &Quiet)?
        .inspection
        .trace;
    let tb = run_video(mb, &v, &kb, Some(&rb), &cancel, &Quiet)?
        .inspection
        .trace;
    let clips = diff(&ta, &tb);
    if a.json {
        let out = serde_json::json!({
            "video": video,
            "a": { "checkpoint": model_a.path, "knobs": ka, "exit": ra },
            "b": { "checkpoint": mb.path, "knobs": kb, "exit": rb },
            "same": clips.iter().all(ClipDiff::is_same),
            "clips": clips,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for c in &clips {
        println!("clip {}: {}", c.clip + 1, clip_line(c, &ta, &tb));
    }
    Ok(())
}

fn clip_line(c: &ClipDiff, ta: &DecisionTrace, tb: &DecisionTrace) -> String {
    if c.is_same() {
        return "same".into();
    }
    let mut parts = Vec::new();
    if c.exit_a != c.exit_b {
        let s = |e: Option<usize>| e.map_or("-".into(), |e| e.to_string());
        parts.push(format!("exit step {} → {}", s(c.exit_a), s(c.exit_b)));
    }
    let name = |t: &DecisionTrace, p: Option<crate::decision::trace::ClassProb>| {
        p.map_or("-".into(), |p| {
            format!("{} ({:.2})", t.class_name(p.class), p.prob)
        })
    };
    if c.top1_a.map(|t| t.class) != c.top1_b.map(|t| t.class) {
        parts.push(format!(
            "top-1 {} → {}",
            name(ta, c.top1_a),
            name(tb, c.top1_b)
        ));
    }
    if (c.gflops_a - c.gflops_b).abs() >= 1e-9 {
        parts.push(format!("GFLOPs {:.4} → {:.4}", c.gflops_a, c.gflops_b));
    }
    let list = |v: &[usize]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (what, v) in [
        ("kept by A only: frames", &c.kept_only_a),
        ("kept by B only: frames", &c.kept_only_b),
        ("3D in A only: stages", &c.stages_3d_only_a),
        ("3D in B only: stages", &c.stages_3d_only_b),
    ] {
        if !v.is_empty() {
            parts.push(format!("{what} {}", list(v)));
        }
    }
    for q in c.cubes.iter().filter(|q| q.iou < 1.0 - 1e-9) {
        parts.push(format!("cube {} IoU {:.2}", q.order, q.iou));
    }
    if c.cubes_only_a + c.cubes_only_b > 0 {
        parts.push(format!(
            "cubes in one only: {} in A, {} in B",
            c.cubes_only_a, c.cubes_only_b
        ));
    }
    parts.join(" · ")
}

/// A run's exits: its stored ones, or re-decided for a budget on its checkpoint's calibration
/// set.
fn exits_of(t: &RunTable, budget: Option<f64>, criterion: Criterion) -> anyhow::Result<Exits> {
    let Some(b) = budget else {
        return Ok(Exits::Stored);
    };
    let path = calibration_sidecar(&t.settings.checkpoint);
    let set = CalibrationSet::load(&path).with_context(|| path.display().to_string())?;
    let prep = PreparedCalibration::new(set)?;
    Ok(Exits::Rule(ExitRule::for_budget(&prep, criterion, b)?.0))
}

fn runs(a: &DiffArgs, x: &Path, y: &Path) -> anyhow::Result<()> {
    let (ta, tb) = (RunTable::open(x)?, RunTable::open(y)?);
    for w in ta.warnings.iter().chain(&tb.warnings) {
        eprintln!("warning: {w}");
    }
    let ea = exits_of(&ta, a.budget, a.criterion)?;
    let eb = exits_of(
        &tb,
        a.b.budget_b.or(a.budget),
        a.b.criterion_b.unwrap_or(a.criterion),
    )?;
    let d = diff_runs(&ta, &ta.decide(&ea), &tb, &tb.decide(&eb));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    let count = |f: Flip| d.videos.iter().filter(|v| v.flip == Some(f)).count();
    let mean = |g: &dyn Fn(&crate::batch::compare::VideoDiff) -> f64| {
        d.videos.iter().map(g).sum::<f64>() / d.videos.len().max(1) as f64
    };
    println!(
        "{} videos in both: {} right→wrong, {} wrong→right, {} with another exit; mean GFLOPs \
         {:.4} → {:.4}",
        d.videos.len(),
        count(Flip::RightToWrong),
        count(Flip::WrongToRight),
        d.videos.iter().filter(|v| v.exit_a != v.exit_b).count(),
        mean(&|v| v.gflops_a),
        mean(&|v| v.gflops_b),
    );
    if !d.only_a.is_empty() || !d.only_b.is_empty() {
        println!(
            "{} ran in A only, {} in B only",
            d.only_a.len(),
            d.only_b.len()
        );
    }
    for v in d.videos.iter().filter(|v| !v.is_same()) {
        let flip = match v.flip {
            Some(Flip::RightToWrong) => "right→wrong",
            Some(Flip::WrongToRight) => "wrong→right",
            None => "",
        };
        let s = |e: Option<u32>| e.map_or("-".into(), |e| e.to_string());
        println!(
            "{}\t{flip}\texit {} → {}\tGFLOPs {:.4} → {:.4}\ttop-1 {} → {}",
            v.path,
            s(v.exit_a),
            s(v.exit_b),
            v.gflops_a,
            v.gflops_b,
            v.top1_a.as_deref().unwrap_or("-"),
            v.top1_b.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}
