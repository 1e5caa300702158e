//! The zip container of PyTorch's checkpoints (`torch.save` since 1.6), read by a small
//! bounds-checked reader: torch stores entries uncompressed, so only the central directory is
//! needed; CRC-32 is checked. It handles what `torch.save` writes — stored entries, zip64 end
//! records, data descriptors — and bounds-checks every offset; errors are messages. (candle's `PthTensors`, through the `zip` crate version this
//! project resolves, rejects the zip64 end records current torch always writes.)

use std::collections::HashMap;

pub(crate) struct Archive<'a> {
    bytes: &'a [u8],
    entries: HashMap<String, Entry>,
    order: Vec<String>,
}

struct Entry {
    method: u16,
    crc: u32,
    size: u64,
    local_offset: u64,
}

fn slice(b: &[u8], at: u64, len: u64) -> Result<&[u8], String> {
    let start = usize::try_from(at).map_err(|_| "offset too large".to_string())?;
    let len = usize::try_from(len).map_err(|_| "length too large".to_string())?;
    start
        .checked_add(len)
        .filter(|&end| end <= b.len())
        .map(|end| &b[start..end])
        .ok_or_else(|| format!("{len} bytes at offset {start} lie past the end of the file"))
}
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl<'a> Archive<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        // End of central directory: 22 bytes + comment (≤ 64 KiB), searched backwards.
        if bytes.len() < 22 {
            return Err("too short for a zip archive".into());
        }
        let lowest = bytes.len().saturating_sub(22 + 0xffff);
        let eocd = (lowest..=bytes.len() - 22)
            .rev()
            .find(|&i| bytes[i..i + 4] == *b"PK\x05\x06")
            .ok_or("no end-of-central-directory record (truncated file?)")?;
        let e = &bytes[eocd..eocd + 22];
        let mut count = u16_at(e, 10) as u64;
        let mut cd_size = u32_at(e, 12) as u64;
        let mut cd_offset = u32_at(e, 16) as u64;
        // zip64 locator right before the EOCD: authoritative when present.
        if eocd >= 20 && bytes[eocd - 20..eocd - 16] == *b"PK\x06\x07" {
            let rec = u64_at(bytes, eocd - 20 + 8);
            let r = slice(bytes, rec, 56)?;
            if r[..4] != *b"PK\x06\x06" {
                return Err("bad zip64 end-of-central-directory record".into());
            }
            count = u64_at(r, 32);
            cd_size = u64_at(r, 40);
            cd_offset = u64_at(r, 48);
        }
        let cd = slice(bytes, cd_offset, cd_size)?;
        let mut entries = HashMap::new();
        let mut order = Vec::new();
        let mut at = 0usize;
        for _ in 0..count {
            if at + 46 > cd.len() || cd[at..at + 4] != *b"PK\x01\x02" {
                return Err("bad central directory entry".into());
            }
            let h = &cd[at..at + 46];
            let method = u16_at(h, 10);
            let crc = u32_at(h, 16);
            let mut size = u32_at(h, 20) as u64; // compressed size
            let name_len = u16_at(h, 28) as usize;
            let extra_len = u16_at(h, 30) as usize;
            let comment_len = u16_at(h, 32) as usize;
            let mut local_offset = u32_at(h, 42) as u64;
            let end = at + 46 + name_len + extra_len + comment_len;
            if end > cd.len() {
                return Err("central directory entry runs past its end".into());
            }
            let name = String::from_utf8_lossy(&cd[at + 46..at + 46 + name_len]).into_owned();
            // zip64 extra field: 64-bit values for the 32-bit fields that are all ones.
            let mut extra = &cd[at + 46 + name_len..at + 46 + name_len + extra_len];
            while extra.len() >= 4 {
                let id = u16_at(extra, 0);
                let len = (u16_at(extra, 2) as usize).min(extra.len() - 4);
                if id == 1 {
                    let mut f = &extra[4..4 + len];
                    let mut next = || {
                        if f.len() >= 8 {
                            let v = u64_at(f, 0);
                            f = &f[8..];
                            Some(v)
                        } else {
                            None
                        }
                    };
                    let uncompressed_all_ones = u32_at(h, 24) == u32::MAX;
                    if uncompressed_all_ones {
                        next();
                    }
                    if size == u32::MAX as u64 {
                        size = next().ok_or("short zip64 extra field")?;
                    }
                    if local_offset == u32::MAX as u64 {
                        local_offset = next().ok_or("short zip64 extra field")?;
                    }
                }
                extra = &extra[4 + len..];
            }
            order.push(name.clone());
            entries.insert(
                name,
                Entry {
                    method,
                    crc,
                    size,
                    local_offset,
                },
            );
            at = end;
        }
        Ok(Self {
            bytes,
            entries,
            order,
        })
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// The bytes of a stored entry, CRC-checked.
    pub(crate) fn read(&self, name: &str) -> Result<&'a [u8], String> {
        let e = self
            .entries
            .get(name)
            .ok_or_else(|| format!("no entry '{name}'"))?;
        if e.method != 0 {
            return Err(format!(
                "entry '{name}' is compressed (method {}); torch.save stores entries",
                e.method
            ));
        }
        let h = slice(self.bytes, e.local_offset, 30)?;
        if h[..4] != *b"PK\x03\x04" {
            return Err(format!("bad local header for '{name}'"));
        }
        let skip = 30 + u16_at(h, 26) as u64 + u16_at(h, 28) as u64;
        let data = slice(self.bytes, e.local_offset + skip, e.size)?;
        if crc32(data) != e.crc {
            return Err(format!("CRC mismatch in '{name}' (damaged file)"));
        }
        Ok(data)
    }
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *v = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
