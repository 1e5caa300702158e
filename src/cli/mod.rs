//! Headless subcommands: thin wrappers that parse arguments and print; the work is in the library.

pub mod batch_cmd;
pub mod bench;
pub mod bench_model;
pub mod bench_model3d;
pub mod bench_video;
pub mod budget_cmd;
pub mod calibrate_cmd;
pub mod eval_cmd;
pub mod figure;
pub mod frames;
pub mod inspect;
pub mod inspect_3d;
pub mod probe;
pub mod run_args;
pub mod synth_cmd;
pub mod train_cmd;
