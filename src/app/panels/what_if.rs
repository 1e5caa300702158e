//! The side panel's what-if section: the clip under the playhead's frames (kept or discarded)
//! and stages (3D or 2D) as checkboxes, edited by hand; with the cubes dragged on the frame,
//! each edit runs the clip again and B (the edited run) is drawn against A (the model's own).

use crate::app::command::Command;
use crate::app::AdalensApp;
use crate::model::arch::Arch;
use crate::runner::Edit;

impl AdalensApp {
    pub(crate) fn what_if_ui(&mut self, ui: &mut egui::Ui) {
        let focus = self
            .model
            .as_ref()
            .is_some_and(|m| m.info.arch == Arch::Ada3dFocus);
        let (Some(a), true) = (&self.decisions, focus) else {
            return;
        };
        let current = self.loaded.as_ref().map_or(0, |l| l.current);
        let at = a.clip_at(current);
        // The clip as edited so far (B's), else the model's own.
        let edited = self
            .compare
            .as_ref()
            .filter(|c| c.spec.what_if)
            .and_then(|c| c.edits.get(&at));
        let shown = edited
            .and_then(|e| e.trace.as_ref())
            .or(a.trace.clips.get(at));
        let Some(clip) = shown else { return };
        let any = self
            .compare
            .as_ref()
            .is_some_and(|c| c.spec.what_if && !c.edits.is_empty());
        let (mut edit, mut reset) = (None, false);
        egui::CollapsingHeader::new(format!("What-if: edit clip {}'s decisions", at + 1))
            .id_salt("what-if")
            .default_open(edited.is_some())
            .show(ui, |ui| {
                ui.weak(
                    "Drag a cube on the frame to move it, or flip a frame or a stage: the clip \
                     runs again and B (your edits) is drawn against A (the model's).",
                );
                ui.label("Frames kept");
                ui.horizontal_wrapped(|ui| {
                    for (i, f) in clip.frames.iter().enumerate() {
                        let mut kept = f.kept;
                        if ui.checkbox(&mut kept, format!("#{}", f.frame)).changed() {
                            edit = Some(Edit::ToggleFrame { index: i });
                        }
                    }
                });
                if !clip.stages.is_empty() {
                    ui.label("Stages run 3D");
                    ui.horizontal_wrapped(|ui| {
                        for (i, s) in clip.stages.iter().enumerate() {
                            let mut on = s.ran_3d;
                            if ui.checkbox(&mut on, format!("stage {}", i + 1)).changed() {
                                edit = Some(Edit::ToggleStage { index: i });
                            }
                        }
                    });
                }
                if let Some(e) = edited {
                    let ran = match (e.ms, e.ran_edits.len() == e.edits.len()) {
                        (Some(ms), true) => format!("ran in {ms:.0} ms"),
                        _ => "running…".into(),
                    };
                    ui.label(format!("{} edits · {ran}", e.edits.len()));
                    if let Some(p) = &e.problem {
                        ui.colored_label(ui.visuals().error_fg_color, p);
                    }
                }
                reset = ui
                    .add_enabled(any, egui::Button::new("Reset all edits"))
                    .clicked();
            });
        if reset {
            self.push(Command::CloseCompare);
        }
        if let Some(edit) = edit {
            self.push(Command::WhatIf { clip: at, edit });
        }
    }
}
