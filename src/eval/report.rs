//! The evaluation report: its numbers, the issue's five targets, and its markdown.

use serde::Serialize;

use super::oracle::OracleBound;
use super::{argmax, by_family, EvalError, FamilyRow, VideoResult, HALF_TOLERANCE};
use crate::decision::{Criterion, PreparedCalibration};
use crate::model::load::LoadedModel;
use crate::synth::Family;

/// Accuracy at a budget: thresholds solved on the calibration set, applied to the test set;
/// and a random exit with the same number of videos stopping at each step.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub budget: f64,
    pub gflops: f64,
    pub top1: f64,
    pub random_exit_top1: f64,
}

pub fn at_budget(
    prep: &PreparedCalibration,
    criterion: Criterion,
    budget: f64,
    seed: u64,
) -> Result<Point, EvalError> {
    at_budget_with_exits(prep, criterion, budget, seed).map(|(p, _)| p)
}

/// `at_budget`, and the step each test video exits at.
pub fn at_budget_with_exits(
    prep: &PreparedCalibration,
    criterion: Criterion,
    budget: f64,
    seed: u64,
) -> Result<(Point, Vec<u16>), EvalError> {
    let sol = prep.solve_budget(criterion, budget)?;
    let e = prep.evaluate(&sol);
    let r = prep.random_exit(&e.counts, seed)?;
    let point = Point {
        budget,
        gflops: e.gflops,
        top1: e.top1,
        random_exit_top1: r.top1,
    };
    Ok((point, e.exit_steps))
}

/// Whether the exits were compared above half the largest GFLOPs, because half was below the
/// glance alone (see `evaluate`).
fn exits_compared_above_half(half: &Point, exit_point: &Point) -> bool {
    exit_point.budget > half.budget
}

/// Twelve budgets from the glance alone to every cube.
pub fn curve(
    prep: &PreparedCalibration,
    criterion: Criterion,
    seed: u64,
) -> Result<Vec<Point>, EvalError> {
    let (lo, hi) = prep.fit_cost_range();
    (0..12)
        .map(|i| at_budget(prep, criterion, lo + (hi - lo) * i as f64 / 11.0, seed))
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: &'static str,
    pub requirement: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub cube_frames: usize,
    pub learned_hit_rate: f64,
    pub random_hit_rate: f64,
    pub learned_mean_iou: f64,
    pub random_mean_iou: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checkpoint: String,
    pub videos: usize,
    pub failed: usize,
    /// (1) every cube run (the largest budget).
    pub full: Point,
    pub curve: Vec<Point>,
    /// At half the largest GFLOPs.
    pub half: Point,
    /// (5) Where the entropy exit is compared with the random exit: half the largest GFLOPs,
    /// or the middle of the reachable range when half is below the glance alone.
    pub exit_point: Point,
    /// (2) learned vs random frame, stage and cube policies, every cube run.
    pub learned_policy_top1: f64,
    pub learned_policy_gflops: f64,
    pub random_policy_top1: f64,
    pub random_policy_gflops: f64,
    /// The least any exit rule could spend within `HALF_TOLERANCE` of `full` (see `oracle`).
    pub oracle: OracleBound,
    /// (3), (5) per family.
    pub families: Vec<FamilyRow>,
    /// (4) when the target boxes are known.
    pub placement: Option<Placement>,
    pub targets: Vec<Target>,
    pub targets_met: bool,
}

pub struct Parts<'a> {
    pub model: &'a LoadedModel,
    pub results: &'a [VideoResult],
    pub failed: usize,
    pub full: Point,
    pub curve: Vec<Point>,
    pub half: Point,
    pub exit_point: Point,
    /// Steps run per video at `exit_point`.
    pub exit_point_exits: Vec<u16>,
    pub random_policy_top1: f64,
    pub random_policy_gflops: f64,
    pub oracle: OracleBound,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

fn placement(results: &[VideoResult]) -> Option<Placement> {
    let learned: Vec<_> = results
        .iter()
        .filter_map(|r| r.learned_placement.as_ref())
        .collect();
    let random: Vec<_> = results
        .iter()
        .filter_map(|r| r.random_placement.as_ref())
        .collect();
    let n: usize = learned.iter().map(|p| p.hits.len()).sum();
    if n == 0 {
        return None;
    }
    let rate = |ps: &[&super::run::Placement]| {
        mean(
            ps.iter()
                .flat_map(|p| p.hits.iter().map(|&h| h as u8 as f64)),
        )
    };
    let iou = |ps: &[&super::run::Placement]| mean(ps.iter().flat_map(|p| p.ious.iter().copied()));
    Some(Placement {
        cube_frames: n,
        learned_hit_rate: rate(&learned),
        random_hit_rate: rate(&random),
        learned_mean_iou: iou(&learned),
        random_mean_iou: iou(&random),
    })
}

