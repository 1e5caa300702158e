//! The text output of `adalens inspect` and `inspect-checkpoint` for the 3D archs. `ada3d`,
//! `resnet3d`: frames kept and stages run 3D per clip; parameters, K adaptive stages and the
//! FLOPs table (8 and 16 frames of 224², all 3D and all 2D). `ada3d_focus`: frames, stages and
//! every step with its cube; GFLOPs per step with every frame kept, all 3D and all 2D.

use crate::decision::trace::{ClipTrace, DecisionTrace};
use crate::model::ada3d::Ada3d;
use crate::model::ada3d_focus::{Ada3dFocus, CubePlan, Plan};
use crate::model::load::LoadedModel;
use crate::model::patch::Region;

use super::print::{checkpoint_json, print_checkpoint_head, print_parameters, print_steps};

/// `+17(0.82) -18(0.10) …`: each frame, kept (+) or discarded (−), with m_t.
fn frame_marks(clip: &ClipTrace) -> String {
    let marks: Vec<String> = clip
        .frames
        .iter()
        .map(|f| {
            let mark = if f.kept { "+" } else { "-" };
            format!("{mark}{}({:.2})", f.frame, f.keep_prob.unwrap_or(1.0))
        })
        .collect();
    marks.join(" ")
}

/// `3D(0.91) 2D(0.12) …`: each adaptive stage as run, with n_k.
fn stage_marks(clip: &ClipTrace) -> String {
    let marks: Vec<String> = clip
        .stages
        .iter()
        .map(|s| format!("{}({:.2})", if s.ran_3d { "3D" } else { "2D" }, s.prob))
        .collect();
    marks.join(" ")
}

pub fn print_trace(trace: &DecisionTrace) {
    println!("clip  frames kept (m_t)                                stages 3D (n_k)          top-1                    p      GFLOPs");
    for (i, clip) in trace.clips.iter().enumerate() {
        let (kept, stages) = (frame_marks(clip), stage_marks(clip));
        let Some(step) = clip.steps.first() else {
            continue;
        };
        let top = step.top.first();
        println!(
            "{i:>4}  {:<48} {:<24} {:<24} {:>6.3}  {:>7.3}",
            kept,
            stages,
            top.map(|t| trace.class_name(t.class)).unwrap_or_default(),
            top.map(|t| t.prob).unwrap_or(0.0),
            step.cumulative_gflops
        );
    }
    if let Some(top) = trace.video_prediction.first() {
        let gflops: f64 = trace
            .clips
            .iter()
            .filter_map(|c| c.steps.first())
            .map(|s| s.cumulative_gflops)
            .sum();
        println!(
            "video       {} ({:.3}, mean of {} clips), {gflops:.3} GFLOPs in all",
            trace.class_name(top.class),
            top.prob,
            trace.clips.len()
        );
    }
}

/// FLOPs rows: (frames, all-3D GFLOPs, all-2D GFLOPs) of the 3D network at `side`².
fn backbone_table(net: &Ada3d, side: usize) -> anyhow::Result<Vec<(usize, f64, f64)>> {
    let k = net.backbone().spec().adaptive_stages().len();
    [8, 16]
        .into_iter()
        .map(|t| {
            let full = net.backbone().flops(t, (side, side), &vec![true; k])?;
            let flat = net.backbone().flops(t, (side, side), &vec![false; k])?;
            Ok((t, full.gflops(), flat.gflops()))
        })
        .collect()
}

