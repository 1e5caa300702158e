//! The trainer: its trainable networks compute what the inference model computes from the
//! weights they save (same names, same structure), and a real run on real (generated) videos
//! writes a checkpoint the app loads, a calibration set, and resumes instead of retraining.

use std::path::Path;

use adalens::batch;
use adalens::decision::CalibrationSet;
use adalens::eval::{self, read_boxes};
use adalens::model::ada3d_config::Ada3dFocusConfig;
use adalens::model::config::ModelConfig;
use adalens::model::load::{ConfigOverrides, LoadedModel, Network};
use adalens::synth::write::{write_benchmark, SplitSizes};
use adalens::synth::SynthSpec;
use adalens::train::layers::Mode;
use adalens::train::net::{Focus, TrainNet};
use adalens::train::{self, Event, Reward, Settings, TrainRun};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;

fn tiny_config() -> Ada3dFocusConfig {
    let classes: Vec<String> = adalens::synth::CLASSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    serde_json::from_value(serde_json::json!({
        "num_classes": 8,
        "class_names": classes,
        "num_segments": 6,
        "input_size": 64,
        "glance_size": 32,
        "glance_width_mult": 0.1,
        "cube_size": 32,
        "cube_frames": 3,
        "num_cubes": 2,
        "local": {"preset": "i3d", "width": 4, "layers": [1, 1, 1, 1]},
        "mlp_hidden": 16,
        "spatial_hidden": 8,
        "spatial_block": 6,
        "temporal_hidden": 8,
        "input_frame": "whole",
    }))
    .unwrap()
}

fn save(map: &VarMap, config: &Ada3dFocusConfig, path: &Path) -> LoadedModel {
    map.save(path).unwrap();
    let json = serde_json::to_string(&ModelConfig::Ada3dFocus(config.clone())).unwrap();
    std::fs::write(path.with_extension("json"), json).unwrap();
    LoadedModel::open(path, None, &ConfigOverrides::default(), &Device::Cpu).unwrap()
}

