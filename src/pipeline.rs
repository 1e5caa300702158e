//! Where the video pipeline meets the model (the only module that knows both): sample the
//! frames a checkpoint asks for, apply its test transform, run it, and describe the result as
//! a DecisionTrace. Also reads already preprocessed frames from a safetensors file, so adalens
//! can be compared with another implementation on identical input.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use crate::analysis::{Analysis, Knobs};
use crate::decision::trace::{DecisionTrace, InputGeometry, VideoInfo};
use crate::model::ada3d::{ClipPolicy, ClipRun};
use crate::model::ada3d_focus::Ada3dFocusOutput;
use crate::model::inspect::SampledFrames;
use crate::model::load::{LoadedModel, Network};
use crate::model::uni_adafocus::{UniAdaFocusFlops, UniAdaFocusOutput};
use crate::video::{plan, Control, Resize, RgbFrame, Video, VideoError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Video(#[from] VideoError),
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("running the model: {0}")]
    Model(#[from] candle_core::Error),
    #[error("cancelled")]
    Cancelled,
}

/// Frames ready for the model, and where they came from.
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// (clips·T)×3×S×S, normalised, on the model's device; one clip for uni_adafocus, one per
    /// window of `clip_seconds` for ada3d_focus (one when unset).
    pub frames: Tensor,
    /// T: frames per clip.
    pub clip_len: usize,
    pub sampled: SampledFrames,
    pub video: VideoInfo,
    pub geometry: Option<InputGeometry>,
}

impl ModelInput {
    pub fn clips(&self) -> usize {
        self.sampled.numbers.len() / self.clip_len.max(1)
    }
}

/// The raw numbers behind a trace, by arch.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RawOutput {
    UniAdaFocus(Box<UniAdaFocusOutput>),
    /// One run per clip.
    Ada3dFocus(Vec<Ada3dFocusOutput>),
    Ada3d {
        /// m and n of every clip (all 1 for resnet3d).
        policies: Vec<ClipPolicy>,
        /// Kept frames, 3D stages, logits and GFLOPs of every clip.
        clips: Vec<ClipRun>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum FlopsReport {
    UniAdaFocus(UniAdaFocusFlops),
    /// Per clip, cumulative after each step (step 0 = the glance and policies).
    Ada3dFocus {
        gflops_per_step: Vec<Vec<f64>>,
    },
    /// Per clip as run, and one clip with every frame and stage (the paper's "Upper").
    Ada3d {
        gflops_per_clip: Vec<f64>,
        gflops_full_clip: f64,
    },
}

/// A DecisionTrace plus the raw numbers behind it (per-step logits, policy outputs).
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub trace: DecisionTrace,
    pub raw: RawOutput,
    pub flops: FlopsReport,
}

/// Sample and preprocess a video the way the checkpoint was evaluated. uni_adafocus: TSN
/// segment centres, shorter side to `input_size·256/224`, centre crop; ada3d_focus the same
/// with `num_segments`. ada3d / resnet3d: the
/// test protocol's clips (`num_clips` of `clip_frames` at `frame_stride`, spread uniformly),
/// the same resize and crop.
pub fn video_input(
    video: &Video,
    model: &LoadedModel,
    ctl: &Control,
) -> Result<ModelInput, PipelineError> {
    let mut resize = None;
    let (numbers, clip_len, input_size, mean, std) = match &model.network {
        Network::UniAdaFocus(net) => {
            let c = &net.config;
            let n = plan::tsn_centres(video.frame_count(), c.num_segments);
            let len = n.len();
            (n, len, c.input_size, c.mean, c.std)
        }
        Network::Ada3dFocus(net) => {
            let c = &net.config;
            let probe = video.probe();
            // The nominal rate, as `train::data::median_seconds` measures (MP4's average rate
            // leaves out the last frame's duration).
            let fps = probe.frame_rate_nominal.or(probe.frame_rate_avg);
            let windows = plan::windows(video.frame_count(), fps, c.clip_seconds);
            let n = plan::windowed_tsn_centres(&windows, c.num_segments);
            resize = Some(c.resize());
            (n, c.num_segments, c.input_size, c.mean, c.std)
        }
        Network::Ada3d(net) => {
            let c = &net.config;
            let clips = plan::uniform_clips(
                video.frame_count(),
                c.num_clips,
                c.clip_frames,
                c.frame_stride,
            );
            let n: Vec<usize> = clips.into_iter().flat_map(|c| c.frames).collect();
            (n, c.clip_frames, c.input_size, c.mean, c.std)
        }
    };
    let resize = resize.unwrap_or_else(|| test_resize(input_size));
    if numbers.is_empty() {
        return Err(PipelineError::Input {
            path: video.path().to_path_buf(),
            message: "the video has no frames to sample".into(),
        });
    }
    let decoded = video.frames_with(&numbers, resize, ctl)?;
    let frames = normalise(&decoded.frames, mean, std, &model.device)?;
    let probe = video.probe();
    let seconds = numbers
        .iter()
        .map(|&n| video.index().seconds(n).unwrap_or(0.0))
        .collect();
    Ok(ModelInput {
        frames,
        clip_len,
        sampled: SampledFrames { numbers, seconds },
        video: VideoInfo {
            path: video.path().display().to_string(),
            frame_count: video.frame_count(),
            fps: probe.frame_rate_avg.or(probe.frame_rate_nominal),
            width: probe.display_width,
            height: probe.display_height,
        },
        geometry: Some(InputGeometry {
            width: input_size as u32,
            height: input_size as u32,
            source_rect: resize.source_rect(probe.display_width, probe.display_height)?,
        }),
    })
}

