//! `adalens bench …`: measured runs reported in BENCHMARKS.md (never timing asserts in tests).

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Sample frames (TSN centres) from video files: end-to-end time, the decode limit, memory.
    Video(super::bench_video::BenchVideoArgs),
    /// Glance (MobileNetV2 16×224²) and local (ResNet-50 16×128²) forward passes.
    Model(super::bench_model::BenchModelArgs),
    /// SlowOnly-R50 on 8×224²: all stages 3D, all 2D, half the frames.
    Model3d(super::bench_model3d::BenchModel3dArgs),
    /// A long video's run part by part (decoding per clip, one cursor, skipping, the model)
    /// next to `ffmpeg -threads 2` decoding the whole file.
    Clips(super::bench_clips::BenchClipsArgs),
    /// The dataset view's work (open, filter, sort, re-decide) on a large synthetic batch run.
    Dataset(super::bench_dataset::BenchDatasetArgs),
    /// One what-if edit (a cube moved) on the warm session, next to the whole model again.
    WhatIf(super::bench_what_if::BenchWhatIfArgs),
    /// Budget solver speed on a random calibration set.
    Budget {
        #[arg(long, default_value_t = 5000)]
        samples: usize,
        #[arg(long, default_value_t = 17)]
        steps: usize,
        #[arg(long, default_value_t = 200)]
        classes: usize,
    },
}

pub fn run(cmd: &BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Video(a) => super::bench_video::run(a),
        BenchCommand::Model(a) => super::bench_model::run(a),
        BenchCommand::Model3d(a) => super::bench_model3d::run(a),
        BenchCommand::Clips(a) => super::bench_clips::run(a),
        BenchCommand::Dataset(a) => super::bench_dataset::run(a),
        BenchCommand::WhatIf(a) => super::bench_what_if::run(a),
        BenchCommand::Budget {
            samples,
            steps,
            classes,
        } => super::budget_cmd::bench(*samples, *steps, *classes),
    }
}

/// The middle of a set of timings (the upper middle for an even count).
pub(super) fn median(mut v: Vec<std::time::Duration>) -> std::time::Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