/// Every tensor of a safetensors file, by name, as values.
fn tensors(path: &Path) -> std::collections::BTreeMap<String, Vec<f32>> {
    candle_core::safetensors::load(path, &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// For the spatial policy on `features.6` (as the demo's) and on the last map (the official).
#[test]
fn trainable_networks_compute_what_the_inference_model_loads() {
    for block in [Some(6), None] {
        let c = Ada3dFocusConfig {
            spatial_block: block,
            ..tiny_config()
        };
        check_train_inference_parity(c);
    }
}

fn check_train_inference_parity(c: Ada3dFocusConfig) {
    let dir = tempfile::tempdir().unwrap();
    let dev = Device::Cpu;
    let map = VarMap::new();
    let net = TrainNet::new(c.clone(), &map, &dev).unwrap();
    train::init::initialise(&map, 7).unwrap();
    let t = c.num_segments;
    let x = Tensor::randn(0f32, 1.0, (2 * t, 3, 64, 64), &dev).unwrap();
    // A training pass moves every BatchNorm's running statistics away from (0, 1).
    let g = net.glance(&x, Mode::Train).unwrap();
    let _ = net.actions(&g, Mode::Train).unwrap();
    let model = save(&map, &c, &dir.path().join("m.safetensors"));
    let Network::Ada3dFocus(inference) = &model.network else {
        panic!("not ada3d_focus")
    };
    let one = x.narrow(0, 0, t).unwrap();
    let cache = inference.glance(&one).unwrap();
    let g = net.glance(&one, Mode::Eval).unwrap();
    let m: Vec<f32> = g.m.flatten_all().unwrap().to_vec1().unwrap();
    let n: Vec<f32> = g.n.flatten_all().unwrap().to_vec1().unwrap();
    assert!(max_diff(&m, &cache.policy.frame_probs) < 1e-4);
    assert!(max_diff(&n, &cache.policy.stage_probs) < 1e-4);
    let a: Vec<f32> = net
        .actions(&g, Mode::Eval)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = cache.actions.iter().flatten().copied().collect();
    assert!(max_diff(&a, &b) < 1e-4, "spatial policy");
    // Every step's logits for the same plan, with a mix of 3D and 2D stages.
    let mut plan = inference.plan(&cache, 0.5, 0.5);
    plan.stages_3d = (0..plan.stages_3d.len()).map(|i| i % 2 == 0).collect();
    let plan = adalens::model::ada3d_focus::plan_cubes(
        &c,
        vec![0, 2, 3, 5],
        plan.stages_3d.clone(),
        &cache.temporal_weights,
        &cache.actions,
    );
    let out = inference.run_plan(&one, &cache, plan.clone()).unwrap();
    let flags: Vec<f32> = plan.stages_3d.iter().map(|&s| s as u8 as f32).collect();
    let flags = Tensor::from_vec(flags, (1, plan.stages_3d.len()), &dev).unwrap();
    let local = net
        .local(
            &one,
            std::slice::from_ref(&plan),
            &flags,
            Focus::Crop,
            Mode::Eval,
        )
        .unwrap();
    let (glance, steps) = net.classify(&g.pooled, &local, Mode::Eval).unwrap();
    let mut ours = vec![glance[t - 1]
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()];
    for s in &steps {
        ours.push(s.flatten_all().unwrap().to_vec1().unwrap());
    }
    assert_eq!(ours.len(), out.step_logits.len());
    for (k, (a, b)) in ours.iter().zip(&out.step_logits).enumerate() {
        assert!(max_diff(a, b) < 1e-3, "step {k}: {a:?} vs {b:?}");
    }
}

/// A benchmark of 96×64, 12-frame videos in `data`: its training and calibration lists.
fn tiny_benchmark(
    data: &Path,
    seed: u64,
    sizes: SplitSizes,
) -> (Vec<batch::Entry>, Vec<batch::Entry>) {
    let spec = SynthSpec {
        width: 96,
        height: 64,
        frames: 12,
        fps: 12,
    };
    write_benchmark(data, seed, &spec, &sizes, 2, &|_, _| {}).unwrap();
    (
        batch::entries(&data.join("train.csv")).unwrap(),
        batch::entries(&data.join("calib.csv")).unwrap(),
    )
}

/// Settings for `tiny_config` on `train`: batches of 8.
fn tiny_settings(
    train: &[batch::Entry],
    seed: u64,
    epochs: [usize; 3],
    cube_first: usize,
) -> Settings {
    Settings {
        config: tiny_config(),
        seed,
        epochs,
        batch: 8,
        lr: [0.002, 0.001, 0.0003],
        reward: Reward {
            gamma: 0.5,
            cube_sigma: 0.1,
            policy_entropy: 0.05,
        },
        cube_first,
        train: train
            .iter()
            .map(|e| (e.path.display().to_string(), e.label.clone().unwrap()))
            .collect(),
    }
}

/// A run of `settings` on the two lists, on the CPU, writing `checkpoint`.
fn tiny_run<'a>(
    settings: Settings,
    train: &'a [batch::Entry],
    calib: &'a [batch::Entry],
    checkpoint: &Path,
) -> TrainRun<'a> {
    std::fs::create_dir_all(checkpoint.parent().unwrap()).unwrap();
    TrainRun {
        settings,
        train,
        calib,
        checkpoint: checkpoint.to_path_buf(),
        jobs: 2,
        device: Device::Cpu,
        stage1_from: None,
    }
}

/// The run the tests below share (trained once per test binary): a tiny benchmark of 16
/// training, 8 calibration and 16 test videos, one epoch per stage.
struct Trained {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    train_list: Vec<batch::Entry>,
    calib_list: Vec<batch::Entry>,
    settings: Settings,
    checkpoint: std::path::PathBuf,
    out: train::Trained,
    steps: usize,
    model: LoadedModel,
    cal: CalibrationSet,
}

fn trained() -> &'static Trained {
    static TRAINED: std::sync::OnceLock<Trained> = std::sync::OnceLock::new();
    TRAINED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let sizes = SplitSizes {
            train: 16,
            calib: 8,
            test: 16,
        };
        let (train_list, calib_list) = tiny_benchmark(&data, 3, sizes);
        let settings = tiny_settings(&train_list, 5, [1, 1, 1], 0);
        let checkpoint = dir.path().join("out/m.safetensors");
        let run = tiny_run(settings.clone(), &train_list, &calib_list, &checkpoint);
        let steps = std::sync::atomic::AtomicUsize::new(0);
        let on = |e: Event| {
            if let Event::Step { loss, .. } = e {
                assert!(loss.is_finite());
                steps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        };
        let out = train::train(&run, &on).unwrap();
        let model = LoadedModel::open(&checkpoint, None, &ConfigOverrides::default(), &Device::Cpu)
            .unwrap();
        let cal = adalens::runner::load_calibration(&model, &out.calibration).unwrap();
        Trained {
            data,
            train_list,
            calib_list,
            settings,
            checkpoint,
            out,
            steps: steps.into_inner(),
            model,
            cal,
            dir,
        }
    })
}

