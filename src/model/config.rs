//! What a checkpoint's network looks like, beyond its weights: the JSON config (embedded in a
//! safetensors file's metadata under `adalens.config`, or a sidecar `.json` next to any
//! checkpoint). Field names follow the official code's command-line options where it has one
//! (`num_segments`, `num_glance_segments`, `patch_size`, …); defaults are the official
//! ActivityNet configuration.

use serde::{Deserialize, Serialize};

use super::ada3d_config::{Ada3dConfig, Ada3dFocusConfig};
pub use super::arch::Arch;
use super::backbones::mobilenet_v2::{feature_shape, LAST_FEATURE};
use super::backbones::resnet::Block;

/// The metadata key of a native safetensors checkpoint that holds its config.
pub const METADATA_KEY: &str = "adalens.config";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "snake_case")]
pub enum ModelConfig {
    #[serde(rename = "uni_adafocus")]
    UniAdaFocus(UniAdaFocusConfig),
    Ada3d(Ada3dConfig),
    Ada3dFocus(Ada3dFocusConfig),
    /// A bare 3D ResNet (PySlowFast checkpoint): Ada3dConfig without the selection fields.
    #[serde(rename = "resnet3d")]
    ResNet3d(Ada3dConfig),
}

/// How decoded frames become the model's square input. The video layer turns this into its
/// own resize request; the model layer only says what it was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputTransform {
    /// The papers' test transform: shorter side to `shorter`, then a centred `crop`² square.
    TestCrop { shorter: u32, crop: u32 },
    /// The whole frame scaled to `side`² (aspect not kept).
    Whole { side: u32 },
}

impl InputTransform {
    /// The test transform of every arch for `input_size`: shorter side to `input_size·256/224`
    /// (256 for a 224 crop, as the official code and PySlowFast test), centre crop.
    pub fn test_crop(input_size: usize) -> InputTransform {
        InputTransform::TestCrop {
            shorter: (input_size * 256 / 224) as u32,
            crop: input_size as u32,
        }
    }
}

/// The thresholds a user can move without re-running the glance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knobs {
    /// τ_f: keep frame t when m_t ≥ τ_f (Ada3D).
    pub frame_threshold: f32,
    /// τ_s: run stage k in 3D when n_k ≥ τ_s (Ada3D).
    pub stage_threshold: f32,
    /// At most this many cubes (ada3d_focus); `None` = the checkpoint's N.
    pub max_cubes: Option<usize>,
}

impl Knobs {
    /// These knobs with whichever of τ_f, τ_s and the cube cap are given replaced.
    pub fn with(self, tau_f: Option<f32>, tau_s: Option<f32>, max_cubes: Option<usize>) -> Knobs {
        Knobs {
            frame_threshold: tau_f.unwrap_or(self.frame_threshold),
            stage_threshold: tau_s.unwrap_or(self.stage_threshold),
            max_cubes: max_cubes.or(self.max_cubes),
        }
    }
}

impl ModelConfig {
    pub fn arch(&self) -> &'static str {
        self.kind().name()
    }

    pub fn kind(&self) -> Arch {
        match self {
            ModelConfig::UniAdaFocus(_) => Arch::UniAdaFocus,
            ModelConfig::Ada3d(_) => Arch::Ada3d,
            ModelConfig::Ada3dFocus(_) => Arch::Ada3dFocus,
            ModelConfig::ResNet3d(_) => Arch::ResNet3d,
        }
    }

    /// Steps a video runs through: the glance and one per cube (patch); 1 for archs without
    /// exits.
    pub fn steps(&self) -> usize {
        match self {
            ModelConfig::Ada3dFocus(c) => c.num_cubes + 1,
            ModelConfig::UniAdaFocus(c) => c.num_focus_segments + 1,
            ModelConfig::Ada3d(_) | ModelConfig::ResNet3d(_) => 1,
        }
    }

    /// Cubes per clip (the cap of a max-cubes control); 0 for archs whose regions cannot be
    /// capped.
    pub fn max_cubes(&self) -> usize {
        match self {
            ModelConfig::Ada3dFocus(c) => c.num_cubes,
            _ => 0,
        }
    }

    /// The checkpoint's own τ_f and τ_s (0.5 where the arch has no such policy).
    pub fn knobs(&self) -> Knobs {
        let (frame_threshold, stage_threshold) = match self {
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => {
                (c.frame_threshold, c.stage_threshold)
            }
            ModelConfig::Ada3dFocus(c) => (c.frame_threshold, c.stage_threshold),
            ModelConfig::UniAdaFocus(_) => (0.5, 0.5),
        };
        Knobs {
            frame_threshold,
            stage_threshold,
            max_cubes: None,
        }
    }

    /// Side of the square model input.
    pub fn input_size(&self) -> usize {
        match self {
            ModelConfig::UniAdaFocus(c) => c.input_size,
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => c.input_size,
            ModelConfig::Ada3dFocus(c) => c.input_size,
        }
    }

    /// How frames become the model's input.
    pub fn input_transform(&self) -> InputTransform {
        match self {
            ModelConfig::Ada3dFocus(c) => c.input_transform(),
            other => InputTransform::test_crop(other.input_size()),
        }
    }

    /// Per-channel mean and std of the input normalisation.
    pub fn normalisation(&self) -> ([f32; 3], [f32; 3]) {
        match self {
            ModelConfig::UniAdaFocus(c) => (c.mean, c.std),
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => (c.mean, c.std),
            ModelConfig::Ada3dFocus(c) => (c.mean, c.std),
        }
    }

    pub fn class_names(&self) -> Vec<String> {
        match self {
            ModelConfig::UniAdaFocus(c) => c.class_names(),
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => c.class_names(),
            ModelConfig::Ada3dFocus(c) => c.class_names(),
        }
    }

    /// Why the numbers cannot describe a network, if they cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            ModelConfig::UniAdaFocus(c) => c.validate(),
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => c.validate(),
            ModelConfig::Ada3dFocus(c) => c.validate(),
        }
    }
}

