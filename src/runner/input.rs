//! What the model looks at: the frames a checkpoint samples from a video (or frames already
//! preprocessed, from a safetensors file), cut into clips, each decoded only when a run first
//! needs it and kept (as 8-bit RGB at the model's size) for every re-run. Clips are decoded
//! through one [`FrameCursor`] kept open, so clips asked for in order share one decode run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use super::RunError;
use crate::decision::trace::{InputGeometry, VideoInfo};
use crate::model::config::{InputTransform, ModelConfig};
use crate::model::inspect::SampledFrames;
use crate::model::load::LoadedModel;
use crate::video::{plan, Control, FrameCursor, Resize, RgbFrame, Video};

/// The video layer's resize for a model's input transform.
pub fn resize_of(t: InputTransform) -> Resize {
    match t {
        InputTransform::TestCrop { shorter, crop } => Resize::TestCrop { shorter, crop },
        InputTransform::Whole { side } => Resize::Exact {
            width: side,
            height: side,
        },
    }
}

/// Where the frames come from.
enum Frames {
    /// Decoded on demand, clip by clip, with the checkpoint's transform; `None` while the
    /// decoder is out on a run's decoding thread.
    Video {
        decoder: Option<Box<ClipDecoder>>,
        mean: [f32; 3],
        std: [f32; 3],
    },
    /// Already preprocessed: (clips·T)×3×S×S on the model's device.
    Tensor(Tensor),
}

/// FFmpeg frame threads for a run's decoder: two per core, at most 16. The decoder waits on
/// each frame's conversion and shares the cores with the model, so one thread per core leaves
/// cores idle (a 10-minute 720p H.264 video on 2 cores: 18.5 s with 3 threads, 16.5 s with 4;
/// BENCHMARKS.md).
pub fn decode_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (2 * cores).clamp(2, 16)
}

/// The decoding side of an [`Input`]: the video, its clips' frame numbers and an open cursor.
/// A run takes it to a thread of its own ([`Input::take_decoder`]) so that decoding the next
/// clip overlaps running the model on this one.
pub struct ClipDecoder {
    video: Video,
    resize: Resize,
    clips: Vec<Vec<usize>>,
    cursor: Option<FrameCursor>,
    /// Sampled frames decoded so far (each clip once, unless its kept frames were dropped).
    pub frames_decoded: usize,
}

impl ClipDecoder {
    /// Clip `i`'s frames at the model's size, as 8-bit RGB.
    pub fn decode(&mut self, i: usize, ctl: &Control) -> Result<Vec<RgbFrame>, RunError> {
        let numbers = self.clips.get(i).ok_or(RunError::NoClip(i))?;
        let cursor = match &mut self.cursor {
            Some(c) => c,
            None => self
                .cursor
                .insert(self.video.cursor(self.resize, decode_threads())?),
        };
        let decoded = cursor.frames(numbers, ctl)?;
        self.frames_decoded += numbers.len();
        Ok(decoded.frames)
    }
}

/// The sampled frames of a video (or tensor), clip by clip, with what has been decoded so far.
pub struct Input {
    frames: Frames,
    device: Device,
    /// T: frames per clip.
    pub clip_len: usize,
    pub sampled: SampledFrames,
    pub video: VideoInfo,
    pub geometry: Option<InputGeometry>,
    /// Clip i's frames at the model's size, once decoded (a video's; a tensor's are at hand).
    decoded: Vec<Option<Arc<Vec<RgbFrame>>>>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("clips", &self.clips())
            .field("clip_len", &self.clip_len)
            .field("sampled", &self.sampled.numbers)
            .field(
                "decoded",
                &self.decoded.iter().filter(|d| d.is_some()).count(),
            )
            .finish_non_exhaustive()
    }
}

impl Input {
    /// Plan the frames `model` samples from `video`: TSN segment centres (uni_adafocus;
    /// ada3d_focus per window of `clip_seconds`), or the test protocol's clips (`num_clips` of
    /// `clip_frames` at `frame_stride`, spread uniformly) for ada3d / resnet3d. Decodes nothing.
    pub fn plan(video: &Video, model: &LoadedModel) -> Result<Input, RunError> {
        let (numbers, clip_len) = match &model.config {
            ModelConfig::UniAdaFocus(c) => {
                let n = plan::tsn_centres(video.frame_count(), c.num_segments);
                let len = n.len();
                (n, len)
            }
            ModelConfig::Ada3dFocus(c) => {
                let probe = video.probe();
                // The nominal rate, as `train::data::median_seconds` measures (MP4's average rate
                // leaves out the last frame's duration).
                let fps = probe.frame_rate_nominal.or(probe.frame_rate_avg);
                let windows = plan::windows(video.frame_count(), fps, c.clip_seconds);
                (
                    plan::windowed_tsn_centres(&windows, c.num_segments),
                    c.num_segments,
                )
            }
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => {
                let clips = plan::uniform_clips(
                    video.frame_count(),
                    c.num_clips,
                    c.clip_frames,
                    c.frame_stride,
                );
                let n: Vec<usize> = clips.into_iter().flat_map(|c| c.frames).collect();
                (n, c.clip_frames)
            }
        };
        if numbers.is_empty() || clip_len == 0 {
            return Err(RunError::Input {
                path: video.path().to_path_buf(),
                message: "the video has no frames to sample".into(),
            });
        }
        let resize = resize_of(model.config.input_transform());
        let input_size = model.config.input_size() as u32;
        let (mean, std) = model.config.normalisation();
        let probe = video.probe();
        let seconds = numbers
            .iter()
            .map(|&n| video.index().seconds(n).unwrap_or(0.0))
            .collect();
        let clips = numbers.len() / clip_len;
        Ok(Input {
            geometry: Some(InputGeometry {
                width: input_size,
                height: input_size,
                source_rect: resize
                    .source_rect(probe.display_width, probe.display_height)
                    .map_err(RunError::Video)?,
            }),
            video: VideoInfo {
                path: video.path().display().to_string(),
                frame_count: video.frame_count(),
                fps: probe.frame_rate_avg.or(probe.frame_rate_nominal),
                width: probe.display_width,
                height: probe.display_height,
            },
            sampled: SampledFrames {
                numbers: numbers.clone(),
                seconds,
            },
            clip_len,
            frames: Frames::Video {
                decoder: Some(Box::new(ClipDecoder {
                    video: video.clone(),
                    resize,
                    clips: numbers.chunks(clip_len).map(<[usize]>::to_vec).collect(),
                    cursor: None,
                    frames_decoded: 0,
                })),
                mean,
                std,
            },
            device: model.device.clone(),
            decoded: vec![None; clips],
        })
    }

