//! Hostile checkpoints and configs: config values (in a sidecar `.json`) are refused before
//! anything is built from them, with an error naming the file, the field and what is wrong,
//! instead of an allocation that aborts the process or a network that computes NaN; special
//! files are refused instead of waited on; NaN or infinite weights are reported.

use std::path::Path;

use adalens::model::load::{ConfigOverrides, LoadedModel};
use serde_json::{json, Value};

const DEMO: &str = "models/demo/ada3d_focus_untrained";

/// The demo checkpoint copied into `dir` with its config changed by `change`; opened.
fn open_with(dir: &Path, change: impl FnOnce(&mut Value)) -> Result<LoadedModel, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ck = dir.join("m.safetensors");
    std::fs::copy(root.join(format!("{DEMO}.safetensors")), &ck).unwrap();
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(format!("{DEMO}.json"))).unwrap())
            .unwrap();
    change(&mut config);
    std::fs::write(dir.join("m.json"), config.to_string()).unwrap();
    LoadedModel::open(
        &ck,
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .map_err(|e| e.to_string())
}

/// A change to the config.
type Change = Box<dyn Fn(&mut Value)>;

#[test]
fn the_unchanged_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    open_with(dir.path(), |_| {}).unwrap();
}

#[test]
fn each_oversized_or_meaningless_value_is_refused_with_its_field_and_file() {
    let big = 1u64 << 40;
    let cases: Vec<(&str, Change)> = vec![
        (
            "num_segments",
            Box::new(move |c| c["num_segments"] = json!(big)),
        ),
        (
            "num_classes",
            Box::new(|c| c["num_classes"] = json!(1_000_000_000_000u64)),
        ),
        (
            "mlp_hidden",
            Box::new(move |c| c["mlp_hidden"] = json!(big)),
        ),
        (
            "spatial_hidden",
            Box::new(move |c| c["spatial_hidden"] = json!(big)),
        ),
        (
            "temporal_hidden",
            Box::new(move |c| c["temporal_hidden"] = json!(big)),
        ),
        ("num_cubes", Box::new(move |c| c["num_cubes"] = json!(big))),
        (
            "cube_frames",
            Box::new(move |c| c["cube_frames"] = json!(big)),
        ),
        (
            "input_size",
            Box::new(move |c| c["input_size"] = json!(big)),
        ),
        ("width", Box::new(move |c| c["local"]["width"] = json!(big))),
        (
            "layers",
            Box::new(|c| c["local"]["layers"] = json!([1_000_000_000u64, 1, 1, 1])),
        ),
        (
            "glance_width_mult",
            Box::new(|c| c["glance_width_mult"] = json!(1e300)),
        ),
        (
            "glance_width_mult",
            Box::new(|c| c["glance_width_mult"] = json!(0.0)),
        ),
        ("std", Box::new(|c| c["std"] = json!([0.0, 0.0, 0.0]))),
        ("std", Box::new(|c| c["std"] = json!([0.2, -1.0, 0.2]))),
        ("temperature", Box::new(|c| c["temperature"] = json!(-1.0))),
        (
            "clip_seconds",
            Box::new(|c| c["clip_seconds"] = json!(-2.0)),
        ),
        ("clip_seconds", Box::new(|c| c["clip_seconds"] = json!(0.0))),
        (
            "frame_threshold",
            Box::new(|c| c["frame_threshold"] = json!(7.0)),
        ),
        // Each within its own limit, together a clip of 1024 frames of 1024² (3 G values).
        (
            "input_size",
            Box::new(|c| {
                c["num_segments"] = json!(1024);
                c["input_size"] = json!(1024);
                c["glance_size"] = json!(512);
            }),
        ),
    ];
    for (field, change) in cases {
        let dir = tempfile::tempdir().unwrap();
        let err = match open_with(dir.path(), change) {
            Ok(_) => panic!("{field}: a hostile value was accepted"),
            Err(e) => e,
        };
        assert!(err.contains(field), "{field}: {err}");
        assert!(
            err.contains("m.safetensors"),
            "{field}: the file is not named: {err}"
        );
    }
}

#[test]
fn a_sidecar_that_is_a_directory_is_an_error_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ck = dir.path().join("m.safetensors");
    std::fs::copy(root.join(format!("{DEMO}.safetensors")), &ck).unwrap();
    std::fs::create_dir(dir.path().join("m.json")).unwrap();
    let err = LoadedModel::open(
        &ck,
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("m.json") && err.contains("directory"), "{err}");
}

