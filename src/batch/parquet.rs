//! The batch run as Parquet, for pandas, polars and Arrow as they are: `summary.parquet` (the
//! summary's columns, typed) and `steps.parquet` (one row per video × clip × step: entropy,
//! confidence, top-5, whether the top-1 is right, cumulative GFLOPs, cubes so far, the stored
//! exit, the frame the step looked at). The dataset view opens a large run from `steps.parquet` instead of its traces.
//!
//! Written with the `parquet` crate's column writers (no Arrow in the build). Read back with
//! bounds: the file's size, its row count and every column chunk's size are checked before
//! anything is decoded, and a file the `parquet` crate chokes on is an error, not a panic.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::column::reader::ColumnReader;
use parquet::column::writer::ColumnWriterImpl;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, FloatType, Int32Type, Int64Type,
};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::summary::HEADER;
use super::table::{summary_rows, ClipSteps, RowStatus, RunTable, StepsFrom};
use super::BatchError;
use crate::decision::trace::{ClassProb, StepPrediction};
use crate::fsutil::write_atomic;

/// Top classes kept per step (the traces keep `model::inspect::TOP_K`).
pub const TOP_K: usize = 5;
/// Largest Parquet file read.
const MAX_FILE_BYTES: u64 = 2 << 30;
/// Most rows (video × clip × step) read: 500,000 clips of 16 steps.
const MAX_ROWS: i64 = 8_000_000;
/// Most values (rows × columns) read. Memory follows the values, not the file's bytes: a run
/// of nulls takes a few bytes of definition levels for any number of rows, and each decoded
/// value costs 16–24 bytes (plus the crate's own buffer for the column being read), so this
/// keeps a file's decoding under about 600 MB whatever it claims.
const MAX_VALUES: i64 = 16_000_000;
/// Key of the class names (a JSON list) in the files' metadata.
const CLASS_NAMES_KEY: &str = "adalens.class_names";

/// One column's values (`None` = null).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    I64(Vec<Option<i64>>),
    I32(Vec<Option<i32>>),
    F32(Vec<Option<f32>>),
    F64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Values {
    fn parquet_type(&self) -> &'static str {
        match self {
            Values::I64(_) => "int64",
            Values::I32(_) => "int32",
            Values::F32(_) => "float",
            Values::F64(_) => "double",
            Values::Bool(_) => "boolean",
            Values::Str(_) => "binary",
        }
    }
}