/// The test transform of every arch: shorter side to `input_size·256/224`, centre crop.
pub fn test_resize(input_size: usize) -> Resize {
    Resize::TestCrop {
        shorter: (input_size * 256 / 224) as u32,
        crop: input_size as u32,
    }
}

/// RGB frames → N×3×H×W float32, `(x/255 − mean)/std` per channel (frames of one video, or
/// of a training batch of videos).
pub fn normalise<'a>(
    frames: impl IntoIterator<Item = &'a RgbFrame>,
    mean: [f32; 3],
    std: [f32; 3],
    device: &Device,
) -> candle_core::Result<Tensor> {
    let mut frames = frames.into_iter().peekable();
    let Some(first) = frames.peek() else {
        candle_core::bail!("no frames to normalise")
    };
    let (w, h) = (first.width as usize, first.height as usize);
    let mut data = Vec::new();
    let mut n = 0;
    for f in frames {
        if (f.width as usize, f.height as usize) != (w, h) {
            candle_core::bail!(
                "frames of different sizes: {}×{} and {w}×{h}",
                f.width,
                f.height
            );
        }
        for ch in 0..3 {
            data.extend(
                f.data
                    .iter()
                    .skip(ch)
                    .step_by(3)
                    .map(|&v| (v as f32 / 255.0 - mean[ch]) / std[ch]),
            );
        }
        n += 1;
    }
    Tensor::from_vec(data, (n, 3, h, w), device)
}

/// Frames already preprocessed (float32 T×3×S×S, normalised) from a safetensors file: the
/// tensor named `frames`, or its only tensor.
pub fn tensor_input(path: &Path, model: &LoadedModel) -> Result<ModelInput, PipelineError> {
    let err = |message: String| PipelineError::Input {
        path: path.to_path_buf(),
        message,
    };
    let tensors = candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| err(format!("not a readable safetensors file: {e}")))?;
    let t = match tensors.get("frames") {
        Some(t) => t.clone(),
        None if tensors.len() == 1 => tensors
            .into_values()
            .next()
            .ok_or_else(|| err("empty".into()))?,
        None => {
            let names: Vec<&String> = tensors.keys().collect();
            return Err(err(format!(
                "holds {names:?}; name the frames tensor `frames`"
            )));
        }
    };
    if t.dtype() != DType::F32 || t.rank() != 4 || t.dim(1).ok() != Some(3) {
        return Err(err(format!(
            "frames must be float32 T×3×H×W, found {:?} {:?}",
            t.dtype(),
            t.dims()
        )));
    }
    let (n, _, h, w) = t.dims4()?;
    if n == 0 {
        return Err(err("holds no frames".into()));
    }
    let clip_len = match &model.network {
        Network::UniAdaFocus(_) | Network::Ada3dFocus(_) => n,
        Network::Ada3d(net) => {
            let s = net.config.input_size;
            if (h, w) != (s, s) {
                return Err(err(format!(
                    "frames are {h}×{w}; this checkpoint takes {s}×{s} (input_size)"
                )));
            }
            net.config.clip_frames
        }
    };
    if n % clip_len != 0 {
        return Err(err(format!(
            "{n} frames are not whole clips of {clip_len} (the checkpoint's clip_frames)"
        )));
    }
    Ok(ModelInput {
        frames: t.to_device(&model.device)?,
        clip_len,
        sampled: SampledFrames {
            numbers: (0..n).collect(),
            seconds: vec![0.0; n],
        },
        video: VideoInfo {
            path: path.display().to_string(),
            frame_count: n,
            fps: None,
            width: w as u32,
            height: h as u32,
        },
        geometry: None,
    })
}

/// Run the model on `input` (all steps: inspection mode) with the checkpoint's thresholds and
/// describe what it decided.
pub fn inspect(model: &LoadedModel, input: &ModelInput) -> Result<Inspection, PipelineError> {
    let analysis = Analysis::start(model, input.clone())?;
    let knobs = Knobs::of(&model.config);
    Ok(analysis
        .run(model, &knobs, &AtomicBool::new(false))?
        .inspection)
}
