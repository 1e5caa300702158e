//! `adalens inspect` (run a checkpoint on a video or on preprocessed frames, print the
//! DecisionTrace) and `adalens inspect-checkpoint` (what a checkpoint holds: arch, parameters,
//! input, FLOPs per step).

use std::path::PathBuf;
use std::time::Instant;

use crate::decision::trace::DecisionTrace;
use crate::model::config::UniAdaFocusConfig;
use crate::model::device;
use crate::model::load::{ConfigOverrides, LoadedModel, Network};
use crate::model::uni_adafocus::UniAdaFocusOutput;
use crate::runner::{Input, Quiet, RawOutput, Session};
use crate::video::{Control, DecodeCheck, Video};
use anyhow::Context;

use super::print::{checkpoint_json, print_checkpoint_head, print_parameters, print_steps};

/// How to read a checkpoint: its config and the flags that override it.
#[derive(clap::Args, Debug)]
pub struct CheckpointArgs {
    /// Config JSON (default: a sidecar `.json` next to the checkpoint, else the safetensors
    /// metadata, else what the weights' shapes tell).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub num_classes: Option<usize>,
    #[arg(long)]
    pub input_size: Option<usize>,
    #[arg(long)]
    pub patch_size: Option<usize>,
    /// Frames sampled from the video (the official `num_segments`).
    #[arg(long)]
    pub num_segments: Option<usize>,
    #[arg(long)]
    pub num_glance: Option<usize>,
    #[arg(long)]
    pub num_focus: Option<usize>,
    /// Ada3D's τ_f: keep a frame when m_t ≥ τ_f.
    #[arg(long, visible_alias = "tau-f")]
    pub frame_threshold: Option<f32>,
    /// Ada3D's τ_s: keep a stage 3D when n_k ≥ τ_s.
    #[arg(long, visible_alias = "tau-s")]
    pub stage_threshold: Option<f32>,
    /// Clips per video (ada3d / resnet3d test protocol).
    #[arg(long)]
    pub num_clips: Option<usize>,
    /// Run on the CPU even when a GPU is available.
    #[arg(long)]
    pub cpu: bool,
}

