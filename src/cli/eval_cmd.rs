//! `adalens eval`: evaluate an ada3d_focus checkpoint on a labelled test split and write the
//! markdown + JSON report (see `adalens::eval`).

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::batch;
use crate::eval::{self, read_boxes};
use crate::model::load::calibration_sidecar;

use anyhow::Context;

use super::inspect::CheckpointArgs;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub model: CheckpointArgs,
    /// A folder with `SPLIT.csv` (`path,label`) and, for the benchmark, `SPLIT_boxes.json`.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Calibration set the thresholds are solved on (default: the checkpoint's `.adlcal`).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Report to write: `OUT.md` and `OUT.json`.
    #[arg(short, long, default_value = "docs/eval_report")]
    pub output: PathBuf,
    /// Seed of the random baselines.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(a: &EvalArgs) -> anyhow::Result<()> {
    let model = a.model.open(&a.checkpoint)?;
    let cal_path = a
        .calibration
        .clone()
        .unwrap_or_else(|| calibration_sidecar(&a.checkpoint));
    let calibration = crate::runner::load_calibration(&model, &cal_path)
        .map_err(|e| anyhow::anyhow!("{e} (train writes it; or pass --calibration)"))?;
    let list = a.data.join(format!("{}.csv", a.split));
    let entries = batch::entries(&list).with_context(|| format!("reading {}", list.display()))?;
    let boxes = read_boxes(&a.data, &a.split);
    // A counter on a terminal; a line per 100 videos in a log.
    let tty = std::io::stderr().is_terminal();
    let progress = |done: usize, total: usize| {
        if tty {
            eprint!("\revaluating {done}/{total}");
        } else if done.is_multiple_of(100) || done == total {
            eprintln!("evaluated {done}/{total}");
        }
    };
    let (results, failed) = eval::run_all(&model, &entries, &boxes, &a.data, a.seed, &progress);
    if tty {
        eprintln!();
    }
    for (p, why) in &failed {
        eprintln!("{}", super::skipped_line("video", p, why));
    }
    let report = eval::evaluate(&model, &calibration, &results, failed.len(), a.seed)?;
    let command = format!(
        "adalens eval --checkpoint {} --data {} --split {} -o {}",
        a.checkpoint.display(),
        a.data.display(),
        a.split,
        a.output.display()
    );
    let md = a.output.with_extension("md");
    let json = a.output.with_extension("json");
    if let Some(dir) = md.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::fsutil::write_atomic(&md, report.markdown(&command, &a.split).as_bytes())
        .with_context(|| format!("writing {}", md.display()))?;
    let text = report.to_json()?;
    crate::fsutil::write_atomic(&json, text.as_bytes())
        .with_context(|| format!("writing {}", json.display()))?;
    for t in &report.targets {
        println!(
            "{:<28} {:<5} {}",
            t.name,
            if t.met { "met" } else { "NOT" },
            t.measured
        );
        if let Some(o) = &t.other_reading {
            println!(
                "{:<28} {:<5} {} (read with {})",
                "",
                if o.met { "met" } else { "NOT" },
                o.measured,
                o.reading
            );
        }
    }
    println!(
        "targets_met: {} ({} and {})",
        report.targets_met,
        md.display(),
        json.display()
    );
    Ok(())
}
