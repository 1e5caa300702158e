//! PyTorch zip checkpoints: the zip reader, the restricted unpickler, the allow-list and the
//! tensor views. Inputs that are not zips are wrapped into one (`archive/data.pkl` plus one
//! storage), so the pickle parser is reached on every run, not only when a mutation keeps the
//! container valid.
#![no_main]

use std::path::Path;

use adalens::model::checkpoint::StateDict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pth");
    let _ = StateDict::from_bytes(path, data);
    if !data.starts_with(b"PK") {
        let storage = [0u8; 64];
        let zip = adalens_fuzz_zip(&[("archive/data.pkl", data), ("archive/data/0", &storage)]);
        let _ = StateDict::from_bytes(path, &zip);
    }
});

/// A stored zip of `entries` (CRC-32 included, so the reader gets past its checks).
fn adalens_fuzz_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let fields = |central: bool| {
            let mut h = Vec::new();
            if central {
                h.extend_from_slice(&20u16.to_le_bytes());
            }
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&[0; 6]); // flags, method (stored), time
            h.extend_from_slice(&[0; 2]); // date
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            if central {
                h.extend_from_slice(&[0; 10]);
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend_from_slice(b"PK\x03\x04");
        out.extend(fields(false));
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend(fields(true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
