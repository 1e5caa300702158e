//! The summary table of a batch: one CSV row per video (exit step, GFLOPs, kept frames, 3D
//! stages, top-1, label, or the error), in list order; and `merge`, which joins the shards'
//! tables into the table an unsharded run writes.
//!
//! CSV rather than Parquet: a few columns per video, read directly by pandas, polars, R and
//! spreadsheets, without the Arrow dependency tree in the build.

use std::path::{Path, PathBuf};

use super::{BatchError, Entry};
use crate::dataset::class_index;
use crate::decision::trace::DecisionTrace;

pub const HEADER: [&str; 18] = [
    "index",
    "path",
    "label",
    "status",
    "error",
    "exit_step",
    "steps",
    "gflops",
    "kept_frames",
    "sampled_frames",
    "stages_3d",
    "stages",
    "cubes_used",
    "top1",
    "top1_name",
    "top1_prob",
    "correct",
    "key",
];

/// The column saying `ok`, `failed` or `pending`.
pub const STATUS: usize = 3;
/// The last column: the video's result file stem (`traces/KEY.json`, `failed/KEY.json`).
pub const KEY: usize = 17;

/// A row for a video that ran.
pub fn row_ok(e: &Entry, t: &DecisionTrace) -> Vec<String> {
    let clips = &t.clips;
    // The video's compute: every clip up to its exit.
    let gflops: f64 = clips
        .iter()
        .filter_map(|c| c.stop_step().and_then(|s| c.steps.get(s)))
        .map(|s| s.cumulative_gflops)
        .sum();
    let frames = clips.iter().flat_map(|c| &c.frames);
    let stages = clips.iter().flat_map(|c| &c.stages);
    let cubes_used: usize = clips
        .iter()
        .map(|c| {
            let e = c.stop_step().unwrap_or(0);
            c.cubes.iter().filter(|q| q.order <= e).count()
        })
        .sum();
    // The prediction where the model stopped.
    let top = t.exit_prediction().first().copied();
    let first = clips.first();
    let label_class = e
        .label
        .as_deref()
        .and_then(|l| class_index(l, &t.class_names, t.class_names.len()));
    vec![
        e.index.to_string(),
        e.path.display().to_string(),
        e.label.clone().unwrap_or_default(),
        "ok".into(),
        String::new(),
        first
            .and_then(|c| c.stop_step())
            .map(|s| s.to_string())
            .unwrap_or_default(),
        first.map(|c| c.steps.len().to_string()).unwrap_or_default(),
        format!("{gflops:.6}"),
        frames.clone().filter(|f| f.kept).count().to_string(),
        frames.count().to_string(),
        stages.clone().filter(|s| s.ran_3d).count().to_string(),
        stages.count().to_string(),
        cubes_used.to_string(),
        top.map(|c| c.class.to_string()).unwrap_or_default(),
        top.and_then(|c| t.class_names.get(c.class as usize).cloned())
            .unwrap_or_default(),
        top.map(|c| format!("{:.6}", c.prob)).unwrap_or_default(),
        match (label_class, top) {
            (Some(l), Some(c)) => (l == c.class).to_string(),
            _ => String::new(),
        },
        e.key.clone(),
    ]
}

/// A row for a video not run yet (a run in progress or cancelled).
pub fn row_pending(e: &Entry) -> Vec<String> {
    let mut row = vec![String::new(); HEADER.len()];
    row[0] = e.index.to_string();
    row[1] = e.path.display().to_string();
    row[2] = e.label.clone().unwrap_or_default();
    row[STATUS] = "pending".into();
    row[KEY] = e.key.clone();
    row
}

/// A row for a video that failed.
pub fn row_failed(e: &Entry, error: &str) -> Vec<String> {
    let mut row = vec![String::new(); HEADER.len()];
    row[0] = e.index.to_string();
    row[1] = e.path.display().to_string();
    row[2] = e.label.clone().unwrap_or_default();
    row[STATUS] = "failed".into();
    row[KEY] = e.key.clone();
    // One line per row: messages with newlines would still be valid CSV but hard to grep.
    row[4] = error.replace(['\n', '\r'], " ");
    row
}

