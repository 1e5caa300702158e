//! A check of a Parquet file's footer before the `parquet` crate parses it: the footer is a
//! Thrift compact-protocol `FileMetaData`, and a damaged one can keep the crate's parser busy
//! for seconds on a few kilobytes (the fuzzer's third finding, docs/RELIABILITY.md). This
//! walks the footer once without building anything: every length and element count must fit
//! in the bytes left (each element takes at least one byte), nesting is bounded, and every
//! type code must be one the protocol has. What passes costs the crate's parser time in
//! proportion to its size. One field is a count the crate allocates from before it reads what is
//! counted: a schema element's `num_children` (`Vec::with_capacity`), so 2^31 children in a
//! 2 KB file asked for 16 GB (the fuzzer's fourth finding); it must not exceed the schema's
//! element count. Each page of a column chunk starts with a Thrift `PageHeader` whose
//! `uncompressed_page_size` the crate reserves before it decompresses (the fifth finding: 2 GB
//! for a 2 KB file); [`page_header`] reads the two sizes so the reader can bound them first.

/// Deepest nesting of structs, lists and maps (the Parquet schema needs a handful).
const MAX_DEPTH: usize = 64;

use super::parquet_declared::{declared, Declared, Element, Kind, BOOL_FALSE, BOOL_TRUE, STRUCT};

/// `SchemaElement.num_children` (field 5, an i32), from parquet.thrift.
const NUM_CHILDREN_FIELD: i64 = 5;

/// `PageHeader.uncompressed_page_size` and `compressed_page_size` (fields 2 and 3, i32).
const UNCOMPRESSED_PAGE_FIELD: i64 = 2;
const COMPRESSED_PAGE_FIELD: i64 = 3;

/// Why a footer is refused.
pub fn check(footer: &[u8]) -> Result<(), String> {
    let mut w = Walker::new(footer, "the footer");
    w.structure(0, Kind::FileMetaData)?;
    Ok(())
}

/// A page's sizes, as its header gives them, and the header's own length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    pub uncompressed: i64,
    pub compressed: i64,
    pub header_len: usize,
}

/// The `PageHeader` at the start of `b` (a column chunk's bytes from a page on), walked as the
/// footer is.
pub fn page_header(b: &[u8]) -> Result<PageSizes, String> {
    let mut w = Walker::new(b, "a page header");
    w.structure(0, Kind::PageHeader)?;
    match w.page {
        [Some(uncompressed), Some(compressed)] => Ok(PageSizes {
            uncompressed,
            compressed,
            header_len: w.at,
        }),
        _ => Err("a page header without its sizes".into()),
    }
}

struct Walker<'a> {
    b: &'a [u8],
    at: usize,
    /// A page header's uncompressed and compressed sizes, once read.
    page: [Option<i64>; 2],
    /// What is walked, for messages: "the footer", "a page header".
    what: &'static str,
}

impl<'a> Walker<'a> {
    fn new(b: &'a [u8], what: &'static str) -> Self {
        Walker {
            b,
            at: 0,
            page: [None; 2],
            what,
        }
    }

