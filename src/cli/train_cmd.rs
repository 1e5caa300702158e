//! `adalens train`: train an ada3d_focus checkpoint on labelled videos (see `adalens::train`).

use std::path::{Path, PathBuf};

use crate::batch::{self, Entry};
use crate::model::ada3d_config::Ada3dFocusConfig;
use crate::model::backbones::resnet3d::{Preset, ResNet3dSpec};
use crate::model::config::ModelConfig;
use crate::train::{self, data, Event, Reward, Settings, TrainRun};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

fn parse_three<T: std::str::FromStr>(s: &str) -> Result<[T; 3], String> {
    let v: Vec<T> = s
        .split(',')
        .map(|x| x.trim().parse::<T>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{s:?}: write three numbers, e.g. 8,3,3"))?;
    <[T; 3]>::try_from(v).map_err(|_| format!("{s:?}: write three numbers, one per stage"))
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// A folder with `train.csv` and `calib.csv` (`path,label`; what `adalens synth` writes).
    #[arg(long, required_unless_present = "train")]
    pub data: Option<PathBuf>,
    /// The training list (`path,label` CSV, or a folder of `class/video`), instead of --data.
    #[arg(long, requires = "calib")]
    pub train: Option<PathBuf>,
    /// The held-out list the budget engine is calibrated on.
    #[arg(long)]
    pub calib: Option<PathBuf>,
    /// Checkpoint to write (`NAME.safetensors`; `NAME.json`, `NAME.adlcal` and the resumable
    /// state `NAME.train/` beside it).
    #[arg(short, long)]
    pub output: PathBuf,
    /// An ada3d_focus config JSON (default: the small network of the bundled demo).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs of stage 1 (random policies), 2 (policies) and 3 (joint).
    #[arg(long, default_value = "10,3,3", value_parser = parse_three::<usize>)]
    pub epochs: [usize; 3],
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// AdamW learning rates of the three stages.
    #[arg(long, default_value = "0.002,0.001,0.0003", value_parser = parse_three::<f64>)]
    pub lr: [f64; 3],
    /// Ada3D's penalty for a wrong prediction (reward −γ).
    #[arg(long, default_value_t = 0.5)]
    pub gamma: f64,
    /// σ of the Gaussian stage 2 draws cube centres from (action units: 1 = the frame), for
    /// REINFORCE beside the interpolation gradient; 0: the interpolation gradient alone.
    #[arg(long, default_value_t = 0.2)]
    pub cube_sigma: f64,
    /// Weight of an entropy bonus on the frame and stage policies, which keeps REINFORCE
    /// from driving every keep probability to 0 before it learns which videos need more;
    /// 0: Ada3D's loss as written.
    #[arg(long, default_value_t = 0.1)]
    pub policy_entropy: f64,
    /// Start from the finished stage 1 of an earlier run (its checkpoint, with `NAME.train/`
    /// beside it) instead of training stage 1 again; refused unless that run's config, seed,
    /// stage-1 epochs, batch, stage-1 learning rate and training list are this run's
    #[arg(long)]
    pub stage1_from: Option<PathBuf>,
    /// Stage 2's first epochs (of those --epochs gives it) in which only the cube policy
    /// trains, so that the cubes find the target before the frame and stage policies weigh
    /// what extra frames and 3D stages are worth.
    #[arg(long, default_value_t = 1)]
    pub cube_first: usize,
    /// Threads decoding the videos.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Train on CUDA GPU 0 (a build with `--features cuda`).
    #[arg(long)]
    pub cuda: bool,
    /// Feed the whole frame scaled to a square instead of the papers' centred crop (which on a
    /// 4:3 video leaves out a sixth of the width on each side, and the targets there).
    #[arg(long)]
    pub whole_frame: bool,
}

/// The demo's network: small enough to train on two CPU cores in well under an hour.
pub fn default_config(classes: Vec<String>) -> Ada3dFocusConfig {
    let json = serde_json::json!({
        "num_classes": classes.len(),
        "class_names": classes,
        "num_segments": 8,
        "input_size": 96,
        "glance_size": 48,
        "glance_width_mult": 0.25,
        "cube_size": 40,
        "cube_frames": 4,
        "num_cubes": 3,
        "local": ResNet3dSpec { preset: Preset::I3d, width: 8, layers: [1, 1, 1, 1] },
        "mlp_hidden": 64,
        "spatial_hidden": 16,
        "spatial_block": 6,
        "temporal_hidden": 8,
    });
    // The defaults of every other field are the config's own.
    serde_json::from_value(json).expect("a valid built-in config")
}

fn read_config(path: &Path, classes: Vec<String>) -> anyhow::Result<Ada3dFocusConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut c = match serde_json::from_str::<ModelConfig>(&text) {
        Ok(ModelConfig::Ada3dFocus(c)) => c,
        Ok(other) => anyhow::bail!(
            "{}: a {} config; adalens trains ada3d_focus",
            path.display(),
            other.arch()
        ),
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    };
    if c.num_classes != classes.len() {
        anyhow::bail!(
            "{}: {} classes, the labels have {}",
            path.display(),
            c.num_classes,
            classes.len()
        );
    }
    c.class_names = classes;
    Ok(c)
}

