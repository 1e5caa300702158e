//! The evaluation report: its numbers and how they are put together (the targets are in
//! `targets.rs`, the markdown in `markdown.rs`).

use serde::Serialize;

use super::oracle::OracleBound;
pub use super::parts::{Parts, Placement};
use super::points::mean;
pub use super::points::{
    at_budget, at_budget_with_exits, curve, policy_curve, sweep_point, ExitWhere, Point,
    PolicyPoint,
};
pub use super::targets::Target;
use super::{argmax, by_family, FamilyRow, VideoResult};
use crate::synth::Family;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checkpoint: String,
    pub videos: usize,
    pub failed: usize,
    /// The checkpoint's own τ_f and τ_s.
    pub thresholds: [f32; 2],
    /// (1) the largest budget: every frame kept, every stage 3D, every cube.
    pub largest: PolicyPoint,
    /// The checkpoint's own frame and stage decisions, every cube run.
    pub every_cube: Point,
    /// Accuracy vs GFLOPs over the frame and stage thresholds, every cube run.
    pub policy_curve: Vec<PolicyPoint>,
    /// Accuracy vs GFLOPs over the exit budget, at the checkpoint's own thresholds.
    pub curve: Vec<Point>,
    /// (1b) the checkpoint's own decisions at half the largest GFLOPs.
    pub half: Point,
    /// The exit alone at half of every cube's GFLOPs (target 1b's other reading).
    pub half_exit: Point,
    /// (5) Where the entropy exit is compared with the random exit (see `exit_where`).
    pub exit_point: Point,
    pub exit_where: ExitWhere,
    /// (2) random frame, stage and cube policies with the learned counts, every cube run (the
    /// learned policies' run is `every_cube`).
    pub random_policy_top1: f64,
    pub random_policy_gflops: f64,
    /// The least any exit rule could spend within `HALF_TOLERANCE` of `every_cube`.
    pub oracle: OracleBound,
    /// (3), (5) per family.
    pub families: Vec<FamilyRow>,
    /// (4) when the target boxes are known.
    pub placement: Option<Placement>,
    pub targets: Vec<Target>,
    pub targets_met: bool,
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

/// Significant digits of every number in the JSON report: means over float32 sums differ in the
/// tenth digit from one CPU model to another (gemm sizes its blocks by the CPU), so a report
/// written with every digit of an f64 is not the same file on two machines; seven digits are
/// what a float32 carries (a τ of 0.9 stays 0.9, not 0.89999998) and are the same everywhere.
pub const JSON_DIGITS: usize = 7;

impl Report {
    /// The JSON report, every number to [`JSON_DIGITS`] significant digits.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let mut v = serde_json::to_value(self)?;
        round_numbers(&mut v, JSON_DIGITS);
        serde_json::to_string_pretty(&v)
    }
}

fn round_numbers(v: &mut serde_json::Value, digits: usize) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            let Some(x) = n.as_f64() else { return };
            // `{:e}` with digits − 1 decimals rounds to `digits` significant digits.
            let rounded: f64 = format!("{:.*e}", digits.saturating_sub(1), x)
                .parse()
                .unwrap_or(x);
            if let Some(r) = serde_json::Number::from_f64(rounded) {
                *n = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| round_numbers(i, digits)),
        Value::Object(map) => map.values_mut().for_each(|i| round_numbers(i, digits)),
        _ => {}
    }
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
                    let right = v
                        .learned
                        .logits
                        .last()
                        .is_some_and(|l| argmax(l) == v.label as usize);
                    right as u8 as f64
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
    let targets = super::targets::targets(&p, &families, placement.as_ref());
    let targets_met = targets.iter().all(|t| t.met);
    Report {
        checkpoint: p.model.path.display().to_string(),
        videos: r.len(),
        failed: p.failed,
        thresholds: p.thresholds,
        largest: p.largest,
        every_cube: p.every_cube,
        policy_curve: p.policy_curve,
        curve: p.curve,
        half: p.half,
        half_exit: p.half_exit,
        exit_point: p.exit_point,
        exit_where: p.exit_where,
        random_policy_top1: p.random_policy_top1,
        random_policy_gflops: p.random_policy_gflops,
        oracle: p.oracle,
        families,
        placement,
        targets,
        targets_met,
    }
}

#[cfg(test)]
mod tests {
    use super::round_numbers;
    use serde_json::json;

    #[test]
    fn report_numbers_keep_seven_significant_digits() {
        // The two readings of one mean on two CPU models become the same number.
        let mut a =
            json!({"iou": 0.10766107250407633, "v": [0.056895079999998745, 1e-12, 3, -2.5e30]});
        let mut b =
            json!({"iou": 0.1076610726145564, "v": [0.05689508, 1.0000000004e-12, 3, -2.5e30]});
        round_numbers(&mut a, 7);
        round_numbers(&mut b, 7);
        assert_eq!(a, b);
        assert_eq!(
            a.to_string(),
            r#"{"iou":0.1076611,"v":[0.05689508,1e-12,3,-2.5e+30]}"#
        );
        // A float32 threshold reads as it was set.
        let mut t = serde_json::to_value(0.9f32).unwrap();
        round_numbers(&mut t, 7);
        assert_eq!(t.to_string(), "0.9");
    }
}
