//! Importer for the logits file the official Uni-AdaFocus early-exit evaluation works on.
//!
//! `test_early_exit_uni_adafocus.py` (LeapLabTHU/Uni-AdaFocus) runs the network on the training
//! and validation sets and keeps
//! `{'train_logits', 'train_targets', 'val_logits', 'val_targets'}`: logits of shape
//! samples × steps × classes, and targets as produced by its `TSNDataSet` — an `int64` tensor of
//! shape samples × 3 holding each video's sorted label set padded with −1 (ActivityNet and FCVID
//! are multi-label; Mini-Kinetics uses column 0). A 1-D target tensor (one class per sample) is
//! accepted too. Saved with `torch.save`, this is a zip archive holding a pickle (`data.pkl`) and
//! one raw little-endian storage per tensor (`data/0`, `data/1`, …).
//!
//! Pickle can run arbitrary code, so `data.pkl` is interpreted by candle's restricted unpickler
//! (`candle_core::pickle::Stack`), which only rebuilds plain objects and tensor descriptions and
//! never imports or calls anything. The zip container is read by a small bounds-checked reader
//! below rather than by `candle_core::pickle::PthTensors`: through the `zip` crate version this
//! project resolves (9.4), `PthTensors` rejects the zip64 end records current torch versions
//! always write ("Invalid Central Directory header"). torch stores entries uncompressed, so
//! reading them needs only the central directory; CRC-32 is checked.
//!
//! The result is a plain [`CalibrationSet`]: training split → fitting the thresholds, validation
//! split → evaluation, as the official script does; the cost is the official per-step GFLOPs
//! table (the same for every video).
//!
//! Bad input — a text file, a legacy (non-zip) torch file, a truncated archive, a missing key,
//! wrong shapes, labels out of range — is an [`OfficialLogitsError`], never a panic; a panic inside
//! the third-party unpickler on a malformed pickle is caught and reported as an error too.

use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, Stack, TensorInfo};
use candle_core::DType;

use crate::decision::{CalibrationSet, DecisionError, Labels, OutputKind, Role, StepCosts};

/// The four entries the official script saves.
pub const KEYS: [&str; 4] = ["train_logits", "train_targets", "val_logits", "val_targets"];

/// Refuse tensors larger than this many elements (a damaged header must not allocate wildly).
const MAX_ELEMENTS: usize = 1 << 31;

/// Errors of the importer.
#[derive(Debug, thiserror::Error)]
pub enum OfficialLogitsError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a zip-based `torch.save` file.
    #[error("{path} is not a torch.save file (expected a zip archive): {hint}")]
    NotTorchZip {
        /// The file.
        path: PathBuf,
        /// What it looks like instead.
        hint: String,
    },
    /// The zip container is damaged or uses features torch does not write.
    #[error("{path}: damaged or unsupported torch archive: {message}")]
    Archive {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The restricted unpickler rejected `data.pkl`, or it does not describe tensors.
    #[error("{path}: cannot read the pickled tensor index: {message}")]
    Pickle {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// One of the four expected entries is missing.
    #[error("{path} has no tensor '{key}' (found: {found})")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The missing key.
        key: &'static str,
        /// Keys that are there.
        found: String,
    },
    /// A tensor has the wrong rank, size or type, or bad values.
    #[error("'{key}': {message}")]
    Shape {
        /// Which tensor.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The per-step GFLOPs table does not fit the logits.
    #[error("GFLOPs table has {given} entries but the logits have {steps} steps")]
    CostTable {
        /// Entries given.
        given: usize,
        /// Steps in the file.
        steps: usize,
    },
    /// The data made an invalid calibration set.
    #[error(transparent)]
    Decision(#[from] DecisionError),
}

type Result<T> = std::result::Result<T, OfficialLogitsError>;

/// Reads an official logits file and returns a calibration set (train → fit, val → eval) with
/// `step_gflops` (cumulative GFLOPs of stopping after each step) as the cost of every video.
pub fn load_official_logits(path: impl AsRef<Path>, step_gflops: &[f64]) -> Result<CalibrationSet> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| OfficialLogitsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_zip_magic(path, &bytes)?;
    let archive =
        torch_zip::Archive::parse(&bytes).map_err(|message| OfficialLogitsError::Archive {
            path: path.to_path_buf(),
            message,
        })?;
    let infos = tensor_index(path, &archive)?;
    let mut found: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    found.sort_unstable();
    let info = |key: &'static str| {
        infos
            .iter()
            .find(|i| i.name == key)
            .ok_or_else(|| OfficialLogitsError::MissingKey {
                path: path.to_path_buf(),
                key,
                found: found.join(", "),
            })
    };
    let train = split_set(
        path,
        &archive,
        info("train_logits")?,
        info("train_targets")?,
        step_gflops,
    )?;
    let val = split_set(
        path,
        &archive,
        info("val_logits")?,
        info("val_targets")?,
        step_gflops,
    )?;
    let set = CalibrationSet::from_splits(train, val)?;
    Ok(set.with_description(format!(
        "official Uni-AdaFocus early-exit logits from {}",
        path.display()
    )))
}

