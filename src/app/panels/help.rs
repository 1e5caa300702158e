use crate::app::AdalensApp;

/// Every shortcut the window knows, as the help overlay lists them.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Space", "play / pause at the video's frame rate"),
    ("Left / Right", "one frame back / forward"),
    (
        "Shift + Left / Right",
        "previous / next decision point (sampled frame, cube)",
    ),
    ("Home / End", "first / last frame"),
    ("Click or drag on the timeline", "move the playhead"),
    ("Ctrl + scroll on the timeline", "zoom around the pointer"),
    ("Scroll on the timeline", "pan"),
    ("Double-click on the timeline", "show the whole video"),
    ("Click a cube or a step", "jump to its frame"),
    ("Drag / scroll in the 3D view", "orbit / zoom"),
    ("Ctrl + O", "open a video"),
    ("Ctrl + Shift + O", "open a checkpoint"),
    (
        "Dataset view: click a header",
        "sort by it (again: the other way)",
    ),
    (
        "Dataset view: click / Ctrl+click / Shift+click",
        "select a row / more / a range",
    ),
    (
        "Dataset view: double-click a row",
        "open it in the inspector at its exit",
    ),
    ("Drop a folder on the window", "open it as a batch run"),
    ("F1 or ?", "this help; Esc closes it"),
];

impl AdalensApp {
    pub(crate) fn help_ui(&mut self, ui: &mut egui::Ui) {
        let mut open = self.show_help;
        egui::Window::new("Shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ui.ctx(), |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.strong(*keys);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        self.show_help = open;
    }
}
