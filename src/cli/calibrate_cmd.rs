//! `adalens calibrate`: run a checkpoint over a labelled list of videos and write the
//! calibration set its budget slider and `adalens budget` use. Resumable: every video's sample
//! is kept in `OUTPUT.parts/` until the set is written.

use std::path::PathBuf;

use adalens::batch;
use adalens::calibrate::calibrate;
use anyhow::Context;

use super::inspect::CheckpointArgs;

#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// `path,label` lines (label: a class name of the checkpoint or an index), or a folder of
    /// `class/video.mp4`.
    pub list: PathBuf,
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub model: CheckpointArgs,
    /// Where to write the set (`.adlcal`); beside the checkpoint as `NAME.adlcal`, the window
    /// finds it on its own.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Label each video with the model's own prediction after its last step (measures
    /// agreement with the full model; for an untrained model or unlabelled videos).
    #[arg(long)]
    pub self_labels: bool,
    /// A line saying where the set came from, stored in it.
    #[arg(long)]
    pub description: Option<String>,
}

pub fn run(a: &CalibrateArgs) -> anyhow::Result<()> {
    let model = a.model.open(&a.checkpoint)?;
    let entries = batch::entries(&a.list)?;
    let mut parts = a.output.clone().into_os_string();
    parts.push(".parts");
    let parts = PathBuf::from(parts);
    let progress = |done: usize, total: usize| eprint!("\rcalibrating {done}/{total}");
    let out = calibrate(&model, &entries, a.self_labels, Some(&parts), &progress)?;
    eprintln!();
    for (p, why) in &out.failed {
        eprintln!("{}", super::skipped_line("video", p, why));
    }
    let description = a.description.clone().unwrap_or_else(|| {
        format!(
            "{} on {} ({} videos{})",
            a.checkpoint.display(),
            a.list.display(),
            out.set.samples(),
            if a.self_labels { ", self-labelled" } else { "" }
        )
    });
    let set = out.set.with_description(description);
    set.save(&a.output)
        .with_context(|| format!("writing {}", a.output.display()))?;
    // The set holds everything the parts did; a rerun now starts afresh.
    let _ = std::fs::remove_dir_all(&parts);
    println!(
        "{}: {} samples ({} skipped), {} steps, {} classes",
        a.output.display(),
        set.samples(),
        out.failed.len(),
        set.steps(),
        set.classes()
    );
    Ok(())
}