pub fn assemble(p: Parts) -> Report {
    let r = p.results;
    let exits = &p.exit_point_exits;
    let families: Vec<FamilyRow> = [Family::Appearance, Family::Motion]
        .into_iter()
        .filter_map(|fam| {
            let idx: Vec<usize> = (0..r.len())
                .filter(|&i| super::family_of(&r[i].class) == Some(fam))
                .collect();
            (!idx.is_empty()).then(|| FamilyRow {
                family: fam,
                videos: idx.len(),
                top1: by_family(r, fam, |v| {
                    let last = v.learned.logits.len() - 1;
                    (argmax(&v.learned.logits[last]) == v.label as usize) as u8 as f64
                }),
                mean_kept_frames: by_family(r, fam, |v| v.kept_frames as f64),
                mean_3d_stages: by_family(r, fam, |v| v.stages_3d as f64),
                mean_cubes_used: mean(
                    idx.iter()
                        .map(|&i| exits.get(i).copied().unwrap_or(0) as f64),
                ),
                target_in_view: {
                    let seen: Vec<bool> = idx.iter().filter_map(|&i| r[i].target_in_view).collect();
                    (!seen.is_empty()).then(|| mean(seen.iter().map(|&v| v as u8 as f64)))
                },
            })
        })
        .collect();
    let placement = placement(r);
    let pct = |x: f64| format!("{:.1} %", 100.0 * x);
    let mut targets = vec![
        Target {
            name: "top1_largest_budget",
            requirement: "≥ 90 % top-1 with every cube".into(),
            measured: pct(p.full.top1),
            met: p.full.top1 >= 0.90,
        },
        Target {
            name: "top1_half_gflops",
            requirement: format!(
                "at half the largest GFLOPs, within {} points of the largest budget",
                100.0 * HALF_TOLERANCE
            ),
            measured: format!(
                "{} at {:.4} GFLOPs ({:+.1} points); with these decisions any exit rule needs \
                 ≥ {:.4} GFLOPs for this",
                pct(p.half.top1),
                p.half.gflops,
                100.0 * (p.half.top1 - p.full.top1),
                p.oracle.gflops
            ),
            // The epsilon: 0.926 − 0.906 is 0.020000000000000018 in f64.
            met: p.full.top1 - p.half.top1 <= HALF_TOLERANCE + 1e-9,
        },
        Target {
            name: "learned_vs_random_policies",
            requirement: "learned policies ≥ 5 points ahead of random ones at equal GFLOPs".into(),
            measured: format!(
                "{} vs {} ({:.4} vs {:.4} GFLOPs)",
                pct(p.full.top1),
                pct(p.random_policy_top1),
                p.full.gflops,
                p.random_policy_gflops
            ),
            met: p.full.top1 - p.random_policy_top1 >= 0.05,
        },
    ];
    let fam = |f: Family| families.iter().find(|x| x.family == f);
    if let (Some(a), Some(m)) = (fam(Family::Appearance), fam(Family::Motion)) {
        targets.push(Target {
            name: "motion_uses_more",
            requirement:
                "motion classes keep more frames and more 3D stages than appearance classes".into(),
            measured: format!(
                "frames {:.2} vs {:.2}, 3D stages {:.2} vs {:.2} (motion vs appearance)",
                m.mean_kept_frames, a.mean_kept_frames, m.mean_3d_stages, a.mean_3d_stages
            ),
            met: m.mean_kept_frames > a.mean_kept_frames && m.mean_3d_stages > a.mean_3d_stages,
        });
    }
    if let Some(pl) = &placement {
        targets.push(Target {
            name: "cube_hit_rate",
            requirement: "cube hit rate ≥ 2× random placement".into(),
            measured: format!(
                "{} vs {} (IoU {:.3} vs {:.3})",
                pct(pl.learned_hit_rate),
                pct(pl.random_hit_rate),
                pl.learned_mean_iou,
                pl.random_mean_iou
            ),
            met: pl.learned_hit_rate >= 2.0 * pl.random_hit_rate,
        });
    }
    targets.push(Target {
        name: "entropy_vs_random_exit",
        requirement: "entropy exit ahead of random exit at equal GFLOPs".into(),
        measured: format!(
            "{} vs {} at {:.4} GFLOPs{}",
            pct(p.exit_point.top1),
            pct(p.exit_point.random_exit_top1),
            p.exit_point.gflops,
            if exits_compared_above_half(&p.half, &p.exit_point) {
                " (the middle of the reachable range: at half the largest GFLOPs only the glance runs)"
            } else {
                ""
            }
        ),
        met: p.exit_point.top1 > p.exit_point.random_exit_top1,
    });
    let targets_met = targets.iter().all(|t| t.met);
    Report {
        checkpoint: p.model.path.display().to_string(),
        videos: r.len(),
        failed: p.failed,
        learned_policy_top1: p.full.top1,
        learned_policy_gflops: p.full.gflops,
        full: p.full,
        curve: p.curve,
        half: p.half,
        exit_point: p.exit_point,
        random_policy_top1: p.random_policy_top1,
        random_policy_gflops: p.random_policy_gflops,
        oracle: p.oracle,
        families,
        placement,
        targets,
        targets_met,
    }
}

