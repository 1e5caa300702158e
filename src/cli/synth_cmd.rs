//! `adalens synth`: write the synthetic benchmark (see `adalens::synth`).

use std::path::PathBuf;

use crate::synth::write::{write_benchmark, SplitSizes};
use crate::synth::{SynthSpec, CLASSES};
use indicatif::{ProgressBar, ProgressStyle};

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: write WIDTHxHEIGHT with even numbers from 32, e.g. 160x120");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    let (w, h) = (
        w.parse::<u32>().map_err(|_| bad())?,
        h.parse::<u32>().map_err(|_| bad())?,
    );
    if w < 32 || h < 32 || w % 2 == 1 || h % 2 == 1 || w > 1920 || h > 1920 {
        return Err(bad());
    }
    Ok((w, h))
}

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Folder to write (resumable: videos already there are kept).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of everything; the splits use disjoint streams of it.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 800)]
    pub train: usize,
    #[arg(long, default_value_t = 200)]
    pub calib: usize,
    #[arg(long, default_value_t = 1000)]
    pub test: usize,
    /// Frame size, WIDTHxHEIGHT.
    #[arg(long, default_value = "160x120", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Frames per video.
    #[arg(long, default_value_t = 32)]
    pub frames: usize,
    #[arg(long, default_value_t = 12)]
    pub fps: u32,
    /// Videos rendered and encoded at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
}

pub fn run(a: &SynthArgs) -> anyhow::Result<()> {
    if a.frames < 2 {
        anyhow::bail!("--frames {}: a video needs at least 2 frames", a.frames);
    }
    let spec = SynthSpec {
        width: a.size.0,
        height: a.size.1,
        frames: a.frames,
        fps: a.fps.max(1),
    };
    let sizes = SplitSizes {
        train: a.train,
        calib: a.calib,
        test: a.test,
    };
    let total = a.train + a.calib + a.test;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} videos · {per_sec} · ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |done: usize, _: usize| bar.set_position(done as u64);
    write_benchmark(&a.out, a.seed, &spec, &sizes, a.jobs, &progress)?;
    bar.finish_and_clear();
    println!(
        "{}: {} train, {} calib, {} test videos of {} classes ({}×{}, {} frames at {} fps)",
        a.out.display(),
        a.train,
        a.calib,
        a.test,
        CLASSES.len(),
        spec.width,
        spec.height,
        spec.frames,
        spec.fps
    );
    Ok(())
}
