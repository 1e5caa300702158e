//! The whole `uni_adafocus` model against its PyTorch reference
//! (scripts/make_uni_adafocus_fixture.py): the official-style `.pth.tar` (DataParallel,
//! `{'epoch', 'state_dict'}`, tonylins MobileNetV2 names) with its sidecar config, and the
//! safetensors copy with the config in its metadata, must give PyTorch's policy outputs, focus
//! indices (exactly), patch boxes and the logits of every step.

mod common;

use std::collections::HashMap;

use adalens::decision::trace::FrameRole;
use adalens::model::load::{ConfigOverrides, LoadedModel, ModelError, Network};
use adalens::model::patch::Region;
use adalens::runner::{self, FlopsReport, Input};
use candle_core::{DType, Tensor};
use common::{
    max_rel_err, model_fixture as fixture, open_model, uni_adafocus_input_file,
    uni_adafocus_io as io, uni_adafocus_rgb_frames as rgb_frames,
};

fn close(what: &str, ours: &Tensor, reference: &Tensor) {
    let e = max_rel_err(ours, reference);
    eprintln!("{what}: {e:.2e}");
    assert!(e < 1e-4, "{what}: relative error {e:.2e}");
}

fn from_rows(v: &[Vec<f32>]) -> Tensor {
    let n = v.len();
    let flat: Vec<f32> = v.iter().flatten().copied().collect();
    let m = flat.len() / n.max(1);
    Tensor::from_vec(flat, (n, m), &common::device()).unwrap()
}

/// Float32 noise of the reference itself: max |f32 − f64| / max |f64| of PyTorch's two runs.
fn spread(io: &HashMap<String, Tensor>, k: &str) -> f32 {
    let exact = &io[&format!("{k}_f64")];
    max_rel_err(&io[k], &exact.to_dtype(DType::F32).unwrap())
}

/// End to end, float32 noise decides: a deep MobileNetV2 has ~2e-5 of it in its pooled
/// features, and the temporal softmax, the spatial policy and the patch positions amplify it
/// (see the fixture script). So the bound is on the distance to the exact (float64) result:
/// within 1e-4, or within five times PyTorch float32's own distance where that is larger.
/// Each part is also checked strictly on PyTorch's own inputs (the "same input" checks).
fn close_to_noise(what: &str, io: &HashMap<String, Tensor>, k: &str, b: usize, ours: &Tensor) {
    let exact = io[&format!("{k}_f64")]
        .get(b)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let e = max_rel_err(ours, &exact);
    let allowed = 1e-4f32.max(5.0 * spread(io, k));
    eprintln!(
        "{what}: {e:.2e} from float64 (allowed {allowed:.2e}); {:.2e} from PyTorch float32",
        max_rel_err(ours, &io[k].get(b).unwrap())
    );
    assert!(
        e < allowed,
        "{what}: relative error {e:.2e} from float64 (allowed {allowed:.2e})"
    );
}

fn region_rows(io: &HashMap<String, Tensor>, b: usize) -> Vec<Region> {
    io["patch_boxes"]
        .get(b)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
        .into_iter()
        .map(|r| Region {
            x1: r[0],
            y1: r[1],
            x2: r[2],
            y2: r[3],
        })
        .collect()
}

