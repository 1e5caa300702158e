//! `adalens batch` (decisions over a list or folder of videos, resumable, shardable) and
//! `adalens merge` (join the shards' summaries).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::batch::run::{run_batch, BatchOptions, BatchSettings, Outcome};
use crate::batch::{self, Shard};
use indicatif::{ProgressBar, ProgressStyle};

use super::run_args::RunArgs;

#[derive(clap::Args, Debug)]
pub struct BatchArgs {
    /// A `path,label` CSV (relative paths from its folder), or a folder searched for videos
    /// (labelled by their top sub-folder, as in `class/video.mp4`).
    pub source: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    /// Result folder: traces/, failed/, summary.csv, batch.json.
    #[arg(long)]
    pub out: PathBuf,
    /// This machine's share, i/N (a cluster job array: `--shard $SLURM_ARRAY_TASK_ID/N`).
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Videos processed at once (the model is shared; each job decodes its own video).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Try the videos that failed in an earlier run again.
    #[arg(long)]
    pub retry_failed: bool,
    /// Decode every packet of each video, whatever its size, so that frame numbers are
    /// exactly the ffmpeg CLI's even where a damaged packet gives no picture (files up to
    /// 300 M pixels in all are checked anyway). Part of the run's settings.
    #[arg(long)]
    pub exact: bool,
}

pub fn run(a: &BatchArgs) -> anyhow::Result<()> {
    let all = batch::entries(&a.source)?;
    let total = all.len();
    let entries = batch::shard_of(all, a.shard);
    let (model, knobs, exit) = a.run.open()?;
    // Labels the checkpoint does not know: named once here, not once per video.
    let names = model.config.class_names();
    let unknown = batch::unknown_labels(&entries, &names, names.len());
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(10).map(String::as_str).collect();
        eprintln!(
            "warning: {} label(s) are neither class names of {} nor class numbers below {}: {}{} \
             (those videos run, but their `correct` column stays empty)",
            unknown.len(),
            model.path.display(),
            names.len(),
            shown.join(", "),
            if unknown.len() > 10 { ", …" } else { "" }
        );
    }
    let settings = BatchSettings {
        checkpoint: model.path.display().to_string(),
        arch: model.arch().to_string(),
        knobs,
        exit,
        exact_frames: a.exact,
    };
    eprintln!(
        "adalens batch: {} of {total} videos (shard {}/{}) → {}",
        entries.len(),
        a.shard.index,
        a.shard.count,
        a.out.display()
    );
    let bar = ProgressBar::new(entries.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} videos · {per_sec} · elapsed {elapsed} · ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let progress = |_: &batch::Entry, o: &Outcome| {
        if let Outcome::Failed(why) = o {
            let n = failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.set_message(format!("· {n} failed"));
            bar.suspend(|| eprintln!("failed: {why}"));
        }
        bar.inc(1);
    };
    let opts = BatchOptions {
        out: &a.out,
        shard: a.shard,
        jobs: a.jobs,
        retry_failed: a.retry_failed,
    };
    let report = run_batch(
        &model,
        &entries,
        &settings,
        &opts,
        &progress,
        &AtomicBool::new(false),
    )?;
    bar.finish_and_clear();
    println!(
        "{} ran, {} already done, {} failed{}",
        report.ran,
        report.already_done,
        report.failed,
        report
            .summary
            .map(|p| format!(" → {}", p.display()))
            .unwrap_or_default()
    );
    // A run where every video failed is a failed run (a job scheduler should see it), even
    // though each failure is recorded.
    if report.failed > 0 && report.ran + report.already_done == 0 {
        anyhow::bail!(
            "no video of the {} could be run (every one failed; see {}/failed)",
            report.failed,
            a.out.display()
        );
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The --out folder the shards wrote to.
    pub out: PathBuf,
}

pub fn run_merge(a: &MergeArgs) -> anyhow::Result<()> {
    let (path, rows) = batch::summary::merge(&a.out)?;
    println!("{}: {rows} videos", path.display());
    Ok(())
}
