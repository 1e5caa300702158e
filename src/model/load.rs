//! Opening a checkpoint as a runnable network: the tensors (any format `checkpoint` reads),
//! the config, and a build that checks every key. The config is the first of `--config FILE`,
//! a sidecar `.json`, the safetensors metadata; fields it leaves out come from what the
//! weights' shapes tell, then the arch's defaults; the command-line flags win over all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device};
use serde_json::{Map, Value};

use super::ada3d::Ada3d;
use super::ada3d_focus::Ada3dFocus;
use super::checkpoint::{CheckpointError, StateDict};
use super::config::{ModelConfig, METADATA_KEY};
use super::keys::{KeyChecker, KeyReport};
use super::uni_adafocus::{glance_naming, ignored_key, UniAdaFocus};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path}: config: {message}")]
    Config { path: PathBuf, message: String },
    #[error(
        "{path}: the checkpoint does not fit the {arch} network its config describes: {report}"
    )]
    Keys {
        path: PathBuf,
        arch: &'static str,
        report: Box<KeyReport>,
    },
    #[error("{path}: building the network: {source}")]
    Build {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
}

/// Config values given on the command line; they win over every file.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    pub num_classes: Option<usize>,
    pub input_size: Option<usize>,
    pub patch_size: Option<usize>,
    pub num_segments: Option<usize>,
    pub num_glance_segments: Option<usize>,
    pub num_focus_segments: Option<usize>,
    /// Ada3D's τ_f and τ_s, and the clips per video.
    pub frame_threshold: Option<f32>,
    pub stage_threshold: Option<f32>,
    pub num_clips: Option<usize>,
}

impl ConfigOverrides {
    /// The flags given, as (config field, command-line flag, value).
    fn given(&self) -> Vec<(&'static str, &'static str, Value)> {
        let mut out = Vec::new();
        let ints = [
            ("num_classes", "--num-classes", self.num_classes),
            ("input_size", "--input-size", self.input_size),
            ("patch_size", "--patch-size", self.patch_size),
            ("num_segments", "--num-segments", self.num_segments),
            (
                "num_glance_segments",
                "--num-glance",
                self.num_glance_segments,
            ),
            ("num_focus_segments", "--num-focus", self.num_focus_segments),
            ("num_clips", "--num-clips", self.num_clips),
        ];
        for (k, flag, v) in ints {
            if let Some(v) = v {
                out.push((k, flag, v.into()));
            }
        }
        let floats = [
            ("frame_threshold", "--frame-threshold", self.frame_threshold),
            ("stage_threshold", "--stage-threshold", self.stage_threshold),
        ];
        for (k, flag, v) in floats {
            if let Some(v) = v {
                // A NaN has no JSON form; it is named below as out of range.
                let v = serde_json::Number::from_f64(v as f64).map_or(Value::Null, Value::Number);
                out.push((k, flag, v));
            }
        }
        out
    }

    /// Put the flags into the config; a threshold that is not a number is an error naming
    /// the flag.
    fn apply(&self, obj: &mut Map<String, Value>) -> Result<(), String> {
        for (k, flag, v) in self.given() {
            if v.is_null() {
                return Err(format!("{flag} must be a number between 0 and 1"));
            }
            obj.insert(k.into(), v);
        }
        Ok(())
    }

    /// When the config refused a field a flag put there (every arch's config denies unknown
    /// fields), the flag to blame.
    fn blame(&self, arch: &str, message: &str) -> Option<String> {
        self.given()
            .into_iter()
            .find(|(k, _, _)| message.contains(&format!("unknown field `{k}`")))
            .map(|(_, flag, _)| format!("{flag} does not apply to the {arch} arch"))
    }
}

#[derive(Debug, Clone)]
pub enum Network {
    UniAdaFocus(Arc<UniAdaFocus>),
    /// `ada3d`, and `resnet3d` (the same without a selection network).
    Ada3d(Arc<Ada3d>),
    Ada3dFocus(Arc<Ada3dFocus>),
}

/// A checkpoint ready to run.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub path: PathBuf,
    pub format: &'static str,
    pub config: ModelConfig,
    /// Where the config came from, for messages ("sidecar x.json", "safetensors metadata", …).
    pub config_source: String,
    pub network: Network,
    pub device: Device,
    /// Parameters per top-level part (`global_CNN`, `local_CNN`, …), BatchNorm buffers excluded.
    pub parameters: Vec<(String, usize)>,
    /// Tensors in the file and tensors the network used.
    pub tensors_in_file: usize,
    pub tensors_used: usize,
    /// Float tensors holding NaN or ±Inf, with how many such values: a diverged or damaged
    /// checkpoint, whose outputs cannot be trusted (the CLI and the window say so).
    pub non_finite: Vec<(String, usize)>,
}

