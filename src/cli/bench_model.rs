//! `adalens bench model`: the forward pass of the two networks of the paper-scale
//! uni_adafocus config — MobileNetV2 1.0 glance on 16×224² and ResNet-50 local on 16 patches of
//! 128² — with random weights, timed as scripts/bench_model_peer.py times PyTorch eager.

use std::time::Instant;

use crate::model::backbones::mobilenet_v2::MobileNetV2;
use crate::model::backbones::resnet::{depth_layout, ResNet};
use crate::model::device;
use candle_core::{DType, Tensor};
use candle_nn::{VarBuilder, VarMap};

#[derive(clap::Args, Debug)]
pub struct BenchModelArgs {
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    #[arg(long, default_value_t = 224)]
    pub glance_size: usize,
    #[arg(long, default_value_t = 128)]
    pub patch_size: usize,
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    #[arg(long)]
    pub cpu: bool,
    #[arg(long)]
    pub json: bool,
}

/// One warm-up run, then the median of `repeat` runs, in seconds.
pub(super) fn time(
    repeat: usize,
    mut f: impl FnMut() -> candle_core::Result<()>,
) -> anyhow::Result<f64> {
    f()?; // warm-up
    let mut runs = Vec::new();
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        f()?;
        runs.push(t.elapsed());
    }
    Ok(super::bench::median(runs).as_secs_f64())
}

pub fn run(a: &BenchModelArgs) -> anyhow::Result<()> {
    let choice = device::select(a.cpu);
    let dev = &choice.device;
    let vars = VarMap::new();
    // Random (Kaiming-style) weights: the same arithmetic as trained ones.
    let vb = VarBuilder::from_varmap(&vars, DType::F32, dev);
    let glance = MobileNetV2::new(1.0, None, vb.pp("glance"))?;
    let (block, layers) = depth_layout(50).ok_or_else(|| anyhow::anyhow!("no ResNet-50 layout"))?;
    let local = ResNet::new(block, layers, 1.0, None, vb.pp("local"))?;
    let frames = Tensor::randn(0f32, 1.0, (a.frames, 3, a.glance_size, a.glance_size), dev)?;
    let patches = Tensor::randn(0f32, 1.0, (a.frames, 3, a.patch_size, a.patch_size), dev)?;
    let sync = |t: Tensor| -> candle_core::Result<()> {
        // Reading one value back waits for the device.
        t.flatten_all()?.get(0)?.to_scalar::<f32>().map(|_| ())
    };
    let g = time(a.repeat, || sync(glance.features_and_pooled(&frames)?.1))?;
    let l = time(a.repeat, || sync(local.features_and_pooled(&patches)?.1))?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if a.json {
        println!(
            "{}",
            serde_json::json!({"device": choice.description, "threads": threads,
                "glance_s": g, "local_s": l, "total_s": g + l,
                "glance": format!("MobileNetV2 1.0, {}x{}²", a.frames, a.glance_size),
                "local": format!("ResNet-50, {}x{}²", a.frames, a.patch_size)})
        );
    } else {
        println!("device  {} ({threads} threads)", choice.description);
        println!(
            "glance  MobileNetV2 1.0, {}×{}²: {:.3} s",
            a.frames, a.glance_size, g
        );
        println!(
            "local   ResNet-50, {}×{}²: {:.3} s",
            a.frames, a.patch_size, l
        );
        println!("total   {:.3} s (median of {})", g + l, a.repeat);
    }
    Ok(())
}
