//! Reproducible synthetic calibration sets, for the parity fixture, tests and benchmarks.
//!
//! The parity test compares this crate with an independent numpy implementation
//! (`scripts/budget_reference.py`) on 2,000 × 17 × 200 logits. Committing those logits would be
//! megabytes, so both sides regenerate them from a seed with the same tiny generator: SplitMix64
//! (a counter through a bijective mixer, so numpy can compute draw k directly) → uniform floats
//! with 53 random bits → logits built with + and × only (exactly reproducible in IEEE f64), then
//! rounded to f32.
//!
//! Layout of the draws, per sample i, in order: one draw for the number of labels, `max_labels`
//! draws for label classes, one for the difficulty d, one for the cost jitter, then
//! `steps × classes` noise draws u (step-major). The logit of class c at step t is
//! `3·(2u − 1)`, plus `8·(1 − d)·(t + 1)/steps` when c is a label: the signal grows with the step
//! and is stronger for easy samples, so early exits are meaningful.

use super::calibration::{CalibrationSet, Labels, OutputKind, Role, StepCosts};
use super::error::Result;

/// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, one add and a mixer per draw.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) from the top 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Cumulative GFLOPs per step shaped like Uni-AdaFocus (MobileNetV2 glance on 16 frames, then
/// one ResNet-50 128×128 patch per step; the official table for 17 steps), extended to any step
/// count. Non-round values on purpose: budgets in tests do not land exactly on plan costs.
pub fn uniadafocus_like_costs(steps: usize) -> Vec<f64> {
    (0..steps)
        .map(|k| {
            let k = k as f64;
            let mut g = 0.299511328 * 16.0 + 1.334601664 * k;
            g += (5.246976 * 16.0 + 8.392704 * k + 0.8192 * 16.0 + 1.6384 * k) * 1e-3;
            if k > 0.0 {
                g += 0.00412992 + 0.822485376;
            }
            g
        })
        .collect()
}

/// Parameters of a synthetic set.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSpec {
    /// Number of samples.
    pub samples: usize,
    /// Number of steps.
    pub steps: usize,
    /// Number of classes.
    pub classes: usize,
    /// Generator seed.
    pub seed: u64,
    /// 1 = single-label; > 1 = multi-label with 1..=max_labels draws per sample.
    pub max_labels: usize,
    /// Cumulative GFLOPs per step.
    pub step_costs: Vec<f64>,
    /// Scale each sample's cost table by `0.75 + 0.5·jitter` (per-sample costs).
    pub per_sample_costs: bool,
    /// `None`: every sample is `Both`. `Some(k)`: the first k samples fit, the rest evaluate.
    pub fit_samples: Option<usize>,
}

impl SyntheticSpec {
    /// Single-label spec with linear per-step costs 1, 2, …, all samples `Both`.
    pub fn simple(samples: usize, steps: usize, classes: usize, seed: u64) -> Self {
        Self {
            samples,
            steps,
            classes,
            seed,
            max_labels: 1,
            step_costs: (1..=steps).map(|t| t as f64).collect(),
            per_sample_costs: false,
            fit_samples: None,
        }
    }
}

/// Generates the set described by `spec` (see the module docs for the exact recipe).
pub fn synthetic_set(spec: &SyntheticSpec) -> Result<CalibrationSet> {
    let SyntheticSpec {
        samples,
        steps,
        classes,
        seed,
        max_labels,
        ..
    } = *spec;
    let max_labels = max_labels.max(1);
    let mut rng = SplitMix64::new(seed);
    let mut outputs = Vec::with_capacity(samples * steps * classes);
    let mut singles = Vec::new();
    let mut multis = Vec::new();
    let mut costs = Vec::new();
    let mut is_label = vec![false; classes];
    for _ in 0..samples {
        let u_count = rng.uniform();
        let u_labels: Vec<f64> = (0..max_labels).map(|_| rng.uniform()).collect();
        let d = rng.uniform();
        let jitter = rng.uniform();
        let class_of = |u: f64| ((u * classes as f64) as usize).min(classes - 1) as u32;
        let labels: Vec<u32> = if max_labels == 1 {
            vec![class_of(u_labels[0])]
        } else {
            let k = 1 + ((u_count * max_labels as f64) as usize).min(max_labels - 1);
            u_labels[..k].iter().map(|&u| class_of(u)).collect()
        };
        is_label.iter_mut().for_each(|b| *b = false);
        for &l in &labels {
            is_label[l as usize] = true;
        }
        for t in 0..steps {
            let strength = 8.0 * (1.0 - d) * (t + 1) as f64 / steps as f64;
            for &lab in is_label.iter() {
                let u = rng.uniform();
                let mut z = 3.0 * (2.0 * u - 1.0);
                if lab {
                    z += strength;
                }
                outputs.push(z as f32);
            }
        }
        if spec.per_sample_costs {
            let scale = 0.75 + 0.5 * jitter;
            costs.extend(spec.step_costs.iter().map(|c| c * scale));
        }
        if max_labels == 1 {
            singles.push(labels[0]);
        } else {
            multis.push(labels);
        }
    }
    let labels = if max_labels == 1 {
        Labels::Single(singles)
    } else {
        Labels::Multi(multis)
    };
    let costs = if spec.per_sample_costs {
        StepCosts::PerSample(costs)
    } else {
        StepCosts::PerStep(spec.step_costs.clone())
    };
    let roles = match spec.fit_samples {
        None => vec![Role::Both; samples],
        Some(k) => (0..samples)
            .map(|i| if i < k { Role::Fit } else { Role::Eval })
            .collect(),
    };
    Ok(CalibrationSet::new(
        samples,
        steps,
        classes,
        OutputKind::Logits,
        outputs,
        labels,
        costs,
        roles,
    )?
    .with_description(format!(
        "synthetic splitmix64 seed={seed} {samples}x{steps}x{classes} max_labels={max_labels}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference outputs of SplitMix64 seeded with 0 (as in the original Java/C code).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let u = SplitMix64::new(7).uniform();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn synthetic_shapes() {
        let set = synthetic_set(&SyntheticSpec::simple(10, 3, 5, 1)).expect("set");
        assert_eq!(set.outputs().len(), 150);
        assert_eq!(set.labels().len(), 10);
    }
}
