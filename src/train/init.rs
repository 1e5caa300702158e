//! Seeded initial values for every parameter (candle's CPU generator cannot be seeded): He
//! normal for convolutions and MLPs, 1/√fan-in for the classifier heads, BatchNorm at
//! identity; the frame and stage heads start by keeping almost everything (the policy then
//! learns what to drop), the spatial policy at the frame centre, the temporal policy uniform.

use candle_core::{Result, Tensor};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Logit of the initial keep / 3D probability (sigmoid(2) ≈ 0.88).
const POLICY_BIAS: f32 = 2.0;

fn normal(rng: &mut ChaCha8Rng, n: usize, std: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            // Box–Muller.
            let u1: f32 = rng.random_range(f32::EPSILON..1.0);
            let u2: f32 = rng.random_range(0.0..1.0);
            std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect()
}

/// The initial value of parameter `name` of `shape`.
fn initial(name: &str, dims: &[usize], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n: usize = dims.iter().product();
    let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
    let fill = |v: f32| vec![v; n];
    if name.ends_with("running_var") {
        return fill(1.0);
    }
    if name.ends_with("running_mean") {
        return fill(0.0);
    }
    if name.starts_with("selection.") && name.ends_with(".bias") {
        return fill(POLICY_BIAS);
    }
    if name == "temporal_policy.Tconv.6.weight" {
        return fill(0.0);
    }
    if name == "spatial_policy.encoder.9.weight" {
        return normal(rng, n, 0.01);
    }
    if dims.len() == 1 {
        // BatchNorm γ = 1, every bias 0.
        return fill(if name.ends_with("weight") { 1.0 } else { 0.0 });
    }
    let head = name.contains("classifiers.") || name.starts_with("selection.");
    let std = if head {
        (1.0 / fan_in as f32).sqrt()
    } else {
        (2.0 / fan_in as f32).sqrt()
    };
    normal(rng, n, std)
}

/// Sets every variable of `map` from `seed`, in name order (so the result does not depend on
/// the order the networks were built in).
pub fn initialise(map: &VarMap, seed: u64) -> Result<()> {
    let data = map
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let values = initial(name, &dims, &mut rng);
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}
