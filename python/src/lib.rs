//! `adalens._native`: the Rust side of the Python package (`python/adalens/` wraps it).
//!
//! Everything here calls the library; nothing is computed twice. Errors become
//! `adalens.AdalensError` with the library's message; the GIL is released while models run
//! and files are read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use adalens::batch::parquet::{read_columns, Values};
use adalens::decision::{Criterion, DecisionTrace, ExitRule, PreparedCalibration};
use adalens::logged::{LoggedClip, Region, StepOutputs};
use adalens::model::config::Knobs;
use adalens::model::load::{calibration_sidecar, ConfigOverrides, LoadedModel};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyList};

create_exception!(
    _native,
    AdalensError,
    PyException,
    "An error from adalens (the message names the file and the problem)."
);

/// Step outputs as Python passes them: rows, columns and the float32 values (native order),
/// the bytes of a C-contiguous array (the Python layer makes it; no ndarray crate needed).
type RowsArg = (usize, usize, PyBackedBytes);
/// A logged region as Python passes it: the frames it covers and its box (x1, y1, x2, y2).
type RegionArg = (Vec<usize>, (f32, f32, f32, f32));
/// What `calibrate_traces` returns: samples, steps, classes, and the files skipped with why.
type CalibratedArg = (usize, usize, usize, Vec<(String, String)>);

fn err(e: impl std::fmt::Display) -> PyErr {
    AdalensError::new_err(e.to_string())
}

/// A DecisionTrace (read-only). `adalens.Trace` wraps it.
#[pyclass(frozen, module = "adalens._native")]
struct Trace {
    inner: Arc<DecisionTrace>,
}

#[pymethods]
impl Trace {
    /// Read and check a trace file.
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let t = py
            .detach(|| adalens::logged::read_trace(&path))
            .map_err(|e| err(format!("{}: {e}", path.display())))?;
        Ok(Self { inner: Arc::new(t) })
    }

    /// Parse and check a trace from JSON text.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let t = DecisionTrace::from_json(text).map_err(err)?;
        Ok(Self { inner: Arc::new(t) })
    }

    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(err)
    }

    /// Write the trace (compact JSON, atomically).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let t = self.inner.clone();
        py.detach(move || {
            let json = serde_json::to_vec(&*t).map_err(err)?;
            adalens::fsutil::write_atomic(&path, &json)
                .map_err(|e| err(format!("cannot write {}: {e}", path.display())))
        })
    }

    #[getter]
    fn arch(&self) -> String {
        self.inner.arch.clone()
    }

    #[getter]
    fn video(&self) -> String {
        self.inner.video.path.clone()
    }

    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.inner.class_names.clone()
    }

    #[getter]
    fn num_clips(&self) -> usize {
        self.inner.clips.len()
    }

    /// The video's prediction where its clips stop: (class, name, probability), best first.
    fn prediction(&self) -> Vec<(u32, String, f32)> {
        self.inner
            .exit_prediction()
            .iter()
            .map(|p| (p.class, self.inner.class_name(p.class), p.prob))
            .collect()
    }

    /// GFLOPs the video spends where its clips stop.
    fn gflops(&self) -> f64 {
        self.inner.clips.iter().map(|c| c.spent_gflops()).sum()
    }

    fn __repr__(&self) -> String {
        format!(
            "<adalens Trace of {} by {}: {} clips>",
            self.inner.video.path,
            self.inner.arch,
            self.inner.clips.len()
        )
    }
}

/// Logs a model's own decisions clip by clip (`adalens.TraceBuilder` wraps it).
#[pyclass(module = "adalens._native")]
struct TraceBuilder {
    inner: adalens::logged::TraceBuilder,
}

#[pymethods]
impl TraceBuilder {
    #[new]
    #[pyo3(signature = (video, class_names, arch = "custom".to_string()))]
    fn new(
        py: Python<'_>,
        video: PathBuf,
        class_names: Vec<String>,
        arch: String,
    ) -> PyResult<Self> {
        let inner = py
            .detach(|| adalens::logged::TraceBuilder::new(&video, class_names, &arch))
            .map_err(err)?;
        Ok(Self { inner })
    }

    fn declare_categorical(
        &mut self,
        name: &str,
        categories: Vec<(String, Option<f64>)>,
    ) -> PyResult<()> {
        self.inner
            .declare_categorical(name, categories)
            .map_err(err)
    }

    #[pyo3(signature = (name, unit = None, range = None))]
    fn declare_scalar(
        &mut self,
        name: &str,
        unit: Option<String>,
        range: Option<(f64, f64)>,
    ) -> PyResult<()> {
        self.inner
            .declare_scalar(name, unit, range.map(|(a, b)| [a, b]))
            .map_err(err)
    }