/// Write `columns` (all of one length) as a Parquet file, atomically.
pub fn write_columns(
    path: &Path,
    columns: &[(&str, Values)],
    class_names: &[String],
) -> Result<(), BatchError> {
    let bad = |message: String| BatchError::Summary {
        path: path.to_path_buf(),
        message,
    };
    let bytes = encode(columns, class_names).map_err(|e| bad(e.to_string()))?;
    write_atomic(path, &bytes).map_err(|source| BatchError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn encode(columns: &[(&str, Values)], class_names: &[String]) -> parquet::errors::Result<Vec<u8>> {
    let fields: String = columns
        .iter()
        .map(|(name, v)| {
            let annotation = if matches!(v, Values::Str(_)) {
                " (UTF8)"
            } else {
                ""
            };
            format!("optional {} {name}{annotation};\n", v.parquet_type())
        })
        .collect();
    let schema = Arc::new(parse_message_type(&format!(
        "message adalens {{\n{fields}}}"
    ))?);
    let names = serde_json::to_string(class_names).unwrap_or_else(|_| "[]".into());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // Plain pages only: what the reader accepts (see `CheckedPages`).
            .set_dictionary_enabled(false)
            .set_key_value_metadata(Some(vec![KeyValue::new(CLASS_NAMES_KEY.into(), names)]))
            .build(),
    );
    let mut out = Vec::new();
    let mut file = SerializedFileWriter::new(&mut out, schema, props)?;
    let mut group = file.next_row_group()?;
    for (_, values) in columns {
        let Some(mut col) = group.next_column()? else {
            break;
        };
        match values {
            Values::I64(v) => put::<Int64Type, _>(col.typed(), v, |x| *x)?,
            Values::I32(v) => put::<Int32Type, _>(col.typed(), v, |x| *x)?,
            Values::F32(v) => put::<FloatType, _>(col.typed(), v, |x| *x)?,
            Values::F64(v) => put::<DoubleType, _>(col.typed(), v, |x| *x)?,
            Values::Bool(v) => put::<BoolType, _>(col.typed(), v, |x| *x)?,
            Values::Str(v) => {
                put::<ByteArrayType, _>(col.typed(), v, |s| ByteArray::from(s.as_bytes().to_vec()))?
            }
        }
        col.close()?;
    }
    group.close()?;
    file.close()?;
    Ok(out)
}

fn put<T: DataType, V>(
    w: &mut ColumnWriterImpl<'_, T>,
    v: &[Option<V>],
    to: impl Fn(&V) -> T::T,
) -> parquet::errors::Result<()> {
    let values: Vec<T::T> = v.iter().flatten().map(&to).collect();
    let defs: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
    w.write_batch(&values, Some(&defs), None)?;
    Ok(())
}

/// A Parquet file read back: its columns by name and the class names in its metadata.
#[derive(Debug, Default)]
pub struct Columns {
    pub columns: HashMap<String, Values>,
    pub class_names: Vec<String>,
    pub rows: usize,
}

/// Read every column of a Parquet file (flat schemas of the types [`Values`] has).
pub fn read_columns(path: &Path) -> Result<Columns, BatchError> {
    let bad = |message: String| BatchError::Summary {
        path: path.to_path_buf(),
        message,
    };
    let bytes =
        crate::fsutil::read_limited(path, MAX_FILE_BYTES).map_err(|e| bad(e.to_string()))?;
    columns_from_bytes(bytes).map_err(bad)
}

/// [`read_columns`] of a file already in memory (the fuzz target's way in).
pub fn columns_from_bytes(bytes: Vec<u8>) -> Result<Columns, String> {
    let size = bytes.len() as i64;
    // The parquet crate may panic on a malformed file: its panic is this file's error.
    std::panic::catch_unwind(move || decode(bytes::Bytes::from(bytes), size))
        .unwrap_or_else(|_| Err("the Parquet reader failed on it (a damaged file)".into()))
}

/// The footer's bytes: the metadata before the last 8 (its length, then `PAR1`).
fn footer_of(b: &[u8]) -> Option<&[u8]> {
    let tail = b.len().checked_sub(8)?;
    if &b[tail + 4..] != b"PAR1" {
        return None;
    }
    let len = u32::from_le_bytes(b[tail..tail + 4].try_into().ok()?) as usize;
    b.get(tail.checked_sub(len)?..tail)
}

fn decode(bytes: bytes::Bytes, size: i64) -> Result<Columns, String> {
    // The footer (`FileMetaData`, its length and `PAR1` last) is walked once before the crate
    // parses it (`parquet_footer`); a file too short to have one is the crate's to refuse.
    if let Some(footer) = footer_of(&bytes) {
        super::parquet_footer::check(footer).map_err(|e| format!("not Parquet: {e}"))?;
    }
    let reader =
        SerializedFileReader::new(bytes.clone()).map_err(|e| format!("not Parquet: {e}"))?;
    let meta = reader.metadata();
    let rows = meta.file_metadata().num_rows();
    if !(0..=MAX_ROWS).contains(&rows) {
        return Err(format!(
            "says it has {rows} rows (at most {MAX_ROWS} are read)"
        ));
    }
    let flat_columns = (0..meta.file_metadata().schema_descr().num_columns())
        .filter(|&i| {
            meta.file_metadata()
                .schema_descr()
                .column(i)
                .max_rep_level()
                == 0
        })
        .count() as i64;
    if rows.saturating_mul(flat_columns) > MAX_VALUES {
        return Err(format!(
            "says it has {rows} rows × {flat_columns} columns (at most {MAX_VALUES} values are read)"
        ));
    }
    let group_rows = meta
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .fold(0i64, i64::saturating_add);
    if group_rows != rows {
        return Err(format!(
            "says it has {rows} rows but its row groups hold {group_rows}"
        ));
    }
    // A chunk outside the file, or one that claims to unpack to far more than the file could
    // hold, is a lie (and the first would make the parquet crate panic).
    for g in meta.row_groups() {
        if g.num_rows() < 0 || g.num_rows() > MAX_ROWS {
            return Err(format!("a row group says it has {} rows", g.num_rows()));
        }
        for c in g.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let len = c.compressed_size();
            if start < 0 || len < 0 || start.saturating_add(len) > size {
                return Err(format!(
                    "column {} claims bytes {start}..+{len} of a {size}-byte file",
                    c.column_path()
                ));
            }
            let limit = (size.max(1 << 20)).saturating_mul(64);
            if c.uncompressed_size() > limit || c.uncompressed_size() < 0 {
                return Err(format!(
                    "column {} claims {} bytes unpacked",
                    c.column_path(),
                    c.uncompressed_size()
                ));
            }
            check_pages(
                &bytes[start as usize..(start + len) as usize],
                c.uncompressed_size(),
            )
            .map_err(|e| format!("column {}: {e}", c.column_path()))?;
        }
    }
    // Every row of a file adalens writes takes bytes in some column (`index` is never null):
    // more rows than unpacked bytes is a lie that would only cost decoding time.
    let unpacked: i64 = meta
        .row_groups()
        .iter()
        .flat_map(|g| g.columns())
        .map(|c| c.uncompressed_size().max(0))
        .sum();
    if rows > unpacked {
        return Err(format!(
            "says it has {rows} rows in {unpacked} unpacked bytes"
        ));
    }
    let class_names = meta
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == CLASS_NAMES_KEY))
        .and_then(|k| k.value.as_deref())
        .and_then(|v| serde_json::from_str::<Vec<String>>(v).ok())
        .unwrap_or_default();
    let schema = meta.file_metadata().schema_descr();
    let mut columns: HashMap<String, Values> = HashMap::new();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| e.to_string())?;
        let n = usize::try_from(group.metadata().num_rows()).map_err(|e| e.to_string())?;
        for i in 0..schema.num_columns() {
            let desc = schema.column(i);
            if desc.max_rep_level() > 0 {
                continue;
            }
            let nullable = desc.max_def_level() > 0;
            let pages = group.get_column_page_reader(i).map_err(|e| e.to_string())?;
            let checked = CheckedPages {
                inner: pages,
                rows: u32::try_from(n).unwrap_or(u32::MAX),
            };
            let reader =
                parquet::column::reader::get_column_reader(desc.clone(), Box::new(checked));
            let values = read_column(reader, n, nullable).map_err(|e| e.to_string())?;
            let name = desc.name().to_string();
            match (columns.get_mut(&name), values) {
                (None, v) => {
                    columns.insert(name, v);
                }
                (Some(Values::I64(a)), Values::I64(b)) => a.extend(b),
                (Some(Values::I32(a)), Values::I32(b)) => a.extend(b),
                (Some(Values::F32(a)), Values::F32(b)) => a.extend(b),
                (Some(Values::F64(a)), Values::F64(b)) => a.extend(b),
                (Some(Values::Bool(a)), Values::Bool(b)) => a.extend(b),
                (Some(Values::Str(a)), Values::Str(b)) => a.extend(b),
                _ => return Err(format!("column {name} changes type between row groups")),
            }
        }
    }
    Ok(Columns {
        columns,
        class_names,
        rows: rows as usize,
    })
}

