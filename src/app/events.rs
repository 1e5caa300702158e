//! Results from the worker threads, applied once per frame.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::jobs::JobEvent;
use super::model_worker::ModelRequest;
use super::{to_color_image, AdalensApp, Decisions, ErrorNote, Loaded, ModelView, Progress, Thumb};

impl AdalensApp {
    pub(crate) fn handle_events(&mut self, ctx: &egui::Context) {
        let events: Vec<JobEvent> = self.jobs.events.try_iter().collect();
        // Of the runs waiting, only the newest is drawn: an older partial one is superseded.
        let newest_run = events
            .iter()
            .rposition(|e| matches!(e, JobEvent::Analysed { .. }));
        for (i, e) in events.into_iter().enumerate() {
            if matches!(e, JobEvent::Analysed { partial: true, .. }) && Some(i) < newest_run {
                continue;
            }
            match e {
                JobEvent::Progress { label, done, total } => {
                    self.progress = Some(Progress { label, done, total })
                }
                // Only the latest open counts: an older one finishing late is dropped.
                JobEvent::VideoOpened {
                    video,
                    generation,
                    strip,
                } if generation == self.issued => {
                    // Only now is the previous video replaced: a video that fails to open
                    // leaves the one before it loaded.
                    self.generation = generation;
                    self.state.remember_video(video.path().to_path_buf());
                    self.cache.clear();
                    self.requested_frame = None;
                    self.decisions = None;
                    self.resumable = false;
                    self.playing = None;
                    self.time_view = None;
                    self.loaded = Some(Loaded {
                        video,
                        current: 0,
                        thumbs_requested: strip.iter().copied().collect(),
                        thumbs: BTreeMap::new(),
                        strip,
                        frame_texture: None,
                        substituted_thumbnails: 0,
                        atlas: None,
                        failed_frame: None,
                    });
                    if !self.draw_stored_trace() {
                        // B of another video (a stored row's, or edits) does not carry over.
                        if self
                            .compare
                            .as_ref()
                            .is_some_and(|c| c.stored.is_some() || c.spec.what_if)
                        {
                            self.close_compare();
                        }
                        self.analyse();
                    }
                    self.start_compare_run();
                }
                JobEvent::VideoOpened { .. } => {}
                JobEvent::Thumbnails {
                    generation,
                    frames,
                    substituted,
                } if generation == self.generation => {
                    if let Some(l) = &mut self.loaded {
                        l.substituted_thumbnails = l.substituted_thumbnails.max(substituted);
                        for (n, img) in frames {
                            l.thumbs_requested.remove(&n);
                            let texture = ctx.load_texture(
                                format!("thumb{n}"),
                                to_color_image(&img),
                                egui::TextureOptions::LINEAR,
                            );
                            l.thumbs.insert(
                                n,
                                Thumb {
                                    texture,
                                    image: Arc::new(img),
                                },
                            );
                        }
                    }
                }
                JobEvent::Frame {
                    generation,
                    number,
                    image,
                } if generation == self.generation => {
                    self.cache.insert(number, image);
                    if self.requested_frame.is_some_and(|(_, last)| last == number) {
                        self.requested_frame = None;
                    }
                }
                JobEvent::FrameFailed {
                    generation,
                    number,
                    error,
                } if generation == self.generation => {
                    if let Some(l) = &mut self.loaded {
                        l.failed_frame = Some(number);
                    }
                    self.requested_frame = None;
                    self.errors.push(ErrorNote {
                        what: format!("Decoding frame {number}"),
                        detail: error,
                    });
                }
                JobEvent::Thumbnails { .. }
                | JobEvent::Frame { .. }
                | JobEvent::FrameFailed { .. } => {}
                JobEvent::CheckpointLoaded { info, calibration } => {
                    self.state.remember_checkpoint(info.path.clone());
                    let (budget, calibration_problem) = match calibration {
                        Ok(b) => (b, None),
                        Err(why) => (None, Some(why)),
                    };
                    if let Some(why) = &info.non_finite {
                        self.errors.push(ErrorNote {
                            what: "The checkpoint's weights are damaged".into(),
                            detail: why.clone(),
                        });
                    }
                    if let Some(why) = &calibration_problem {
                        self.errors.push(ErrorNote {
                            what: "The calibration set beside the checkpoint cannot be used".into(),
                            detail: why.clone(),
                        });
                    }
                    self.model = Some(ModelView {
                        info: *info,
                        budget,
                        calibration_problem,
                    });
                    // A stored trace stays drawn (its session is prepared for re-runs).
                    if !self.decisions.as_ref().is_some_and(|d| d.stored) {
                        self.decisions = None;
                    }
                    self.analyse();
                    self.remark();
                    // B without a checkpoint of its own runs A's; B with its own starts once A's
                    // is in (its τ defaults and the video wait for it).
                    if self.compare.as_ref().is_some_and(|c| {
                        c.spec.checkpoint.is_none() || (c.run.is_none() && c.cancel.is_none())
                    }) {
                        self.start_compare_run();
                    }
                }
                JobEvent::Analysed {
                    generation,
                    run,
                    partial,
                } if generation == self.generation => {
                    // Sliders moved while this ran: run again with what they say now.
                    if !partial && run.knobs != self.knobs() {
                        self.jobs.model(ModelRequest::Rerun {
                            knobs: self.knobs(),
                            generation,
                        });
                    }
                    if !partial {
                        self.resumable = false;
                    }
                    self.note_run_arrived(!partial);
                    let budget = self.budget_choice();
                    let d = Decisions::new(generation, *run, budget, self.state.sliders.criterion);
                    // What-if edits were run on A's decisions of other knobs: run them again.
                    let knobs_moved = self.decisions.as_ref().is_some_and(|o| o.knobs != d.knobs);
                    self.decisions = Some(d);
                    if !partial && knobs_moved {
                        self.rerun_what_if();
                    }
                }
                JobEvent::Analysed { .. } => {}
                JobEvent::Failed { what, error } => {
                    self.progress = None;
                    self.errors.push(ErrorNote {
                        what,
                        detail: error,
                    });
                }
                JobEvent::RunOpened { table } => self.run_opened(table),
                JobEvent::LoggedBudget { path, budget } => self.logged_budget(path, budget),
                JobEvent::LoggedLanes { dir, lanes, rows } => self.logged_lanes(dir, lanes, rows),
                JobEvent::TraceOpened {
                    path,
                    video,
                    trace,
                    budget,
                } => self.trace_opened(path, video, *trace, budget),
                JobEvent::CompareRunOpened { table, prep } => {
                    for w in &table.warnings {
                        self.errors.push(ErrorNote {
                            what: format!("Part of the run {} cannot be used", table.dir.display()),
                            detail: w.clone(),
                        });
                    }
                    match &mut self.dataset {
                        Some(d) => d.set_other(table, prep.map(|p| *p)),
                        None => self.errors.push(ErrorNote {
                            what: "Comparing two runs".into(),
                            detail: "Open a batch run first; then compare it with another".into(),
                        }),
                    }
                }
                JobEvent::BatchRow { dir, position, row } => {
                    if let Some(d) = &mut self.dataset {
                        if d.table.dir == dir {
                            d.replace_row(position, *row);
                        }
                    }
                }
                JobEvent::RowThumb {
                    run,
                    row,
                    frame,
                    image,
                } => self.row_thumb_arrived(ctx, run, row, frame, image),
                JobEvent::FigureWritten { path } => {
                    self.notice = Some(format!("Figure written to {}", path.display()));
                }
                JobEvent::CompareRan {
                    generation,
                    run,
                    partial: true,
                    ..
                } => self.compare_partial(generation, *run),
                JobEvent::CompareRan {
                    generation,
                    run,
                    info,
                    calibration,
                    partial: false,
                } => self.compare_ran(generation, *run, info, calibration),
                JobEvent::CompareFailed { generation, error } => {
                    self.compare_failed(generation, error)
                }
                JobEvent::WhatIfRan {
                    generation,
                    clip,
                    edits,
                    result,
                    ms,
                } => self.what_if_ran(generation, clip, edits, result, ms),
                JobEvent::Cancelled => {
                    self.progress = None;
                    // The model stopped short: what it finished stays drawn, and Resume goes on.
                    self.resumable = self.loaded.is_some()
                        && self.model.is_some()
                        && self
                            .decisions
                            .as_ref()
                            .is_none_or(|d| !d.pending.is_empty());
                    // A cancelled thumbnail job may have taken some of these with it.
                    if let Some(l) = &mut self.loaded {
                        l.thumbs_requested.clear();
                    }
                }
            }
        }
        if !self.jobs.busy() {
            self.progress = None;
        }
    }

