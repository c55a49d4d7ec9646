//! Every workflow under `tests/fixtures/{ok,err}` through the compiler: one snapshot per
//! fixture in `snapshots/` showing the input, the diagnostics and the script. Every `ok`
//! script must also pass `bash -n` and `shellcheck -S warning`.

use crate::common;
use std::path::Path;

fn snapshot_of(path: &Path) -> (String, Option<String>) {
    let input = std::fs::read_to_string(path).unwrap();
    let rel = path
        .strip_prefix(common::root())
        .unwrap()
        .display()
        .to_string();
    let mut out = format!("----- INPUT ({rel})\n{input}");
    if !input.ends_with('\n') {
        out.push('\n');
    }
    match common::compile_file(path) {
        Ok((script, diagnostics)) => {
            out.push_str("----- DIAGNOSTICS\n");
            out.push_str(if diagnostics.is_empty() {
                "(none)\n"
            } else {
                &diagnostics
            });
            out.push_str("----- SCRIPT\n");
            out.push_str(&common::elide_runtime(&script));
            (out, Some(script))
        }
        Err(diagnostics) => {
            out.push_str("----- DIAGNOSTICS\n");
            out.push_str(&diagnostics);
            out.push_str("----- SCRIPT\n(none)\n");
            (out, None)
        }
    }
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(common::root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn ok() {
    settings().bind(|| {
        insta::glob!("fixtures/ok/*.yaml", |path| {
            let (snapshot, script) = snapshot_of(path);
            let script =
                script.unwrap_or_else(|| panic!("{} did not compile:\n{snapshot}", path.display()));
            common::check_shell(&script, &path.display().to_string());
            insta::assert_snapshot!(snapshot);
        });
    });
}

#[test]
fn err() {
    settings().bind(|| {
        insta::glob!("fixtures/err/*.yaml", |path| {
            let (snapshot, script) = snapshot_of(path);
            assert!(
                script.is_none(),
                "{} compiled but should not have",
                path.display()
            );
            assert!(snapshot.contains("error["), "{}: no error", path.display());
            insta::assert_snapshot!(snapshot);
        });
    });
}

/// Every snapshot belongs to a fixture (no orphans left behind by a rename).
#[test]
fn no_orphan_snapshots() {
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(common::root().join("snapshots")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".snap") else {
            continue;
        };
        let Some((kind, file)) = stem.split_once('@') else {
            continue;
        };
        if matches!(kind, "ok" | "err")
            && !common::root()
                .join("tests/fixtures")
                .join(kind)
                .join(file)
                .is_file()
        {
            orphans.push(name);
        }
    }
    assert!(
        orphans.is_empty(),
        "snapshots without a fixture: {orphans:?}"
    );
}
