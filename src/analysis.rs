//! One model on one video, kept warm so that changing τ_f, τ_s or the cube cap re-runs only
//! what they change: the glance and the policies run once ([`Analysis::start`]); each
//! [`Analysis::run`] re-plans and re-runs the local network and the classifier (ada3d_focus) or
//! the 3D network per clip (ada3d). A budget move needs no model run at all: it only picks the
//! exit step from the per-step predictions already computed ([`apply_exit`]).

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::Tensor;
use serde::Serialize;

use crate::decision::trace::{DecisionTrace, ExitDecision, TRACE_VERSION};
use crate::decision::Criterion;
use crate::model::ada3d::ClipPolicy;
use crate::model::ada3d_focus::GlanceCache;
use crate::model::config::ModelConfig;
use crate::model::inspect::{ada3d_clip, ada3d_focus_clip, mean_of_softmax, TOP_K};
use crate::model::load::{LoadedModel, Network};
use crate::pipeline::{FlopsReport, Inspection, ModelInput, PipelineError, RawOutput};

/// The thresholds a user can move without re-running the glance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Knobs {
    /// τ_f: keep frame t when m_t ≥ τ_f (Ada3D).
    pub frame_threshold: f32,
    /// τ_s: run stage k in 3D when n_k ≥ τ_s (Ada3D).
    pub stage_threshold: f32,
    /// At most this many cubes (ada3d_focus); `None` = the checkpoint's N.
    pub max_cubes: Option<usize>,
}

impl Knobs {
    /// The checkpoint's own thresholds.
    pub fn of(config: &ModelConfig) -> Knobs {
        let (frame_threshold, stage_threshold) = match config {
            ModelConfig::Ada3d(c) | ModelConfig::ResNet3d(c) => {
                (c.frame_threshold, c.stage_threshold)
            }
            ModelConfig::Ada3dFocus(c) => (c.frame_threshold, c.stage_threshold),
            ModelConfig::UniAdaFocus(_) => (0.5, 0.5),
        };
        Knobs {
            frame_threshold,
            stage_threshold,
            max_cubes: None,
        }
    }
}

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

enum Cache {
    /// Uni-AdaFocus has no thresholds to move: every run is the whole model.
    Whole,
    /// The glance of every clip.
    Focus(Vec<GlanceCache>),
    /// Clips C×T×3×S×S and their policies.
    Clips {
        clips: Tensor,
        policies: Vec<ClipPolicy>,
    },
}

/// The warm part of a model on a video.
pub struct Analysis {
    pub input: ModelInput,
    cache: Cache,
}

impl Analysis {
    /// Run the glance of every clip (ada3d_focus) or the selection network (ada3d) once.
    pub fn start(model: &LoadedModel, input: ModelInput) -> Result<Self, PipelineError> {
        let cache = match &model.network {
            Network::UniAdaFocus(_) => Cache::Whole,
            Network::Ada3dFocus(net) => {
                let t = input.clip_len;
                let glances = (0..input.clips())
                    .map(|i| net.glance(&input.frames.narrow(0, i * t, t)?))
                    .collect::<candle_core::Result<_>>()?;
                Cache::Focus(glances)
            }
            Network::Ada3d(net) => {
                let (n, t) = (input.clips(), input.clip_len);
                let (_, c, h, w) = input.frames.dims4()?;
                let clips = input.frames.reshape((n, t, c, h, w))?;
                let policies = net.policies(&clips)?;
                Cache::Clips { clips, policies }
            }
        };
        Ok(Self { input, cache })
    }