impl LoadedModel {
    pub fn open(
        path: impl AsRef<Path>,
        config_file: Option<&Path>,
        overrides: &ConfigOverrides,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let sd = StateDict::load(path)?;
        let (config, config_source) = resolve_config(path, &sd, config_file, overrides)?;
        let checker = KeyChecker::new(&sd.tensors, DType::F32, device);
        let network = match &config {
            ModelConfig::UniAdaFocus(c) => {
                let naming = glance_naming(|k| sd.tensors.contains_key(k));
                UniAdaFocus::new(c.clone(), naming, checker.var_builder())
                    .map(|n| Network::UniAdaFocus(Arc::new(n)))
            }
            ModelConfig::Ada3d(c) => {
                Ada3d::new(c.clone(), checker.var_builder()).map(|n| Network::Ada3d(Arc::new(n)))
            }
            ModelConfig::ResNet3d(c) => Ada3d::without_selection(c.clone(), checker.var_builder())
                .map(|n| Network::Ada3d(Arc::new(n))),
            ModelConfig::Ada3dFocus(c) => Ada3dFocus::new(c.clone(), checker.var_builder())
                .map(|n| Network::Ada3dFocus(Arc::new(n))),
        };
        let report = match &config {
            ModelConfig::UniAdaFocus(_) => checker.report(ignored_key),
            _ => checker.report(|k| k.ends_with("num_batches_tracked")),
        };
        if !report.is_clean() {
            return Err(ModelError::Keys {
                path: path.to_path_buf(),
                arch: config.arch(),
                report: Box::new(report),
            });
        }
        let network = network.map_err(|source| ModelError::Build {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            format: sd.format,
            parameters: parameter_counts(&sd),
            tensors_in_file: sd.tensors.len(),
            tensors_used: report.used,
            non_finite: non_finite_tensors(&sd),
            config,
            config_source,
            network,
            device: device.clone(),
        })
    }

    pub fn arch(&self) -> &'static str {
        self.config.arch()
    }

    /// What this checkpoint's arch can decide.
    pub fn kind(&self) -> super::arch::Arch {
        self.config.kind()
    }
}

fn parameter_counts(sd: &StateDict) -> Vec<(String, usize)> {
    let mut parts: Vec<(String, usize)> = Vec::new();
    for (name, t) in &sd.tensors {
        if name.ends_with("running_mean") || name.ends_with("running_var") || !t.dtype().is_float()
        {
            continue;
        }
        let part = name.split('.').next().unwrap_or(name).to_string();
        match parts.iter_mut().find(|(p, _)| *p == part) {
            Some((_, n)) => *n += t.elem_count(),
            None => parts.push((part, t.elem_count())),
        }
    }
    parts
}

/// Float tensors with NaN or ±Inf values, and how many (read as f32 on the CPU, one at a time).
fn non_finite_tensors(sd: &StateDict) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (name, t) in &sd.tensors {
        if !t.dtype().is_float() {
            continue;
        }
        let values = t
            .to_dtype(candle_core::DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>());
        if let Ok(values) = values {
            let bad = values.iter().filter(|v| !v.is_finite()).count();
            if bad > 0 {
                out.push((name.clone(), bad));
            }
        }
    }
    out
}

impl LoadedModel {
    /// A warning when weights hold NaN or ±Inf (`None` when every weight is finite).
    pub fn non_finite_warning(&self) -> Option<String> {
        let total: usize = self.non_finite.iter().map(|(_, n)| n).sum();
        let (first, _) = self.non_finite.first()?;
        Some(format!(
            "{}: {total} weights are NaN or infinite in {} tensors (first: {first}); its \
             predictions cannot be trusted",
            self.path.display(),
            self.non_finite.len()
        ))
    }
}

/// A checkpoint's file name without its checkpoint extension (`x.pth.tar` → `x`).
fn checkpoint_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    for ext in [
        ".pth.tar",
        ".safetensors",
        ".pyth",
        ".pth",
        ".pt",
        ".tar",
        ".bin",
    ] {
        if let Some(s) = name.strip_suffix(ext) {
            return s.to_string();
        }
    }
    name
}