/// A FIFO named like a checkpoint, a config or a video: refused at once. (Opened for reading, a
/// FIFO blocks until a writer comes; the open runs on a thread so a regression fails here
/// instead of hanging the suite.)
#[test]
fn fifos_named_like_inputs_are_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = |name: &str| {
        let p = dir.path().join(name);
        let ok = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo");
        p
    };
    let within_a_minute = |what: &str, f: Box<dyn FnOnce() -> String + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{what}: still waiting on the FIFO"))
    };
    let ck = fifo("ck.safetensors");
    let err = within_a_minute(
        "checkpoint",
        Box::new(move || {
            LoadedModel::open(
                &ck,
                None,
                &ConfigOverrides::default(),
                &candle_core::Device::Cpu,
            )
            .map(|_| ())
            .unwrap_err()
            .to_string()
        }),
    );
    assert!(
        err.contains("ck.safetensors") && err.contains("not a regular file"),
        "{err}"
    );
    let video = fifo("clip.mp4");
    let err = within_a_minute(
        "video",
        Box::new(move || {
            adalens::video::Video::open(&video)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        }),
    );
    assert!(
        err.contains("clip.mp4") && err.contains("not a regular file"),
        "{err}"
    );
    let config = fifo("m.json");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let real = dir.path().join("m.safetensors");
    std::fs::copy(root.join(format!("{DEMO}.safetensors")), &real).unwrap();
    let err = within_a_minute(
        "sidecar",
        Box::new(move || {
            LoadedModel::open(
                &real,
                None,
                &ConfigOverrides::default(),
                &candle_core::Device::Cpu,
            )
            .map(|_| ())
            .unwrap_err()
            .to_string()
        }),
    );
    assert!(
        err.contains("m.json") && err.contains("not a regular file"),
        "{err}"
    );
    drop(config);
}

#[test]
fn nan_and_infinite_weights_are_reported_by_the_loader_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut tensors = candle_core::safetensors::load(
        root.join(format!("{DEMO}.safetensors")),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let name = tensors
        .keys()
        .find(|k| k.starts_with("local_CNN") && k.ends_with("weight"))
        .unwrap()
        .clone();
    let t = &tensors[&name];
    let mut values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values[0] = f32::NAN;
    values[1] = f32::INFINITY;
    tensors.insert(
        name.clone(),
        candle_core::Tensor::from_vec(values, t.shape(), &candle_core::Device::Cpu).unwrap(),
    );
    let ck = dir.path().join("m.safetensors");
    candle_core::safetensors::save(&tensors, &ck).unwrap();
    std::fs::copy(root.join(format!("{DEMO}.json")), dir.path().join("m.json")).unwrap();
    let model = LoadedModel::open(
        &ck,
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(model.non_finite, [(name.clone(), 2)]);
    let w = model.non_finite_warning().unwrap();
    assert!(w.contains("m.safetensors") && w.contains(&name), "{w}");
    // The demo's own weights are finite: no warning.
    let demo = LoadedModel::open(
        root.join(format!("{DEMO}.safetensors")),
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert!(demo.non_finite_warning().is_none());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(["inspect-checkpoint"])
        .arg(&ck)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("NaN"),
        "{stderr}"
    );
    // NaN in every classifier tensor (ReLUs swallow a NaN inside the backbones) reaches the
    // predictions: the trace says so, and its JSON (NaN written as null) reads back.
    for (name, t) in tensors.iter_mut() {
        if name.starts_with("classifier.") {
            let mut values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            values[0] = f32::NAN;
            *t = candle_core::Tensor::from_vec(values, t.shape(), &candle_core::Device::Cpu)
                .unwrap();
        }
    }
    let nan_ck = dir.path().join("nan.safetensors");
    candle_core::safetensors::save(&tensors, &nan_ck).unwrap();
    std::fs::copy(
        root.join(format!("{DEMO}.json")),
        dir.path().join("nan.json"),
    )
    .unwrap();
    let video = root.join("assets/demo/synth/four_actions.mp4");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_adalens"))
        .arg("inspect")
        .arg(&video)
        .arg("--checkpoint")
        .arg(&nan_ck)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("predictions or decisions"), "{stderr}");
    let trace = adalens::DecisionTrace::from_json(&String::from_utf8_lossy(&out.stdout))
        .expect("a trace with NaN reads back");
    assert!(trace.non_finite_outputs() > 0);
    assert!(trace.warning().is_some());
}

#[test]
fn damaged_safetensors_files_say_what_is_wrong() {
    use adalens::model::checkpoint::StateDict;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, header: &str, data: usize| {
        let mut h = header.as_bytes().to_vec();
        h.resize(h.len().div_ceil(8) * 8, b' ');
        let mut b = (h.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(&h);
        b.resize(b.len() + data, 0);
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let t = |range: &str| format!(r#"{{"dtype":"F32","shape":[2],"data_offsets":[{range}]}}"#);
    let cases = [
        (
            file(
                "dup.safetensors",
                &format!(r#"{{"a":{},"a":{}}}"#, t("0,8"), t("8,16")),
                16,
            ),
            "tensor names listed twice: a",
        ),
        (
            file("short.safetensors", &format!(r#"{{"a":{}}}"#, t("0,8")), 4),
            "damaged safetensors file",
        ),
        (
            file(
                "gap.safetensors",
                &format!(r#"{{"a":{},"b":{}}}"#, t("0,8"), t("12,20")),
                20,
            ),
            "damaged safetensors file",
        ),
    ];
    for (path, problem) in cases {
        let msg = StateDict::load(&path).unwrap_err().to_string();
        assert!(
            msg.contains(path.to_str().unwrap()) && msg.contains(problem),
            "{msg}"
        );
    }
}
