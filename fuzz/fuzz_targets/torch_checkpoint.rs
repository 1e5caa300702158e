//! PyTorch zip checkpoints: the zip reader, the restricted unpickler, the allow-list and the
//! tensor views. Inputs that are not zips are wrapped into one (`archive/data.pkl` plus one
//! storage), so the pickle parser is reached on every run, not only when a mutation keeps the
//! container valid.
#![no_main]

use std::path::Path;

use adalens::model::checkpoint::StateDict;
mod alloc_guard;

use libfuzzer_sys::fuzz_target;

// The tests' stored-zip writer (CRC-32 included, so the reader gets past its checks).
#[path = "../../tests/support/stored_zip.rs"]
mod stored_zip;
use stored_zip::zip_with;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pth");
    let _ = StateDict::from_bytes(path, data);
    if !data.starts_with(b"PK") {
        let storage = [0u8; 64];
        let zip = zip_with(&[("archive/data.pkl", data, 0), ("archive/data/0", &storage, 0)]);
        let _ = StateDict::from_bytes(path, &zip);
    }
});
