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
//! Pickle can run arbitrary code, so `data.pkl` is parsed by the project's restricted
//! unpickler (`super::unpickle`), which only builds plain values and never imports or calls
//! anything, behind an allow-list of callables checked wherever the pickle names one
//! (`super::torch_pth`). The zip container is read by `super::torch_zip`, which handles the
//! zip64 end records current torch versions always write.
//!
//! The result is a plain [`CalibrationSet`]: training split → fitting the thresholds, validation
//! split → evaluation, as the official script does; the cost is the official per-step GFLOPs
//! table (the same for every video).
//!
//! Bad input — a text file, a legacy (non-zip) torch file, a truncated archive, a missing key,
//! wrong shapes, labels out of range — is an [`OfficialLogitsError`], never a panic.

use std::path::{Path, PathBuf};

use super::torch_pth::{
    self, float_value, int_value, DecodeError, Elem, PickleError, TensorRef, Values,
};
use super::torch_zip::Archive;

use crate::decision::{CalibrationSet, DecisionError, Labels, OutputKind, Role, StepCosts};

/// The four entries the official script saves.
pub const KEYS: [&str; 4] = ["train_logits", "train_targets", "val_logits", "val_targets"];

/// Errors of the importer.
#[derive(Debug, thiserror::Error)]
pub enum OfficialLogitsError {
    /// The file could not be opened or read (or is a FIFO, a device, or too large).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::fsutil::ReadError,
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
    #[error("{path}: '{key}': {message}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Which tensor.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The per-step GFLOPs table does not fit the logits.
    #[error("{path}: the GFLOPs table has {given} entries but the logits have {steps} steps")]
    CostTable {
        /// The file.
        path: PathBuf,
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
    let bytes = crate::fsutil::read_limited(path, super::checkpoint::MAX_CHECKPOINT_BYTES)
        .map_err(|source| OfficialLogitsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    check_zip_magic(path, &bytes)?;
    let archive = Archive::parse(&bytes).map_err(|message| OfficialLogitsError::Archive {
        path: path.to_path_buf(),
        message,
    })?;
    let infos = tensor_index(path, &archive)?;
    let mut names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    // A model checkpoint has hundreds of tensors: name a few.
    let found = match names.len() {
        0 => "no tensors at its top level; a model checkpoint?".to_string(),
        n if n > 8 => format!(
            "{}, … ({n} tensors; a model checkpoint?)",
            names[..8].join(", ")
        ),
        _ => names.join(", "),
    };
    let info = |key: &'static str| {
        infos
            .iter()
            .find(|i| i.name == key)
            .ok_or_else(|| OfficialLogitsError::MissingKey {
                path: path.to_path_buf(),
                key,
                found: found.clone(),
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
    match torch_pth::not_zip_hint(bytes) {
        None => Ok(()),
        Some(hint) => Err(OfficialLogitsError::NotTorchZip {
            path: path.to_path_buf(),
            hint,
        }),
    }
}

/// Unpickles `…/data.pkl` (restricted, allow-listed) and describes every tensor of the
/// top-level dict.
fn tensor_index(path: &Path, archive: &Archive<'_>) -> Result<Vec<TensorRef>> {
    let pickle_err = |message: String| OfficialLogitsError::Pickle {
        path: path.to_path_buf(),
        message,
    };
    let to_err = |e: PickleError| match e {
        PickleError::Refused(name) => pickle_err(format!(
            "refused: the file asks to call {name}, which a logits file never needs"
        )),
        PickleError::Malformed(m) => pickle_err(m),
    };
    let (pickle, dir) = torch_pth::read_pickle(archive).map_err(to_err)?;
    let Some(entries) = pickle.dict(pickle.root()) else {
        return Err(pickle_err(format!(
            "data.pkl holds {}, not a dict",
            pickle.kind(pickle.root())
        )));
    };
    torch_pth::tensor_refs(&pickle, entries, &dir).map_err(to_err)
}

/// [`torch_pth::decode`] with this importer's errors.
fn decode<T>(
    path: &Path,
    archive: &Archive<'_>,
    info: &TensorRef,
    key: &'static str,
    convert: impl Fn(Elem, &[u8]) -> Option<T>,
) -> Result<Values<T>> {
    torch_pth::decode(archive, info, convert).map_err(|e| match e {
        DecodeError::Archive(message) => OfficialLogitsError::Archive {
            path: path.to_path_buf(),
            message,
        },
        DecodeError::Layout(message) => OfficialLogitsError::Shape {
            path: path.to_path_buf(),
            key,
            message,
        },
    })
}

fn split_set(
    path: &Path,
    archive: &Archive<'_>,
    logits: &TensorRef,
    targets: &TensorRef,
    step_gflops: &[f64],
) -> Result<CalibrationSet> {
    let (lkey, tkey) = if logits.name.starts_with("train") {
        ("train_logits", "train_targets")
    } else {
        ("val_logits", "val_targets")
    };
    let shape_err = |key, message: String| OfficialLogitsError::Shape {
        path: path.to_path_buf(),
        key,
        message,
    };
    let (samples, steps, classes) = match *logits.dims.as_slice() {
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
            path: path.to_path_buf(),
            given: step_gflops.len(),
            steps,
        });
    }
    let values = decode(path, archive, logits, lkey, float_value)?.values;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(shape_err(lkey, "contains NaN or infinite values".into()));
    }
    let t = decode(path, archive, targets, tkey, int_value)?;
    let labels = targets_to_labels(path, &t, samples, classes, tkey)?;
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
    path: &Path,
    targets: &Values<f64>,
    samples: usize,
    classes: usize,
    key: &'static str,
) -> Result<Labels> {
    let shape_err = |message: String| OfficialLogitsError::Shape {
        path: path.to_path_buf(),
        key,
        message,
    };
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
