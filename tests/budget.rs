//! Budget engine (issue 5): properties, parity with the independent numpy reference
//! (`scripts/budget_reference.py` → `tests/fixtures/budget/parity.json`), scikit-learn mAP, and
//! the importer for the official Uni-AdaFocus logits file.

use std::path::PathBuf;

use adalens::decision::synthetic::{synthetic_set, SplitMix64, SyntheticSpec};
use adalens::decision::{
    CalibrationSet, Clamp, Criterion, CurveOptions, Labels, PreparedCalibration, Role, Split,
    StepCosts,
};
use adalens::model::official_logits::{load_official_logits, OfficialLogitsError};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/budget")
}

fn parity() -> Value {
    let path = fixture_dir().join("parity.json");
    let text = std::fs::read_to_string(&path).expect("parity fixture present");
    serde_json::from_str(&text).expect("parity fixture is JSON")
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn counts(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("count") as usize)
        .collect()
}

fn criterion(v: &Value) -> Criterion {
    v.as_str()
        .expect("criterion")
        .parse()
        .expect("known criterion")
}

fn spec_of(case: &Value) -> SyntheticSpec {
    let s = &case["spec"];
    SyntheticSpec {
        samples: s["samples"].as_u64().expect("samples") as usize,
        steps: s["steps"].as_u64().expect("steps") as usize,
        classes: s["classes"].as_u64().expect("classes") as usize,
        seed: s["seed"].as_u64().expect("seed"),
        max_labels: s["max_labels"].as_u64().expect("max_labels") as usize,
        step_costs: s["step_costs"]
            .as_array()
            .expect("costs")
            .iter()
            .map(f)
            .collect(),
        per_sample_costs: s["per_sample_costs"].as_bool().expect("bool"),
        fit_samples: s["fit_samples"].as_u64().map(|k| k as usize),
    }
}

fn assert_thresholds(ours: &[Option<f64>], theirs: &Value, what: &str) {
    let theirs = theirs.as_array().expect("thresholds");
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (t, (a, b)) in ours.iter().zip(theirs).enumerate() {
        match (a, b.as_f64()) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-6, "{what} step {t}: {a} vs {b}"),
            _ => panic!("{what} step {t}: {a:?} vs {b:?}"),
        }
    }
}

fn check_case(case: &Value, name: &str) {
    let spec = spec_of(case);
    let prep = PreparedCalibration::new(synthetic_set(&spec).expect("set")).expect("prepare");
    let (lo, hi) = prep.fit_cost_range();
    let range = case["fit_cost_range"].as_array().expect("range");
    assert!((lo - f(&range[0])).abs() < 1e-9 && (hi - f(&range[1])).abs() < 1e-9);

    for row in case["per_p"].as_array().expect("per_p") {
        let c = criterion(&row["criterion"]);
        let p = f(&row["p"]);
        let what = format!("{name} {c} p={p}");
        let sol = prep.solve_p(c, p).expect("solve");
        assert_eq!(sol.planned_counts, counts(&row["planned_counts"]), "{what}");
        assert_thresholds(&sol.finite_thresholds(), &row["thresholds"], &what);
        assert!(
            (sol.fit_gflops - f(&row["fit_gflops"])).abs() < 1e-9,
            "{what}"
        );
        let ev = prep.evaluate(&sol);
        assert_eq!(ev.counts, counts(&row["eval_counts"]), "{what}");
        assert!((ev.gflops - f(&row["gflops"])).abs() < 1e-9, "{what}");
        assert!((ev.top1 - f(&row["top1"])).abs() < 1e-12, "{what}");
        assert!((ev.top5 - f(&row["top5"])).abs() < 1e-12, "{what}");
        if let Some(m) = row["map"].as_f64() {
            let ours = prep.mean_average_precision(&ev);
            assert!((ours - m).abs() < 1e-9, "{what}: mAP {ours} vs sklearn {m}");
        }
    }

    for row in case["per_budget"].as_array().expect("per_budget") {
        let c = criterion(&row["criterion"]);
        let b = f(&row["budget"]);
        let what = format!("{name} {c} budget={b}");
        let sol = prep.solve_budget(c, b).expect("solve");
        assert_eq!(sol.planned_counts, counts(&row["planned_counts"]), "{what}");
        assert_thresholds(&sol.finite_thresholds(), &row["thresholds"], &what);
        // (JSON numbers may parse 1 ulp off, so budgets exactly at an end of the range are not
        // checked for the clamp flag, only for the plan.)
        if b < lo - 1e-9 {
            assert_eq!(sol.clamp, Clamp::BelowMinimum, "{what}");
        } else if b > hi + 1e-9 {
            assert_eq!(sol.clamp, Clamp::AboveMaximum, "{what}");
        } else if b > lo + 1e-9 && b < hi - 1e-9 {
            assert_eq!(sol.clamp, Clamp::None, "{what}");
            assert!(sol.fit_gflops <= b + 1e-9, "{what}");
        }
        assert_eq!(
            prep.evaluate(&sol).counts,
            counts(&row["eval_counts"]),
            "{what}"
        );
    }

    let fixed = prep.fixed_step_curve(true).expect("fixed");
    for (ours, row) in fixed
        .iter()
        .zip(case["fixed_step"].as_array().expect("fixed"))
    {
        assert!((ours.top1 - f(&row["top1"])).abs() < 1e-12);
        assert!((ours.gflops - f(&row["gflops"])).abs() < 1e-9);
        if let Some(m) = row["map"].as_f64() {
            let o = ours.map.expect("map");
            assert!(
                (o - m).abs() < 1e-9,
                "{name} fixed {}: {o} vs {m}",
                ours.step
            );
        }
    }
}

