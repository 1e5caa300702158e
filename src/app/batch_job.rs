//! *Run on a folder or list…*: `adalens batch`'s resumable run (the same files, so the CLI can
//! resume it and the other way round) on a worker thread, with progress and cancel; each video
//! that finishes is sent to the dataset view as its row.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::job_event::JobEvent;
use super::jobs::Jobs;
use crate::batch::run::{run_batch, BatchOptions, BatchSettings};
use crate::batch::table::{RunSettings, RunTable};
use crate::batch::Shard;
use crate::decision::Criterion;
use crate::model::config::Knobs;
use crate::model::device;
use crate::model::load::{ConfigOverrides, LoadedModel};

impl Jobs {
    /// Run `checkpoint` with `knobs` over the videos of `source` into `out`.
    pub fn run_batch(&mut self, source: PathBuf, out: PathBuf, checkpoint: PathBuf, knobs: Knobs) {
        let cancel = self.fresh_cancel();
        self.spawn_video_job(move |send| {
            let fail = |error: String| {
                send(JobEvent::Failed {
                    what: format!("Running the batch on {}", source.display()),
                    error,
                })
            };
            let entries = match crate::batch::entries(&source) {
                Ok(e) => e,
                Err(e) => return fail(e.to_string()),
            };
            send(JobEvent::Progress {
                label: "Loading the checkpoint for the batch".into(),
                done: 0,
                total: 1,
            });
            // Its own copy of the network: the window's model worker stays free.
            let choice = device::select(false);
            let model = match LoadedModel::open(
                &checkpoint,
                None,
                &ConfigOverrides::default(),
                &choice.device,
            ) {
                Ok(m) => m,
                Err(e) => return fail(e.to_string()),
            };
            let settings = BatchSettings {
                checkpoint: model.path.display().to_string(),
                arch: model.arch().to_string(),
                knobs,
                exit: None,
                exact_frames: false,
            };
            let table = RunTable::starting(
                &out,
                RunSettings {
                    checkpoint: model.path.clone(),
                    knobs: Some(knobs),
                    arch: settings.arch.clone(),
                    criterion: Criterion::Entropy,
                    budget: None,
                    traces: None,
                },
                model.config.class_names(),
                &entries,
            );
            send(JobEvent::RunOpened {
                table: Arc::new(table.clone()),
            });
            let table = parking_lot::Mutex::new(table);
            let (done, total) = (AtomicUsize::new(0), entries.len());
            let progress = |e: &crate::batch::Entry, _: &crate::batch::run::Outcome| {
                // Unsharded, a video's list index is its row.
                let row = {
                    let mut t = table.lock();
                    t.refresh_row(e.index, e);
                    t.rows.get(e.index).cloned()
                };
                if let Some(row) = row {
                    send(JobEvent::BatchRow {
                        dir: out.clone(),
                        position: e.index,
                        row: Box::new(row),
                    });
                }
                send(JobEvent::Progress {
                    label: "Running the batch".into(),
                    done: done.fetch_add(1, Ordering::Relaxed) + 1,
                    total,
                });
            };
            let opts = BatchOptions {
                out: &out,
                shard: Shard::WHOLE,
                jobs: 1,
                retry_failed: false,
            };
            match run_batch(&model, &entries, &settings, &opts, &progress, &cancel) {
                Ok(_) if cancel.load(Ordering::Relaxed) => send(JobEvent::Cancelled),
                Ok(_) => {}
                Err(e) => fail(e.to_string()),
            }
        });
    }
}
