//! The `ada3d` arch against its PyTorch reference (scripts/make_ada3d_fixture.py): selection
//! network policies m and n, greedy decisions for two threshold pairs (exact), the 3D network's
//! logits on the kept frames with the chosen stages, the multi-clip video prediction, FLOPs; and
//! a bare PySlowFast checkpoint opened as the `resnet3d` arch with nothing but its weights.

mod common;

use adalens::model::ada3d::Ada3d;
use adalens::model::checkpoint::StateDict;
use adalens::model::load::{ConfigOverrides, LoadedModel, Network};
use adalens::runner::{self, Input};
use candle_core::Tensor;
use common::{assert_close, model_fixture as fixture, open_model};
use serde_json::Value;

fn ada3d(model: &LoadedModel) -> &Ada3d {
    match &model.network {
        Network::Ada3d(net) => net,
        other => panic!("expected ada3d, got {other:?}"),
    }
}

fn io() -> (std::collections::HashMap<String, Tensor>, Value) {
    let path = fixture("ada3d_tiny_io.safetensors");
    let tensors = candle_core::safetensors::load(&path, &common::device()).unwrap();
    let meta = serde_json::from_str(&StateDict::load(&path).unwrap().metadata["cases"]).unwrap();
    (tensors, meta)
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2().unwrap()
}

fn check_model(model: &LoadedModel) {
    let net = ada3d(model);
    let (io, meta) = io();
    let clips = io["frames"].reshape((2, 8, 3, 48, 48)).unwrap();
    let policies = net.policies(&clips).unwrap();
    let m: Vec<Vec<f32>> = policies.iter().map(|p| p.frame_probs.clone()).collect();
    let n: Vec<Vec<f32>> = policies.iter().map(|p| p.stage_probs.clone()).collect();
    assert_close("m", &Tensor::new(m, &common::device()).unwrap(), &io["m"]);
    assert_close("n", &Tensor::new(n, &common::device()).unwrap(), &io["n"]);
    let selection = meta["selection_flops_per_clip"].as_u64().unwrap();
    for case in ["a", "b"] {
        let c = &meta[case];
        let tau_f = c["frame_threshold"].as_f64().unwrap() as f32;
        let tau_s = c["stage_threshold"].as_f64().unwrap() as f32;
        // Inspection mode: the cached policies, only the 3D network re-run.
        let runs = net.run_with(&clips, &policies, tau_f, tau_s).unwrap();
        let kept = rows(&io[&format!("{case}_kept")]);
        let stages = rows(&io[&format!("{case}_stages")]);
        for (i, run) in runs.iter().enumerate() {
            let want: Vec<usize> = (0..8).filter(|&t| kept[i][t] == 1.0).collect();
            assert_eq!(run.kept, want, "case {case} clip {i}: kept frames");
            let want: Vec<bool> = stages[i].iter().map(|&v| v == 1.0).collect();
            assert_eq!(run.stages_3d, want, "case {case} clip {i}: 3D stages");
            let flops = net.flops(run.kept.len(), &run.stages_3d).unwrap().total;
            let backbone = c["backbone_flops_per_clip"][i].as_u64().unwrap();
            assert_eq!(flops, selection + backbone, "case {case} clip {i}: FLOPs");
        }
        let logits: Vec<Vec<f32>> = runs.iter().map(|r| r.logits.clone()).collect();
        let logits = Tensor::new(logits, &common::device()).unwrap();
        assert_close(
            &format!("case {case} logits"),
            &logits,
            &io[&format!("{case}_logits")],
        );
    }
}

#[test]
fn ada3d_safetensors_matches_pytorch() {
    // Alone in a folder (no sidecar): the config comes from the file's metadata.
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ada3d.safetensors");
    std::fs::copy(fixture("ada3d_tiny.safetensors"), &ck).unwrap();
    let model = open_model(&ck);
    assert_eq!(model.config_source, "safetensors metadata");
    check_model(&model);
}

#[test]
fn ada3d_pyslowfast_file_with_sidecar_matches_pytorch() {
    let model = open_model(fixture("ada3d_tiny.pyth"));
    assert!(
        model.config_source.starts_with("sidecar"),
        "{}",
        model.config_source
    );
    check_model(&model);
}

