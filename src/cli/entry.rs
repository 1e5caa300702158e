//! The `adalens` command line: with no subcommand, the window; subcommands run the same
//! library code headless. The binary (`src/main.rs`) and the Python package's `adalens`
//! command (`python/`) both call [`main`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super as cli;

#[derive(Parser, Debug)]
#[command(
    name = "adalens",
    version,
    about = "Inspect the decisions of adaptive video-recognition models",
    args_conflicts_with_subcommands = true
)]
// Without the window, the options that open it are parsed and refused.
#[cfg_attr(not(feature = "gui"), allow(dead_code))]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Video to open in the window, or a batch run's folder (the dataset view); with nothing
    /// given, the bundled demo.
    video: Option<PathBuf>,
    /// Checkpoint to open in the window (default: the last one opened, else the demo).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Config JSON for that checkpoint (default: its sidecar, metadata or weights).
    #[arg(long, requires = "checkpoint")]
    config: Option<PathBuf>,
    /// Open a trace logged elsewhere (Python's TraceBuilder, or any program writing
    /// docs/trace.schema.json) on VIDEO, or on the video it names; no checkpoint is needed.
    #[arg(long, value_name = "TRACE.json", conflicts_with_all = ["checkpoint", "compare"])]
    trace: Option<PathBuf>,
    /// The calibration set for that trace's budget slider (default: calibration.adlcal beside
    /// the trace; `adalens calibrate --traces DIR` makes one).
    #[arg(long, value_name = "SET.adlcal", requires = "trace")]
    calibration: Option<PathBuf>,
    /// Compare mode: run B is this checkpoint (at its own settings), beside the model's run A.
    #[arg(long, value_name = "CHECKPOINT")]
    compare: Option<PathBuf>,
    /// Compare mode: run B at this budget (GFLOPs per video; B's checkpoint's calibration set,
    /// else A's).
    #[arg(long, value_name = "GFLOPS")]
    compare_budget: Option<f64>,
    /// Compare mode: run B with this exit criterion.
    #[arg(long, value_name = "CRITERION")]
    compare_criterion: Option<crate::decision::Criterion>,
    /// Compare mode: run B with this τ_f (frame threshold).
    #[arg(long, value_name = "TAU")]
    compare_tau_f: Option<f32>,
    /// Compare mode: run B with this τ_s (stage threshold).
    #[arg(long, value_name = "TAU")]
    compare_tau_s: Option<f32>,
    /// Compare mode: run B with at most this many cubes per clip.
    #[arg(long, value_name = "N")]
    compare_max_cubes: Option<usize>,
    /// Measure N frames of continuous redraw once loaded, print the frame times, and close.
    #[cfg(feature = "gui")]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    frame_stats: Option<u32>,
    /// What --frame-stats redraws: the playhead stepping every frame, still, or an empty panel.
    #[cfg(feature = "gui")]
    #[arg(long, value_enum, default_value = "moving", requires = "frame_stats")]
    frame_stats_scene: crate::app::FrameStatsScene,
}

/// `adalens view TRACE`: a logged trace in the window.
#[derive(clap::Args, Debug)]
struct ViewArgs {
    /// The trace (docs/trace.schema.json).
    trace: PathBuf,
    /// The video to draw it on (default: the one the trace names).
    #[arg(long)]
    video: Option<PathBuf>,
    /// The calibration set of its budget slider (default: calibration.adlcal beside it).
    #[arg(long)]
    calibration: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a video's probe (container, codec, size, rotation, timing) and frame index summary.
    Probe(cli::probe::ProbeArgs),
    /// Write exact frame numbers as PNG files (compare with the ffmpeg CLI).
    Frames(cli::frames::FramesArgs),
    /// Run a checkpoint on a video (or preprocessed frames) and print what it decided.
    Inspect(cli::inspect::InspectArgs),
    /// What a checkpoint holds: arch, parameters per part, input, FLOPs per step.
    InspectCheckpoint(cli::inspect::InspectCheckpointArgs),
    /// Thresholds for a compute budget from a calibration set (AdaFocusV3 eq. 7).
    Budget(cli::budget_cmd::BudgetArgs),
    /// Run a checkpoint over a `path,label` list and write its calibration set.
    Calibrate(cli::calibrate_cmd::CalibrateArgs),
    /// Write a paper-ready figure (SVG, PNG or PDF) of the decisions on a video or a grid of
    /// videos.
    Figure(Box<cli::figure::FigureArgs>),
    /// Run a checkpoint over a list or folder of videos: one DecisionTrace each and a summary
    /// table; resumable and shardable (`--shard i/N`).
    Batch(cli::batch_cmd::BatchArgs),
    /// A folder of traces logged elsewhere (Python's TraceBuilder, or any program writing
    /// docs/trace.schema.json), labelled by a `path,label` list, as a batch run folder.
    Import(cli::import_cmd::ImportArgs),
    /// Open a trace logged elsewhere in the window (as `adalens [VIDEO] --trace T.json`).
    View(ViewArgs),
    /// Join the summaries of a sharded batch into summary.csv.
    Merge(cli::batch_cmd::MergeArgs),
    /// Print the rows of a batch run that a filter expression keeps (the dataset view's
    /// filter and sort), as CSV or JSON; optionally re-decided for a budget.
    Query(cli::query_cmd::QueryArgs),
    /// What differs between two runs: on one video, two checkpoints or one at two budgets,
    /// criteria or τ_f / τ_s (per clip); or two batch-run folders (per video).
    Diff(cli::diff_cmd::DiffArgs),
    /// Write the synthetic benchmark: appearance and motion classes with known targets, as
    /// H.264 videos with labels and per-frame target boxes.
    Synth(cli::synth_cmd::SynthArgs),
    /// Train an ada3d_focus checkpoint in three stages (random policies, policies, joint) on
    /// labelled videos, then calibrate its budget engine; seeded and resumable.
    Train(cli::train_cmd::TrainArgs),
    /// Evaluate an ada3d_focus checkpoint on a labelled test split (accuracy vs GFLOPs,
    /// learned vs random policies, cube placement, early exit) and write the report.
    Eval(cli::eval_cmd::EvalArgs),
    /// Benchmarks (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
}

