//! Checkpoint files → named tensors. Reads safetensors and PyTorch's zip checkpoints
//! (`.pth`, `.pth.tar`, `.pt`) without executing any pickle code (see `torch_pth`), accepts the
//! wrappers training scripts save (`{'epoch': …, 'state_dict': …}`, PySlowFast's
//! `{'model_state': …}`) and strips DataParallel's `module.` prefix, so networks built with
//! their PyTorch names load with no key map.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::torch_pth::{self, float_value, int_value, DecodeError, PickleError};
use super::torch_zip::Archive;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{0}: no such file")]
    NotFound(PathBuf),
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: crate::fsutil::ReadError,
    },
    #[error("{path}: not a checkpoint adalens can read: neither a PyTorch zip file nor safetensors ({detail})")]
    UnknownFormat { path: PathBuf, detail: String },
    #[error("{path}: damaged safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: damaged PyTorch archive: {message}")]
    Archive { path: PathBuf, message: String },
    #[error("{path}: refused: the file asks to call {callable}, which a checkpoint never needs (it could run code under torch.load)")]
    Refused { path: PathBuf, callable: String },
    #[error("{path}: unreadable pickle: {message}")]
    Pickle { path: PathBuf, message: String },
    #[error("{path}: no tensors found (top-level keys: {keys})")]
    NoTensors { path: PathBuf, keys: String },
    #[error("{path}: tensor {name}: {message}")]
    Tensor {
        path: PathBuf,
        name: String,
        message: String,
    },
}

/// The largest checkpoint read (it is read whole into memory): 64 GiB, far above any video
/// model's weights.
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 30;

/// Keys under which training scripts nest the weights.
const WRAPPERS: [&str; 4] = ["state_dict", "model_state", "model", "net"];

/// Named tensors of a checkpoint, on the CPU, names without `module.`.
#[derive(Debug, Clone)]
pub struct StateDict {
    pub tensors: BTreeMap<String, Tensor>,
    /// "safetensors" or "pytorch".
    pub format: &'static str,
    /// The safetensors header's `__metadata__` (empty for PyTorch files).
    pub metadata: BTreeMap<String, String>,
}

impl StateDict {
    /// Read `path`, recognising the format by its content, not its extension.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let bytes =
            crate::fsutil::read_limited(path, MAX_CHECKPOINT_BYTES).map_err(|e| match e {
                crate::fsutil::ReadError::NotFound => CheckpointError::NotFound(path.to_path_buf()),
                source => CheckpointError::Read {
                    path: path.to_path_buf(),
                    source,
                },
            })?;
        Self::from_bytes(path, &bytes)
    }

    /// Read a checkpoint already in memory; `path` names it in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, CheckpointError> {
        let mut metadata = BTreeMap::new();
        let (tensors, format) = match torch_pth::not_zip_hint(bytes) {
            None => (load_pytorch(path, bytes)?, "pytorch"),
            Some(hint) => {
                if let Ok((_, m)) = safetensors::SafeTensors::read_metadata(bytes) {
                    metadata.extend(m.metadata().clone().unwrap_or_default());
                }
                let t =
                    candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|e| {
                        match safetensors_header(bytes) {
                            // It is a safetensors file, a damaged one: say what is wrong with it.
                            Some(header) => CheckpointError::Safetensors {
                                path: path.to_path_buf(),
                                message: match duplicate_names(header).as_slice() {
                                    [] => e.to_string(),
                                    names => {
                                        format!("tensor names listed twice: {}", names.join(", "))
                                    }
                                },
                            },
                            None => CheckpointError::UnknownFormat {
                                path: path.to_path_buf(),
                                detail: format!("{hint}; as safetensors: {e}"),
                            },
                        }
                    })?;
                (t, "safetensors")
            }
        };
        let tensors: BTreeMap<String, Tensor> = tensors
            .into_iter()
            .map(|(k, v)| (strip_module(&k), v))
            .collect();
        if tensors.is_empty() {
            return Err(CheckpointError::NoTensors {
                path: path.to_path_buf(),
                keys: "none".into(),
            });
        }
        Ok(Self {
            tensors,
            format,
            metadata,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Only the tensors under `prefix.`, with the prefix removed (e.g. `global_CNN`).
    pub fn sub(&self, prefix: &str) -> StateDict {
        let p = format!("{prefix}.");
        let tensors = self
            .tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&p).map(|s| (s.to_string(), v.clone())))
            .collect();
        StateDict {
            tensors,
            format: self.format,
            metadata: self.metadata.clone(),
        }
    }

    /// A VarBuilder over these tensors: networks take their weights from it by name, and a
    /// name it lacks is an error, never a randomly initialised layer.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        let map: HashMap<String, Tensor> = self.tensors.clone().into_iter().collect();
        VarBuilder::from_tensors(map, dtype, device)
    }
}

