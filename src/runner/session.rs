//! One model on one video, kept warm: the network and what it has computed live in one value,
//! so a cache can never meet another model. A run goes clip by clip — decode the clip (first
//! run only), run the glance and the policies (first run only), then the local network for the
//! knobs — and reports each clip as it finishes. Clips go from the one the viewer is at
//! ([`Observer::focus`]) onwards, then back before it, and a first run decodes on a thread of
//! its own, one clip ahead of the model. Changing τ_f, τ_s or the cube cap re-runs only the
//! local network; a cancelled run keeps every clip it finished (decoded, glanced and run), so
//! running again resumes where it stopped, and running a finished session again with the same
//! knobs computes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use candle_core::Tensor;

use serde::Serialize;

use super::input::{ClipDecoder, Input};
use super::{FlopsReport, Inspection, Observer, RawOutput, RunError};
use crate::decision::trace::{ClipTrace, DecisionTrace, FrameDecision, FrameRole, TRACE_VERSION};
use crate::model::ada3d::{Ada3d, ClipPolicy};
use crate::model::ada3d_focus::{Ada3dFocus, GlanceCache};
use crate::model::arch::Arch;
use crate::model::config::Knobs;
use crate::model::inspect::{ada3d_clip, ada3d_focus_clip, mean_of_softmax, SampledFrames, TOP_K};
use crate::model::load::{LoadedModel, Network};
use crate::model::uni_adafocus::UniAdaFocus;
use crate::video::{Control, RgbFrame};

/// One part of the compute of a run, for the breakdown against the budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlopsPart {
    pub label: String,
    pub gflops: f64,
    /// The step this part belongs to (spent only when the model reaches it); `None` = always.
    pub step: Option<usize>,
    /// The clip it belongs to (each clip stops at its own exit).
    pub clip: usize,
}

/// A finished run: the trace and the compute by part.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisRun {
    pub inspection: Inspection,
    pub knobs: Knobs,
    pub breakdown: Vec<FlopsPart>,
    /// What the run would cost at the largest budget: every frame kept, every stage 3D, every
    /// cube or patch (the reference the adaptive decisions save against).
    pub largest_gflops: f64,
    /// Clips not run yet (a partial run's; empty when whole). Their traces hold only their
    /// sampled frames, and the video's prediction, raw outputs and FLOPs leave them out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<usize>,
}

/// A network with what it computed once per clip.
enum Warm {
    /// Uni-AdaFocus has no thresholds to move: every run is the whole model.
    Whole(Arc<UniAdaFocus>),
    /// The glance of each clip, once run.
    Focus {
        net: Arc<Ada3dFocus>,
        glances: Vec<Option<GlanceCache>>,
    },
    /// The selection network's policies of each clip, once run.
    Clips {
        net: Arc<Ada3d>,
        policies: Vec<Option<ClipPolicy>>,
    },
}

/// The warm part of a model on a video.
pub struct Session {
    pub input: Input,
    warm: Warm,
    arch: Arch,
    class_names: Vec<String>,
    /// The clips run with `done_knobs` so far: kept for a resume and for running again.
    done: Vec<Option<ClipResult>>,
    done_knobs: Option<Knobs>,
}

/// What one clip of a run produced.
#[derive(Clone)]
enum ClipOut {
    Focus(crate::model::ada3d_focus::Ada3dFocusOutput),
    Clip(crate::model::ada3d::ClipRun),
}

#[derive(Clone)]
struct ClipResult {
    trace: ClipTrace,
    out: ClipOut,
    parts: Vec<FlopsPart>,
    /// The clip with every frame kept, every stage 3D and every cube (counted once).
    largest_gflops: f64,
}

/// Clips before the focus are taken in blocks of this many, each decoded forwards in one run.
const BACKWARD_BLOCK: usize = 4;

