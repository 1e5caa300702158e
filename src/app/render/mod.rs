//! Custom wgpu views inside the egui window; their WGSL lives in `shaders/`.

pub mod cube_view;