#[test]
fn splitmix_matches_python() {
    let fx = parity();
    let seed = fx["main"]["spec"]["seed"].as_u64().expect("seed");
    let mut r = SplitMix64::new(seed);
    for v in fx["splitmix_first_u64"].as_array().expect("u64s") {
        let want = u64::from_str_radix(v.as_str().expect("hex"), 16).expect("hex");
        assert_eq!(r.next_u64(), want);
    }
    // Uniforms: serde_json may parse a float 1 ulp off, hence the tolerance.
    let mut r = SplitMix64::new(seed);
    for v in fx["splitmix_first_uniforms"].as_array().expect("uniforms") {
        assert!((r.uniform() - f(v)).abs() <= 1e-15);
    }
}

#[test]
fn parity_single_label_2000x17x200() {
    check_case(&parity()["main"], "main");
}

#[test]
fn parity_multilabel_per_sample_costs_and_split() {
    check_case(&parity()["multilabel"], "multilabel");
}

fn prepared(spec: &SyntheticSpec) -> PreparedCalibration {
    PreparedCalibration::new(synthetic_set(spec).expect("set")).expect("prepare")
}

#[test]
fn larger_budget_never_costs_less_on_the_fitting_split() {
    let prep = prepared(&SyntheticSpec::simple(700, 9, 40, 11));
    let (lo, hi) = prep.fit_cost_range();
    for c in Criterion::ALL {
        let mut prev = f64::NEG_INFINITY;
        for k in 0..=300 {
            let b = lo - 1.0 + (hi - lo + 2.0) * k as f64 / 300.0;
            let sol = prep.solve_budget(c, b).expect("solve");
            assert!(
                sol.fit_gflops >= prev,
                "{c} budget {b}: {} < {prev}",
                sol.fit_gflops
            );
            if (lo..=hi).contains(&b) {
                assert!(sol.fit_gflops <= b + 1e-12);
            }
            prev = sol.fit_gflops;
        }
    }
}

#[test]
fn per_sample_costs_stay_within_budget() {
    let mut spec = SyntheticSpec::simple(500, 6, 20, 5);
    spec.per_sample_costs = true;
    spec.fit_samples = Some(300);
    let prep = prepared(&spec);
    let (lo, hi) = prep.fit_cost_range();
    for k in 0..=50 {
        let b = lo + (hi - lo) * k as f64 / 50.0;
        let sol = prep.solve_budget(Criterion::Entropy, b).expect("solve");
        assert!(
            sol.fit_gflops <= b + 1e-12,
            "budget {b}: {}",
            sol.fit_gflops
        );
    }
}