/// The table as CSV text (fields quoted where they need it).
pub fn to_csv(rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to memory cannot fail; every row has the header's width.
    let _ = w.write_record(HEADER);
    for r in rows {
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The body records of a summary file (after its header, checked), and whether its last line
/// lacks its newline (every line is written whole with one: such a line was cut short).
fn records(path: &Path) -> Result<(Vec<csv::Result<csv::StringRecord>>, bool), BatchError> {
    let bad = |message: &str| BatchError::Summary {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let bytes = crate::fsutil::read_limited(path, crate::dataset::MAX_LIST_BYTES)
        .map_err(|e| bad(&e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut records = reader.records();
    match records.next() {
        Some(Ok(h)) if h.iter().eq(HEADER) => {}
        Some(Ok(h)) if h.iter().eq(HEADER[..KEY].iter().copied()) => {
            return Err(bad(
                "was written by an older adalens (no key column): run the same `adalens batch` \
                 command again to rewrite it from the results",
            ))
        }
        _ => return Err(bad("not an adalens batch summary (its header differs)")),
    }
    Ok((records.collect(), !bytes.ends_with(b"\n")))
}

/// Rows of a summary file written by [`to_csv`]; any line that cannot be read is an error.
pub fn read_csv(path: &Path) -> Result<Vec<Vec<String>>, BatchError> {
    let bad = |message: String| BatchError::Summary {
        path: path.to_path_buf(),
        message,
    };
    let (records, _) = records(path)?;
    records
        .into_iter()
        .map(|r| {
            let r = r.map_err(|e| bad(e.to_string()))?;
            let line = r.position().map_or(0, |p| p.line());
            if r.len() != HEADER.len() {
                return Err(bad(format!(
                    "line {line}: {} fields, expected {}",
                    r.len(),
                    HEADER.len()
                )));
            }
            Ok(r.iter().map(str::to_string).collect())
        })
        .collect()
}

/// Rows of a summary file, skipping the lines that cannot be read (a torn or hand-edited
/// file): the rows and how many lines were skipped. A file that is not a summary at all is an
/// error.
pub fn read_csv_lenient(path: &Path) -> Result<(Vec<Vec<String>>, usize), BatchError> {
    let (records, torn_tail) = records(path)?;
    let keep = records.len() - usize::from(torn_tail && !records.is_empty());
    let mut skipped = records.len() - keep;
    let mut rows = Vec::new();
    for r in records.into_iter().take(keep) {
        match r {
            Ok(r) if r.len() == HEADER.len() && r[0].parse::<usize>().is_ok() => {
                rows.push(r.iter().map(str::to_string).collect())
            }
            _ => skipped += 1,
        }
    }
    Ok((rows, skipped))
}

/// Join the shard summaries in `dir` (`summary.shard-I-of-N.csv`, all N of them) into
/// `summary.csv`, rows in list order. Returns its path and the number of rows.
pub fn merge(dir: &Path) -> Result<(PathBuf, usize), BatchError> {
    let bad = |message: String| BatchError::Summary {
        path: dir.to_path_buf(),
        message,
    };
    let rd = std::fs::read_dir(dir).map_err(|source| BatchError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut shards: Vec<(usize, usize, PathBuf)> = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix("summary.shard-")
            .and_then(|r| r.strip_suffix(".csv"))
        else {
            continue;
        };
        let Some((i, n)) = rest.split_once("-of-") else {
            continue;
        };
        if let (Ok(i), Ok(n)) = (i.parse::<usize>(), n.parse::<usize>()) {
            shards.push((i, n, e.path()));
        }
    }
    if shards.is_empty() {
        return Err(bad(
            "no shard summaries (summary.shard-I-of-N.csv) in it".into()
        ));
    }
    let n = shards[0].1;
    if let Some(other) = shards.iter().find(|s| s.1 != n) {
        return Err(bad(format!(
            "shards of different splits: of {n} and of {}",
            other.1
        )));
    }
    shards.sort();
    let have: Vec<usize> = shards.iter().map(|s| s.0).collect();
    let missing: Vec<String> = (0..n)
        .filter(|i| !have.contains(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "shard(s) {} have not finished (no summary yet)",
            missing.join(", ")
        )));
    }
    let mut rows = Vec::new();
    for (i, _, p) in &shards {
        let shard_rows = read_csv(p)?;
        // Summaries are written as a run goes: one with videos still pending is unfinished.
        let pending = shard_rows.iter().filter(|r| r[STATUS] == "pending").count();
        if pending > 0 {
            return Err(bad(format!(
                "shard {i}/{n} has not finished ({pending} videos pending in {})",
                p.display()
            )));
        }
        rows.extend(shard_rows);
    }
    rows.sort_by_key(|r| r[0].parse::<usize>().unwrap_or(usize::MAX));
    let out = dir.join("summary.csv");
    crate::fsutil::write_atomic(&out, to_csv(&rows).as_bytes()).map_err(|source| {
        BatchError::Io {
            path: out.clone(),
            source,
        }
    })?;
    super::parquet::write_run(dir)?;
    Ok((out, rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_quotes_and_commas() {
        let e = Entry {
            index: 3,
            path: PathBuf::from("a, \"b\".mp4"),
            label: Some("x".into()),
            key: "k".into(),
        };
        let rows = vec![row_failed(&e, "bad\nfile, \"really\"")];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, to_csv(&rows)).unwrap();
        let back = read_csv(&p).unwrap();
        assert_eq!(back[0][1], "a, \"b\".mp4");
        assert_eq!(back[0][4], "bad file, \"really\"");
        assert_eq!(back.len(), 1);
        std::fs::write(&p, "x,y\n").unwrap();
        assert!(read_csv(&p).is_err());
    }
}