/// The next clip to run: the first not taken at or after `focus`, else the start of the block of
/// untaken clips just before it.
fn next_clip(focus: usize, taken: &[bool]) -> Option<usize> {
    if let Some(i) = (focus..taken.len()).find(|&i| !taken[i]) {
        return Some(i);
    }
    let nearest = (0..focus.min(taken.len())).rev().find(|&i| !taken[i])?;
    let mut start = nearest;
    while start > 0 && !taken[start - 1] && nearest + 1 - start < BACKWARD_BLOCK {
        start -= 1;
    }
    Some(start)
}

/// The clip whose sampled frames span `frame`, else the last one starting before it.
fn clip_of_frame(spans: &[(usize, usize)], frame: usize) -> usize {
    spans
        .iter()
        .position(|&(a, b)| (a..=b).contains(&frame))
        .or_else(|| spans.iter().rposition(|&(a, _)| a <= frame))
        .unwrap_or(0)
}

/// A clip not run yet: its sampled frames only.
fn placeholder(sampled: &SampledFrames) -> ClipTrace {
    ClipTrace {
        lanes: Default::default(),
        frames: sampled
            .numbers
            .iter()
            .zip(&sampled.seconds)
            .map(|(&frame, &seconds)| FrameDecision {
                frame,
                seconds,
                keep_prob: None,
                kept: true,
                role: FrameRole::Glance,
                focus_weight: None,
            })
            .collect(),
        stages: Vec::new(),
        cubes: Vec::new(),
        steps: Vec::new(),
        exit: None,
    }
}

impl Session {
    /// `model` on `input`; nothing runs until [`Session::run`].
    pub fn new(model: &LoadedModel, input: Input) -> Session {
        let clips = input.clips();
        let warm = match &model.network {
            Network::UniAdaFocus(net) => Warm::Whole(net.clone()),
            Network::Ada3dFocus(net) => Warm::Focus {
                net: net.clone(),
                glances: (0..clips).map(|_| None).collect(),
            },
            Network::Ada3d(net) => Warm::Clips {
                net: net.clone(),
                policies: vec![None; clips],
            },
        };
        Session {
            done: vec![None; clips],
            done_knobs: None,
            input,
            warm,
            arch: model.kind(),
            class_names: model.config.class_names(),
        }
    }

    /// Clips already run with `knobs` (what running again with them does not compute).
    pub fn clips_done(&self, knobs: &Knobs) -> usize {
        if self.done_knobs != Some(*knobs) {
            return 0;
        }
        self.done.iter().filter(|d| d.is_some()).count()
    }

    /// Clips whose glance (or policies) have run: what a re-run does not compute again.
    pub fn warm_clips(&self) -> usize {
        match &self.warm {
            Warm::Whole(_) => self.input.decoded_clips(),
            Warm::Focus { glances, .. } => glances.iter().filter(|g| g.is_some()).count(),
            Warm::Clips { policies, .. } => policies.iter().filter(|p| p.is_some()).count(),
        }
    }

    /// The glance of clip `i` (ada3d_focus), for callers that run their own plans on it.
    pub fn glance(&mut self, i: usize, ctl: &Control) -> Result<Option<&GlanceCache>, RunError> {
        let frames = self.input.clip(i, ctl)?;
        match &mut self.warm {
            Warm::Focus { net, glances } => {
                let slot = glances.get_mut(i).ok_or_else(|| RunError::NoClip(i))?;
                if slot.is_none() {
                    *slot = Some(net.glance(&frames)?);
                }
                Ok(slot.as_ref())
            }
            _ => Ok(None),
        }
    }

