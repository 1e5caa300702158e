//! Calibration sets (`.adlcal`) read from bytes. Every input is tried as it is, and again with
//! the magic, the version and the trailing FNV-1a checksum made right, so mutations reach the
//! body's parser instead of all stopping at the checksum.
#![no_main]

use adalens::decision::calibration::{FORMAT_VERSION, MAGIC};
use adalens::CalibrationSet;
mod alloc_guard;

use libfuzzer_sys::fuzz_target;

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fuzz_target!(|data: &[u8]| {
    let _ = CalibrationSet::from_bytes(data);
    let head = MAGIC.len() + 4;
    if data.len() < head + 8 {
        return;
    }
    let mut b = data.to_vec();
    b[..MAGIC.len()].copy_from_slice(MAGIC);
    b[MAGIC.len()..head].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let n = b.len() - 8;
    let sum = fnv1a64(&b[..n]);
    b[n..].copy_from_slice(&sum.to_le_bytes());
    let _ = CalibrationSet::from_bytes(&b);
});