#[test]
fn extremes_exit_everyone_at_the_first_or_last_step() {
    let mut spec = SyntheticSpec::simple(333, 7, 12, 3);
    spec.fit_samples = Some(200);
    let prep = prepared(&spec);
    let (lo, hi) = prep.fit_cost_range();
    let n = prep.split_len(Split::Fit);
    let n_eval = prep.split_len(Split::Eval);
    for c in Criterion::ALL {
        let first = prep.solve_budget(c, lo).expect("solve");
        assert_eq!(first.planned_counts[0], n);
        assert_eq!(first.clamp, Clamp::None);
        assert_eq!(prep.evaluate_on(Split::Fit, &first).counts[0], n);
        // ... and on held-out samples too, even those less sure than every fitting sample.
        assert_eq!(prep.evaluate(&first).counts[0], n_eval);
        let last = prep.solve_budget(c, hi).expect("solve");
        assert_eq!(last.planned_counts[6], n);
        assert_eq!(last.clamp, Clamp::None);
        assert_eq!(prep.evaluate_on(Split::Fit, &last).counts[6], n);
        assert_eq!(prep.evaluate(&last).counts[6], n_eval);
        assert!((prep.evaluate_on(Split::Fit, &last).gflops - hi).abs() < 1e-9);
        let below = prep.solve_budget(c, lo * 0.5).expect("solve");
        assert_eq!(below.clamp, Clamp::BelowMinimum);
        assert_eq!(below.planned_counts[0], n);
        let above = prep.solve_budget(c, hi * 2.0).expect("solve");
        assert_eq!(above.clamp, Clamp::AboveMaximum);
        assert_eq!(above.planned_counts[6], n);
    }
}

#[test]
fn thresholds_reproduce_the_planned_shares_on_the_fitting_split() {
    let mut spec = SyntheticSpec::simple(900, 11, 30, 8);
    spec.fit_samples = Some(600);
    let prep = prepared(&spec);
    let (lo, hi) = prep.fit_cost_range();
    for c in Criterion::ALL {
        for k in 1..20 {
            let sol = prep.solve_p(c, k as f64 / 20.0).expect("solve");
            let ev = prep.evaluate_on(Split::Fit, &sol);
            assert_eq!(ev.counts, sol.planned_counts, "{c} p={}", sol.p);
            assert!((ev.gflops - sol.fit_gflops).abs() < 1e-9);
            let b = lo + (hi - lo) * k as f64 / 20.0;
            let sol = prep.solve_budget(c, b).expect("solve");
            assert_eq!(
                prep.evaluate_on(Split::Fit, &sol).counts,
                sol.planned_counts
            );
        }
    }
}

#[test]
fn curve_random_baseline_and_fixed_steps() {
    let prep = prepared(&SyntheticSpec::simple(800, 8, 25, 21));
    let budgets = prep.default_budgets(19);
    let opts = CurveOptions {
        with_map: true,
        with_random: true,
        random_seed: 42,
        ..Default::default()
    };
    let curve = prep
        .curve_for_budgets(Criterion::Entropy, &budgets, &opts)
        .expect("curve");
    assert_eq!(curve.adaptive.len(), 19);
    assert_eq!(curve.fixed_step.len(), 8);
    let again = prep
        .curve_for_budgets(Criterion::Entropy, &budgets, &opts)
        .expect("curve");
    assert_eq!(curve, again, "seeded random baseline is reproducible");
    let mut better = 0;
    for pt in &curve.adaptive {
        let r = pt.random.as_ref().expect("random");
        assert!(
            (r.gflops - pt.gflops).abs() < 1e-9,
            "same exit counts, same cost"
        );
        assert!(pt.map.is_some() && r.map.is_some());
        better += usize::from(pt.top1 > r.top1);
    }
    // The synthetic signal makes confident samples more often right: entropy exits must beat
    // random exits at most budgets (a deliberately loose bound; it fails if ranking is inverted).
    assert!(
        better >= 15,
        "adaptive beat random at only {better}/19 budgets"
    );
    // Fixed-step accuracy grows with the step on this data (signal strengthens).
    assert!(curve.fixed_step[7].top1 > curve.fixed_step[0].top1);
}