/// Every page header of a column chunk (its bytes), read before the `parquet` crate reads
/// them: the crate reserves a page's unpacked size before unpacking it, so each page must lie
/// inside the chunk and unpack to no more than the whole chunk says it does (`chunk_unpacked`,
/// itself bounded by the file's size).
fn check_pages(chunk: &[u8], chunk_unpacked: i64) -> Result<(), String> {
    let mut at = 0usize;
    while at < chunk.len() {
        let p = super::parquet_footer::page_header(&chunk[at..])?;
        let left = (chunk.len() - at - p.header_len) as i64;
        if !(0..=left).contains(&p.compressed) {
            return Err(format!(
                "a page claims {} bytes with {left} left in its chunk",
                p.compressed
            ));
        }
        if !(0..=chunk_unpacked).contains(&p.uncompressed) {
            return Err(format!(
                "a page claims {} bytes unpacked in a chunk of {chunk_unpacked}",
                p.uncompressed
            ));
        }
        at += p.header_len + p.compressed as usize;
    }
    Ok(())
}

/// The pages of one column chunk, each checked before the `parquet` crate decodes it: data
/// pages hold at most the row group's rows (the chunks are flat), in the encodings adalens
/// writes, and no dictionary pages (adalens writes none; a dictionary page's header sets the
/// size of the table the crate allocates for it).
struct CheckedPages {
    inner: Box<dyn parquet::column::page::PageReader>,
    rows: u32,
}