    /// Add one clip (see `adalens.TraceBuilder.add_clip` for the arguments); its index.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (frames, keep_probs = None, kept = None, lanes = None, stages = None,
                        regions = None, probs = None, logits = None, gflops = None, exit_step = None))]
    fn add_clip(
        &mut self,
        py: Python<'_>,
        frames: Vec<usize>,
        keep_probs: Option<Vec<f32>>,
        kept: Option<Vec<bool>>,
        lanes: Option<BTreeMap<String, Vec<Option<f64>>>>,
        stages: Option<Vec<(f32, bool)>>,
        regions: Option<Vec<RegionArg>>,
        probs: Option<RowsArg>,
        logits: Option<RowsArg>,
        gflops: Option<Vec<f64>>,
        exit_step: Option<usize>,
    ) -> PyResult<usize> {
        let rows = |(n, c, bytes): &RowsArg| -> PyResult<Vec<Vec<f32>>> {
            let want = n.checked_mul(*c).and_then(|v| v.checked_mul(4));
            if want != Some(bytes.len()) {
                return Err(err(format!(
                    "step outputs: {} bytes for {n}×{c} float32 values",
                    bytes.len()
                )));
            }
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok(values
                .chunks((*c).max(1))
                .take(*n)
                .map(<[f32]>::to_vec)
                .collect())
        };
        let outputs = match (&probs, &logits) {
            (Some(_), Some(_)) => return Err(err("give probs or logits, not both")),
            (Some(p), None) => Some(StepOutputs::Probabilities(rows(p)?)),
            (None, Some(l)) => Some(StepOutputs::Logits(rows(l)?)),
            (None, None) => None,
        };
        let clip = LoggedClip {
            frames,
            keep_probs,
            kept,
            lanes: lanes.unwrap_or_default(),
            stages: stages.unwrap_or_default(),
            regions: regions
                .unwrap_or_default()
                .into_iter()
                .map(|(frames, (a, b, c, d))| Region {
                    frames,
                    bbox: [a, b, c, d],
                })
                .collect(),
            outputs,
            gflops: gflops.unwrap_or_default(),
            exit_step,
        };
        let inner = &mut self.inner;
        py.detach(|| inner.add_clip(clip)).map_err(err)
    }

    #[getter]
    fn num_clips(&self) -> usize {
        self.inner.clips()
    }

    /// The trace as it stands.
    fn finish(&self) -> Trace {
        Trace {
            inner: Arc::new(self.inner.finish()),
        }
    }

    /// Write the trace (compact JSON, atomically) and return it.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<Trace> {
        let inner = &self.inner;
        let t = py.detach(|| inner.save(&path)).map_err(err)?;
        Ok(Trace { inner: Arc::new(t) })
    }
}

/// A checkpoint adalens runs itself (`adalens.Checkpoint` wraps it).
#[pyclass(frozen, module = "adalens._native")]
struct Checkpoint {
    model: Arc<LoadedModel>,
}

#[pymethods]
impl Checkpoint {
    #[new]
    #[pyo3(signature = (path, config = None))]
    fn new(py: Python<'_>, path: PathBuf, config: Option<PathBuf>) -> PyResult<Self> {
        let model = py
            .detach(|| {
                LoadedModel::open(
                    &path,
                    config.as_deref(),
                    &ConfigOverrides::default(),
                    &candle_core::Device::Cpu,
                )
            })
            .map_err(err)?;
        Ok(Self {
            model: Arc::new(model),
        })
    }

    #[getter]
    fn arch(&self) -> String {
        self.model.arch().to_string()
    }

    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.model.config.class_names()
    }

    /// Run the model on a video (the runner every adalens command uses): with `budget`, the
    /// exits of the thresholds solved on the checkpoint's calibration set (NAME.adlcal).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (video, budget = None, tau_f = None, tau_s = None, max_cubes = None,
                        criterion = "entropy".to_string()))]
    fn inspect(
        &self,
        py: Python<'_>,
        video: PathBuf,
        budget: Option<f64>,
        tau_f: Option<f32>,
        tau_s: Option<f32>,
        max_cubes: Option<usize>,
        criterion: String,
    ) -> PyResult<Trace> {
        let criterion: Criterion = criterion.parse().map_err(err)?;
        let model = self.model.clone();
        let trace = py.detach(move || -> anyhow::Result<DecisionTrace> {
            let own = model.config.knobs();
            let knobs = Knobs {
                frame_threshold: tau_f.unwrap_or(own.frame_threshold),
                stage_threshold: tau_s.unwrap_or(own.stage_threshold),
                max_cubes: max_cubes.or(own.max_cubes),
            };
            let rule = match budget {
                None => None,
                Some(b) => {
                    let set = adalens::load_calibration(&model, &calibration_sidecar(&model.path))?;
                    let prep = PreparedCalibration::new(set)?;
                    Some(ExitRule::for_budget(&prep, criterion, b)?.0)
                }
            };
            let v = adalens::Video::open(&video)?;
            let never = AtomicBool::new(false);
            let run =
                adalens::run_video(&model, &v, &knobs, rule.as_ref(), &never, &adalens::Quiet)?;
            Ok(run.inspection.trace)
        });
        let trace = trace.map_err(|e| err(format!("{e:#}")))?;
        Ok(Trace {
            inner: Arc::new(trace),
        })
    }
}