#[test]
fn calibration_file_roundtrip_and_errors() {
    let mut spec = SyntheticSpec::simple(50, 4, 6, 2);
    spec.max_labels = 3;
    spec.per_sample_costs = true;
    spec.fit_samples = Some(20);
    let set = synthetic_set(&spec).expect("set");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.adlcal");
    set.save(&path).expect("save");
    let back = CalibrationSet::load(&path).expect("load");
    assert_eq!(back, set);
    assert!(matches!(back.labels(), Labels::Multi(_)));
    assert!(matches!(back.costs(), StepCosts::PerSample(_)));
    assert_eq!(back.roles()[19], Role::Fit);
    assert_eq!(back.roles()[20], Role::Eval);
    let text = dir.path().join("t.adlcal");
    std::fs::write(&text, "hello").expect("write");
    assert!(CalibrationSet::load(&text).is_err());
    assert!(CalibrationSet::load(dir.path().join("missing")).is_err());
}

#[test]
fn empty_split_is_an_error() {
    let mut spec = SyntheticSpec::simple(10, 3, 4, 1);
    spec.fit_samples = Some(10); // nothing left for evaluation
    let set = synthetic_set(&spec).expect("set");
    assert!(PreparedCalibration::new(set).is_err());
}

const SMALL: [f64; 3] = [1.0, 2.5, 4.0];

#[test]
fn official_logits_importer_reads_the_fixture() {
    let set = load_official_logits(fixture_dir().join("official_logits_small.pth"), &SMALL)
        .expect("import");
    assert_eq!((set.samples(), set.steps(), set.classes()), (10, 3, 5));
    // train (6) → fit, val (4) → eval
    assert_eq!(set.roles().iter().filter(|r| **r == Role::Fit).count(), 6);
    assert_eq!(set.roles().iter().filter(|r| **r == Role::Eval).count(), 4);
    // logits[i, t, c] = offset + i + 0.25 t + 0.125 c
    assert_eq!(set.row(1, 2), &[1.5, 1.625, 1.75, 1.875, 2.0]);
    assert_eq!(set.row(6 + 3, 0)[4], 100.0 + 3.0 + 0.5);
    match set.labels() {
        Labels::Multi(l) => {
            assert_eq!(l[0], vec![0]);
            assert_eq!(l[1], vec![1, 3]);
            assert_eq!(l[6], vec![4]);
        }
        other => panic!("expected multi-label targets, got {other:?}"),
    }
    assert_eq!(set.cost(7, 1), 2.5);
    // and the whole pipeline runs on it
    let prep = PreparedCalibration::new(set).expect("prepare");
    let sol = prep.solve_budget(Criterion::Entropy, 2.0).expect("solve");
    assert!(sol.fit_gflops <= 2.0);
    let ev = prep.evaluate(&sol);
    assert_eq!(ev.counts.iter().sum::<usize>(), 4);
}

#[test]
fn official_logits_importer_single_label_half_precision() {
    let set = load_official_logits(
        fixture_dir().join("official_logits_single.pth"),
        &[1.0, 2.0],
    )
    .expect("import");
    assert_eq!((set.samples(), set.steps(), set.classes()), (5, 2, 4));
    assert_eq!(set.labels(), &Labels::Single(vec![3, 2, 1, 0, 3]));
    assert_eq!(set.row(4, 1), &[11.25, 11.375, 11.5, 11.625]);
}

