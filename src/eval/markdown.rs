//! The report as markdown (`docs/eval_report.md` for the bundled checkpoint).

use super::oracle::OracleBound;
use super::points::{runs_every_cube, PolicyRow};
use super::report::Report;
use super::HALF_TOLERANCE;

impl Report {
    /// The frame and stage thresholds' curve, and where (1) and (1b) are measured on it.
    fn policy_curve_markdown(&self) -> String {
        let pct = |x: f64| format!("{:.1}", 100.0 * x);
        let mut s = String::from(
            "## Accuracy vs GFLOPs over the frame and stage thresholds (every cube)\n\n\
             | τ_f | τ_s | kept frames | 3D stages | GFLOPs/video | top-1 % | |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for p in &self.policy_curve {
            let note = match p.row {
                PolicyRow::Largest => "the largest budget",
                PolicyRow::Own => "the checkpoint's own",
                PolicyRow::Sweep => "",
            };
            s += &format!(
                "| {:.2} | {:.2} | {:.2} | {:.2} | {:.4} | {} | {note} |\n",
                p.frame_threshold,
                p.stage_threshold,
                p.kept_frames,
                p.stages_3d,
                p.gflops,
                pct(p.top1)
            );
        }
        s += &format!(
            "\nThe largest budget keeps every frame, runs every stage 3D and looks with every \
             cube (τ_f = τ_s = 0, as Ada3D Table 1's \"Upper\" runs every frame and every 3D \
             convolution, here with all of AdaFocusV3's cubes, and with the glance step's {:.4} \
             GFLOPs, which Upper does not have): {} % at {:.4} GFLOPs. Half of it is {:.4} \
             GFLOPs; the checkpoint's own decisions (τ_f {:.2}, τ_s {:.2}) with the exit budget \
             set to that spend {:.4} GFLOPs ({:.0} % of the largest) for {} % ({:+.1} \
             points).\n\n",
            self.oracle.glance_gflops,
            pct(self.largest.top1),
            self.largest.gflops,
            self.largest.gflops / 2.0,
            self.thresholds[0],
            self.thresholds[1],
            self.half.gflops,
            100.0 * self.half.gflops / self.largest.gflops.max(f64::MIN_POSITIVE),
            pct(self.half.top1),
            100.0 * (self.half.top1 - self.largest.top1)
        );
        if runs_every_cube(&self.half, &self.every_cube) {
            s.truncate(s.trim_end().len());
            s += " Every cube fits in that budget, so this measures what the frame and stage \
                  policies save, not the exit; the exit alone is measured below.\n\n";
        }
        s
    }

    /// The report as markdown; `split` names the videos' split (`test`, or `calib` when a
    /// recipe is chosen on the calibration split).
    pub fn markdown(&self, command: &str, split: &str) -> String {
        let pct = |x: f64| format!("{:.1}", 100.0 * x);
        let mut s = String::new();
        s += &format!("# Evaluation on the {split} split\n\n");
        s += &format!(
            "`{}` on {} videos of the `{split}` split ({} failed), decoded from the .mp4 files as the app does.\nMade by:\n\n```\n{command}\n```\n\n",
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
        for t in &self.targets {
            if let Some(o) = &t.other_reading {
                s += &format!(
                    "\n{} read with {}: {}; {}.\n",
                    t.name,
                    o.reading,
                    o.measured,
                    if o.met { "met" } else { "**not met**" }
                );
            }
        }
        s += &format!(
            "\nAll targets met: **{}** (other readings do not count).\n\n",
            self.targets_met
        );
        s += &self.policy_curve_markdown();
        s += &format!(
            "## Accuracy vs GFLOPs over the exit budget (entropy exit at τ_f {:.2}, τ_s {:.2}; \
             thresholds solved on the calibration set)\n\n",
            self.thresholds[0], self.thresholds[1]
        );
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
            "\nEvery cube: {} % at {:.4} GFLOPs. At half the largest GFLOPs ({:.4}): {} % at \
             {:.4} GFLOPs (random exit {} %).\n\n",
            pct(self.every_cube.top1),
            self.every_cube.gflops,
            self.largest.gflops / 2.0,
            pct(self.half.top1),
            self.half.gflops,
            pct(self.half.random_exit_top1)
        );
        s += &format!(
            "The exits are compared at {:.4} GFLOPs{}: entropy exit {} %, random exit {} %.\n\n",
            self.exit_point.gflops,
            self.exit_where.why(),
            pct(self.exit_point.top1),
            pct(self.exit_point.random_exit_top1)
        );
        s += &oracle_markdown(&self.oracle, self.every_cube.gflops / 2.0);
        s += &format!(
            "## Learned vs random policies (every cube)\n\n| policies | top-1 % | GFLOPs/video |\n|---|---|---|\n| learned | {} | {:.4} |\n| random frames, stages and cube centres (same counts) | {} | {:.4} |\n\n",
            pct(self.every_cube.top1),
            self.every_cube.gflops,
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

/// What the oracle bound says about the exit alone, for the report: with the checkpoint's own
/// frame and stage decisions, how cheaply any exit rule could stay within the tolerance of
/// every cube, against half of every cube's GFLOPs.
fn oracle_markdown(o: &OracleBound, half: f64) -> String {
    let mut s = format!(
        "The exit alone, frame and stage decisions fixed: the least any exit rule could spend \
         for {:.1} % ({} points below every cube) is {:.4} GFLOPs per video, {:.0} % of the \
         cubes' GFLOPs on top of the glance step's {:.4}. That is an oracle that knows the \
         labels, stops each video at its first correct step, and pays for the cheapest videos \
         first; no threshold does better.",
        100.0 * o.top1,
        100.0 * HALF_TOLERANCE,
        o.gflops,
        100.0 * o.local_share,
        o.glance_gflops
    );
    if o.gflops > half {
        s += &match o.local_scale_for_half {
            Some(k) => format!(
                " It is above half of every cube's GFLOPs ({half:.4}): with the same decisions, \
                 the cubes would have to cost {k:.1}× what they do before half could reach it.",
            ),
            None => format!(
                " It is above half of every cube's GFLOPs ({half:.4}), and no dearer local \
                 network helps: the oracle needs half of the cubes' GFLOPs or more.",
            ),
        };
    }
    if let (Some(g), Some(share)) = (o.entropy_gflops, o.entropy_local_share) {
        s += &format!(
            " The entropy exit (thresholds solved on the calibration set for 201 budgets across \
             its range) first comes within {} points at {g:.4} GFLOPs, {:.0} % of the cubes' \
             GFLOPs.",
            100.0 * HALF_TOLERANCE,
            100.0 * share
        );
        if share >= 0.5 {
            s += " That is half of them or more, and making the cubes dearer or the glance \
                  cheaper leaves the share as it is (the same videos exit at the same steps): \
                  no split of the cost between the glance and the cubes lets this model reach \
                  it at half of every cube's GFLOPs; its entropies would have to order the \
                  videos better.";
        }
    }
    s + "\n\n"
}
