//! What the model decided on the open video, as the window shows it: the run's trace with the
//! exits of the current budget marked, and the questions the panels ask of it (which cubes cover
//! this frame, was it discarded, where is the next decision point). Pure data: tested without a
//! window.

use super::budget::{mark_exits, BudgetModel};
use crate::decision::trace::{ClipTrace, Cube, DecisionTrace, FrameDecision, InputGeometry};
use crate::decision::{Criterion, Evaluation, Solution};
use crate::model::config::Knobs;
use crate::runner::{AnalysisRun, FlopsPart};

pub struct Decisions {
    pub generation: u64,
    /// The τ_f, τ_s and cube cap the run used (the lanes draw its thresholds).
    pub knobs: Knobs,
    /// The run's compute by part.
    pub breakdown: Vec<FlopsPart>,
    /// The run's compute at the largest budget (every frame, every stage 3D, every cube).
    pub largest_gflops: f64,
    /// The run's trace with the exits of the current budget marked (every re-mark overwrites
    /// all of them, so no unmarked copy is kept).
    pub trace: DecisionTrace,
    /// The solved thresholds and how they do on the calibration set's evaluation split.
    pub operating: Option<(Solution, Evaluation)>,
    pub criterion: Criterion,
    /// The trace's warning about NaN or infinite outputs (they do not change with the budget).
    pub warning: Option<String>,
    /// Frames where something was decided (kept frames, cube centres, exits), sorted, unique.
    pub points: Vec<usize>,
    /// Every sampled frame number, sorted and unique (clips may overlap or repeat frames).
    pub sampled: Vec<usize>,
    /// What the lanes show, for the exits as marked now.
    pub counts: LaneCounts,
    /// Clips the model has not run yet (a partial run's), sorted.
    pub pending: Vec<usize>,
    /// Each clip in a few numbers, for the timeline's clip band and its summary of many clips.
    pub summaries: Vec<ClipSummary>,
    /// The trace a batch run stored (opened from the dataset view), not a run of the model.
    pub stored: bool,
    /// The trace's generic lanes summed over its clips (they do not move with the budget):
    /// what the timeline's lanes label and scale by, computed once.
    pub lane_totals: Vec<crate::decision::lanes::LaneTotals>,
}

/// One clip in a few numbers (at the current budget): what the timeline draws when clips are too
/// narrow for their details.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClipSummary {
    /// First and last sampled frame.
    pub first: usize,
    pub last: usize,
    /// Whether the model has run this clip.
    pub done: bool,
    pub sampled: usize,
    pub kept: usize,
    pub cubes: usize,
    pub computed_cubes: usize,
    /// Steps, and the one the clip stops at.
    pub steps: usize,
    pub stop_step: Option<usize>,
    pub spent_gflops: f64,
    /// Top-1 class and probability at the step the clip stops at (its last step if none).
    pub top1: Option<(u32, f32)>,
    pub stages: usize,
    pub stages_3d: usize,
}

impl ClipSummary {
    fn of(clip: &ClipTrace, done: bool) -> Self {
        let stop = clip.stop_step();
        let top1 = stop
            .and_then(|s| clip.steps.get(s))
            .or(clip.steps.last())
            .and_then(|s| s.top.first())
            .map(|t| (t.class, t.prob));
        ClipSummary {
            first: clip.frames.iter().map(|f| f.frame).min().unwrap_or(0),
            last: clip.frames.iter().map(|f| f.frame).max().unwrap_or(0),
            done,
            sampled: clip.frames.len(),
            kept: clip.frames.iter().filter(|f| f.kept).count(),
            cubes: clip.cubes.len(),
            computed_cubes: clip.computed_cubes(),
            steps: clip.steps.len(),
            stop_step: stop,
            spent_gflops: clip.spent_gflops(),
            top1,
            stages: clip.stages.len(),
            stages_3d: clip.stages.iter().filter(|s| s.ran_3d).count(),
        }
    }
}

