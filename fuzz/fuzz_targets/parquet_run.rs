//! A batch run's Parquet files (`steps.parquet`, `summary.parquet`) read from bytes, as the
//! dataset view reads them. The reader checks what it can before the `parquet` crate decodes
//! (sizes, counts, every column chunk inside the file) and turns the crate's own panics into
//! the file's error; the hook below lets those caught panics pass, so what the fuzzer reports is
//! what would reach a user: an abort, a hang or a memory blow-up. (Run with the default hook
//! to list the crate's panics themselves.)
#![no_main]

mod alloc_guard;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = adalens::batch::parquet::columns_from_bytes(data.to_vec());
});