/// Run the command line on `args` (the program name first); the exit status to end with
/// (0 on success). Bad arguments and `--help` end the process, as clap does.
/// `before_long_run` is called before `train` and `eval` (the binary tunes its allocator).
pub fn main<I, T>(args: I, before_long_run: &dyn Fn()) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ADALENS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init()
        .ok();
    let cli = Cli::parse_from(args);
    if cli.command.is_some() {
        quiet_on_closed_pipe();
    }
    let result = match cli.command {
        None => open_window(cli),
        Some(Command::Probe(a)) => cli::probe::run(&a),
        Some(Command::Frames(a)) => cli::frames::run(&a),
        Some(Command::Inspect(a)) => cli::inspect::run_inspect(&a),
        Some(Command::InspectCheckpoint(a)) => cli::inspect::run_inspect_checkpoint(&a),
        Some(Command::Budget(a)) => cli::budget_cmd::run(&a),
        Some(Command::Calibrate(a)) => cli::calibrate_cmd::run(&a),
        Some(Command::Figure(a)) => cli::figure::run(&a),
        Some(Command::Batch(a)) => cli::batch_cmd::run(&a),
        Some(Command::Merge(a)) => cli::batch_cmd::run_merge(&a),
        Some(Command::Import(a)) => cli::import_cmd::run(&a),
        Some(Command::View(a)) => open_window(Cli {
            command: None,
            video: a.video,
            trace: Some(a.trace),
            calibration: a.calibration,
            checkpoint: None,
            config: None,
            compare: None,
            compare_budget: None,
            compare_criterion: None,
            compare_tau_f: None,
            compare_tau_s: None,
            compare_max_cubes: None,
            #[cfg(feature = "gui")]
            frame_stats: None,
            #[cfg(feature = "gui")]
            frame_stats_scene: crate::app::FrameStatsScene::Moving,
        }),
        Some(Command::Query(a)) => cli::query_cmd::run(&a),
        Some(Command::Diff(a)) => cli::diff_cmd::run(&a),
        Some(Command::Synth(a)) => cli::synth_cmd::run(&a),
        Some(Command::Train(a)) => {
            before_long_run();
            cli::train_cmd::run(&a)
        }
        Some(Command::Eval(a)) => {
            before_long_run();
            cli::eval_cmd::run(&a)
        }
        Some(Command::Bench(b)) => cli::bench::run(&b),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("adalens: {}", error_chain(&e));
            1
        }
    }
}

/// No subcommand: the window, on the video or run folder given (else the demo).
#[cfg(feature = "gui")]
fn open_window(cli: Cli) -> anyhow::Result<()> {
    let spec = crate::app::CompareSpec {
        checkpoint: cli.compare,
        budget: cli.compare_budget,
        criterion: cli.compare_criterion,
        tau_f: cli.compare_tau_f,
        tau_s: cli.compare_tau_s,
        max_cubes: cli.compare_max_cubes,
        what_if: false,
        run: None,
    };
    spec.check().map_err(anyhow::Error::msg)?;
    let compare = (spec != crate::app::CompareSpec::default()).then_some(spec);
    crate::app::run(crate::app::Launch {
        compare,
        run: cli.video.clone().filter(|p| p.is_dir()),
        video: cli.video.filter(|p| !p.is_dir()),
        checkpoint: cli.checkpoint,
        config: cli.config,
        frame_stats: cli.frame_stats.map(|n| n as usize),
        frame_stats_scene: cli.frame_stats_scene,
        trace: cli.trace,
        calibration: cli.calibration,
    })
}

/// A build without the `gui` feature (a GPU server, say) is the command line alone.
#[cfg(not(feature = "gui"))]
fn open_window(_cli: Cli) -> anyhow::Result<()> {
    anyhow::bail!(
        "this adalens was built without the window (cargo feature `gui`): give a subcommand \
         (adalens --help lists them)"
    )
}

/// The error and its causes joined by ": ", leaving out a cause its outer message already
/// quotes (typed errors often print their source themselves: "x: cannot read: Permission
/// denied" need not end in "Permission denied" twice).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A subcommand whose output goes to a pipe that closes early (`adalens inspect … | head`)
/// ends quietly, as other command-line tools do, instead of panicking in `println!`.
fn quiet_on_closed_pipe() {
    extern "C" {
        fn signal(signum: std::ffi::c_int, handler: usize) -> usize;
    }
    const SIGPIPE: std::ffi::c_int = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: restores the default disposition of SIGPIPE (Rust's runtime sets it to ignore);
    // no handler code runs, so nothing here can be re-entered.
    unsafe { signal(SIGPIPE, SIG_DFL) };
}