    /// Frames already preprocessed (float32 T×3×S×S, normalised) from a safetensors file: the
    /// tensor named `frames`, or its only tensor.
    pub fn from_tensor_file(path: &Path, model: &LoadedModel) -> Result<Input, RunError> {
        let err = |message: String| RunError::Input {
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
        let clip_len = match &model.config {
            ModelConfig::UniAdaFocus(_) | ModelConfig::Ada3dFocus(_) => n,
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => {
                let s = c.input_size;
                if (h, w) != (s, s) {
                    return Err(err(format!(
                        "frames are {h}×{w}; this checkpoint takes {s}×{s} (input_size)"
                    )));
                }
                c.clip_frames
            }
        };
        if clip_len == 0 || n % clip_len != 0 {
            return Err(err(format!(
                "{n} frames are not whole clips of {clip_len} (the checkpoint's clip_frames)"
            )));
        }
        Ok(Input {
            frames: Frames::Tensor(t.to_device(&model.device)?),
            device: model.device.clone(),
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
            decoded: vec![None; n / clip_len],
        })
    }

    pub fn clips(&self) -> usize {
        self.decoded.len()
    }

    /// Clips decoded so far, of all (a tensor's are all at hand).
    pub fn decoded_clips(&self) -> usize {
        (0..self.clips()).filter(|&i| self.has_clip(i)).count()
    }

    /// Whether clip `i`'s frames are at hand, with no decoding.
    pub fn has_clip(&self, i: usize) -> bool {
        matches!(self.frames, Frames::Tensor(_)) || self.decoded.get(i).is_some_and(Option::is_some)
    }

    /// Sampled frames decoded since the input was planned (a re-run adds none).
    pub fn frames_decoded(&self) -> usize {
        match &self.frames {
            Frames::Video {
                decoder: Some(d), ..
            } => d.frames_decoded,
            _ => 0,
        }
    }

    /// The path the frames come from.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.video.path)
    }

    /// Decode every clip not decoded yet.
    pub fn decode_all(&mut self, ctl: &Control) -> Result<(), RunError> {
        for i in 0..self.clips() {
            self.clip(i, ctl)?;
        }
        Ok(())
    }

    /// Take the decoder out to run on another thread (`None` for a tensor, or while it is out).
    pub fn take_decoder(&mut self) -> Option<ClipDecoder> {
        match &mut self.frames {
            Frames::Video { decoder, .. } => decoder.take().map(|d| *d),
            Frames::Tensor(_) => None,
        }
    }

    /// Give the decoder back after [`Input::take_decoder`].
    pub fn put_back(&mut self, d: ClipDecoder) {
        if let Frames::Video { decoder, .. } = &mut self.frames {
            if decoder.is_none() {
                *decoder = Some(Box::new(d));
            }
        }
    }

    /// Keep clip `i`'s frames, decoded elsewhere ([`ClipDecoder::decode`]).
    pub fn store(&mut self, i: usize, frames: Vec<RgbFrame>) {
        if let Some(slot) = self.decoded.get_mut(i) {
            *slot = Some(Arc::new(frames));
        }
    }

    /// Clip `i`'s frames, T×3×S×S normalised on the model's device: decoded (and kept) on
    /// first use.
    pub fn clip(&mut self, i: usize, ctl: &Control) -> Result<Tensor, RunError> {
        let t = self.clip_len;
        let (mean, std) = match &mut self.frames {
            Frames::Tensor(all) => {
                if i >= self.decoded.len() {
                    return Err(RunError::NoClip(i));
                }
                return Ok(all.narrow(0, i * t, t)?);
            }
            Frames::Video { decoder, mean, std } => {
                if self.decoded.get(i).is_some_and(Option::is_none) {
                    let d = decoder.as_mut().ok_or(RunError::NoClip(i))?;
                    let frames = d.decode(i, ctl)?;
                    self.decoded[i] = Some(Arc::new(frames));
                }
                (*mean, *std)
            }
        };
        let frames = self
            .decoded
            .get(i)
            .cloned()
            .flatten()
            .ok_or(RunError::NoClip(i))?;
        Ok(normalise(frames.iter(), mean, std, &self.device)?)
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
