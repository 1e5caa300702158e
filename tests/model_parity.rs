//! Backbones against PyTorch: torchvision networks with seeded weights and perturbed BatchNorm
//! statistics (scripts/make_model_fixtures.py), loaded from safetensors by their torchvision
//! names, must reproduce PyTorch's feature maps, pooled vectors and logits.

mod common;

use adalens::model::backbones::mobilenet_v2::MobileNetV2;
use adalens::model::backbones::resnet::{Block, ResNet};
use candle_core::{DType, Module, Tensor};
use candle_nn::VarBuilder;
use common::{assert_close, model_fixture as fixture};

fn weights(name: &str) -> VarBuilder<'static> {
    // SAFETY: the fixture file is not modified while mapped.
    unsafe {
        VarBuilder::from_mmaped_safetensors(&[fixture(name)], DType::F32, &common::device())
            .unwrap()
    }
}

fn io(name: &str) -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(name), &common::device()).unwrap()
}

/// Features, pooled vector and logits against the io fixture.
fn check_network(
    io_name: &str,
    features_and_pooled: impl Fn(&Tensor) -> (Tensor, Tensor),
    logits: impl Fn(&Tensor) -> Tensor,
) {
    let io = io(io_name);
    let (features, pooled) = features_and_pooled(&io["input"]);
    assert_close("features", &features, &io["features"]);
    assert_close("pooled", &pooled, &io["pooled"]);
    assert_close("logits", &logits(&io["input"]), &io["logits"]);
}

#[test]
fn mobilenet_v2_matches_pytorch() {
    let net = MobileNetV2::new(0.1, Some(10), weights("mobilenet_v2_w010.safetensors")).unwrap();
    check_network(
        "mobilenet_v2_w010_io.safetensors",
        |x| net.features_and_pooled(x).unwrap(),
        |x| net.forward(x).unwrap(),
    );
}

#[test]
fn resnet_basic_matches_pytorch() {
    let net = ResNet::new(
        Block::Basic,
        [1, 1, 1, 1],
        6.0 / 64.0,
        Some(10),
        weights("resnet_basic_base6.safetensors"),
    )
    .unwrap();
    check_network(
        "resnet_basic_base6_io.safetensors",
        |x| net.features_and_pooled(x).unwrap(),
        |x| net.forward(x).unwrap(),
    );
}

#[test]
fn resnet_bottleneck_matches_pytorch() {
    let net = ResNet::new(
        Block::Bottleneck,
        [2, 1, 1, 1],
        6.0 / 64.0,
        Some(10),
        weights("resnet_bottleneck_base6.safetensors"),
    )
    .unwrap();
    check_network(
        "resnet_bottleneck_base6_io.safetensors",
        |x| net.features_and_pooled(x).unwrap(),
        |x| net.forward(x).unwrap(),
    );
}

#[test]
fn a_missing_weight_is_an_error_naming_it() {
    // Asking for a wider network than the file holds must fail, not run with random weights.
    let err = MobileNetV2::new(0.5, Some(10), weights("mobilenet_v2_w010.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("features"), "{err}");
}