/// Candidate sidecar files: `x.pth.tar` → `x.json`, then `x.pth.tar.json`.
fn sidecars(path: &Path) -> Vec<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    vec![
        path.with_file_name(format!("{}.json", checkpoint_stem(path))),
        path.with_file_name(format!("{name}.json")),
    ]
}

/// Where a checkpoint's calibration set sits when it travels with it: `x.adlcal` beside
/// `x.safetensors` (what the window's budget slider reads).
pub fn calibration_sidecar(path: &Path) -> PathBuf {
    path.with_file_name(format!("{}.adlcal", checkpoint_stem(path)))
}

fn resolve_config(
    path: &Path,
    sd: &StateDict,
    config_file: Option<&Path>,
    overrides: &ConfigOverrides,
) -> Result<(ModelConfig, String), ModelError> {
    let err = |message: String| ModelError::Config {
        path: path.to_path_buf(),
        message,
    };
    let read_json = |p: &Path| -> Result<Value, ModelError> {
        // A config is a few hundred bytes; 16 MiB leaves room for long class lists.
        let bytes = crate::fsutil::read_limited(p, 16 << 20)
            .map_err(|e| err(format!("cannot read {}: {e}", p.display())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("{} is not valid JSON: {e}", p.display())))
    };
    let (mut value, mut source) = if let Some(p) = config_file {
        (read_json(p)?, format!("config {}", p.display()))
    } else if let Some(p) = sidecars(path).into_iter().find(|p| p.exists()) {
        // Whatever is there is read (a directory or FIFO in its place is an error, not a
        // config silently skipped).
        (read_json(&p)?, format!("sidecar {}", p.display()))
    } else if let Some(text) = sd.metadata.get(METADATA_KEY) {
        let v = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "the embedded {METADATA_KEY} is not valid JSON: {e}"
            ))
        })?;
        (v, "safetensors metadata".to_string())
    } else {
        (
            Value::Object(Map::new()),
            "inferred from the weights".to_string(),
        )
    };
    let Value::Object(obj) = &mut value else {
        return Err(err("the config must be a JSON object".into()));
    };
    let inferred = infer_from_weights(sd);
    let mut filled = Vec::new();
    for (k, v) in inferred {
        if !obj.contains_key(&k) {
            filled.push(k.clone());
            obj.insert(k, v);
        }
    }
    if !obj.contains_key("arch") {
        return Err(err(
            "no config says which network this is and the weights are not a known arch; give --config FILE or put a .json next to the checkpoint".into(),
        ));
    }
    let arch = obj
        .get("arch")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    overrides.apply(obj).map_err(err)?;
    if !filled.is_empty() && source != "inferred from the weights" {
        source = format!("{source} + inferred {}", filled.join(", "));
    }
    let assumed = assumed_defaults(&arch, obj);
    if !assumed.is_empty() {
        source = format!("{source}; not in the file, official defaults assumed: {assumed}");
    }
    let config: ModelConfig = serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        err(overrides.blame(&arch, &message).unwrap_or(message))
    })?;
    config.validate().map_err(|e| err(e.to_string()))?;
    Ok((config, source))
}