/// `inspect` on preprocessed frames: two clips, each with its frames, stages and prediction;
/// the video prediction is the mean of the clips' softmax.
#[test]
fn inspection_trace_holds_every_clip() {
    let model = open_model(fixture("ada3d_tiny.safetensors"));
    let input = Input::from_tensor_file(&fixture("ada3d_tiny_io.safetensors"), &model).unwrap();
    assert_eq!((input.clips(), input.clip_len), (2, 8));
    let ins = runner::inspect(&model, input).unwrap();
    let (io, _) = io();
    let kept = rows(&io["a_kept"]);
    assert_eq!(ins.trace.arch, "ada3d");
    assert_eq!(ins.trace.clips.len(), 2);
    for (i, clip) in ins.trace.clips.iter().enumerate() {
        let ours: Vec<bool> = clip.frames.iter().map(|f| f.kept).collect();
        let want: Vec<bool> = kept[i].iter().map(|&v| v == 1.0).collect();
        assert_eq!(ours, want, "clip {i}");
        assert_eq!(clip.stages.len(), 5);
        assert_eq!(clip.steps.len(), 1);
        assert!(clip.frames.iter().all(|f| f.keep_prob.is_some()));
    }
    let video = io["a_video"].to_vec1::<f32>().unwrap();
    let best = ins.trace.video_prediction[0];
    let (want_class, want_p) = video
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    assert_eq!(best.class as usize, want_class);
    assert!(
        (best.prob - want_p).abs() < 1e-4,
        "{} vs {want_p}",
        best.prob
    );
}

/// A bare PySlowFast checkpoint with no config: arch `resnet3d`, preset, width, layers and
/// classes read from the weights; every frame kept, every stage 3D, PyTorch's numbers.
#[test]
fn bare_pyslowfast_checkpoint_opens_as_resnet3d() {
    let model = open_model(fixture("resnet3d_i3d_tiny.pyth"));
    assert_eq!(model.arch(), "resnet3d");
    assert_eq!(model.config_source, "inferred from the weights");
    let net = ada3d(&model);
    assert!(!net.has_selection());
    let path = fixture("resnet3d_tiny_io.safetensors");
    let io = candle_core::safetensors::load(&path, &common::device()).unwrap();
    let clips = io["input"]
        .permute((0, 2, 1, 3, 4))
        .unwrap()
        .contiguous()
        .unwrap();
    let (policies, runs) = net.forward(&clips).unwrap();
    assert!(policies.iter().all(|p| p.frame_probs == [1.0; 8]));
    assert!(runs
        .iter()
        .all(|r| r.kept.len() == 8 && r.stages_3d == [true; 5]));
    let logits: Vec<Vec<f32>> = runs.iter().map(|r| r.logits.clone()).collect();
    let logits = Tensor::new(logits, &common::device()).unwrap();
    assert_close("resnet3d logits", &logits, &io["i3d_all3d_logits"]);
}

/// A checkpoint whose 3D network is narrower than its config says is a key report, not a
/// network with random layers.
#[test]
fn a_wrong_backbone_width_is_a_key_error() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("x.safetensors");
    std::fs::copy(fixture("ada3d_tiny.safetensors"), &ck).unwrap();
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("ada3d_tiny.json")).unwrap())
            .unwrap();
    cfg["backbone"]["width"] = 8.into();
    std::fs::write(dir.path().join("x.json"), cfg.to_string()).unwrap();
    let err = LoadedModel::open(&ck, None, &ConfigOverrides::default(), &common::device())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shape mismatch")
            && err.contains("s1.pathway0_stem.bn.weight expected [8] found [4]"),
        "{err}"
    );
}

/// A flag the arch has no use for, a threshold that is not a number, and frames of the wrong
/// size are errors that say so.
#[test]
fn flags_and_frames_that_do_not_fit_are_named() {
    let open_with = |over: ConfigOverrides| {
        LoadedModel::open(fixture("ada3d_tiny.pyth"), None, &over, &common::device())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let err = open_with(ConfigOverrides {
        num_segments: Some(8),
        ..Default::default()
    });
    assert!(
        err.contains("--num-segments does not apply to the ada3d arch"),
        "{err}"
    );
    let err = open_with(ConfigOverrides {
        frame_threshold: Some(f32::NAN),
        ..Default::default()
    });
    assert!(err.contains("--frame-threshold must be a number"), "{err}");
    let err = open_with(ConfigOverrides {
        stage_threshold: Some(1.5),
        ..Default::default()
    });
    assert!(
        err.contains("stage_threshold 1.5 must be between 0 and 1"),
        "{err}"
    );

    let model = open_model(fixture("ada3d_tiny.pyth"));
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.safetensors");
    let frames = Tensor::zeros((8, 3, 16, 16), candle_core::DType::F32, &common::device()).unwrap();
    candle_core::safetensors::save(&[("frames", frames)].into_iter().collect(), &small).unwrap();
    let err = Input::from_tensor_file(&small, &model)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("frames are 16×16; this checkpoint takes 48×48"),
        "{err}"
    );
}