impl Iterator for CheckedPages {
    type Item = parquet::errors::Result<parquet::column::page::Page>;

    fn next(&mut self) -> Option<Self::Item> {
        use parquet::column::page::PageReader;
        self.get_next_page().transpose()
    }
}

impl parquet::column::page::PageReader for CheckedPages {
    fn get_next_page(&mut self) -> parquet::errors::Result<Option<parquet::column::page::Page>> {
        use parquet::basic::Encoding;
        use parquet::column::page::Page;
        let bad = |m: String| Err(parquet::errors::ParquetError::General(m));
        let page = self.inner.get_next_page()?;
        match &page {
            Some(Page::DictionaryPage { .. }) => return bad("a dictionary page".into()),
            Some(
                Page::DataPage {
                    num_values,
                    encoding,
                    ..
                }
                | Page::DataPageV2 {
                    num_values,
                    encoding,
                    ..
                },
            ) => {
                if *num_values > self.rows {
                    return bad(format!(
                        "a page of {num_values} values in a row group of {} rows",
                        self.rows
                    ));
                }
                if !matches!(encoding, Encoding::PLAIN | Encoding::RLE) {
                    return bad(format!("a page in the {encoding:?} encoding"));
                }
            }
            None => {}
        }
        Ok(page)
    }

    fn peek_next_page(
        &mut self,
    ) -> parquet::errors::Result<Option<parquet::column::page::PageMetadata>> {
        self.inner.peek_next_page()
    }

    fn skip_next_page(&mut self) -> parquet::errors::Result<()> {
        self.inner.skip_next_page()
    }
}

fn read_column(
    reader: ColumnReader,
    rows: usize,
    nullable: bool,
) -> parquet::errors::Result<Values> {
    Ok(match reader {
        ColumnReader::Int64ColumnReader(r) => Values::I64(take(r, rows, nullable, |x| x)?),
        ColumnReader::Int32ColumnReader(r) => Values::I32(take(r, rows, nullable, |x| x)?),
        ColumnReader::FloatColumnReader(r) => Values::F32(take(r, rows, nullable, |x| x)?),
        ColumnReader::DoubleColumnReader(r) => Values::F64(take(r, rows, nullable, |x| x)?),
        ColumnReader::BoolColumnReader(r) => Values::Bool(take(r, rows, nullable, |x| x)?),
        ColumnReader::ByteArrayColumnReader(r) => Values::Str(take(r, rows, nullable, |b| {
            String::from_utf8_lossy(b.data()).into_owned()
        })?),
        _ => Values::Str(vec![None; rows]),
    })
}