/// Geometry no weight shape tells and the config left out: the official defaults are used, and
/// said, because a model trained otherwise (Uni-AdaFocus with 128-pixel patches, say) would run
/// with the wrong patches without any error.
fn assumed_defaults(arch: &str, obj: &Map<String, Value>) -> String {
    use super::config::d;
    let defaults = match arch {
        "uni_adafocus" => vec![
            ("num_segments", d::num_segments()),
            ("input_size", d::input_size()),
            ("patch_size", d::patch_size()),
        ],
        _ => Vec::new(),
    };
    defaults
        .into_iter()
        .filter(|(k, _)| !obj.contains_key(*k))
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The 3D ResNet under `prefix`: preset from the stem's temporal kernel (1: SlowOnly, 5: I3D),
/// width from its channels, depths from the blocks present.
fn infer_resnet3d(t: &BTreeMap<String, candle_core::Tensor>, prefix: &str) -> Option<Value> {
    let stem = t.get(&format!("{prefix}s1.pathway0_stem.conv.weight"))?;
    let dims = stem.dims();
    let preset = if dims.get(2) == Some(&1) {
        "slow_only"
    } else {
        "i3d"
    };
    let layers: Vec<usize> = (2..=5)
        .map(|s| {
            (0..)
                .take_while(|j| {
                    t.contains_key(&format!("{prefix}s{s}.pathway0_res{j}.branch2.a.weight"))
                })
                .count()
        })
        .collect();
    let mut spec = Map::new();
    spec.insert("preset".into(), preset.into());
    spec.insert("width".into(), dims.first().copied().unwrap_or(64).into());
    spec.insert("layers".into(), layers.into());
    Some(Value::Object(spec))
}

/// What the tensor names and shapes say about the network: its arch, and what each arch's
/// weights tell (classes, heads, hidden widths, backbone layouts).
fn infer_from_weights(sd: &StateDict) -> Vec<(String, Value)> {
    let t = &sd.tensors;
    let dim = |k: &str, i: usize| t.get(k).and_then(|x| x.dims().get(i).copied());
    let count = |prefix: &str, suffix: &str| {
        (0..)
            .take_while(|i| t.contains_key(&format!("{prefix}{i}{suffix}")))
            .count()
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    if let Some(local) = infer_resnet3d(t, "local_CNN.") {
        out.push(("arch".into(), "ada3d_focus".into()));
        out.push(("local".into(), local));
        let dims = [
            (
                "num_classes",
                dim("classifier.global_classifiers.0.1.weight", 0),
            ),
            ("num_segments", dim("selection.frame_head.weight", 0)),
            (
                "mlp_hidden",
                dim("classifier.global_mlp.layers.0.weight", 0),
            ),
            ("spatial_hidden", dim("spatial_policy.encoder.0.weight", 0)),
            ("temporal_hidden", dim("temporal_policy.Tconv.0.weight", 0)),
            (
                "num_cubes",
                Some(count("classifier.local_classifiers.", ".1.weight")),
            ),
        ];
        for (k, v) in dims {
            put_dim(&mut out, k, v);
        }
        return out;
    }
    if let Some(backbone) = infer_resnet3d(t, "") {
        // A PySlowFast 3D ResNet, with Ada3D's selection network or without.
        let arch = if t.contains_key("selection.frame_head.weight") {
            "ada3d"
        } else {
            "resnet3d"
        };
        out.push(("arch".into(), arch.into()));
        out.push(("backbone".into(), backbone));
        put_dim(&mut out, "num_classes", dim("head.projection.weight", 0));
        put_dim(
            &mut out,
            "clip_frames",
            dim("selection.frame_head.weight", 0),
        );
        return out;
    }
    if !(t.contains_key("global_CNN.features.0.0.weight")
        && t.contains_key("local_CNN.conv1.weight"))
    {
        return out;
    }
    out.push(("arch".into(), "uni_adafocus".into()));
    put_dim(
        &mut out,
        "num_classes",
        dim("classifier.global_classifiers.0.1.weight", 0),
    );
    put_dim(
        &mut out,
        "num_glance_segments",
        Some(count("classifier.global_classifiers.", ".1.weight")),
    );
    put_dim(
        &mut out,
        "num_focus_segments",
        Some(count("classifier.local_classifiers.", ".1.weight")),
    );
    put_dim(
        &mut out,
        "mlp_hidden",
        dim("classifier.global_mlp.layers.0.weight", 0),
    );
    put_dim(
        &mut out,
        "spatial_hidden",
        dim("spatial_policy.encoder.0.weight", 0),
    );
    put_dim(
        &mut out,
        "temporal_hidden",
        dim("temporal_policy.Tconv.0.weight", 0),
    );
    let bottleneck = t.contains_key("local_CNN.layer1.0.conv3.weight");
    out.push((
        "local_block".into(),
        if bottleneck { "bottleneck" } else { "basic" }.into(),
    ));
    let layers: Vec<usize> = (1..=4)
        .map(|s| count(&format!("local_CNN.layer{s}."), ".conv1.weight"))
        .collect();
    if layers.iter().all(|&n| n > 0) {
        out.push(("local_layers".into(), layers.into()));
    }
    if let Some(c) = dim("local_CNN.conv1.weight", 0) {
        out.push(("local_width_mult".into(), (c as f64 / 64.0).into()));
    }
    out
}

fn put_dim(out: &mut Vec<(String, Value)>, key: &str, v: Option<usize>) {
    if let Some(v) = v.filter(|&v| v > 0) {
        out.push((key.into(), v.into()));
    }
}
