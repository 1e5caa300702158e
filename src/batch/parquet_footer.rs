//! A check of a Parquet file's footer before the `parquet` crate parses it: the footer is a
//! Thrift compact-protocol `FileMetaData`, and a damaged one can keep the crate's parser busy
//! for seconds on a few kilobytes (the fuzzer's third finding, docs/RELIABILITY.md). This
//! walks the footer once without building anything: every length and element count must fit
//! in the bytes left (each element takes at least one byte), nesting is bounded, and every
//! type code must be one the protocol has. What passes costs the crate's parser time in
//! proportion to its size.

/// Deepest nesting of structs, lists and maps (the Parquet schema needs a handful).
const MAX_DEPTH: usize = 64;

/// Why a footer is refused.
pub fn check(footer: &[u8]) -> Result<(), String> {
    let mut w = Walker { b: footer, at: 0 };
    w.structure(0)?;
    Ok(())
}

struct Walker<'a> {
    b: &'a [u8],
    at: usize,
}

impl Walker<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let v = *self
            .b
            .get(self.at)
            .ok_or_else(|| format!("the footer ends inside a value (byte {})", self.at))?;
        self.at += 1;
        Ok(v)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift.min(63);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("a varint longer than 10 bytes at byte {}", self.at))
    }

    fn left(&self) -> u64 {
        (self.b.len() - self.at) as u64
    }

    /// `n` things of at least one byte each must fit in what is left.
    fn fits(&self, n: u64, what: &str) -> Result<(), String> {
        if n > self.left() {
            return Err(format!(
                "the footer's {what} claims {n} elements with {} bytes left",
                self.left()
            ));
        }
        Ok(())
    }

    fn structure(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("the footer nests deeper than {MAX_DEPTH}"));
        }
        loop {
            let head = self.byte()?;
            if head == 0 {
                return Ok(());
            }
            if head >> 4 == 0 {
                self.varint()?; // a field id written in full
            }
            match head & 0x0f {
                // Booleans carry their value in the type code.
                1 | 2 => {}
                t => self.value(t, depth + 1)?,
            }
        }
    }

    fn value(&mut self, t: u8, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("the footer nests deeper than {MAX_DEPTH}"));
        }
        match t {
            1..=3 => {
                self.byte()?;
            }
            4..=6 => {
                self.varint()?;
            }
            7 => {
                self.fits(8, "double")?;
                self.at += 8;
            }
            8 => {
                let n = self.varint()?;
                self.fits(n, "string")?;
                self.at += n as usize;
            }
            9 | 10 => {
                let head = self.byte()?;
                let n = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.fits(n, "list")?;
                for _ in 0..n {
                    self.value(head & 0x0f, depth + 1)?;
                }
            }
            11 => {
                let n = self.varint()?;
                if n > 0 {
                    let kinds = self.byte()?;
                    self.fits(n.saturating_mul(2), "map")?;
                    for _ in 0..n {
                        self.value(kinds >> 4, depth + 1)?;
                        self.value(kinds & 0x0f, depth + 1)?;
                    }
                }
            }
            12 => self.structure(depth + 1)?,
            other => return Err(format!("the footer has a value of unknown type {other}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_footer_is_walked_within_its_bytes() {
        // struct { 1: i32 7, 2: list<i32> [1, 2], 3: string "ab" } STOP
        let ok = [
            0x15, 0x0e, 0x19, 0x25, 0x02, 0x04, 0x18, 0x02, b'a', b'b', 0x00,
        ];
        check(&ok).unwrap();
        // A list of 2^21 elements in a few bytes.
        let huge = [0x19, 0xf5, 0x80, 0x80, 0x80, 0x01, 0x00];
        assert!(check(&huge)
            .unwrap_err()
            .contains("claims 2097152 elements"));
        // A string longer than what is left.
        assert!(check(&[0x18, 0x7f, b'a', 0x00])
            .unwrap_err()
            .contains("string"));
        // Structs nested past the bound.
        let deep: Vec<u8> = std::iter::repeat_n(0x1c, 200).collect();
        assert!(check(&deep).unwrap_err().contains("nests deeper"));
        // A type code the protocol does not have; a footer that stops inside a value.
        assert!(check(&[0x1d, 0x00])
            .unwrap_err()
            .contains("unknown type 13"));
        assert!(check(&[0x15]).unwrap_err().contains("ends inside"));
    }
}
