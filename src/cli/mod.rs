//! The command line (`adalens …`): thin wrappers that parse arguments and print; the work is in
//! the rest of the library. Built with the `figure` feature; the window with `gui`.

pub(crate) mod batch_cmd;
pub(crate) mod bench;
pub(crate) mod bench_clips;
pub(crate) mod bench_dataset;
pub(crate) mod bench_model;
pub(crate) mod bench_model3d;
pub(crate) mod bench_video;
pub(crate) mod bench_what_if;
pub mod budget_cmd;
pub(crate) mod calibrate_cmd;
pub(crate) mod diff_cmd;
mod entry;
pub(crate) mod eval_cmd;
pub(crate) mod figure;
pub(crate) mod frames;
pub(crate) mod import_cmd;
pub(crate) mod inspect;
pub(crate) mod inspect_3d;
pub(crate) mod print;
pub(crate) mod probe;
pub(crate) mod query_cmd;
pub(crate) mod run_args;
pub(crate) mod side_b;
pub(crate) mod synth_cmd;
pub(crate) mod train_cmd;

pub use entry::main;

/// The line naming a video a command left out: `skipped WHAT PATH: why`, the path said once
/// (video errors already start with it).
pub(crate) fn skipped_line(what: &str, path: impl AsRef<std::path::Path>, why: &str) -> String {
    let p = path.as_ref().display().to_string();
    match why
        .strip_prefix(&p)
        .and_then(|rest| rest.strip_prefix(": "))
    {
        Some(rest) => format!("skipped {what} {p}: {rest}"),
        None => format!("skipped {what} {p}: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::skipped_line;
    use std::path::Path;

    #[test]
    fn a_skipped_video_is_named_once() {
        let p = Path::new("/v/a b.mkv");
        assert_eq!(
            skipped_line(
                "training video",
                p,
                "/v/a b.mkv: not a media file (End of file)"
            ),
            "skipped training video /v/a b.mkv: not a media file (End of file)"
        );
        assert_eq!(
            skipped_line("video", p, "label \"x\" is not a class"),
            "skipped video /v/a b.mkv: label \"x\" is not a class"
        );
    }
}