#[test]
fn official_logits_importer_rejects_bad_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = dir.path().join("notes.pth");
    std::fs::write(&text, "just some text, renamed to .pth\n").expect("write");
    let err = load_official_logits(&text, &SMALL).expect_err("text is not a torch file");
    assert!(
        matches!(err, OfficialLogitsError::NotTorchZip { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("text"), "{err}");

    // A zip that is not a torch file, and a truncated torch file.
    let good = std::fs::read(fixture_dir().join("official_logits_small.pth")).expect("fixture");
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &good[..good.len() / 2]).expect("write");
    assert!(load_official_logits(&cut, &SMALL).is_err());

    // Wrong cost table length.
    let err = load_official_logits(fixture_dir().join("official_logits_small.pth"), &[1.0, 2.0])
        .expect_err("3 steps need 3 costs");
    assert!(matches!(
        err,
        OfficialLogitsError::CostTable {
            given: 2,
            steps: 3,
            ..
        }
    ));
    assert!(
        err.to_string().contains("official_logits_small.pth"),
        "{err}"
    );

    // Missing file.
    assert!(load_official_logits(dir.path().join("nope.pth"), &SMALL).is_err());

    // Corrupt bytes inside the pickle must give an error, not a panic.
    let mut bad = good.clone();
    if let Some(pos) = bad.windows(5).position(|w| w == b"train") {
        for b in &mut bad[pos + 5..(pos + 60).min(good.len())] {
            *b = b.wrapping_add(37);
        }
    }
    let corrupt = dir.path().join("corrupt.pth");
    std::fs::write(&corrupt, &bad).expect("write");
    let _ = load_official_logits(&corrupt, &SMALL); // any Result is fine; a panic fails the test
}

/// `adalens budget --curve --json` as a user runs it on the bundled checkpoint's calibration
/// set: every point carries the oracle exit's top-1 at its GFLOPs, which no exit rule beats.
#[test]
fn the_cli_curve_carries_the_oracle_exit() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_adalens"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "budget",
            "models/ada3d_focus_synth.adlcal",
            "--curve",
            "--json",
        ])
        .output()
        .expect("run adalens");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let points = json["curve"]["adaptive"]
        .as_array()
        .expect("adaptive points");
    let oracle = json["oracle_top1"].as_array().expect("oracle_top1");
    assert_eq!(points.len(), 19);
    assert_eq!(oracle.len(), points.len());
    for (p, o) in points.iter().zip(oracle) {
        let (top1, o) = (p["top1"].as_f64().unwrap(), o.as_f64().unwrap());
        assert!(o >= top1 && o <= 1.0, "oracle {o} vs exit {top1}");
    }
    // At the top of the range the oracle is above the last step itself: some videos are
    // right at an earlier step and wrong after their last cube.
    let last = points.last().unwrap()["top1"].as_f64().unwrap();
    assert!(oracle.last().unwrap().as_f64().unwrap() > last);
}

/// MSDNet's `dynamic_eval_find_threshold` (the loop the AdaFocus and Uni-AdaFocus scripts call),
/// transliterated: `max_preds[k][i]` is sample i's largest softmax probability at exit k, `q`
/// the float32 exit shares. Thresholds start at 1e8 (nobody), the last is −1e8 (everybody).
fn official_find_threshold(max_preds: &[Vec<f32>], q: &[f32]) -> Vec<f32> {
    let (n_stage, n) = (max_preds.len(), max_preds[0].len());
    let mut filtered = vec![0.0f32; n];
    let mut t = vec![1e8f32; n_stage];
    for k in 0..n_stage - 1 {
        let mut sorted: Vec<usize> = (0..n).collect();
        sorted.sort_by(|&a, &b| max_preds[k][b].total_cmp(&max_preds[k][a]));
        let out_n = (n as f32 * q[k]).floor() as usize;
        let mut count = 0;
        for &ori in &sorted {
            if filtered[ori] == 0.0 {
                count += 1;
                if count == out_n {
                    t[k] = max_preds[k][ori];
                    break;
                }
            }
        }
        for i in 0..n {
            if max_preds[k][i] >= t[k] {
                filtered[i] += 1.0;
            }
        }
    }
    t[n_stage - 1] = -1e8;
    t
}

/// MSDNet's `dynamic_eval_with_threshold`: exits per stage and correct samples.
fn official_with_threshold(
    max_preds: &[Vec<f32>],
    argmax: &[Vec<u32>],
    targets: &[u32],
    t: &[f32],
) -> (Vec<usize>, usize) {
    let mut exits = vec![0usize; t.len()];
    let mut correct = 0;
    for (i, &target) in targets.iter().enumerate() {
        for k in 0..t.len() {
            if max_preds[k][i] >= t[k] {
                correct += (argmax[k][i] == target) as usize;
                exits[k] += 1;
                break;
            }
        }
    }
    (exits, correct)
}

