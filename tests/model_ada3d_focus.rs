//! The `ada3d_focus` arch against its PyTorch reference (scripts/make_ada3d_focus_fixture.py):
//! glance policies (m, n, temporal weights, boxes), the kept frames, 3D stages, cube centres
//! and frames (exact) for two threshold pairs from one cached glance, every step's logits; and
//! deployment mode, which stops at the exit step with the inspection mode's prediction there
//! and the FLOPs of the steps it ran.

mod common;

use adalens::model::ada3d_focus::Ada3dFocus;
use adalens::model::load::{LoadedModel, Network};
use candle_core::{DType, Tensor};
use common::{assert_close, max_rel_err, model_fixture as fixture, open_model};

fn net(model: &LoadedModel) -> &Ada3dFocus {
    match &model.network {
        Network::Ada3dFocus(n) => n,
        other => panic!("expected ada3d_focus, got {other:?}"),
    }
}

fn io(name: &str) -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(
        fixture(&format!("{name}_io.safetensors")),
        &common::device(),
    )
    .unwrap()
}

/// (u8 / 255 − mean) / std, in PyTorch's operation order.
fn frames(io: &std::collections::HashMap<String, Tensor>, net: &Ada3dFocus) -> Tensor {
    let dev = common::device();
    let c = &net.config;
    let x = io["frames_u8"].to_dtype(DType::F32).unwrap();
    let x = x
        .broadcast_div(&Tensor::new(255f32, &dev).unwrap())
        .unwrap();
    let mean = Tensor::new(&c.mean, &dev)
        .unwrap()
        .reshape((1, 3, 1, 1))
        .unwrap();
    let std = Tensor::new(&c.std, &dev)
        .unwrap()
        .reshape((1, 3, 1, 1))
        .unwrap();
    x.broadcast_sub(&mean).unwrap().broadcast_div(&std).unwrap()
}

fn as_usize(t: &Tensor) -> Vec<usize> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as usize)
        .collect()
}

/// Everything against fixture `name`'s PyTorch outputs.
fn check_model(model: &LoadedModel, name: &str) {
    let net = net(model);
    let io = io(name);
    let x = frames(&io, net);
    let dev = common::device();
    // One glance for both threshold pairs (inspection mode's cache).
    let cache = net.glance(&x).unwrap();
    let v1 = |v: &[f32]| Tensor::new(v, &dev).unwrap();
    assert_close("m", &v1(&cache.policy.frame_probs), &io["m"]);
    assert_close("n", &v1(&cache.policy.stage_probs), &io["n"]);
    assert_close(
        "temporal weights",
        &v1(&cache.temporal_weights),
        &io["temporal_weights_t"],
    );
    let actions: Vec<f32> = cache.actions.iter().flatten().copied().collect();
    assert_close(
        "actions",
        &v1(&actions),
        &io["actions"].flatten_all().unwrap(),
    );
    for (case, tau_f, tau_s) in [("a", 0.5, 0.5), ("b", 0.3, 0.7)] {
        let plan = net.plan(&cache, tau_f, tau_s);
        let kept = io[&format!("{case}_kept")].to_vec1::<f32>().unwrap();
        let want: Vec<usize> = (0..kept.len()).filter(|&i| kept[i] == 1.0).collect();
        assert_eq!(plan.kept, want, "case {case}: kept");
        let stages = io[&format!("{case}_stages")].to_vec1::<f32>().unwrap();
        let want: Vec<bool> = stages.iter().map(|&v| v == 1.0).collect();
        assert_eq!(plan.stages_3d, want, "case {case}: stages");
        let centres: Vec<usize> = plan.cubes.iter().map(|c| c.centre).collect();
        assert_eq!(
            centres,
            as_usize(&io[&format!("{case}_centres")]),
            "case {case}: centres"
        );
        let frames: Vec<usize> = plan.cubes.iter().flat_map(|c| c.frames.clone()).collect();
        assert_eq!(
            frames,
            as_usize(&io[&format!("{case}_cube_frames")]),
            "case {case}: cube frames"
        );
        let boxes: Vec<f32> = plan
            .cubes
            .iter()
            .flat_map(|c| [c.region.x1, c.region.y1, c.region.x2, c.region.y2])
            .collect();
        let want = io[&format!("{case}_boxes")].flatten_all().unwrap();
        let d = (v1(&boxes) - want).unwrap().abs().unwrap().max(0).unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-3, "case {case}: boxes");
        let out = net.run_plan(&x, &cache, plan).unwrap();
        // End to end against PyTorch's float64 run: within 1e-4, or 5× PyTorch float32's own
        // distance from it where the glance's float32 noise makes that larger (as for
        // uni_adafocus; tests/fixtures/model/README.md).
        let logits = Tensor::new(out.step_logits.clone(), &dev).unwrap();
        let f64_ref = io[&format!("{case}_step_logits_f64")]
            .to_dtype(DType::F32)
            .unwrap();
        let torch_f32 = max_rel_err(&io[&format!("{case}_step_logits")], &f64_ref);
        let e = max_rel_err(&logits, &f64_ref);
        assert!(
            e <= (5.0 * torch_f32).max(1e-4),
            "case {case} step logits: {e:.2e} from float64 (PyTorch float32: {torch_f32:.2e})"
        );
        let g = &out.step_gflops;
        assert!(g.windows(2).all(|w| w[1] > w[0]), "case {case}: {g:?}");
    }
}

