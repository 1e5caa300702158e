//! Where the video pipeline meets the model (the only module that knows both): sample the
//! frames a checkpoint asks for, apply its test transform, run it, and describe the result as
//! a DecisionTrace. Also reads already preprocessed frames from a safetensors file, so adalens
//! can be compared with another implementation on identical input.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use crate::decision::trace::{DecisionTrace, InputGeometry, VideoInfo, TRACE_VERSION};
use crate::model::ada3d::{ClipPolicy, ClipRun};
use crate::model::ada3d_focus::Ada3dFocusOutput;
use crate::model::inspect::{
    ada3d_clip, ada3d_focus_clip, mean_of_softmax, uni_adafocus_clip, SampledFrames, TOP_K,
};
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
}

/// Frames ready for the model, and where they came from.
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// (clips·T)×3×S×S, normalised, on the model's device; one clip for uni_adafocus and
    /// ada3d_focus.
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
    Ada3dFocus(Box<Ada3dFocusOutput>),
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
    /// Cumulative after each step (step 0 = the glance and policies).
    Ada3dFocus {
        gflops_per_step: Vec<f64>,
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
    let (numbers, clip_len, input_size, mean, std) = match &model.network {
        Network::UniAdaFocus(net) => {
            let c = &net.config;
            let n = plan::tsn_centres(video.frame_count(), c.num_segments);
            let len = n.len();
            (n, len, c.input_size, c.mean, c.std)
        }
        Network::Ada3dFocus(net) => {
            let c = &net.config;
            let n = plan::tsn_centres(video.frame_count(), c.num_segments);
            let len = n.len();
            (n, len, c.input_size, c.mean, c.std)
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
    let resize = Resize::TestCrop {
        shorter: (input_size * 256 / 224) as u32,
        crop: input_size as u32,
    };
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

/// RGB frames → T×3×H×W float32, `(x/255 − mean)/std` per channel.
pub fn normalise(
    frames: &[RgbFrame],
    mean: [f32; 3],
    std: [f32; 3],
    device: &Device,
) -> candle_core::Result<Tensor> {
    let Some(first) = frames.first() else {
        candle_core::bail!("no frames to normalise")
    };
    let (w, h) = (first.width as usize, first.height as usize);
    let mut data = Vec::with_capacity(frames.len() * 3 * w * h);
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
    }
    Tensor::from_vec(data, (frames.len(), 3, h, w), device)
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

/// Run the model on `input` (all steps: inspection mode) and describe what it decided.
pub fn inspect(model: &LoadedModel, input: &ModelInput) -> Result<Inspection, PipelineError> {
    let (clips, video_prediction, raw, flops) = match &model.network {
        Network::UniAdaFocus(net) => {
            let raw = net.forward(&input.frames)?;
            let flops = net.flops();
            let clip = uni_adafocus_clip(&raw, &flops, &input.sampled, net.config.input_size);
            // One clip: the video prediction is the last step's.
            let video = clip.steps.last().map(|s| s.top.clone()).unwrap_or_default();
            let raw = RawOutput::UniAdaFocus(Box::new(raw));
            (vec![clip], video, raw, FlopsReport::UniAdaFocus(flops))
        }
        Network::Ada3dFocus(net) => {
            let out = net.forward(&input.frames)?;
            let clip = ada3d_focus_clip(&out, &input.sampled, net.config.input_size);
            let video = clip.steps.last().map(|s| s.top.clone()).unwrap_or_default();
            let flops = FlopsReport::Ada3dFocus {
                gflops_per_step: out.step_gflops.clone(),
            };
            (
                vec![clip],
                video,
                RawOutput::Ada3dFocus(Box::new(out)),
                flops,
            )
        }
        Network::Ada3d(net) => {
            let (n, t) = (input.clips(), input.clip_len);
            let (_, c, h, w) = input.frames.dims4()?;
            let clips = input.frames.reshape((n, t, c, h, w))?;
            let (policies, runs) = net.forward(&clips)?;
            let traces: Vec<_> = policies
                .iter()
                .zip(&runs)
                .enumerate()
                .map(|(i, (p, r))| ada3d_clip(p, r, &input.sampled.clip(i, t)))
                .collect();
            let logits: Vec<&[f32]> = runs.iter().map(|r| r.logits.as_slice()).collect();
            let video = mean_of_softmax(&logits, TOP_K);
            let k = net.backbone().spec().adaptive_stages().len();
            let flops = FlopsReport::Ada3d {
                gflops_per_clip: runs.iter().map(|r| r.gflops).collect(),
                gflops_full_clip: net.flops(t, &vec![true; k])?.gflops(),
            };
            let raw = RawOutput::Ada3d {
                policies,
                clips: runs,
            };
            (traces, video, raw, flops)
        }
    };
    let trace = DecisionTrace {
        version: TRACE_VERSION,
        arch: model.arch().to_string(),
        video: input.video.clone(),
        clips,
        video_prediction,
        class_names: model.config.class_names(),
        input: input.geometry,
    };
    Ok(Inspection { trace, raw, flops })
}