/// The JSON header of what looks like a safetensors file (an 8-byte little-endian length
/// that fits the file, then `{`), or `None`.
fn safetensors_header(bytes: &[u8]) -> Option<&str> {
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let end = 8usize.checked_add(usize::try_from(len).ok()?)?;
    let header = std::str::from_utf8(bytes.get(8..end)?).ok()?;
    header.trim_start().starts_with('{').then_some(header)
}

/// Names a safetensors header lists more than once (a JSON object's later duplicate would
/// silently win; the reader reports it as a bad offset instead).
fn duplicate_names(header: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    let Ok(Keys(mut keys)) = serde_json::from_str::<Keys>(header) else {
        return Vec::new();
    };
    keys.sort();
    let mut dups: Vec<String> = keys
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0].clone())
        .collect();
    dups.dedup();
    dups
}

fn strip_module(name: &str) -> String {
    name.strip_prefix("module.").unwrap_or(name).to_string()
}

fn load_pytorch(path: &Path, bytes: &[u8]) -> Result<HashMap<String, Tensor>, CheckpointError> {
    let p = || path.to_path_buf();
    let archive =
        Archive::parse(bytes).map_err(|message| CheckpointError::Archive { path: p(), message })?;
    let pickle_err = |e: PickleError| match e {
        PickleError::Refused(callable) => CheckpointError::Refused {
            path: p(),
            callable,
        },
        PickleError::Malformed(message) => CheckpointError::Pickle { path: p(), message },
    };
    let (pickle, dir) = torch_pth::read_pickle(&archive).map_err(pickle_err)?;
    let Some(top) = pickle.dict(pickle.root()) else {
        return Err(CheckpointError::Pickle {
            path: p(),
            message: format!("data.pkl holds {}, not a dict", pickle.kind(pickle.root())),
        });
    };
    let keys: Vec<&str> = top.iter().filter_map(|&(k, _)| pickle.str(k)).collect();
    // The weights: the first wrapper key holding a dict, else the top level itself.
    let entries = WRAPPERS
        .iter()
        .find_map(|w| {
            top.iter()
                .find(|&&(k, v)| pickle.str(k) == Some(w) && pickle.dict(v).is_some())
                .and_then(|&(_, v)| pickle.dict(v))
        })
        .unwrap_or(top);
    let infos = torch_pth::tensor_refs(&pickle, entries, &dir).map_err(pickle_err)?;
    if infos.is_empty() {
        return Err(CheckpointError::NoTensors {
            path: p(),
            keys: keys.join(", "),
        });
    }
    let mut out = HashMap::new();
    for info in infos {
        let err = |message: String| CheckpointError::Tensor {
            path: p(),
            name: info.name.clone(),
            message,
        };
        let map = |e: DecodeError| match e {
            DecodeError::Archive(m) | DecodeError::Layout(m) => err(m),
        };
        let tensor = if info.elem.is_float() {
            let v = torch_pth::decode(&archive, &info, float_value).map_err(map)?;
            Tensor::from_vec(v.values, v.dims, &Device::Cpu)
        } else {
            let v = torch_pth::decode(&archive, &info, int_value).map_err(map)?;
            let ints: Vec<i64> = v.values.into_iter().map(|x| x as i64).collect();
            Tensor::from_vec(ints, v.dims, &Device::Cpu)
        }
        .map_err(|e| err(e.to_string()))?;
        out.insert(info.name.clone(), tensor);
    }
    Ok(out)
}