/// `adalens budget CALIBRATION --budget B --criterion C --json`, as a JSON string.
#[pyfunction]
#[pyo3(signature = (calibration, budget, criterion = "entropy".to_string()))]
fn budget_json(
    py: Python<'_>,
    calibration: PathBuf,
    budget: f64,
    criterion: String,
) -> PyResult<String> {
    let criterion: Criterion = criterion.parse().map_err(err)?;
    let v = py
        .detach(|| adalens::cli::budget_cmd::budget_json(&calibration, budget, criterion))
        .map_err(|e| err(format!("{e:#}")))?;
    Ok(v.to_string())
}

/// A calibration set from a folder of logged traces (`adalens calibrate --traces`): writes it
/// to `out` and returns (samples, steps, classes, skipped files with why).
#[pyfunction]
#[pyo3(signature = (traces, out, list = None, self_labels = false))]
fn calibrate_traces(
    py: Python<'_>,
    traces: PathBuf,
    out: PathBuf,
    list: Option<PathBuf>,
    self_labels: bool,
) -> PyResult<CalibratedArg> {
    py.detach(|| -> anyhow::Result<_> {
        let folder = adalens::logged::read_folder(&traces, list.as_deref())?;
        let c = adalens::calibrate::from_traces(&folder.traces, self_labels)?;
        let clips = c.set.samples();
        let set = c
            .set
            .with_description(format!("traces in {} ({clips} clips)", traces.display()));
        set.save(&out)?;
        let skipped = folder
            .skipped
            .iter()
            .chain(&c.failed)
            .map(|(p, why)| (p.display().to_string(), why.clone()))
            .collect();
        Ok((set.samples(), set.steps(), set.classes(), skipped))
    })
    .map_err(|e| err(format!("{e:#}")))
}

/// `adalens import`: a folder of logged traces as a batch run folder.
#[pyfunction]
#[pyo3(signature = (traces, out, list = None))]
fn import_traces(
    py: Python<'_>,
    traces: PathBuf,
    out: PathBuf,
    list: Option<PathBuf>,
) -> PyResult<usize> {
    py.detach(|| adalens::batch::import::import_traces(&traces, list.as_deref(), &out))
        .map(|r| r.traces)
        .map_err(err)
}

/// The columns of a Parquet file a batch run wrote, as {name: list}.
#[pyfunction]
fn read_parquet<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let cols = py.detach(|| read_columns(&path)).map_err(err)?;
    let out = PyDict::new(py);
    let mut names: Vec<&String> = cols.columns.keys().collect();
    names.sort();
    for name in names {
        let list = match &cols.columns[name] {
            Values::I64(v) => PyList::new(py, v)?,
            Values::I32(v) => PyList::new(py, v)?,
            Values::F32(v) => PyList::new(py, v)?,
            Values::F64(v) => PyList::new(py, v)?,
            Values::Bool(v) => PyList::new(py, v)?,
            Values::Str(v) => PyList::new(py, v)?,
        };
        out.set_item(name, list)?;
    }
    Ok(out)
}

/// The trace format's JSON Schema (docs/trace.schema.json), as text.
#[pyfunction]
fn trace_schema() -> &'static str {
    include_str!("../../docs/trace.schema.json")
}

/// The `adalens` command line on `argv` (program name first); its exit status.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(|| adalens::cli::main(argv, &|| {}))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AdalensError", m.py().get_type::<AdalensError>())?;
    m.add("TRACE_VERSION", adalens::decision::TRACE_VERSION)?;
    m.add_class::<Trace>()?;
    m.add_class::<TraceBuilder>()?;
    m.add_class::<Checkpoint>()?;
    m.add_function(wrap_pyfunction!(budget_json, m)?)?;
    m.add_function(wrap_pyfunction!(calibrate_traces, m)?)?;
    m.add_function(wrap_pyfunction!(import_traces, m)?)?;
    m.add_function(wrap_pyfunction!(read_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(trace_schema, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    Ok(())
}
