//! The videos of a run over many (`adalens batch`, `calibrate`, `eval`, `train`): a
//! `path,label` CSV or a folder, each video with a stable key for its result files, and a
//! deterministic share of the list for one machine of a cluster job array (`--shard i/N`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {message}")]
    Source { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    List { path: PathBuf, message: String },
    #[error("--shard {0:?}: write i/N with 0 ≤ i < N (e.g. 0/4)")]
    Shard(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One line of a `path,label` list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub path: PathBuf,
    /// A class name or index; `None` when the list has no label column.
    pub label: Option<String>,
}

/// The largest list read (a million videos' lines are ~100 MB).
pub const MAX_LIST_BYTES: u64 = 1 << 30;

/// Read a `path,label` CSV: quoted fields, a UTF-8 BOM and CRLF line ends as any CSV writer
/// makes them; a header line `path,label` is skipped; relative paths are taken from the list's
/// folder; blank lines and `#` comments are ignored. An unquoted path holding commas still
/// reads: every field but the last is the path.
pub fn read_list(list: &Path) -> Result<Vec<ListEntry>, DatasetError> {
    let err = |message: String| DatasetError::List {
        path: list.to_path_buf(),
        message,
    };
    let bytes =
        crate::fsutil::read_limited(list, MAX_LIST_BYTES).map_err(|e| err(e.to_string()))?;
    let base = list.parent().unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let mut out = Vec::new();
    for (n, record) in reader.byte_records().enumerate() {
        let record = record.map_err(|e| err(e.to_string()))?;
        let line = record.position().map_or(n as u64 + 1, |p| p.line());
        let fields: Vec<String> = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let (p, label) = match fields.as_slice() {
            [] => continue,
            [p] if p.is_empty() => continue,
            [p] => (p.clone(), None),
            [init @ .., last] => (init.join(","), Some(last.clone())),
        };
        if out.is_empty() && p == "path" {
            continue;
        }
        if p.is_empty() {
            return Err(err(format!("line {line}: no path")));
        }
        let p = Path::new(&p);
        out.push(ListEntry {
            path: if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            },
            label: label.filter(|l| !l.is_empty()),
        });
    }
    if out.is_empty() {
        return Err(err("lists no videos".into()));
    }
    Ok(out)
}

/// The distinct labels of `entries` that are neither a class name nor a class number of a
/// checkpoint with `class_names` / `classes`, sorted: a run names them once at the start.
pub fn unknown_labels(entries: &[Entry], class_names: &[String], classes: usize) -> Vec<String> {
    let mut unknown: Vec<String> = entries
        .iter()
        .filter_map(|e| e.label.as_deref())
        .filter(|l| class_index(l, class_names, classes).is_none())
        .map(str::to_string)
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

/// A class index from a label: a class name of the checkpoint or a number below its classes.
pub fn class_index(label: &str, class_names: &[String], classes: usize) -> Option<u32> {
    if let Some(i) = class_names.iter().position(|n| n == label) {
        return Some(i as u32);
    }
    label
        .parse::<u32>()
        .ok()
        .filter(|&i| (i as usize) < classes)
}

/// File name extensions taken as videos when a folder is given.
pub const VIDEO_EXTENSIONS: [&str; 12] = [
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "flv", "wmv", "3gp",
];

/// A video of a run: its place in the whole list (shards keep these), path, label, and the
/// name of its result file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub index: usize,
    pub path: PathBuf,
    pub label: Option<String>,
    /// Result file stem: the path relative to the list (or folder), `/` replaced by `__`, from
    /// the absolute, normalised path, so it is the same however the list was typed.
    pub key: String,
}