    /// Everything for `knobs`, clip by clip: decode and glance what has not been yet, then the
    /// local network. `cancel` is checked between clips and inside decoding (a candle forward
    /// pass cannot be interrupted); a cancelled run returns [`RunError::Cancelled`] and keeps
    /// what it finished.
    pub fn run(
        &mut self,
        knobs: &Knobs,
        cancel: &AtomicBool,
        observer: &dyn Observer,
    ) -> Result<AnalysisRun, RunError> {
        if let Warm::Whole(net) = &self.warm {
            let net = net.clone();
            return self.run_whole(&net, knobs, cancel, observer);
        }
        let clips = self.input.clips();
        if self.done_knobs != Some(*knobs) || self.done.len() != clips {
            self.done = vec![None; clips];
            self.done_knobs = Some(*knobs);
        }
        // On a first run the window draws the clips as they come; a re-run (every clip warm)
        // only takes the local network and is drawn when whole.
        let partial = self.warm_clips() < clips && clips > 1 && observer.wants_partial();
        let needs_decoding = (0..clips).any(|i| self.done[i].is_none() && !self.input.has_clip(i));
        let decoder = if needs_decoding {
            self.input.take_decoder()
        } else {
            None
        };
        match decoder {
            Some(mut decoder) => {
                let ran = self.run_decoding(&mut decoder, knobs, cancel, observer, partial);
                self.input.put_back(decoder);
                ran?;
            }
            None => {
                let spans = self.spans();
                let mut taken: Vec<bool> = self.done.iter().map(Option::is_some).collect();
                while let Some(i) = next_clip(clip_of_frame(&spans, observer.focus()), &taken) {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(RunError::Cancelled);
                    }
                    taken[i] = true;
                    let frames = self.input.clip(i, &Control::default())?;
                    self.run_clip(i, &frames, knobs, observer, partial)?;
                }
            }
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(RunError::Cancelled);
        }
        observer.progress("Running the model", clips, clips);
        self.assemble(knobs)
    }

    /// Ada3dFocus and clip `i`'s glance (run on `frames` now if it has not run yet).
    pub(super) fn focus_glance(
        &mut self,
        i: usize,
        frames: &Tensor,
    ) -> Result<(Arc<Ada3dFocus>, GlanceCache), RunError> {
        let Warm::Focus { net, glances } = &mut self.warm else {
            return Err(super::EditError::Arch.into());
        };
        let slot = glances.get_mut(i).ok_or(RunError::NoClip(i))?;
        if slot.is_none() {
            *slot = Some(net.glance(frames)?);
        }
        let cache = slot.clone().ok_or(RunError::NoClip(i))?;
        Ok((net.clone(), cache))
    }

    /// The first and last sampled frame of each clip.
    fn spans(&self) -> Vec<(usize, usize)> {
        let t = self.input.clip_len;
        (0..self.input.clips())
            .map(|i| {
                let c = &self.input.sampled.numbers[i * t..(i + 1) * t];
                (
                    c.iter().copied().min().unwrap_or(0),
                    c.iter().copied().max().unwrap_or(0),
                )
            })
            .collect()
    }

    /// A first run: a decoding thread takes the clips in order from the focus and hands each
    /// over as it is decoded (one clip ahead of the model at most); this thread runs the model.
    fn run_decoding(
        &mut self,
        decoder: &mut ClipDecoder,
        knobs: &Knobs,
        cancel: &AtomicBool,
        observer: &dyn Observer,
        partial: bool,
    ) -> Result<(), RunError> {
        let clips = self.input.clips();
        let spans = self.spans();
        let at_hand: Vec<bool> = (0..clips).map(|i| self.input.has_clip(i)).collect();
        let mut taken: Vec<bool> = self.done.iter().map(Option::is_some).collect();
        // Stops the decoding thread, inside a decode too: set on the user's cancel and when
        // this thread fails.
        let stop = AtomicBool::new(false);
        let single = clips == 1;
        let todo = taken.iter().filter(|t| !**t).count();
        std::thread::scope(|s| {
            let (tx, rx) = sync_channel::<Result<(usize, Option<Vec<RgbFrame>>), RunError>>(1);
            let (stop, spans) = (&stop, &spans);
            s.spawn(move || {
                let progress = |done: usize, total: usize| {
                    if single {
                        observer.progress("Decoding the model's frames", done, total)
                    }
                };
                let ctl = Control {
                    cancel: Some(stop),
                    progress: Some(&progress),
                    threads: 0,
                };
                while let Some(i) = next_clip(clip_of_frame(spans, observer.focus()), &taken) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    taken[i] = true;
                    let item = if at_hand[i] {
                        Ok((i, None))
                    } else {
                        decoder.decode(i, &ctl).map(|f| (i, Some(f)))
                    };
                    let failed = item.is_err();
                    if tx.send(item).is_err() || failed {
                        break;
                    }
                }
            });
            let mut received = 0;
            let result = loop {
                if received == todo {
                    break Ok(());
                }
                if cancel.load(Ordering::Relaxed) {
                    break Err(RunError::Cancelled);
                }
                let (i, frames) = match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(Ok(item)) => item,
                    Ok(Err(e)) => break Err(e),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break Err(RunError::Cancelled),
                };
                received += 1;
                if let Some(f) = frames {
                    self.input.store(i, f);
                }
                let ran = self
                    .input
                    .clip(i, &Control::default())
                    .and_then(|frames| self.run_clip(i, &frames, knobs, observer, partial));
                if let Err(e) = ran {
                    break Err(e);
                }
            };
            stop.store(true, Ordering::Relaxed);
            // The decoding thread stops at once; a clip it decoded that was not run yet is kept
            // for the next run.
            for item in rx.iter() {
                if let Ok((i, Some(frames))) = item {
                    self.input.store(i, frames);
                }
            }
            result
        })
    }

    /// Run clip `i` on its frames, keep the result and tell the observer (with the partial run
    /// when asked).
    fn run_clip(
        &mut self,
        i: usize,
        frames: &Tensor,
        knobs: &Knobs,
        observer: &dyn Observer,
        partial: bool,
    ) -> Result<(), RunError> {
        let clips = self.input.clips();
        let t = self.input.clip_len;
        let sampled = self.input.sampled.clip(i, t);
        let clip_label = if clips > 1 {
            format!("clip {}: ", i + 1)
        } else {
            String::new()
        };
        let g = |v: u64| v as f64 / 1e9;
        let mut parts = Vec::new();
        let (trace, out, largest_gflops) = match &mut self.warm {
            Warm::Whole(_) => return Err(RunError::NoClip(i)),
            Warm::Focus { net, glances } => {
                let slot = glances.get_mut(i).ok_or(RunError::NoClip(i))?;
                if slot.is_none() {
                    *slot = Some(net.glance(frames)?);
                }
                let cache = slot.as_ref().ok_or(RunError::NoClip(i))?;
                let mut plan = net.plan(cache, knobs.frame_threshold, knobs.stage_threshold);
                if let Some(max) = knobs.max_cubes {
                    plan.cubes.truncate(max);
                    plan.positions.truncate(max);
                }
                let by_part = net.flops_breakdown(&plan)?;
                let out = net.run_plan(frames, cache, plan)?;
                parts.push(part(
                    &format!("{clip_label}glance (MobileNetV2, all frames)"),
                    g(by_part.glance),
                    None,
                    i,
                ));
                parts.push(part(
                    &format!("{clip_label}policies (frame, stage, cube)"),
                    g(by_part.policies),
                    None,
                    i,
                ));
                parts.push(part(
                    &format!("{clip_label}classifier (glance)"),
                    g(by_part.classifier_glance),
                    None,
                    i,
                ));
                for (k, local) in by_part.local_per_cube.iter().enumerate() {
                    parts.push(part(
                        &format!("{clip_label}cube {} (3D net + classifier)", k + 1),
                        g(local + by_part.classifier_per_cube),
                        Some(k + 1),
                        i,
                    ));
                }
                let trace = ada3d_focus_clip(&out, &sampled, net.config.input_size);
                let all = net.flops_breakdown(&net.plan(cache, 0.0, 0.0))?;
                let largest = g(all.cumulative().last().copied().unwrap_or(0));
                (trace, ClipOut::Focus(out), largest)
            }
            Warm::Clips { net, policies } => {
                let slot = policies.get_mut(i).ok_or(RunError::NoClip(i))?;
                if slot.is_none() {
                    let one = net.policies(&frames.unsqueeze(0)?)?;
                    *slot = one.into_iter().next();
                }
                let policy = slot.as_ref().ok_or(RunError::NoClip(i))?;
                let (kept, stages) = policy.decide(knobs.frame_threshold, knobs.stage_threshold);
                let run = net.run_clip(frames, &kept, &stages)?;
                parts.push(part(&format!("clip {}", i + 1), run.gflops, None, i));
                let k = net.backbone().spec().adaptive_stages().len();
                let largest = net.flops(t, &vec![true; k])?.gflops();
                (
                    ada3d_clip(policy, &run, &sampled),
                    ClipOut::Clip(run),
                    largest,
                )
            }
        };
        observer.clip(i, clips, &trace);
        if let Some(slot) = self.done.get_mut(i) {
            *slot = Some(ClipResult {
                trace,
                out,
                parts,
                largest_gflops,
            });
        }
        let done = self.done.iter().filter(|d| d.is_some()).count();
        observer.progress("Running the model", done, clips);
        if partial && done < clips {
            observer.partial(&self.assemble(knobs)?);
        }
        Ok(())
    }

    /// Uni-AdaFocus: one clip, the whole model, returned as it is.
    fn run_whole(
        &mut self,
        net: &UniAdaFocus,
        knobs: &Knobs,
        cancel: &AtomicBool,
        observer: &dyn Observer,
    ) -> Result<AnalysisRun, RunError> {
        let progress = |done: usize, total: usize| {
            observer.progress("Decoding the model's frames", done, total)
        };
        let ctl = Control {
            cancel: Some(cancel),
            progress: Some(&progress),
            threads: 0,
        };
        let frames = self.input.clip(0, &ctl)?;
        observer.progress("Running the model", 0, 1);
        let sampled = self.input.sampled.clip(0, self.input.clip_len);
        let g = |v: u64| v as f64 / 1e9;
        let raw = net.forward(&frames)?;
        let flops = net.flops();
        let clip =
            crate::model::inspect::uni_adafocus_clip(&raw, &flops, &sampled, net.config.input_size);
        let mut parts = vec![
            part(
                "glance",
                g(flops.glance_frames as u64
                    * (flops.glance_per_frame + flops.classifier_per_glance)),
                None,
                0,
            ),
            part(
                "policies",
                g(flops.spatial_policy + flops.temporal_policy),
                Some(1),
                0,
            ),
        ];
        for k in 1..=flops.max_patches {
            parts.push(part(
                &format!("patch {k} (local + classifier)"),
                g(flops.local_per_patch + flops.classifier_per_patch),
                Some(k),
                0,
            ));
        }
        observer.clip(0, 1, &clip);
        let video = clip.steps.last().map(|s| s.top.clone()).unwrap_or_default();
        self.finish(
            knobs,
            vec![clip],
            video,
            RawOutput::UniAdaFocus(Box::new(raw)),
            FlopsReport::UniAdaFocus(flops),
            parts,
            Vec::new(),
        )
    }

    /// The run of the clips done so far (the others as placeholders): the video's prediction
    /// over them, their raw outputs, FLOPs and breakdown.
    fn assemble(&self, knobs: &Knobs) -> Result<AnalysisRun, RunError> {
        let t = self.input.clip_len;
        let mut traces = Vec::with_capacity(self.done.len());
        let (mut outs, mut parts, mut pending) = (vec![], vec![], vec![]);
        for (i, d) in self.done.iter().enumerate() {
            match d {
                Some(r) => {
                    traces.push(r.trace.clone());
                    outs.push(r.out.clone());
                    parts.extend(r.parts.iter().cloned());
                }
                None => {
                    traces.push(placeholder(&self.input.sampled.clip(i, t)));
                    pending.push(i);
                }
            }
        }
        let (video, raw, flops) = match &self.warm {
            Warm::Focus { .. } => {
                let outs: Vec<_> = outs
                    .into_iter()
                    .filter_map(|o| match o {
                        ClipOut::Focus(f) => Some(f),
                        ClipOut::Clip(_) => None,
                    })
                    .collect();
                // The video's prediction: the mean of the clips' softmax after their last step.
                let logits: Vec<&[f32]> = outs
                    .iter()
                    .filter_map(|o| o.step_logits.last().map(Vec::as_slice))
                    .collect();
                let video = mean_of_softmax(&logits, TOP_K);
                let flops = FlopsReport::Ada3dFocus {
                    gflops_per_step: outs.iter().map(|o| o.step_gflops.clone()).collect(),
                };
                (video, RawOutput::Ada3dFocus(outs), flops)
            }
            Warm::Clips { net, policies } => {
                let runs: Vec<_> = outs
                    .into_iter()
                    .filter_map(|o| match o {
                        ClipOut::Clip(r) => Some(r),
                        ClipOut::Focus(_) => None,
                    })
                    .collect();
                let logits: Vec<&[f32]> = runs.iter().map(|r| r.logits.as_slice()).collect();
                let video = mean_of_softmax(&logits, TOP_K);
                let k = net.backbone().spec().adaptive_stages().len();
                let flops = FlopsReport::Ada3d {
                    gflops_per_clip: runs.iter().map(|r| r.gflops).collect(),
                    gflops_full_clip: net.flops(t, &vec![true; k])?.gflops(),
                };
                let raw = RawOutput::Ada3d {
                    policies: self
                        .done
                        .iter()
                        .zip(policies)
                        .filter(|(d, _)| d.is_some())
                        .filter_map(|(_, p)| p.clone())
                        .collect(),
                    clips: runs,
                };
                (video, raw, flops)
            }
            Warm::Whole(_) => return Err(RunError::NoClip(0)),
        };
        self.finish(knobs, traces, video, raw, flops, parts, pending)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        knobs: &Knobs,
        clips: Vec<ClipTrace>,
        video_prediction: Vec<crate::decision::trace::ClassProb>,
        raw: RawOutput,
        flops: FlopsReport,
        breakdown: Vec<FlopsPart>,
        pending: Vec<usize>,
    ) -> Result<AnalysisRun, RunError> {
        let trace = DecisionTrace {
            lanes: Vec::new(),
            version: TRACE_VERSION,
            arch: self.arch.name().to_string(),
            video: self.input.video.clone(),
            clips,
            video_prediction,
            class_names: self.class_names.clone(),
            input: self.input.geometry,
        };
        let largest_gflops = self.largest_gflops(&breakdown)?;
        Ok(AnalysisRun {
            inspection: Inspection { trace, raw, flops },
            knobs: *knobs,
            breakdown,
            largest_gflops,
            pending,
        })
    }

    /// Every frame kept, every stage 3D and every cube of every clip run (counted, not run).
    fn largest_gflops(&self, breakdown: &[FlopsPart]) -> Result<f64, RunError> {
        Ok(match &self.warm {
            Warm::Focus { .. } | Warm::Clips { .. } => {
                self.done.iter().flatten().map(|r| r.largest_gflops).sum()
            }
            // Uni-AdaFocus: the breakdown lists every patch, whatever the exit.
            Warm::Whole(_) => breakdown.iter().map(|p| p.gflops).sum(),
        })
    }
}

fn part(label: &str, gflops: f64, step: Option<usize>, clip: usize) -> FlopsPart {
    FlopsPart {
        label: label.to_string(),
        gflops,
        step,
        clip,
    }
}
