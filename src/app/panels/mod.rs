//! One panel per file, each an `impl AdalensApp { fn *_ui(&mut self, ui) }` block.

mod status;
mod strip;
mod top_bar;
mod viewer;
