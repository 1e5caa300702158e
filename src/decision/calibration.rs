//! Calibration sets: what a model predicted after each step on a set of labelled videos, and what
//! each step cost.
//!
//! The budget solver never sees a model; it only needs, per sample and per step, the class scores
//! the early-exit classifier produced, the label(s), and the cumulative GFLOPs of stopping there.
//! Keeping that as plain data makes the solver testable without candle and lets a calibration set
//! travel with a checkpoint (see [`CalibrationSet::to_bytes`]).
//!
//! # Binary format (version 1)
//! Little-endian throughout; compact (raw `f32` scores) and self-checking (trailing checksum), so
//! it can sit beside a checkpoint as a file or inside one as a byte blob.
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `ADLCALIB` |
//! | 4 | `u32` format version (= 1) |
//! | 4 | `u32` flags (reserved, 0) |
//! | 8 | `u64` samples |
//! | 4 | `u32` steps |
//! | 4 | `u32` classes |
//! | 1 | output kind: 0 logits, 1 probabilities |
//! | 1 | label kind: 0 single label, 1 multi-label |
//! | 1 | cost kind: 0 one cost per step, 1 one cost per sample and step |
//! | 1 | reserved (0) |
//! | 4 + n | `u32` description length, UTF-8 description |
//! | 4·S·T·C | `f32` outputs, sample-major: `[sample][step][class]` |
//! | labels | single: `u32` per sample; multi: `u32` count per sample, then all labels as `u32` |
//! | costs | `f64` per step, or `f64` per sample and step (sample-major) |
//! | S | `u8` role per sample: 1 fit, 2 evaluation, 3 both |
//! | 8 | `u64` FNV-1a 64 checksum of all preceding bytes |

use std::path::Path;

use super::error::{DecisionError, Result};

/// A single-label clip of [`CalibrationSet::of_clips`]: its label, and its steps'
/// (probability row, cumulative GFLOPs) in order.
pub type LabelledClip = (u32, Vec<(Vec<f32>, f64)>);

/// Magic bytes at the start of every calibration file.
pub const MAGIC: &[u8; 8] = b"ADLCALIB";
/// The format version this build writes (and the highest it reads).
pub const FORMAT_VERSION: u32 = 1;

/// What the stored class scores are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// Raw classifier outputs; a softmax is applied before entropy, confidence and mAP.
    Logits,
    /// Already softmax-normalised probabilities (each row is renormalised to sum 1).
    Probabilities,
}

/// Ground truth of the calibration samples.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Labels {
    /// One class index per sample (Kinetics, Something-Something, ...).
    Single(Vec<u32>),
    /// A set of class indices per sample (ActivityNet and FCVID videos may have several).
    /// Stored sorted and without duplicates; an empty set is allowed (never correct, negative
    /// for every class in mAP).
    Multi(Vec<Vec<u32>>),
}

impl Labels {
    /// Number of samples these labels describe.
    pub fn len(&self) -> usize {
        match self {
            Labels::Single(v) => v.len(),
            Labels::Multi(v) => v.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of sample `i` as a slice.
    pub fn of(&self, i: usize) -> &[u32] {
        match self {
            Labels::Single(v) => std::slice::from_ref(&v[i]),
            Labels::Multi(v) => &v[i],
        }
    }

    /// Whether this is the multi-label case (then mAP is the headline metric).
    pub fn is_multi(&self) -> bool {
        matches!(self, Labels::Multi(_))
    }
}

/// Cumulative GFLOPs of stopping after each step.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepCosts {
    /// The same cost table for every sample (the official Uni-AdaFocus table is of this kind).
    PerStep(Vec<f64>),
    /// One cost per sample and step, sample-major (`[sample][step]`): dropped frames and 2D
    /// stages make the cost vary between videos.
    PerSample(Vec<f64>),
}

/// What a sample is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Used to fit the thresholds only.
    Fit,
    /// Used to evaluate the thresholds only.
    Eval,
    /// Used for both (e.g. the parity fixture, or a quick look on a single small set).
    Both,
}

impl Role {
    /// The roles of `n` samples in order: fitting and evaluation alternate (one sample alone
    /// does both).
    pub fn alternating(n: usize) -> Vec<Role> {
        (0..n)
            .map(|i| match (n < 2, i % 2) {
                (true, _) => Role::Both,
                (false, 0) => Role::Fit,
                _ => Role::Eval,
            })
            .collect()
    }