/// The videos of `source`: a `path,label` list (see [`read_list`]) or a folder searched
/// recursively for video files, sorted by path; in a folder, a video inside a sub-folder is
/// labelled with the name of its top sub-folder (the `class/video.mp4` layout of UCF101 and
/// Kinetics). Duplicate paths are dropped.
pub fn entries(source: &Path) -> Result<Vec<Entry>, DatasetError> {
    let (base, list) = if source.is_dir() {
        (source.to_path_buf(), scan_folder(source)?)
    } else {
        let base = source.parent().unwrap_or(Path::new(".")).to_path_buf();
        (base, read_list(source)?)
    };
    // Keys and duplicates from absolute, normalised paths: however the list's path or its
    // lines were typed (`./a.mp4`, `x/../a.mp4`, a relative or absolute list), a video keeps
    // its key, so a rerun finds its results.
    let base = normalised(&base);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in list {
        let full = normalised(&e.path);
        if !seen.insert(full.clone()) {
            continue;
        }
        let key = key_of(&full, &base);
        out.push(Entry {
            index: out.len(),
            path: e.path,
            label: e.label,
            key,
        });
    }
    // Two paths could still map to one key ("a/b.mp4" and "a__b.mp4"): number the later ones.
    let mut keys = HashSet::new();
    for e in &mut out {
        if !keys.insert(e.key.clone()) {
            e.key = format!("{}__{}", e.key, e.index);
            keys.insert(e.key.clone());
        }
    }
    Ok(out)
}

/// `path` made absolute (from the current folder) with `.` and `..` resolved by name, not by
/// following links (a folder of links to videos keeps keys under the folder). Two spellings
/// of one video compare equal through it.
pub fn normalised(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn key_of(path: &Path, base: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    let s: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let key: String = s
        .join("__")
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    shorten_key(key)
}

/// Longest key kept as it is: `KEY.json` (and `KEY.json` under a temporary prefix) must fit
/// the 255-byte file names of Linux file systems.
const MAX_KEY_BYTES: usize = 180;

/// A key too long for a file name: its first bytes (cut at a character boundary) and a hash
/// of the whole, so it stays unique and stable across runs.
fn shorten_key(key: String) -> String {
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut cut = MAX_KEY_BYTES - 20;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}__{h:016x}", &key[..cut])
}

fn scan_folder(dir: &Path) -> Result<Vec<ListEntry>, DatasetError> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|source| DatasetError::Io {
            path: d.clone(),
            source,
        })?;
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .map(|x| x.to_string_lossy().to_ascii_lowercase())
                .is_some_and(|x| VIDEO_EXTENSIONS.contains(&x.as_str()))
            {
                found.push(p);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(DatasetError::Source {
            path: dir.to_path_buf(),
            message: format!("no video files ({}) in it", VIDEO_EXTENSIONS.join(", ")),
        });
    }
    Ok(found
        .into_iter()
        .map(|path| {
            let label = path
                .strip_prefix(dir)
                .ok()
                .filter(|r| r.components().count() > 1)
                .and_then(|r| r.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            ListEntry { path, label }
        })
        .collect())
}

/// Share `index` of `count` of a list: the entries whose index ≡ `index` (mod `count`), so
/// every shard gets a similar mix however the list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn takes(&self, entry_index: usize) -> bool {
        entry_index % self.count == self.index
    }

    /// Suffix of this shard's summary file (`""` for the whole list).
    pub fn suffix(&self) -> String {
        if self.count == 1 {
            String::new()
        } else {
            format!(".shard-{}-of-{}", self.index, self.count)
        }
    }
}

