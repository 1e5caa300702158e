//! The 3D backbone against PyTorch's own conv3d (scripts/make_resnet3d_fixture.py): SlowOnly and
//! I3D layouts at tiny width, loaded from a PySlowFast-style `{'model_state'}` file and from
//! safetensors, with all stages 3D, all 2D, mixed, and with frames dropped from the clip. Logits,
//! pooled features and FLOPs must match; FLOPs of the full R50s match the hooks' counts.

mod common;

use adalens::model::backbones::resnet3d::{Preset, ResNet3d, ResNet3dSpec};
use adalens::model::checkpoint::StateDict;
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use common::{max_rel_err, model_fixture as fixture};
use serde_json::Value;

fn io() -> (std::collections::HashMap<String, Tensor>, Value) {
    let path = fixture("resnet3d_tiny_io.safetensors");
    let tensors = candle_core::safetensors::load(&path, &common::device()).unwrap();
    let sd = StateDict::load(&path).unwrap();
    let cases = serde_json::from_str(&sd.metadata["cases"]).unwrap();
    (tensors, cases)
}

fn tiny(preset: Preset) -> ResNet3dSpec {
    ResNet3dSpec {
        preset,
        width: 4,
        layers: [1, 2, 2, 2],
    }
}

/// N×C×T×H×W (PyTorch) → N×T×C×H×W (adalens' clips), keeping the frames listed.
fn clips(input: &Tensor, kept: &Value) -> Tensor {
    let x = input
        .permute((0, 2, 1, 3, 4))
        .unwrap()
        .contiguous()
        .unwrap();
    let x = match kept.as_array() {
        Some(k) => {
            let idx: Vec<u32> = k.iter().map(|v| v.as_u64().unwrap() as u32).collect();
            x.index_select(&Tensor::new(idx.as_slice(), &common::device()).unwrap(), 1)
                .unwrap()
        }
        None => x,
    };
    x.contiguous().unwrap()
}

fn check_preset(preset: Preset, name: &str, vb: VarBuilder) {
    let (io, cases) = io();
    let net = ResNet3d::new(tiny(preset), Some(5), vb).unwrap();
    let meta = &cases[name];
    let stages: Vec<usize> = meta["adaptive_stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(
        net.spec().adaptive_stages(),
        stages,
        "{name}: adaptive stages"
    );
    for case in meta["cases"].as_array().unwrap() {
        let cname = case["name"].as_str().unwrap();
        let decisions: Vec<bool> = case["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64() == Some(1))
            .collect();
        let x = clips(&io["input"], &case["kept"]);
        let (_, pooled) = net.features_and_pooled(&x, &decisions).unwrap();
        let logits = net.forward(&x, &decisions).unwrap();
        for (what, ours, key) in [("pooled", &pooled, "pooled"), ("logits", &logits, "logits")] {
            let e = max_rel_err(ours, &io[&format!("{name}_{cname}_{key}")]);
            assert!(e < 1e-4, "{name} {cname} {what}: relative error {e:.2e}");
        }
        let t = x.dim(1).unwrap();
        let flops = net.flops(t, (48, 48), &decisions).unwrap();
        assert_eq!(
            flops.total,
            case["flops"].as_u64().unwrap(),
            "{name} {cname}: FLOPs"
        );
    }
}

fn safetensors_weights(file: &str) -> VarBuilder<'static> {
    // SAFETY: the fixture file is not modified while mapped.
    unsafe {
        VarBuilder::from_mmaped_safetensors(&[fixture(file)], DType::F32, &common::device())
            .unwrap()
    }
}

#[test]
fn slow_only_matches_pytorch_conv3d() {
    check_preset(
        Preset::SlowOnly,
        "slow_only",
        safetensors_weights("resnet3d_slow_only_tiny.safetensors"),
    );
}

#[test]
fn i3d_matches_pytorch_conv3d() {
    check_preset(
        Preset::I3d,
        "i3d",
        safetensors_weights("resnet3d_i3d_tiny.safetensors"),
    );
}

/// The PySlowFast-style file (`torch.save({'model_state': …})`, `.pyth`) gives the same numbers.
#[test]
fn pyslowfast_checkpoint_loads_as_it_is() {
    for (preset, name) in [(Preset::SlowOnly, "slow_only"), (Preset::I3d, "i3d")] {
        let sd = StateDict::load(fixture(&format!("resnet3d_{name}_tiny.pyth"))).unwrap();
        assert!(sd.tensors.contains_key("s1.pathway0_stem.conv.weight"));
        check_preset(preset, name, sd.var_builder(DType::F32, &common::device()));
    }
}

/// A clip of a single kept frame runs (I3D's temporal pool lets it through) and the FLOPs
/// follow the frame count.
#[test]
fn one_frame_clips_run_and_cost_less() {
    let net = ResNet3d::new(
        tiny(Preset::I3d),
        Some(5),
        safetensors_weights("resnet3d_i3d_tiny.safetensors"),
    )
    .unwrap();
    let x = Tensor::randn(0f32, 1.0, (1, 1, 3, 48, 48), &common::device()).unwrap();
    let all3d = [true; 5];
    let logits = net.forward(&x, &all3d).unwrap();
    assert_eq!(logits.dims(), [1, 5]);
    let one = net.flops(1, (48, 48), &all3d).unwrap().total;
    let eight = net.flops(8, (48, 48), &all3d).unwrap().total;
    assert!(one < eight / 4, "{one} vs {eight}");
    let err = net.forward(&x, &[true; 3]).unwrap_err().to_string();
    assert!(
        err.contains("3 stage decisions") && err.contains("5 adaptive"),
        "{err}"
    );
}

/// SlowOnly-R50 and I3D-R50 (PySlowFast layouts, 400 classes) on 8 and 16 frames of 224², all
/// 3D and all 2D, equal the PyTorch hooks' counts.
#[test]
fn r50_flops_equal_the_pytorch_hooks() {
    let text = std::fs::read_to_string(fixture("resnet3d_flops.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    for (preset, name, k) in [(Preset::SlowOnly, "slow_only", 2), (Preset::I3d, "i3d", 5)] {
        let vb = VarBuilder::zeros(DType::F32, &common::device());
        let net = ResNet3d::new(ResNet3dSpec::r50(preset), Some(400), vb).unwrap();
        assert_eq!(net.spec().adaptive_stages().len(), k, "{name}: K");
        for frames in [8, 16] {
            for (mode, on) in [("all3d", true), ("all2d", false)] {
                let ours = net.flops(frames, (224, 224), &vec![on; k]).unwrap().total;
                let key = format!("{name}_{frames}_{mode}");
                assert_eq!(ours, reference["flops"][&key].as_u64().unwrap(), "{key}");
            }
        }
    }
}