fn check_model(model: &LoadedModel) {
    let io = io();
    let Network::UniAdaFocus(net) = &model.network else {
        panic!("uni_adafocus expected")
    };
    let cfg = &net.config;
    let v1 = |v: &[f32]| Tensor::new(v, &common::device()).unwrap();
    let a4 = |v: &[[f32; 4]]| from_rows(&v.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
    for b in 0..2 {
        let frames =
            runner::normalise(&rgb_frames(&io, b), cfg.mean, cfg.std, &common::device()).unwrap();
        let out = net.forward(&frames).unwrap();
        let r = |k: &str| io[k].get(b).unwrap();
        let ints = |k: &str| -> Vec<usize> {
            let v = r(k).to_vec1::<i64>().unwrap();
            v.into_iter().map(|v| v as usize).collect()
        };
        assert_eq!(
            out.glance_indices,
            ints("glance_indices"),
            "video {b}: glance frames"
        );
        assert_eq!(
            out.focus_indices,
            ints("focus_indices"),
            "video {b}: focus frames"
        );
        assert_eq!(out.step_logits.len(), 1 + cfg.num_focus_segments);
        // Boxes in input pixels, relative to their largest coordinate (the frame side). The
        // affine matrices follow from them; their translation doubles the action's float32
        // noise, so they are not the place to measure it.
        let boxes: Vec<Vec<f32>> = out
            .regions
            .iter()
            .map(|r| vec![r.x1, r.y1, r.x2, r.y2])
            .collect();
        // End to end: (what, fixture key, ours).
        let end_to_end = [
            ("glance pooled", "glance_pooled", out.glance_pooled.clone()),
            (
                "glance logits",
                "glance_logits",
                from_rows(&out.glance_logits),
            ),
            (
                "temporal weights",
                "temporal_weights",
                v1(&out.temporal.weights),
            ),
            (
                "temporal weights (T)",
                "temporal_weights_t",
                v1(&out.temporal.weights_t),
            ),
            ("spatial actions", "spatial_actions", a4(&out.actions)),
            (
                "interpolated actions",
                "spatial_actions_all",
                a4(&out.actions_all),
            ),
            (
                "focus quantiles",
                "focus_quantile",
                v1(&out.focus_positions),
            ),
            ("patch boxes", "patch_boxes", from_rows(&boxes)),
            ("local pooled", "local_pooled", out.local_pooled.clone()),
            ("patch logits", "patch_logits", from_rows(&out.patch_logits)),
            ("every head", "head_logits", from_rows(&out.head_logits)),
            ("step logits", "step_logits", from_rows(&out.step_logits)),
        ];
        for (what, key, ours) in &end_to_end {
            close_to_noise(what, &io, key, b, ours);
        }

        // Each part on PyTorch's own inputs: no noise to allow for. The temporal policy on
        // PyTorch's glance features; the local branch and the classifier on PyTorch's boxes.
        let same_t = net.temporal_policy().forward(&r("glance_pooled")).unwrap();
        let same = net
            .forward_with_boxes(&frames, Some(&region_rows(&io, b)))
            .unwrap();
        let same_input = [
            (
                "temporal weights (same input)",
                "temporal_weights",
                v1(&same_t.weights),
            ),
            (
                "temporal weights T (same input)",
                "temporal_weights_t",
                v1(&same_t.weights_t),
            ),
            (
                "local pooled (same boxes)",
                "local_pooled",
                same.local_pooled.clone(),
            ),
            (
                "patch logits (same boxes)",
                "patch_logits",
                from_rows(&same.patch_logits),
            ),
            (
                "step logits (same boxes)",
                "step_logits",
                from_rows(&same.step_logits),
            ),
        ];
        for (what, key, ours) in &same_input {
            close(what, ours, &r(key));
        }
    }
}

#[test]
fn official_style_pth_tar_with_sidecar_matches_pytorch() {
    let model = open_model(fixture("uni_adafocus_tiny.pth.tar"));
    assert_eq!(model.format, "pytorch");
    assert!(
        model.config_source.contains("uni_adafocus_tiny.json"),
        "{}",
        model.config_source
    );
    check_model(&model);
}

/// An official checkpoint carries weights only, and a hand-written config may leave fields out:
/// the geometry no shape tells (frames, input side, patch side) is then the official default,
/// and the config's source says which values were assumed, since a model trained with other
/// patches runs with wrong ones and no error.
#[test]
fn a_config_without_the_geometry_says_which_defaults_were_assumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model_best.pth.tar");
    std::fs::copy(fixture("uni_adafocus_tiny.pth.tar"), &path).unwrap();
    let text = std::fs::read_to_string(fixture("uni_adafocus_tiny.json")).unwrap();
    let mut config: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap();
    for k in ["input_size", "num_segments", "patch_size"] {
        config.remove(k);
    }
    let config_path = dir.path().join("partial.json");
    std::fs::write(&config_path, serde_json::to_string(&config).unwrap()).unwrap();
    let open = |over: &ConfigOverrides| {
        LoadedModel::open(&path, Some(&config_path), over, &common::device())
            .map(|m| m.config_source)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let some = ConfigOverrides {
        input_size: Some(128),
        num_segments: Some(8),
        ..Default::default()
    };
    let source = open(&some);
    assert!(
        source.ends_with("; not in the file, official defaults assumed: patch_size 96"),
        "{source}"
    );
    let all = ConfigOverrides {
        patch_size: Some(64),
        ..some
    };
    assert!(!open(&all).contains("assumed"));
}

#[test]
fn safetensors_with_embedded_config_matches_pytorch() {
    // Alone in a folder, so the config can only come from the file's metadata.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.safetensors");
    std::fs::copy(fixture("uni_adafocus_tiny.safetensors"), &path).unwrap();
    let model = open_model(&path);
    assert_eq!(model.config_source, "safetensors metadata");
    check_model(&model);
}

#[test]
fn inspection_trace_says_what_the_model_did() {
    let model = open_model(fixture("uni_adafocus_tiny.pth.tar"));
    let io = io();
    let dir = tempfile::tempdir().unwrap();
    let input = uni_adafocus_input_file(&io, 0, dir.path());
    let input = Input::from_tensor_file(&input, &model).unwrap();
    let ins = runner::inspect(&model, input).unwrap();
    let clip = &ins.trace.clips[0];
    let focus: Vec<usize> = io["focus_indices"]
        .get(0)
        .unwrap()
        .to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as usize)
        .collect();
    let roles: Vec<FrameRole> = clip.frames.iter().map(|f| f.role).collect();
    for (i, role) in roles.iter().enumerate() {
        let want = if focus.contains(&i) {
            FrameRole::Focus
        } else if [1, 3, 5, 7].contains(&i) {
            FrameRole::Glance
        } else {
            FrameRole::Unused
        };
        assert_eq!(*role, want, "frame {i}");
    }
    assert_eq!(clip.cubes.len(), 3);
    assert_eq!(clip.cubes.iter().map(|c| c.z).collect::<Vec<_>>(), focus);
    assert_eq!(clip.steps.len(), 4);
    // cumulative GFLOPs grow with every step; step 0 is the glance only
    let g: Vec<f64> = clip.steps.iter().map(|s| s.cumulative_gflops).collect();
    assert!(g.windows(2).all(|w| w[1] > w[0]), "{g:?}");
    let FlopsReport::UniAdaFocus(flops) = &ins.flops else {
        panic!("uni_adafocus FLOPs expected")
    };
    assert!((g[0] - flops.step_total(0) as f64 / 1e9).abs() < 1e-12);
    // the steps' predictions are the softmax of the step logits
    let want = io["step_logits"].get(0).unwrap().to_vec2::<f32>().unwrap();
    for (s, row) in clip.steps.iter().zip(&want) {
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(s.top[0].class as usize, best);
        assert!(s.entropy >= 0.0 && s.entropy <= (5f32).ln() + 1e-5);
    }
    assert_eq!(ins.trace.class_names[0], "archery");
}