/// A copy of the shared run's state folder (`m.train/`) beside a checkpoint path of its own,
/// so a test can resume from it without touching what the other tests read.
fn copy_of_the_run_state(to: &Path) -> std::path::PathBuf {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let t = trained();
    let checkpoint = to.join("m.safetensors");
    copy_dir(
        &train::state_dir(&t.checkpoint),
        &train::state_dir(&checkpoint),
    );
    checkpoint
}

#[test]
fn a_run_writes_a_loadable_calibrated_checkpoint() {
    let t = trained();
    assert_eq!(t.out.epochs.len(), 3);
    assert_eq!(t.steps, 3 * 2, "two batches of 8 per epoch");
    assert_eq!(t.model.arch(), "ada3d_focus");
    // The videos' length is recorded, so a longer video is cut into clips like them.
    let ModelConfig::Ada3dFocus(c) = &t.model.config else {
        panic!("not ada3d_focus")
    };
    assert!(
        (c.clip_seconds.unwrap() - 1.0).abs() < 1e-6,
        "{:?}",
        c.clip_seconds
    );
    assert_eq!(t.cal.samples(), 8);
}

#[test]
fn a_second_run_with_the_same_settings_resumes_without_training() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = copy_of_the_run_state(dir.path());
    let run = tiny_run(
        t.settings.clone(),
        &t.train_list,
        &t.calib_list,
        &checkpoint,
    );
    let resumed = std::sync::atomic::AtomicUsize::new(0);
    let on = |e: Event| match e {
        Event::Step { .. } => panic!("trained again"),
        Event::Resumed { epochs } => resumed.store(epochs, std::sync::atomic::Ordering::Relaxed),
        _ => {}
    };
    train::train(&run, &on).unwrap();
    assert_eq!(resumed.into_inner(), 3);
    assert_eq!(tensors(&checkpoint), tensors(&t.checkpoint));
}

#[test]
fn a_run_with_other_settings_is_refused_rather_than_mixed_in() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = copy_of_the_run_state(dir.path());
    let mut settings = t.settings.clone();
    settings.seed = 6;
    let run = tiny_run(settings, &t.train_list, &t.calib_list, &checkpoint);
    let err = train::train(&run, &|_| {}).unwrap_err().to_string();
    assert!(err.contains("other settings"), "{err}");
    assert!(!checkpoint.exists());
}

#[test]
fn three_videos_in_a_row_are_three_clips() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    three_videos_in_a_row(&t.model, &t.train_list, dir.path());
}

#[test]
fn eval_reports_every_target() {
    let t = trained();
    assert!(t.dir.path().is_dir());
    eval_report(&t.model, &t.cal, &t.data);
}

/// Three 1-second videos joined by the ffmpeg CLI: one clip each, sampled inside its own
/// second, each with its own plan.
fn three_videos_in_a_row(model: &LoadedModel, list: &[batch::Entry], dir: &Path) {
    let concat = dir.join("three.txt");
    let lines: String = list[..3]
        .iter()
        .map(|e| format!("file '{}'\n", e.path.display()))
        .collect();
    std::fs::write(&concat, lines).unwrap();
    let joined = dir.join("three.mp4");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i"])
        .arg(&concat)
        .args(["-c", "copy"])
        .arg(&joined)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg concat");
    let video = adalens::video::Video::open(&joined).unwrap();
    assert_eq!(video.frame_count(), 36);
    let input = adalens::runner::Input::plan(&video, model).unwrap();
    assert_eq!((input.clips(), input.clip_len), (3, 6));
    // The whole 96×64 frame is the model's input (`input_frame: whole`), not a centred crop.
    assert_eq!(input.geometry.unwrap().source_rect, [0.0, 0.0, 96.0, 64.0]);
    let ins = adalens::runner::inspect(model, input).unwrap();
    assert_eq!(ins.trace.clips.len(), 3);
    for (i, clip) in ins.trace.clips.iter().enumerate() {
        let frames: Vec<usize> = clip.frames.iter().map(|f| f.frame).collect();
        assert_eq!(
            frames,
            (0..6).map(|k| 12 * i + 1 + 2 * k).collect::<Vec<_>>()
        );
        assert!(!clip.steps.is_empty());
    }
}