/// The `uni_adafocus` arch (Uni-AdaFocus / AdaFocusV3 with 2D patches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniAdaFocusConfig {
    pub num_classes: usize,
    /// Optional; `class 3` is shown where a name is missing.
    #[serde(default)]
    pub class_names: Vec<String>,
    /// Side of the square model input (frames and glance), pixels.
    #[serde(default = "d::input_size")]
    pub input_size: usize,
    /// Frames sampled from the video (TSN segment centres).
    #[serde(default = "d::num_segments")]
    pub num_segments: usize,
    #[serde(default = "d::num_glance")]
    pub num_glance_segments: usize,
    #[serde(default = "d::num_focus")]
    pub num_focus_segments: usize,
    /// Side of the patch fed to the local network, pixels.
    #[serde(default = "d::patch_size")]
    pub patch_size: usize,
    /// Smallest and largest side of the region a patch is cut from (96 and 224 in the
    /// official code, which hard-codes them for 224² input).
    #[serde(default = "d::patch_min_side")]
    pub patch_min_side: f32,
    #[serde(default = "d::patch_max_side")]
    pub patch_max_side: f32,
    #[serde(default = "d::one")]
    pub glance_width_mult: f64,
    #[serde(default = "d::local_block")]
    pub local_block: Block,
    #[serde(default = "d::local_layers")]
    pub local_layers: [usize; 4],
    #[serde(default = "d::one")]
    pub local_width_mult: f64,
    /// Width of the classifier's MLPs (4096 in the official code).
    #[serde(default = "d::mlp_hidden")]
    pub mlp_hidden: usize,
    /// `stn_hidden_dim` and `temporal_hidden_dim` of the official options.
    #[serde(default = "d::spatial_hidden")]
    pub spatial_hidden: usize,
    #[serde(default = "d::temporal_hidden")]
    pub temporal_hidden: usize,
    /// Softmax temperature of the temporal policy's weights that pick the focus frames.
    #[serde(default = "d::one_f32")]
    pub temperature: f32,
    #[serde(default = "d::imagenet_mean")]
    pub mean: [f32; 3],
    #[serde(default = "d::imagenet_std")]
    pub std: [f32; 3],
}

impl UniAdaFocusConfig {
    /// Frames the glance network sees, as indices into the sampled frames (evaluation mode of
    /// the official code: `arange(T)[1::T // G]`).
    pub fn glance_indices(&self) -> Vec<usize> {
        let step = (self.num_segments / self.num_glance_segments.max(1)).max(1);
        (1..self.num_segments).step_by(step).collect()
    }

    /// Side of the glance feature map: five stride-2 convolutions with padding 1 (7 at 224²).
    pub fn glance_map_side(&self) -> usize {
        feature_shape(self.glance_width_mult, LAST_FEATURE, self.input_size).map_or(0, |(_, m)| m)
    }