/// Writes the fixture's tensors, changed by `edit`, to a temporary safetensors with config.
fn edited(
    edit: impl FnOnce(&mut HashMap<String, Tensor>),
) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut t =
        candle_core::safetensors::load(fixture("uni_adafocus_tiny.safetensors"), &common::device())
            .unwrap();
    edit(&mut t);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.safetensors");
    candle_core::safetensors::save(&t, &path).unwrap();
    std::fs::copy(
        fixture("uni_adafocus_tiny.json"),
        dir.path().join("edited.json"),
    )
    .unwrap();
    (dir, path)
}

fn load_error(path: &std::path::Path, overrides: &ConfigOverrides) -> String {
    match LoadedModel::open(path, None, overrides, &common::device()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e @ ModelError::Keys { .. }) => e.to_string(),
        Err(e) => panic!("not a key error: {e}"),
    }
}

#[test]
fn every_key_problem_is_listed_at_once() {
    let (_d, path) = edited(|t| {
        t.remove("local_CNN.layer1.0.conv2.weight");
        t.remove("temporal_policy.Tconv.6.weight");
        t.insert(
            "extra.head.weight".into(),
            Tensor::zeros(3, DType::F32, &common::device()).unwrap(),
        );
        let w = Tensor::zeros((5, 7), DType::F32, &common::device()).unwrap();
        t.insert("global_CNN_fc.1.weight".into(), w);
        t.insert(
            "classifier.global_mlp.layers.0.bias".into(),
            Tensor::zeros(32, DType::I64, &common::device()).unwrap(),
        );
    });
    let msg = load_error(&path, &ConfigOverrides::default());
    for want in [
        "2 missing key(s)",
        "local_CNN.layer1.0.conv2.weight",
        "temporal_policy.Tconv.6.weight",
        "1 unexpected key(s): extra.head.weight",
        "global_CNN_fc.1.weight expected [5, 1280] found [5, 7]",
        "classifier.global_mlp.layers.0.bias is i64",
    ] {
        assert!(msg.contains(want), "missing {want:?} in: {msg}");
    }
}