impl CheckpointArgs {
    pub fn open(&self, path: &std::path::Path) -> anyhow::Result<LoadedModel> {
        let choice = device::select(self.cpu);
        tracing::info!("device: {}", choice.description);
        let over = ConfigOverrides {
            num_classes: self.num_classes,
            input_size: self.input_size,
            patch_size: self.patch_size,
            num_segments: self.num_segments,
            num_glance_segments: self.num_glance,
            num_focus_segments: self.num_focus,
            frame_threshold: self.frame_threshold,
            stage_threshold: self.stage_threshold,
            num_clips: self.num_clips,
        };
        let model = LoadedModel::open(path, self.config.as_deref(), &over, &choice.device)?;
        if let Some(w) = model.non_finite_warning() {
            eprintln!("warning: {w}");
        }
        Ok(model)
    }
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The video to run on (sampled and transformed as the checkpoint's config says).
    #[arg(required_unless_present = "input", conflicts_with = "input")]
    pub video: Option<PathBuf>,
    /// Already preprocessed frames instead of a video: safetensors with a float32 T×3×H×W
    /// tensor named `frames` (normalised), to compare with another implementation.
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub ck: CheckpointArgs,
    /// Print the DecisionTrace as JSON (what `batch` writes per video and the window exports).
    #[arg(long)]
    pub json: bool,
    /// With --json: print `{trace, raw, flops}`, adding the raw per-step logits, the policy
    /// outputs and the FLOPs by part (to compare with another implementation).
    #[arg(long, requires = "json")]
    pub raw: bool,
    /// Decode every packet of the video, whatever its size, so that frame numbers are exactly
    /// the ffmpeg CLI's even where a damaged packet gives no picture (files up to 300 M pixels
    /// in all are checked anyway; see `adalens probe --exact`).
    #[arg(long, conflicts_with = "input")]
    pub exact: bool,
}

pub fn run_inspect(a: &InspectArgs) -> anyhow::Result<()> {
    let model = a.ck.open(&a.checkpoint)?;
    let t0 = Instant::now();
    let mut input = match (&a.video, &a.input) {
        (_, Some(frames)) => Input::from_tensor_file(frames, &model)?,
        (Some(v), None) => {
            let check = DecodeCheck::exact_if(a.exact);
            let video = Video::open_with(v, check, &Control::default())?;
            for w in video.warnings() {
                eprintln!("warning: {}: {w}", v.display());
            }
            Input::plan(&video, &model)?
        }
        (None, None) => anyhow::bail!("give a VIDEO or --input FRAMES.safetensors"),
    };
    // Decode every clip first, so that the two times below are apart.
    input.decode_all(&Control::default())?;
    let t_decode = t0.elapsed();
    let never = std::sync::atomic::AtomicBool::new(false);
    let ins = Session::new(&model, input)
        .run(&model.config.knobs(), &never, &Quiet)
        .context("running the model")?
        .inspection;
    let t_model = t0.elapsed() - t_decode;
    if let Some(w) = ins.trace.warning() {
        eprintln!("warning: {w}");
    }
    if a.json && a.raw {
        println!("{}", serde_json::to_string_pretty(&ins)?);
        return Ok(());
    }
    if a.json {
        println!("{}", ins.trace.to_json()?);
        return Ok(());
    }
    println!(
        "checkpoint  {} ({}, {})",
        model.path.display(),
        model.arch(),
        model.config_source
    );
    println!(
        "input       {} ({} frames)",
        ins.trace.video.path, ins.trace.video.frame_count
    );
    match (&model.network, &ins.raw) {
        (Network::UniAdaFocus(net), RawOutput::UniAdaFocus(raw)) => {
            print_uni_adafocus(&net.config, raw, &ins.trace)
        }
        (_, RawOutput::Ada3dFocus(_)) => super::inspect_3d::print_focus_trace(&ins.trace),
        _ => super::inspect_3d::print_trace(&ins.trace),
    }
    println!(
        "time        frames {:.2} s, model {:.2} s on {}",
        t_decode.as_secs_f64(),
        t_model.as_secs_f64(),
        if model.device.is_cuda() {
            "CUDA"
        } else {
            "CPU"
        }
    );
    Ok(())
}

fn print_uni_adafocus(c: &UniAdaFocusConfig, raw: &UniAdaFocusOutput, trace: &DecisionTrace) {
    let Some(clip) = trace.clips.first() else {
        return;
    };
    let glance: Vec<usize> = raw
        .glance_indices
        .iter()
        .filter_map(|&i| clip.frames.get(i).map(|f| f.frame))
        .collect();
    println!(
        "glance      frames {glance:?} (of {} sampled)",
        c.num_segments
    );
    print_steps(trace, clip, "frame", |c| c.z.to_string());
}

#[derive(clap::Args, Debug)]
pub struct InspectCheckpointArgs {
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub ck: CheckpointArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn run_inspect_checkpoint(a: &InspectCheckpointArgs) -> anyhow::Result<()> {
    let model = a.ck.open(&a.checkpoint)?;
    let net = match &model.network {
        Network::UniAdaFocus(net) => net,
        Network::Ada3d(net) => return super::inspect_3d::print_checkpoint(&model, net, a.json),
        Network::Ada3dFocus(net) => {
            return super::inspect_3d::print_focus_checkpoint(&model, net, a.json)
        }
    };
    let c = &net.config;
    let flops = net.flops();
    let steps = flops.step_gflops();
    if a.json {
        let extra = serde_json::json!({
            "input": {"frames": c.num_segments, "glance_frames": c.num_glance_segments, "focus_frames": c.num_focus_segments,
                      "size": c.input_size, "patch": c.patch_size, "mean": c.mean, "std": c.std},
            "flops": flops,
            "gflops_per_step": steps,
        });
        println!("{}", checkpoint_json(&model, extra)?);
        return Ok(());
    }
    print_checkpoint_head(&model);
    println!("classes     {}", c.num_classes);
    println!(
        "input       {} frames (TSN centres) at {}², glance {} of them, focus {} patches of {}² (regions {}–{} px)",
        c.num_segments, c.input_size, c.num_glance_segments, c.num_focus_segments, c.patch_size, c.patch_min_side, c.patch_max_side
    );
    print_parameters(&model);
    println!("GFLOPs by part");
    let g = |v: u64| v as f64 / 1e9;
    println!(
        "  glance            {:>12.6} per frame × {}",
        g(flops.glance_per_frame),
        flops.glance_frames
    );
    println!(
        "  local             {:>12.6} per patch",
        g(flops.local_per_patch)
    );
    println!("  spatial policy    {:>12.6}", g(flops.spatial_policy));
    println!("  temporal policy   {:>12.6}", g(flops.temporal_policy));
    println!(
        "  classifier        {:>12.6} per glance frame, {:.6} per patch",
        g(flops.classifier_per_glance),
        g(flops.classifier_per_patch)
    );
    println!("GFLOPs after each step (step 0 = glance only)");
    for (k, v) in steps.iter().enumerate() {
        println!("  {k:>3}  {v:>12.6}");
    }
    Ok(())
}