fn take<T: DataType, O>(
    mut r: parquet::column::reader::ColumnReaderImpl<T>,
    rows: usize,
    nullable: bool,
    to: impl Fn(T::T) -> O,
) -> parquet::errors::Result<Vec<Option<O>>> {
    let mut defs: Vec<i16> = Vec::new();
    let mut values: Vec<T::T> = Vec::new();
    let mut read = 0;
    while read < rows {
        let (records, _, _) = r.read_records(
            rows - read,
            nullable.then_some(&mut defs),
            None,
            &mut values,
        )?;
        if records == 0 {
            break;
        }
        read += records;
    }
    let mut values = values.into_iter();
    Ok(if nullable {
        defs.iter()
            .map(|&d| if d > 0 { values.next().map(&to) } else { None })
            .collect()
    } else {
        values.map(|v| Some(to(v))).collect()
    })
}

/// Write `summary.parquet` and `steps.parquet` of the run in `dir` (its stored exits) from its
/// summary and traces.
pub fn write_run(dir: &Path) -> Result<(), BatchError> {
    let table = RunTable::open_with(dir, StepsFrom::Traces, &|_, _| {})?;
    let rows = summary_rows(dir, &mut Vec::new())?;
    write_columns(
        &dir.join("summary.parquet"),
        &summary_columns(&rows),
        &table.class_names,
    )?;
    write_columns(
        &dir.join("steps.parquet"),
        &steps_columns(&table),
        &table.class_names,
    )
}

/// The summary's columns, typed: numbers as numbers, `correct` as a boolean, empty as null.
fn summary_columns(rows: &[Vec<String>]) -> Vec<(&'static str, Values)> {
    let field = |i: usize| rows.iter().map(move |r| r.get(i).filter(|v| !v.is_empty()));
    HEADER
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let v = match name {
                "index" => Values::I64(field(i).map(|v| v.and_then(|v| v.parse().ok())).collect()),
                "gflops" => Values::F64(field(i).map(|v| v.and_then(|v| v.parse().ok())).collect()),
                "top1_prob" => {
                    Values::F32(field(i).map(|v| v.and_then(|v| v.parse().ok())).collect())
                }
                "correct" => {
                    Values::Bool(field(i).map(|v| v.and_then(|v| v.parse().ok())).collect())
                }
                "exit_step" | "steps" | "kept_frames" | "sampled_frames" | "stages_3d"
                | "stages" | "cubes_used" | "top1" => {
                    Values::I32(field(i).map(|v| v.and_then(|v| v.parse().ok())).collect())
                }
                _ => Values::Str(field(i).map(|v| v.cloned()).collect()),
            };
            (name, v)
        })
        .collect()
}

/// The class and probability columns of one rank of the top-k.
type TopColumns = (Vec<Option<i32>>, Vec<Option<f32>>);