    fn byte(&mut self) -> Result<u8, String> {
        let v = *self
            .b
            .get(self.at)
            .ok_or_else(|| format!("{} ends inside a value (byte {})", self.what, self.at))?;
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
    fn fits(&self, n: u64, kind: &str) -> Result<(), String> {
        if n > self.left() {
            return Err(format!(
                "a {kind} in {} claims {n} elements with {} bytes left",
                self.what,
                self.left()
            ));
        }
        Ok(())
    }

    /// A struct of `kind`: each field the crate knows must carry its declared type code and
    /// is walked as declared; the others are walked by their code (the crate skips them so).
    fn structure(&mut self, depth: usize, kind: Kind) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("{} nests deeper than {MAX_DEPTH}", self.what));
        }
        let mut id = 0i64;
        loop {
            let head = self.byte()?;
            if head == 0 {
                return Ok(());
            }
            id = match head >> 4 {
                0 => zigzag(self.varint()?), // a field id written in full
                delta => id + i64::from(delta),
            };
            let t = head & 0x0f;
            if kind == Kind::Empty {
                return Err(format!("{} has a field in an empty {kind:?}", self.what));
            }
            let Some(decl) = declared(kind, id) else {
                // A boolean field carries its value in its type code: no bytes follow.
                if t != BOOL_TRUE && t != BOOL_FALSE {
                    self.value(t, depth + 1)?;
                }
                continue;
            };
            if let Declared::Unread(what) = decl {
                return Err(format!("{} has {what} (adalens writes none)", self.what));
            }
            if !decl.accepts(t) {
                return Err(format!(
                    "{} gives field {id} of a {kind:?} the type code {t}, not its declared {decl:?}",
                    self.what
                ));
            }
            match (kind, id, decl) {
                (Kind::SchemaElement(len), NUM_CHILDREN_FIELD, _) => {
                    let n = zigzag(self.varint()?);
                    if !(0..=len as i64).contains(&n) {
                        return Err(format!(
                            "a schema element of the footer claims {n} children in a schema of {len} elements"
                        ));
                    }
                }
                (Kind::PageHeader, UNCOMPRESSED_PAGE_FIELD | COMPRESSED_PAGE_FIELD, _) => {
                    let at = usize::from(id == COMPRESSED_PAGE_FIELD);
                    self.page[at] = Some(zigzag(self.varint()?));
                }
                (_, _, Declared::Bool) => {}
                (_, _, Declared::Struct(k)) => self.structure(depth + 1, k)?,
                (_, _, Declared::List(e)) => self.list(depth + 1, Some(e))?,
                _ => self.value(t, depth + 1)?,
            }
        }
    }

    /// A list or set: its header, then its elements; `declared`: what the crate reads them
    /// as (their code must agree).
    fn list(&mut self, depth: usize, declared: Option<Element>) -> Result<(), String> {
        let head = self.byte()?;
        let n = match head >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        let schema = declared == Some(Element::Schema);
        self.fits(n, if schema { "schema" } else { "list" })?;
        let code = head & 0x0f;
        self.not_bool(code)?;
        let element = match declared {
            None => None,
            Some(Element::Scalar(c)) => (code == c).then_some(None),
            Some(Element::Struct(k)) => (code == STRUCT).then_some(Some(k)),
            Some(Element::Schema) => (code == STRUCT).then_some(Some(Kind::SchemaElement(n))),
        };
        let element = match (declared, element) {
            (Some(d), None) => {
                return Err(format!(
                    "{} has a list of type code {code} where {d:?} is declared",
                    self.what
                ))
            }
            (_, e) => e.flatten(),
        };
        for _ in 0..n {
            match element {
                Some(k) => self.structure(depth + 1, k)?,
                None => self.value(code, depth + 1)?,
            }
        }
        Ok(())
    }

    /// Booleans as list or map elements take a byte each on the wire, but the crate skips them
    /// as taking none, so after such a list it would read other bytes than the walk did.
    /// adalens writes no such list.
    fn not_bool(&self, code: u8) -> Result<(), String> {
        if code == BOOL_TRUE || code == BOOL_FALSE {
            return Err(format!(
                "{} has a list or map of booleans (byte {})",
                self.what, self.at
            ));
        }
        Ok(())
    }

    fn value(&mut self, t: u8, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("{} nests deeper than {MAX_DEPTH}", self.what));
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
            9 | 10 => self.list(depth, None)?,
            11 => {
                let n = self.varint()?;
                if n > 0 {
                    let kinds = self.byte()?;
                    self.not_bool(kinds >> 4)?;
                    self.not_bool(kinds & 0x0f)?;
                    self.fits(n.saturating_mul(2), "map")?;
                    for _ in 0..n {
                        self.value(kinds >> 4, depth + 1)?;
                        self.value(kinds & 0x0f, depth + 1)?;
                    }
                }
            }
            12 => self.structure(depth + 1, Kind::Unknown)?,
            other => return Err(format!("{} has a value of unknown type {other}", self.what)),
        }
        Ok(())
    }
}