    /// Decode the thumbnails of `frames` not decoded or asked for yet (in a worker thread).
    /// Only what is drawn is asked for: the clip at the playhead (the 3D view's atlas) and the
    /// clips the timeline shows in detail, so a long video never decodes thousands at once.
    pub(crate) fn want_thumbnails(&mut self, frames: impl IntoIterator<Item = usize>) {
        let Some(l) = &mut self.loaded else { return };
        let mut missing: Vec<usize> = frames
            .into_iter()
            .filter(|n| !l.thumbs.contains_key(n) && !l.thumbs_requested.contains(n))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            l.thumbs_requested.extend(&missing);
            self.jobs.thumbnails(&l.video, missing, self.generation);
        }
    }

    /// The sampled frames of the clip at the playhead, once it has run.
    pub(crate) fn frames_at_playhead(&self) -> Vec<usize> {
        let (Some(d), Some(l)) = (&self.decisions, &self.loaded) else {
            return Vec::new();
        };
        let at = d.clip_at(l.current);
        if d.is_pending(at) {
            return Vec::new();
        }
        d.trace
            .clips
            .get(at)
            .map(|c| c.frames.iter().map(|f| f.frame).collect())
            .unwrap_or_default()
    }

    /// Run the model on the open video when both are there (only make its session ready when
    /// a stored trace is drawn).
    pub(crate) fn analyse(&mut self) {
        if self.decisions.as_ref().is_some_and(|d| d.stored) {
            return self.prepare_session();
        }
        if let (Some(l), Some(_)) = (&self.loaded, &self.model) {
            self.jobs.model(ModelRequest::Analyse {
                video: l.video.clone(),
                knobs: self.knobs(),
                generation: self.generation,
            });
        }
    }
}
