//! The open trace format (issue 30): every trace the project writes matches the published
//! JSON Schema (docs/trace.schema.json); traces logged from other programs (the Python
//! package's TraceBuilder is `adalens::logged::TraceBuilder`) with generic categorical and
//! scalar lanes and per-step probabilities build, read back, calibrate a budget and import as
//! a batch run the dataset view opens.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use adalens::batch::table::RunTable;
use adalens::decision::{
    CalibrationSet, Criterion, ExitRule, Labels, OutputKind, PreparedCalibration, Role, StepCosts,
};
use adalens::logged::{LoggedClip, Region, StepOutputs, TraceBuilder};
use common::{make_video, model_fixture, open_model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> &'static jsonschema::Validator {
    static S: OnceLock<jsonschema::Validator> = OnceLock::new();
    S.get_or_init(|| {
        let text = std::fs::read_to_string(root().join("docs/trace.schema.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        jsonschema::validator_for(&v).expect("the schema itself is valid")
    })
}

/// Schema errors of a trace's JSON text (empty: valid).
fn schema_errors(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    schema()
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn assert_valid(what: &str, json: &str) {
    let errors = schema_errors(json);
    assert!(
        errors.is_empty(),
        "{what} breaks docs/trace.schema.json: {errors:#?}"
    );
}

/// Three short videos made with the ffmpeg CLI (50 frames, 64×48), shared by the tests.
fn videos() -> &'static (tempfile::TempDir, Vec<PathBuf>) {
    static V: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    V.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let vids = ["testsrc", "smptebars", "rgbtestsrc"]
            .iter()
            .enumerate()
            .map(|(i, src)| {
                let input = format!("{src}=size=64x48:rate=25");
                make_video(
                    dir.path(),
                    &format!("v{i}.mp4"),
                    &[
                        "-f",
                        "lavfi",
                        "-i",
                        &input,
                        "-frames:v",
                        "50",
                        "-c:v",
                        "mpeg4",
                    ],
                )
            })
            .collect();
        (dir, vids)
    })
}

const CLASSES: [&str; 3] = ["walk", "run", "jump"];

/// An AR-Net-style log: per frame a resolution (or skip), a share of tokens kept, two regions,
/// and the softmax after each of three steps leaning towards class `label`.
fn ar_net_trace(video: &Path, label: usize, clips: usize) -> TraceBuilder {
    let mut b = TraceBuilder::new(
        video,
        CLASSES.iter().map(|s| s.to_string()).collect(),
        "ar_net",
    )
    .unwrap();
    b.declare_categorical(
        "resolution",
        vec![
            ("224".into(), Some(4.1)),
            ("112".into(), Some(1.0)),
            ("skip".into(), Some(0.0)),
        ],
    )
    .unwrap();
    b.declare_scalar("tokens kept", Some("share".into()), Some([0.0, 1.0]))
        .unwrap();
    for c in 0..clips {
        let frames: Vec<usize> = (0..8).map(|i| c * 16 + i * 2).collect();
        let mut lanes = BTreeMap::new();
        lanes.insert(
            "resolution".to_string(),
            (0..8).map(|i| Some((i % 3) as f64)).collect(),
        );
        lanes.insert(
            "tokens kept".to_string(),
            (0..8)
                .map(|i| if i == 3 { None } else { Some(i as f64 / 8.0) })
                .collect(),
        );
        let probs: Vec<Vec<f32>> = (0..3)
            .map(|s| {
                let sure = 0.4 + 0.2 * s as f32 - 0.05 * c as f32;
                (0..3)
                    .map(|k| if k == label { sure } else { (1.0 - sure) / 2.0 })
                    .collect()
            })
            .collect();
        b.add_clip(LoggedClip {
            frames: frames.clone(),
            keep_probs: Some((0..8).map(|i| i as f32 / 7.0).collect()),
            lanes,
            regions: vec![
                Region {
                    frames: vec![frames[4], frames[5]],
                    bbox: [4.0, 4.0, 36.0, 28.0],
                },
                Region {
                    frames: vec![frames[6]],
                    bbox: [20.0, 10.0, 60.0, 44.0],
                },
            ],
            outputs: Some(StepOutputs::Probabilities(probs)),
            gflops: vec![1.0, 3.0, 5.5],
            ..Default::default()
        })
        .unwrap();
    }
    b
}