pub fn print_checkpoint(model: &LoadedModel, net: &Ada3d, json: bool) -> anyhow::Result<()> {
    let c = &net.config;
    let spec = net.backbone().spec();
    let k = spec.adaptive_stages().len();
    let clip_full = net.flops(c.clip_frames, &vec![true; k])?;
    let selection: u64 = clip_full
        .layers
        .iter()
        .filter(|(n, _)| n.starts_with("selection."))
        .map(|(_, v)| v)
        .sum();
    let table = backbone_table(net, 224)?;
    let stage_names: Vec<String> = spec
        .adaptive_stages()
        .iter()
        .map(|&s| {
            if s == 0 {
                "s1 (stem)".to_string()
            } else {
                format!("s{} (res{})", s + 1, s + 1)
            }
        })
        .collect();
    if json {
        let extra = serde_json::json!({
            "adaptive_stages": stage_names,
            "gflops": {
                "selection_per_clip": selection as f64 / 1e9,
                "clip_all_3d": clip_full.gflops(),
                "backbone_224": table.iter().map(|(t, a, b)| serde_json::json!({"frames": t, "all_3d": a, "all_2d": b})).collect::<Vec<_>>(),
            },
        });
        println!("{}", checkpoint_json(model, extra)?);
        return Ok(());
    }
    print_checkpoint_head(model);
    println!("classes     {}", c.num_classes);
    println!(
        "backbone    {:?}, width {}, layers {:?}; K = {k} adaptive stages: {}",
        spec.preset,
        spec.width,
        spec.layers,
        stage_names.join(", ")
    );
    println!(
        "input       {} clips of {} frames at stride {}, {}²",
        c.num_clips, c.clip_frames, c.frame_stride, c.input_size
    );
    if net.has_selection() {
        println!(
            "selection   MobileNetV2 {} at {}², thresholds τ_f {} τ_s {}",
            c.selection_width_mult, c.selection_size, c.frame_threshold, c.stage_threshold
        );
    }
    print_parameters(model);
    println!("GFLOPs");
    if net.has_selection() {
        println!(
            "  selection network {:>12.6} per clip ({} frames)",
            selection as f64 / 1e9,
            c.clip_frames
        );
    }
    println!(
        "  one clip, every frame and stage 3D {:>12.6}",
        clip_full.gflops()
    );
    println!("  3D network at 224²:  frames      all 3D      all 2D");
    for (t, a, b) in table {
        println!("                       {t:>6}  {a:>10.4}  {b:>10.4}");
    }
    Ok(())
}

pub fn print_focus_trace(trace: &DecisionTrace) {
    let several = trace.clips.len() > 1;
    for (i, clip) in trace.clips.iter().enumerate() {
        if several {
            println!("clip {}", i + 1);
        }
        println!("frames      {} (+ kept, m_t)", frame_marks(clip));
        println!("stages      {}", stage_marks(clip));
        print_steps(trace, clip, "cube frames", |c| format!("{:?}", c.frames));
    }
}

/// The plan with every frame kept and every stage 3D or 2D: N cubes of T' frames.
fn full_plan(net: &Ada3dFocus, all_3d: bool) -> Plan {
    let c = &net.config;
    let k = c.local.adaptive_stages().len();
    let span = c.cube_frames.min(c.num_segments);
    let region = Region {
        x1: 0.0,
        y1: 0.0,
        x2: c.cube_size as f32,
        y2: c.cube_size as f32,
    };
    Plan {
        kept: (0..c.num_segments).collect(),
        stages_3d: vec![all_3d; k],
        positions: Vec::new(),
        cubes: (0..c.num_cubes.min(c.num_segments))
            .map(|_| CubePlan {
                centre: 0,
                frames: (0..span).collect(),
                region,
            })
            .collect(),
    }
}

pub fn print_focus_checkpoint(
    model: &LoadedModel,
    net: &Ada3dFocus,
    json: bool,
) -> anyhow::Result<()> {
    let c = &net.config;
    let g = |v: &[u64]| v.iter().map(|&x| x as f64 / 1e9).collect::<Vec<_>>();
    let steps_3d = g(&net.step_flops(&full_plan(net, true))?);
    let steps_2d = g(&net.step_flops(&full_plan(net, false))?);
    let k = c.local.adaptive_stages().len();
    if json {
        let extra = serde_json::json!({
            "adaptive_stages": k,
            "gflops_per_step": {"all_kept_all_3d": steps_3d, "all_kept_all_2d": steps_2d},
        });
        println!("{}", checkpoint_json(model, extra)?);
        return Ok(());
    }
    print_checkpoint_head(model);
    println!("classes     {}", c.num_classes);
    println!(
        "input       {} frames (TSN centres) at {}², glance at {}², up to {} cubes of {}²×{} frames",
        c.num_segments, c.input_size, c.glance_size, c.num_cubes, c.cube_size, c.cube_frames
    );
    println!(
        "local       3D ResNet {:?}, width {}, layers {:?}, K = {k} adaptive stages; τ_f {} τ_s {}",
        c.local.preset, c.local.width, c.local.layers, c.frame_threshold, c.stage_threshold
    );
    print_parameters(model);
    println!("GFLOPs after each step, every frame kept (step 0 = glance and policies)");
    println!("  step      all 3D      all 2D");
    for (i, (a, b)) in steps_3d.iter().zip(&steps_2d).enumerate() {
        println!("  {i:>4}  {a:>10.4}  {b:>10.4}");
    }
    Ok(())
}