    pub fn class_names(&self) -> Vec<String> {
        named_classes(self.num_classes, &self.class_names)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_at_most("num_classes", self.num_classes, limits::CLASSES)?;
        check_at_most("input_size", self.input_size, limits::INPUT_SIDE)?;
        check_at_most("num_segments", self.num_segments, limits::FRAMES)?;
        check_at_most("patch_size", self.patch_size, limits::INPUT_SIDE)?;
        for (field, v) in [
            ("mlp_hidden", self.mlp_hidden),
            ("spatial_hidden", self.spatial_hidden),
            ("temporal_hidden", self.temporal_hidden),
        ] {
            check_at_most(field, v, limits::HIDDEN)?;
        }
        for v in self.local_layers {
            check_at_most("local_layers", v, limits::BLOCKS)?;
        }
        check_width_mult("glance_width_mult", self.glance_width_mult)?;
        check_width_mult("local_width_mult", self.local_width_mult)?;
        check_normalisation(self.mean, self.std)?;
        check_clip_input(self.num_segments, self.input_size)?;
        let g = self.glance_indices().len();
        if self.num_classes == 0 {
            return Err(ConfigError::new(
                "num_classes",
                "num_classes must be at least 1",
            ));
        }
        if self.num_glance_segments == 0 || g != self.num_glance_segments {
            return Err(ConfigError::new("num_glance_segments", format!(
                "num_segments {} and num_glance_segments {} do not fit: arange(T)[1::T//G] gives {g} glance frames",
                self.num_segments, self.num_glance_segments
            )));
        }
        if self.num_focus_segments == 0 || self.num_focus_segments > self.num_segments {
            return Err(ConfigError::new(
                "num_focus_segments",
                format!(
                    "num_focus_segments {} must be between 1 and num_segments {}",
                    self.num_focus_segments, self.num_segments
                ),
            ));
        }
        if self.input_size < 32 || self.patch_size == 0 {
            return Err(ConfigError::new(
                "input_size",
                format!(
                    "input_size {} (at least 32) and patch_size {} do not describe a network",
                    self.input_size, self.patch_size
                ),
            ));
        }
        if self.patch_min_side.is_nan()
            || self.patch_min_side <= 0.0
            || self.patch_min_side > self.patch_max_side
        {
            return Err(ConfigError::new(
                "patch_min_side",
                format!(
                    "patch_min_side {} must be positive and at most patch_max_side {}",
                    self.patch_min_side, self.patch_max_side
                ),
            ));
        }
        if !self.temperature.is_finite() || self.temperature <= 0.0 {
            return Err(ConfigError::new(
                "temperature",
                format!("temperature {} must be positive", self.temperature),
            ));
        }
        check_class_names(self.num_classes, &self.class_names)?;
        Ok(())
    }
}