#[test]
fn a_logged_trace_reads_back_as_built_and_matches_the_schema() {
    let (_d, vids) = videos();
    let b = ar_net_trace(&vids[0], 1, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    let saved = b.save(&path).unwrap();
    let back = adalens::logged::read_trace(&path).unwrap();
    assert_eq!(back, saved);
    assert_valid("a logged trace", &std::fs::read_to_string(&path).unwrap());
    assert_eq!(back.video.frame_count, 50);
    assert_eq!(back.lanes.len(), 2);
    let clip = &back.clips[1];
    assert_eq!(clip.frames[0].frame, 16);
    assert_eq!(clip.lanes["resolution"][4], Some(1.0));
    assert_eq!(clip.lanes["tokens kept"][3], None);
    // Region 1 covers frames 24 and 26: kept frames it covers are focus frames; its box is
    // kept as logged.
    assert_eq!(clip.cubes[0].frames, vec![24, 26]);
    assert_eq!(clip.cubes[0].region, Some([4.0, 4.0, 36.0, 28.0]));
    assert_eq!(
        clip.frames[4].role,
        adalens::decision::trace::FrameRole::Focus
    );
    assert_eq!(
        clip.frames[3].role,
        adalens::decision::trace::FrameRole::Unused
    );
    // Frames with m_t < 0.5 were discarded.
    assert!(!clip.frames[0].kept && clip.frames[7].kept);
    // The steps carry their whole softmax and the top-1 the rows lean to.
    let s = &clip.steps[2];
    assert_eq!(s.probs.as_ref().unwrap().len(), 3);
    assert_eq!(s.top[0].class, 1);
    assert!((s.confidence - 0.75).abs() < 1e-6, "{}", s.confidence);
    assert_eq!(back.exit_prediction()[0].class, 1);
}

#[test]
fn a_clip_that_breaks_a_rule_is_refused_and_the_trace_keeps_the_others() {
    let (_d, vids) = videos();
    let mut b = ar_net_trace(&vids[0], 0, 1);
    let base = LoggedClip {
        frames: vec![0, 1, 2],
        ..Default::default()
    };
    let refuse = |b: &mut TraceBuilder, c: LoggedClip, says: &str| {
        let e = b.add_clip(c).unwrap_err().to_string();
        assert!(e.contains(says), "{e:?} should say {says:?}");
    };
    refuse(
        &mut b,
        LoggedClip {
            frames: vec![0, 50],
            ..base.clone()
        },
        "frame 50 is past the video's last frame (50 frames)",
    );
    let mut lanes = BTreeMap::new();
    lanes.insert("resolution".to_string(), vec![Some(0.0), Some(3.0), None]);
    refuse(
        &mut b,
        LoggedClip {
            lanes: lanes.clone(),
            ..base.clone()
        },
        "frame 1: 3 is not the index of one of its categories",
    );
    lanes.insert("depth".to_string(), vec![None; 3]);
    refuse(
        &mut b,
        LoggedClip {
            lanes,
            ..base.clone()
        },
        "lane \"depth\" is not declared",
    );
    refuse(
        &mut b,
        LoggedClip {
            outputs: Some(StepOutputs::Probabilities(vec![vec![0.5, 0.5]])),
            gflops: vec![1.0],
            ..base.clone()
        },
        "step 0's outputs (one per class): 2 values where 3 were expected",
    );
    refuse(
        &mut b,
        LoggedClip {
            outputs: Some(StepOutputs::Logits(vec![vec![0.0, 1.0, f32::NAN]])),
            gflops: vec![1.0],
            ..base.clone()
        },
        "NaN",
    );
    refuse(
        &mut b,
        LoggedClip {
            keep_probs: Some(vec![0.5]),
            ..base.clone()
        },
        "keep_probs: 1 values where 3 were expected",
    );
    assert_eq!(b.clips(), 1);
    b.add_clip(base).unwrap();
    assert_eq!(b.clips(), 2);
    assert!(b
        .declare_categorical("resolution", vec![("x".into(), None)])
        .is_err());
    assert!(b
        .declare_categorical("cost", vec![("x".into(), Some(-1.0))])
        .unwrap_err()
        .to_string()
        .contains("not a number ≥ 0"));
    assert!(b.declare_scalar("bad", None, Some([1.0, 0.0])).is_err());
}

#[test]
fn every_trace_adalens_writes_matches_the_schema() {
    // The four archs' runs, with and without exits marked (thresholds of ±∞ are written null).
    let video = root().join("assets/demo/synth/four_actions.mp4");
    let v = adalens::Video::open(&video).unwrap();
    let never = AtomicBool::new(false);
    for ck in [
        root().join("models/ada3d_focus_synth.safetensors"),
        model_fixture("ada3d_tiny.safetensors"),
        model_fixture("resnet3d_slow_only_tiny.safetensors"),
        model_fixture("uni_adafocus_tiny.pth.tar"),
    ] {
        let model = open_model(&ck);
        let rule = ExitRule::last_step(Criterion::Confidence);
        let run = adalens::run_video(
            &model,
            &v,
            &model.config.knobs(),
            Some(&rule),
            &never,
            &adalens::Quiet,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", ck.display()));
        let json = run.inspection.trace.to_json().unwrap();
        assert_valid(&format!("the run of {}", ck.display()), &json);
        assert_eq!(
            adalens::DecisionTrace::from_json(&json).unwrap(),
            run.inspection.trace
        );
    }
    let model = open_model(root().join("models/ada3d_focus_synth.safetensors"));
    let set =
        adalens::load_calibration(&model, &root().join("models/ada3d_focus_synth.adlcal")).unwrap();
    let (rule, _) = ExitRule::for_budget(
        &PreparedCalibration::new(set).unwrap(),
        Criterion::Entropy,
        1.0,
    )
    .unwrap();
    let run = adalens::run_video(
        &model,
        &v,
        &model.config.knobs(),
        Some(&rule),
        &never,
        &adalens::Quiet,
    )
    .unwrap();
    assert_valid(
        "a run at a budget",
        &run.inspection.trace.to_json().unwrap(),
    );
    // The traces committed with the project (batch fixtures, demo bundles).
    let mut checked = 0;
    for dir in ["tests/fixtures", "assets"] {
        for f in json_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            if text.contains("\"clips\"") && text.contains("\"class_names\"") {
                assert_valid(&f.display().to_string(), &text);
                checked += 1;
            }
        }
    }
    // The bundled logged demo's nine traces at least.
    assert!(checked >= 9, "{checked} committed traces found");
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_schema_refuses_what_a_reader_would_misread() {
    let (_d, vids) = videos();
    let good = serde_json::to_value(ar_net_trace(&vids[1], 0, 1).finish()).unwrap();
    assert!(schema_errors(&good.to_string()).is_empty());
    let broken = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        edit(&mut v);
        schema_errors(&v.to_string())
    };
    assert!(!broken(&|v| v["clips"][0]["frames"][0]["role"] = "skipped".into()).is_empty());
    assert!(!broken(&|v| v["clips"][0]["steps"][0]
        .as_object_mut()
        .unwrap()
        .remove("entropy")
        .map_or((), |_| ()))
    .is_empty());
    assert!(!broken(&|v| v["lanes"][0]
        .as_object_mut()
        .unwrap()
        .remove("categories")
        .map_or((), |_| ()))
    .is_empty());
    assert!(!broken(&|v| v["lanes"][1]["kind"] = "ordinal".into()).is_empty());
    assert!(!broken(&|v| v["version"] = 3.into()).is_empty());
    assert!(!broken(&|v| v["clips"][0]["lanes"]["resolution"][0] = "224".into()).is_empty());
}

/// Five traces of `label`led videos (two clips each) in `dir`, and their `path,label` list.
fn logged_folder(dir: &Path) -> PathBuf {
    let (_d, vids) = videos();
    let mut list = String::from("path,label\n");
    for (i, label) in [0usize, 1, 2, 1, 0].into_iter().enumerate() {
        let video = &vids[i % vids.len()];
        // Distinct videos: a copy per trace (a list names each video once).
        let copy = dir.join(format!("video{i}.mp4"));
        std::fs::copy(video, &copy).unwrap();
        ar_net_trace(&copy, label, 2)
            .save(&dir.join(format!("video{i}.json")))
            .unwrap();
        list.push_str(&format!("video{i}.mp4,{}\n", CLASSES[label]));
    }
    let p = dir.join("labels.csv");
    std::fs::write(&p, list).unwrap();
    p
}

#[test]
fn logged_traces_calibrate_as_the_same_numbers_would() {
    let dir = tempfile::tempdir().unwrap();
    let list = logged_folder(dir.path());
    let folder = adalens::logged::read_folder(dir.path(), Some(&list)).unwrap();
    assert_eq!(folder.traces.len(), 5);
    let set = adalens::calibrate::from_traces(&folder.traces, false)
        .unwrap()
        .set;
    // The same numbers, assembled by hand: each clip a sample, labelled with its video's label.
    let mut outputs = Vec::new();
    let mut costs = Vec::new();
    let mut labels = Vec::new();
    for t in &folder.traces {
        let label = CLASSES
            .iter()
            .position(|c| Some(c.to_string()) == t.label)
            .unwrap() as u32;
        for c in &t.trace.clips {
            for s in &c.steps {
                outputs.extend(s.probs.clone().unwrap());
                costs.push(s.cumulative_gflops);
            }
            labels.push(label);
        }
    }
    let n = labels.len();
    assert_eq!(n, 10);
    let by_hand = CalibrationSet::new(
        n,
        3,
        3,
        OutputKind::Probabilities,
        outputs,
        Labels::Single(labels),
        StepCosts::PerSample(costs),
        Role::alternating(n),
    )
    .unwrap();
    assert_eq!(set.to_bytes(), by_hand.to_bytes());
    // Without labels (no list) the clips need --self-labels.
    let unlabelled = adalens::logged::read_folder(dir.path(), None).unwrap();
    assert!(adalens::calibrate::from_traces(&unlabelled.traces, false).is_err());
    let own = adalens::calibrate::from_traces(&unlabelled.traces, true).unwrap();
    assert_eq!(own.set.samples(), 10);
}

#[test]
fn a_folder_of_logged_traces_is_a_batch_run_the_dataset_view_reads() {
    let dir = tempfile::tempdir().unwrap();
    let list = logged_folder(dir.path());
    // A video of the list without a trace fails its row; it does not stop the import.
    let extra = dir.path().join("orphan.mp4");
    std::fs::copy(&videos().1[0], &extra).unwrap();
    let mut text = std::fs::read_to_string(&list).unwrap();
    text.push_str("orphan.mp4,walk\n");
    std::fs::write(&list, text).unwrap();
    // A file that is not a trace is skipped, named.
    std::fs::write(dir.path().join("notes.json"), "{\"hello\": 1}").unwrap();
    let out = dir.path().join("run");
    let r = adalens::batch::import::import_traces(dir.path(), Some(&list), &out).unwrap();
    assert_eq!((r.traces, r.missing), (5, 1));
    assert_eq!(r.skipped.len(), 1);
    assert!(
        r.skipped[0].1.contains("not a DecisionTrace"),
        "{:?}",
        r.skipped
    );
    let table = RunTable::open(&out).unwrap();
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    assert_eq!(table.rows.len(), 6);
    let ok: Vec<_> = table
        .rows
        .iter()
        .filter(|r| r.status == adalens::batch::table::RowStatus::Ok)
        .collect();
    assert_eq!(ok.len(), 5);
    assert_eq!(table.settings.arch, "ar_net");
    // The rows' traces are the logged ones, lanes and all.
    let t = table.trace(ok[1]).unwrap();
    assert_eq!(t.lanes.len(), 2);
    for f in json_files(&out.join("traces")) {
        assert_valid("an imported trace", &std::fs::read_to_string(f).unwrap());
    }
    assert!(adalens::batch::import::is_trace_folder(dir.path()));
    assert!(!adalens::batch::import::is_trace_folder(&out));
}

#[test]
fn the_command_line_calibrates_and_imports_logged_traces() {
    let dir = tempfile::tempdir().unwrap();
    let list = logged_folder(dir.path());
    let bin = env!("CARGO_BIN_EXE_adalens");
    let cal = dir.path().join("logged.adlcal");
    let out = std::process::Command::new(bin)
        .args(["calibrate", "--traces"])
        .arg(dir.path())
        .arg(&list)
        .arg("-o")
        .arg(&cal)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("10 samples from 5 traces"), "{said}");
    assert_eq!(CalibrationSet::load(&cal).unwrap().samples(), 10);
    let run = dir.path().join("run");
    let out = std::process::Command::new(bin)
        .arg("import")
        .arg(dir.path())
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run.join("summary.parquet").is_file());
    assert_eq!(RunTable::open(&run).unwrap().rows.len(), 5);
    // A figure of a logged trace, with no checkpoint: its frames banded by category.
    let svg = dir.path().join("fig.svg");
    let out = std::process::Command::new(bin)
        .arg("figure")
        .arg("--trace")
        .arg(dir.path().join("video1.json"))
        .args(["--budget", "3.0", "--calibration"])
        .arg(&cal)
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let ids = |prefix: &str| {
        doc.descendants()
            .filter(|n| n.attribute("id").is_some_and(|i| i.starts_with(prefix)))
            .count()
    };
    assert_eq!(ids("frame-0-"), 8);
    assert_eq!(ids("lane-0-"), 8, "one resolution band per frame");
    // Without a checkpoint or a trace, figure says what it needs.
    let out = std::process::Command::new(bin)
        .arg("figure")
        .arg(dir.path().join("video1.mp4"))
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--checkpoint CK"));
}