impl std::str::FromStr for Shard {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self, DatasetError> {
        let bad = || DatasetError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The share of `entries` for `shard`.
pub fn shard_of(entries: Vec<Entry>, shard: Shard) -> Vec<Entry> {
    entries
        .into_iter()
        .filter(|e| shard.takes(e.index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_list() {
        let s: Shard = "1/3".parse().unwrap();
        assert_eq!(s, Shard { index: 1, count: 3 });
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        let all: Vec<usize> = (0..10).collect();
        let mut union: Vec<usize> = (0..3)
            .flat_map(|i| {
                let sh = Shard { index: i, count: 3 };
                all.iter().copied().filter(move |&e| sh.takes(e))
            })
            .collect();
        union.sort();
        assert_eq!(union, all);
        assert_eq!(Shard::WHOLE.suffix(), "");
        assert_eq!(s.suffix(), ".shard-1-of-3");
    }

    #[test]
    fn list_reads_header_labels_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.csv");
        std::fs::write(
            &list,
            "path,label\na.mp4,diving\n# c\n\n/abs/b.mp4,3\nc.mp4\n",
        )
        .unwrap();
        let e = read_list(&list).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].path, dir.path().join("a.mp4"));
        assert_eq!(e[0].label.as_deref(), Some("diving"));
        assert_eq!(e[1].path, PathBuf::from("/abs/b.mp4"));
        assert_eq!(e[2].label, None);
        let names = vec!["archery".to_string(), "diving".to_string()];
        assert_eq!(class_index("diving", &names, 5), Some(1));
        assert_eq!(class_index("3", &names, 5), Some(3));
        assert_eq!(class_index("7", &names, 5), None);
    }

    #[test]
    fn lists_as_csv_writers_make_them() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.csv");
        // A BOM, CRLF line ends, a quoted path holding a comma and a quote, a quoted label,
        // an unquoted path with a comma.
        std::fs::write(
            &list,
            "\u{feff}path,label\r\n\"a, \"\"b\"\".mp4\",\"high jump\"\r\nc,d.mp4,3\r\n",
        )
        .unwrap();
        let e = read_list(&list).unwrap();
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].path, dir.path().join("a, \"b\".mp4"));
        assert_eq!(e[0].label.as_deref(), Some("high jump"));
        assert_eq!(e[1].path, dir.path().join("c,d.mp4"));
        assert_eq!(e[1].label.as_deref(), Some("3"));
    }

    #[test]
    fn keys_do_not_depend_on_how_paths_were_typed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        let list = dir.path().join("l.csv");
        std::fs::write(&list, "a.mp4\n./b.mp4\nsub/../c.mp4\n./a.mp4\n").unwrap();
        let keys = |source: &Path| -> Vec<String> {
            entries(source)
                .unwrap()
                .into_iter()
                .map(|e| e.key)
                .collect()
        };
        let direct = keys(&list);
        assert_eq!(direct, ["a.mp4", "b.mp4", "c.mp4"]);
        assert_eq!(keys(&dir.path().join("sub/../l.csv")), direct);
        assert_eq!(keys(&dir.path().join("./l.csv")), direct);
        let names = vec!["archery".to_string()];
        let mut with_labels = entries(&list).unwrap();
        with_labels[0].label = Some("archery".into());
        with_labels[1].label = Some("diving".into());
        with_labels[2].label = Some("7".into());
        assert_eq!(unknown_labels(&with_labels, &names, 5), ["7", "diving"]);
    }

    #[test]
    fn long_keys_are_cut_with_a_hash_to_fit_a_file_name() {
        let long = "é".repeat(200) + ".mp4";
        let k = key_of(Path::new(&long), Path::new(""));
        assert!(k.len() <= MAX_KEY_BYTES, "{}", k.len());
        assert_eq!(k, key_of(Path::new(&long), Path::new("")));
        let other = "é".repeat(201) + ".mp4";
        assert_ne!(k, key_of(Path::new(&other), Path::new("")));
        assert_eq!(key_of(Path::new("a/b.mp4"), Path::new("")), "a__b.mp4");
    }

    #[test]
    fn folder_scan_labels_by_top_folder_and_keys_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("diving/x")).unwrap();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        for f in [
            "diving/x/a.mp4",
            "b.MKV",
            "notes.txt",
            ".hidden/c.mp4",
            "diving__x__a.mp4",
        ] {
            std::fs::write(d.join(f), b"").unwrap();
        }
        let e = entries(d).unwrap();
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["b.MKV", "diving__x__a.mp4", "diving__x__a.mp4__2"]);
        assert_eq!(e[1].label.as_deref(), Some("diving"));
        assert_eq!(e[2].label, None);
        let empty = tempfile::tempdir().unwrap();
        assert!(entries(empty.path()).is_err());
    }
}