/// `eval` on the test split: every video runs through the .mp4 decoding path, and the report
/// holds the six targets, the largest budget (every frame, stage and cube) atop the frame
/// and stage thresholds' curve, an exit curve from the glance alone to every cube, and the
/// points where accuracy at half the GFLOPs and the exits are compared, inside that range.
fn eval_report(model: &LoadedModel, cal: &CalibrationSet, data: &Path) {
    let list = batch::entries(&data.join("test.csv")).unwrap();
    let boxes = read_boxes(data, "test");
    assert_eq!(boxes.len(), 16);
    let (results, failed) = eval::run_all(model, &list, &boxes, data, 0, &|_, _| {});
    assert!(failed.is_empty(), "{failed:?}");
    let report = eval::evaluate(model, cal, &results, 0, 0).unwrap();
    assert_eq!(report.videos, 16);
    let names: Vec<&str> = report.targets.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "top1_largest_budget",
            "top1_half_gflops",
            "learned_vs_random_policies",
            "motion_uses_more",
            "cube_hit_rate",
            "entropy_vs_random_exit"
        ]
    );
    // Every target states what it asks and a measured number (the verdict is computed from it).
    for t in &report.targets {
        assert!(!t.requirement.is_empty(), "{}", t.name);
        assert!(
            t.measured.chars().any(|c| c.is_ascii_digit()),
            "{}: {:?}",
            t.name,
            t.measured
        );
    }
    // The largest budget keeps every frame and runs every stage 3D and every cube: nothing on
    // the frame and stage thresholds' curve costs more, and it holds the checkpoint's own point.
    let largest = &report.largest;
    assert_eq!((largest.kept_frames, largest.stages_3d), (6.0, 4.0));
    assert_eq!(
        report.policy_curve.len(),
        eval::policy_sweep(report.thresholds).len() + 1
    );
    assert!(report
        .policy_curve
        .iter()
        .all(|p| p.gflops <= largest.gflops + 1e-9));
    // Every sweep point keeps at least one frame and at most all of them.
    assert!(report
        .policy_curve
        .iter()
        .all(|p| (1.0..=6.0).contains(&p.kept_frames) && (0.0..=4.0).contains(&p.stages_3d)));
    let other = report.targets[1]
        .other_reading
        .as_ref()
        .expect("(1b)'s other reading");
    assert!(other.reading.contains("Budget slider"));
    let (first, last) = (report.curve[0].gflops, report.every_cube.gflops);
    assert!(report.curve.windows(2).all(|w| w[0].budget <= w[1].budget));
    assert!(first < last, "the glance alone is cheaper than every cube");
    assert!(last <= largest.gflops + 1e-9);
    let within = |g: f64| first - 1e-6 <= g && g <= last + 1e-6;
    assert!(within(report.half.gflops) && within(report.exit_point.gflops));
    // Exits are never compared at the glance alone, where they cannot differ.
    assert!(report.exit_point.budget > first);
    // The oracle exit is bounded by the glance alone and every cube, and is held to the
    // every-cube top-1 less 2 points.
    let oracle = &report.oracle;
    assert!(within(oracle.gflops), "{oracle:?}");
    let held_to = (report.every_cube.top1 - eval::HALF_TOLERANCE).max(0.0);
    assert!((oracle.top1 - held_to).abs() < 1e-9);
    assert!((0.0..=1.0).contains(&oracle.local_share));
    let families: usize = report.families.iter().map(|f| f.videos).sum();
    assert_eq!(families, 16);
    let placement = report.placement.as_ref().expect("boxes are known");
    assert!(placement.cube_frames > 0);
    assert!((0.0..=1.0).contains(&placement.learned_hit_rate));
    let md = report.markdown("adalens eval", "test");
    assert!(md.contains("## Targets") && md.contains("entropy_vs_random_exit"));
    assert!(
        md.starts_with("# Evaluation on the test split")
            && md.contains("videos of the `test` split")
    );
    assert!(md.contains("| 0.00 | 0.00 | 6.00 | 4.00 |") && md.contains("the largest budget"));
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["targets"].as_array().map(Vec::len), Some(6));
}