/// One row per video × clip × step of every video that ran.
fn steps_columns(table: &RunTable) -> Vec<(&'static str, Values)> {
    let mut index = Vec::new();
    let mut path = Vec::new();
    let mut clip = Vec::new();
    let mut step = Vec::new();
    let mut entropy = Vec::new();
    let mut confidence = Vec::new();
    let mut correct = Vec::new();
    let mut gflops = Vec::new();
    let mut cubes = Vec::new();
    let mut exit = Vec::new();
    let mut frame = Vec::new();
    let mut top: Vec<TopColumns> = vec![Default::default(); TOP_K];
    for r in table.rows.iter().filter(|r| r.status == RowStatus::Ok) {
        for (k, c) in r.clips.iter().enumerate() {
            for (t, s) in c.steps.iter().enumerate() {
                index.push(Some(r.index as i64));
                path.push(Some(r.path.clone()));
                clip.push(Some(k as i32));
                step.push(Some(t as i32));
                entropy.push(Some(s.entropy));
                confidence.push(Some(s.confidence));
                correct.push(r.label_class.zip(s.top.first()).map(|(l, p)| l == p.class));
                gflops.push(Some(s.cumulative_gflops));
                cubes.push(c.cubes_at.get(t).map(|&n| n as i32));
                exit.push(Some(t == c.stored_exit));
                frame.push(c.frames.get(t).map(|&f| f as i64));
                for (j, (class, prob)) in top.iter_mut().enumerate() {
                    let p = s.top.get(j);
                    class.push(p.map(|p| p.class as i32));
                    prob.push(p.map(|p| p.prob));
                }
            }
        }
    }
    let mut cols = vec![
        ("index", Values::I64(index)),
        ("path", Values::Str(path)),
        ("clip", Values::I32(clip)),
        ("step", Values::I32(step)),
        ("entropy", Values::F32(entropy)),
        ("confidence", Values::F32(confidence)),
        ("correct", Values::Bool(correct)),
        ("cumulative_gflops", Values::F64(gflops)),
        ("cubes", Values::I32(cubes)),
        ("exit", Values::Bool(exit)),
        ("frame", Values::I64(frame)),
    ];
    const NAMES: [(&str, &str); TOP_K] = [
        ("top1", "top1_prob"),
        ("top2", "top2_prob"),
        ("top3", "top3_prob"),
        ("top4", "top4_prob"),
        ("top5", "top5_prob"),
    ];
    for ((c, p), (cn, pn)) in top.into_iter().zip(NAMES) {
        cols.push((cn, Values::I32(c)));
        cols.push((pn, Values::F32(p)));
    }
    cols
}

/// The per-step predictions of `steps.parquet`, by video index: its path and its clips.
#[derive(Debug, Default)]
pub struct StepsFile {
    pub class_names: Vec<String>,
    pub clips: HashMap<u64, (String, Vec<ClipSteps>)>,
}

