//! `adalens batch` and `adalens merge` as a cluster job runs them: a run killed with SIGKILL
//! and rerun ends with the outputs of an uninterrupted run; the shards' union equals the
//! unsharded run; a corrupt video is reported and the others finish; other settings in the
//! same folder are refused.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use adalens::decision::trace::DecisionTrace;

fn adalens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(args)
        .output()
        .expect("run adalens")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "adalens failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn checkpoint() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo/ada3d_focus_untrained.safetensors")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir/traces` and `dir/failed`, by name, with its bytes.
fn results(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["traces", "failed"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let name = format!("{sub}/{}", e.file_name().to_string_lossy());
            out.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

/// A list of `n` videos: a few generated clips copied under many names, one corrupt.
fn dataset(dir: &Path, n: usize) -> PathBuf {
    let sources: Vec<PathBuf> = (0..3)
        .map(|i| {
            common::make_video(
                dir,
                &format!("src{i}.mp4"),
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    &format!("testsrc2=size=160x120:rate=25:duration={}", 2 + i),
                ],
            )
        })
        .collect();
    let videos = dir.join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    let mut list = String::from("path,label\n");
    for i in 0..n {
        let name = format!("v{i:03}.mp4");
        if i == 4 {
            // Truncated in the middle: FFmpeg cannot read it.
            let bytes = std::fs::read(&sources[0]).unwrap();
            std::fs::write(videos.join(&name), &bytes[..bytes.len() / 3]).unwrap();
        } else {
            std::fs::copy(&sources[i % 3], videos.join(&name)).unwrap();
        }
        list.push_str(&format!(
            "videos/{name},{}\n",
            ["diving", "fencing", "2"][i % 3]
        ));
    }
    let path = dir.join("list.csv");
    std::fs::write(&path, list).unwrap();
    path
}

#[test]
fn killed_run_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40;
    let list = dataset(dir.path(), n);
    let ck = checkpoint();
    let (full, killed) = (dir.path().join("full"), dir.path().join("killed"));
    let args = |out: &Path| {
        vec![
            "batch".to_string(),
            s(&list).into(),
            "--checkpoint".into(),
            s(&ck).into(),
            "--out".into(),
            s(out).into(),
            "--jobs".into(),
            "1".into(),
        ]
    };
    let text = ok(adalens(
        &args(&full).iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    ));
    assert!(
        text.contains(&format!("{} ran, 0 already done, 1 failed", n - 1)),
        "{text}"
    );

    // Kill the second run once a few videos are done (SIGKILL: no chance to clean up).
    let mut child = Command::new(env!("CARGO_BIN_EXE_adalens"))
        .args(args(&killed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let traces = killed.join("traces");
    loop {
        let done = std::fs::read_dir(&traces).map(|r| r.count()).unwrap_or(0);
        if done >= 3 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let done = std::fs::read_dir(&traces).unwrap().count();
    assert!(done < n - 1, "the kill came after the end ({done} traces)");
    // The summary is there from the start, every video in it, the unreached ones pending.
    let table = std::fs::read_to_string(killed.join("summary.csv")).unwrap();
    let statuses: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap_or(""))
        .collect();
    assert_eq!(statuses.len(), n, "{table}");
    assert!(statuses.contains(&"pending"), "{table}");
    assert!(
        statuses
            .iter()
            .all(|s| ["ok", "failed", "pending"].contains(s)),
        "{table}"
    );
    // What a killed run leaves is whole: every trace parses.
    for e in std::fs::read_dir(&traces).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(adalens::fsutil::TEMP_PREFIX) {
            continue;
        }
        DecisionTrace::from_json(&std::fs::read_to_string(e.path()).unwrap())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
    }

    let text = ok(adalens(
        &args(&killed).iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    ));
    assert!(text.contains("already done"), "{text}");
    assert_eq!(results(&killed), results(&full));
    assert_eq!(
        std::fs::read_to_string(killed.join("summary.csv")).unwrap(),
        std::fs::read_to_string(full.join("summary.csv")).unwrap()
    );
    // A third run has nothing left to do.
    let text = ok(adalens(
        &args(&killed).iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    ));
    assert!(
        text.starts_with(&format!("0 ran, {} already done, 1 failed", n - 1)),
        "{text}"
    );
}

/// The run the tests below share: 8 videos (one corrupt) in one unsharded run at budget 0.013.
struct WholeRun {
    dir: tempfile::TempDir,
    list: PathBuf,
    whole: PathBuf,
}

const BUDGET: &str = "0.013";

fn whole_run() -> &'static WholeRun {
    static RUN: std::sync::OnceLock<WholeRun> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let list = dataset(dir.path(), 8);
        let whole = dir.path().join("whole");
        let ck = checkpoint();
        ok(adalens(&[
            "batch",
            s(&list),
            "--checkpoint",
            s(&ck),
            "--out",
            s(&whole),
            "--jobs",
            "2",
            "--budget",
            BUDGET,
        ]));
        WholeRun { dir, list, whole }
    })
}

/// Shards `which` of 3 of the shared list into `out`, each as a separate job of an array
/// would run it (same folder, shared storage).
fn run_shards(out: &Path, which: &[usize]) {
    let (w, ck) = (whole_run(), checkpoint());
    for i in which {
        let shard = format!("{i}/3");
        ok(adalens(&[
            "batch",
            s(&w.list),
            "--checkpoint",
            s(&ck),
            "--out",
            s(out),
            "--shard",
            &shard,
            "--budget",
            BUDGET,
        ]));
        assert!(out.join(format!("summary.shard-{i}-of-3.csv")).exists());
    }
    assert!(!out.join("summary.csv").exists());
}

#[test]
fn the_shards_union_equals_the_whole_run() {
    let w = whole_run();
    let dir = tempfile::tempdir().unwrap();
    let sharded = dir.path().join("sharded");
    run_shards(&sharded, &[0, 1, 2]);
    let text = ok(adalens(&["merge", s(&sharded)]));
    assert!(text.contains("8 videos"), "{text}");
    assert_eq!(results(&sharded), results(&w.whole));
    assert_eq!(
        std::fs::read_to_string(sharded.join("summary.csv")).unwrap(),
        std::fs::read_to_string(w.whole.join("summary.csv")).unwrap()
    );
}

#[test]
fn a_merge_with_a_shard_missing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sharded = dir.path().join("sharded");
    run_shards(&sharded, &[0, 2]);
    let o = adalens(&["merge", s(&sharded)]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("1/3"));
    // A shard still running (its summary lists pending videos) is refused too.
    let table = std::fs::read_to_string(sharded.join("summary.shard-0-of-3.csv")).unwrap();
    let running = table.replacen(",ok,", ",pending,", 1);
    assert_ne!(running, table);
    std::fs::write(sharded.join("summary.shard-1-of-3.csv"), running).unwrap();
    let o = adalens(&["merge", s(&sharded)]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 videos pending"), "{err}");
}

/// The corrupt video: a row with its error; every other video finished, with its exit step
/// under the budget's thresholds and its top-1.
#[test]
fn the_summary_reports_the_bad_video_and_each_others_exit() {
    let w = whole_run();
    let summary = std::fs::read_to_string(w.whole.join("summary.csv")).unwrap();
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 8);
    for r in &rows {
        if r[1].ends_with("v004.mp4") {
            assert_eq!(r[3], "failed");
            assert!(r[4].contains("v004.mp4"), "{r:?}");
            continue;
        }
        assert_eq!(r[3], "ok", "{r:?}");
        let key = Path::new(r[1])
            .strip_prefix(w.dir.path())
            .unwrap()
            .to_str()
            .unwrap()
            .replace('/', "__");
        let trace = DecisionTrace::from_json(
            &std::fs::read_to_string(w.whole.join("traces").join(key + ".json")).unwrap(),
        )
        .unwrap();
        let clip = &trace.clips[0];
        let exit = clip.exit.as_ref().unwrap();
        assert_eq!(r[5], exit.exit_step.to_string());
        assert_eq!(exit.budget, Some(0.013));
        assert_eq!(r[6], clip.steps.len().to_string());
        let kept = clip.frames.iter().filter(|f| f.kept).count();
        assert_eq!(r[8], kept.to_string());
        assert_eq!(r[13], clip.steps[exit.exit_step].top[0].class.to_string());
    }
}

#[test]
fn other_settings_into_the_same_folder_are_refused_rather_than_mixed() {
    let w = whole_run();
    let before = results(&w.whole);
    let o = adalens(&[
        "batch",
        s(&w.list),
        "--checkpoint",
        s(&checkpoint()),
        "--out",
        s(&w.whole),
        "--max-cubes",
        "1",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("other settings"));
    assert_eq!(results(&w.whole), before);
}

#[test]
fn a_folder_instead_of_a_list_runs_the_videos_found_in_it() {
    let w = whole_run();
    let dir = tempfile::tempdir().unwrap();
    let from_dir = dir.path().join("from_dir");
    let text = ok(adalens(&[
        "batch",
        s(&w.dir.path().join("videos")),
        "--checkpoint",
        s(&checkpoint()),
        "--out",
        s(&from_dir),
    ]));
    assert!(text.contains("7 ran, 0 already done, 1 failed"), "{text}");
}

#[test]
fn a_video_whose_result_cannot_be_written_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let list = dataset(dir.path(), 4);
    let out = dir.path().join("out");
    // A directory where v001's trace goes: writing it fails, for that video only.
    std::fs::create_dir_all(out.join("traces/videos__v001.mp4.json/blocker")).unwrap();
    let ck = checkpoint();
    let text = ok(adalens(&[
        "batch",
        s(&list),
        "--checkpoint",
        s(&ck),
        "--out",
        s(&out),
    ]));
    assert!(
        text.starts_with("3 ran, 0 already done, 1 failed"),
        "{text}"
    );
    let table = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let row = table
        .lines()
        .find(|l| l.contains("v001.mp4"))
        .unwrap_or_default();
    assert!(
        row.contains("failed") && row.contains("cannot write its result"),
        "{table}"
    );
}

#[test]
fn a_list_typed_another_way_finds_the_same_results() {
    let run = whole_run();
    // The same list through `./` and `sub/..`: every video is already done.
    let sub = run.dir.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let name = run.list.file_name().unwrap().to_str().unwrap();
    let other = sub.join("..").join(".").join(name);
    // A copy of the results, so the shared run's summary stays as it was.
    let copy = run.dir.path().join("whole_copy");
    for sub in ["traces", "failed"] {
        std::fs::create_dir_all(copy.join(sub)).unwrap();
        for e in std::fs::read_dir(run.whole.join(sub)).unwrap().flatten() {
            std::fs::copy(e.path(), copy.join(sub).join(e.file_name())).unwrap();
        }
    }
    std::fs::copy(run.whole.join("batch.json"), copy.join("batch.json")).unwrap();
    let ck = checkpoint();
    let text = ok(adalens(&[
        "batch",
        s(&other),
        "--checkpoint",
        s(&ck),
        "--out",
        s(&copy),
        "--jobs",
        "2",
        "--budget",
        BUDGET,
    ]));
    assert!(
        text.starts_with("0 ran, 7 already done, 1 failed"),
        "{text}"
    );
}

/// `--exact` numbers a long file's frames as the ffmpeg CLI does, where by default (over 300 M
/// pixels) they come from its packets; it is one of the run's settings, so a rerun without it
/// into the same folder is refused.
#[test]
fn exact_numbers_a_long_damaged_video_as_the_cli_and_is_part_of_the_settings() {
    let d = tempfile::tempdir().unwrap();
    let videos = d.path().join("videos/some_class");
    std::fs::create_dir_all(&videos).unwrap();
    let bad = videos.join("damaged.mp4");
    common::make_long_damaged_video(d.path(), &bad);
    let frames_of = |out: &Path, extra: &[&str]| {
        let root = d.path().join("videos");
        let mut args = vec!["batch", s(&root), "--checkpoint"];
        let ck = checkpoint();
        args.push(s(&ck));
        args.extend_from_slice(&["--out", s(out)]);
        args.extend_from_slice(extra);
        let o = adalens(&args);
        ok(o);
        let traces: Vec<_> = std::fs::read_dir(out.join("traces"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(traces.len(), 1);
        let t: DecisionTrace =
            serde_json::from_slice(&std::fs::read(traces[0].path()).unwrap()).unwrap();
        t.video.frame_count
    };
    let (plain, exact) = (d.path().join("plain"), d.path().join("exact"));
    assert_eq!(frames_of(&plain, &[]), 160, "numbered from the packets");
    assert_eq!(frames_of(&exact, &["--exact"]), 159, "as the CLI counts");
    let settings = std::fs::read_to_string(exact.join("batch.json")).unwrap();
    assert!(settings.contains("\"exact_frames\": true"), "{settings}");
    assert!(!std::fs::read_to_string(plain.join("batch.json"))
        .unwrap()
        .contains("exact_frames"));
    let root = d.path().join("videos");
    let ck = checkpoint();
    let o = adalens(&[
        "batch",
        s(&root),
        "--checkpoint",
        s(&ck),
        "--out",
        s(&exact),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("other settings"));
}
