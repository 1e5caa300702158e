//! `adalens bench clips VIDEO`: what a long video's run costs, part by part, next to the ffmpeg
//! CLI decoding the whole file with two threads (`ffmpeg -threads 2 -i VIDEO -f null -`): the
//! sampled frames decoded clip by clip each from its keyframe, through one cursor that goes on
//! between neighbouring clips, the same with FFmpeg's skipping of unreferenced pictures, and
//! the whole run (decoding on its own thread, the model on this one).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;

use crate::model::load::{ConfigOverrides, LoadedModel};
use crate::runner::{self, decode_threads, resize_of, Input, Quiet};
use crate::video::{Control, Video};

#[derive(clap::Args, Debug)]
pub struct BenchClipsArgs {
    /// A long video (e.g. 10 minutes of 720p H.264).
    pub video: PathBuf,
    #[arg(long, default_value = "models/ada3d_focus_synth.safetensors")]
    pub checkpoint: PathBuf,
}

pub fn run(a: &BenchClipsArgs) -> anyhow::Result<()> {
    let model = LoadedModel::open(
        &a.checkpoint,
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )?;
    let video = Video::open(&a.video)?;
    let input = Input::plan(&video, &model)?;
    let clips: Vec<Vec<usize>> = input
        .sampled
        .numbers
        .chunks(input.clip_len)
        .map(<[usize]>::to_vec)
        .collect();
    let resize = resize_of(model.config.input_transform());
    let threads = decode_threads();
    println!(
        "{}: {} frames, {} clips, {} sampled frames; decoder threads {threads}",
        a.video.display(),
        video.frame_count(),
        clips.len(),
        input.sampled.numbers.len()
    );
    let t = Instant::now();
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-threads", "2", "-i"])
        .arg(&a.video)
        .args(["-f", "null", "-"])
        .status()
        .context("running the ffmpeg CLI (the peer)")?;
    anyhow::ensure!(
        status.success(),
        "the ffmpeg CLI failed on {}",
        a.video.display()
    );
    let peer = t.elapsed().as_secs_f64();
    println!(
        "{:<58} {peer:>7.2} s  1.00×",
        "ffmpeg -threads 2 -i VIDEO -f null - (whole file)"
    );
    let row = |what: &str, s: f64| println!("{what:<58} {s:>7.2} s  {:.2}×", s / peer);

    let ctl = Control {
        threads,
        ..Default::default()
    };
    let t = Instant::now();
    for c in &clips {
        video.frames_with(c, resize, &ctl)?;
    }
    row(
        "each clip decoded on its own, from its keyframe",
        t.elapsed().as_secs_f64(),
    );

    for (what, skip) in [
        ("one cursor for all clips, every picture decoded", false),
        (
            "one cursor, unreferenced pictures skipped (as runs do)",
            true,
        ),
    ] {
        let mut cursor = video.cursor(resize, threads)?;
        if !skip {
            cursor.never_skip();
        }
        let t = Instant::now();
        for c in &clips {
            cursor.frames(c, &Control::default())?;
        }
        row(what, t.elapsed().as_secs_f64());
    }

    let t = Instant::now();
    let run = runner::run_input(
        &model,
        input,
        &model.config.knobs(),
        None,
        &AtomicBool::new(false),
        &Quiet,
    )?;
    row(
        &format!(
            "the whole run: {} clips decoded and run",
            run.inspection.trace.clips.len()
        ),
        t.elapsed().as_secs_f64(),
    );
    Ok(())
}