/// The numbers each lane shows (also its accessibility label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LaneCounts {
    pub sampled: usize,
    pub discarded: usize,
    pub cubes: usize,
    /// Cubes up to the exit step (computed at this budget).
    pub computed_cubes: usize,
    pub steps: usize,
    /// Exit step of the first clip with steps.
    pub exit_step: Option<usize>,
    pub clips: usize,
    pub stages_3d: usize,
    pub stages: usize,
    /// Whether the arch decided which frames to keep (its frames carry m_t).
    pub frame_policy: bool,
}

/// A cube over a frame, and whether it was computed at this budget.
pub struct CubeAt<'a> {
    pub clip: usize,
    pub cube: &'a Cube,
    pub computed: bool,
}

impl Decisions {
    pub fn new(
        generation: u64,
        run: AnalysisRun,
        budget: Option<(&BudgetModel, f64)>,
        criterion: Criterion,
    ) -> Self {
        let mut d = Self::from_trace(
            generation,
            run.inspection.trace,
            run.knobs,
            budget,
            criterion,
        );
        d.breakdown = run.breakdown;
        d.largest_gflops = run.largest_gflops;
        d.pending = run.pending;
        d.recount();
        d
    }

    /// A trace made earlier (a batch run's), drawn without running the model: its knobs are
    /// the run's, and the FLOPs breakdown is unknown.
    pub fn from_trace(
        generation: u64,
        trace: DecisionTrace,
        knobs: Knobs,
        budget: Option<(&BudgetModel, f64)>,
        criterion: Criterion,
    ) -> Self {
        let mut sampled: Vec<usize> = trace
            .clips
            .iter()
            .flat_map(|c| c.frames.iter().map(|f| f.frame))
            .collect();
        sampled.sort_unstable();
        sampled.dedup();
        let mut d = Self {
            sampled,
            counts: LaneCounts::default(),
            generation,
            knobs,
            breakdown: Vec::new(),
            largest_gflops: 0.0,
            trace,
            operating: None,
            criterion,
            warning: None,
            points: Vec::new(),
            pending: Vec::new(),
            summaries: Vec::new(),
            stored: false,
            lane_totals: Vec::new(),
        };
        d.lane_totals = crate::decision::lanes::LaneTotals::of([&d.trace]);
        d.warning = d.trace.warning();
        d.remark(budget, criterion);
        d
    }

    /// What Shift+←/→ visits: kept frames, cube centres and each clip's exit, in frame order.
    fn decision_points(trace: &DecisionTrace) -> Vec<usize> {
        let mut points: Vec<usize> = trace
            .clips
            .iter()
            .flat_map(|c| {
                c.frames
                    .iter()
                    .filter(|f| f.kept)
                    .map(|f| f.frame)
                    .chain(c.cubes.iter().map(|q| q.z))
                    .chain(c.stop_step().map(|s| Self::step_frame(c, s)))
            })
            .collect();
        points.sort_unstable();
        points.dedup();
        points
    }

    /// Re-mark the exits for a budget or criterion (no model run).
    pub fn remark(&mut self, budget: Option<(&BudgetModel, f64)>, criterion: Criterion) {
        self.criterion = criterion;
        self.operating = mark_exits(&mut self.trace, budget, criterion);
        self.recount();
        // The exits moved: so did the decision points.
        self.points = Self::decision_points(&self.trace);
    }