#[test]
fn safetensors_matches_pytorch() {
    check_model(
        &open_model(fixture("ada3d_focus_tiny.safetensors")),
        "ada3d_focus_tiny",
    );
}

/// The variant whose spatial policy reads `features.6` (6×6 at a 48² glance) instead of the
/// last map (2×2): the actions, and so the boxes and every step, still match PyTorch.
#[test]
fn spatial_policy_on_an_earlier_block_matches_pytorch() {
    let model = open_model(fixture("ada3d_focus_tiny_tap.safetensors"));
    let c = &net(&model).config;
    assert_eq!(c.spatial_block, Some(6));
    assert_eq!(c.spatial_map(), (8, 6));
    check_model(&model, "ada3d_focus_tiny_tap");
}

/// `torch.save({'epoch', 'state_dict'})` of the DataParallel model, config from the sidecar.
#[test]
fn pth_tar_matches_pytorch() {
    let model = open_model(fixture("ada3d_focus_tiny.pth.tar"));
    assert!(
        model.config_source.starts_with("sidecar"),
        "{}",
        model.config_source
    );
    check_model(&model, "ada3d_focus_tiny");
}

/// Deployment stops at the first step at or under its entropy threshold, with the inspection
/// mode's prediction at that step and the FLOPs of the steps it ran.
#[test]
fn deployment_stops_at_the_exit_step() {
    let model = open_model(fixture("ada3d_focus_tiny.safetensors"));
    let net = net(&model);
    let x = frames(&io("ada3d_focus_tiny"), net);
    let (tau_f, tau_s) = (0.3, 0.7);
    let cache = net.glance(&x).unwrap();
    let full = net
        .run_plan(&x, &cache, net.plan(&cache, tau_f, tau_s))
        .unwrap();
    let steps = full.step_logits.len();
    assert_eq!(steps, 4);
    let entropy =
        |row: &[f32]| adalens::decision::trace::StepPrediction::from_logits(0, row, 1, 0.0).entropy;
    for exit in 0..steps {
        // Thresholds nothing meets before `exit`, and just above step `exit`'s entropy there.
        let mut eta = vec![-1f32; steps];
        eta[exit] = entropy(&full.step_logits[exit]) + 1e-3;
        let run = net.deploy(&x, tau_f, tau_s, &eta).unwrap();
        assert_eq!(run.exit_step, exit);
        assert_eq!(run.step_logits.len(), exit + 1);
        let ours = Tensor::new(run.step_logits.clone(), &common::device()).unwrap();
        let want = Tensor::new(full.step_logits[..=exit].to_vec(), &common::device()).unwrap();
        let e = max_rel_err(&ours, &want);
        assert!(e < 1e-5, "exit {exit}: {e:.2e}");
        assert!((run.gflops - full.step_gflops[exit]).abs() < 1e-12);
    }
    // No threshold met: the last step.
    let run = net.deploy(&x, tau_f, tau_s, &[]).unwrap();
    assert_eq!(run.exit_step, steps - 1);
}

/// A clip whose frame policy keeps fewer frames than N cubes gets one cube per kept frame,
/// and a config that does not fit the input is an error, not a panic.
#[test]
fn fewer_kept_frames_fewer_cubes_and_wrong_input_is_an_error() {
    let model = open_model(fixture("ada3d_focus_tiny.safetensors"));
    let net = net(&model);
    let x = frames(&io("ada3d_focus_tiny"), net);
    let cache = net.glance(&x).unwrap();
    let plan = net.plan(&cache, 0.99, 0.5);
    assert_eq!(plan.kept.len(), 1);
    assert_eq!(plan.cubes.len(), 1);
    assert_eq!(plan.cubes[0].frames, plan.kept);
    let out = net.run_plan(&x, &cache, plan).unwrap();
    assert_eq!(out.step_logits.len(), 2);
    let small = x.narrow(0, 0, 4).unwrap();
    let err = net.glance(&small).unwrap_err().to_string();
    assert!(err.contains("this checkpoint takes 8×3×96×96"), "{err}");
}

/// A `spatial_block` past the glance's last block, or one whose map does not fit the weights,
/// is a readable error naming what is wrong.
#[test]
fn a_wrong_spatial_block_is_a_readable_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("ada3d_focus_tiny_tap.json")).unwrap();
    for (block, want) in [(19, "spatial_block 19"), (13, "spatial_policy")] {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["spatial_block"] = block.into();
        let config = dir.path().join(format!("block{block}.json"));
        std::fs::write(&config, v.to_string()).unwrap();
        let err = LoadedModel::open(
            fixture("ada3d_focus_tiny_tap.safetensors"),
            Some(&config),
            &adalens::model::load::ConfigOverrides::default(),
            &common::device(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains(want), "block {block}: {err:?}");
    }
}
