//! `adalens diff`: two runs of the bundled checkpoint on a demo video (the same settings, two
//! budgets, two τ_f) and two batch runs over the demo videos, checked against the library run
//! headless and the budget engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

use adalens::batch::table::{Exits, RunTable};
use adalens::decision::{CalibrationSet, Criterion, ExitRule, PreparedCalibration};
use adalens::model::load::{ConfigOverrides, LoadedModel};
use adalens::runner::{run_video, Quiet};
use adalens::video::Video;

const CHECKPOINT: &str = "models/ada3d_focus_synth.safetensors";
const VIDEO: &str = "assets/demo/synth/four_actions.mp4";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn adalens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(args)
        .output()
        .expect("run adalens")
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = adalens(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn prep() -> PreparedCalibration {
    let set = CalibrationSet::load(root().join("models/ada3d_focus_synth.adlcal")).unwrap();
    PreparedCalibration::new(set).unwrap()
}

fn headless_trace() -> adalens::DecisionTrace {
    let model = LoadedModel::open(
        root().join(CHECKPOINT),
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let video = Video::open(root().join(VIDEO)).unwrap();
    let knobs = model.config.knobs();
    run_video(
        &model,
        &video,
        &knobs,
        None,
        &AtomicBool::new(false),
        &Quiet,
    )
    .unwrap()
    .inspection
    .trace
}

#[test]
fn a_checkpoint_against_itself_differs_in_nothing() {
    let (ck, video) = (root().join(CHECKPOINT), root().join(VIDEO));
    let d = json(&["diff", s(&video), "--checkpoint", s(&ck), "--json"]);
    assert_eq!(d["same"], true);
    assert_eq!(d["clips"].as_array().unwrap().len(), 4);
    let d = json(&[
        "diff",
        s(&video),
        "--checkpoint",
        s(&ck),
        "--checkpoint-b",
        s(&ck),
        "--budget",
        "0.022",
        "--budget-b",
        "0.022",
        "--json",
    ]);
    assert_eq!(d["same"], true);
}

/// At two budgets the exits differ exactly as the budget engine's thresholds mark them.
#[test]
fn two_budgets_differ_in_the_exits_the_budget_engine_gives() {
    let (ck, video) = (root().join(CHECKPOINT), root().join(VIDEO));
    let prep = prep();
    let (lo, hi) = prep.fit_cost_range();
    let (ba, bb) = (lo + 0.1 * (hi - lo), lo + 0.9 * (hi - lo));
    let d = json(&[
        "diff",
        s(&video),
        "--checkpoint",
        s(&ck),
        "--budget",
        &ba.to_string(),
        "--budget-b",
        &bb.to_string(),
        "--json",
    ]);
    let trace = headless_trace();
    let exits = |b: f64| {
        let mut t = trace.clone();
        ExitRule::for_budget(&prep, Criterion::Entropy, b)
            .unwrap()
            .0
            .apply(&mut t);
        t.clips
            .iter()
            .map(|c| c.exit.as_ref().unwrap().exit_step)
            .collect::<Vec<_>>()
    };
    let clips = d["clips"].as_array().unwrap();
    let got = |k: &str| -> Vec<usize> {
        clips
            .iter()
            .map(|c| c[k].as_u64().unwrap() as usize)
            .collect()
    };
    assert_eq!(got("exit_a"), exits(ba));
    assert_eq!(got("exit_b"), exits(bb));
    assert_ne!(
        got("exit_a"),
        got("exit_b"),
        "the two budgets should move some exit"
    );
    assert_eq!(d["same"], false);
}

/// A lower τ_f for B: the frames kept by B only are those whose keep probability lies between
/// the two thresholds.
#[test]
fn a_lower_tau_f_keeps_exactly_the_frames_between_the_thresholds() {
    let (ck, video) = (root().join(CHECKPOINT), root().join(VIDEO));
    let d = json(&[
        "diff",
        s(&video),
        "--checkpoint",
        s(&ck),
        "--tau-f-b",
        "0.2",
        "--json",
    ]);
    let trace = headless_trace();
    let own = 0.5;
    for (c, clip) in d["clips"].as_array().unwrap().iter().zip(&trace.clips) {
        let want: Vec<u64> = clip
            .frames
            .iter()
            .filter(|f| f.keep_prob.is_some_and(|m| (0.2..own).contains(&m)))
            .map(|f| f.frame as u64)
            .collect();
        let got: Vec<u64> = c["kept_only_b"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(got, want);
        assert!(c["kept_only_a"].as_array().unwrap().is_empty());
    }
}

/// Two batch runs: the stored exits of each, the flips between them as their tables say.
#[test]
fn two_batch_runs_differ_video_by_video_as_their_tables_say() {
    let dir = tempfile::tempdir().unwrap();
    let synth = root().join("assets/demo/synth");
    let mut list = String::from("path,label\n");
    for c in [
        "red_disc",
        "green_square",
        "moves_up",
        "moves_left",
        "moves_down",
        "moves_right",
    ] {
        list.push_str(&format!(
            "{},{c}\n",
            synth.join(format!("{c}.mp4")).display()
        ));
    }
    let list_path = dir.path().join("list.csv");
    std::fs::write(&list_path, list).unwrap();
    let (lo, _) = prep().fit_cost_range();
    let runs: Vec<PathBuf> = [None, Some(lo)]
        .iter()
        .enumerate()
        .map(|(i, budget)| {
            let out = dir.path().join(format!("run{i}"));
            let mut args = vec![
                "batch".to_string(),
                s(&list_path).into(),
                "--checkpoint".into(),
                s(&root().join(CHECKPOINT)).into(),
                "--out".into(),
                s(&out).into(),
            ];
            if let Some(b) = budget {
                args.extend(["--budget".into(), b.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert!(adalens(&args).status.success());
            out
        })
        .collect();
    let d = json(&["diff", s(&runs[0]), s(&runs[1]), "--json"]);
    let (ta, tb) = (
        RunTable::open(&runs[0]).unwrap(),
        RunTable::open(&runs[1]).unwrap(),
    );
    let (da, db) = (ta.decide(&Exits::Stored), tb.decide(&Exits::Stored));
    let videos = d["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 6);
    let mut moved = 0;
    for (i, v) in videos.iter().enumerate() {
        assert_eq!(v["exit_a"].as_u64(), da[i].exit_step.map(u64::from));
        assert_eq!(v["exit_b"].as_u64(), db[i].exit_step.map(u64::from));
        let flip = match (da[i].correct, db[i].correct) {
            (Some(true), Some(false)) => "right_to_wrong",
            (Some(false), Some(true)) => "wrong_to_right",
            _ => "",
        };
        assert_eq!(v["flip"].as_str().unwrap_or(""), flip);
        moved += usize::from(da[i].exit_step != db[i].exit_step);
    }
    assert!(moved > 0, "the cheapest budget should move exits");
    // A run against itself: nothing.
    let same = json(&["diff", s(&runs[0]), s(&runs[0]), "--json"]);
    assert!(same["videos"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["flip"].is_null() && v["exit_a"] == v["exit_b"]));
}

/// `adalens figure --compare`: two rows (A at the checkpoint's τ_f, B at a lower one), the
/// frames only B keeps outlined in red, and what differs written under the first title — the
/// same frames `adalens diff` names for that clip.
#[test]
fn figure_compare_marks_the_frames_diff_names() {
    let (ck, video) = (root().join(CHECKPOINT), root().join(VIDEO));
    let d = json(&[
        "diff",
        s(&video),
        "--checkpoint",
        s(&ck),
        "--tau-f-b",
        "0.2",
        "--json",
    ]);
    let clip = &d["clips"][0];
    let mut marked: Vec<u64> = ["kept_only_a", "kept_only_b"]
        .iter()
        .flat_map(|k| {
            clip[*k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
        })
        .collect();
    marked.sort_unstable();
    assert!(
        !marked.is_empty(),
        "a lower τ_f should keep more frames: {clip}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare.svg");
    let o = adalens(&[
        "figure",
        s(&video),
        "--checkpoint",
        s(&ck),
        "--compare",
        "--tau-f-b",
        "0.2",
        "--svg-text",
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let text_of = |id: &str| {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(id))
            .map(|n| n.text().unwrap_or_default().to_string())
    };
    assert!(text_of("title-0").unwrap().starts_with("A: "));
    assert!(text_of("title-1").unwrap().starts_with("B: "));
    let note = text_of("differs-0").expect("what differs under the first title");
    assert!(
        note.contains(&format!("{} frames kept by one run only", marked.len())),
        "{note}"
    );
    // Each marked frame is outlined on both rows; its caption names its frame number.
    let outlined = doc
        .descendants()
        .filter(|n| {
            n.attribute("id")
                .is_some_and(|i| i.starts_with("differs-1-"))
        })
        .count();
    assert_eq!(outlined, marked.len());
    // Without --compare, B's flags are refused (they would be silently ignored).
    let o = adalens(&[
        "figure",
        s(&video),
        "--checkpoint",
        s(&ck),
        "--tau-f-b",
        "0.2",
        "-o",
        s(&out),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("add --compare"));
}
