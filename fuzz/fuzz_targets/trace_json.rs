//! Decision traces (`adalens inspect --json`, the window's saved traces) read from JSON text.
#![no_main]

use adalens::DecisionTrace;
mod alloc_guard;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = DecisionTrace::from_json(text);
    }
});
