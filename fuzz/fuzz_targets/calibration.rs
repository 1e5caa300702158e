//! Calibration sets (`.adlcal`) read from bytes.
#![no_main]

use adalens::CalibrationSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = CalibrationSet::from_bytes(data);
});
