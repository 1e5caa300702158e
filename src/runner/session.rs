//! One model on one video, kept warm: the network and what it has computed live in one value,
//! so a cache can never meet another model. A run goes clip by clip — decode the clip (first
//! run only), run the glance and the policies (first run only), then the local network for the
//! knobs — and reports each clip as it finishes. Changing τ_f, τ_s or the cube cap re-runs only
//! the local network; a cancelled run keeps every clip it finished decoding and glancing, so
//! running again resumes where it stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::input::Input;
use super::{FlopsReport, Inspection, Observer, RawOutput, RunError};
use crate::decision::trace::{ClipTrace, DecisionTrace, TRACE_VERSION};
use crate::model::ada3d::{Ada3d, ClipPolicy};
use crate::model::ada3d_focus::{Ada3dFocus, GlanceCache};
use crate::model::arch::Arch;
use crate::model::config::Knobs;
use crate::model::inspect::{ada3d_clip, ada3d_focus_clip, mean_of_softmax, TOP_K};
use crate::model::load::{LoadedModel, Network};
use crate::model::uni_adafocus::UniAdaFocus;
use crate::video::Control;

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
}

/// What one clip of a run produced.
#[derive(Clone)]
enum ClipOut {
    Focus(crate::model::ada3d_focus::Ada3dFocusOutput),
    Clip(crate::model::ada3d::ClipRun),
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
            input,
            warm,
            arch: model.kind(),
            class_names: model.config.class_names(),
        }
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
        let clips = self.input.clips();
        let t = self.input.clip_len;
        let total_frames = self.input.sampled.numbers.len();
        let several = clips > 1;
        let first_run = self.warm_clips() < clips;
        let (mut traces, mut outs, mut parts) = (vec![], vec![], vec![]);
        for i in 0..clips {
            if cancel.load(Ordering::Relaxed) {
                return Err(RunError::Cancelled);
            }
            let offset = i * t;
            let progress = |done: usize, _: usize| {
                observer.progress("Decoding the model's frames", offset + done, total_frames)
            };
            let ctl = Control {
                cancel: Some(cancel),
                progress: Some(&progress),
                threads: 0,
            };
            let frames = self.input.clip(i, &ctl)?;
            observer.progress("Running the model", i, clips);
            let sampled = self.input.sampled.clip(i, t);
            let clip_label = if several {
                format!("clip {}: ", i + 1)
            } else {
                String::new()
            };
            let g = |v: u64| v as f64 / 1e9;
            let (trace, out) = match &mut self.warm {
                Warm::Whole(net) => {
                    let raw = net.forward(&frames)?;
                    let flops = net.flops();
                    let clip = crate::model::inspect::uni_adafocus_clip(
                        &raw,
                        &flops,
                        &sampled,
                        net.config.input_size,
                    );
                    parts.push(part(
                        "glance",
                        g(flops.glance_frames as u64
                            * (flops.glance_per_frame + flops.classifier_per_glance)),
                        None,
                        0,
                    ));
                    parts.push(part(
                        "policies",
                        g(flops.spatial_policy + flops.temporal_policy),
                        Some(1),
                        0,
                    ));
                    for k in 1..=flops.max_patches {
                        parts.push(part(
                            &format!("patch {k} (local + classifier)"),
                            g(flops.local_per_patch + flops.classifier_per_patch),
                            Some(k),
                            0,
                        ));
                    }
                    observer.clip(i, clips, &clip);
                    // One clip: the whole model, returned as it is.
                    return self.finish(
                        knobs,
                        vec![clip.clone()],
                        clip.steps.last().map(|s| s.top.clone()).unwrap_or_default(),
                        RawOutput::UniAdaFocus(Box::new(raw)),
                        FlopsReport::UniAdaFocus(flops),
                        parts,
                    );
                }
                Warm::Focus { net, glances } => {
                    let slot = glances.get_mut(i).ok_or(RunError::NoClip(i))?;
                    if slot.is_none() {
                        *slot = Some(net.glance(&frames)?);
                    }
                    let cache = slot.as_ref().ok_or(RunError::NoClip(i))?;
                    let mut plan = net.plan(cache, knobs.frame_threshold, knobs.stage_threshold);
                    if let Some(max) = knobs.max_cubes {
                        plan.cubes.truncate(max);
                        plan.positions.truncate(max);
                    }
                    let by_part = net.flops_breakdown(&plan)?;
                    let out = net.run_plan(&frames, cache, plan)?;
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
                    (trace, ClipOut::Focus(out))
                }
                Warm::Clips { net, policies } => {
                    let slot = policies.get_mut(i).ok_or(RunError::NoClip(i))?;
                    if slot.is_none() {
                        let one = net.policies(&frames.unsqueeze(0)?)?;
                        *slot = one.into_iter().next();
                    }
                    let policy = slot.as_ref().ok_or(RunError::NoClip(i))?;
                    let (kept, stages) =
                        policy.decide(knobs.frame_threshold, knobs.stage_threshold);
                    let run = net.run_clip(&frames, &kept, &stages)?;
                    parts.push(part(&format!("clip {}", i + 1), run.gflops, None, i));
                    (ada3d_clip(policy, &run, &sampled), ClipOut::Clip(run))
                }
            };
            observer.clip(i, clips, &trace);
            traces.push(trace);
            outs.push(out);
            // On a first run the window draws the clips as they come; a re-run (every clip
            // warm) only takes the local network and is drawn when whole.
            if first_run && i + 1 < clips && observer.wants_partial() {
                let so_far = self.assemble(knobs, traces.clone(), outs.clone(), parts.clone())?;
                observer.partial(&so_far);
            }
        }
        observer.progress("Running the model", clips, clips);
        self.assemble(knobs, traces, outs, parts)
    }

    /// The run of the clips so far: the video's prediction over them, their raw outputs, FLOPs
    /// and breakdown.
    fn assemble(
        &self,
        knobs: &Knobs,
        traces: Vec<ClipTrace>,
        outs: Vec<ClipOut>,
        parts: Vec<FlopsPart>,
    ) -> Result<AnalysisRun, RunError> {
        let t = self.input.clip_len;
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
                    policies: policies.iter().flatten().cloned().collect(),
                    clips: runs,
                };
                (video, raw, flops)
            }
            Warm::Whole(_) => return Err(RunError::NoClip(0)),
        };
        self.finish(knobs, traces, video, raw, flops, parts)
    }

    fn finish(
        &self,
        knobs: &Knobs,
        clips: Vec<ClipTrace>,
        video_prediction: Vec<crate::decision::trace::ClassProb>,
        raw: RawOutput,
        flops: FlopsReport,
        breakdown: Vec<FlopsPart>,
    ) -> Result<AnalysisRun, RunError> {
        let trace = DecisionTrace {
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
        })
    }

    /// Every frame kept, every stage 3D and every cube of every clip (counted, not run).
    fn largest_gflops(&self, breakdown: &[FlopsPart]) -> Result<f64, RunError> {
        Ok(match &self.warm {
            Warm::Focus { net, glances } => {
                let mut total = 0;
                for cache in glances.iter().flatten() {
                    let all = net.flops_breakdown(&net.plan(cache, 0.0, 0.0))?;
                    total += all.cumulative().last().copied().unwrap_or(0);
                }
                total as f64 / 1e9
            }
            Warm::Clips { net, policies } => {
                let k = net.backbone().spec().adaptive_stages().len();
                let clip = net.flops(self.input.clip_len, &vec![true; k])?.gflops();
                clip * policies.len() as f64
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
