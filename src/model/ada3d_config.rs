//! The `ada3d` arch's config (Ada3D, Li et al. ICCV 2021): a selection network (MobileNetV2 on
//! every frame of the clip at reduced resolution, two heads) in front of a 3D ResNet whose
//! frames and 3D stages it chooses. Defaults are the paper's: I3D-R50, clips of 8 frames at
//! stride 8, 10 clips per video, 224² for the 3D network and 112² for the selection network,
//! greedy thresholds 0.5.

use serde::{Deserialize, Serialize};

use super::backbones::mobilenet_v2::{feature_shape, LAST_FEATURE};
use super::backbones::resnet3d::{Preset, ResNet3dSpec};
use super::config::{
    check_at_most, check_class_names, check_clip_input, check_normalisation, check_thresholds,
    check_width_mult, limits, named_classes, ConfigError, InputTransform,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ada3dConfig {
    pub num_classes: usize,
    #[serde(default)]
    pub class_names: Vec<String>,
    /// T: frames per clip.
    #[serde(default = "d::clip_frames")]
    pub clip_frames: usize,
    /// Temporal stride s between a clip's frames, in video frames.
    #[serde(default = "d::frame_stride")]
    pub frame_stride: usize,
    /// Clips per video, spread uniformly (the test protocol); the video prediction is the mean
    /// of the clips' class probabilities.
    #[serde(default = "d::num_clips")]
    pub num_clips: usize,
    /// Side of the square input of the 3D network.
    #[serde(default = "d::input_size")]
    pub input_size: usize,
    /// Side of the selection network's input: the clip frames area-downscaled by
    /// `input_size / selection_size` (an integer).
    #[serde(default = "d::selection_size")]
    pub selection_size: usize,
    #[serde(default = "d::one")]
    pub selection_width_mult: f64,
    #[serde(default = "d::backbone")]
    pub backbone: ResNet3dSpec,
    /// τ_f: a frame is kept when m_t ≥ τ_f (at least one frame is always kept).
    #[serde(default = "d::half")]
    pub frame_threshold: f32,
    /// τ_s: a stage stays 3D when n_k ≥ τ_s.
    #[serde(default = "d::half")]
    pub stage_threshold: f32,
    #[serde(default = "d::mean")]
    pub mean: [f32; 3],
    #[serde(default = "d::std")]
    pub std: [f32; 3],
}

impl Ada3dConfig {
    pub fn selection_factor(&self) -> usize {
        self.input_size / self.selection_size.max(1)
    }

    pub fn class_names(&self) -> Vec<String> {
        named_classes(self.num_classes, &self.class_names)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_at_most("num_classes", self.num_classes, limits::CLASSES)?;
        check_at_most("clip_frames", self.clip_frames, limits::FRAMES)?;
        check_at_most("frame_stride", self.frame_stride, limits::FRAMES)?;
        check_at_most("num_clips", self.num_clips, limits::CLIPS)?;
        check_at_most("input_size", self.input_size, limits::INPUT_SIDE)?;
        check_width_mult("selection_width_mult", self.selection_width_mult)?;
        check_normalisation(self.mean, self.std)?;
        check_clip_input(self.clip_frames, self.input_size)?;
        if self.num_classes == 0 {
            return Err(ConfigError::new(
                "num_classes",
                "num_classes must be at least 1",
            ));
        }
        if self.clip_frames == 0 || self.frame_stride == 0 || self.num_clips == 0 {
            return Err(ConfigError::new(
                "clip_frames",
                format!(
                    "clip_frames {}, frame_stride {} and num_clips {} must be positive",
                    self.clip_frames, self.frame_stride, self.num_clips
                ),
            ));
        }
        if self.input_size < 32
            || self.selection_size == 0
            || !self.input_size.is_multiple_of(self.selection_size)
        {
            return Err(ConfigError::new(
                "selection_size",
                format!(
                    "input_size {} (at least 32) must be a multiple of selection_size {}",
                    self.input_size, self.selection_size
                ),
            ));
        }
        check_thresholds(self.frame_threshold, self.stage_threshold)?;
        check_class_names(self.num_classes, &self.class_names)?;
        self.backbone.validate()
    }
}

mod d {
    use super::{Preset, ResNet3dSpec};
    pub fn clip_frames() -> usize {
        8
    }
    pub fn frame_stride() -> usize {
        8
    }
    pub fn num_clips() -> usize {
        10
    }
    pub fn input_size() -> usize {
        224
    }
    pub fn selection_size() -> usize {
        112
    }
    pub fn one() -> f64 {
        1.0
    }
    pub fn half() -> f32 {
        0.5
    }
    pub fn backbone() -> ResNet3dSpec {
        ResNet3dSpec::r50(Preset::I3d)
    }
    pub fn mean() -> [f32; 3] {
        [0.45, 0.45, 0.45]
    }
    pub fn std() -> [f32; 3] {
        [0.225, 0.225, 0.225]
    }
}

/// The `ada3d_focus` arch (docs/ARCHITECTURE.md §1, the app's default family): a MobileNetV2 glance
/// on all T frames feeds Ada3D's frame and stage heads, the glance classifier and the cube
/// policy (AdaFocusV3's temporal and spatial policies); cubes H'×W'×T' are cut from the kept
/// frames and run through the 3D ResNet with the chosen stages; the pooling classifier
/// predicts after the glance and after each cube. Defaults are this project's paper-scale
/// config (there is no official one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ada3dFocusConfig {
    pub num_classes: usize,
    #[serde(default)]
    pub class_names: Vec<String>,
    /// T: frames sampled from the video (TSN segment centres).
    #[serde(default = "f::num_segments")]
    pub num_segments: usize,
    /// Side of the square model input the cubes are cut from.
    #[serde(default = "d::input_size")]
    pub input_size: usize,
    /// Side of the glance input: the frames area-downscaled by `input_size / glance_size`.
    #[serde(default = "d::selection_size")]
    pub glance_size: usize,
    #[serde(default = "d::one")]
    pub glance_width_mult: f64,
    /// H' = W': side of a cube, pixels of the 3D network's input.
    #[serde(default = "f::cube_size")]
    pub cube_size: usize,
    /// T': consecutive kept frames per cube.
    #[serde(default = "f::cube_frames")]
    pub cube_frames: usize,
    /// N: the most cubes (fewer when fewer frames are kept).
    #[serde(default = "f::num_cubes")]
    pub num_cubes: usize,
    /// Smallest and largest side of the region a cube is cut from, resampled to `cube_size`
    /// (the spatial policy's scale outputs pick between them; both default to `cube_size`,
    /// i.e. fixed-size cubes at 1:1).
    #[serde(default)]
    pub cube_min_side: Option<f32>,
    #[serde(default)]
    pub cube_max_side: Option<f32>,
    #[serde(default = "f::local")]
    pub local: ResNet3dSpec,
    #[serde(default = "f::mlp_hidden")]
    pub mlp_hidden: usize,
    #[serde(default = "f::spatial_hidden")]
    pub spatial_hidden: usize,
    /// The glance's `features` block whose output the spatial policy reads. Unset: the last
    /// feature map, as Uni-AdaFocus does; an earlier, finer map keeps more cells to place the
    /// cubes by when the glance is small (a 48² glance ends at 2×2; block 6 is 6×6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spatial_block: Option<usize>,
    #[serde(default = "f::temporal_hidden")]
    pub temporal_hidden: usize,
    /// Softmax temperature of the temporal policy's weights.
    #[serde(default = "f::one_f32")]
    pub temperature: f32,
    #[serde(default = "d::half")]
    pub frame_threshold: f32,
    #[serde(default = "d::half")]
    pub stage_threshold: f32,
    #[serde(default = "crate::model::config::d::imagenet_mean")]
    pub mean: [f32; 3],
    #[serde(default = "crate::model::config::d::imagenet_std")]
    pub std: [f32; 3],
    /// How long the videos the model was trained on are. When set, a longer video is cut into
    /// consecutive windows of about this length, each one clip of T segments (a video of
    /// several actions gets a clip per action); unset, the whole video is one clip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_seconds: Option<f64>,
    /// What part of each frame becomes the model's square input.
    #[serde(default, skip_serializing_if = "InputFrame::is_centre_crop")]
    pub input_frame: InputFrame,
}