/// Read `steps.parquet`. Videos whose rows are not in order (clip by clip, steps from 0) are
/// left out: the table reads those from their traces.
pub fn read_steps(path: &Path) -> Result<StepsFile, BatchError> {
    let file = read_columns(path)?;
    let bad = |message: String| BatchError::Summary {
        path: path.to_path_buf(),
        message,
    };
    let cols = &file.columns;
    let get = |name: &str| {
        cols.get(name)
            .ok_or_else(|| bad(format!("has no column {name}")))
    };
    let (
        Values::I64(index),
        Values::Str(vpath),
        Values::I32(clip),
        Values::I32(step),
        Values::F32(entropy),
        Values::F32(confidence),
        Values::F64(gflops),
        Values::I32(cubes),
        Values::Bool(exit),
        Values::I64(frame),
    ) = (
        get("index")?,
        get("path")?,
        get("clip")?,
        get("step")?,
        get("entropy")?,
        get("confidence")?,
        get("cumulative_gflops")?,
        get("cubes")?,
        get("exit")?,
        get("frame")?,
    )
    else {
        return Err(bad("a column has another type than adalens writes".into()));
    };
    let mut tops = Vec::new();
    for k in 1..=TOP_K {
        match (
            cols.get(&format!("top{k}")),
            cols.get(&format!("top{k}_prob")),
        ) {
            (Some(Values::I32(c)), Some(Values::F32(p))) => tops.push((c, p)),
            _ => break,
        }
    }
    let n = file.rows;
    let lens = [
        index.len(),
        vpath.len(),
        clip.len(),
        step.len(),
        entropy.len(),
        confidence.len(),
        gflops.len(),
        cubes.len(),
        exit.len(),
        frame.len(),
    ];
    if lens.iter().any(|&l| l != n) || tops.iter().any(|(c, p)| c.len() != n || p.len() != n) {
        return Err(bad("its columns differ in length".into()));
    }
    let mut out = StepsFile {
        class_names: file.class_names.clone(),
        clips: HashMap::new(),
    };
    let mut broken: std::collections::HashSet<u64> = Default::default();
    for i in 0..n {
        let (Some(ix), Some(k), Some(t)) = (index[i], clip[i], step[i]) else {
            continue;
        };
        let Ok(ix) = u64::try_from(ix) else { continue };
        let entry = out
            .clips
            .entry(ix)
            .or_insert_with(|| (vpath[i].clone().unwrap_or_default(), Vec::new()));
        let clips = &mut entry.1;
        // A new clip starts at step 0 right after the last one; anything else is out of order.
        if t == 0 && k as usize == clips.len() {
            clips.push(ClipSteps {
                steps: Vec::new(),
                cubes_at: Vec::new(),
                frames: Vec::new(),
                stored_exit: 0,
            });
        }
        let in_order = k >= 0
            && k as usize + 1 == clips.len()
            && clips.last().is_some_and(|c| c.steps.len() == t as usize);
        if !in_order {
            broken.insert(ix);
            continue;
        }
        let Some(c) = clips.last_mut() else { continue };
        let top = tops
            .iter()
            .filter_map(|(cl, p)| match (cl[i], p[i]) {
                (Some(class), Some(prob)) if class >= 0 => Some(ClassProb {
                    class: class as u32,
                    prob,
                }),
                _ => None,
            })
            .collect();
        c.steps.push(StepPrediction {
            probs: None,
            step: t as usize,
            top,
            entropy: entropy[i].unwrap_or(f32::NAN),
            confidence: confidence[i].unwrap_or(f32::NAN),
            cumulative_gflops: gflops[i].unwrap_or(0.0),
        });
        c.cubes_at.push(cubes[i].unwrap_or(0).max(0) as u32);
        c.frames
            .push(frame[i].and_then(|f| usize::try_from(f).ok()).unwrap_or(0));
        if exit[i] == Some(true) {
            c.stored_exit = t as usize;
        }
    }
    for ix in broken {
        out.clips.remove(&ix);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{check_pages, columns_from_bytes, encode, Values, MAX_VALUES};

    #[test]
    fn a_file_of_more_values_than_are_read_is_refused_before_decoding() {
        // Nulls cost a few bytes of definition levels for any number of rows, so a small file
        // can hold more values than memory: the count of values is bounded, not the bytes.
        let cols = 40usize;
        let rows = MAX_VALUES as usize / cols + 1;
        let names: Vec<String> = (0..cols).map(|i| format!("c{i}")).collect();
        let columns: Vec<(&str, Values)> = names
            .iter()
            .map(|n| (n.as_str(), Values::Bool(vec![None; rows])))
            .collect();
        let bytes = encode(&columns, &[]).unwrap();
        assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
        let e = columns_from_bytes(bytes).unwrap_err();
        assert!(e.contains(&format!("{rows} rows × {cols} columns")), "{e}");
    }

    #[test]
    fn every_page_lies_in_its_chunk_and_unpacks_within_it() {
        // PageHeader { 1: type 0, 2: uncompressed U, 3: compressed 2 } STOP, then 2 bytes.
        let page = |u: &[u8]| {
            let mut p = vec![0x15, 0x00, 0x15];
            p.extend_from_slice(u);
            p.extend_from_slice(&[0x15, 0x04, 0x00, 0xaa, 0xbb]);
            p
        };
        let two = [page(&[0x08]), page(&[0x08])].concat(); // 4 bytes unpacked each
        check_pages(&two, 8).unwrap();
        // 2^31 − 1 bytes unpacked in a chunk that says 8: refused before anything is reserved.
        let huge = page(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
        let e = check_pages(&huge, 8).unwrap_err();
        assert!(
            e.contains("claims 2147483647 bytes unpacked in a chunk of 8"),
            "{e}"
        );
        // A page running past its chunk.
        let e = check_pages(&two[..two.len() - 1], 8).unwrap_err();
        assert!(e.contains("bytes with 1 left"), "{e}");
    }
}
