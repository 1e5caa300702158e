//! Writing files so that a reader (or a rerun after a crash) never sees half of one, and the
//! folders long runs keep their results in so that a rerun resumes where one stopped
//! ([`ResumableDir`]: `calibrate --parts`, `batch --out`, `train`'s `NAME.train/`, `synth`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of the temporary files [`write_atomic`] leaves behind if the process is killed
/// mid-write; readers skip them and [`remove_stale_temporaries`] deletes them.
pub const TEMP_PREFIX: &str = ".adalens-tmp-";

/// Write `bytes` to `path` through a temporary file in the same folder, flushed to disk and
/// renamed over `path`: the file is either the old one or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Delete temporary files a killed run left in `dir` (not recursive).
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Why a file could not be read whole (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such file")]
    NotFound,
    #[error("is a directory, not a file")]
    IsDirectory,
    #[error("not a regular file (a FIFO, socket or device)")]
    NotRegular,
    #[error("{size} bytes, over the limit of {limit} bytes for this kind of file")]
    TooLarge { size: u64, limit: u64 },
    #[error("{}", explain(.0))]
    Io(std::io::Error),
}

/// The OS error in words, with what usually causes it where the OS's own words do not say.
fn explain(e: &std::io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(1) => "not permitted (a protected or immutable file?)",
        Some(5) => "the disk or network mount failed to read it",
        Some(13) => "no permission to read it (check its owner and mode)",
        Some(16) => "it is busy (a device, or a file another program holds locked)",
        Some(40) => "its symbolic links loop",
        _ => return e.to_string(),
    };
    format!("{hint} ({e})")
}

/// Read `path` whole, refusing before any read a directory, a special file (whose reads could
/// block forever or never end) and a file over `limit` bytes; a file that grows while read
/// stops at `limit` + 1 bytes and is refused too.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(ReadError::IsDirectory);
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Why a resumable folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unreadable ({message}); delete it to start afresh")]
    Unreadable { path: PathBuf, message: String },
    #[error(
        "{dir}: holds results made with other settings ({have}); this run has {want}. \
         Use another folder, or delete it to start afresh"
    )]
    OtherSettings {
        dir: PathBuf,
        have: String,
        want: String,
    },
}

/// A folder a long run writes each finished piece of work into (atomically), beside a
/// settings file that says what made them. Opening it with other settings is refused, so two
/// runs never mix in one folder; opening it with the same settings resumes: finished pieces
/// are read back instead of recomputed.
#[derive(Debug, Clone)]
pub struct ResumableDir {
    root: PathBuf,
}

