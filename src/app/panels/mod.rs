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

/// The colour of cube / step `order` (1-based), shared by the lanes, the viewer and the 3D view
/// (and the figures: one palette, in `decision::trace`).
pub fn step_colour(order: usize) -> egui::Color32 {
    let [r, g, b] = crate::decision::trace::step_rgb(order);
    egui::Color32::from_rgb(r, g, b)
}
