//! docs/ARCHITECTURE.md's module table says what each module may import; this reads the table
//! and every source file of each module and fails on a `crate::` import the table does not
//! allow, so the document stays true (and the layers stay layers).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → what it may import (`None`: "everything above", not checked).
fn table() -> BTreeMap<String, Option<BTreeSet<String>>> {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `module` | what it is | may import |
        if cells.len() != 5 || !cells[1].starts_with('`') || cells[1] == "`module`" {
            continue;
        }
        let module = cells[1].trim_matches('`').to_owned();
        let allowed = (!cells[3].contains("everything above")).then(|| names(cells[3]));
        out.insert(module, allowed);
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            rust_files(&e.path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The top-level modules `file` names through `crate::` (comments skipped).
fn crate_imports(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // use crate::{a::X, b};
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|p| ident(p.trim())));
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

#[test]
fn every_module_imports_only_what_the_architecture_allows() {
    let table = table();
    assert!(table.len() >= 12, "the table was not found: {table:?}");
    let mut wrong = Vec::new();
    for (module, allowed) in &table {
        let dir = root().join("src").join(module);
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        rust_files(&dir.with_extension("rs"), &mut files);
        assert!(
            !files.is_empty(),
            "docs/ARCHITECTURE.md names `{module}`, which src lacks"
        );
        let Some(allowed) = allowed else { continue };
        for f in &files {
            for used in crate_imports(f) {
                if used != *module && table.contains_key(&used) && !allowed.contains(&used) {
                    wrong.push(format!("{} imports `{used}`", f.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "not allowed by docs/ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_library_module_is_in_the_table() {
    let table = table();
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(m) = line.trim().strip_prefix("pub mod ") {
            let m = m.trim_end_matches(';');
            assert!(
                table.contains_key(m),
                "`{m}` is missing from docs/ARCHITECTURE.md"
            );
        }
    }
}

#[test]
fn the_model_layer_knows_nothing_of_video_or_the_runner() {
    let mut files = Vec::new();
    rust_files(&root().join("src/model"), &mut files);
    for f in files {
        let used = crate_imports(&f);
        for forbidden in ["video", "runner", "pipeline"] {
            assert!(
                !used.contains(forbidden),
                "{} imports {forbidden}",
                f.display()
            );
        }
    }
}
