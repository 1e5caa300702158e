//! One panel per file, each an `impl AdalensApp { fn *_ui(&mut self, ui) }` block.

mod clips;
mod compare_lanes;
mod compare_side;
mod cube_view;
mod dataset_lanes;
mod dataset_side;
mod dataset_table;
mod help;
mod lanes;
mod logged_lanes;
mod side;
mod status;
mod timeline;
mod top_bar;
mod viewer;
mod what_if;

impl crate::app::AdalensApp {
    /// A panel's frame (`side_top_panel` or `central_panel`), without its fill where the
    /// window is cleared to that colour anyway: on a software rasteriser (llvmpipe: a VM, a
    /// remote X session, a laptop without a driver) the panels' fills were half the pixels
    /// shaded every frame, each a full shader pass where the clear is a memset.
    pub(crate) fn panel_frame(&self, frame: egui::Frame) -> egui::Frame {
        if self.cleared_to_panel_fill {
            frame.fill(egui::Color32::TRANSPARENT)
        } else {
            frame
        }
    }
}

/// The colour of cube / step `order` (1-based), shared by the lanes, the viewer and the 3D view
/// (and the figures: one palette, in `decision::trace`).
pub fn step_colour(order: usize) -> egui::Color32 {
    let [r, g, b] = crate::decision::trace::step_rgb(order);
    egui::Color32::from_rgb(r, g, b)
}