/// The official per-step GFLOPs table of Uni-AdaFocus on ActivityNet/FCVID/Mini-Kinetics
/// (MobileNetV2 glance on 16 frames, ResNet-50 on `patch_size` patches, 17 exits), as computed
/// by `get_flops` in the official `ops/early_exit_uni_adafocus.py`. `None` for an unknown size.
pub fn uniadafocus_gflops(patch_size: u32) -> Option<Vec<f64>> {
    let resnet = match patch_size {
        96 => 0.750725056,
        128 => 1.334601664,
        160 => 2.08530016,
        192 => 3.002820544,
        _ => return None,
    };
    Some(
        (0..17)
            .map(|k| {
                let k = k as f64;
                let mut g = 0.299511328 * 16.0 + resnet * k;
                g += (5.246976 * 16.0 + 8.392704 * k + 0.8192 * 16.0 + 1.6384 * k) * 1e-3;
                if k > 0.0 {
                    g += 0.00412992 + 0.822485376;
                }
                g
            })
            .collect(),
    )
}

fn check_zip_magic(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(());
    }
    let head = &bytes[..bytes.len().min(4)];
    let hint = if head.is_empty() {
        "the file is empty".to_string()
    } else if head[0] == 0x80 {
        "this looks like the legacy (pre-1.6) torch format; re-save it with a current torch".into()
    } else if head.iter().all(|b| b.is_ascii()) {
        "the file looks like text".into()
    } else {
        format!("unknown leading bytes {head:02x?}")
    };
    Err(OfficialLogitsError::NotTorchZip {
        path: path.to_path_buf(),
        hint,
    })
}

/// Unpickles `…/data.pkl` (restricted) and describes every tensor of the top-level dict.
fn tensor_index(path: &Path, archive: &torch_zip::Archive<'_>) -> Result<Vec<TensorInfo>> {
    let pickle_err = |message: String| OfficialLogitsError::Pickle {
        path: path.to_path_buf(),
        message,
    };
    let pkl_names: Vec<&str> = archive
        .names()
        .filter(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
        .collect();
    let pkl_name = match pkl_names.as_slice() {
        [one] => *one,
        [] => return Err(pickle_err("no data.pkl in the archive".into())),
        _ => return Err(pickle_err("several data.pkl in the archive".into())),
    };
    let dir = pkl_name
        .strip_suffix(".pkl")
        .unwrap_or(pkl_name)
        .to_string();
    let pkl = archive
        .read(pkl_name)
        .map_err(|message| OfficialLogitsError::Archive {
            path: path.to_path_buf(),
            message,
        })?;
    // The unpickler is third-party code running on untrusted bytes: contain any panic.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut stack = Stack::empty();
        let mut reader: &[u8] = pkl;
        stack.read_loop(&mut reader)?;
        let obj = stack.finalize()?;
        let Object::Dict(entries) = obj else {
            return Ok(Err("data.pkl does not hold a dict".to_string()));
        };
        let mut infos = Vec::new();
        for (key, value) in entries {
            if let Some(info) = value.into_tensor_info(key, Path::new(&dir))? {
                infos.push(info);
            }
        }
        Ok::<_, candle_core::Error>(Ok(infos))
    }));
    match parsed {
        Ok(Ok(Ok(infos))) => Ok(infos),
        Ok(Ok(Err(message))) => Err(pickle_err(message)),
        Ok(Err(e)) => Err(pickle_err(e.to_string())),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(pickle_err(format!(
                "malformed pickle (reader panicked: {message})"
            )))
        }
    }
}

/// A tensor's values in row-major order, with its shape.
struct Values<T> {
    dims: Vec<usize>,
    values: Vec<T>,
}

