//! Conv3d built from conv2d against PyTorch's own conv3d (the independent check of the
//! decomposition), on every case of tests/fixtures/model/conv3d.safetensors.

mod common;

use adalens::model::conv3d::Conv3d;
use candle_core::Tensor;
use common::{max_rel_err, model_fixture};

#[test]
fn conv3d_matches_torch_on_every_fixture_case() {
    let path = model_fixture("conv3d.safetensors");
    let tensors = candle_core::safetensors::load(&path, &common::device()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&meta.metadata().as_ref().unwrap()["cases"]).unwrap();
    assert!(cases.len() >= 10);
    let mut checked = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let arr = |k: &str| -> [usize; 3] {
            let v: Vec<usize> = case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            [v[0], v[1], v[2]]
        };
        let (stride, padding) = (arr("stride"), arr("padding"));
        let conv = Conv3d::new(
            tensors[&format!("{name}.weight")].clone(),
            tensors.get(&format!("{name}.bias")).cloned(),
            stride,
            padding,
        );
        let Ok(conv) = conv else {
            panic!("{name}: unsupported geometry {stride:?} {padding:?}");
        };
        let out = conv
            .forward(&tensors[&format!("{name}.input")], false)
            .unwrap();
        let want = &tensors[&format!("{name}.output")];
        assert_eq!(out.dims(), want.dims(), "{name}");
        let err = max_rel_err(&out, want);
        assert!(
            err < 1e-5,
            "{name} ({}): relative error {}",
            case["note"],
            err
        );
        checked += 1;
    }
    assert_eq!(checked, cases.len());
}

#[test]
fn centre_tap_is_a_2d_convolution_of_the_same_frames() {
    let dev = common::device();
    let x = Tensor::randn(0f32, 1.0, (1, 2, 5, 6, 6), &dev).unwrap();
    let w = Tensor::randn(0f32, 1.0, (3, 2, 3, 3, 3), &dev).unwrap();
    let conv = Conv3d::new(w.clone(), None, [1, 1, 1], [1, 1, 1]).unwrap();
    let y = conv.forward(&x, true).unwrap();
    assert_eq!(y.dims(), &[1, 3, 5, 6, 6]);
    // Frame 2 of the output is conv2d(frame 2, centre slice).
    let f2 = x
        .narrow(2, 2, 1)
        .unwrap()
        .squeeze(2)
        .unwrap()
        .contiguous()
        .unwrap();
    let k = w
        .narrow(2, 1, 1)
        .unwrap()
        .squeeze(2)
        .unwrap()
        .contiguous()
        .unwrap();
    let want = f2.conv2d(&k, 1, 1, 1, 1).unwrap();
    let got = y.narrow(2, 2, 1).unwrap().squeeze(2).unwrap();
    assert!(max_rel_err(&got, &want) < 1e-5);
    assert_eq!(conv.macs((5, 6, 6), true) * 3, conv.macs((5, 6, 6), false));
}