    /// The sampled frames of the clips the model has run.
    pub fn run_frames(&self) -> impl Iterator<Item = usize> + '_ {
        self.trace
            .clips
            .iter()
            .enumerate()
            .filter(|(i, _)| self.pending.binary_search(i).is_err())
            .flat_map(|(_, c)| c.frames.iter().map(|f| f.frame))
    }

    /// Clips of the video, run or not.
    pub fn pending_total(&self) -> usize {
        self.trace.clips.len()
    }

    /// Whether clip `i` is still to run.
    pub fn is_pending(&self, i: usize) -> bool {
        self.pending.binary_search(&i).is_ok()
    }

    /// The clips' summaries and the lanes' numbers, for the exits as marked now.
    fn recount(&mut self) {
        self.summaries = self
            .trace
            .clips
            .iter()
            .enumerate()
            .map(|(i, c)| ClipSummary::of(c, !self.is_pending(i)))
            .collect();
        self.counts = self.count();
    }

    /// The lanes' numbers: the clips' summaries added up (a pending clip, which holds only
    /// its sampled frames, is not counted until it has run).
    fn count(&self) -> LaneCounts {
        let run = || self.summaries.iter().filter(|s| s.done);
        let sum = |f: fn(&ClipSummary) -> usize| self.summaries.iter().map(f).sum::<usize>();
        let clips = &self.trace.clips;
        LaneCounts {
            sampled: run().map(|s| s.sampled).sum(),
            discarded: run().map(|s| s.sampled - s.kept).sum(),
            cubes: sum(|s| s.cubes),
            computed_cubes: sum(|s| s.computed_cubes),
            steps: sum(|s| s.steps),
            exit_step: clips
                .iter()
                .find(|c| !c.steps.is_empty())
                .and_then(|c| c.exit.as_ref().map(|e| e.exit_step)),
            clips: clips.len(),
            stages_3d: sum(|s| s.stages_3d),
            stages: sum(|s| s.stages),
            frame_policy: clips
                .iter()
                .flat_map(|c| &c.frames)
                .any(|f| f.keep_prob.is_some()),
        }
    }

    /// Whether a part of the run's compute is spent at this budget: always for a part of no
    /// step, else when its clip's exit is at or after its step.
    pub fn part_spent(&self, part: &FlopsPart) -> bool {
        match (part.step, self.trace.clips.get(part.clip)) {
            (Some(k), Some(clip)) => Self::cube_computed(clip, k),
            _ => true,
        }
    }

    /// The GFLOPs this run spends at this budget (every clip up to its own exit).
    pub fn spent_gflops(&self) -> f64 {
        self.breakdown
            .iter()
            .filter(|p| self.part_spent(p))
            .map(|p| p.gflops)
            .sum()
    }

    /// Whether cube `order` of `clip` is computed at this budget (what the trace says).
    pub fn cube_computed(clip: &ClipTrace, order: usize) -> bool {
        clip.cube_computed(order)
    }

    /// Cubes whose frames include `frame`, in order.
    pub fn cubes_at(&self, frame: usize) -> Vec<CubeAt<'_>> {
        let mut out = Vec::new();
        for (i, c) in self.trace.clips.iter().enumerate() {
            for q in &c.cubes {
                if q.frames.contains(&frame) {
                    out.push(CubeAt {
                        clip: i,
                        cube: q,
                        computed: Self::cube_computed(c, q.order),
                    });
                }
            }
        }
        out
    }

    /// The decision on a sampled frame (`None` when the model did not sample it).
    pub fn frame(&self, frame: usize) -> Option<&FrameDecision> {
        self.trace
            .clips
            .iter()
            .flat_map(|c| &c.frames)
            .find(|f| f.frame == frame)
    }

    /// The clip the side panel and the status line describe with the playhead at `frame`: the
    /// one whose sampled frames span it, else the last one starting before it (between clips),
    /// else the first. Clips without steps are skipped when another has them.
    pub fn clip_at(&self, frame: usize) -> usize {
        let clips = &self.trace.clips;
        let with_steps: Vec<usize> = (0..clips.len())
            .filter(|&i| !clips[i].steps.is_empty())
            .collect();
        let candidates = if with_steps.is_empty() {
            (0..clips.len()).collect()
        } else {
            with_steps
        };
        let span = |i: usize| {
            let f = &clips[i].frames;
            (
                f.first().map_or(0, |x| x.frame),
                f.last().map_or(0, |x| x.frame),
            )
        };
        candidates
            .iter()
            .copied()
            .find(|&i| (span(i).0..=span(i).1).contains(&frame))
            .or_else(|| {
                candidates
                    .iter()
                    .copied()
                    .rev()
                    .find(|&i| span(i).0 <= frame)
            })
            .or_else(|| candidates.first().copied())
            .unwrap_or(0)
    }

    /// The frame a step stands at on the time axis: step 0 at the clip's first sampled frame,
    /// step k at cube k's centre frame.
    pub fn step_frame(clip: &ClipTrace, step: usize) -> usize {
        let first = clip.frames.first().map_or(0, |f| f.frame);
        // A model that takes one step per sampled frame and no regions (AR-Net's recurrence,
        // FrameExit): step k follows frame k.
        if clip.cubes.is_empty() && clip.steps.len() == clip.frames.len() {
            return clip.frames.get(step).map_or(first, |f| f.frame);
        }
        if step == 0 {
            return first;
        }
        clip.cubes
            .iter()
            .find(|q| q.order == step)
            .map_or(first, |q| q.z)
    }

    /// The previous (`dir < 0`) or next decision point from `current`.
    pub fn next_point(&self, current: usize, dir: i64) -> Option<usize> {
        if dir >= 0 {
            self.points.iter().copied().find(|&p| p > current)
        } else {
            self.points.iter().rev().copied().find(|&p| p < current)
        }
    }

    pub fn geometry(&self) -> Option<InputGeometry> {
        self.trace.input
    }

    pub fn class_name(&self, class: u32) -> String {
        self.trace.class_name(class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::trace::{
        ClassProb, FrameRole, StageDecision, StepPrediction, VideoInfo, TRACE_VERSION,
    };
    use crate::model::config::Knobs;
    use crate::runner::AnalysisRun;
    use crate::runner::{FlopsReport, Inspection, RawOutput};

    /// A clip of 4 sampled frames (one discarded), 2 cubes, 3 steps with falling entropy.
    fn run() -> AnalysisRun {
        let frame = |frame, kept| FrameDecision {
            frame,
            seconds: frame as f64 / 25.0,
            keep_prob: Some(if kept { 0.8 } else { 0.2 }),
            kept,
            role: FrameRole::Glance,
            focus_weight: None,
        };
        let cube = |order, z, frames: Vec<usize>| Cube {
            order,
            x: 0.5,
            y: 0.5,
            z,
            w: 10,
            h: 10,
            t: frames.len() as u32,
            frames,
            region: Some([0.0, 0.0, 10.0, 10.0]),
        };
        let step = |step, entropy: f32| StepPrediction {
            probs: None,
            step,
            top: vec![ClassProb {
                class: 0,
                prob: 0.9,
            }],
            entropy,
            confidence: 0.9,
            cumulative_gflops: 1.0 + step as f64,
        };
        let clip = ClipTrace {
            lanes: Default::default(),
            frames: vec![
                frame(5, true),
                frame(15, false),
                frame(25, true),
                frame(35, true),
            ],
            stages: vec![
                StageDecision {
                    prob: 0.7,
                    ran_3d: true,
                },
                StageDecision {
                    prob: 0.2,
                    ran_3d: false,
                },
            ],
            cubes: vec![cube(1, 25, vec![25, 35]), cube(2, 5, vec![5, 25])],
            steps: vec![step(0, 1.5), step(1, 0.9), step(2, 0.1)],
            exit: None,
        };
        let trace = DecisionTrace {
            lanes: Vec::new(),
            version: TRACE_VERSION,
            arch: "ada3d_focus".into(),
            video: VideoInfo {
                path: "v.mp4".into(),
                frame_count: 40,
                fps: Some(25.0),
                width: 64,
                height: 48,
            },
            clips: vec![clip],
            video_prediction: vec![],
            class_names: vec!["a".into(), "b".into()],
            input: None,
        };
        AnalysisRun {
            inspection: Inspection {
                trace,
                raw: RawOutput::Ada3d {
                    policies: vec![],
                    clips: vec![],
                },
                flops: FlopsReport::Ada3dFocus {
                    gflops_per_step: vec![vec![]],
                },
            },
            knobs: Knobs {
                frame_threshold: 0.5,
                stage_threshold: 0.5,
                max_cubes: None,
            },
            breakdown: vec![],
            largest_gflops: 0.0,
            pending: vec![],
        }
    }

    #[test]
    fn without_a_budget_every_cube_is_computed_and_the_last_step_exits() {
        let d = Decisions::new(1, run(), None, Criterion::Entropy);
        let c = d.counts;
        assert_eq!(
            (c.sampled, c.discarded, c.cubes, c.computed_cubes),
            (4, 1, 2, 2)
        );
        assert_eq!(
            (c.steps, c.exit_step, c.stages_3d, c.stages),
            (3, Some(2), 1, 2)
        );
    }

    #[test]
    fn thresholds_move_the_exit_and_the_computed_cubes() {
        let mut d = Decisions::new(1, run(), None, Criterion::Entropy);
        apply_exit_for_test(&mut d, &[None, Some(1.0), None]);
        let c = d.counts;
        assert_eq!((c.exit_step, c.computed_cubes), (Some(1), 1));
        let at_25: Vec<(usize, bool)> = d
            .cubes_at(25)
            .iter()
            .map(|c| (c.cube.order, c.computed))
            .collect();
        assert_eq!(at_25, vec![(1, true), (2, false)]);
        apply_exit_for_test(&mut d, &[Some(2.0), None, None]);
        assert_eq!(d.counts.exit_step, Some(0));
        assert_eq!(d.counts.computed_cubes, 0);
    }

    fn apply_exit_for_test(d: &mut Decisions, th: &[Option<f64>]) {
        crate::decision::ExitRule {
            criterion: Criterion::Entropy,
            thresholds: th.to_vec(),
            budget: None,
        }
        .apply(&mut d.trace);
        d.recount();
    }

    #[test]
    fn the_clip_at_the_playhead_is_the_one_spanning_it_or_the_last_before() {
        // Two more clips of the same decisions, 100 and 200 frames later (frames 5..35 each).
        let mut r = run();
        let first = r.inspection.trace.clips[0].clone();
        for shift in [100, 200] {
            let mut c = first.clone();
            for f in &mut c.frames {
                f.frame += shift;
            }
            r.inspection.trace.clips.push(c);
        }
        let d = Decisions::new(1, r, None, Criterion::Entropy);
        assert_eq!(d.clip_at(0), 0, "before every clip: the first");
        assert_eq!(d.clip_at(20), 0);
        assert_eq!(d.clip_at(60), 0, "between clips: the last one started");
        assert_eq!(d.clip_at(105), 1);
        assert_eq!(d.clip_at(235), 2);
        assert_eq!(d.clip_at(10_000), 2);
    }

    #[test]
    fn decision_points_and_step_positions() {
        let d = Decisions::new(1, run(), None, Criterion::Entropy);
        // Kept frames 5, 25, 35 (15 is discarded), cubes at 25 and 5, the exit (step 2, cube 2)
        // at 5.
        assert_eq!(d.points, vec![5, 25, 35]);
        assert_eq!(d.next_point(5, 1), Some(25));
        assert_eq!(d.next_point(20, -1), Some(5));
        assert_eq!(d.next_point(35, 1), None);
        assert_eq!(d.next_point(0, -1), None);
        let clip = &d.trace.clips[0];
        assert_eq!(Decisions::step_frame(clip, 0), 5);
        assert_eq!(Decisions::step_frame(clip, 1), 25);
        assert_eq!(Decisions::step_frame(clip, 2), 5);
        assert!(d.frame(15).is_some_and(|f| !f.kept));
        assert!(d.frame(16).is_none());
    }
}
