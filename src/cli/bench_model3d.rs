//! `adalens bench model3d`: SlowOnly-R50 (PySlowFast layout, random weights) on one clip of
//! 8×224² with all stages 3D, all stages 2D, and half the frames kept — timed as
//! scripts/bench_model3d_peer.py times PyTorch's conv3d — with each case's FLOPs, so the
//! savings can be compared with the time they buy.

use crate::model::backbones::resnet3d::{Preset, ResNet3d, ResNet3dSpec};
use crate::model::device;
use candle_core::{DType, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::bench_model::time;

#[derive(clap::Args, Debug)]
pub struct BenchModel3dArgs {
    #[arg(long, default_value_t = 8)]
    pub frames: usize,
    #[arg(long, default_value_t = 224)]
    pub size: usize,
    /// `slow_only` or `i3d`.
    #[arg(long, default_value = "slow_only")]
    pub preset: String,
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    #[arg(long)]
    pub cpu: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &BenchModel3dArgs) -> anyhow::Result<()> {
    let preset = match a.preset.as_str() {
        "slow_only" => Preset::SlowOnly,
        "i3d" => Preset::I3d,
        other => anyhow::bail!("unknown preset {other:?} (slow_only or i3d)"),
    };
    let choice = device::select(a.cpu);
    let dev = &choice.device;
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, dev);
    let net = ResNet3d::new(ResNet3dSpec::r50(preset), Some(400), vb)?;
    let k = net.spec().adaptive_stages().len();
    let clip = Tensor::randn(0f32, 1.0, (1, a.frames, 3, a.size, a.size), dev)?;
    let half = clip.narrow(1, 0, (a.frames / 2).max(1))?.contiguous()?;
    let cases = [
        ("all_3d", &clip, vec![true; k]),
        ("all_2d", &clip, vec![false; k]),
        ("half_frames", &half, vec![true; k]),
    ];
    let mut rows = Vec::new();
    for (name, x, stages) in &cases {
        let seconds = time(a.repeat, || {
            let y = net.forward(x, stages)?;
            y.flatten_all()?.get(0)?.to_scalar::<f32>().map(|_| ())
        })?;
        let gflops = net.flops(x.dim(1)?, (a.size, a.size), stages)?.gflops();
        rows.push((*name, seconds, gflops));
    }
    if a.json {
        let cases: serde_json::Map<_, _> = rows
            .iter()
            .map(|(n, s, g)| (n.to_string(), serde_json::json!({"s": s, "gflops": g})))
            .collect();
        println!(
            "{}",
            serde_json::json!({"device": choice.description, "preset": a.preset,
                "frames": a.frames, "size": a.size, "cases": cases})
        );
    } else {
        println!("device  {}", choice.description);
        for (n, s, g) in &rows {
            println!("{n:<12} {s:.3} s  {g:.2} GFLOPs");
        }
    }
    Ok(())
}
