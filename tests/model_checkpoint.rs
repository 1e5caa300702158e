//! Checkpoints as the official training code saves them (DataParallel, `{'epoch', 'state_dict'}`
//! in a torch zip), read without executing pickle code; malicious and broken files refused with
//! a clear error.

mod common;

use adalens::model::backbones::mobilenet_v2::MobileNetV2;
use adalens::model::backbones::resnet::{Block, ResNet};
use adalens::model::checkpoint::{CheckpointError, StateDict};
use candle_core::DType;

use common::{max_rel_err as max_rel, model_fixture as fixture};

#[test]
fn pth_tar_equals_safetensors_and_runs_the_network() {
    let pth = StateDict::load(fixture("mobilenet_v2_w010.pth.tar")).unwrap();
    let st = StateDict::load(fixture("mobilenet_v2_w010.safetensors")).unwrap();
    assert_eq!((pth.format, st.format), ("pytorch", "safetensors"));
    // `module.` is gone and the same tensors are there (num_batches_tracked included).
    assert!(pth.names().all(|n| !n.starts_with("module.")));
    let a: Vec<&str> = pth.names().collect();
    let b: Vec<&str> = st.names().collect();
    assert_eq!(a, b);
    for (name, t) in &st.tensors {
        let u = &pth.tensors[name];
        assert_eq!(t.dims(), u.dims(), "{name}");
        if t.dtype() == DType::F32 {
            assert_eq!(max_rel(u, t), 0.0, "{name}");
        }
    }
    let net = MobileNetV2::new(
        0.1,
        Some(10),
        pth.var_builder(DType::F32, &common::device()),
    )
    .unwrap();
    let io = candle_core::safetensors::load(
        fixture("mobilenet_v2_w010_io.safetensors"),
        &common::device(),
    )
    .unwrap();
    let (f, _) = net.features_and_pooled(&io["input"]).unwrap();
    assert!(max_rel(&f, &io["features"]) < 1e-4);
}

#[test]
fn resnet_from_pth_tar() {
    let sd = StateDict::load(fixture("resnet_bottleneck_base6.pth.tar")).unwrap();
    let net = ResNet::new(
        Block::Bottleneck,
        [2, 1, 1, 1],
        6.0 / 64.0,
        Some(10),
        sd.var_builder(DType::F32, &common::device()),
    )
    .unwrap();
    let io = candle_core::safetensors::load(
        fixture("resnet_bottleneck_base6_io.safetensors"),
        &common::device(),
    )
    .unwrap();
    let logits = candle_core::Module::forward(&net, &io["input"]).unwrap();
    assert!(max_rel(&logits, &io["logits"]) < 1e-4);
}

#[test]
fn a_pickle_that_would_run_os_system_is_refused() {
    let e = StateDict::load(fixture("evil.pth")).unwrap_err();
    assert!(matches!(e, CheckpointError::Refused { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("system"), "{msg}");
}

#[test]
fn broken_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = StateDict::load(dir.path().join("missing.pth")).unwrap_err();
    assert!(matches!(e, CheckpointError::NotFound(_)), "{e}");
    let text = dir.path().join("notes.pth");
    std::fs::write(&text, "not a checkpoint").unwrap();
    let e = StateDict::load(&text).unwrap_err();
    assert!(matches!(e, CheckpointError::UnknownFormat { .. }), "{e}");
    assert!(e.to_string().contains("text"), "{e}");
    let bytes = std::fs::read(fixture("mobilenet_v2_w010.pth.tar")).unwrap();
    let cut = dir.path().join("cut.pth.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = StateDict::load(&cut).unwrap_err();
    assert!(matches!(e, CheckpointError::Archive { .. }), "{e}");
    // Corrupted storage bytes are caught by the CRC check, not turned into weights.
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let corrupt = dir.path().join("corrupt.pth.tar");
    std::fs::write(&corrupt, &bad).unwrap();
    assert!(StateDict::load(&corrupt).is_err());
}

#[test]
fn a_network_wider_than_the_checkpoint_is_an_error_not_random_weights() {
    let sd = StateDict::load(fixture("mobilenet_v2_w010.pth.tar")).unwrap();
    let e =
        MobileNetV2::new(1.0, Some(10), sd.var_builder(DType::F32, &common::device())).unwrap_err();
    assert!(e.to_string().contains("shape"), "{e}");
}

#[test]
fn official_adafocus_mobilenet_names_load_the_same_network() {
    use adalens::model::backbones::mobilenet_v2::Naming;
    // Rename the fixture's torchvision keys to the official AdaFocus ones with the mapping the
    // fixture script recorded (names do not depend on the width).
    let map: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("mobilenet_v2_official_keys.json")).unwrap(),
    )
    .unwrap();
    let to_official: std::collections::HashMap<String, String> = map["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["torchvision"].as_str().unwrap().to_string(),
                k["official"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sd = StateDict::load(fixture("mobilenet_v2_w010.safetensors")).unwrap();
    let renamed: std::collections::BTreeMap<String, candle_core::Tensor> = sd
        .tensors
        .iter()
        .map(|(k, v)| (to_official[k].clone(), v.clone()))
        .collect();
    assert!(
        renamed.contains_key("features.2.conv.6.weight")
            && renamed.contains_key("classifier.weight")
    );
    sd.tensors = renamed;
    let vb = sd.var_builder(DType::F32, &common::device());
    let net = MobileNetV2::with_naming(0.1, Some(10), Naming::AdaFocus, vb).unwrap();
    let io = candle_core::safetensors::load(
        fixture("mobilenet_v2_w010_io.safetensors"),
        &common::device(),
    )
    .unwrap();
    let logits = candle_core::Module::forward(&net, &io["input"]).unwrap();
    assert!(max_rel(&logits, &io["logits"]) < 1e-4);
    // and torchvision naming on official keys fails, naming a missing tensor
    let e =
        MobileNetV2::new(0.1, Some(10), sd.var_builder(DType::F32, &common::device())).unwrap_err();
    assert!(
        e.to_string().contains("features.1.conv.0.0.weight")
            || e.to_string().contains("cannot find"),
        "{e}"
    );
}