impl ResumableDir {
    /// Create `root` (and `subdirs` in it), delete what a killed run left half-written, and
    /// check `settings` against `root/settings_file` (written pretty, in `settings`' own field
    /// order, when absent; compared as JSON values, so formatting does not matter).
    pub fn open(
        root: &Path,
        settings_file: &str,
        settings: &impl serde::Serialize,
        subdirs: &[&str],
    ) -> Result<Self, ResumeError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ResumeError::Io { path, source }
        };
        std::fs::create_dir_all(root).map_err(io(root))?;
        remove_stale_temporaries(root);
        // Through the text, as the file is read back: an f32 0.485 goes to a value as
        // 0.48500001430511475 but is written, and read, as 0.485.
        let want: serde_json::Value = serde_json::to_string(settings)
            .and_then(|text| serde_json::from_str(&text))
            .map_err(|e| ResumeError::Unreadable {
                path: root.join(settings_file),
                message: e.to_string(),
            })?;
        let path = root.join(settings_file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let have: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| ResumeError::Unreadable {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                if have != want {
                    return Err(ResumeError::OtherSettings {
                        dir: root.to_path_buf(),
                        have: have.to_string(),
                        want: want.to_string(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = serde_json::to_string_pretty(settings).unwrap_or_default();
                write_atomic(&path, text.as_bytes()).map_err(io(&path))?;
            }
            Err(e) => return Err(io(&path)(e)),
        }
        // Only a folder of this very run gets its subfolders (and loses its temporaries).
        for d in subdirs.iter().map(|s| root.join(s)) {
            std::fs::create_dir_all(&d).map_err(io(&d))?;
            remove_stale_temporaries(&d);
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `rel` inside the folder.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// A finished piece, if `rel` holds one that parses (a missing or damaged file is work
    /// still to do, never an error).
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, rel: impl AsRef<Path>) -> Option<T> {
        let text = std::fs::read_to_string(self.path(rel)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Store a finished piece atomically.
    pub fn write(&self, rel: impl AsRef<Path>, bytes: &[u8]) -> Result<(), ResumeError> {
        let path = self.path(rel);
        write_atomic(&path, bytes).map_err(|source| ResumeError::Io { path, source })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_errors_say_what_usually_causes_them_once() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b) = (dir.path().join("a.pth"), dir.path().join("b.pth"));
        std::os::unix::fs::symlink(&b, &a).expect("link");
        std::os::unix::fs::symlink(&a, &b).expect("link");
        let msg = read_limited(&a, 1 << 20).expect_err("a loop").to_string();
        assert!(msg.contains("symbolic links loop"), "{msg}");
        assert_eq!(msg.matches("Too many levels").count(), 1, "{msg}");
    }

    use super::*;

    #[test]
    fn replaces_whole_file_and_cleans_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        std::fs::write(dir.path().join(format!("{TEMP_PREFIX}1-2-a.json")), b"x").unwrap();
        remove_stale_temporaries(dir.path());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
        assert!(write_atomic(&dir.path().join("no/such/dir/x"), b"x").is_err());
    }
}

#[cfg(test)]
mod resumable_tests {
    use super::*;

    #[test]
    fn same_settings_resume_and_other_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        let a = ResumableDir::open(&root, "settings.json", &serde_json::json!({"k": 1}), &["x"])
            .unwrap();
        assert!(root.join("x").is_dir());
        a.write("x/one.json", b"[1, 2]").unwrap();
        std::fs::write(root.join(format!("x/{TEMP_PREFIX}9-9-two.json")), b"[").unwrap();
        // Reformatted settings are the same settings.
        std::fs::write(root.join("settings.json"), b"{ \"k\" :1 }").unwrap();
        let b = ResumableDir::open(&root, "settings.json", &serde_json::json!({"k": 1}), &["x"])
            .unwrap();
        assert_eq!(b.read_json::<Vec<u32>>("x/one.json"), Some(vec![1, 2]));
        assert_eq!(b.read_json::<Vec<u32>>("x/missing.json"), None);
        assert_eq!(std::fs::read_dir(root.join("x")).unwrap().count(), 1);
        let e = ResumableDir::open(&root, "settings.json", &serde_json::json!({"k": 2}), &[])
            .unwrap_err();
        assert!(matches!(e, ResumeError::OtherSettings { .. }), "{e}");
        assert!(e.to_string().contains("other settings"), "{e}");
        std::fs::write(root.join("settings.json"), b"{not json").unwrap();
        let e = ResumableDir::open(&root, "settings.json", &serde_json::json!({"k": 1}), &[])
            .unwrap_err();
        assert!(matches!(e, ResumeError::Unreadable { .. }), "{e}");
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn special_files_directories_and_oversized_files_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_limited(&p, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_limited(&p, 9),
            Err(ReadError::TooLarge { size: 10, limit: 9 })
        ));
        assert!(matches!(
            read_limited(dir.path(), 9),
            Err(ReadError::IsDirectory)
        ));
        assert!(matches!(
            read_limited(&dir.path().join("none"), 9),
            Err(ReadError::NotFound)
        ));
        // A FIFO: opening it for reading would block until a writer comes.
        let fifo = dir.path().join("fifo.json");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo");
        assert!(matches!(read_limited(&fifo, 9), Err(ReadError::NotRegular)));
    }
}
