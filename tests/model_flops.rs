//! FLOPs of the backbones equal the official Uni-AdaFocus reference figures exactly
//! (docs/ARCHITECTURE.md §5): conv multiply-adds plus one per BatchNorm channel, no classifier.

use adalens::model::backbones::mobilenet_v2::{make_divisible, MobileNetV2};
use adalens::model::backbones::resnet::{depth_layout, ResNet};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;

fn structure_only() -> VarBuilder<'static> {
    // Weights do not matter for counting; zeros build the same layers.
    VarBuilder::zeros(DType::F32, &Device::Cpu)
}

#[test]
fn mobilenet_v2_at_224_matches_the_official_figure() {
    let net = MobileNetV2::new(1.0, None, structure_only()).unwrap();
    let f = net.flops((224, 224));
    assert_eq!(f.total, 299_511_328, "{:.9} GFLOPs", f.gflops());
    assert_eq!(net.feature_dim(), 1280);
    // 52 convolutions, each followed by a BatchNorm
    assert_eq!(f.layers.len(), 52);
}

#[test]
fn mobilenet_v2_at_112_is_the_ada3d_selection_cost() {
    // Ada3D §4.1: "0.08 GFLOPs per frame" at 112×112.
    let net = MobileNetV2::new(1.0, None, structure_only()).unwrap();
    let g = net.flops((112, 112)).gflops();
    assert!((g - 0.08).abs() < 0.01, "{g}");
}

#[test]
fn resnet50_patches_match_the_official_figures() {
    let (block, layers) = depth_layout(50).unwrap();
    let net = ResNet::new(block, layers, 1.0, None, structure_only()).unwrap();
    for (side, want) in [
        (96, 750_725_056u64),
        (128, 1_334_601_664),
        (160, 2_085_300_160),
        (192, 3_002_820_544),
    ] {
        assert_eq!(net.flops((side, side)).total, want, "ResNet-50 on {side}²");
    }
    assert_eq!(net.feature_dim(), 2048);
}

#[test]
fn torchvision_make_divisible() {
    assert_eq!(make_divisible(32.0 * 0.5, 8), 16);
    assert_eq!(make_divisible(1280.0, 8), 1280);
    assert_eq!(make_divisible(24.0 * 0.75, 8), 24); // 18 → 16 is below 90%, so 24
    assert_eq!(make_divisible(16.0 * 0.35, 8), 8);
}

#[test]
fn uni_adafocus_steps_match_the_official_table() {
    use adalens::model::backbones::mobilenet_v2::Naming;
    use adalens::model::config::ModelConfig;
    use adalens::model::uni_adafocus::UniAdaFocus;
    let table: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/model/flops.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for patch in [96usize, 128, 160, 192] {
        // The official ActivityNet config: 200 classes, 16 glance frames, up to 16 patches.
        let cfg: ModelConfig = serde_json::from_value(serde_json::json!({
            "arch": "uni_adafocus", "num_classes": 200, "patch_size": patch
        }))
        .unwrap();
        let ModelConfig::UniAdaFocus(cfg) = cfg else {
            panic!("uni_adafocus config expected")
        };
        let net = UniAdaFocus::new(cfg, Naming::AdaFocus, structure_only()).unwrap();
        let flops = net.flops();
        let steps = &table["uni_adafocus_per_step"]["by_patch_size"][patch.to_string()];
        let counts: Vec<u64> = steps["count"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let official: Vec<f64> = steps["official_gflops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(counts.len(), 17);
        for (k, (&count, &off)) in counts.iter().zip(&official).enumerate() {
            assert_eq!(flops.step_total(k), count, "patch {patch}, {k} patches");
            let g = flops.step_total(k) as f64 / 1e9;
            assert!(
                (g - off).abs() < 1e-6,
                "patch {patch}, k={k}: {g} vs official {off}"
            );
        }
        assert_eq!(flops.spatial_policy, 822_485_376);
        assert_eq!(flops.temporal_policy, 4_129_920);
    }
}