#[test]
fn official_rounding_reproduces_the_official_early_exit_scripts() {
    use adalens::decision::{OutputKind, Rounding};
    let (n_val, n_test, steps, classes) = (300usize, 257usize, 7usize, 11usize);
    let mut rng = SplitMix64::new(2024);
    let n = n_val + n_test;
    // Logits that grow surer with the step, with ties in neither.
    let mut logits = Vec::with_capacity(n * steps * classes);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let label = (rng.next_u64() % classes as u64) as u32;
        labels.push(label);
        for s in 0..steps {
            for c in 0..classes {
                let signal = if c as u32 == label {
                    0.5 * s as f64
                } else {
                    0.0
                };
                logits.push((signal + 2.0 * rng.uniform()) as f32);
            }
        }
    }
    let costs: Vec<f64> = (1..=steps).map(|s| 0.3 * s as f64).collect();
    let roles: Vec<Role> = (0..n)
        .map(|i| if i < n_val { Role::Fit } else { Role::Eval })
        .collect();
    let set = CalibrationSet::new(
        n,
        steps,
        classes,
        OutputKind::Logits,
        logits.clone(),
        Labels::Single(labels.clone()),
        StepCosts::PerStep(costs),
        roles,
    )
    .expect("set");
    let prep = PreparedCalibration::new(set).expect("prepare");
    // The scripts' inputs: float32 softmax, [stage][sample].
    let stats = |range: std::ops::Range<usize>| {
        let mut max_preds = vec![Vec::new(); steps];
        let mut argmax = vec![Vec::new(); steps];
        for i in range {
            for s in 0..steps {
                let row = &logits[(i * steps + s) * classes..(i * steps + s + 1) * classes];
                let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = row.iter().map(|x| (x - m).exp()).collect();
                let z: f32 = e.iter().sum();
                let (best, top) =
                    e.iter()
                        .enumerate()
                        .fold((0, 0.0f32), |a, (c, &v)| if v > a.1 { (c, v) } else { a });
                max_preds[s].push(top / z);
                argmax[s].push(best as u32);
            }
        }
        (max_preds, argmax)
    };
    let (val_max, _) = stats(0..n_val);
    let (test_max, test_arg) = stats(n_val..n);
    for k in 1..40 {
        let p = k as f64 / 20.0;
        // probs = exp(log(p) · [1..K]) / sum, in float32 as the scripts compute them.
        let lp = (p as f32).ln();
        let w: Vec<f32> = (1..=steps).map(|j| (lp * j as f32).exp()).collect();
        let total: f32 = w.iter().sum();
        let q: Vec<f32> = w.iter().map(|x| x / total).collect();
        let t = official_find_threshold(&val_max, &q);
        let (exits, correct) = official_with_threshold(&test_max, &test_arg, &labels[n_val..], &t);

        let sol = prep
            .solve_p_with(Criterion::Confidence, p, Rounding::Official)
            .expect("solve");
        for (s, (&ours, &theirs)) in sol.thresholds().iter().zip(&t).enumerate() {
            match theirs {
                x if x >= 1e8 => assert_eq!(ours, f64::INFINITY, "p {p} exit {s}"),
                x if x <= -1e8 => assert_eq!(ours, f64::NEG_INFINITY, "p {p} exit {s}"),
                x => assert!(
                    (ours - x as f64).abs() < 1e-6,
                    "p {p} exit {s}: {ours} vs {x}"
                ),
            }
        }
        let ev = prep.evaluate(&sol);
        assert_eq!(ev.counts, exits, "p {p}: exits per step");
        assert!(
            (ev.top1 - correct as f64 / n_test as f64).abs() < 1e-12,
            "p {p}: top-1 {} vs {}",
            ev.top1,
            correct as f64 / n_test as f64
        );
    }
    // The two roundings differ (else the option would be pointless): the default puts the
    // rounding remainder where the cumulative shares say, not all at the last exit.
    let differs = (1..40).any(|k| {
        let p = k as f64 / 20.0;
        let a = prep
            .solve_p_with(Criterion::Confidence, p, Rounding::Official)
            .expect("a");
        let b = prep.solve_p(Criterion::Confidence, p).expect("b");
        a.planned_counts != b.planned_counts
    });
    assert!(differs);
}
