//! Patch extraction against PyTorch's affine_grid + grid_sample (fixture from
//! scripts/make_model_fixtures.py), including boxes that leave the frame.

mod common;

use adalens::model::patch::{affine_patches, region_from_action, theta_for_region};
use candle_core::Tensor;
use common::{max_abs, max_rel_err, model_fixture};

#[test]
fn patches_match_grid_sample_and_the_official_box_formula() {
    let path = model_fixture("grid_sample.safetensors");
    let t = candle_core::safetensors::load(&path, &common::device()).unwrap();
    let (input, theta_ref, actions, boxes) = (&t["input"], &t["theta"], &t["actions"], &t["boxes"]);
    let (b, _, h, w) = input.dims4().unwrap();
    // The box formula: actions → region → theta equal the fixture's.
    let acts: Vec<Vec<f32>> = actions.to_vec2().unwrap();
    let want_boxes: Vec<Vec<f32>> = boxes.to_vec2().unwrap();
    let mut thetas = Vec::new();
    for (a, want) in acts.iter().zip(&want_boxes) {
        let r = region_from_action([a[0], a[1], a[2], a[3]], (h, w), 24, 12.0, 56.0);
        for (got, want) in [r.x1, r.y1, r.x2, r.y2].iter().zip(want) {
            assert!((got - want).abs() < 1e-4, "box {:?} vs {want:?}", r);
        }
        thetas.extend(theta_for_region(r, (h, w)).concat());
    }
    let theta = Tensor::from_vec(thetas, (b, 2, 3), &common::device()).unwrap();
    let dt = max_abs(&(&theta - theta_ref).unwrap());
    assert!(dt < 1e-6, "theta differs by {dt}");
    // The sampling itself, from the fixture's theta.
    let out = affine_patches(input, theta_ref, (24, 24)).unwrap();
    let want = &t["output"];
    assert_eq!(out.dims(), want.dims());
    let err = max_rel_err(&out, want);
    assert!(err < 1e-5, "patches differ: relative {}", err);
}
