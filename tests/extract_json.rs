//! `extract --to json` against CPython: every plain-data fixture and a few hundred random
//! values Python pickles at protocols 0–5 must read back, value for value (and object for
//! object, through `$ref`s), as `pickle.loads` sees them.

mod common;

use std::path::Path;

fn extract_json(pickle: &Path, json: &Path) {
    let out = common::pklinspect()
        .args(["extract", "--to", "json", "-o"])
        .arg(json)
        .arg(pickle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        pickle.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check_folder(dir: &Path) {
    let Some(python) = common::python3() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/json_check.py");
    let mut python = python;
    let out = python.arg(script).arg("--batch").arg(dir).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(", 0 mismatches"), "{report}");
}

#[test]
fn plain_fixtures_read_back_as_cpython_loads_them() {
    if common::python3().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for file in common::fixture_files() {
        let rel = file.strip_prefix(common::fixtures_dir()).unwrap();
        let truth = common::sidecar(&file);
        let plain = rel.starts_with("plain") || rel.starts_with("multi");
        // deep_nesting: 50,000 levels, beyond what Python's own json module can parse.
        let too_deep = rel.ends_with("deep_nesting_p2.pkl");
        if !plain || too_deep || truth["status"] != "valid" || truth["pickle_count"] != 1 {
            continue;
        }
        std::fs::copy(&file, dir.path().join(format!("{n}.pkl"))).unwrap();
        extract_json(&file, &dir.path().join(format!("{n}.json")));
        n += 1;
    }
    assert!(n >= 25, "{n}");
    check_folder(dir.path());
}

#[test]
fn random_values_at_every_protocol_read_back_as_cpython_loads_them() {
    let Some(mut python) = common::python3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/json_check.py");
    let status = python
        .arg(&script)
        .arg("--random")
        .arg(dir.path())
        .arg("300")
        .status()
        .unwrap();
    assert!(status.success());
    for i in 0..300 {
        let pickle = dir.path().join(format!("{i}.pkl"));
        extract_json(&pickle, &dir.path().join(format!("{i}.json")));
    }
    check_folder(dir.path());
}