/// How a frame becomes the square model input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFrame {
    /// The papers' test transform: shorter side to `input_size·256/224`, centred square crop
    /// (on a 4:3 frame it leaves out a sixth of the width on each side).
    #[default]
    CentreCrop,
    /// The whole frame scaled to `input_size`² (aspect not kept): nothing is cut off, for
    /// data whose targets may be anywhere in the frame.
    Whole,
}

impl InputFrame {
    fn is_centre_crop(&self) -> bool {
        *self == InputFrame::CentreCrop
    }
}

impl Ada3dFocusConfig {
    /// How frames are scaled (and cropped) to the model's input.
    pub fn input_transform(&self) -> InputTransform {
        match self.input_frame {
            InputFrame::CentreCrop => InputTransform::test_crop(self.input_size),
            InputFrame::Whole => InputTransform::Whole {
                side: self.input_size as u32,
            },
        }
    }

    pub fn glance_factor(&self) -> usize {
        self.input_size / self.glance_size.max(1)
    }

    /// The `features` index the spatial policy reads.
    pub fn spatial_tap(&self) -> usize {
        self.spatial_block.unwrap_or(LAST_FEATURE)
    }

    /// Channels and side of the map the spatial policy reads.
    pub fn spatial_map(&self) -> (usize, usize) {
        feature_shape(self.glance_width_mult, self.spatial_tap(), self.glance_size)
            .unwrap_or((0, 0))
    }