/// Why a config cannot describe a network: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{problem}")]
pub struct ConfigError {
    pub field: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Upper bounds on what a config may ask for, checked before anything is built from it: each is
/// far above any published model's value (given beside it) and far below a size whose
/// allocation would abort the process.
pub(crate) mod limits {
    /// Kinetics-700, ImageNet-21k (21,841).
    pub const CLASSES: usize = 100_000;
    /// 224 in the papers.
    pub const INPUT_SIDE: usize = 1024;
    /// 48 (ActivityNet), 16 (ada3d_focus), 8-frame clips.
    pub const FRAMES: usize = 1024;
    /// 10 clips in the 3D test protocol.
    pub const CLIPS: usize = 100;
    /// 3 cubes / patches in the papers.
    pub const CUBES: usize = 256;
    /// 4096-wide classifier MLPs.
    pub const HIDDEN: usize = 16_384;
    /// 1.0 (MobileNetV2, ResNet).
    pub const WIDTH_MULT: f64 = 4.0;
    /// 64 (the ResNets' stem width).
    pub const RESNET_WIDTH: usize = 1024;
    /// 36 blocks in ResNet-152's third stage.
    pub const BLOCKS: usize = 64;
    /// Elements of one clip's input (T·3·S²): 4 GiB of float32. 16·3·224² is 2.4 M.
    pub const CLIP_ELEMENTS: usize = 1 << 30;
}

pub(crate) fn check_at_most(
    field: &'static str,
    value: usize,
    limit: usize,
) -> Result<(), ConfigError> {
    if value > limit {
        return Err(ConfigError::new(
            field,
            format!("{field} {value} is over the limit of {limit}"),
        ));
    }
    Ok(())
}

/// A width multiplier: finite, positive, at most [`limits::WIDTH_MULT`].
pub(crate) fn check_width_mult(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if !(value.is_finite() && value > 0.0 && value <= limits::WIDTH_MULT) {
        return Err(ConfigError::new(
            field,
            format!(
                "{field} {value} must be positive and at most {}",
                limits::WIDTH_MULT
            ),
        ));
    }
    Ok(())
}

/// The input normalisation: finite means, finite positive standard deviations (a 0 would make
/// every input NaN).
pub(crate) fn check_normalisation(mean: [f32; 3], std: [f32; 3]) -> Result<(), ConfigError> {
    if !mean.iter().all(|m| m.is_finite()) {
        return Err(ConfigError::new(
            "mean",
            format!("mean {mean:?} must be finite"),
        ));
    }
    if !std.iter().all(|s| s.is_finite() && *s > 0.0) {
        return Err(ConfigError::new(
            "std",
            format!("std {std:?} must be finite and positive"),
        ));
    }
    Ok(())
}

/// One clip's input, `frames`×3×`side`², within [`limits::CLIP_ELEMENTS`].
pub(crate) fn check_clip_input(frames: usize, side: usize) -> Result<(), ConfigError> {
    let elements = frames
        .checked_mul(3)
        .and_then(|n| n.checked_mul(side))
        .and_then(|n| n.checked_mul(side));
    if elements.is_none_or(|n| n > limits::CLIP_ELEMENTS) {
        return Err(ConfigError::new(
            "input_size",
            format!(
                "input_size {side} with {frames} frames a clip makes a clip input of more than {} \
                 values",
                limits::CLIP_ELEMENTS
            ),
        ));
    }
    Ok(())
}

/// `class i` where a checkpoint names fewer classes than it has.
/// Frames for a TSN-sampled arch must be `num_segments`×3×`input_size`²; a readable error
/// otherwise.
pub fn check_frames(
    frames: &candle_core::Tensor,
    num_segments: usize,
    input_size: usize,
) -> candle_core::Result<()> {
    let (t, ch, h, w) = frames.dims4()?;
    if t != num_segments || ch != 3 || h != input_size || w != input_size {
        candle_core::bail!(
            "input is {t}×{ch}×{h}×{w}; this checkpoint takes {num_segments}×3×{input_size}×{input_size} (num_segments × RGB × input_size²)"
        );
    }
    Ok(())
}

pub fn named_classes(num_classes: usize, names: &[String]) -> Vec<String> {
    (0..num_classes)
        .map(|i| {
            names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("class {i}"))
        })
        .collect()
}

/// Names are optional, but when given there is one per class.
pub(crate) fn check_class_names(num_classes: usize, names: &[String]) -> Result<(), ConfigError> {
    if !names.is_empty() && names.len() != num_classes {
        return Err(ConfigError::new(
            "class_names",
            format!("{} class names for {num_classes} classes", names.len()),
        ));
    }
    Ok(())
}

/// Ada3D's τ_f and τ_s are probabilities.
pub(crate) fn check_thresholds(frame: f32, stage: f32) -> Result<(), ConfigError> {
    for (what, t) in [("frame_threshold", frame), ("stage_threshold", stage)] {
        if !(0.0..=1.0).contains(&t) {
            return Err(ConfigError::new(
                what,
                format!("{what} {t} must be between 0 and 1"),
            ));
        }
    }
    Ok(())
}

/// serde defaults: the official ActivityNet configuration (ImageNet normalisation, which the
/// other archs' glance networks share).
pub(crate) mod d {
    use super::Block;
    pub fn input_size() -> usize {
        224
    }
    pub fn num_segments() -> usize {
        48
    }
    pub fn num_glance() -> usize {
        16
    }
    pub fn num_focus() -> usize {
        16
    }
    pub fn patch_size() -> usize {
        96
    }
    pub fn patch_min_side() -> f32 {
        96.0
    }
    pub fn patch_max_side() -> f32 {
        224.0
    }
    pub fn one() -> f64 {
        1.0
    }
    pub fn one_f32() -> f32 {
        1.0
    }
    pub fn local_block() -> Block {
        Block::Bottleneck
    }
    pub fn local_layers() -> [usize; 4] {
        [3, 4, 6, 3]
    }
    pub fn mlp_hidden() -> usize {
        4096
    }
    pub fn spatial_hidden() -> usize {
        128
    }
    pub fn temporal_hidden() -> usize {
        64
    }
    pub fn imagenet_mean() -> [f32; 3] {
        [0.485, 0.456, 0.406]
    }
    pub fn imagenet_std() -> [f32; 3] {
        [0.229, 0.224, 0.225]
    }
}