fn lists(a: &TrainArgs) -> anyhow::Result<(Vec<Entry>, Vec<Entry>)> {
    let (train, calib) = match (&a.data, &a.train, &a.calib) {
        (Some(d), None, None) => (d.join("train.csv"), d.join("calib.csv")),
        (None, Some(t), Some(c)) => (t.clone(), c.clone()),
        _ => anyhow::bail!("give --data DIR, or --train LIST and --calib LIST"),
    };
    let read = |p: &Path| -> anyhow::Result<Vec<Entry>> {
        let e = batch::entries(p).with_context(|| format!("reading {}", p.display()))?;
        if let Some(x) = e.iter().find(|x| x.label.is_none()) {
            anyhow::bail!("{}: {} has no label", p.display(), x.path.display());
        }
        Ok(e)
    };
    Ok((read(&train)?, read(&calib)?))
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

pub fn run(a: &TrainArgs) -> anyhow::Result<()> {
    if !(a.cube_sigma.is_finite() && a.cube_sigma >= 0.0) {
        anyhow::bail!("--cube-sigma {}: must be 0 or more", a.cube_sigma);
    }
    if !(a.policy_entropy.is_finite() && a.policy_entropy >= 0.0) {
        anyhow::bail!("--policy-entropy {}: must be 0 or more", a.policy_entropy);
    }
    if a.epochs[1] > 0 && a.cube_first >= a.epochs[1] {
        anyhow::bail!(
            "--cube-first {} leaves stage 2 ({} epoch(s)) none for the frame and stage policies: \
             give stage 2 more epochs, or --cube-first 0",
            a.cube_first,
            a.epochs[1]
        );
    }
    let (train_list, calib_list) = lists(a)?;
    let classes = data::class_names(&train_list);
    if classes.len() < 2 {
        anyhow::bail!(
            "the training labels name {} class(es); training needs two",
            classes.len()
        );
    }
    let mut config = match &a.config {
        Some(p) => read_config(p, classes)?,
        None => default_config(classes),
    };
    if a.whole_frame {
        config.input_frame = crate::model::ada3d_config::InputFrame::Whole;
    }
    let device = if a.cuda {
        let choice = crate::model::device::select(false);
        if !choice.is_cuda() {
            anyhow::bail!("--cuda: {}", choice.description);
        }
        choice.device
    } else {
        candle_core::Device::Cpu
    };
    if let Some(dir) = a.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let settings = Settings {
        config,
        seed: a.seed,
        epochs: a.epochs,
        batch: a.batch.max(2),
        lr: a.lr,
        reward: Reward {
            gamma: a.gamma,
            cube_sigma: a.cube_sigma,
            policy_entropy: a.policy_entropy,
        },
        cube_first: a.cube_first,
        train: train_list
            .iter()
            .map(|e| {
                (
                    e.path.display().to_string(),
                    e.label.clone().unwrap_or_default(),
                )
            })
            .collect(),
    };
    let run = TrainRun {
        settings,
        train: &train_list,
        calib: &calib_list,
        checkpoint: a.output.clone(),
        jobs: a.jobs,
        device,
        stage1_from: a.stage1_from.clone(),
    };
    let progress = bar(0, "{msg} {bar:30} {pos}/{len} · {elapsed} · ETA {eta}");
    let on = |e: Event| {
        match e {
        Event::Decoding { done, total } => {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
            progress.set_message("decoding");
        }
        // Said before training starts, so that a bad file is known before the hour it runs.
        Event::Decoded { clips, failed } => progress.suspend(|| {
            eprintln!("decoded {clips} of {} training videos", clips + failed.len());
            for (p, why) in failed {
                eprintln!("{}", super::skipped_line("training video", p, why));
            }
        }),
        Event::Resumed { epochs } => progress.suspend(|| eprintln!("resuming after {epochs} epochs")),
        Event::Step {
            stage,
            epoch,
            batch,
            batches,
            loss,
            accuracy,
        } => {
            progress.set_length(batches as u64);
            progress.set_position(batch as u64);
            progress.set_message(format!(
                "stage {} epoch {} · loss {loss:.3} · acc {:.1} %",
                stage.number(),
                epoch + 1,
                100.0 * accuracy
            ));
        }
        // Printed whether or not stderr is a terminal (the bar only draws on one).
        Event::Epoch(log) => progress.suspend(|| {
            eprintln!(
                "stage {} epoch {}: loss {:.3}, train acc {:.1} %, kept frames {:.2}, 3D stages {:.2} ({:.0} s)",
                log.stage,
                log.epoch + 1,
                log.loss,
                100.0 * log.accuracy,
                log.mean_kept_frames,
                log.mean_3d_stages,
                log.seconds
            )
        }),
        Event::Calibrating { done, total } => {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
            progress.set_message("calibrating");
        }
    }
    };
    let out = train::train(&run, &on)?;
    progress.finish_and_clear();
    for (p, why) in &out.skipped_calibration {
        eprintln!("{}", super::skipped_line("calibration video", p, why));
    }
    println!(
        "{}: trained ({} epochs); calibration set {}; last-step top-1 on the calibration list {}",
        out.checkpoint.display(),
        out.epochs.len(),
        out.calibration.display(),
        out.calib_accuracy
            .map(|x| format!("{:.1} %", 100.0 * x))
            .unwrap_or_else(|| "n/a".into())
    );
    Ok(())
}