    pub fn cube_sides(&self) -> (f32, f32) {
        let p = self.cube_size as f32;
        (
            self.cube_min_side.unwrap_or(p),
            self.cube_max_side.unwrap_or(p),
        )
    }

    pub fn class_names(&self) -> Vec<String> {
        named_classes(self.num_classes, &self.class_names)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_at_most("num_classes", self.num_classes, limits::CLASSES)?;
        check_at_most("num_segments", self.num_segments, limits::FRAMES)?;
        check_at_most("num_cubes", self.num_cubes, limits::CUBES)?;
        check_at_most("input_size", self.input_size, limits::INPUT_SIDE)?;
        check_at_most("cube_frames", self.cube_frames, limits::FRAMES)?;
        for (field, v) in [
            ("mlp_hidden", self.mlp_hidden),
            ("spatial_hidden", self.spatial_hidden),
            ("temporal_hidden", self.temporal_hidden),
        ] {
            check_at_most(field, v, limits::HIDDEN)?;
        }
        check_width_mult("glance_width_mult", self.glance_width_mult)?;
        check_normalisation(self.mean, self.std)?;
        check_clip_input(self.num_segments, self.input_size)?;
        if let Some(s) = self.clip_seconds.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(ConfigError::new(
                "clip_seconds",
                format!("clip_seconds {s} must be positive"),
            ));
        }
        if self.num_classes == 0 || self.num_segments == 0 || self.num_cubes == 0 {
            return Err(ConfigError::new(
                "num_classes",
                format!(
                    "num_classes {}, num_segments {} and num_cubes {} must be positive",
                    self.num_classes, self.num_segments, self.num_cubes
                ),
            ));
        }
        if self.input_size < 32
            || self.glance_size == 0
            || !self.input_size.is_multiple_of(self.glance_size)
        {
            return Err(ConfigError::new(
                "glance_size",
                format!(
                    "input_size {} (at least 32) must be a multiple of glance_size {}",
                    self.input_size, self.glance_size
                ),
            ));
        }
        if self.cube_size == 0 || self.cube_size > self.input_size || self.cube_frames == 0 {
            return Err(ConfigError::new(
                "cube_size",
                format!(
                    "cube_size {} must be between 1 and input_size {}, cube_frames {} positive",
                    self.cube_size, self.input_size, self.cube_frames
                ),
            ));
        }
        let (lo, hi) = self.cube_sides();
        if lo.is_nan() || lo <= 0.0 || lo > hi || hi > self.input_size as f32 {
            return Err(ConfigError::new(
                "cube_min_side",
                format!(
                    "cube sides {lo}–{hi} must be positive, ordered and at most input_size {}",
                    self.input_size
                ),
            ));
        }
        if !self.temperature.is_finite() || self.temperature <= 0.0 {
            return Err(ConfigError::new(
                "temperature",
                format!("temperature {} must be positive", self.temperature),
            ));
        }
        if self.spatial_tap() > LAST_FEATURE {
            return Err(ConfigError::new(
                "spatial_block",
                format!(
                    "spatial_block {} is past the glance's last block ({LAST_FEATURE})",
                    self.spatial_tap()
                ),
            ));
        }
        check_thresholds(self.frame_threshold, self.stage_threshold)?;
        check_class_names(self.num_classes, &self.class_names)?;
        self.local.validate()
    }
}

mod f {
    use super::{Preset, ResNet3dSpec};
    pub fn num_segments() -> usize {
        16
    }
    pub fn cube_size() -> usize {
        112
    }
    pub fn cube_frames() -> usize {
        4
    }
    pub fn num_cubes() -> usize {
        8
    }
    pub fn local() -> ResNet3dSpec {
        ResNet3dSpec::r50(Preset::SlowOnly)
    }
    pub fn mlp_hidden() -> usize {
        2048
    }
    pub fn spatial_hidden() -> usize {
        128
    }
    pub fn temporal_hidden() -> usize {
        64
    }
    pub fn one_f32() -> f32 {
        1.0
    }
}