    /// Whether the sample takes part in fitting thresholds.
    pub fn fits(self) -> bool {
        matches!(self, Role::Fit | Role::Both)
    }

    /// Whether the sample takes part in evaluation.
    pub fn evaluates(self) -> bool {
        matches!(self, Role::Eval | Role::Both)
    }

    fn to_byte(self) -> u8 {
        match self {
            Role::Fit => 1,
            Role::Eval => 2,
            Role::Both => 3,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Role::Fit),
            2 => Some(Role::Eval),
            3 => Some(Role::Both),
            _ => None,
        }
    }
}

/// A validated calibration set. Fields are private so that every instance satisfies the
/// invariants checked in [`CalibrationSet::new`] (shapes agree, labels in range, costs finite and
/// non-decreasing over steps, scores finite).
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationSet {
    samples: usize,
    steps: usize,
    classes: usize,
    output_kind: OutputKind,
    outputs: Vec<f32>,
    labels: Labels,
    costs: StepCosts,
    roles: Vec<Role>,
    description: String,
}

impl CalibrationSet {
    /// Builds and validates a calibration set.
    ///
    /// `outputs` is sample-major `[sample][step][class]`. Multi-labels are sorted and
    /// de-duplicated. Errors with [`DecisionError::Invalid`] on any inconsistency.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        samples: usize,
        steps: usize,
        classes: usize,
        output_kind: OutputKind,
        outputs: Vec<f32>,
        labels: Labels,
        costs: StepCosts,
        roles: Vec<Role>,
    ) -> Result<Self> {
        let invalid = |m: String| Err(DecisionError::Invalid(m));
        if samples == 0 || steps == 0 || classes == 0 {
            return invalid(format!(
                "samples, steps and classes must be positive (got {samples}, {steps}, {classes})"
            ));
        }
        if steps > u16::MAX as usize {
            return invalid(format!("too many steps ({steps})"));
        }
        let expected = samples
            .checked_mul(steps)
            .and_then(|x| x.checked_mul(classes))
            .ok_or_else(|| DecisionError::Invalid("size overflows".into()))?;
        if outputs.len() != expected {
            return invalid(format!(
                "outputs hold {} values, expected samples*steps*classes = {expected}",
                outputs.len()
            ));
        }
        if let Some(pos) = outputs.iter().position(|v| !v.is_finite()) {
            return invalid(format!("non-finite class score at flat index {pos}"));
        }
        if output_kind == OutputKind::Probabilities {
            if outputs.iter().any(|&v| v < 0.0) {
                return invalid("negative probability".into());
            }
            for (r, row) in outputs.chunks_exact(classes).enumerate() {
                if row.iter().map(|&v| v as f64).sum::<f64>() <= 0.0 {
                    return invalid(format!("probability row {r} sums to zero"));
                }
            }
        }
        let labels = match labels {
            Labels::Single(v) => {
                if v.len() != samples {
                    return invalid(format!("{} labels for {samples} samples", v.len()));
                }
                if let Some(&l) = v.iter().find(|&&l| l as usize >= classes) {
                    return invalid(format!("label {l} out of range (classes = {classes})"));
                }
                Labels::Single(v)
            }
            Labels::Multi(mut v) => {
                if v.len() != samples {
                    return invalid(format!("{} label sets for {samples} samples", v.len()));
                }
                for set in v.iter_mut() {
                    set.sort_unstable();
                    set.dedup();
                    if let Some(&l) = set.iter().find(|&&l| l as usize >= classes) {
                        return invalid(format!("label {l} out of range (classes = {classes})"));
                    }
                }
                Labels::Multi(v)
            }
        };
        let rows: &[f64] = match &costs {
            StepCosts::PerStep(c) => {
                if c.len() != steps {
                    return invalid(format!("{} per-step costs for {steps} steps", c.len()));
                }
                c
            }
            StepCosts::PerSample(c) => {
                if c.len() != samples * steps {
                    return invalid(format!(
                        "{} per-sample costs, expected samples*steps = {}",
                        c.len(),
                        samples * steps
                    ));
                }
                c
            }
        };
        for (r, row) in rows.chunks_exact(steps).enumerate() {
            if row.iter().any(|c| !c.is_finite() || *c < 0.0) {
                return invalid(format!("cost row {r} has a negative or non-finite value"));
            }
            if row.windows(2).any(|w| w[1] < w[0]) {
                return invalid(format!(
                    "cost row {r} decreases over steps; costs must be cumulative GFLOPs"
                ));
            }
        }
        if roles.len() != samples {
            return invalid(format!("{} roles for {samples} samples", roles.len()));
        }
        Ok(Self {
            samples,
            steps,
            classes,
            output_kind,
            outputs,
            labels,
            costs,
            roles,
            description: String::new(),
        })
    }

    /// Joins a fitting set and an evaluation set (same steps and classes, same label and output
    /// kind) into one set with roles `Fit` then `Eval`; costs become per-sample if they differ.
    pub fn from_splits(fit: CalibrationSet, eval: CalibrationSet) -> Result<Self> {
        if fit.steps != eval.steps || fit.classes != eval.classes {
            return Err(DecisionError::Invalid(format!(
                "fit split is {}x{} (steps x classes) but evaluation split is {}x{}",
                fit.steps, fit.classes, eval.steps, eval.classes
            )));
        }
        if fit.output_kind != eval.output_kind {
            return Err(DecisionError::Invalid(
                "fit and evaluation splits store different output kinds".into(),
            ));
        }
        let samples = fit.samples + eval.samples;
        let costs = match (&fit.costs, &eval.costs) {
            (StepCosts::PerStep(a), StepCosts::PerStep(b)) if a == b => fit.costs.clone(),
            _ => {
                let mut c = Vec::with_capacity(samples * fit.steps);
                for set in [&fit, &eval] {
                    for i in 0..set.samples {
                        for t in 0..set.steps {
                            c.push(set.cost(i, t));
                        }
                    }
                }
                StepCosts::PerSample(c)
            }
        };
        let labels = match (fit.labels, eval.labels) {
            (Labels::Single(mut a), Labels::Single(b)) => {
                a.extend(b);
                Labels::Single(a)
            }
            (a, b) => {
                let to_multi = |l: Labels| match l {
                    Labels::Single(v) => v.into_iter().map(|x| vec![x]).collect::<Vec<_>>(),
                    Labels::Multi(v) => v,
                };
                let mut a = to_multi(a);
                a.extend(to_multi(b));
                Labels::Multi(a)
            }
        };
        let mut outputs = fit.outputs;
        outputs.extend(eval.outputs);
        let mut roles = vec![Role::Fit; fit.samples];
        roles.extend(std::iter::repeat_n(Role::Eval, eval.samples));
        let description = match (fit.description.is_empty(), eval.description.is_empty()) {
            (true, true) => String::new(),
            _ => format!("fit: {}; eval: {}", fit.description, eval.description),
        };
        Ok(Self::new(
            samples,
            fit.steps,
            fit.classes,
            fit.output_kind,
            outputs,
            labels,
            costs,
            roles,
        )?
        .with_description(description))
    }

    /// A set of single-label clips, each its label and its steps' (probability row, cumulative
    /// GFLOPs), in order: a clip with fewer steps than the longest stops at its last one (its
    /// row and cost repeat); samples alternate between fitting and evaluation.
    pub fn of_clips(classes: usize, clips: &[LabelledClip]) -> Result<Self> {
        let n = clips.len();
        let steps = clips.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
        let mut outputs = Vec::with_capacity(n.saturating_mul(steps).saturating_mul(classes));
        let mut costs = Vec::with_capacity(n.saturating_mul(steps));
        for (_, s) in clips {
            let Some(last) = s.last() else {
                return Err(DecisionError::Invalid("a clip without steps".into()));
            };
            for t in 0..steps {
                let (row, cost) = s.get(t).unwrap_or(last);
                if row.len() != classes {
                    return Err(DecisionError::Invalid(format!(
                        "a row of {} values for {classes} classes",
                        row.len()
                    )));
                }
                outputs.extend_from_slice(row);
                costs.push(*cost);
            }
        }
        Self::new(
            n,
            steps,
            classes,
            OutputKind::Probabilities,
            outputs,
            Labels::Single(clips.iter().map(|(l, _)| *l).collect()),
            StepCosts::PerSample(costs),
            Role::alternating(n),
        )
    }

    /// Attaches a free-text description (where the set came from).
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Replaces the roles (e.g. to mark every sample `Both`).
    pub fn with_roles(mut self, roles: Vec<Role>) -> Result<Self> {
        if roles.len() != self.samples {
            return Err(DecisionError::Invalid(format!(
                "{} roles for {} samples",
                roles.len(),
                self.samples
            )));
        }
        self.roles = roles;
        Ok(self)
    }

    /// Number of samples.
    pub fn samples(&self) -> usize {
        self.samples
    }
    /// Number of steps (exits).
    pub fn steps(&self) -> usize {
        self.steps
    }
    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }
    /// Whether scores are logits or probabilities.
    pub fn output_kind(&self) -> OutputKind {
        self.output_kind
    }
    /// All class scores, sample-major `[sample][step][class]`.
    pub fn outputs(&self) -> &[f32] {
        &self.outputs
    }
    /// The class scores of sample `i` after step `t`.
    pub fn row(&self, i: usize, t: usize) -> &[f32] {
        let start = (i * self.steps + t) * self.classes;
        &self.outputs[start..start + self.classes]
    }
    /// Ground truth.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }
    /// Cost table.
    pub fn costs(&self) -> &StepCosts {
        &self.costs
    }
    /// Cumulative GFLOPs of sample `i` stopping after step `t`.
    pub fn cost(&self, i: usize, t: usize) -> f64 {
        match &self.costs {
            StepCosts::PerStep(c) => c[t],
            StepCosts::PerSample(c) => c[i * self.steps + t],
        }
    }
    /// Role of every sample.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }
    /// Free-text description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Serialises into the versioned binary format described in the module docs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let label_bytes = match &self.labels {
            Labels::Single(v) => 4 * v.len(),
            Labels::Multi(v) => 4 * v.len() + 4 * v.iter().map(Vec::len).sum::<usize>(),
        };
        let cost_len = match &self.costs {
            StepCosts::PerStep(c) | StepCosts::PerSample(c) => c.len(),
        };
        let mut out = Vec::with_capacity(
            48 + self.description.len()
                + 4 * self.outputs.len()
                + label_bytes
                + 8 * cost_len
                + self.samples
                + 8,
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(self.samples as u64).to_le_bytes());
        out.extend_from_slice(&(self.steps as u32).to_le_bytes());
        out.extend_from_slice(&(self.classes as u32).to_le_bytes());
        out.push(match self.output_kind {
            OutputKind::Logits => 0,
            OutputKind::Probabilities => 1,
        });
        out.push(u8::from(self.labels.is_multi()));
        out.push(u8::from(matches!(self.costs, StepCosts::PerSample(_))));
        out.push(0);
        out.extend_from_slice(&(self.description.len() as u32).to_le_bytes());
        out.extend_from_slice(self.description.as_bytes());
        for v in &self.outputs {
            out.extend_from_slice(&v.to_le_bytes());
        }
        match &self.labels {
            Labels::Single(v) => v
                .iter()
                .for_each(|l| out.extend_from_slice(&l.to_le_bytes())),
            Labels::Multi(v) => {
                for set in v {
                    out.extend_from_slice(&(set.len() as u32).to_le_bytes());
                }
                for l in v.iter().flatten() {
                    out.extend_from_slice(&l.to_le_bytes());
                }
            }
        }
        match &self.costs {
            StepCosts::PerStep(c) | StepCosts::PerSample(c) => c
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        }
        out.extend(self.roles.iter().map(|r| r.to_byte()));
        let sum = fnv1a64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parses the binary format; every size is checked against the bytes actually present
    /// before anything is allocated, so a damaged header cannot ask for gigabytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(DecisionError::BadMagic);
        }
        if bytes.len() < MAGIC.len() + 4 {
            return Err(DecisionError::Truncated("no version field".into()));
        }
        let mut r = Reader {
            bytes,
            pos: MAGIC.len(),
        };
        let version = r.u32("version")?;
        if version != FORMAT_VERSION {
            return Err(DecisionError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if bytes.len() < MAGIC.len() + 4 + 8 {
            return Err(DecisionError::Truncated("no checksum".into()));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let mut sum = [0u8; 8];
        sum.copy_from_slice(tail);
        if fnv1a64(body) != u64::from_le_bytes(sum) {
            return Err(DecisionError::Checksum);
        }
        let mut r = Reader {
            bytes: body,
            pos: r.pos,
        };
        let _flags = r.u32("flags")?;
        let samples = usize::try_from(r.u64("samples")?)
            .map_err(|_| DecisionError::Invalid("sample count too large".into()))?;
        let steps = r.u32("steps")? as usize;
        let classes = r.u32("classes")? as usize;
        let output_kind = match r.u8("output kind")? {
            0 => OutputKind::Logits,
            1 => OutputKind::Probabilities,
            k => return Err(DecisionError::Invalid(format!("unknown output kind {k}"))),
        };
        let multi = match r.u8("label kind")? {
            0 => false,
            1 => true,
            k => return Err(DecisionError::Invalid(format!("unknown label kind {k}"))),
        };
        let per_sample = match r.u8("cost kind")? {
            0 => false,
            1 => true,
            k => return Err(DecisionError::Invalid(format!("unknown cost kind {k}"))),
        };
        let _reserved = r.u8("reserved")?;
        let desc_len = r.u32("description length")? as usize;
        let description = String::from_utf8(r.take(desc_len, "description")?.to_vec())
            .map_err(|_| DecisionError::Invalid("description is not UTF-8".into()))?;
        let n_out = samples
            .checked_mul(steps)
            .and_then(|x| x.checked_mul(classes))
            .ok_or_else(|| DecisionError::Invalid("size overflows".into()))?;
        let outputs = r.f32s(n_out, "outputs")?;
        let labels = if multi {
            let counts = r.u32s(samples, "label counts")?;
            let total = counts
                .iter()
                .try_fold(0usize, |acc, &c| acc.checked_add(c as usize))
                .ok_or_else(|| DecisionError::Invalid("label count overflows".into()))?;
            let flat = r.u32s(total, "labels")?;
            let mut sets = Vec::with_capacity(samples);
            let mut at = 0;
            for c in counts {
                sets.push(flat[at..at + c as usize].to_vec());
                at += c as usize;
            }
            Labels::Multi(sets)
        } else {
            Labels::Single(r.u32s(samples, "labels")?)
        };
        let n_cost = if per_sample {
            samples
                .checked_mul(steps)
                .ok_or_else(|| DecisionError::Invalid("size overflows".into()))?
        } else {
            steps
        };
        let cost_values = r.f64s(n_cost, "costs")?;
        let costs = if per_sample {
            StepCosts::PerSample(cost_values)
        } else {
            StepCosts::PerStep(cost_values)
        };
        let roles = r
            .take(samples, "roles")?
            .iter()
            .map(|&b| {
                Role::from_byte(b)
                    .ok_or_else(|| DecisionError::Invalid(format!("unknown role {b}")))
            })
            .collect::<Result<Vec<_>>>()?;
        if r.pos != body.len() {
            return Err(DecisionError::Invalid(format!(
                "{} unexpected bytes after the data",
                body.len() - r.pos
            )));
        }
        Ok(Self::new(
            samples,
            steps,
            classes,
            output_kind,
            outputs,
            labels,
            costs,
            roles,
        )?
        .with_description(description))
    }

    /// Writes the binary format to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        crate::fsutil::write_atomic(path, &self.to_bytes()).map_err(|source| DecisionError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a file written by [`CalibrationSet::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        // 1 GiB: a calibration set of a million videos of 10 steps and 1000 classes is 40 GB of
        // logits, which no one writes; the demo's is 0.3 MB.
        let bytes =
            crate::fsutil::read_limited(path, 1 << 30).map_err(|e| DecisionError::Read {
                path: path.to_path_buf(),
                source: e,
            })?;
        Self::from_bytes(&bytes).map_err(|e| DecisionError::File {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }
}

/// FNV-1a, 64 bit: tiny, dependency-free, and enough to catch truncation and bit rot (this is
/// not a defence against deliberate tampering).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Bounds-checked little-endian cursor.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                DecisionError::Truncated(format!(
                    "{what}: need {n} bytes at offset {}, file body has {}",
                    self.pos,
                    self.bytes.len()
                ))
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn sized(&mut self, n: usize, width: usize, what: &str) -> Result<&'a [u8]> {
        let len = n
            .checked_mul(width)
            .ok_or_else(|| DecisionError::Invalid(format!("{what}: size overflows")))?;
        self.take(len, what)
    }
    fn u32s(&mut self, n: usize, what: &str) -> Result<Vec<u32>> {
        Ok(self
            .sized(n, 4, what)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>> {
        Ok(self
            .sized(n, 4, what)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn f64s(&mut self, n: usize, what: &str) -> Result<Vec<f64>> {
        Ok(self
            .sized(n, 8, what)?
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> CalibrationSet {
        CalibrationSet::new(
            2,
            2,
            3,
            OutputKind::Logits,
            vec![1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 3.0, 0.0],
            Labels::Multi(vec![vec![2, 0, 0], vec![1]]),
            StepCosts::PerSample(vec![1.0, 2.0, 1.5, 2.5]),
            vec![Role::Fit, Role::Both],
        )
        .expect("valid")
        .with_description("tiny ünïcode")
    }

    #[test]
    fn roundtrip_bytes() {
        let set = tiny();
        assert_eq!(set.labels().of(0), &[0, 2]);
        let bytes = set.to_bytes();
        let back = CalibrationSet::from_bytes(&bytes).expect("roundtrip");
        assert_eq!(back, set);
        assert_eq!(back.description(), "tiny ünïcode");
    }

    #[test]
    fn damaged_files_are_errors() {
        let bytes = tiny().to_bytes();
        assert!(matches!(
            CalibrationSet::from_bytes(b"hello world, not ours"),
            Err(DecisionError::BadMagic)
        ));
        for cut in [0, 5, 8, 12, 20, bytes.len() - 1] {
            assert!(
                CalibrationSet::from_bytes(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut flipped = bytes.clone();
        flipped[60] ^= 0x40;
        assert!(matches!(
            CalibrationSet::from_bytes(&flipped),
            Err(DecisionError::Checksum)
        ));
        let mut newer = bytes.clone();
        newer[8] = 9;
        assert!(matches!(
            CalibrationSet::from_bytes(&newer),
            Err(DecisionError::UnsupportedVersion { found: 9, .. })
        ));
    }

    #[test]
    fn huge_header_is_refused_without_allocating() {
        let mut bytes = tiny().to_bytes();
        // samples = 2^40, then fix the checksum so only the size check can catch it.
        bytes[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let n = bytes.len() - 8;
        let sum = fnv1a64(&bytes[..n]);
        bytes[n..].copy_from_slice(&sum.to_le_bytes());
        assert!(matches!(
            CalibrationSet::from_bytes(&bytes),
            Err(DecisionError::Truncated(_))
        ));
    }

    #[test]
    fn validation() {
        let bad_cost = CalibrationSet::new(
            1,
            2,
            2,
            OutputKind::Logits,
            vec![0.0; 4],
            Labels::Single(vec![0]),
            StepCosts::PerStep(vec![2.0, 1.0]),
            vec![Role::Both],
        );
        assert!(matches!(bad_cost, Err(DecisionError::Invalid(_))));
        let bad_label = CalibrationSet::new(
            1,
            1,
            2,
            OutputKind::Logits,
            vec![0.0; 2],
            Labels::Single(vec![2]),
            StepCosts::PerStep(vec![1.0]),
            vec![Role::Both],
        );
        assert!(bad_label.is_err());
        let nan = CalibrationSet::new(
            1,
            1,
            2,
            OutputKind::Logits,
            vec![0.0, f32::NAN],
            Labels::Single(vec![1]),
            StepCosts::PerStep(vec![1.0]),
            vec![Role::Both],
        );
        assert!(nan.is_err());
    }

    #[test]
    fn from_splits_marks_roles_and_merges_costs() {
        let a = CalibrationSet::new(
            1,
            2,
            2,
            OutputKind::Logits,
            vec![0.0; 4],
            Labels::Single(vec![0]),
            StepCosts::PerStep(vec![1.0, 2.0]),
            vec![Role::Both],
        )
        .expect("valid");
        let b = CalibrationSet::new(
            1,
            2,
            2,
            OutputKind::Logits,
            vec![0.0; 4],
            Labels::Single(vec![1]),
            StepCosts::PerStep(vec![1.0, 3.0]),
            vec![Role::Both],
        )
        .expect("valid");
        let j = CalibrationSet::from_splits(a, b).expect("join");
        assert_eq!(j.roles(), &[Role::Fit, Role::Eval]);
        assert_eq!(j.cost(1, 1), 3.0);
        assert_eq!(j.cost(0, 1), 2.0);
    }
}
