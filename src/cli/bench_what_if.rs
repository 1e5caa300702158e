//! `adalens bench what-if`: how long one what-if edit takes to redraw-ready (the clip run again
//! with a cube moved, on the warm session), next to running the same clip's whole model again
//! (glance, policies and local network: what a tool without a warm session would do).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::model::load::{ConfigOverrides, LoadedModel};
use crate::runner::{Edit, Input, Quiet, Session};
use crate::video::Video;

use super::bench::median;

#[derive(clap::Args, Debug)]
pub struct BenchWhatIfArgs {
    #[arg(long, default_value = "models/ada3d_focus_synth.safetensors")]
    pub checkpoint: PathBuf,
    #[arg(long, default_value = "assets/demo/synth/four_actions.mp4")]
    pub video: PathBuf,
    /// Timed edits (each after the first, which warms the caches).
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
}

pub fn run(a: &BenchWhatIfArgs) -> anyhow::Result<()> {
    let device = crate::model::device::select(false);
    let model = LoadedModel::open(
        &a.checkpoint,
        None,
        &ConfigOverrides::default(),
        &device.device,
    )?;
    let video = Video::open(&a.video)?;
    let knobs = model.config.knobs();
    let mut session = Session::new(&model, Input::plan(&video, &model)?);
    session.run(&knobs, &AtomicBool::new(false), &Quiet)?;
    let clip = 0;
    let own = session.what_if(clip, &knobs, &[])?;
    let Some(cube) = own.plan.cubes.first() else {
        anyhow::bail!("clip 1 of {} has no cube to move", a.video.display());
    };
    let side = (
        cube.region.x2 - cube.region.x1,
        cube.region.y2 - cube.region.y1,
    );
    let mut edits = Vec::new();
    for i in 0..=a.repeat {
        // A different place each time (a drag ends anywhere).
        let f = i as f32 / a.repeat.max(1) as f32;
        let edit = Edit::MoveCube {
            order: 1,
            x: side.0 / 2.0 + f * 60.0,
            y: side.1 / 2.0 + (1.0 - f) * 60.0,
        };
        let t = Instant::now();
        session.what_if(clip, &knobs, &[edit])?;
        if i > 0 {
            edits.push(t.elapsed());
        }
    }
    // The whole model on the clip again, fresh (decode excluded: the clip's frames are in memory).
    let mut whole = Vec::new();
    let mut input = Input::plan(&video, &model)?;
    let frames = input.clip(clip, &crate::video::Control::default())?;
    let crate::model::load::Network::Ada3dFocus(net) = &model.network else {
        anyhow::bail!("what-if edits need an ada3d_focus checkpoint");
    };
    for i in 0..=a.repeat.min(10) {
        let t = Instant::now();
        let cache = net.glance(&frames)?;
        let plan = net.plan(&cache, knobs.frame_threshold, knobs.stage_threshold);
        net.run_plan(&frames, &cache, plan)?;
        if i > 0 {
            whole.push(t.elapsed());
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p95 = |mut v: Vec<Duration>| {
        v.sort();
        v.get((v.len() * 95).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    let (e_med, e_p95, w_med) = (median(edits.clone()), p95(edits), median(whole));
    println!(
        "what-if edit (cube moved, local network only) on {}: median {:.1} ms, p95 {:.1} ms over {} \
         edits; the whole model on the clip again: median {:.1} ms ({:.2}× the edit); {}",
        device.description,
        ms(e_med),
        ms(e_p95),
        a.repeat,
        ms(w_med),
        ms(w_med) / ms(e_med).max(1e-9),
        a.checkpoint.display()
    );
    Ok(())
}
