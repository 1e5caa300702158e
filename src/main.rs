//! The `adalens` binary: the command line of `adalens::cli` with mimalloc as its allocator.

use std::process::ExitCode;

/// Tensors of tens of MB are allocated and freed on every layer; mimalloc reuses them where
/// glibc returns them to the OS and pays page faults on the next forward pass.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// For the long headless runs (`train`, `eval`): mimalloc still hands freed pages back to the OS
/// after 10 ms, and every training step then pays for zeroing them again (28 % of a stage-1
/// epoch's time in `perf`, in the kernel's `clear_page`). Keeping them makes an epoch 28 %
/// faster (65 → 47 s on 640 videos) for a peak 0.6 GB higher; the window keeps the default.
fn keep_freed_memory() {
    extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    /// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (v2 and v3); −1: never purge.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    // SAFETY: a plain setter of the allocator that `GLOBAL` links in; options may change at
    // any time and take effect on the next purge.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    ExitCode::from(adalens::cli::main(std::env::args_os(), &keep_freed_memory))
}