/// Decodes a tensor described by `info` from its storage entry, honouring offset and strides.
fn decode<T>(
    path: &Path,
    archive: &torch_zip::Archive<'_>,
    info: &TensorInfo,
    key: &'static str,
    convert: impl Fn(DType, &[u8]) -> Option<T>,
) -> Result<Values<T>> {
    let shape_err = |message: String| OfficialLogitsError::Shape { key, message };
    let dims = info.layout.dims().to_vec();
    let strides = info.layout.stride().to_vec();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| shape_err(format!("shape {dims:?} is too large")))?;
    let width = info.dtype.size_in_bytes();
    let storage = archive
        .read(&info.path)
        .map_err(|message| OfficialLogitsError::Archive {
            path: path.to_path_buf(),
            message,
        })?;
    // candle records the storage offset in bytes.
    let start = info.layout.start_offset();
    if !start.is_multiple_of(width) || strides.len() != dims.len() {
        return Err(shape_err("inconsistent layout".into()));
    }
    let start = start / width;
    if count > 0 {
        let last = dims.iter().zip(&strides).try_fold(start, |a, (&d, &s)| {
            (d - 1).checked_mul(s).and_then(|x| a.checked_add(x))
        });
        let in_bounds = last
            .and_then(|l| l.checked_add(1))
            .and_then(|n| n.checked_mul(width))
            .is_some_and(|end| end <= storage.len());
        if !in_bounds {
            return Err(shape_err(format!(
                "layout {dims:?} / strides {strides:?} reaches past its {} byte storage",
                storage.len()
            )));
        }
    }
    let mut values = Vec::with_capacity(count);
    let mut idx = vec![0usize; dims.len()];
    for _ in 0..count {
        let off = start + idx.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>();
        let bytes = &storage[off * width..(off + 1) * width];
        values.push(
            convert(info.dtype, bytes)
                .ok_or_else(|| shape_err(format!("unsupported element type {:?}", info.dtype)))?,
        );
        for d in (0..dims.len()).rev() {
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(Values { dims, values })
}

fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exp = ((bits >> 10) & 0x1f) as u32;
    let frac = (bits & 0x3ff) as u32;
    let out = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: value = f · 2^-24
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, f) => sign | 0x7fc0_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(out)
}

fn float_value(dtype: DType, b: &[u8]) -> Option<f32> {
    match dtype {
        DType::F32 => Some(f32::from_le_bytes(le(b))),
        DType::F64 => Some(f64::from_le_bytes(le(b)) as f32),
        DType::F16 => Some(f16_to_f32(u16::from_le_bytes(le(b)))),
        DType::BF16 => Some(f32::from_bits((u16::from_le_bytes(le(b)) as u32) << 16)),
        _ => None,
    }
}

fn int_value(dtype: DType, b: &[u8]) -> Option<f64> {
    match dtype {
        DType::I64 => Some(i64::from_le_bytes(le(b)) as f64),
        DType::U8 => Some(b[0] as f64),
        DType::F32 => Some(f32::from_le_bytes(le(b)) as f64),
        DType::F64 => Some(f64::from_le_bytes(le(b))),
        _ => None,
    }
}

fn split_set(
    path: &Path,
    archive: &torch_zip::Archive<'_>,
    logits: &TensorInfo,
    targets: &TensorInfo,
    step_gflops: &[f64],
) -> Result<CalibrationSet> {
    let (lkey, tkey) = if logits.name.starts_with("train") {
        ("train_logits", "train_targets")
    } else {
        ("val_logits", "val_targets")
    };
    let shape_err = |key, message: String| OfficialLogitsError::Shape { key, message };
    let (samples, steps, classes) = match *logits.layout.dims() {
        [n, s, c] if n > 0 && s > 0 && c > 0 => (n, s, c),
        ref d => {
            return Err(shape_err(
                lkey,
                format!("expected a non-empty samples x steps x classes tensor, got shape {d:?}"),
            ))
        }
    };
    if step_gflops.len() != steps {
        return Err(OfficialLogitsError::CostTable {
            given: step_gflops.len(),
            steps,
        });
    }
    let values = decode(path, archive, logits, lkey, float_value)?.values;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(shape_err(lkey, "contains NaN or infinite values".into()));
    }
    let t = decode(path, archive, targets, tkey, int_value)?;
    let labels = targets_to_labels(&t, samples, classes, tkey)?;
    Ok(CalibrationSet::new(
        samples,
        steps,
        classes,
        OutputKind::Logits,
        values,
        labels,
        StepCosts::PerStep(step_gflops.to_vec()),
        vec![Role::Both; samples],
    )?)
}