impl Report {
    pub fn markdown(&self, command: &str) -> String {
        let pct = |x: f64| format!("{:.1}", 100.0 * x);
        let mut s = String::new();
        s += "# Evaluation of the bundled checkpoint\n\n";
        s += &format!(
            "`{}` on {} test videos ({} failed), decoded from the .mp4 files as the app does.\nMade by:\n\n```\n{command}\n```\n\n",
            self.checkpoint, self.videos, self.failed
        );
        s += "## Targets\n\n| target | requirement | measured | met |\n|---|---|---|---|\n";
        for t in &self.targets {
            s += &format!(
                "| {} | {} | {} | {} |\n",
                t.name,
                t.requirement,
                t.measured,
                if t.met { "yes" } else { "**no**" }
            );
        }
        s += &format!("\nAll targets met: **{}**\n\n", self.targets_met);
        s += "## Accuracy vs GFLOPs (entropy exit; thresholds solved on the calibration set)\n\n";
        s += "| budget | GFLOPs/video | top-1 % | random exit, same exit shares % |\n|---|---|---|---|\n";
        for p in &self.curve {
            s += &format!(
                "| {:.4} | {:.4} | {} | {} |\n",
                p.budget,
                p.gflops,
                pct(p.top1),
                pct(p.random_exit_top1)
            );
        }
        s += &format!(
            "\nEvery cube: {} % at {:.4} GFLOPs. Half of that budget: {} % at {:.4} GFLOPs (random exit {} %).\n\n",
            pct(self.full.top1),
            self.full.gflops,
            pct(self.half.top1),
            self.half.gflops,
            pct(self.half.random_exit_top1)
        );
        if exits_compared_above_half(&self.half, &self.exit_point) {
            s += &format!(
                "Half is below the glance alone, so the exits are compared at the middle of the reachable range: {} % at {:.4} GFLOPs (random exit {} %).\n\n",
                pct(self.exit_point.top1),
                self.exit_point.gflops,
                pct(self.exit_point.random_exit_top1)
            );
        }
        s += &oracle_markdown(&self.oracle, self.full.gflops / 2.0);
        s += &format!(
            "## Learned vs random policies (every cube)\n\n| policies | top-1 % | GFLOPs/video |\n|---|---|---|\n| learned | {} | {:.4} |\n| random frames, stages and cube centres (same counts) | {} | {:.4} |\n\n",
            pct(self.learned_policy_top1),
            self.learned_policy_gflops,
            pct(self.random_policy_top1),
            self.random_policy_gflops
        );
        s += "## By family\n\n| family | videos | top-1 % | kept frames | 3D stages | cubes used where exits are compared | target in view % |\n|---|---|---|---|---|---|---|\n";
        for f in &self.families {
            s += &format!(
                "| {:?} | {} | {} | {:.2} | {:.2} | {:.2} | {} |\n",
                f.family,
                f.videos,
                pct(f.top1),
                f.mean_kept_frames,
                f.mean_3d_stages,
                f.mean_cubes_used,
                f.target_in_view.map_or("–".into(), pct)
            );
        }
        s += "\nTarget in view: the target's box at least half inside the model's input (the \
              part of the frame it sees: a centred square crop, or the whole frame with \
              `input_frame: whole`) on some sampled frame; for the other videos the target is \
              never seen, which caps top-1 whatever the policies.\n";
        if let Some(p) = &self.placement {
            s += &format!(
                "\n## Cube placement ({} cube-frames)\n\nHit: the cube's centre inside the target's box on that frame.\n\n| placement | hit rate % | mean IoU |\n|---|---|---|\n| learned | {} | {:.3} |\n| random | {} | {:.3} |\n",
                p.cube_frames,
                pct(p.learned_hit_rate),
                p.learned_mean_iou,
                pct(p.random_hit_rate),
                p.random_mean_iou
            );
        }
        s
    }
}

/// What the oracle bound says about target (1b), for the report.
fn oracle_markdown(o: &OracleBound, half: f64) -> String {
    let mut s = format!(
        "The least any exit rule could spend for {:.1} % ({} points below every cube), with these \
         decisions: {:.4} GFLOPs per video, {:.0} % of the cubes' GFLOPs on top of the glance \
         step's {:.4}. That is an oracle that knows the labels, stops each video at its first \
         correct step, and pays for the cheapest videos first; no threshold does better.",
        100.0 * o.top1,
        100.0 * HALF_TOLERANCE,
        o.gflops,
        100.0 * o.local_share,
        o.glance_gflops
    );
    if o.gflops > half {
        s += &match o.local_scale_for_half {
            Some(k) => format!(
                " It is above half the largest GFLOPs ({half:.4}): with the same decisions, \
                 the cubes would have to cost {k:.1}× what they do before half could reach it.",
            ),
            None => format!(
                " It is above half the largest GFLOPs ({half:.4}), and no dearer local network \
                 helps: the oracle needs half of the cubes' GFLOPs or more.",
            ),
        };
    }
    s + "\n\n"
}
