//! `adalens calibrate`: run a checkpoint over a labelled list of videos and write the
//! calibration set its budget slider and `adalens budget` use. Resumable: every video's sample
//! is kept in `OUTPUT.parts/` until the set is written. With `--traces DIR`, the set is made
//! from traces logged elsewhere instead (their per-step probabilities; no model runs).

use std::path::PathBuf;

use crate::batch;
use crate::calibrate::calibrate;
use anyhow::Context;

use super::inspect::CheckpointArgs;

#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// `path,label` lines (label: a class name of the checkpoint or an index), or a folder of
    /// `class/video.mp4`. With `--traces`, the labels of the traces' videos.
    pub list: Option<PathBuf>,
    #[arg(long, required_unless_present = "traces")]
    pub checkpoint: Option<PathBuf>,
    /// A folder of traces logged elsewhere (the Python package's TraceBuilder, or any program
    /// writing docs/trace.schema.json) whose steps carry `probs`: each clip is a sample.
    #[arg(long, value_name = "DIR", conflicts_with = "checkpoint")]
    pub traces: Option<PathBuf>,
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
    if let Some(dir) = &a.traces {
        return run_traces(a, dir);
    }
    let (Some(checkpoint), Some(list)) = (&a.checkpoint, &a.list) else {
        anyhow::bail!("give a list of videos and --checkpoint, or --traces DIR");
    };
    let model = a.model.open(checkpoint)?;
    let entries = batch::entries(list)?;
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
            checkpoint.display(),
            list.display(),
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

/// `--traces DIR [LIST]`: the set of the traces' own per-step probabilities.
fn run_traces(a: &CalibrateArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let folder = crate::logged::read_folder(dir, a.list.as_deref())?;
    for (p, why) in &folder.skipped {
        eprintln!("skipped trace {}: {why}", p.display());
    }
    let out = crate::calibrate::from_traces(&folder.traces, a.self_labels)?;
    for (p, why) in &out.failed {
        eprintln!("skipped {}: {why}", p.display());
    }
    let description = a.description.clone().unwrap_or_else(|| {
        format!(
            "traces in {} ({} clips{})",
            dir.display(),
            out.set.samples(),
            if a.self_labels { ", self-labelled" } else { "" }
        )
    });
    let set = out.set.with_description(description);
    set.save(&a.output)
        .with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "{}: {} samples from {} traces ({} skipped), {} steps, {} classes",
        a.output.display(),
        set.samples(),
        folder.traces.len(),
        folder.skipped.len() + out.failed.len(),
        set.steps(),
        set.classes()
    );
    Ok(())
}