fn targets_to_labels(
    targets: &Values<f64>,
    samples: usize,
    classes: usize,
    key: &'static str,
) -> Result<Labels> {
    let shape_err = |message: String| OfficialLogitsError::Shape { key, message };
    let width = match *targets.dims {
        [n] if n == samples => 1,
        [n, k] if n == samples && k > 0 => k,
        ref d => {
            return Err(shape_err(format!(
                "expected {samples} or {samples} x k targets, got shape {d:?}"
            )))
        }
    };
    let mut sets = Vec::with_capacity(samples);
    for (i, row) in targets.values.chunks_exact(width).enumerate() {
        let mut set = Vec::with_capacity(width);
        for &v in row {
            if !v.is_finite() || v.fract() != 0.0 {
                return Err(shape_err(format!(
                    "sample {i}: target {v} is not an integer"
                )));
            }
            if v < 0.0 {
                continue; // −1 pads the label list
            }
            if v >= classes as f64 {
                return Err(shape_err(format!(
                    "sample {i}: label {v} out of range for {classes} classes"
                )));
            }
            set.push(v as u32);
        }
        if width == 1 && set.is_empty() {
            return Err(shape_err(format!("sample {i}: negative class index")));
        }
        set.sort_unstable();
        set.dedup();
        sets.push(set);
    }
    // One label everywhere (1-D targets, or Mini-Kinetics' padded rows): single-label, top-1 is
    // the headline metric. Otherwise multi-label and mAP, as the official script does.
    if sets.iter().all(|s| s.len() == 1) {
        Ok(Labels::Single(sets.into_iter().map(|s| s[0]).collect()))
    } else {
        Ok(Labels::Multi(sets))
    }
}

/// The part of the zip format `torch.save` writes: stored (uncompressed) entries, zip64 end
/// records, data descriptors. Every offset is bounds-checked; errors are messages.
mod torch_zip {
    use std::collections::HashMap;