/// `cube_first`: stage 2's first epochs train the cube policy alone, so the frame and stage
/// heads leave them as they came in while the cube policy moves.
#[test]
fn cube_first_epochs_train_only_the_cube_policy() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = SplitSizes {
        train: 16,
        calib: 4,
        test: 1,
    };
    let (train_list, calib_list) = tiny_benchmark(&dir.path().join("data"), 4, sizes);
    let weights_after = |epochs: [usize; 3], name: &str| {
        let settings = tiny_settings(&train_list, 3, epochs, 1);
        let checkpoint = dir.path().join(name).join("m.safetensors");
        let run = tiny_run(settings, &train_list, &calib_list, &checkpoint);
        train::train(&run, &|_| {}).unwrap();
        tensors(&checkpoint)
    };
    // No epoch: the seeded initial weights.
    let initial = weights_after([0, 0, 0], "initial");
    let cube_only = weights_after([0, 1, 0], "cube_only");
    let moved = |prefix: &str| {
        initial
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && !k.contains("running_"))
            .map(|(k, v)| max_diff(v, &cube_only[k]))
            .fold(0.0, f32::max)
    };
    assert_eq!(
        moved("selection."),
        0.0,
        "the frame and stage heads trained"
    );
    assert!(
        moved("spatial_policy.") > 0.0,
        "the cube policy did not train"
    );
    assert_eq!(
        moved("local_CNN."),
        0.0,
        "the local network trained in stage 2"
    );
}

/// `stage1_from`: a run that differs only in stage 2 and 3 settings starts from another run's
/// finished stage 1 and ends with the same weights as if it had run stage 1 itself; a run whose
/// stage 1 would differ is refused.
#[test]
fn a_run_can_start_from_another_runs_stage_1() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = SplitSizes {
        train: 16,
        calib: 4,
        test: 1,
    };
    let (train_list, calib_list) = tiny_benchmark(&dir.path().join("data"), 6, sizes);
    let settings = |entropy: f64| {
        let mut s = tiny_settings(&train_list, 2, [1, 1, 1], 0);
        s.reward.policy_entropy = entropy;
        s
    };
    let checkpoint = |name: &str| dir.path().join(name).join("m.safetensors");
    let first = tiny_run(
        settings(0.05),
        &train_list,
        &calib_list,
        &checkpoint("first"),
    );
    train::train(&first, &|_| {}).unwrap();

    let mut reused = tiny_run(
        settings(0.1),
        &train_list,
        &calib_list,
        &checkpoint("reused"),
    );
    reused.stage1_from = Some(checkpoint("first"));
    let stages_run = std::sync::Mutex::new(Vec::new());
    let on = |e: Event| {
        if let Event::Epoch(log) = e {
            stages_run.lock().unwrap().push(log.stage);
        }
    };
    let out = train::train(&reused, &on).unwrap();
    assert_eq!(*stages_run.lock().unwrap(), vec![2, 3], "stage 1 ran again");
    assert_eq!(out.epochs.len(), 3);

    let scratch = tiny_run(
        settings(0.1),
        &train_list,
        &calib_list,
        &checkpoint("scratch"),
    );
    train::train(&scratch, &|_| {}).unwrap();
    let (a, b) = (
        tensors(&checkpoint("reused")),
        tensors(&checkpoint("scratch")),
    );
    assert_eq!(a.len(), b.len());
    for (k, v) in &a {
        assert_eq!(
            max_diff(v, &b[k]),
            0.0,
            "{k} differs from a run from scratch"
        );
    }

    let mut other_seed = tiny_run(
        tiny_settings(&train_list, 3, [1, 1, 1], 0),
        &train_list,
        &calib_list,
        &checkpoint("other_seed"),
    );
    other_seed.stage1_from = Some(checkpoint("first"));
    let err = train::train(&other_seed, &|_| {}).unwrap_err().to_string();
    assert!(err.contains("another config, seed"), "{err}");
}
