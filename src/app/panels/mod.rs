//! One panel per file, each an `impl AdalensApp { fn *_ui(&mut self, ui) }` block.

mod cube_view;
mod help;
mod lanes;
mod side;
mod status;
mod timeline;
mod top_bar;
mod viewer;

/// The colour of cube / step `order` (1-based), shared by the lanes, the viewer and the 3D view.
pub fn step_colour(order: usize) -> egui::Color32 {
    const PALETTE: [egui::Color32; 8] = [
        egui::Color32::from_rgb(66, 133, 244),
        egui::Color32::from_rgb(234, 67, 53),
        egui::Color32::from_rgb(52, 168, 83),
        egui::Color32::from_rgb(251, 188, 5),
        egui::Color32::from_rgb(171, 71, 188),
        egui::Color32::from_rgb(0, 172, 193),
        egui::Color32::from_rgb(255, 112, 67),
        egui::Color32::from_rgb(158, 157, 36),
    ];
    PALETTE[order.saturating_sub(1) % PALETTE.len()]
}