    pub(super) struct Archive<'a> {
        bytes: &'a [u8],
        entries: HashMap<String, Entry>,
        order: Vec<String>,
    }

    struct Entry {
        method: u16,
        crc: u32,
        size: u64,
        local_offset: u64,
    }

    fn slice(b: &[u8], at: u64, len: u64) -> Result<&[u8], String> {
        let start = usize::try_from(at).map_err(|_| "offset too large".to_string())?;
        let len = usize::try_from(len).map_err(|_| "length too large".to_string())?;
        start
            .checked_add(len)
            .filter(|&end| end <= b.len())
            .map(|end| &b[start..end])
            .ok_or_else(|| format!("{len} bytes at offset {start} lie past the end of the file"))
    }
    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(a)
    }

    impl<'a> Archive<'a> {
        pub(super) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
            // End of central directory: 22 bytes + comment (≤ 64 KiB), searched backwards.
            if bytes.len() < 22 {
                return Err("too short for a zip archive".into());
            }
            let lowest = bytes.len().saturating_sub(22 + 0xffff);
            let eocd = (lowest..=bytes.len() - 22)
                .rev()
                .find(|&i| bytes[i..i + 4] == *b"PK\x05\x06")
                .ok_or("no end-of-central-directory record (truncated file?)")?;
            let e = &bytes[eocd..eocd + 22];
            let mut count = u16_at(e, 10) as u64;
            let mut cd_size = u32_at(e, 12) as u64;
            let mut cd_offset = u32_at(e, 16) as u64;
            // zip64 locator right before the EOCD: authoritative when present.
            if eocd >= 20 && bytes[eocd - 20..eocd - 16] == *b"PK\x06\x07" {
                let rec = u64_at(bytes, eocd - 20 + 8);
                let r = slice(bytes, rec, 56)?;
                if r[..4] != *b"PK\x06\x06" {
                    return Err("bad zip64 end-of-central-directory record".into());
                }
                count = u64_at(r, 32);
                cd_size = u64_at(r, 40);
                cd_offset = u64_at(r, 48);
            }
            let cd = slice(bytes, cd_offset, cd_size)?;
            let mut entries = HashMap::new();
            let mut order = Vec::new();
            let mut at = 0usize;
            for _ in 0..count {
                if at + 46 > cd.len() || cd[at..at + 4] != *b"PK\x01\x02" {
                    return Err("bad central directory entry".into());
                }
                let h = &cd[at..at + 46];
                let method = u16_at(h, 10);
                let crc = u32_at(h, 16);
                let mut size = u32_at(h, 20) as u64; // compressed size
                let name_len = u16_at(h, 28) as usize;
                let extra_len = u16_at(h, 30) as usize;
                let comment_len = u16_at(h, 32) as usize;
                let mut local_offset = u32_at(h, 42) as u64;
                let end = at + 46 + name_len + extra_len + comment_len;
                if end > cd.len() {
                    return Err("central directory entry runs past its end".into());
                }
                let name = String::from_utf8_lossy(&cd[at + 46..at + 46 + name_len]).into_owned();
                // zip64 extra field: 64-bit values for the 32-bit fields that are all ones.
                let mut extra = &cd[at + 46 + name_len..at + 46 + name_len + extra_len];
                while extra.len() >= 4 {
                    let id = u16_at(extra, 0);
                    let len = (u16_at(extra, 2) as usize).min(extra.len() - 4);
                    if id == 1 {
                        let mut f = &extra[4..4 + len];
                        let mut next = || {
                            if f.len() >= 8 {
                                let v = u64_at(f, 0);
                                f = &f[8..];
                                Some(v)
                            } else {
                                None
                            }
                        };
                        let uncompressed_all_ones = u32_at(h, 24) == u32::MAX;
                        if uncompressed_all_ones {
                            next();
                        }
                        if size == u32::MAX as u64 {
                            size = next().ok_or("short zip64 extra field")?;
                        }
                        if local_offset == u32::MAX as u64 {
                            local_offset = next().ok_or("short zip64 extra field")?;
                        }
                    }
                    extra = &extra[4 + len..];
                }
                order.push(name.clone());
                entries.insert(
                    name,
                    Entry {
                        method,
                        crc,
                        size,
                        local_offset,
                    },
                );
                at = end;
            }
            Ok(Self {
                bytes,
                entries,
                order,
            })
        }

        pub(super) fn names(&self) -> impl Iterator<Item = &str> {
            self.order.iter().map(String::as_str)
        }

        /// The bytes of a stored entry, CRC-checked.
        pub(super) fn read(&self, name: &str) -> Result<&'a [u8], String> {
            let e = self
                .entries
                .get(name)
                .ok_or_else(|| format!("no entry '{name}'"))?;
            if e.method != 0 {
                return Err(format!(
                    "entry '{name}' is compressed (method {}); torch.save stores entries",
                    e.method
                ));
            }
            let h = slice(self.bytes, e.local_offset, 30)?;
            if h[..4] != *b"PK\x03\x04" {
                return Err(format!("bad local header for '{name}'"));
            }
            let skip = 30 + u16_at(h, 26) as u64 + u16_at(h, 28) as u64;
            let data = slice(self.bytes, e.local_offset + skip, e.size)?;
            if crc32(data) != e.crc {
                return Err(format!("CRC mismatch in '{name}' (damaged file)"));
            }
            Ok(data)
        }
    }

    fn crc32(data: &[u8]) -> u32 {
        static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
        let table = TABLE.get_or_init(|| {
            let mut t = [0u32; 256];
            for (i, v) in t.iter_mut().enumerate() {
                let mut c = i as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
                *v = c;
            }
            t
        });
        let mut c = !0u32;
        for &b in data {
            c = table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
        }
        !c
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn crc32_check_value() {
            assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_table_matches_the_script() {
        let t = uniadafocus_gflops(128).expect("known size");
        assert_eq!(t.len(), 17);
        // k = 0: 16 MobileNetV2 frames + classifier heads on the glance features only.
        assert!((t[0] - (0.299511328 * 16.0 + (5.246976 + 0.8192) * 16.0 * 1e-3)).abs() < 1e-12);
        assert!(t.windows(2).all(|w| w[1] > w[0]));
        assert!(uniadafocus_gflops(100).is_none());
    }

    #[test]
    fn half_precision_decoding() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.33325195);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn text_file_is_not_a_torch_file() {
        let dir = std::env::temp_dir().join(format!("adalens-ol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let p = dir.join("fake.pth");
        std::fs::write(&p, "this is not a checkpoint\n").expect("write");
        let err = load_official_logits(&p, &[1.0; 3]).expect_err("must fail");
        assert!(
            matches!(err, OfficialLogitsError::NotTorchZip { .. }),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