#[test]
fn a_config_that_disagrees_with_the_weights_names_the_shapes() {
    // --config FILE with another class count: every head's shape is named.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("uni_adafocus_tiny.json")).unwrap())
            .unwrap();
    cfg["num_classes"] = 7.into();
    cfg.as_object_mut().unwrap().remove("class_names");
    let cfg_path = dir.path().join("seven.json");
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let e = LoadedModel::open(
        fixture("uni_adafocus_tiny.pth.tar"),
        Some(&cfg_path),
        &ConfigOverrides::default(),
        &common::device(),
    )
    .expect_err("loaded with the wrong class count");
    let msg = e.to_string();
    assert!(
        msg.contains("classifier.global_classifiers.0.1.weight expected [7, 32] found [5, 32]"),
        "{msg}"
    );
    assert!(msg.contains("shape mismatch"), "{msg}");
    // a flag asking for more focus steps than the checkpoint has heads for: missing keys
    let over = ConfigOverrides {
        num_focus_segments: Some(4),
        ..Default::default()
    };
    let msg = load_error(&fixture("uni_adafocus_tiny.pth.tar"), &over);
    assert!(
        msg.contains("missing key(s): classifier.local_classifiers.3.1.bias"),
        "{msg}"
    );
}

#[test]
fn a_backbone_checkpoint_is_not_a_uni_adafocus_model() {
    let e = LoadedModel::open(
        fixture("mobilenet_v2_w010.pth.tar"),
        None,
        &ConfigOverrides::default(),
        &common::device(),
    )
    .expect_err("a bare MobileNetV2 loaded as a whole model");
    assert!(e.to_string().contains("give --config"), "{e}");
}

#[test]
fn policy_ops_match_pytorch() {
    use adalens::model::policy::spatial::interpolate_actions;
    use adalens::model::policy::temporal::quantile_focus;
    let t = candle_core::safetensors::load(fixture("policy_ops.safetensors"), &common::device())
        .unwrap();
    for name in ["interp0", "interp1"] {
        let input = t[&format!("{name}.input")].to_vec3::<f32>().unwrap(); // B×4×G
        let want = t[&format!("{name}.output")].to_vec3::<f32>().unwrap(); // B×4×T
        for (a, w) in input.iter().zip(&want) {
            let g = a[0].len();
            let rows: Vec<[f32; 4]> = (0..g)
                .map(|i| [a[0][i], a[1][i], a[2][i], a[3][i]])
                .collect();
            let got = interpolate_actions(&rows, w[0].len());
            for (i, r) in got.iter().enumerate() {
                for k in 0..4 {
                    assert!(
                        (r[k] - w[k][i]).abs() < 1e-6,
                        "{name}: frame {i} action {k}"
                    );
                }
            }
        }
    }
    for (name, total, n) in [
        ("quantile0", 48, 16),
        ("quantile1", 48, 16),
        ("quantile2", 32, 6),
    ] {
        let weights = t[&format!("{name}.weights")].to_vec2::<f32>().unwrap();
        let q = t[&format!("{name}.quantile")].to_vec2::<f32>().unwrap();
        let idx = t[&format!("{name}.indices")].to_vec2::<i64>().unwrap();
        for ((w, q), idx) in weights.iter().zip(&q).zip(&idx) {
            let (pos, got) = quantile_focus(w, total, n);
            let want: Vec<usize> = idx.iter().map(|&v| v as usize).collect();
            assert_eq!(got, want, "{name}: focus indices");
            for (a, b) in pos.iter().zip(q) {
                assert!((a - b).abs() < 1e-6, "{name}: quantile {a} vs {b}");
            }
        }
    }
}