    /// Everything after the policies, for `knobs`. `cancel` is checked before the run and
    /// between clips (a candle forward pass cannot be interrupted; the caller checks it again
    /// after); a cancelled run returns [`PipelineError::Cancelled`].
    pub fn run(
        &self,
        model: &LoadedModel,
        knobs: &Knobs,
        cancel: &AtomicBool,
    ) -> Result<AnalysisRun, PipelineError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        let input = &self.input;
        let (clips, video_prediction, raw, flops, breakdown) = match (&model.network, &self.cache) {
            (Network::UniAdaFocus(net), _) => {
                let raw = net.forward(&input.frames)?;
                let flops = net.flops();
                let clip = crate::model::inspect::uni_adafocus_clip(
                    &raw,
                    &flops,
                    &input.sampled,
                    net.config.input_size,
                );
                let video = clip.steps.last().map(|s| s.top.clone()).unwrap_or_default();
                let g = |v: u64| v as f64 / 1e9;
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
                let raw = RawOutput::UniAdaFocus(Box::new(raw));
                (
                    vec![clip],
                    video,
                    raw,
                    FlopsReport::UniAdaFocus(flops),
                    parts,
                )
            }
            (Network::Ada3dFocus(net), Cache::Focus(glances)) => {
                let t = input.clip_len;
                let several = glances.len() > 1;
                let (mut traces, mut outs, mut parts) = (vec![], vec![], vec![]);
                for (i, cache) in glances.iter().enumerate() {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(PipelineError::Cancelled);
                    }
                    let mut plan = net.plan(cache, knobs.frame_threshold, knobs.stage_threshold);
                    if let Some(max) = knobs.max_cubes {
                        plan.cubes.truncate(max);
                        plan.positions.truncate(max);
                    }
                    let by_part = net.flops_breakdown(&plan)?;
                    let frames = input.frames.narrow(0, i * t, t)?;
                    let out = net.run_plan(&frames, cache, plan)?;
                    let sampled = input.sampled.clip(i, t);
                    traces.push(ada3d_focus_clip(&out, &sampled, net.config.input_size));
                    let g = |v: u64| v as f64 / 1e9;
                    let clip = if several {
                        format!("clip {}: ", i + 1)
                    } else {
                        String::new()
                    };
                    parts.push(part(
                        &format!("{clip}glance (MobileNetV2, all frames)"),
                        g(by_part.glance),
                        None,
                        i,
                    ));
                    parts.push(part(
                        &format!("{clip}policies (frame, stage, cube)"),
                        g(by_part.policies),
                        None,
                        i,
                    ));
                    parts.push(part(
                        &format!("{clip}classifier (glance)"),
                        g(by_part.classifier_glance),
                        None,
                        i,
                    ));
                    for (k, local) in by_part.local_per_cube.iter().enumerate() {
                        parts.push(part(
                            &format!("{clip}cube {} (3D net + classifier)", k + 1),
                            g(local + by_part.classifier_per_cube),
                            Some(k + 1),
                            i,
                        ));
                    }
                    outs.push(out);
                }
                // The video's prediction: the mean of the clips' softmax after their last step.
                let logits: Vec<&[f32]> = outs
                    .iter()
                    .filter_map(|o| o.step_logits.last().map(Vec::as_slice))
                    .collect();
                let video = mean_of_softmax(&logits, TOP_K);
                let flops = FlopsReport::Ada3dFocus {
                    gflops_per_step: outs.iter().map(|o| o.step_gflops.clone()).collect(),
                };
                (traces, video, RawOutput::Ada3dFocus(outs), flops, parts)
            }
            (Network::Ada3d(net), Cache::Clips { clips, policies }) => {
                let t = input.clip_len;
                let mut runs = Vec::with_capacity(policies.len());
                for (i, p) in policies.iter().enumerate() {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(PipelineError::Cancelled);
                    }
                    let (kept, stages) = p.decide(knobs.frame_threshold, knobs.stage_threshold);
                    runs.push(net.run_clip(&clips.get(i)?, &kept, &stages)?);
                }
                let traces: Vec<_> = policies
                    .iter()
                    .zip(&runs)
                    .enumerate()
                    .map(|(i, (p, r))| ada3d_clip(p, r, &input.sampled.clip(i, t)))
                    .collect();
                let logits: Vec<&[f32]> = runs.iter().map(|r| r.logits.as_slice()).collect();
                let video = mean_of_softmax(&logits, TOP_K);
                let k = net.backbone().spec().adaptive_stages().len();
                let parts = runs
                    .iter()
                    .enumerate()
                    .map(|(i, r)| part(&format!("clip {}", i + 1), r.gflops, None, i))
                    .collect();
                let flops = FlopsReport::Ada3d {
                    gflops_per_clip: runs.iter().map(|r| r.gflops).collect(),
                    gflops_full_clip: net.flops(t, &vec![true; k])?.gflops(),
                };
                let raw = RawOutput::Ada3d {
                    policies: policies.clone(),
                    clips: runs,
                };
                (traces, video, raw, flops, parts)
            }
            _ => {
                return Err(PipelineError::Model(candle_core::Error::Msg(
                    "the analysis was started with another model".into(),
                )))
            }
        };
        let trace = DecisionTrace {
            version: TRACE_VERSION,
            arch: model.arch().to_string(),
            video: input.video.clone(),
            clips,
            video_prediction,
            class_names: model.config.class_names(),
            input: input.geometry,
        };
        let largest_gflops = self.largest_gflops(model, &breakdown)?;
        Ok(AnalysisRun {
            inspection: Inspection { trace, raw, flops },
            knobs: *knobs,
            breakdown,
            largest_gflops,
        })
    }

    /// Every frame kept, every stage 3D and every cube of every clip (counted, not run).
    fn largest_gflops(
        &self,
        model: &LoadedModel,
        breakdown: &[FlopsPart],
    ) -> Result<f64, PipelineError> {
        Ok(match (&model.network, &self.cache) {
            (Network::Ada3dFocus(net), Cache::Focus(glances)) => {
                let mut total = 0;
                for cache in glances {
                    let all = net.flops_breakdown(&net.plan(cache, 0.0, 0.0))?;
                    total += all.cumulative().last().copied().unwrap_or(0);
                }
                total as f64 / 1e9
            }
            (Network::Ada3d(net), Cache::Clips { policies, .. }) => {
                let k = net.backbone().spec().adaptive_stages().len();
                let clip = net.flops(self.input.clip_len, &vec![true; k])?.gflops();
                clip * policies.len() as f64
            }
            // Uni-AdaFocus: the breakdown lists every patch, whatever the exit.
            _ => breakdown.iter().map(|p| p.gflops).sum(),
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

/// Mark where every clip of `trace` stops under `thresholds` (η_t for entropy, τ_t for
/// confidence; `None` never exits at that step; the last step always does).
pub fn apply_exit(
    trace: &mut DecisionTrace,
    criterion: Criterion,
    thresholds: &[Option<f64>],
    budget: Option<f64>,
) {
    for clip in &mut trace.clips {
        if clip.steps.is_empty() {
            clip.exit = None;
            continue;
        }
        let exit_step = clip.exit_step(criterion, thresholds);
        clip.exit = Some(ExitDecision {
            criterion,
            thresholds: thresholds.to_vec(),
            exit_step,
            gflops: clip.steps[exit_step].cumulative_gflops,
            budget,
        });
    }
}
