//! Checking a checkpoint against the network built from it, all at once: every key the network
//! asks for is recorded while it is built, and the build goes on past a missing or mis-shaped
//! tensor (with zeros) so that one error lists every problem — missing keys, unexpected keys,
//! shape and dtype mismatches — instead of stopping at the first. A network whose report is
//! not clean is dropped, so no layer is ever left with made-up weights.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

/// How many names of each kind an error message shows.
const SHOWN: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    pub name: String,
    pub expected: Vec<usize>,
    pub found: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtypeMismatch {
    pub name: String,
    pub found: String,
}

/// Everything that keeps a checkpoint from filling a network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyReport {
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub shapes: Vec<ShapeMismatch>,
    pub dtypes: Vec<DtypeMismatch>,
    /// Keys the network asked for (for `inspect-checkpoint`).
    pub used: usize,
}

impl KeyReport {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.shapes.is_empty()
            && self.dtypes.is_empty()
    }
}

fn list(names: impl Iterator<Item = String>, total: usize) -> String {
    let shown: Vec<String> = names.take(SHOWN).collect();
    let more = total.saturating_sub(shown.len());
    if more > 0 {
        format!("{}, … and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl fmt::Display for KeyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "{} missing key(s): {}",
                self.missing.len(),
                list(self.missing.iter().cloned(), self.missing.len())
            ));
        }
        if !self.shapes.is_empty() {
            parts.push(format!(
                "{} shape mismatch(es): {}",
                self.shapes.len(),
                list(
                    self.shapes.iter().map(|s| format!(
                        "{} expected {:?} found {:?}",
                        s.name, s.expected, s.found
                    )),
                    self.shapes.len()
                )
            ));
        }
        if !self.dtypes.is_empty() {
            parts.push(format!(
                "{} tensor(s) of the wrong dtype: {}",
                self.dtypes.len(),
                list(
                    self.dtypes
                        .iter()
                        .map(|d| format!("{} is {}, expected a float tensor", d.name, d.found)),
                    self.dtypes.len()
                )
            ));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!(
                "{} unexpected key(s): {}",
                self.unexpected.len(),
                list(self.unexpected.iter().cloned(), self.unexpected.len())
            ));
        }
        write!(f, "{}", parts.join("; "))
    }
}

#[derive(Default)]
struct Record {
    requested: BTreeSet<String>,
    missing: BTreeSet<String>,
    shapes: BTreeMap<String, ShapeMismatch>,
    dtypes: BTreeMap<String, DtypeMismatch>,
}

struct CheckedBackend {
    tensors: HashMap<String, Tensor>,
    record: Arc<Mutex<Record>>,
}

impl CheckedBackend {
    fn note(&self, f: impl FnOnce(&mut Record)) {
        // A poisoned lock only means another build panicked; the record is still usable.
        let mut r = self.record.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut r);
    }
}

impl SimpleBackend for CheckedBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        self.note(|r| {
            r.requested.insert(name.to_string());
        });
        let stand_in = || Tensor::zeros(s.clone(), dtype, dev);
        let Some(t) = self.tensors.get(name) else {
            self.note(|r| {
                r.missing.insert(name.to_string());
            });
            return stand_in();
        };
        if !t.dtype().is_float() {
            let found = format!("{:?}", t.dtype()).to_lowercase();
            self.note(|r| {
                r.dtypes.insert(
                    name.to_string(),
                    DtypeMismatch {
                        name: name.to_string(),
                        found,
                    },
                );
            });
            return stand_in();
        }
        if t.shape() != &s {
            let m = ShapeMismatch {
                name: name.to_string(),
                expected: s.dims().to_vec(),
                found: t.dims().to_vec(),
            };
            self.note(|r| {
                r.shapes.insert(name.to_string(), m);
            });
            return stand_in();
        }
        t.to_dtype(dtype)?.to_device(dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        self.note(|r| {
            r.requested.insert(name.to_string());
        });
        match self.tensors.get(name) {
            Some(t) => t.to_dtype(dtype)?.to_device(dev),
            None => {
                self.note(|r| {
                    r.missing.insert(name.to_string());
                });
                candle_core::bail!("cannot find tensor {name}")
            }
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

/// Builds a network from `tensors` and reports every key problem at once.
pub struct KeyChecker {
    names: Vec<String>,
    record: Arc<Mutex<Record>>,
    vb: VarBuilder<'static>,
}

impl KeyChecker {
    pub fn new(tensors: &BTreeMap<String, Tensor>, dtype: DType, device: &Device) -> Self {
        let record = Arc::new(Mutex::new(Record::default()));
        let backend = CheckedBackend {
            tensors: tensors.clone().into_iter().collect(),
            record: record.clone(),
        };
        Self {
            names: tensors.keys().cloned().collect(),
            record,
            vb: VarBuilder::from_backend(Box::new(backend), dtype, device.clone()),
        }
    }

    /// The VarBuilder to build the network with.
    pub fn var_builder(&self) -> VarBuilder<'static> {
        self.vb.clone()
    }

    /// After the build: what did not fit. Keys that `ignored` accepts (tensors the checkpoint
    /// carries for training only) are not reported as unexpected.
    pub fn report(&self, ignored: impl Fn(&str) -> bool) -> KeyReport {
        let r = self.record.lock().unwrap_or_else(|e| e.into_inner());
        let unexpected = self
            .names
            .iter()
            .filter(|n| !r.requested.contains(*n) && !ignored(n))
            .cloned()
            .collect();
        KeyReport {
            missing: r.missing.iter().cloned().collect(),
            unexpected,
            shapes: r.shapes.values().cloned().collect(),
            dtypes: r.dtypes.values().cloned().collect(),
            used: r.requested.len() - r.missing.len(),
        }
    }
}