fn zigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_footer_is_walked_within_its_bytes() {
        // Fields FileMetaData does not declare, walked by their codes:
        // { 11: i32 7, 12: list<i32> [1, 2], 13: string "ab" } STOP
        let ok = [
            0xb5, 0x0e, 0x19, 0x25, 0x02, 0x04, 0x18, 0x02, b'a', b'b', 0x00,
        ];
        check(&ok).unwrap();
        // A list of 2^21 elements in a few bytes.
        let huge = [0xb9, 0xf5, 0x80, 0x80, 0x80, 0x01, 0x00];
        assert!(check(&huge)
            .unwrap_err()
            .contains("claims 2097152 elements"));
        // A string longer than what is left.
        assert!(check(&[0xb8, 0x7f, b'a', 0x00])
            .unwrap_err()
            .contains("string"));
        // Structs nested past the bound.
        let deep: Vec<u8> = std::iter::once(0xbc)
            .chain(std::iter::repeat_n(0x1c, 200))
            .collect();
        assert!(check(&deep).unwrap_err().contains("nests deeper"));
        // A type code the protocol does not have; a footer that stops inside a value.
        assert!(check(&[0xbd, 0x00])
            .unwrap_err()
            .contains("unknown type 13"));
        assert!(check(&[0x15]).unwrap_err().contains("ends inside"));
    }

    #[test]
    fn declared_fields_carry_their_declared_codes() {
        // A declared field with another type code: FileMetaData.version (an i32) as a struct.
        let e = check(&[0x1c, 0x00, 0x00]).unwrap_err();
        assert!(
            e.contains("field 1 of a FileMetaData the type code 12"),
            "{e}"
        );
        // A list of booleans in a field the crate skips (it skips each as no bytes).
        let e = check(&[0xb9, 0x21, 0x01, 0x00, 0x00]).unwrap_err();
        assert!(e.contains("a list or map of booleans"), "{e}");
        // A schema of lists where the crate reads SchemaElement structs.
        let e = check(&[0x29, 0x15, 0x02, 0x00]).unwrap_err();
        assert!(e.contains("a list of type code 5"), "{e}");
    }

    #[test]
    fn schema_elements_claim_no_more_children_than_the_schema_has() {
        // FileMetaData { 2: schema [ { 5: num_children N } , { } ] } STOP
        let footer = |children: &[u8]| {
            let mut f = vec![0x29, 0x2c, 0x55];
            f.extend_from_slice(children);
            f.extend_from_slice(&[0x00, 0x00, 0x00]);
            f
        };
        check(&footer(&[0x02])).unwrap(); // 1 child (zigzag 2)
                                          // 2^31 − 1 children (zigzag 0xfffffffe): the crate would reserve them all first.
        let err = check(&footer(&[0xfe, 0xff, 0xff, 0xff, 0x0f])).unwrap_err();
        assert!(
            err.contains("claims 2147483647 children in a schema of 2"),
            "{err}"
        );
        assert!(check(&footer(&[0x01]))
            .unwrap_err()
            .contains("claims -1 children"));
        // The same field id elsewhere is no count.
        check(&[0x36, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00]).unwrap();
        // The count as an i64 (type code 6): the crate reads it as an i32 all the same.
        let as_i64 = [
            0x29, 0x2c, 0x56, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00, 0x00,
        ];
        let err = check(&as_i64).unwrap_err();
        assert!(
            err.contains("field 5 of a SchemaElement(2) the type code 6"),
            "{err}"
        );
    }

    #[test]
    fn a_page_header_gives_its_sizes() {
        use super::{page_header, PageSizes};
        // PageHeader { 1: type 0, 2: uncompressed 100, 3: compressed 50, 5: struct { } } + data
        let b = [
            0x15, 0x00, 0x15, 0xc8, 0x01, 0x15, 0x64, 0x2c, 0x00, 0x00, 0xaa, 0xbb,
        ];
        assert_eq!(
            page_header(&b).unwrap(),
            PageSizes {
                uncompressed: 100,
                compressed: 50,
                header_len: 10
            }
        );
        assert!(page_header(&[0x15, 0x00, 0x00])
            .unwrap_err()
            .contains("without its sizes"));
    }
}
